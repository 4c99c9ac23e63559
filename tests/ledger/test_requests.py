"""Requests with several lines: reserved all or nothing, decided together, one message each."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from sqlalchemy import func, select, update

from models.enums import AllocationStatus, LineChoice, OutboxKind
from models.schemas import Actor
from models.tables import Allocation, AuditEvent, JournalEntry, OutboxMessage
from slackbot.db import Database
from slackbot.errors import (
    AlreadyDecided,
    DomainError,
    InsufficientFunds,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from slackbot.ledger import Ledger
from slackbot.ledger.books import check_books
from slackbot.ledger.matching import MatchKind
from slackbot.outbox.owed import owe_balance_refreshes, owe_refreshes_beside
from tests.support.factories import (
    add_invoice,
    add_partner,
    add_payment,
    invoice_row,
    journal_of,
    payment_row,
    snapshot,
)

APPROVER = Actor(user_id="B1", can_approve=True)
OTHER_APPROVER = Actor(user_id="B2", can_approve=True)

# A remittance: 10,000.00 for seven invoices, 1,000.00 to 2,200.00 each (sum 10,000.00).
SEVEN = [
    ("INV-1", "1000.00"),
    ("INV-2", "1200.00"),
    ("INV-3", "1300.00"),
    ("INV-4", "1400.00"),
    ("INV-5", "1400.00"),
    ("INV-6", "1500.00"),
    ("INV-7", "2200.00"),
]
SEVEN_MINOR = [100000, 120000, 130000, 140000, 140000, 150000, 220000]


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P1", "Acme", members=["U1", "U2"])
    add_partner(db, "P2", "Beta", members=["U3"])
    add_payment(db, "PAY-1", "P1", 1_000_000, "USD", reference="remittance INV-1 INV-2")
    add_payment(db, "PAY-2", "P1", 500_000, "USD")
    add_payment(db, "PAY-EUR", "P1", 500_000, "EUR")
    add_payment(db, "PAY-BETA", "P2", 500_000, "USD")
    for n, minor in enumerate(SEVEN_MINOR, start=1):
        # Each invoice owes 500.00 more than this remittance pays it.
        add_invoice(db, f"INV-{n}", "P1", minor + 50000, "USD", due_on=dt.date(2026, 1, n))
    add_invoice(db, "INV-EUR", "P1", 100000, "EUR")
    add_invoice(db, "INV-PAID", "P1", 100000, "USD", amount_due=0)
    add_invoice(db, "INV-BETA", "P2", 100000, "USD")
    return db


def refused(
    db: Database, error: type[DomainError], field: str, attempt: Callable[[], Any], *words: str
) -> DomainError:
    """Run ``attempt``, expect ``error`` on ``field`` naming ``words``, and that nothing changed."""
    before = snapshot(db)
    with pytest.raises(error) as caught:
        attempt()
    assert caught.value.field == field, caught.value.message
    for word in words:
        assert word in caught.value.message, caught.value.message
    assert snapshot(db) == before
    assert check_books(db) == []
    return caught.value


def entries(db: Database, kind: str) -> int:
    with db.transaction() as session:
        return (
            session.scalar(
                select(func.count()).select_from(JournalEntry).where(JournalEntry.kind == kind)
            )
            or 0
        )


def billing_rows(db: Database) -> list[tuple[str, int | None, str]]:
    with db.transaction() as session:
        rows = session.execute(
            select(
                OutboxMessage.kind, OutboxMessage.allocation_id, OutboxMessage.recipient
            ).order_by(OutboxMessage.message_id)
        ).all()
    return [(r[0], r[1], r[2]) for r in rows]


# ------------------------------------------------------------------ a 7-line request


def test_a_seven_line_request_reserves_every_line_and_reads_as_one_request(
    books: Database, ledger: Ledger
) -> None:
    summary = ledger.request_lines(
        "U1", "PAY-1", SEVEN, note="remittance 884213", chosen=LineChoice.EDITED
    )

    assert summary.amount == 1_000_000
    assert summary.request_id == summary.allocation_id
    assert summary.status == AllocationStatus.PENDING
    assert summary.chosen == LineChoice.EDITED
    assert summary.line_count == 7
    assert [(line.invoice_id, line.amount) for line in summary.lines] == [
        (invoice_id, minor) for (invoice_id, _), minor in zip(SEVEN, SEVEN_MINOR, strict=True)
    ]
    assert [line.invoice_pending for line in summary.lines] == SEVEN_MINOR
    assert [line.invoice_amount_due for line in summary.lines] == [m + 50000 for m in SEVEN_MINOR]
    assert summary.payment_unallocated == 0 and summary.payment_pending == 1_000_000
    payment = payment_row(books, "PAY-1")
    assert (payment.pending, payment.allocated) == (1_000_000, 0)
    for n, minor in enumerate(SEVEN_MINOR, start=1):
        assert invoice_row(books, f"INV-{n}").pending == minor
    # Any line names the request.
    ids = [line.allocation_id for line in summary.lines]
    assert ids == list(range(ids[0], ids[0] + 7))
    assert ledger.allocation(ids[4]) == ledger.allocation(ids[0])
    assert ledger.allocation(ids[4]).allocation_id == summary.allocation_id
    # One billing message and one receipt for the request, not seven.
    assert billing_rows(books) == [
        (OutboxKind.ALLOCATION_REQUESTED, summary.allocation_id, "billing"),
        (OutboxKind.ALLOCATION_REQUESTED, summary.allocation_id, "requester"),
    ]
    assert [h.allocation_id for h in ledger.history("U1")] == [summary.allocation_id]
    assert ledger.history("U1")[0].lines == summary.lines
    with books.transaction() as session:
        audited = session.scalars(
            select(AuditEvent.detail).where(AuditEvent.action == "allocation.requested")
        ).all()
    assert [(d["line_no"], d["request_id"], d["amount"]) for d in audited] == [
        (n, summary.allocation_id, minor) for n, minor in enumerate(SEVEN_MINOR, start=1)
    ]


def test_one_approval_on_any_line_posts_every_line(books: Database, ledger: Ledger) -> None:
    summary = ledger.request_lines("U1", "PAY-1", SEVEN)
    fourth = summary.lines[3].allocation_id

    approved = ledger.approve(fourth, APPROVER)

    assert approved.allocation_id == summary.allocation_id
    assert approved.status == AllocationStatus.APPROVED and approved.decided_by == "B1"
    assert all(line.invoice_pending == 0 for line in approved.lines)
    assert [line.invoice_amount_due for line in approved.lines] == [50000] * 7
    assert entries(books, "allocation") == 7
    for line, minor in zip(approved.lines, SEVEN_MINOR, strict=True):
        assert journal_of(books, line.allocation_id) == [
            ("allocation", "unapplied_cash:P1", minor, 0, "USD"),
            ("allocation", f"receivable:P1:{line.invoice_id}", 0, minor, "USD"),
        ]
    payment = payment_row(books, "PAY-1")
    assert (payment.allocated, payment.pending) == (1_000_000, 0)
    with books.transaction() as session:
        statuses = session.scalars(
            select(Allocation.status).where(Allocation.request_id == summary.allocation_id)
        ).all()
    assert statuses == ["approved"] * 7
    assert check_books(books) == []
    # The decision owes one billing edit and one receipt edit for the request.
    assert billing_rows(books)[2:] == [
        (OutboxKind.ALLOCATION_APPROVED, summary.allocation_id, "billing"),
        (OutboxKind.ALLOCATION_APPROVED, summary.allocation_id, "receipt"),
    ]


def test_a_second_decision_on_another_line_says_who_decided_first(
    books: Database, ledger: Ledger
) -> None:
    summary = ledger.request_lines("U1", "PAY-1", SEVEN)
    ledger.approve(summary.lines[0].allocation_id, APPROVER)

    for verb, attempt in (
        ("approve", lambda: ledger.approve(summary.lines[6].allocation_id, OTHER_APPROVER)),
        ("reject", lambda: ledger.reject(summary.lines[2].allocation_id, OTHER_APPROVER, "no")),
        ("cancel", lambda: ledger.cancel(summary.lines[5].allocation_id, "U1")),
    ):
        error = refused(books, AlreadyDecided, "allocation", attempt, "already approved by B1")
        assert isinstance(error, AlreadyDecided), verb
        assert error.allocation_id == summary.allocation_id
    assert entries(books, "allocation") == 7


def test_reject_releases_every_line(books: Database, ledger: Ledger) -> None:
    summary = ledger.request_lines("U1", "PAY-1", SEVEN)

    rejected = ledger.reject(summary.lines[6].allocation_id, APPROVER, "wrong remittance")

    assert rejected.status == AllocationStatus.REJECTED and rejected.reason == "wrong remittance"
    assert rejected.payment_unallocated == 1_000_000
    assert all(line.invoice_pending == 0 for line in rejected.lines)
    assert (payment_row(books, "PAY-1").pending, payment_row(books, "PAY-1").allocated) == (0, 0)
    assert entries(books, "allocation") == 0
    assert check_books(books) == []


def test_cancel_by_the_requester_releases_every_line(books: Database, ledger: Ledger) -> None:
    summary = ledger.request_lines("U1", "PAY-1", SEVEN)

    cancelled = ledger.cancel(summary.lines[1].allocation_id, "U1")

    assert cancelled.status == AllocationStatus.CANCELLED
    assert payment_row(books, "PAY-1").pending == 0
    assert all(invoice_row(books, f"INV-{n}").pending == 0 for n in range(1, 8))
    # The money is free again: the same seven lines fit once more.
    assert ledger.request_lines("U1", "PAY-1", SEVEN).amount == 1_000_000


def test_reverse_posts_a_compensating_entry_per_line(books: Database, ledger: Ledger) -> None:
    summary = ledger.request_lines("U1", "PAY-1", SEVEN)
    ledger.approve(summary.allocation_id, APPROVER)

    reversed_ = ledger.reverse(summary.lines[2].allocation_id, OTHER_APPROVER, "paid twice")

    assert reversed_.status == AllocationStatus.REVERSED and reversed_.reversed_by == "B2"
    assert entries(books, "reversal") == 7
    for line, minor in zip(reversed_.lines, SEVEN_MINOR, strict=True):
        assert journal_of(books, line.allocation_id)[2:] == [
            ("reversal", f"receivable:P1:{line.invoice_id}", minor, 0, "USD"),
            ("reversal", "unapplied_cash:P1", 0, minor, "USD"),
        ]
        assert line.invoice_amount_due == minor + 50000
    assert payment_row(books, "PAY-1").allocated == 0
    assert check_books(books) == []
    refused(
        books,
        AlreadyDecided,
        "allocation",
        lambda: ledger.reverse(summary.lines[0].allocation_id, APPROVER, "again"),
        "already reversed by B2",
    )


def test_segregation_of_duties_holds_for_every_line(books: Database, ledger: Ledger) -> None:
    summary = ledger.request_lines("U1", "PAY-1", SEVEN)
    requester = Actor(user_id="U1", can_approve=True)
    colleague = Actor(user_id="U2", can_approve=True)

    for line_id in [line.allocation_id for line in summary.lines]:
        refused(
            books, NotAllowed, "allocation", partial(ledger.approve, line_id, requester), "You made"
        )
        refused(
            books,
            NotAllowed,
            "allocation",
            partial(ledger.approve, line_id, colleague),
            "member of Acme",
        )
    refused(
        books,
        NotAllowed,
        "allocation",
        lambda: ledger.cancel(summary.lines[3].allocation_id, "U2"),
        "Only the person",
    )


def test_the_same_request_key_twice_is_one_request(books: Database, ledger: Ledger) -> None:
    first = ledger.request_lines("U1", "PAY-1", SEVEN[:3], request_key="view-1")
    before = snapshot(books)

    again = ledger.request_lines("U1", "PAY-1", SEVEN[:3], request_key="view-1")

    assert again.replayed and again.allocation_id == first.allocation_id
    assert again.lines == first.lines
    assert snapshot(books) == before
    with books.transaction() as session:
        keys = session.scalars(
            select(Allocation.request_key).order_by(Allocation.allocation_id)
        ).all()
    assert keys == ["view-1", None, None]


def test_a_one_line_request_is_a_request_of_one_line(books: Database, ledger: Ledger) -> None:
    summary = ledger.request_allocation("U1", "PAY-2", "INV-1", "250.00")

    assert summary.request_id == summary.allocation_id and summary.line_count == 1
    assert summary.lines[0].invoice_id == "INV-1" and summary.lines[0].amount == 25000
    assert summary.chosen is None


# ----------------------------------------------------------------- refusals per line


def seven_with(
    line_no: int, invoice_id: str | None = None, amount: str | None = None
) -> list[tuple[str, str]]:
    lines = list(SEVEN)
    old_id, old_amount = lines[line_no - 1]
    lines[line_no - 1] = (invoice_id or old_id, amount or old_amount)
    return lines


@pytest.mark.parametrize(
    ("lines", "error", "field", "words"),
    [
        (seven_with(3, amount="abc"), InvalidInput, "amount_3", ()),
        (seven_with(1, amount="0"), InvalidInput, "amount", ("more than zero",)),
        (seven_with(5, amount="-1.00"), InvalidInput, "amount_5", ()),
        (seven_with(4, amount="1.001"), InvalidInput, "amount_4", ("USD amounts have",)),
        (seven_with(6, invoice_id="INV-2"), InvalidInput, "invoice_6", ("already on line 2",)),
        (seven_with(2, invoice_id="NOPE"), NotFound, "invoice_2", ("not an open invoice",)),
        (seven_with(7, invoice_id="INV-BETA"), NotFound, "invoice_7", ("not an open invoice",)),
        (seven_with(3, invoice_id="INV-EUR"), InvalidInput, "invoice_3", ("is in EUR",)),
        (seven_with(4, invoice_id="INV-PAID"), InvalidInput, "invoice_4", ("paid in full",)),
        # Line 5 alone is over what INV-5 has left (1,900.00).
        (
            seven_with(5, amount="1900.01"),
            InsufficientFunds,
            "amount_5",
            ("INV-5 has 1,900.00 USD left",),
        ),
        # The running total goes over the payment at line 7 (10,000.01 > 10,000.00).
        (
            seven_with(7, amount="2200.01"),
            InsufficientFunds,
            "amount_7",
            ("PAY-1 has 10,000.00 USD left", "lines 1 to 7 come to 10,000.01 USD"),
        ),
    ],
)
def test_every_refusal_names_the_line_at_fault_and_changes_nothing(
    books: Database,
    ledger: Ledger,
    lines: list[tuple[str, str]],
    error: type[DomainError],
    field: str,
    words: tuple[str, ...],
) -> None:
    refused(books, error, field, lambda: ledger.request_lines("U1", "PAY-1", lines), *words)


def test_the_total_names_the_first_line_that_goes_over_the_payment(
    books: Database, ledger: Ledger
) -> None:
    held = [("INV-7", "2700.00"), ("INV-6", "2000.00"), ("INV-5", "1300.00")]
    ledger.request_lines("U1", "PAY-1", held)  # 4,000.00 left

    refused(
        books,
        InsufficientFunds,
        "amount_4",
        lambda: ledger.request_lines("U1", "PAY-1", SEVEN[:6]),
        "PAY-1 has 4,000.00 USD left to allocate (6,000.00 USD more is held by pending requests)",
        "lines 1 to 4 come to 4,900.00 USD",
    )


def test_a_request_needs_one_to_ten_lines(books: Database, ledger: Ledger) -> None:
    refused(books, InvalidInput, "invoice", lambda: ledger.request_lines("U1", "PAY-1", []))
    eleven = [(f"INV-{n % 7 + 1}", "1.00") for n in range(11)]
    refused(
        books,
        InvalidInput,
        "invoice",
        lambda: ledger.request_lines("U1", "PAY-1", eleven),
        "at most 10 invoices",
    )


def test_a_payment_not_the_members_is_refused_on_the_payment(
    books: Database, ledger: Ledger
) -> None:
    refused(books, NotFound, "payment", lambda: ledger.request_lines("U1", "PAY-BETA", SEVEN[:1]))


# ----------------------------------------------------------------- the outbox per request


def test_refreshes_are_owed_per_pending_request_sharing_the_payment_or_an_invoice(
    books: Database, ledger: Ledger
) -> None:
    big = ledger.request_lines("U1", "PAY-1", [("INV-1", "100.00"), ("INV-2", "100.00")])
    # Shares INV-2 (line 2 of big) through another payment, with two lines of its own.
    beside = ledger.request_lines("U1", "PAY-2", [("INV-3", "10.00"), ("INV-2", "10.00")])
    unrelated = ledger.request_lines("U1", "PAY-2", [("INV-5", "10.00")])
    with books.transaction() as session:
        session.execute(update(OutboxMessage).values(sent_at=ledger.clock()))

    with books.transaction() as session:
        owed = owe_refreshes_beside(session, big.lines[1].allocation_id, ledger.clock())
    assert owed == 1
    rows = [r for r in billing_rows(books) if r[0] == OutboxKind.BALANCES_CHANGED]
    assert rows == [(OutboxKind.BALANCES_CHANGED, beside.allocation_id, "billing")]

    # Beside PAY-2's requests: beside and unrelated share the payment; big shares INV-2.
    with books.transaction() as session:
        session.execute(update(OutboxMessage).values(sent_at=ledger.clock()))
        owed = owe_refreshes_beside(session, unrelated.allocation_id, ledger.clock())
    assert owed == 1  # beside, via PAY-2 (big shares no invoice with unrelated)


def test_an_import_naming_several_lines_of_a_request_owes_it_one_refresh(
    books: Database, ledger: Ledger
) -> None:
    summary = ledger.request_lines("U1", "PAY-1", SEVEN[:3])
    with books.transaction() as session:
        session.execute(update(OutboxMessage).values(sent_at=ledger.clock()))

    with books.transaction() as session:
        owed = owe_balance_refreshes(
            session, [(line.allocation_id, "U1") for line in summary.lines], ledger.clock()
        )

    assert owed == 1
    assert billing_rows(books)[-1] == (
        OutboxKind.BALANCES_CHANGED,
        summary.allocation_id,
        "billing",
    )


# ----------------------------------------------------------------------- suggestions


def test_suggestions_read_the_partners_open_invoices(books: Database, ledger: Ledger) -> None:
    # PAY-1's reference names INV-1 and INV-2; the rest stays on the payment.
    found = ledger.suggestions("U1", "PAY-1")

    assert found[0].how == MatchKind.REFERENCE
    assert [(line.invoice_id, line.amount) for line in found[0].lines] == [
        ("INV-1", 150000),
        ("INV-2", 170000),
    ]
    with pytest.raises(NotFound):
        ledger.suggestions("U1", "PAY-BETA")


def test_suggestions_leave_out_what_pending_requests_hold(books: Database, ledger: Ledger) -> None:
    ledger.request_allocation("U1", "PAY-1", "INV-1", "1500.00")  # INV-1 fully held

    found = ledger.suggestions("U1", "PAY-2")  # 5,000.00, no reference

    invoice_ids = {line.invoice_id for s in found for line in s.lines}
    assert "INV-1" not in invoice_ids and "INV-PAID" not in invoice_ids
    assert "INV-BETA" not in invoice_ids and "INV-EUR" not in invoice_ids
    assert found and sum(line.amount for line in found[0].lines) == 500000


def test_best_suggestions_one_per_payment_of_the_members_partners(
    books: Database, ledger: Ledger
) -> None:
    add_payment(books, "PAY-EXACT", "P1", 170000, "USD")  # INV-2 has exactly 1,700.00 open
    payments = ledger.payments_of("U1", only_allocatable=True)
    beta = ledger.payments_of("U3", only_allocatable=True)

    best = ledger.best_suggestions("U1", [*payments, *beta])

    assert best["PAY-EXACT"].how == MatchKind.EXACT_ONE
    assert [line.invoice_id for line in best["PAY-EXACT"].lines] == ["INV-2"]
    assert best["PAY-1"].how == MatchKind.REFERENCE
    assert "PAY-EUR" in best and best["PAY-EUR"].lines[0].invoice_id == "INV-EUR"
    assert "PAY-BETA" not in best  # not U1's partner
    assert ledger.best_suggestions("U1", []) == {}
