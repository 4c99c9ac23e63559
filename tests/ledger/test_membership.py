"""Who acts for which partner (slackbot.ledger.membership), on SQLite and PostgreSQL.

Acme (P-ACME) lists some people by user id, some with the team they must come from, and claims
whole teams or orgs; Globex (P-GLOBEX) claims its own workspace. Each case records where the
person was last seen (as the Slack middleware does) and asks the rule.
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from models.tables import PartnerMember, Payment
from models.workspaces import PartnerTeam, SlackPerson
from slackbot.clock import FrozenClock
from slackbot.db import Database
from slackbot.ledger.membership import (
    SEEN_REFRESH,
    People,
    Person,
    acting_for,
    acts_for,
    is_slack_enterprise_id,
    is_slack_team_id,
    partner_ids_for,
)
from tests.support.factories import add_partner, add_payment

USER = "U0PERSON"
T_ACME = "T0ACME"
T_ACME_EU = "T0ACMEEU"  # another workspace of Acme's org
E_ACME = "E0ACME"
T_GLOBEX = "T0GLOBEX"
T_NOBODY = "T0NOBODY"  # a workspace no partner claims
E_NOBODY = "E0NOBODY"
START = dt.datetime(2026, 12, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp")
    add_partner(db, "P-GLOBEX", "Globex")
    add_payment(db, "PAY-A", "P-ACME", 10000)
    add_payment(db, "PAY-G", "P-GLOBEX", 10000)
    return db


def list_member(db: Database, partner_id: str, user_id: str, team: str | None = None) -> None:
    with db.transaction() as session:
        session.add(PartnerMember(partner_id=partner_id, slack_user_id=user_id, slack_team_id=team))


def link_team(db: Database, partner_id: str, team: str) -> None:
    with db.transaction() as session:
        session.add(PartnerTeam(partner_id=partner_id, slack_team_id=team))


def seen(
    db: Database,
    user_id: str = USER,
    team: str | None = None,
    org: str | None = None,
    channel: str | None = None,
) -> None:
    People(db).seen(Person(user_id, team, org, channel))


def partners(db: Database, user_id: str = USER) -> set[str]:
    with db.transaction(read_only=True) as session:
        return set(session.scalars(partner_ids_for(user_id)))


def payments_seen_by(db: Database, user_id: str = USER) -> list[str]:
    """The drop-in use in a query: the payments of partners the person acts for."""
    with db.transaction(read_only=True) as session:
        return list(
            session.scalars(
                select(Payment.payment_id)
                .where(acting_for(user_id, Payment.partner_id))
                .order_by(Payment.payment_id)
            )
        )


# ------------------------------------------------------------------------ rule (a): listed


def test_a_listed_user_without_a_team_acts_for_the_partner_from_anywhere(books: Database) -> None:
    list_member(books, "P-ACME", USER)
    assert partners(books) == {"P-ACME"}  # never seen: today's members keep working
    seen(books, team=T_NOBODY)
    assert partners(books) == {"P-ACME"}
    assert payments_seen_by(books) == ["PAY-A"]


def test_a_listed_user_with_a_team_acts_only_when_seen_from_that_team(books: Database) -> None:
    list_member(books, "P-ACME", USER, T_ACME)
    assert partners(books) == set()  # never seen: the team cannot be vouched for
    seen(books, team=T_ACME)
    assert partners(books) == {"P-ACME"}
    assert payments_seen_by(books) == ["PAY-A"]


def test_a_listed_user_with_a_team_seen_from_another_team_acts_for_nobody(books: Database) -> None:
    list_member(books, "P-ACME", USER, T_ACME)
    seen(books, team=T_ACME)
    seen(books, team=T_GLOBEX)  # the same id, now from elsewhere: the last sighting counts
    assert partners(books) == set()
    assert payments_seen_by(books) == []


def test_a_listed_user_with_a_team_seen_only_from_the_teams_org_acts_for_nobody(
    books: Database,
) -> None:
    # Listed for one workspace of the org, seen from another workspace of the same org.
    list_member(books, "P-ACME", USER, T_ACME)
    seen(books, team=T_ACME_EU, org=E_ACME)
    assert partners(books) == set()
    seen(books, team=None, org=E_ACME)  # an org user whose payload names only the org
    assert partners(books) == set()


def test_a_listed_user_with_an_org_acts_from_any_workspace_of_that_org(books: Database) -> None:
    list_member(books, "P-ACME", USER, E_ACME)
    for team in (T_ACME, T_ACME_EU):
        seen(books, team=team, org=E_ACME)
        assert partners(books) == {"P-ACME"}, team
    seen(books, team=T_NOBODY)
    assert partners(books) == set()


# ---------------------------------------------------------------- rule (b): claimed teams


def test_everyone_of_a_linked_workspace_acts_for_its_partner(books: Database) -> None:
    link_team(books, "P-ACME", T_ACME)
    assert partners(books) == set()  # not seen yet
    seen(books, team=T_ACME)
    assert partners(books) == {"P-ACME"}
    seen(books, "U0NEWHIRE", team=T_ACME)  # new staff need no import
    assert partners(books, "U0NEWHIRE") == {"P-ACME"}
    assert payments_seen_by(books, "U0NEWHIRE") == ["PAY-A"]


def test_everyone_of_a_linked_org_acts_for_its_partner_from_any_of_its_workspaces(
    books: Database,
) -> None:
    link_team(books, "P-ACME", E_ACME)
    seen(books, "U0ONE", team=T_ACME, org=E_ACME)
    seen(books, "U0TWO", team=T_ACME_EU, org=E_ACME)
    seen(books, "W0GRID", team=None, org=E_ACME)
    seen(books, "U0OUT", team=T_NOBODY, org=E_NOBODY)
    assert [partners(books, u) for u in ("U0ONE", "U0TWO", "W0GRID", "U0OUT")] == [
        {"P-ACME"},
        {"P-ACME"},
        {"P-ACME"},
        set(),
    ]


def test_a_person_of_a_team_linked_to_another_partner_acts_only_for_that_one(
    books: Database,
) -> None:
    link_team(books, "P-ACME", T_ACME)
    link_team(books, "P-GLOBEX", T_GLOBEX)
    seen(books, team=T_GLOBEX)
    assert partners(books) == {"P-GLOBEX"}
    assert payments_seen_by(books) == ["PAY-G"]


def test_a_person_of_a_team_no_partner_claims_acts_for_nobody(books: Database) -> None:
    link_team(books, "P-ACME", T_ACME)
    list_member(books, "P-GLOBEX", "U0SOMEONE")
    seen(books, team=T_NOBODY, org=E_NOBODY)
    assert partners(books) == set()
    assert payments_seen_by(books) == []
    with books.transaction(read_only=True) as session:
        assert not acts_for(session, USER, "P-ACME")
        assert not acts_for(session, USER, "P-GLOBEX")


def test_one_user_acts_for_two_partners_through_different_rules(books: Database) -> None:
    list_member(books, "P-ACME", USER)  # listed, no team
    link_team(books, "P-GLOBEX", T_GLOBEX)  # and of Globex's workspace
    seen(books, team=T_GLOBEX)
    assert partners(books) == {"P-ACME", "P-GLOBEX"}
    assert payments_seen_by(books) == ["PAY-A", "PAY-G"]
    with books.transaction(read_only=True) as session:
        assert acts_for(session, USER, "P-ACME") and acts_for(session, USER, "P-GLOBEX")
        assert not acts_for(session, USER, "P-NONE")


def test_both_rules_for_one_partner_name_it_once(books: Database) -> None:
    list_member(books, "P-ACME", USER, T_ACME)
    link_team(books, "P-ACME", T_ACME)
    seen(books, team=T_ACME)
    with books.transaction(read_only=True) as session:
        assert list(session.scalars(partner_ids_for(USER))) == ["P-ACME"]
    assert payments_seen_by(books) == ["PAY-A"]


def test_membership_follows_the_person_when_their_team_changes(books: Database) -> None:
    link_team(books, "P-ACME", T_ACME)
    link_team(books, "P-GLOBEX", T_GLOBEX)
    seen(books, team=T_ACME)
    assert partners(books) == {"P-ACME"}
    seen(books, team=T_GLOBEX)
    assert partners(books) == {"P-GLOBEX"}


@pytest.mark.parametrize("user_id", ["", "U0PERSON\x00", "x" * 65, "U0PERSON' OR '1'='1"])
def test_nothing_shaped_unlike_a_user_acts_for_anyone(books: Database, user_id: str) -> None:
    list_member(books, "P-ACME", USER)
    link_team(books, "P-ACME", T_ACME)
    seen(books, team=T_ACME)
    assert partners(books, user_id) == set()
    assert payments_seen_by(books, user_id) == []
    with books.transaction(read_only=True) as session:
        assert not acts_for(session, user_id, "P-ACME")
        assert not acts_for(session, USER, "P-ACME\x00")


def test_the_rule_holds_under_a_row_lock_as_the_commands_take_it(books: Database) -> None:
    # _member_payment locks the payment FOR UPDATE OF payments with this subquery in it.
    link_team(books, "P-ACME", T_ACME)
    seen(books, team=T_ACME)
    with books.transaction() as session:
        locked = session.scalars(
            select(Payment)
            .where(Payment.payment_id == "PAY-A", acting_for(USER, Payment.partner_id))
            .with_for_update(of=Payment)
        ).all()
        assert [p.payment_id for p in locked] == ["PAY-A"]


# ---------------------------------------------------------------------- People.seen


def row(db: Database, user_id: str = USER) -> tuple[object, ...] | None:
    with db.transaction(read_only=True) as session:
        person = session.get(SlackPerson, user_id)
        if person is None:
            return None
        return (person.team_id, person.enterprise_id, person.channel_id, person.seen_at)


def test_a_person_is_written_once_while_nothing_changes(db: Database) -> None:
    clock = FrozenClock(START)
    people = People(db, clock=clock)
    assert people.seen(Person(USER, T_ACME, E_ACME, "C0PARTNER"))
    for _ in range(20):
        clock.advance(dt.timedelta(seconds=1))
        assert not people.seen(Person(USER, T_ACME, E_ACME, "C0PARTNER"))
    assert row(db) == (T_ACME, E_ACME, "C0PARTNER", START)


def test_seen_at_is_refreshed_once_it_is_older_than_the_refresh(db: Database) -> None:
    clock = FrozenClock(START)
    people = People(db, clock=clock)
    people.seen(Person(USER, T_ACME))
    clock.advance(SEEN_REFRESH - dt.timedelta(seconds=1))
    assert not people.seen(Person(USER, T_ACME))
    clock.advance(dt.timedelta(seconds=2))
    assert people.seen(Person(USER, T_ACME))
    assert row(db) == (T_ACME, None, None, START + SEEN_REFRESH + dt.timedelta(seconds=1))


def test_what_a_payload_does_not_say_keeps_what_was_known(db: Database) -> None:
    clock = FrozenClock(START)
    people = People(db, clock=clock)
    people.seen(Person(USER, T_ACME, E_ACME, "C0PARTNER"))
    # A modal submission names no channel; a payload may name no team.
    assert not people.seen(Person(USER, T_ACME, E_ACME, None))
    assert not people.seen(Person(USER, None, None, None))
    assert row(db) == (T_ACME, E_ACME, "C0PARTNER", START)
    # A new team replaces the pair: the org came with the old team, not with this one.
    clock.advance(dt.timedelta(seconds=1))
    assert people.seen(Person(USER, T_GLOBEX, None, "C0OTHER"))
    assert row(db) == (T_GLOBEX, None, "C0OTHER", START + dt.timedelta(seconds=1))


def test_recording_where_a_person_was_seen_keeps_how_their_notices_go(db: Database) -> None:
    people = People(db, clock=FrozenClock(START))
    people.seen(Person(USER, T_ACME))
    with db.transaction() as session:
        person = session.get_one(SlackPerson, USER)
        person.notice_route = "channel"
        person.notice_channel_id = "C0LINKED"
    people.seen(Person(USER, T_GLOBEX, None, "C0ELSEWHERE"))
    with db.transaction(read_only=True) as session:
        person = session.get_one(SlackPerson, USER)
        assert (person.team_id, person.notice_route, person.notice_channel_id) == (
            T_GLOBEX,
            "channel",
            "C0LINKED",
        )


@pytest.mark.parametrize(
    "person",
    [
        Person(""),
        Person("not a user", T_ACME),
        Person("U0" + "A" * 40, T_ACME),
        Person("U0\x00", T_ACME),
        Person(USER, None, None, "C0CHANNEL"),  # a first sighting that names no team
        Person(USER, "T1", "E1", "C0CHANNEL"),  # nor any team of the right shape
        Person(USER, E_ACME, T_ACME, "C0CHANNEL"),  # an org where a team goes, and back
    ],
)
def test_nobody_and_nowhere_is_not_recorded(db: Database, person: Person) -> None:
    assert not People(db).seen(person)
    with db.transaction(read_only=True) as session:
        assert session.scalars(select(SlackPerson.slack_user_id)).all() == []


@pytest.mark.parametrize(
    ("person", "stored"),
    [
        (Person(USER, "T0" + "A" * 40, E_ACME, "C0OK"), (None, E_ACME, "C0OK")),
        (Person(USER, "T0ACME\u202e", E_ACME, "C'); DROP"), (None, E_ACME, None)),
        (Person(USER, T_ACME, "e0acme", "c0ok"), (T_ACME, None, None)),
    ],
)
def test_ids_of_the_wrong_shape_are_recorded_as_unknown(
    db: Database, person: Person, stored: tuple[str | None, ...]
) -> None:
    People(db, clock=FrozenClock(START)).seen(person)
    assert row(db) == (*stored, START)


def test_the_shape_of_team_and_org_ids() -> None:
    assert is_slack_team_id("T0ACME") and is_slack_team_id("T" + "9" * 31)
    assert not any(map(is_slack_team_id, ["T1", "E0ACME", "t0acme", "T" + "9" * 32, None, 7]))
    assert is_slack_enterprise_id("E0ACME")
    assert not any(map(is_slack_enterprise_id, ["E1", "T0ACME", "E0ACME ", "", None]))
