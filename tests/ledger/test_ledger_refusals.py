"""Every refusal: the typed error, the field at fault, words a person can act on, and no change."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.schemas import Actor
from models.tables import Allocation, Invoice, JournalEntry, JournalLine, Payment
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
from tests.support.factories import add_invoice, add_partner, add_payment, snapshot

APPROVER = Actor(user_id="B1", can_approve=True)
OTHER_APPROVER = Actor(user_id="B2", can_approve=True)
NOT_AN_APPROVER = Actor(user_id="U2", can_approve=False)


@pytest.fixture
def books(db: Database) -> Database:
    # B1 approves Acme's requests, so it belongs to Beta only (a member never decides for its
    # own partner); it requests on Beta's payment where a test needs an approver's own request.
    add_partner(db, "P1", "Acme", members=["U1", "U2"])
    add_partner(db, "P2", "Beta", members=["U3", "B1"])
    add_payment(db, "PAY-1", "P1", 100000, "USD")
    add_payment(db, "PAY-JPY", "P1", 100000, "JPY")
    add_payment(db, "PAY-KWD", "P1", 100000, "KWD")
    add_payment(db, "PAY-BETA", "P2", 100000, "USD")
    add_invoice(db, "INV-1", "P1", 50000, "USD")
    add_invoice(db, "INV-BIG", "P1", 500000, "USD")
    add_invoice(db, "INV-JPY", "P1", 100000, "JPY")
    add_invoice(db, "INV-KWD", "P1", 100000, "KWD")
    add_invoice(db, "INV-EUR", "P1", 50000, "EUR")
    add_invoice(db, "INV-PAID", "P1", 50000, "USD", amount_due=0)
    add_invoice(db, "INV-BETA", "P2", 50000, "USD")
    return db


def refused(
    db: Database,
    error: type[DomainError],
    field: str,
    attempt: Callable[[], Any],
    *words: str,
) -> DomainError:
    """Run ``attempt``, expect ``error`` on ``field`` naming ``words``, and that nothing changed."""
    before = snapshot(db)
    with pytest.raises(error) as caught:
        attempt()
    assert caught.value.field == field
    for word in words:
        assert word in caught.value.message, caught.value.message
    assert snapshot(db) == before
    assert check_books(db) == []
    return caught.value


# ------------------------------------------------------------------ amounts


@pytest.mark.parametrize(
    ("payment", "invoice", "amount", "words"),
    [
        ("PAY-1", "INV-1", "abc", ("digits", "abc")),
        ("PAY-1", "INV-1", "", ("Enter an amount",)),
        ("PAY-1", "INV-1", "   ", ("Enter an amount",)),
        ("PAY-1", "INV-1", "0", ("more than zero",)),
        ("PAY-1", "INV-1", "0.00", ("more than zero",)),
        ("PAY-1", "INV-1", 0, ("more than zero",)),
        ("PAY-1", "INV-1", -500, ("more than zero",)),
        ("PAY-1", "INV-1", "-5.00", ("more than zero", "-5.00")),
        ("PAY-1", "INV-1", "1.001", ("USD", "at most 2 decimals", "1.001")),
        ("PAY-JPY", "INV-JPY", "1.5", ("JPY", "no decimals", "1.5")),
        ("PAY-KWD", "INV-KWD", "1.0001", ("KWD", "at most 3 decimals", "1.0001")),
        ("PAY-1", "INV-1", "1e9", ("digits", "1e9")),
        ("PAY-1", "INV-1", "NaN", ("digits", "NaN")),
        ("PAY-1", "INV-1", "Infinity", ("digits",)),
        ("PAY-1", "INV-1", "1,000.00", ("no commas", "1,000.00")),
        ("PAY-1", "INV-1", "$10", ("no commas or symbols",)),
        ("PAY-1", "INV-1", "١٠٠", ("digits", "١٠٠")),
        ("PAY-1", "INV-1", "1 000", ("digits",)),
        ("PAY-1", "INV-1", "99999999999999", ("too large",)),
    ],
)
def test_malformed_amount_is_refused(
    books: Database, ledger: Ledger, payment: str, invoice: str, amount: Any, words: tuple[str]
) -> None:
    refused(
        books,
        InvalidInput,
        "amount",
        lambda: ledger.request_allocation("U1", payment, invoice, amount),
        *words,
    )


@pytest.mark.parametrize(
    ("payment", "invoice", "amount", "minor"),
    [
        ("PAY-1", "INV-1", "0.01", 1),
        ("PAY-1", "INV-1", " 12.5 ", 1250),
        ("PAY-JPY", "INV-JPY", "7", 7),
        ("PAY-KWD", "INV-KWD", "0.001", 1),
        ("PAY-KWD", "INV-KWD", "1.25", 1250),
    ],
)
def test_amount_with_the_currencys_decimals_is_accepted(
    books: Database, ledger: Ledger, payment: str, invoice: str, amount: str, minor: int
) -> None:
    # The other side of the decimal refusals: exactly the currency's precision is fine.
    assert ledger.request_allocation("U1", payment, invoice, amount).amount == minor
    assert check_books(books) == []


def test_more_than_the_payment_has_unreserved_says_how_much_is_left(
    books: Database, ledger: Ledger
) -> None:
    ledger.request_allocation("U1", "PAY-1", "INV-BIG", "300.00")

    refused(
        books,
        InsufficientFunds,
        "amount",
        lambda: ledger.request_allocation("U1", "PAY-1", "INV-BIG", "800.00"),
        "PAY-1",
        "700.00 USD left",
        "300.00 USD more is held",
        "800.00 USD",
    )


def test_more_than_the_invoice_has_left_says_what_is_due(books: Database, ledger: Ledger) -> None:
    refused(
        books,
        InsufficientFunds,
        "amount",
        lambda: ledger.request_allocation("U1", "PAY-1", "INV-1", "500.01"),
        "INV-1",
        "500.00 USD left to pay",
        "500.01 USD",
    )


def test_more_than_the_invoice_has_left_says_what_is_due_and_pending(
    books: Database, ledger: Ledger
) -> None:
    ledger.request_allocation("U2", "PAY-1", "INV-1", "200.00")

    refused(
        books,
        InsufficientFunds,
        "amount",
        lambda: ledger.request_allocation("U1", "PAY-1", "INV-1", "300.01"),
        "INV-1",
        "500.00 USD left to pay",
        "200.00 USD of it already requested",
        "at most 300.00 USD",
    )


# ------------------------------------------------------- payments and invoices


def test_another_partners_payment_reads_like_one_that_does_not_exist(
    books: Database, ledger: Ledger
) -> None:
    foreign = refused(
        books,
        NotFound,
        "payment",
        lambda: ledger.request_allocation("U1", "PAY-BETA", "INV-1", "1.00"),
        "PAY-BETA",
        "/payments",
    )
    missing = refused(
        books,
        NotFound,
        "payment",
        lambda: ledger.request_allocation("U1", "PAY-NONE", "INV-1", "1.00"),
    )

    assert foreign.message.replace("PAY-BETA", "X") == missing.message.replace("PAY-NONE", "X")


def test_a_non_member_cannot_use_any_payment(books: Database, ledger: Ledger) -> None:
    refused(
        books,
        NotFound,
        "payment",
        lambda: ledger.request_allocation("U9", "PAY-1", "INV-1", "1.00"),
        "You have no payment PAY-1",
    )


def test_another_partners_invoice_reads_like_one_that_does_not_exist(
    books: Database, ledger: Ledger
) -> None:
    foreign = refused(
        books,
        NotFound,
        "invoice",
        lambda: ledger.request_allocation("U1", "PAY-1", "INV-BETA", "1.00"),
        "INV-BETA",
        "PAY-1",
    )
    missing = refused(
        books,
        NotFound,
        "invoice",
        lambda: ledger.request_allocation("U1", "PAY-1", "INV-NONE", "1.00"),
    )

    assert foreign.message.replace("INV-BETA", "X") == missing.message.replace("INV-NONE", "X")


def test_invoice_in_another_currency_is_refused(books: Database, ledger: Ledger) -> None:
    refused(
        books,
        InvalidInput,
        "invoice",
        lambda: ledger.request_allocation("U1", "PAY-1", "INV-EUR", "1.00"),
        "INV-EUR is in EUR",
        "PAY-1 is in USD",
    )


def test_fully_paid_invoice_is_refused(books: Database, ledger: Ledger) -> None:
    refused(
        books,
        InvalidInput,
        "invoice",
        lambda: ledger.request_allocation("U1", "PAY-1", "INV-PAID", "1.00"),
        "INV-PAID",
        "paid in full",
    )


def test_invoice_paid_in_full_by_an_approval_is_refused(books: Database, ledger: Ledger) -> None:
    first = ledger.request_allocation("U1", "PAY-1", "INV-1", "500.00")
    ledger.approve(first.allocation_id, APPROVER)

    refused(
        books,
        InvalidInput,
        "invoice",
        lambda: ledger.request_allocation("U2", "PAY-1", "INV-1", "0.01"),
        "paid in full",
    )


def test_fully_reserved_invoice_is_refused(books: Database, ledger: Ledger) -> None:
    ledger.request_allocation("U2", "PAY-1", "INV-1", "500.00")

    refused(
        books,
        InvalidInput,
        "invoice",
        lambda: ledger.request_allocation("U1", "PAY-1", "INV-1", "0.01"),
        "INV-1",
        "held by pending requests",
    )


def test_overlong_note_is_refused(books: Database, ledger: Ledger) -> None:
    refused(
        books,
        InvalidInput,
        "note",
        lambda: ledger.request_allocation("U1", "PAY-1", "INV-1", "1.00", note="x" * 1001),
        "1000 characters",
    )


# ------------------------------------------------------------------ decisions

DECISIONS: dict[str, Callable[[Ledger, int], Any]] = {
    "approve": lambda ledger, a: ledger.approve(a, APPROVER),
    "reject": lambda ledger, a: ledger.reject(a, APPROVER, "not ours"),
    "cancel": lambda ledger, a: ledger.cancel(a, "U1"),
}
DECIDED = {"approve": "approved", "reject": "rejected", "cancel": "cancelled"}
DECIDER = {"approve": "B1", "reject": "B1", "cancel": "U1"}


@pytest.mark.parametrize("second", sorted(DECISIONS))
@pytest.mark.parametrize("first", sorted(DECISIONS))
def test_deciding_a_decided_allocation_says_who_decided_and_when(
    books: Database, ledger: Ledger, first: str, second: str
) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    decided = DECISIONS[first](ledger, allocation_id)
    assert decided.decided_at is not None

    error = refused(
        books,
        AlreadyDecided,
        "allocation",
        lambda: DECISIONS[second](ledger, allocation_id),
        f"already {DECIDED[first]}",
        DECIDER[first],
        decided.decided_at.strftime("%Y-%m-%d %H:%M UTC"),
        "nothing changed",
    )
    assert isinstance(error, AlreadyDecided)
    assert (error.allocation_id, error.status, error.decided_by) == (
        allocation_id,
        DECIDED[first],
        DECIDER[first],
    )
    assert error.decided_at == decided.decided_at


def test_a_non_approver_cannot_approve_or_reject(books: Database, ledger: Ledger) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id

    refused(
        books,
        NotAllowed,
        "allocation",
        lambda: ledger.approve(allocation_id, NOT_AN_APPROVER),
        "Only billing approvers",
    )
    refused(
        books,
        NotAllowed,
        "allocation",
        lambda: ledger.reject(allocation_id, NOT_AN_APPROVER, "no"),
        "Only billing approvers",
    )


def test_an_approver_cannot_decide_their_own_request(books: Database, ledger: Ledger) -> None:
    allocation_id = ledger.request_allocation("B1", "PAY-BETA", "INV-BETA", "100.00").allocation_id

    refused(
        books,
        NotAllowed,
        "allocation",
        lambda: ledger.approve(allocation_id, APPROVER),
        "You made this request",
        "another approver",
    )
    refused(
        books,
        NotAllowed,
        "allocation",
        lambda: ledger.reject(allocation_id, APPROVER, "changed my mind"),
        "You made this request",
    )
    # The requester's own way out is to cancel.
    assert ledger.cancel(allocation_id, "B1").status == "cancelled"


def test_someone_else_cannot_cancel_a_request(books: Database, ledger: Ledger) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id

    for user in ("U2", "B1", "U3"):
        refused(
            books,
            NotAllowed,
            "allocation",
            lambda user=user: ledger.cancel(allocation_id, user),  # type: ignore[misc]
            "Only the person who made a request",
        )


@pytest.mark.parametrize("reason", ["", "   ", "\n\t"])
def test_reject_without_a_reason_is_refused(books: Database, ledger: Ledger, reason: str) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id

    refused(
        books,
        InvalidInput,
        "reason",
        lambda: ledger.reject(allocation_id, APPROVER, reason),
        "Say why",
    )


def test_deciding_an_unknown_allocation_is_refused(books: Database, ledger: Ledger) -> None:
    refused(books, NotFound, "allocation", lambda: ledger.approve(4242, APPROVER), "4242")
    refused(books, NotFound, "allocation", lambda: ledger.cancel(4242, "U1"), "4242")


@pytest.mark.parametrize("decision", ["reject", "cancel"])
def test_reversing_an_allocation_that_was_never_approved_is_refused(
    books: Database, ledger: Ledger, decision: str
) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    DECISIONS[decision](ledger, allocation_id)

    refused(
        books,
        AlreadyDecided,
        "allocation",
        lambda: ledger.reverse(allocation_id, OTHER_APPROVER, "undo"),
        f"already {DECIDED[decision]}",
        DECIDER[decision],
    )


def test_reversing_a_pending_allocation_is_refused_in_words_a_person_understands(
    books: Database, ledger: Ledger
) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id

    error = refused(
        books,
        AlreadyDecided,
        "allocation",
        lambda: ledger.reverse(allocation_id, APPROVER, "undo"),
        f"Request {allocation_id}",
        "approved",
    )
    # A pending request has no decider and no decision time to report.
    assert "None" not in error.message, error.message
    assert "at earlier" not in error.message, error.message


def test_reversing_twice_is_refused(books: Database, ledger: Ledger) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    ledger.approve(allocation_id, APPROVER)
    ledger.reverse(allocation_id, OTHER_APPROVER, "undo")

    refused(
        books,
        AlreadyDecided,
        "allocation",
        lambda: ledger.reverse(allocation_id, APPROVER, "undo again"),
        "already reversed by B2",
    )


def test_a_non_approver_cannot_reverse(books: Database, ledger: Ledger) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    ledger.approve(allocation_id, APPROVER)

    refused(
        books,
        NotAllowed,
        "allocation",
        lambda: ledger.reverse(allocation_id, NOT_AN_APPROVER, "undo"),
        "Only billing approvers",
    )


def test_reverse_without_a_reason_is_refused(books: Database, ledger: Ledger) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    ledger.approve(allocation_id, APPROVER)

    refused(
        books,
        InvalidInput,
        "reason",
        lambda: ledger.reverse(allocation_id, OTHER_APPROVER, "  "),
        "Say why",
    )


# ------------------------------------------- the database refuses buggy writes


@pytest.fixture
def approved(books: Database, ledger: Ledger) -> int:
    """An approved allocation of 100.00 USD from PAY-1 to INV-1, plus a pending one of 50.00."""
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    ledger.approve(allocation_id, APPROVER)
    ledger.request_allocation("U1", "PAY-1", "INV-1", "50.00")
    return allocation_id


def db_refuses(db: Database, write: Callable[[Session], None]) -> None:
    before = snapshot(db)
    with pytest.raises(IntegrityError), db.transaction() as session:
        write(session)
        session.flush()
    assert snapshot(db) == before


def _new_allocation(**overrides: Any) -> Allocation:
    values: dict[str, Any] = {
        # A request of one line unless told otherwise: line 1's id is the request's.
        "allocation_id": 9000,
        "request_id": 9000,
        "line_no": 1,
        "payment_id": "PAY-1",
        "invoice_id": "INV-1",
        "partner_id": "P1",
        "currency": "USD",
        "amount": 100,
        "status": "pending",
        "requested_by": "U1",
        "requested_at": dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
    }
    values.update(overrides)
    return Allocation(**values)


BUGGY_WRITES: dict[str, Callable[[Session, int], None]] = {
    "payment allocated beyond its amount": lambda s, _a: s.execute(
        update(Payment).where(Payment.payment_id == "PAY-1").values(allocated=Payment.amount)
    ),
    "payment pending beyond what is left": lambda s, _a: s.execute(
        update(Payment).where(Payment.payment_id == "PAY-1").values(pending=90001)
    ),
    "payment pending below zero": lambda s, _a: s.execute(
        update(Payment).where(Payment.payment_id == "PAY-1").values(pending=-1)
    ),
    "payment amount cut below what is allocated": lambda s, _a: s.execute(
        update(Payment).where(Payment.payment_id == "PAY-1").values(amount=14999)
    ),
    "invoice overpaid": lambda s, _a: s.execute(
        update(Invoice).where(Invoice.invoice_id == "INV-1").values(applied=45001)
    ),
    "invoice reserved beyond what is due": lambda s, _a: s.execute(
        update(Invoice).where(Invoice.invoice_id == "INV-1").values(pending=40001)
    ),
    "invoice applied below zero": lambda s, _a: s.execute(
        update(Invoice).where(Invoice.invoice_id == "INV-1").values(applied=-1)
    ),
    "invoice amount_due re-imported below what is applied and pending": lambda s, _a: s.execute(
        update(Invoice).where(Invoice.invoice_id == "INV-1").values(opening_due=14999)
    ),
    "invoice due more than its amount": lambda s, _a: s.execute(
        update(Invoice).where(Invoice.invoice_id == "INV-1").values(opening_due=50001)
    ),
    "allocation across partners": lambda s, _a: s.add(
        _new_allocation(invoice_id="INV-BETA", partner_id="P1")
    ),
    "allocation across partners naming the invoice's partner": lambda s, _a: s.add(
        _new_allocation(invoice_id="INV-BETA", partner_id="P2")
    ),
    "allocation across currencies": lambda s, _a: s.add(
        _new_allocation(invoice_id="INV-EUR", currency="USD")
    ),
    "allocation across currencies naming the invoice's currency": lambda s, _a: s.add(
        _new_allocation(invoice_id="INV-EUR", currency="EUR")
    ),
    "allocation of zero": lambda s, _a: s.add(_new_allocation(amount=0)),
    "allocation in an unknown status": lambda s, _a: s.add(_new_allocation(status="paid")),
    "approved allocation without a decision time": lambda s, _a: s.add(
        _new_allocation(status="approved")
    ),
    "rejected allocation without a reason": lambda s, _a: s.add(
        _new_allocation(
            status="rejected",
            decided_by="B1",
            decided_at=dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
        )
    ),
    "rejected allocation with an empty reason": lambda s, _a: s.add(
        _new_allocation(
            status="rejected",
            decided_by="B1",
            decided_at=dt.datetime(2026, 11, 24, tzinfo=dt.UTC),
            reason="",
        )
    ),
    "request line numbered 0": lambda s, _a: s.add(
        _new_allocation(allocation_id=9001, request_id=9000, line_no=0)
    ),
    "request line numbered 11": lambda s, _a: s.add(
        _new_allocation(allocation_id=9001, request_id=9000, line_no=11)
    ),
    "request line 1 that is not the request": lambda s, a: s.add(
        _new_allocation(allocation_id=9001, request_id=a, line_no=1)
    ),
    "request line 2 claiming to be the request": lambda s, _a: s.add(
        _new_allocation(allocation_id=9001, request_id=9001, line_no=2)
    ),
    "second line 2 of one request": lambda s, a: (
        s.add(_new_allocation(allocation_id=9001, request_id=a, line_no=2, invoice_id="INV-BIG")),
        s.flush(),
        s.add(_new_allocation(allocation_id=9002, request_id=a, line_no=2, invoice_id="INV-PAID")),
    ),
    "one invoice twice in a request": lambda s, a: s.add(
        _new_allocation(allocation_id=9001, request_id=a, line_no=2)
    ),
    "request lines chosen in an unknown way": lambda s, _a: s.add(
        _new_allocation(chosen="guessed")
    ),
    "reversed allocation without a reversal time": lambda s, a: s.execute(
        update(Allocation).where(Allocation.allocation_id == a).values(status="reversed")
    ),
    "second allocation entry for one allocation": lambda s, a: s.add(
        JournalEntry(allocation_id=a, kind="allocation", posted_by="B1")
    ),
    "journal entry of an unknown kind": lambda s, a: s.add(
        JournalEntry(allocation_id=a, kind="adjustment", posted_by="B1")
    ),
    "journal line with both debit and credit": lambda s, _a: s.add(
        JournalLine(entry_id=_first_entry(s), account="x", debit=1, credit=1, currency="USD")
    ),
    "journal line with neither debit nor credit": lambda s, _a: s.add(
        JournalLine(entry_id=_first_entry(s), account="x", debit=0, credit=0, currency="USD")
    ),
    "journal line with a negative debit": lambda s, _a: s.add(
        JournalLine(entry_id=_first_entry(s), account="x", debit=-5, credit=0, currency="USD")
    ),
}


def _first_entry(session: Session) -> int:
    return session.query(JournalEntry.entry_id).order_by(JournalEntry.entry_id).limit(1).scalar()


@pytest.mark.parametrize("write", sorted(BUGGY_WRITES))
def test_database_refuses_a_buggy_write(books: Database, approved: int, write: str) -> None:
    db_refuses(books, lambda session: BUGGY_WRITES[write](session, approved))
    assert check_books(books) == []


def test_database_refuses_a_second_reversal_entry(
    books: Database, ledger: Ledger, approved: int
) -> None:
    ledger.reverse(approved, APPROVER, "undo")

    db_refuses(
        books,
        lambda session: session.add(
            JournalEntry(allocation_id=approved, kind="reversal", posted_by="B1")
        ),
    )
    assert check_books(books) == []


# ------------------------------------------------------- segregation of duties


MEMBER_APPROVER = Actor(user_id="U2", can_approve=True)  # an Acme member who also approves


@pytest.mark.parametrize("verb", ["approve", "reject"])
def test_a_member_of_the_partner_cannot_decide_its_requests(
    books: Database, ledger: Ledger, verb: str
) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    decide = {
        "approve": lambda: ledger.approve(allocation_id, MEMBER_APPROVER),
        "reject": lambda: ledger.reject(allocation_id, MEMBER_APPROVER, "not ours"),
    }[verb]
    error = refused(
        books,
        NotAllowed,
        "allocation",
        decide,
        "You are a member of Acme",
        f"so you cannot {verb} its requests; another approver must.",
    )
    # The check before opening the reject form says the same.
    with pytest.raises(NotAllowed) as caught:
        ledger.check_can_decide(allocation_id, MEMBER_APPROVER, verb)
    assert caught.value.message == error.message
    # Someone who is not a member decides it as usual.
    assert DECISIONS[verb](ledger, allocation_id).decided_by == "B1"


def test_a_member_of_another_partner_may_decide(books: Database, ledger: Ledger) -> None:
    # B1 belongs to Beta; the request is Acme's.
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    assert ledger.approve(allocation_id, APPROVER).status == "approved"


def test_a_member_of_the_partner_cannot_reverse_its_allocation(
    books: Database, ledger: Ledger
) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    ledger.approve(allocation_id, APPROVER)
    refused(
        books,
        NotAllowed,
        "allocation",
        lambda: ledger.reverse(allocation_id, MEMBER_APPROVER, "undo"),
        "You are a member of Acme, so you cannot reverse its requests",
    )
    assert ledger.reverse(allocation_id, OTHER_APPROVER, "undo").status == "reversed"


def test_the_requester_cannot_reverse_their_own_approved_request(
    books: Database, ledger: Ledger
) -> None:
    allocation_id = ledger.request_allocation("B1", "PAY-BETA", "INV-BETA", "100.00").allocation_id
    ledger.approve(allocation_id, OTHER_APPROVER)
    refused(
        books,
        NotAllowed,
        "allocation",
        lambda: ledger.reverse(allocation_id, APPROVER, "undo"),
        "You made this request",
    )


def test_the_refusal_names_the_partner_without_its_control_characters(
    db: Database, ledger: Ledger
) -> None:
    add_partner(db, "P9", "Acme\u202e\u200b Ltd", members=["U1", "U2"])
    add_payment(db, "PAY-9", "P9", 10000, "USD")
    add_invoice(db, "INV-9", "P9", 10000, "USD")
    allocation_id = ledger.request_allocation("U1", "PAY-9", "INV-9", "1.00").allocation_id
    refused(
        db,
        NotAllowed,
        "allocation",
        lambda: ledger.approve(allocation_id, MEMBER_APPROVER),
        "You are a member of Acme Ltd, so you cannot approve its requests",
    )


# ------------------------------------------------- notes and reasons a person can read

INVISIBLE_REASONS = {
    "NUL": "\x00",
    "NULs": "\x00\x00\x00",
    "ZWSP": "\u200b",
    "BOM": "\ufeff",
    "ZWJ": "\u200d",
    "word joiner and spaces": " \u2060 \u2060 ",
    "bidi overrides": "\u202e\u202d\u2066",
    "line separators": "\u2028\u2029",
    "private use": "\ue000\uf8ff",
    "lone surrogate": "\ud800",
    "hangul fillers": "\u3164\u115f",
    "braille blank": "\u2800",
    "controls": "\x01\x1b\x7f\x9b\t",
    "soft hyphen": "\u00ad",
}


@pytest.mark.parametrize("reason", list(INVISIBLE_REASONS.values()), ids=list(INVISIBLE_REASONS))
def test_a_rejection_reason_with_nothing_readable_is_refused(
    books: Database, ledger: Ledger, reason: str
) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    refused(
        books,
        InvalidInput,
        "reason",
        lambda: ledger.reject(allocation_id, APPROVER, reason),
        "Say why",
    )


@pytest.mark.parametrize("reason", ["\x00", "\u200b", "\ufeff"], ids=["NUL", "ZWSP", "BOM"])
def test_an_invisible_reason_is_told_apart_from_an_empty_one(
    books: Database, ledger: Ledger, reason: str
) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    refused(
        books,
        InvalidInput,
        "reason",
        lambda: ledger.reject(allocation_id, APPROVER, reason),
        "The reason has only invisible or control characters, so the requester would read"
        " nothing. Say why, so the requester knows what to fix.",
    )


@pytest.mark.parametrize("reason", ["\x00", "\u200b", "\ufeff"], ids=["NUL", "ZWSP", "BOM"])
def test_a_reversal_reason_with_nothing_readable_is_refused(
    books: Database, ledger: Ledger, reason: str
) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    ledger.approve(allocation_id, APPROVER)
    refused(
        books,
        InvalidInput,
        "reason",
        lambda: ledger.reverse(allocation_id, OTHER_APPROVER, reason),
        "only invisible or control characters",
    )


def test_a_reason_is_stored_without_its_invisible_characters(
    books: Database, ledger: Ledger
) -> None:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    rejected = ledger.reject(
        allocation_id, APPROVER, "\ufeff Wrong\x00 invoice\u200b,\r\nuse INV-2 \u2028thanks "
    )
    assert rejected.reason == "Wrong invoice,\nuse INV-2\nthanks"


def test_a_note_keeps_its_text_and_loses_nul_bytes(books: Database, ledger: Ledger) -> None:
    scotland = "🏴\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    family, persian = "👩\u200d👩\u200d👧", "می\u200cخواهم"
    note = f"Per our call\x00\x00 on Tuesday\u200b\nSee {family} and {persian} {scotland}"
    requested = ledger.request_allocation("U1", "PAY-1", "INV-1", "1.00", note=note)
    stored = ledger.allocation(requested.allocation_id).note
    assert stored == (f"Per our call on Tuesday\nSee {family} and {persian} {scotland}")


@pytest.mark.parametrize("note", ["\x00", "\u200b\ufeff", " \u2060\n\t"])
def test_a_note_with_nothing_readable_is_no_note(
    books: Database, ledger: Ledger, note: str
) -> None:
    requested = ledger.request_allocation("U1", "PAY-1", "INV-1", "1.00", note=note)
    assert ledger.allocation(requested.allocation_id).note is None
