"""The partners CSV's optional trailing ``locale`` column (issue 15), on SQLite and PostgreSQL.

A file with the column sets each partner's locale (stored as Slack writes it), an empty cell
clears it, a file without the column leaves every locale as it was, and a malformed or
unsupported locale refuses its row in the import's words and changes nothing.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from models.tables import Partner
from slackbot.db import Database
from slackbot.erp.imports import ImportRejected, import_csv
from tests.support.factories import snapshot


def locales(db: Database) -> dict[str, tuple[str, str | None]]:
    with db.transaction(read_only=True) as session:
        rows = session.execute(select(Partner.partner_id, Partner.name, Partner.locale)).all()
    return {partner_id: (name, locale) for partner_id, name, locale in rows}


def test_the_column_sets_each_partners_locale_as_slack_writes_it(db: Database) -> None:
    result = import_csv(
        db,
        "partners",
        io.StringIO("partner_id,name,locale\nP-ACME,Acme,fr_FR\nP-GLOBEX,Globex,en-US\nP-X,X,\n"),
    )
    assert result.inserted == 3
    assert locales(db) == {
        "P-ACME": ("Acme", "fr-FR"),
        "P-GLOBEX": ("Globex", "en-US"),
        "P-X": ("X", None),
    }


def test_a_file_without_the_column_leaves_locales_unchanged(db: Database) -> None:
    import_csv(db, "partners", io.StringIO("partner_id,name,locale\nP-ACME,Acme,fr-FR\n"))
    result = import_csv(
        db, "partners", io.StringIO("partner_id,name\nP-ACME,Acme Corp\nP-NEW,New\n")
    )
    assert (result.inserted, result.updated) == (1, 1)
    assert locales(db) == {"P-ACME": ("Acme Corp", "fr-FR"), "P-NEW": ("New", None)}
    # The same file again: nothing to change.
    again = import_csv(
        db, "partners", io.StringIO("partner_id,name\nP-ACME,Acme Corp\nP-NEW,New\n")
    )
    assert (again.inserted, again.updated, again.unchanged) == (0, 0, 2)


def test_an_empty_cell_clears_the_locale_and_a_new_one_replaces_it(db: Database) -> None:
    import_csv(db, "partners", io.StringIO("partner_id,name,locale\nP-A,A,fr-FR\nP-B,B,en-US\n"))
    result = import_csv(
        db, "partners", io.StringIO("partner_id,name,locale\nP-A,A,\nP-B,B,fr-FR\n")
    )
    assert (result.updated, result.unchanged) == (2, 0)
    assert locales(db) == {"P-A": ("A", None), "P-B": ("B", "fr-FR")}
    same = import_csv(db, "partners", io.StringIO("partner_id,name,locale\nP-A,A,\nP-B,B,fr-FR\n"))
    assert same.unchanged == 2


@pytest.mark.parametrize(
    ("cell", "says"),
    [
        ("de-DE", "'de-DE': the bot has no German texts; supported languages: en, fr"),
        ("french", "'french' is not a locale; write it as Slack does, such as en-US or fr-FR"),
        ("zz-ZZ", "'zz-ZZ' is not a locale Babel knows"),
        ("fr-FR…", "'fr-FR…' is not a locale"),
    ],
)
def test_a_bad_locale_refuses_its_row_and_changes_nothing(
    db: Database, cell: str, says: str
) -> None:
    import_csv(db, "partners", io.StringIO("partner_id,name,locale\nP-A,A,fr-FR\n"))
    before = snapshot(db)
    with pytest.raises(ImportRejected) as caught:
        import_csv(
            db,
            "partners",
            io.StringIO(f"partner_id,name,locale\nP-A,A,\nP-B,B,{cell}\nP-C,C,en-US\n"),
        )
    assert snapshot(db) == before
    [bad] = caught.value.bad_rows
    assert bad.line == 3
    assert str(bad).startswith("line 3: locale ")
    assert says in str(bad)


def test_the_header_names_the_optional_column(db: Database) -> None:
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "partners", io.StringIO("partner_id,name,language\nP-A,A,fr\n"))
    assert "partner_id,name[,locale]" in str(caught.value.bad_rows[0])
