"""The allocation lifecycle through the Ledger: reserve, approve, reject, cancel, reverse, read."""

from __future__ import annotations

import datetime as dt
import io

import pytest
from sqlalchemy import select, update

from models.enums import Audience, OutboxKind
from models.schemas import Actor, InvoiceSummary
from models.tables import Allocation, AuditEvent, JournalEntry, JournalLine, OutboxMessage
from slackbot.db import Database
from slackbot.erp.imports import import_csv
from slackbot.errors import NotFound
from slackbot.ledger import Ledger
from slackbot.ledger.books import books_summary, check_books
from slackbot.outbox.owed import owe_refreshes_beside
from tests.support.factories import (
    add_invoice,
    add_partner,
    add_payment,
    allocation_row,
    audit_of,
    invoice_row,
    journal_of,
    outbox_of,
    payment_row,
    snapshot,
)

APPROVER = Actor(user_id="B1", can_approve=True)
OTHER_APPROVER = Actor(user_id="B2", can_approve=True)


@pytest.fixture
def books(db: Database) -> Database:
    """Acme (U1, U2) with PAY-1 of 1,000.00 USD and invoices of 500.00 and 300.00 USD."""
    add_partner(db, "P1", "Acme", members=["U1", "U2"])
    add_payment(db, "PAY-1", "P1", 100000, "USD", reference="for INV-2")
    add_invoice(db, "INV-1", "P1", 50000, "USD")
    add_invoice(db, "INV-2", "P1", 30000, "USD")
    return db


def assert_balances(
    db: Database,
    *,
    payment: tuple[str, int, int],
    invoice: tuple[str, int, int],
) -> None:
    """payment = (id, allocated, pending); invoice = (id, amount_due, pending)."""
    pay = payment_row(db, payment[0])
    assert (pay.allocated, pay.pending) == payment[1:]
    inv = invoice_row(db, invoice[0])
    assert (inv.amount_due, inv.pending) == invoice[1:]


def journal_count(db: Database) -> tuple[int, int]:
    with db.transaction() as session:
        entries = len(session.scalars(select(JournalEntry.entry_id)).all())
        lines = len(session.scalars(select(JournalLine.line_id)).all())
    return entries, lines


# ------------------------------------------------------------------ requests


def test_request_reserves_amount_on_payment_and_invoice(books: Database, ledger: Ledger) -> None:
    summary = ledger.request_allocation("U1", "PAY-1", "INV-1", "200.00", note=" partial ")

    assert summary.status == "pending"
    assert summary.amount == 20000
    assert summary.note == "partial"
    assert summary.partner_name == "Acme"
    assert (summary.payment_unallocated, summary.payment_pending) == (80000, 20000)
    assert (summary.invoice_amount_due, summary.invoice_pending) == (50000, 20000)
    assert_balances(books, payment=("PAY-1", 0, 20000), invoice=("INV-1", 50000, 20000))
    assert payment_row(books, "PAY-1").unallocated == 80000
    assert invoice_row(books, "INV-1").open_amount == 30000
    row = allocation_row(books, summary.allocation_id)
    assert (row.status, row.requested_by, row.decided_at) == ("pending", "U1", None)
    assert journal_of(books, summary.allocation_id) == []
    assert journal_count(books) == (0, 0)
    assert check_books(books) == []


def test_request_accepts_integer_minor_units(books: Database, ledger: Ledger) -> None:
    summary = ledger.request_allocation("U1", "PAY-1", "INV-1", 12345)

    assert summary.amount == 12345
    assert_balances(books, payment=("PAY-1", 0, 12345), invoice=("INV-1", 50000, 12345))
    assert check_books(books) == []


def test_approve_posts_one_balanced_entry_to_cash_and_receivable(
    books: Database, ledger: Ledger
) -> None:
    requested = ledger.request_allocation("U1", "PAY-1", "INV-1", "500.00")

    approved = ledger.approve(requested.allocation_id, APPROVER)

    assert approved.status == "approved"
    assert approved.decided_by == "B1"
    assert approved.decided_at is not None and approved.decided_at.tzinfo is not None
    assert (approved.payment_unallocated, approved.payment_pending) == (50000, 0)
    assert (approved.invoice_amount_due, approved.invoice_pending) == (0, 0)
    assert_balances(books, payment=("PAY-1", 50000, 0), invoice=("INV-1", 0, 0))
    assert journal_of(books, requested.allocation_id) == [
        ("allocation", "unapplied_cash:P1", 50000, 0, "USD"),
        ("allocation", "receivable:P1:INV-1", 0, 50000, "USD"),
    ]
    assert journal_count(books) == (1, 2)
    with books.transaction() as session:
        entry = session.scalars(select(JournalEntry)).one()
        assert (entry.kind, entry.posted_by) == ("allocation", "B1")
    assert check_books(books) == []


def test_partial_allocation_leaves_the_rest_open(books: Database, ledger: Ledger) -> None:
    first = ledger.request_allocation("U1", "PAY-1", "INV-1", "120.50")
    ledger.approve(first.allocation_id, APPROVER)

    assert_balances(books, payment=("PAY-1", 12050, 0), invoice=("INV-1", 37950, 0))
    assert payment_row(books, "PAY-1").unallocated == 87950
    assert [i.invoice_id for i in ledger.search_open_invoices("U1", "PAY-1")] == [
        "INV-2",
        "INV-1",
    ]

    second = ledger.request_allocation("U2", "PAY-1", "INV-1", "379.50")
    ledger.approve(second.allocation_id, OTHER_APPROVER)

    assert_balances(books, payment=("PAY-1", 50000, 0), invoice=("INV-1", 0, 0))
    assert journal_count(books) == (2, 4)
    assert [i.invoice_id for i in ledger.search_open_invoices("U1", "PAY-1")] == ["INV-2"]
    assert check_books(books) == []


def test_reject_releases_the_reservation_and_stores_the_reason(
    books: Database, ledger: Ledger
) -> None:
    requested = ledger.request_allocation("U1", "PAY-1", "INV-1", "300.00")

    rejected = ledger.reject(requested.allocation_id, APPROVER, "  Wrong invoice, use INV-2  ")

    assert rejected.status == "rejected"
    assert rejected.reason == "Wrong invoice, use INV-2"
    assert (rejected.payment_unallocated, rejected.invoice_pending) == (100000, 0)
    assert_balances(books, payment=("PAY-1", 0, 0), invoice=("INV-1", 50000, 0))
    row = allocation_row(books, requested.allocation_id)
    assert (row.status, row.decided_by, row.reason) == (
        "rejected",
        "B1",
        "Wrong invoice, use INV-2",
    )
    assert row.decided_at is not None
    assert journal_count(books) == (0, 0)
    assert check_books(books) == []


def test_cancel_by_the_requester_releases_the_reservation(books: Database, ledger: Ledger) -> None:
    requested = ledger.request_allocation("U1", "PAY-1", "INV-2", "300.00")
    assert invoice_row(books, "INV-2").open_amount == 0

    cancelled = ledger.cancel(requested.allocation_id, "U1")

    assert cancelled.status == "cancelled"
    assert cancelled.decided_by == "U1"
    assert_balances(books, payment=("PAY-1", 0, 0), invoice=("INV-2", 30000, 0))
    assert invoice_row(books, "INV-2").open_amount == 30000
    assert journal_count(books) == (0, 0)
    assert check_books(books) == []


def test_reverse_posts_a_compensating_entry_and_restores_balances(
    books: Database, ledger: Ledger
) -> None:
    requested = ledger.request_allocation("U1", "PAY-1", "INV-1", "400.00")
    ledger.approve(requested.allocation_id, APPROVER)
    with books.transaction() as session:
        original_entry = session.execute(select(JournalEntry.__table__)).one()
        original_lines = session.execute(select(JournalLine.__table__)).all()

    reversed_ = ledger.reverse(requested.allocation_id, OTHER_APPROVER, " paid twice ")

    assert reversed_.status == "reversed"
    assert (reversed_.reversed_by, reversed_.reversal_reason) == ("B2", "paid twice")
    # The approval is still on record: who approved and when does not change.
    assert reversed_.decided_by == "B1"
    assert_balances(books, payment=("PAY-1", 0, 0), invoice=("INV-1", 50000, 0))
    assert journal_of(books, requested.allocation_id) == [
        ("allocation", "unapplied_cash:P1", 40000, 0, "USD"),
        ("allocation", "receivable:P1:INV-1", 0, 40000, "USD"),
        ("reversal", "receivable:P1:INV-1", 40000, 0, "USD"),
        ("reversal", "unapplied_cash:P1", 0, 40000, "USD"),
    ]
    with books.transaction() as session:
        entries = session.execute(
            select(JournalEntry.__table__).order_by(JournalEntry.entry_id)
        ).all()
        lines = session.execute(
            select(JournalLine.__table__).where(JournalLine.entry_id == original_entry.entry_id)
        ).all()
    assert entries[0] == original_entry
    assert lines == original_lines
    assert (entries[1].kind, entries[1].posted_by) == ("reversal", "B2")
    assert check_books(books) == []

    # The money is free again: the same payment can pay the same invoice anew.
    again = ledger.request_allocation("U1", "PAY-1", "INV-1", "500.00")
    ledger.approve(again.allocation_id, APPROVER)
    assert_balances(books, payment=("PAY-1", 50000, 0), invoice=("INV-1", 0, 0))
    assert check_books(books) == []


def test_imported_amount_due_below_amount_limits_what_can_be_applied(
    db: Database, ledger: Ledger
) -> None:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100000, "USD")
    add_invoice(db, "INV-1", "P1", 50000, "USD", amount_due=20000)

    requested = ledger.request_allocation("U1", "PAY-1", "INV-1", "200.00")
    ledger.approve(requested.allocation_id, APPROVER)

    assert_balances(db, payment=("PAY-1", 20000, 0), invoice=("INV-1", 0, 0))
    assert invoice_row(db, "INV-1").amount == 50000
    assert check_books(db) == []


# ----------------------------------------------------- outbox and audit trail


def test_each_change_owes_its_messages(books: Database, ledger: Ledger) -> None:
    a = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    b = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    c = ledger.request_allocation("U1", "PAY-1", "INV-2", "100.00").allocation_id
    ledger.approve(a, APPROVER)
    ledger.reverse(a, APPROVER, "duplicate")
    ledger.reject(b, APPROVER, "no")
    ledger.cancel(c, "U1")

    # One DM per decision: the receipt (owed with the request) is edited to tell the outcome;
    # the sender posts a new DM only when there is no receipt to edit.
    requested = [
        ("allocation_requested", Audience.BILLING),
        ("allocation_requested", Audience.REQUESTER),
    ]
    assert outbox_of(books, a) == [
        *requested,
        ("allocation_approved", Audience.BILLING),
        ("allocation_approved", Audience.RECEIPT),
        ("allocation_reversed", Audience.BILLING),
        ("allocation_reversed", Audience.RECEIPT),
    ]
    assert outbox_of(books, b) == [
        *requested,
        ("allocation_rejected", Audience.BILLING),
        ("allocation_rejected", Audience.RECEIPT),
    ]
    assert outbox_of(books, c) == [
        *requested,
        ("allocation_cancelled", Audience.BILLING),
        ("allocation_cancelled", Audience.RECEIPT),
    ]
    with books.transaction() as session:
        messages = session.scalars(select(OutboxMessage)).all()
        assert {m.payload["requested_by"] for m in messages} == {"U1"}
        assert all(m.sent_at is None and m.attempts == 0 for m in messages)
    assert check_books(books) == []


def _all_sent(db: Database) -> None:
    """As if the senders had delivered everything owed so far."""
    with db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
            .values(sent_at=dt.datetime.now(dt.UTC), claimed_by=None)
        )


def _claim_unsent(db: Database, allocation_id: int) -> None:
    """As if a sender had leased the allocation's unsent rows and were calling Slack now."""
    with db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.allocation_id == allocation_id, OutboxMessage.sent_at.is_(None))
            .values(claimed_by="sender-1", claimed_until=dt.datetime.now(dt.UTC))
        )


def unsent_of(db: Database, allocation_id: int) -> list[tuple[str, str]]:
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.kind, OutboxMessage.recipient)
            .where(OutboxMessage.allocation_id == allocation_id, OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.message_id)
        ).all()
    return [(r.kind, r.recipient) for r in rows]


REFRESH = (OutboxKind.BALANCES_CHANGED, Audience.BILLING)


def _beside(db: Database, allocation_id: int) -> int:
    """What the sender does once the allocation's own billing message went out."""
    with db.transaction() as session:
        return owe_refreshes_beside(session, allocation_id, dt.datetime.now(dt.UTC))


def test_edits_are_owed_to_pending_requests_sharing_the_payment_or_invoice(
    books: Database, ledger: Ledger
) -> None:
    add_payment(books, "PAY-2", "P1", 5000, "USD")
    a = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    _all_sent(books)
    # The change itself owes only its own messages: the edits beside it are the sender's work,
    # off the person's click.
    b = ledger.request_allocation("U1", "PAY-1", "INV-2", "100.00").allocation_id
    c = ledger.request_allocation("U1", "PAY-2", "INV-1", "50.00").allocation_id
    assert unsent_of(books, a) == []
    _all_sent(books)

    # c shares INV-1 with a, and nothing with b.
    assert _beside(books, c) == 1
    assert unsent_of(books, a) == [REFRESH]
    assert unsent_of(books, b) == []

    # b shares PAY-1 with a, whose edit is queued and will show b's change too.
    assert _beside(books, b) == 0
    assert unsent_of(books, a) == [REFRESH]

    # The edit is in flight (it may have rendered the old figures), so another one follows it.
    _claim_unsent(books, a)
    assert _beside(books, b) == 1
    assert unsent_of(books, a) == [REFRESH, REFRESH]

    # Deciding a turns its queued (unclaimed) edit into the decision's own billing message.
    ledger.approve(a, APPROVER)
    assert unsent_of(books, a) == [
        REFRESH,
        ("allocation_approved", Audience.BILLING),
        ("allocation_approved", Audience.RECEIPT),
    ]
    _all_sent(books)

    # Decided requests are never edited for balances; only pending ones are.
    assert _beside(books, c) == 0  # a, decided, is c's only neighbour
    assert _beside(books, a) == 2
    assert unsent_of(books, b) == [REFRESH]
    assert unsent_of(books, c) == [REFRESH]
    assert check_books(books) == []


def _import(db: Database, kind: str, text: str) -> None:
    import_csv(db, kind, io.BytesIO(text.encode()))


def test_an_import_that_changes_what_a_pending_request_shows_owes_its_edit(
    books: Database, ledger: Ledger
) -> None:
    pending = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    decided = ledger.request_allocation("U1", "PAY-1", "INV-2", "50.00").allocation_id
    ledger.approve(decided, APPROVER)
    _all_sent(books)

    # The same figures again change nothing, so nothing is owed.
    _import(
        books,
        "payments",
        "payment_id,partner_id,amount,currency,received_on,reference\n"
        "PAY-1,P1,1000.00,USD,2026-11-01,for INV-2\n",
    )
    _import(
        books,
        "invoices",
        "invoice_id,partner_id,amount,currency,issued_on,due_on\n"
        "INV-1,P1,500.00,USD,2026-10-01,2026-12-01\n",
    )
    assert unsent_of(books, pending) == []

    # The ERP lowers what is due on INV-2 (only the decided request is on it): nothing owed.
    _import(
        books,
        "invoices",
        "invoice_id,partner_id,amount,currency,issued_on,due_on,amount_due\n"
        "INV-2,P1,300.00,USD,2026-10-01,2026-12-01,250.00\n",
    )
    assert unsent_of(books, pending) == []
    # ...then on INV-1, which the pending request is on.
    _import(
        books,
        "invoices",
        "invoice_id,partner_id,amount,currency,issued_on,due_on,amount_due\n"
        "INV-1,P1,500.00,USD,2026-10-01,2026-12-01,450.00\n",
    )
    assert unsent_of(books, pending) == [REFRESH]
    _all_sent(books)
    # A bigger payment, and a renamed partner, show on the message too.
    _import(
        books,
        "payments",
        "payment_id,partner_id,amount,currency,received_on,reference\n"
        "PAY-1,P1,1200.00,USD,2026-11-01,for INV-2\n",
    )
    assert unsent_of(books, pending) == [REFRESH]
    _all_sent(books)
    _import(books, "partners", "partner_id,name\nP1,Acme Holdings\n")
    assert unsent_of(books, pending) == [REFRESH]
    assert unsent_of(books, decided) == []
    assert ledger.allocation(pending).partner_name == "Acme Holdings"


def test_each_change_is_audited_with_actor_and_amount(books: Database, ledger: Ledger) -> None:
    a = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    b = ledger.request_allocation("U2", "PAY-1", "INV-1", "50.00").allocation_id
    c = ledger.request_allocation("U1", "PAY-1", "INV-2", "25.00").allocation_id
    ledger.approve(a, APPROVER)
    ledger.reverse(a, OTHER_APPROVER, "duplicate")
    ledger.reject(b, APPROVER, "wrong invoice")
    ledger.cancel(c, "U1")

    assert audit_of(books, a) == [
        ("allocation.requested", "U1"),
        ("allocation.approved", "B1"),
        ("allocation.reversed", "B2"),
    ]
    assert audit_of(books, b) == [("allocation.requested", "U2"), ("allocation.rejected", "B1")]
    assert audit_of(books, c) == [("allocation.requested", "U1"), ("allocation.cancelled", "U1")]
    with books.transaction() as session:
        details = {
            (e.subject, e.action): e.detail for e in session.scalars(select(AuditEvent)).all()
        }
    assert details[(f"allocation:{a}", "allocation.requested")] == {
        "payment_id": "PAY-1",
        "invoice_id": "INV-1",
        "amount": 10000,
        "currency": "USD",
    }
    assert details[(f"allocation:{b}", "allocation.rejected")]["reason"] == "wrong invoice"
    assert details[(f"allocation:{a}", "allocation.reversed")]["reason"] == "duplicate"


def test_a_failure_to_record_the_outbox_undoes_the_whole_approval(
    books: Database, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    requested = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00")
    before = snapshot(books)

    def broken_outbox(*_args: object) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(ledger, "_owe", broken_outbox)
    with pytest.raises(RuntimeError):
        ledger.approve(requested.allocation_id, APPROVER)

    assert snapshot(books) == before
    assert allocation_row(books, requested.allocation_id).status == "pending"
    assert check_books(books) == []


def test_a_failure_to_record_the_outbox_undoes_the_request(
    books: Database, ledger: Ledger, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = snapshot(books)

    def broken_outbox(*_args: object) -> None:
        raise RuntimeError("outbox unavailable")

    monkeypatch.setattr(ledger, "_owe", broken_outbox)
    with pytest.raises(RuntimeError):
        ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00")

    assert snapshot(books) == before


# --------------------------------------------------------------- idempotency


def test_same_request_key_returns_the_first_request_and_reserves_once(
    books: Database, ledger: Ledger
) -> None:
    first = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00", request_key="view-1")
    again = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00", request_key="view-1")

    assert first.replayed is False
    assert again.replayed is True
    assert again.allocation_id == first.allocation_id
    assert_balances(books, payment=("PAY-1", 0, 10000), invoice=("INV-1", 50000, 10000))
    assert len(outbox_of(books, first.allocation_id)) == 2
    assert len(audit_of(books, first.allocation_id)) == 1
    with books.transaction() as session:
        assert len(session.scalars(select(Allocation)).all()) == 1
    assert check_books(books) == []


def test_replayed_request_key_reports_the_current_state_after_approval(
    books: Database, ledger: Ledger
) -> None:
    first = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00", request_key="view-2")
    ledger.approve(first.allocation_id, APPROVER)

    again = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00", request_key="view-2")

    assert (again.allocation_id, again.status, again.replayed) == (
        first.allocation_id,
        "approved",
        True,
    )
    assert_balances(books, payment=("PAY-1", 10000, 0), invoice=("INV-1", 40000, 0))
    assert check_books(books) == []


def test_different_request_keys_are_different_requests(books: Database, ledger: Ledger) -> None:
    a = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00", request_key="k-a")
    b = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00", request_key="k-b")

    assert a.allocation_id != b.allocation_id
    assert_balances(books, payment=("PAY-1", 0, 20000), invoice=("INV-1", 50000, 20000))
    assert check_books(books) == []


# ------------------------------------------------------------------- reading


def test_payments_of_lists_only_the_members_partners_payments(db: Database, ledger: Ledger) -> None:
    add_partner(db, "P2", "Beta", members=["U1", "U9"])
    add_partner(db, "P1", "Acme", members=["U1"])
    add_partner(db, "P3", "Gamma", members=["U3"])
    add_payment(db, "PAY-B1", "P2", 1000, "USD", received_on=dt.date(2026, 1, 2))
    add_payment(db, "PAY-A2", "P1", 2000, "EUR", received_on=dt.date(2026, 3, 1))
    add_payment(db, "PAY-A1", "P1", 3000, "USD", received_on=dt.date(2026, 2, 1))
    add_payment(db, "PAY-G1", "P3", 4000, "USD")
    add_payment(db, "PAY-A0", "P1", 500, "JPY", received_on=dt.date(2026, 2, 1))

    both = ledger.payments_of("U1")
    only_beta = ledger.payments_of("U9")

    # Partner by name, then oldest first, then id.
    assert [(p.partner_name, p.payment_id) for p in both] == [
        ("Acme", "PAY-A0"),
        ("Acme", "PAY-A1"),
        ("Acme", "PAY-A2"),
        ("Beta", "PAY-B1"),
    ]
    assert [p.payment_id for p in only_beta] == ["PAY-B1"]
    assert ledger.payments_of("U3")[0].unallocated == 4000
    assert ledger.payments_of("nobody") == []
    assert [p.partner_id for p in ledger.partners_of("U1")] == ["P1", "P2"]


def test_payments_of_hides_spent_payments_and_only_allocatable_hides_fully_reserved(
    db: Database, ledger: Ledger
) -> None:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-SPENT", "P1", 10000, "USD")
    add_payment(db, "PAY-HELD", "P1", 10000, "USD")
    add_payment(db, "PAY-OPEN", "P1", 10000, "USD")
    add_invoice(db, "INV-1", "P1", 100000, "USD")
    spent = ledger.request_allocation("U1", "PAY-SPENT", "INV-1", "100.00")
    ledger.approve(spent.allocation_id, APPROVER)
    ledger.request_allocation("U1", "PAY-HELD", "INV-1", "100.00")

    listed = {p.payment_id: p for p in ledger.payments_of("U1")}
    allocatable = [p.payment_id for p in ledger.payments_of("U1", only_allocatable=True)]

    assert sorted(listed) == ["PAY-HELD", "PAY-OPEN"]
    assert (listed["PAY-HELD"].pending, listed["PAY-HELD"].unallocated) == (10000, 0)
    assert allocatable == ["PAY-OPEN"]
    assert check_books(db) == []


@pytest.fixture
def invoices(db: Database) -> Database:
    """PAY-1 (600.00 USD, reference mentions inv-mention) and a spread of invoices."""
    add_partner(db, "P1", "Acme", members=["U1"])
    add_partner(db, "P2", "Beta", members=["U2"])
    add_payment(db, "PAY-1", "P1", 60000, "USD", reference="Remittance for INV-MENTION thanks")
    add_invoice(db, "INV-LATE", "P1", 10000, "USD", due_on=dt.date(2027, 6, 1))
    add_invoice(db, "INV-EARLY", "P1", 20000, "USD", due_on=dt.date(2026, 1, 1))
    add_invoice(db, "INV-MENTION", "P1", 30000, "USD", due_on=dt.date(2027, 1, 1))
    add_invoice(db, "INV-EXACT", "P1", 90000, "USD", amount_due=60000, due_on=dt.date(2028, 1, 1))
    add_invoice(db, "INV-PAID", "P1", 10000, "USD", amount_due=0)
    add_invoice(db, "INV-EUR", "P1", 10000, "EUR")
    add_invoice(db, "INV-BETA", "P2", 10000, "USD")
    add_invoice(db, "A%B_C", "P1", 5000, "USD", due_on=dt.date(2029, 1, 1))
    add_invoice(db, "AXBYC", "P1", 5000, "USD", due_on=dt.date(2029, 1, 2))
    return db


def ids(found: list[InvoiceSummary]) -> list[str]:
    return [invoice.invoice_id for invoice in found]


def test_search_offers_same_partner_and_currency_open_invoices_best_first(
    invoices: Database, ledger: Ledger
) -> None:
    found = ledger.search_open_invoices("U1", "PAY-1")

    # Exact open amount first, then the one the reference mentions, then by due date.
    assert ids(found) == [
        "INV-EXACT",
        "INV-MENTION",
        "INV-EARLY",
        "INV-LATE",
        "A%B_C",
        "AXBYC",
    ]
    exact = found[0]
    assert (exact.amount, exact.amount_due, exact.open_amount) == (90000, 60000, 60000)


def test_search_leaves_out_invoices_fully_held_by_pending_requests(
    invoices: Database, ledger: Ledger
) -> None:
    ledger.request_allocation("U1", "PAY-1", "INV-LATE", "100.00")
    ledger.request_allocation("U1", "PAY-1", "INV-EARLY", "50.00")

    found = {i.invoice_id: i for i in ledger.search_open_invoices("U1", "PAY-1")}

    assert "INV-LATE" not in found
    assert (found["INV-EARLY"].pending, found["INV-EARLY"].open_amount) == (5000, 15000)
    assert check_books(invoices) == []


def test_search_ranks_exact_amount_by_what_the_payment_has_left(
    invoices: Database, ledger: Ledger
) -> None:
    # 600.00 - 400.00 reserved leaves 200.00: now INV-EARLY's open amount, and INV-EXACT's
    # (900.00 with 600.00 due, 400.00 of it held); equal matches go by due date.
    ledger.request_allocation("U1", "PAY-1", "INV-EXACT", "400.00")

    assert ids(ledger.search_open_invoices("U1", "PAY-1"))[:3] == [
        "INV-EARLY",
        "INV-EXACT",
        "INV-MENTION",
    ]


def test_search_query_narrows_by_id_substring_in_any_case(
    invoices: Database, ledger: Ledger
) -> None:
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "  ear ")) == ["INV-EARLY"]
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "inv-m")) == ["INV-MENTION"]
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "beta")) == []
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "paid")) == []


def test_search_query_matches_a_typed_amount(invoices: Database, ledger: Ledger) -> None:
    # 300 is INV-MENTION's open amount; 900.00 is INV-EXACT's invoice amount.
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "300")) == ["INV-MENTION"]
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "900.00")) == ["INV-EXACT"]


def test_search_query_treats_like_wildcards_literally(invoices: Database, ledger: Ledger) -> None:
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "a%b")) == ["A%B_C"]
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "b_c")) == ["A%B_C"]
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "%")) == ["A%B_C"]
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "_")) == ["A%B_C"]
    assert ids(ledger.search_open_invoices("U1", "PAY-1", "\\")) == []


def test_search_pages_with_limit_and_offset(invoices: Database, ledger: Ledger) -> None:
    everything = ids(ledger.search_open_invoices("U1", "PAY-1"))

    pages = [
        ids(ledger.search_open_invoices("U1", "PAY-1", limit=2, offset=offset))
        for offset in (0, 2, 4, 6)
    ]

    assert pages == [everything[0:2], everything[2:4], everything[4:6], []]


def test_search_for_another_partners_payment_is_refused(invoices: Database, ledger: Ledger) -> None:
    with pytest.raises(NotFound) as refused:
        ledger.search_open_invoices("U2", "PAY-1")
    assert refused.value.field == "payment"


def test_history_lists_the_persons_requests_newest_first(books: Database, ledger: Ledger) -> None:
    a = ledger.request_allocation("U1", "PAY-1", "INV-1", "10.00").allocation_id
    ledger.request_allocation("U2", "PAY-1", "INV-1", "20.00")
    c = ledger.request_allocation("U1", "PAY-1", "INV-2", "30.00").allocation_id
    ledger.approve(a, APPROVER)

    history = ledger.history("U1")

    assert [(h.allocation_id, h.status, h.amount) for h in history] == [
        (c, "pending", 3000),
        (a, "approved", 1000),
    ]
    assert [h.allocation_id for h in ledger.history("U1", limit=1)] == [c]
    assert ledger.history("B1") == []


def test_books_summary_counts_allocations_entries_and_totals(
    books: Database, ledger: Ledger
) -> None:
    a = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    b = ledger.request_allocation("U1", "PAY-1", "INV-1", "50.00").allocation_id
    ledger.request_allocation("U1", "PAY-1", "INV-2", "25.00")
    ledger.approve(a, APPROVER)
    ledger.approve(b, APPROVER)
    ledger.reverse(b, APPROVER, "oops")

    summary = books_summary(books)

    assert summary.allocations_by_status == {"approved": 1, "pending": 1, "reversed": 1}
    assert summary.allocations == 3
    assert (summary.payments, summary.invoices) == (1, 2)
    assert (summary.journal_entries, summary.journal_lines) == (3, 6)
    assert summary.debits_by_currency == {"USD": 20000}
    assert summary.credits_by_currency == {"USD": 20000}
    assert summary.balanced
