"""Exports that round-trip: partners and members, the added columns, natural id order,
formula-neutralized CSV text (and `--raw`), and export → import → export giving the same file."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine
from sqlalchemy import text as sql
from sqlalchemy.engine import make_url
from typer.testing import CliRunner

from models.schemas import Actor
from slackbot.cli import app
from slackbot.db import Database
from slackbot.erp import exports
from slackbot.erp.exports import COLUMNS, ExportKind, export, neutralize, unneutralize
from slackbot.erp.imports import ImportRejected, import_csv
from slackbot.ledger import Ledger
from slackbot.migrate import upgrade
from slackbot.settings import normalize_database_url
from tests.conftest import POSTGRES_SKIP_REASON, TEST_DATABASE_URL, create_postgres_database
from tests.support.factories import snapshot

APPROVER = Actor(user_id="U0APPROVER", can_approve=True)
# What the contract promises, first and in order; issue 9 adds columns after them.
CONTRACT = {
    "payments": [
        *("payment_id", "partner_id", "currency", "amount", "allocated", "pending"),
        "unallocated",
    ],
    "invoices": ["invoice_id", "partner_id", "currency", "amount", "amount_due", "pending"],
    "allocations": [
        *("allocation_id", "payment_id", "invoice_id", "currency", "amount", "status"),
        *("requested_by", "decided_by", "decided_at", "reason"),
    ],
}
ADDED = {
    "partners": ["partner_id", "name"],
    "members": ["partner_id", "slack_user_id", "slack_team_id"],
    "payments": ["received_on", "reference"],
    "invoices": ["issued_on", "due_on"],
    "allocations": ["requested_at", "partner_id", "note", "cancelled_by", "request_id"],
}
# Ids whose plain string order is not their natural order, and text a spreadsheet would run.
PARTNERS = (
    "partner_id,name\n"
    "P10,Ten Ltd\n"
    'P2,"=HYPERLINK(""http://evil.example/"",""Two"")"\n'
    "-P1,Minus One\n"
    "@P3,At Three\n"
)
MEMBERS = "partner_id,slack_user_id\nP10,U0TEN\nP2,U0TWO\nP2,U0ALSO\n-P1,U0MINUS\n@P3,U0AT\n"
PAYMENTS = (
    "payment_id,partner_id,amount,currency,received_on,reference\n"
    "PAY-10,P2,100.00,USD,2026-11-10,+wire 10\n"
    # A spreadsheet user's escaped formula: the import takes one quote away, as from an export.
    "PAY-9,P2,90.00,USD,2026-11-09,''=already quoted\n"
    "PAY-7,P10,5000,JPY,2026-11-07,\n"
    "PAY-100,-P1,1.500,KWD,2026-11-01,=1+2\n"
    "PAY-8,@P3,8.00,USD,2026-11-08,plain\n"
)
INVOICES = (
    "invoice_id,partner_id,amount,currency,issued_on,due_on,amount_due\n"
    "INV-10,P2,500.00,USD,2026-10-10,2026-12-10,\n"
    "INV-7,P2,70.00,USD,2026-10-07,2026-12-07,30.00\n"
    "INV-007X,P10,9000,JPY,2026-10-01,2026-12-01,\n"
    "-INV-1,-P1,3.000,KWD,2026-10-01,2026-12-01,0\n"
    "INV-8,@P3,8.00,USD,2026-10-08,2026-12-08,\n"
)
LOADS = (
    ("partners", PARTNERS),
    ("members", MEMBERS),
    ("payments", PAYMENTS),
    ("invoices", INVOICES),
)


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def books(db: Database) -> Database:
    for kind, text in LOADS:
        import_csv(db, kind, io.StringIO(text))
    return db


@pytest.fixture
def fresh(db: Database, tmp_path: Path) -> Iterator[Database]:
    """A second, empty, migrated database on the same backend as ``db``."""
    if db.dialect == "sqlite":
        url = f"sqlite:///{tmp_path / 'fresh.db'}"
        upgrade(url)
        other = Database(url)
        yield other
        other.dispose()
        return
    url, drop = create_postgres_database()
    upgrade(url)
    other = Database(url)
    yield other
    other.dispose()
    drop()


def run_export(db: Database, kind: str, *options: str) -> str:
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["export", kind, *options], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def run_import(db: Database, kind: str, path: Path) -> str:
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["import", kind, str(path)], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    return result.stdout


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


# --------------------------------------------------------------------------------- columns


@pytest.mark.parametrize("kind", ["partners", "members", "payments", "invoices", "allocations"])
def test_the_contracts_columns_come_first_and_the_added_ones_after(
    books: Database, kind: str
) -> None:
    header, _ = csv_rows(run_export(books, kind))

    assert header == CONTRACT.get(kind, []) + ADDED[kind]
    assert header == list(COLUMNS[ExportKind(kind)])


def test_partners_and_members_export_in_natural_order(books: Database) -> None:
    _, partners = csv_rows(run_export(books, "partners", "--raw"))
    _, members = csv_rows(run_export(books, "members", "--raw"))

    assert [row["partner_id"] for row in partners] == ["-P1", "@P3", "P2", "P10"]
    assert partners[2]["name"] == '=HYPERLINK("http://evil.example/","Two")'
    assert [(row["partner_id"], row["slack_user_id"]) for row in members] == [
        ("-P1", "U0MINUS"),
        ("@P3", "U0AT"),
        ("P2", "U0ALSO"),
        ("P2", "U0TWO"),
        ("P10", "U0TEN"),
    ]


def test_members_export_carries_team_pins_and_team_links_and_imports_back(
    books: Database, fresh: Database, tmp_path: Path
) -> None:
    # A person pinned to their workspace, and a whole org linked: the export is the members
    # file's own shape (a team link has no user id), people before team links, and imports back.
    import_csv(
        books,
        "members",
        io.StringIO("partner_id,slack_user_id,slack_team_id\nP2,U0PINNED,T0ACME\nP2,,E0ACMEORG\n"),
    )
    text = run_export(books, "members", "--raw")
    header, members = csv_rows(text)

    assert header == ["partner_id", "slack_user_id", "slack_team_id"]
    assert [tuple(row.values()) for row in members if row["partner_id"] == "P2"] == [
        ("P2", "U0ALSO", ""),
        ("P2", "U0PINNED", "T0ACME"),
        ("P2", "U0TWO", ""),
        ("P2", "", "E0ACMEORG"),
    ]
    for kind in ("partners", "members"):
        path = tmp_path / f"{kind}.csv"
        path.write_text(run_export(books, kind, "--raw"), encoding="utf-8", newline="")
        run_import(fresh, kind, path)
    assert run_export(fresh, "members", "--raw") == text


def test_payments_and_invoices_carry_their_dates_and_reference_in_natural_order(
    books: Database,
) -> None:
    _, payments = csv_rows(run_export(books, "payments", "--raw"))
    _, invoices = csv_rows(run_export(books, "invoices", "--raw"))

    assert [row["payment_id"] for row in payments] == [
        "PAY-7",
        "PAY-8",
        "PAY-9",
        "PAY-10",
        "PAY-100",
    ]
    assert [(r["received_on"], r["reference"]) for r in payments] == [
        ("2026-11-07", ""),
        ("2026-11-08", "plain"),
        ("2026-11-09", "'=already quoted"),
        ("2026-11-10", "+wire 10"),
        ("2026-11-01", "=1+2"),
    ]
    assert [row["invoice_id"] for row in invoices] == [
        *("-INV-1", "INV-7", "INV-8", "INV-10"),
        "INV-007X",  # a trailing letter: no trailing number to compare by
    ]
    by_id = {row["invoice_id"]: row for row in invoices}
    assert (by_id["INV-7"]["issued_on"], by_id["INV-7"]["due_on"]) == ("2026-10-07", "2026-12-07")


@pytest.fixture
def requests(books: Database, ledger: Ledger) -> dict[str, int]:
    approved = ledger.request_allocation("U0TWO", "PAY-10", "INV-10", "40.00", note="=2+2")
    ledger.approve(approved.allocation_id, APPROVER)
    cancelled = ledger.request_allocation("U0TWO", "PAY-10", "INV-7", "10.00", note="-oops")
    ledger.cancel(cancelled.allocation_id, "U0TWO")
    rejected = ledger.request_allocation("U0ALSO", "PAY-9", "INV-10", "5.00")
    ledger.reject(rejected.allocation_id, APPROVER, "@wrong invoice")
    pending = ledger.request_allocation("U0ALSO", "PAY-9", "INV-7", "1.00")
    return {
        "approved": approved.allocation_id,
        "cancelled": cancelled.allocation_id,
        "rejected": rejected.allocation_id,
        "pending": pending.allocation_id,
    }


def test_allocations_carry_requested_at_partner_note_and_who_cancelled(
    books: Database, requests: dict[str, int]
) -> None:
    _, rows = csv_rows(run_export(books, "allocations", "--raw"))
    by_id = {int(row["allocation_id"]): row for row in rows}

    assert list(by_id) == sorted(requests.values())
    approved = by_id[requests["approved"]]
    assert (approved["partner_id"], approved["note"], approved["cancelled_by"]) == (
        "P2",
        "=2+2",
        "",
    )
    assert re.fullmatch(r"2026-11-24T09:\d\d:\d\d\+00:00", approved["requested_at"])
    assert approved["requested_at"] < approved["decided_at"]
    cancelled = by_id[requests["cancelled"]]
    # A cancelled request is decided by the requester; cancelled_by says so outright.
    assert (cancelled["status"], cancelled["decided_by"], cancelled["cancelled_by"]) == (
        "cancelled",
        "U0TWO",
        "U0TWO",
    )
    assert cancelled["requested_by"] == "U0TWO"
    assert by_id[requests["rejected"]]["cancelled_by"] == ""
    assert by_id[requests["pending"]]["cancelled_by"] == ""

    as_json = json.loads(run_export(books, "allocations", "--format", "json"))
    assert {row["allocation_id"]: row["cancelled_by"] for row in as_json} == {
        requests["approved"]: None,
        requests["cancelled"]: "U0TWO",
        requests["rejected"]: None,
        requests["pending"]: None,
    }


def test_the_lines_of_a_request_share_its_request_id_in_csv_and_json(
    books: Database, ledger: Ledger
) -> None:
    single = ledger.request_allocation("U0TWO", "PAY-10", "INV-10", "40.00")
    several = ledger.request_lines("U0ALSO", "PAY-9", [("INV-7", "1.00"), ("INV-10", "2.00")])
    ledger.approve(several.lines[1].allocation_id, APPROVER)

    header, rows = csv_rows(run_export(books, "allocations"))
    as_json = json.loads(run_export(books, "allocations", "--format", "json"))

    assert header[-1] == "request_id"
    first, second = (line.allocation_id for line in several.lines)
    assert [(r["allocation_id"], r["invoice_id"], r["status"], r["request_id"]) for r in rows] == [
        (str(single.allocation_id), "INV-10", "pending", str(single.allocation_id)),
        (str(first), "INV-7", "approved", str(first)),
        (str(second), "INV-10", "approved", str(first)),
    ]
    assert [(r["allocation_id"], r["amount"], r["request_id"]) for r in as_json] == [
        (single.allocation_id, "40.00", single.allocation_id),
        (first, "1.00", first),
        (second, "2.00", first),
    ]
    # Each line still has its own balanced entry in the journal export.
    _, journal = csv_rows(run_export(books, "journal"))
    assert sorted({int(line["allocation_id"]) for line in journal}) == [first, second]


# ---------------------------------------------------------------------- formula neutralizing


def test_csv_text_cells_that_a_spreadsheet_would_run_get_a_leading_quote(
    books: Database, requests: dict[str, int]
) -> None:
    _, partners = csv_rows(run_export(books, "partners"))
    _, payments = csv_rows(run_export(books, "payments"))
    _, allocations = csv_rows(run_export(books, "allocations"))

    assert [(r["partner_id"], r["name"]) for r in partners] == [
        ("'-P1", "Minus One"),
        ("'@P3", "At Three"),
        ("P2", '\'=HYPERLINK("http://evil.example/","Two")'),
        ("P10", "Ten Ltd"),
    ]
    assert [r["reference"] for r in payments] == [
        "",
        "plain",
        "''=already quoted",  # one more quote, so an import takes exactly one away
        "'+wire 10",
        "'=1+2",
    ]
    by_id = {int(row["allocation_id"]): row for row in allocations}
    assert by_id[requests["approved"]]["note"] == "'=2+2"
    assert by_id[requests["cancelled"]]["note"] == "'-oops"
    assert by_id[requests["rejected"]]["reason"] == "'@wrong invoice"


def test_amounts_are_never_neutralized_and_never_negative(
    books: Database, requests: dict[str, int]
) -> None:
    for kind in ("payments", "invoices", "allocations", "journal"):
        header, rows = csv_rows(run_export(books, kind))
        money = [c for c in header if c in {"amount", "allocated", "pending", "unallocated"}]
        money += [c for c in header if c in {"amount_due", "debit", "credit"}]
        assert money
        for row in rows:
            for column in money:
                assert re.fullmatch(r"\d+(\.\d+)?", row[column]), (kind, column, row[column])


def test_json_and_raw_csv_carry_text_exactly_as_stored(
    books: Database, requests: dict[str, int]
) -> None:
    raw = {row["payment_id"]: row for row in csv_rows(run_export(books, "payments", "--raw"))[1]}
    as_json = {
        row["payment_id"]: row for row in json.loads(run_export(books, "payments", "-f", "json"))
    }

    for payment_id in ("PAY-9", "PAY-10", "PAY-100"):
        assert raw[payment_id]["reference"] == as_json[payment_id]["reference"]
    assert as_json["PAY-100"]["reference"] == "=1+2"
    assert as_json["PAY-100"]["partner_id"] == "-P1"
    notes = {row["note"] for row in json.loads(run_export(books, "allocations", "-f", "json"))}
    assert {"=2+2", "-oops"} <= notes


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-1", "'-1"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("'=x", "''=x"),
        ("''@x", "'''@x"),
        ("'quoted'", "'quoted'"),
        ("a=b", "a=b"),
        ("", ""),
        ("'", "'"),
    ],
)
def test_neutralize_follows_owasp_and_unneutralize_undoes_it(value: str, cell: str) -> None:
    assert neutralize(value) == cell
    assert unneutralize(cell) == value


@given(st.text(alphabet=st.sampled_from("'=+-@\t\rab1 "), max_size=8))
def test_unneutralize_is_the_exact_inverse_of_neutralize(value: str) -> None:
    assert unneutralize(neutralize(value)) == value
    assert not re.match(r"[=+\-@\t\r]", neutralize(value))


def test_raw_is_in_the_help_of_export() -> None:
    result = CliRunner().invoke(app, ["export", "--help"], env={"COLUMNS": "100"})

    assert "--raw" in result.stdout
    assert "formula" in result.stdout


# ----------------------------------------------------------------------------- round trip


def test_export_import_into_a_fresh_database_and_export_again_is_identical(
    books: Database, fresh: Database, tmp_path: Path
) -> None:
    kinds = ("partners", "members", "payments", "invoices")
    first = {kind: run_export(books, kind) for kind in kinds}
    # The neutralized files differ from the raw ones, so this tests that the import undoes it.
    assert first["payments"] != run_export(books, "payments", "--raw")
    assert first["partners"] != run_export(books, "partners", "--raw")

    for kind in kinds:
        path = tmp_path / f"{kind}.csv"
        path.write_text(first[kind], encoding="utf-8", newline="")
        run_import(fresh, kind, path)

    assert {kind: run_export(fresh, kind) for kind in kinds} == first
    for kind in kinds:
        assert run_export(fresh, kind, "-f", "json") == run_export(books, kind, "-f", "json")
        assert run_export(fresh, kind, "--raw") == run_export(books, kind, "--raw")


def test_a_raw_export_round_trips_when_no_text_starts_with_a_quote_and_a_formula_character(
    db: Database, fresh: Database, tmp_path: Path
) -> None:
    for kind, text in LOADS:
        import_csv(db, kind, io.StringIO(text.replace("''=already quoted", "quoted")))
    kinds = ("partners", "members", "payments", "invoices")
    first = {kind: run_export(db, kind, "--raw") for kind in kinds}

    for kind in kinds:
        path = tmp_path / f"{kind}.csv"
        path.write_text(first[kind], encoding="utf-8", newline="")
        run_import(fresh, kind, path)

    assert {kind: run_export(fresh, kind, "--raw") for kind in kinds} == first


def test_the_readme_samples_round_trip_too(fresh: Database, db: Database, tmp_path: Path) -> None:
    examples = Path(__file__).resolve().parents[2] / "examples"
    for kind in ("partners", "members", "payments", "invoices"):
        run_import(db, kind, examples / f"{kind}.csv")
    first = {kind: run_export(db, kind) for kind in ("partners", "members", "payments", "invoices")}

    for kind, text in first.items():
        (tmp_path / f"{kind}.csv").write_text(text, encoding="utf-8", newline="")
        run_import(fresh, kind, tmp_path / f"{kind}.csv")

    assert {kind: run_export(fresh, kind) for kind in first} == first


def test_reimporting_an_export_changes_nothing(books: Database, tmp_path: Path) -> None:
    for kind in ("partners", "members", "payments", "invoices"):
        (tmp_path / f"{kind}.csv").write_text(run_export(books, kind), encoding="utf-8")
    before = snapshot(books)

    for kind in ("partners", "members", "payments", "invoices"):
        out = run_import(books, kind, tmp_path / f"{kind}.csv")
        assert " 0 inserted, 0 updated," in out

    assert snapshot(books) == before


def test_an_exported_amount_due_is_not_imported_over_allocations_made_here(
    books: Database, requests: dict[str, int], tmp_path: Path
) -> None:
    # INV-10 has 40.00 applied here: its export says 460.00 due, which is not the ERP's 500.00.
    path = tmp_path / "invoices.csv"
    path.write_text(run_export(books, "invoices"), encoding="utf-8")
    before = snapshot(books)

    with pytest.raises(ImportRejected) as caught:
        import_csv(books, "invoices", path.open("rb"))

    assert [str(bad) for bad in caught.value.bad_rows] == [
        "line 5: invoice INV-10 already has 40.00 USD paid by allocations made here, and an"
        " export's amount_due is what is left after them, so importing it would count them"
        " twice; import the ERP's invoices file instead"
    ]
    assert snapshot(books) == before


def test_natural_order_streams_every_row_once_with_tiny_pages(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import_csv(db, "partners", io.StringIO("partner_id,name\nP,Acme\n"))
    ids = [f"INV-{n}" for n in (1, 2, 9, 10, 11, 99, 100, 101, 1000)] + ["A-1", "INV-", "INV-B"]
    rows = "".join(f"{i},P,1.00,USD,2026-10-01,2026-12-01\n" for i in reversed(ids))
    import_csv(
        db,
        "invoices",
        io.StringIO("invoice_id,partner_id,amount,currency,issued_on,due_on\n" + rows),
    )
    monkeypatch.setattr(exports, "PAGE_ROWS", 2)

    out = io.StringIO()
    count = export(db, "invoices", out)

    exported = [row["invoice_id"] for row in csv.DictReader(io.StringIO(out.getvalue()))]
    assert count == len(ids)
    assert exported == [
        "A-1",
        "INV-",
        "INV-1",
        "INV-2",
        "INV-9",
        "INV-10",
        "INV-11",
        "INV-99",
        "INV-100",
        "INV-101",
        "INV-1000",
        "INV-B",
    ]


@pytest.mark.postgres
@pytest.mark.skipif(not TEST_DATABASE_URL, reason=POSTGRES_SKIP_REASON)
def test_natural_order_on_postgresql_does_not_depend_on_the_servers_locale() -> None:
    # An ICU English collation puts "INV-a" before "INV-B"; code-point order (SQLite's) does not.
    admin_url = make_url(normalize_database_url(TEST_DATABASE_URL))
    name = f"slackbot_test_{os.getpid()}_icu_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(
            sql(
                f'CREATE DATABASE "{name}" TEMPLATE template0 LOCALE_PROVIDER icu'
                " ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        )
    url = admin_url.set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        icu = Database(url)
        try:
            import_csv(icu, "partners", io.StringIO("partner_id,name\nINV-a,x\nINV-B,y\nb,z\n"))
            out = io.StringIO()
            export(icu, "partners", out)
        finally:
            icu.dispose()
    finally:
        with admin.connect() as connection:
            connection.execute(sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    assert [row["partner_id"] for row in csv.DictReader(io.StringIO(out.getvalue()))] == [
        "INV-B",
        "INV-a",
        "b",
    ]


def test_an_export_in_progress_blocks_no_writer_and_reads_one_snapshot(
    books: Database, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(exports, "PAGE_ROWS", 1)
    rows = exports.export_records(books, "payments")
    first = next(rows)  # the export's transaction is open now, as under `| less`

    # The bot and an import still write at once (on SQLite a writer would otherwise wait 2 s
    # and give up)...
    made = ledger.request_allocation("U0TWO", "PAY-10", "INV-10", "1.00")
    import_csv(
        books,
        "payments",
        io.StringIO(
            "payment_id,partner_id,amount,currency,received_on,reference\n"
            "PAY-11,P2,1.00,USD,2026-11-11,\n"
        ),
    )
    # ...and the export goes on from its own snapshot: no PAY-11, PAY-10 before the request.
    rest = list(rows)
    ids = [first["payment_id"], *(row["payment_id"] for row in rest)]
    assert ids == ["PAY-7", "PAY-8", "PAY-9", "PAY-10", "PAY-100"]
    assert next(row for row in rest if row["payment_id"] == "PAY-10")["pending"] == "0.00"
    assert ledger.allocation(made.allocation_id).status == "pending"
