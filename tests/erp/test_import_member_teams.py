"""The members file's optional slack_team_id column (issue 12): whole teams, and people of a team.

A row with a user and no team is a member as before; a team (``T…``) or org (``E…``) with no
user links everyone of it to the partner; both link the person only when they come from that
team. Checked per row, all or nothing, re-importable, and covered by ``--replace``.
"""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select

from models.tables import AuditEvent, PartnerMember
from models.workspaces import PartnerTeam
from slackbot.db import Database
from slackbot.erp.imports import ImportRejected, import_csv
from slackbot.ledger.membership import People, Person, partner_ids_for
from tests.support.factories import snapshot

PARTNERS = "partner_id,name\nP-ACME,Acme Corp\nP-GLOBEX,Globex\n"
HEADER = "partner_id,slack_user_id,slack_team_id\n"
MEMBERS = HEADER + (
    "P-ACME,U0ALICE,\n"  # a member from any team, as before
    "P-ACME,,T0ACME\n"  # everyone of the Acme workspace
    "P-GLOBEX,U0BOB,E0GLOBEX\n"  # Bob, only when he comes from Globex's org
    "P-GLOBEX,,E0GLOBEX\n"
)


@pytest.fixture
def partners(db: Database) -> Database:
    import_csv(db, "partners", io.StringIO(PARTNERS))
    return db


def stored(db: Database) -> tuple[list[tuple[str, str, str | None]], list[tuple[str, str]]]:
    with db.transaction(read_only=True) as session:
        people = session.execute(
            select(
                PartnerMember.partner_id, PartnerMember.slack_user_id, PartnerMember.slack_team_id
            ).order_by(PartnerMember.partner_id, PartnerMember.slack_user_id)
        ).all()
        teams = session.execute(
            select(PartnerTeam.partner_id, PartnerTeam.slack_team_id).order_by(
                PartnerTeam.partner_id, PartnerTeam.slack_team_id
            )
        ).all()
    return [tuple(row) for row in people], [tuple(row) for row in teams]  # type: ignore[misc]


def rejected(db: Database, text: str) -> list[str]:
    before = snapshot(db)
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "members", io.StringIO(text))
    assert snapshot(db) == before
    return [str(bad) for bad in caught.value.bad_rows]


def acts_for(db: Database, user_id: str) -> set[str]:
    with db.transaction(read_only=True) as session:
        return set(session.scalars(partner_ids_for(user_id)))


def test_people_teams_and_people_of_a_team_are_stored_where_the_rule_reads_them(
    partners: Database,
) -> None:
    result = import_csv(partners, "members", io.StringIO(MEMBERS))

    assert result.summary() == "members: 4 rows read, 4 inserted, 0 updated, 0 unchanged"
    assert stored(partners) == (
        [("P-ACME", "U0ALICE", None), ("P-GLOBEX", "U0BOB", "E0GLOBEX")],
        [("P-ACME", "T0ACME"), ("P-GLOBEX", "E0GLOBEX")],
    )


def test_everyone_of_a_linked_team_acts_for_the_partner_and_a_pinned_member_only_from_it(
    partners: Database,
) -> None:
    import_csv(partners, "members", io.StringIO(HEADER + "P-ACME,,T0ACME\nP-GLOBEX,U0BOB,T0BOB\n"))
    people = People(partners)

    people.seen(Person("U0NEWHIRE", team_id="T0ACME"))
    people.seen(Person("U0STRANGER", team_id="T0OTHER"))
    people.seen(Person("U0BOB", team_id="T0ACME"))

    assert acts_for(partners, "U0NEWHIRE") == {"P-ACME"}  # no members row of their own
    assert acts_for(partners, "U0STRANGER") == set()
    assert acts_for(partners, "U0BOB") == {"P-ACME"}  # not Globex: he came from another team
    people.seen(Person("U0BOB", team_id="T0BOB"))
    assert acts_for(partners, "U0BOB") == {"P-GLOBEX"}


def test_the_same_file_again_changes_nothing_and_leaves_no_audit(partners: Database) -> None:
    import_csv(partners, "members", io.StringIO(MEMBERS))
    before = snapshot(partners)

    again = import_csv(partners, "members", io.StringIO(MEMBERS))

    assert again.summary() == "members: 4 rows read, 0 inserted, 0 updated, 4 unchanged"
    assert snapshot(partners) == before


def test_a_new_team_for_a_listed_person_is_an_update_and_a_two_column_file_keeps_it(
    partners: Database,
) -> None:
    import_csv(partners, "members", io.StringIO(MEMBERS))

    moved = import_csv(partners, "members", io.StringIO(HEADER + "P-ACME,U0ALICE,T0ACME\n"))
    plain = import_csv(
        partners, "members", io.StringIO("partner_id,slack_user_id\nP-ACME,U0ALICE\n")
    )
    cleared = import_csv(partners, "members", io.StringIO(HEADER + "P-GLOBEX,U0BOB,\n"))

    assert (moved.updated, plain.unchanged, cleared.updated) == (1, 1, 1)
    assert stored(partners)[0] == [("P-ACME", "U0ALICE", "T0ACME"), ("P-GLOBEX", "U0BOB", None)]


@pytest.mark.parametrize(
    "team", ["X0ACME", "T", "T0", "t0acme", "C0ACME", "T0-ACME", "T" + "A" * 32]
)
def test_a_team_id_that_is_not_a_slack_team_id_is_a_bad_row_naming_both_kinds(
    partners: Database, team: str
) -> None:
    text = HEADER + f"P-ACME,U0ALICE,\nP-ACME,,{team}\n"

    assert rejected(partners, text) == [
        f"line 3: slack_team_id '{team}' is not a Slack team id (T… for a workspace, E… for an"
        " Enterprise Grid org, then capital letters and digits, e.g. T0123ABCD; find it in the"
        " address of Slack in a browser, app.slack.com/client/T0123ABCD/…, or ask the"
        " workspace's admin)"
    ]


def test_a_row_with_neither_a_user_nor_a_team_is_a_bad_row(partners: Database) -> None:
    assert rejected(partners, HEADER + "P-ACME,U0ALICE,T0ACME\nP-ACME,,\n") == [
        "line 3: slack_user_id and slack_team_id are both empty; a row names a person"
        " (slack_user_id), a whole workspace or org (slack_team_id), or a person of that"
        " workspace or org (both)"
    ]


def test_every_bad_row_is_named_and_nothing_is_stored(partners: Database) -> None:
    text = HEADER + (
        "P-ACME,,T0ACME\n"
        "P-ACME,,T0ACME\n"
        "P-NOBODY,,T0NOBODY\n"
        "P-ACME,u0alice,T0ACME\n"
        "P-GLOBEX,U0BOB,E0GLOBEX\n"
        "P-GLOBEX,U0BOB,T0OTHER\n"
    )

    bad = rejected(partners, text)

    assert [row.split(":", 1)[0] for row in bad] == ["line 3", "line 4", "line 5", "line 7"]
    assert bad[0] == "line 3: team T0ACME of partner P-ACME is already on line 2 of this file"
    assert "partner_id P-NOBODY is not a known partner" in bad[1]
    assert "u0alice does not look like a Slack user ID" in bad[2]
    assert bad[3] == "line 7: member U0BOB of partner P-GLOBEX is already on line 6 of this file"
    assert stored(partners) == ([], [])


def test_replace_removes_the_unlisted_team_links_of_the_partners_it_names(
    partners: Database,
) -> None:
    import_csv(partners, "members", io.StringIO(MEMBERS + "P-ACME,,E0ACMEORG\n"))

    result = import_csv(
        partners,
        "members",
        io.StringIO(HEADER + "P-ACME,U0ALICE,\nP-ACME,,T0ACME\n"),
        replace=True,
        actor="cli:ops",
    )

    assert result.removed == 1
    assert stored(partners) == (
        [("P-ACME", "U0ALICE", None), ("P-GLOBEX", "U0BOB", "E0GLOBEX")],
        [("P-ACME", "T0ACME"), ("P-GLOBEX", "E0GLOBEX")],  # Globex was not in the file
    )
    with partners.transaction(read_only=True) as session:
        audits = session.execute(
            select(AuditEvent.actor, AuditEvent.detail).where(
                AuditEvent.action == "partner_team.removed"
            )
        ).all()
    assert [(row.actor, row.detail["slack_team_id"]) for row in audits] == [
        ("cli:ops", "E0ACMEORG")
    ]
    again = import_csv(
        partners,
        "members",
        io.StringIO(HEADER + "P-ACME,U0ALICE,\nP-ACME,,T0ACME\n"),
        replace=True,
    )
    assert again.removed == 0


def test_replace_with_people_only_removes_the_partners_team_links_too(partners: Database) -> None:
    import_csv(partners, "members", io.StringIO(MEMBERS))

    result = import_csv(
        partners, "members", io.StringIO(HEADER + "P-ACME,U0ALICE,\n"), replace=True
    )

    assert result.removed == 1
    assert ("P-ACME", "T0ACME") not in stored(partners)[1]
