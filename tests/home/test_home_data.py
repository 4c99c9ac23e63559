"""What each person's Home holds, and what it never holds (the authorization matrix, at Home)."""

from __future__ import annotations

import pytest
from sqlalchemy import event

from models.schemas import Actor
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.ledger.home import DECISIONS_SHOWN, QUEUE_SHOWN, HomeQueries
from tests.conftest import FixedClock
from tests.home.home_data import (
    ACME_MEMBER,
    ACME_OTHER,
    BOTH_MEMBER,
    GLOBEX_MEMBER,
    STRANGER,
    many_pending,
    two_partners,
)
from tests.support.bot_harness import APPROVER
from tests.support.factories import add_payment

APPROVE = Actor(user_id=APPROVER, can_approve=True)


def ids_in(home: object) -> set[str]:
    """Every payment, invoice and request id a Home snapshot carries, wherever it sits."""
    text = home.model_dump_json()  # type: ignore[attr-defined]
    found = set()
    for token in ("PAY-A1", "PAY-A2", "PAY-G1", "INV-A1", "INV-A2", "INV-G1", "Globex", "Acme"):
        if token in text:
            found.add(token)
    return found


@pytest.fixture
def homes(db: Database, clock: FixedClock) -> HomeQueries:
    two_partners(db)
    return HomeQueries(db, clock=clock)


def test_a_member_sees_their_partners_payments_with_totals_per_currency(
    homes: HomeQueries,
) -> None:
    home = homes.home_of(ACME_MEMBER)
    assert [p.partner_id for p in home.partners] == ["ACME"]
    acme = home.partners[0]
    assert [p.payment_id for p in acme.payments] == ["PAY-A1", "PAY-A2"]
    assert {(t.currency, t.unallocated, t.pending, t.payments) for t in home.totals} == {
        ("EUR", 50_000, 0, 1),
        ("USD", 100_000, 0, 1),
    }
    # PAY-A1's reference names INV-A1: the matcher's suggestion comes with it.
    assert acme.suggestions["PAY-A1"].total == 100_000
    assert home.approver is None


def test_the_members_requests_waiting_and_last_decisions_are_their_own(
    homes: HomeQueries, ledger: Ledger
) -> None:
    mine = ledger.request_lines(ACME_MEMBER, "PAY-A1", [("INV-A1", "200.00"), ("INV-A2", "50.00")])
    theirs = ledger.request_allocation(ACME_OTHER, "PAY-A1", "INV-A2", "10.00")
    decided = ledger.request_allocation(ACME_MEMBER, "PAY-A2", "INV-AE", "5.00")
    ledger.reject(decided.allocation_id, APPROVE, "Wrong invoice, see the remittance")
    acme = homes.home_of(ACME_MEMBER).partners[0]
    assert [a.allocation_id for a in acme.waiting] == [mine.allocation_id]
    assert [line.invoice_id for line in acme.waiting[0].lines] == ["INV-A1", "INV-A2"]
    assert acme.waiting[0].amount == 25_000
    assert [a.allocation_id for a in acme.decisions] == [decided.allocation_id]
    assert acme.decisions[0].reason == "Wrong invoice, see the remittance"
    assert acme.decisions[0].decided_by == APPROVER
    other = homes.home_of(ACME_OTHER).partners[0]
    assert [a.allocation_id for a in other.waiting] == [theirs.allocation_id]
    # The payment shows what the requests hold.
    pay = next(p for p in acme.payments if p.payment_id == "PAY-A1")
    assert (pay.pending, pay.unallocated) == (26_000, 74_000)


@pytest.mark.parametrize(
    ("person", "sees", "never"),
    [
        (ACME_MEMBER, {"PAY-A1", "PAY-A2", "Acme"}, {"PAY-G1", "INV-G1", "Globex"}),
        (GLOBEX_MEMBER, {"PAY-G1", "Globex"}, {"PAY-A1", "PAY-A2", "INV-A1", "INV-A2", "Acme"}),
        (BOTH_MEMBER, {"PAY-A1", "PAY-A2", "PAY-G1", "Acme", "Globex"}, set()),
        (STRANGER, set(), {"PAY-A1", "PAY-A2", "PAY-G1", "INV-A1", "INV-G1", "Acme", "Globex"}),
        ("not a user id", set(), {"PAY-A1", "PAY-G1", "Acme", "Globex"}),
        ("' OR 1=1 --", set(), {"PAY-A1", "PAY-G1", "Acme", "Globex"}),
    ],
)
def test_a_home_holds_exactly_what_its_person_may_see(
    homes: HomeQueries, ledger: Ledger, person: str, sees: set[str], never: set[str]
) -> None:
    # Requests on both sides, so a leak of either partner's requests would show.
    ledger.request_allocation(ACME_MEMBER, "PAY-A1", "INV-A1", "1.00")
    ledger.request_allocation(GLOBEX_MEMBER, "PAY-G1", "INV-G1", "1.00")
    home = homes.home_of(person)
    found = ids_in(home)
    assert sees <= found
    assert not (never & found), f"{person} sees {never & found}"
    assert home.approver is None


def test_a_removed_member_no_longer_sees_the_partner_or_their_own_requests(
    db: Database, homes: HomeQueries, ledger: Ledger
) -> None:
    from sqlalchemy import delete

    from models.tables import PartnerMember

    ledger.request_allocation(ACME_OTHER, "PAY-A1", "INV-A1", "1.00")
    with db.transaction() as session:
        session.execute(delete(PartnerMember).where(PartnerMember.slack_user_id == ACME_OTHER))
    home = homes.home_of(ACME_OTHER)
    assert home.partners == () and not home.linked
    assert "PAY-A1" not in home.model_dump_json()


def test_an_approver_sees_the_queue_oldest_first_and_what_they_decided_today(
    homes: HomeQueries, ledger: Ledger
) -> None:
    first = ledger.request_allocation(ACME_MEMBER, "PAY-A1", "INV-A1", "1.00")
    second = ledger.request_allocation(GLOBEX_MEMBER, "PAY-G1", "INV-G1", "2.00")
    third = ledger.request_allocation(ACME_OTHER, "PAY-A1", "INV-A2", "3.00")
    ledger.approve(second.allocation_id, APPROVE)
    queue = homes.home_of(APPROVER, approver=True).approver
    assert queue is not None
    assert [a.allocation_id for a in queue.queue] == [first.allocation_id, third.allocation_id]
    assert queue.pending_count == 2 and queue.queue_more == 0
    assert queue.oldest_requested_at == first.requested_at
    assert {(p.partner_id, p.pending) for p in queue.by_partner} == {("ACME", 2)}
    assert [a.allocation_id for a in queue.decided_today] == [second.allocation_id]
    assert queue.decided_today_count == 1
    # Balances an approver checks come with each request.
    assert queue.queue[0].lines[0].invoice_amount_due == 100_000
    # Another approver decided nothing today.
    other = homes.home_of("U0APPROVER2", approver=True).approver
    assert other is not None and other.decided_today == ()


def test_a_person_who_is_both_gets_both_sections(homes: HomeQueries) -> None:
    home = homes.home_of(ACME_MEMBER, approver=True)
    assert home.partners and home.approver is not None


def test_only_the_last_ten_decisions_are_read(homes: HomeQueries, ledger: Ledger) -> None:
    made = [ledger.request_allocation(ACME_MEMBER, "PAY-A1", "INV-A1", "1.00") for _ in range(12)]
    for request in made:
        ledger.cancel(request.allocation_id, ACME_MEMBER)
    acme = homes.home_of(ACME_MEMBER).partners[0]
    assert len(acme.decisions) == DECISIONS_SHOWN
    assert acme.decisions[0].allocation_id == made[-1].allocation_id


def test_hundreds_of_payments_are_read_under_a_limit_and_counted(
    db: Database, homes: HomeQueries
) -> None:
    for n in range(300):
        add_payment(db, f"PAY-X{n:03d}", "GLOBEX", 1000 + n, "USD")
    globex = homes.home_of(GLOBEX_MEMBER).partners[0]
    assert len(globex.payments) + globex.payments_more == 301
    assert globex.payments_more > 250
    # Suggestions for the first few payments only.
    assert len(globex.suggestions) <= 3


def test_an_approvers_home_reads_a_queue_of_thousands_in_a_few_statements(
    db: Database, clock: FixedClock
) -> None:
    many_pending(db, 3000)
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        queue = HomeQueries(db, clock=clock).home_of(APPROVER, approver=True).approver
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert queue is not None
    assert queue.pending_count == 3000
    assert len(queue.queue) == QUEUE_SHOWN and queue.queue_more == 3000 - QUEUE_SHOWN
    assert [a.allocation_id for a in queue.queue] == list(range(1, QUEUE_SHOWN + 1))
    assert len(statements) <= 15, statements
    assert all(
        "LIMIT" in s or "count" in s.lower() or " IN " in s
        for s in statements
        if "allocations" in s
    )


def test_decided_today_is_the_business_day_in_business_tz(
    db: Database, clock: FixedClock, ledger: Ledger
) -> None:
    # 23:30 UTC on the 23rd is already the 24th in Paris: decided "today" for a Paris business
    # at 08:00 local on the 24th, and not for one that keeps UTC days.
    import datetime as dt
    from zoneinfo import ZoneInfo

    two_partners(db)
    request = ledger.request_allocation(GLOBEX_MEMBER, "PAY-G1", "INV-G1", "2.00")
    clock.now = dt.datetime(2026, 11, 23, 23, 30, tzinfo=dt.UTC)
    ledger.approve(request.allocation_id, APPROVE)
    clock.now = dt.datetime(2026, 11, 24, 7, 0, tzinfo=dt.UTC)

    paris = HomeQueries(db, clock=clock, day_tz=ZoneInfo("Europe/Paris"))
    utc = HomeQueries(db, clock=clock)
    in_paris = paris.home_of(APPROVER, approver=True).approver
    in_utc = utc.home_of(APPROVER, approver=True).approver
    assert in_paris is not None and in_utc is not None
    assert [a.allocation_id for a in in_paris.decided_today] == [request.allocation_id]
    assert in_utc.decided_today == ()
