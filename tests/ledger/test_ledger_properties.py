"""Randomized simulation of the ledger against a pure-Python model, and the books audit's teeth.

Hypothesis generates sequences of imports, requests and decisions by members, strangers and
approvers. After every step the books must audit clean (``check_books``) and every stored balance
must equal the model's; every refusal must be the one the model predicts.
"""

from __future__ import annotations

import datetime as dt
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import insert, select, text, update
from sqlalchemy.exc import IntegrityError

from models.schemas import Actor
from models.tables import Allocation, Invoice, JournalEntry, JournalLine, Partner, Payment
from slackbot.db import Database
from slackbot.errors import (
    AlreadyDecided,
    DomainError,
    InsufficientFunds,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from slackbot.ledger import Ledger, has_readable_text, readable_text
from slackbot.ledger.books import books_summary, check_books
from slackbot.migrate import upgrade
from tests.conftest import FixedClock, wipe
from tests.ledger.journal_guards import unguarded_sql
from tests.support.factories import add_invoice, add_partner, add_payment

MEMBERS = {"P1": {"U1", "U2", "A1"}, "P2": {"U1", "U3"}}
APPROVERS = {"A1", "A2"}
USERS = ["U1", "U2", "U3", "A1", "A2", "X9"]
# Fixed homes, so a re-import changes amounts only (the import keys on the id).
PAYMENT_HOMES = {
    "PAY-1": ("P1", "USD"),
    "PAY-2": ("P1", "USD"),
    "PAY-3": ("P1", "JPY"),
    "PAY-4": ("P2", "USD"),
}
INVOICE_HOMES = {
    "INV-1": ("P1", "USD"),
    "INV-2": ("P1", "USD"),
    "INV-3": ("P1", "JPY"),
    "INV-4": ("P2", "USD"),
    "INV-5": ("P1", "EUR"),
    # More of P1's USD invoices, so requests of several lines have somewhere to go.
    "INV-6": ("P1", "USD"),
    "INV-7": ("P1", "USD"),
}
REQUEST_KEYS = [None, None, None, "key-1", "key-2"]


# --------------------------------------------------------------------- model


@dataclass
class PaymentModel:
    partner: str
    currency: str
    amount: int
    allocated: int = 0
    pending: int = 0


@dataclass
class InvoiceModel:
    partner: str
    currency: str
    amount: int
    opening_due: int
    applied: int = 0
    pending: int = 0

    @property
    def amount_due(self) -> int:
        return self.opening_due - self.applied


@dataclass
class AllocationModel:
    payment: str
    invoice: str
    amount: int
    requested_by: str
    status: str = "pending"
    # The request this line belongs to (its first line's id); decisions move all its lines.
    request: int = 0


@dataclass
class Model:
    payments: dict[str, PaymentModel] = field(default_factory=dict)
    invoices: dict[str, InvoiceModel] = field(default_factory=dict)
    allocations: dict[int, AllocationModel] = field(default_factory=dict)
    keys: dict[str, int] = field(default_factory=dict)

    def expected_request(
        self, user: str, payment_id: str, invoice_id: str, amount: int, key: str | None
    ) -> tuple[type[DomainError], str] | int | None:
        """The refusal (type, field), the replayed allocation id, or None for a new request."""
        payment = self.payments.get(payment_id)
        if payment is None or user not in MEMBERS[payment.partner]:
            return NotFound, "payment"
        if key is not None and key in self.keys:
            return self.keys[key]
        if amount <= 0:
            return InvalidInput, "amount"
        invoice = self.invoices.get(invoice_id)
        if invoice is None or invoice.partner != payment.partner:
            return NotFound, "invoice"
        if invoice.currency != payment.currency:
            return InvalidInput, "invoice"
        if invoice.amount_due <= 0 or invoice.amount_due - invoice.pending <= 0:
            return InvalidInput, "invoice"
        if amount > payment.amount - payment.allocated - payment.pending:
            return InsufficientFunds, "amount"
        if amount > invoice.amount_due - invoice.pending:
            return InsufficientFunds, "amount"
        return None

    def expected_lines(
        self, user: str, payment_id: str, lines: list[tuple[str, int]], key: str | None
    ) -> tuple[type[DomainError], str] | int | None:
        """``expected_request`` for a request of several lines: the first line at fault."""
        payment = self.payments.get(payment_id)
        if payment is None or user not in MEMBERS[payment.partner]:
            return NotFound, "payment"
        if key is not None and key in self.keys:
            return self.keys[key]
        left = payment.amount - payment.allocated - payment.pending
        total = 0
        seen: set[str] = set()
        for line_no, (invoice_id, amount) in enumerate(lines, start=1):
            suffix = "" if line_no == 1 else f"_{line_no}"
            if amount <= 0:
                return InvalidInput, "amount" + suffix
            if invoice_id in seen:
                return InvalidInput, "invoice" + suffix
            seen.add(invoice_id)
            invoice = self.invoices.get(invoice_id)
            if invoice is None or invoice.partner != payment.partner:
                return NotFound, "invoice" + suffix
            if invoice.currency != payment.currency:
                return InvalidInput, "invoice" + suffix
            if invoice.amount_due <= 0 or invoice.amount_due - invoice.pending <= 0:
                return InvalidInput, "invoice" + suffix
            total += amount
            if total > left:
                return InsufficientFunds, "amount" + suffix
            if amount > invoice.amount_due - invoice.pending:
                return InsufficientFunds, "amount" + suffix
        return None

    def expected_decision(
        self, verb: str, user: str, allocation_id: int
    ) -> tuple[type[DomainError], str] | None:
        allocation = self.allocations.get(allocation_id)
        if verb in ("approve", "reject", "reverse") and user not in APPROVERS:
            return NotAllowed, "allocation"
        if allocation is None:
            return NotFound, "allocation"
        if verb == "cancel" and allocation.requested_by != user:
            return NotAllowed, "allocation"
        wanted = "approved" if verb == "reverse" else "pending"
        if allocation.status != wanted:
            return AlreadyDecided, "allocation"
        # Segregation of duties: neither the requester nor any member of the request's partner
        # decides it, and undoing an approval (reverse) is a decision too.
        partner = self.payments[allocation.payment].partner
        if verb in ("approve", "reject", "reverse") and (
            allocation.requested_by == user or user in MEMBERS[partner]
        ):
            return NotAllowed, "allocation"
        return None

    def apply_decision(self, verb: str, allocation_id: int) -> None:
        """The decision moves every line of the request ``allocation_id`` belongs to."""
        request = self.allocations[allocation_id].request
        for line in [a for a in self.allocations.values() if a.request == request]:
            self._apply_to_line(verb, line)

    def _apply_to_line(self, verb: str, allocation: AllocationModel) -> None:
        payment = self.payments[allocation.payment]
        invoice = self.invoices[allocation.invoice]
        amount = allocation.amount
        if verb in ("approve", "reject", "cancel"):
            payment.pending -= amount
            invoice.pending -= amount
        if verb == "approve":
            payment.allocated += amount
            invoice.applied += amount
        if verb == "reverse":
            payment.allocated -= amount
            invoice.applied -= amount
        allocation.status = {
            "approve": "approved",
            "reject": "rejected",
            "cancel": "cancelled",
            "reverse": "reversed",
        }[verb]


# ---------------------------------------------------------------- operations

# st.one_of draws its first branches more often, so each list starts with what matters most.
amounts = st.one_of(
    st.integers(min_value=1, max_value=12_000),
    st.sampled_from([1, 10_000, 25_000, 50_000, 100_000]),
    st.integers(min_value=-3, max_value=0),
)
import_payment = st.tuples(
    st.just("import_payment"),
    st.sampled_from(sorted(PAYMENT_HOMES)),
    st.integers(min_value=1, max_value=100_000),
)
import_invoice = st.tuples(
    st.just("import_invoice"),
    st.sampled_from(sorted(INVOICE_HOMES)),
    st.integers(min_value=1, max_value=80_000),
    st.integers(min_value=0, max_value=100),  # percent of the amount still due
)
# Pairs a member could rightly use; random pairs (other partner, other currency, unknown ids)
# come in too, but mostly the simulation should move money, not collect refusals.
PAYABLE = [
    ("PAY-1", "INV-1"),
    ("PAY-1", "INV-2"),
    ("PAY-2", "INV-1"),
    ("PAY-3", "INV-3"),
    ("PAY-4", "INV-4"),
]
any_pair = st.tuples(
    st.sampled_from([*sorted(PAYMENT_HOMES), "PAY-NONE"]),
    st.sampled_from([*sorted(INVOICE_HOMES), "INV-NONE"]),
)
request_by_member = st.sampled_from(PAYABLE).flatmap(
    lambda pair: st.tuples(
        st.just("request"),
        st.sampled_from(sorted(MEMBERS[PAYMENT_HOMES[pair[0]][0]])),
        st.just(pair),
        amounts,
        st.sampled_from(REQUEST_KEYS),
    )
)
request_by_anyone = st.tuples(
    st.just("request"),
    st.sampled_from(USERS),
    any_pair,
    amounts,
    st.sampled_from(REQUEST_KEYS),
)
request = st.one_of(request_by_member, request_by_member, request_by_anyone)
# Requests of 2 or 3 lines on a member's payment; invoices mostly the payment's own, and now
# and then another partner's or currency's, an unknown one, or one named twice.
MULTI_PAYABLE = {
    "PAY-1": ["INV-1", "INV-2", "INV-6", "INV-7"],
    "PAY-2": ["INV-1", "INV-6", "INV-7"],
}
line_amounts = st.one_of(
    st.integers(min_value=1, max_value=6_000),
    st.integers(min_value=1, max_value=6_000),
    st.sampled_from([1, 1_000, 10_000]),
    st.integers(min_value=-1, max_value=0),
)


def _lines_for(payment_id: str) -> st.SearchStrategy[list[tuple[str, int]]]:
    own = st.lists(
        st.sampled_from(MULTI_PAYABLE[payment_id]), min_size=2, max_size=3, unique=True
    ).flatmap(lambda ids: st.tuples(*(st.tuples(st.just(i), line_amounts) for i in ids)).map(list))
    anything = st.lists(
        st.tuples(st.sampled_from([*sorted(INVOICE_HOMES), "INV-NONE"]), line_amounts),
        min_size=2,
        max_size=3,
    )
    return st.one_of(own, own, anything)


request_lines = st.sampled_from(sorted(MULTI_PAYABLE)).flatmap(
    lambda payment_id: st.tuples(
        st.just("request_lines"),
        st.sampled_from(sorted(MEMBERS[PAYMENT_HOMES[payment_id][0]])),
        st.just(payment_id),
        _lines_for(payment_id),
        st.sampled_from(REQUEST_KEYS),
    )
)
# REQUESTER stands for whoever made the chosen allocation (the one person who may cancel it,
# and the one approver who may not decide it).
REQUESTER = "@requester"
decision = st.tuples(
    st.sampled_from(["approve", "reverse", "approve", "reject", "cancel"]),
    st.sampled_from(["A2", "A1", "A2", REQUESTER, "U2", "X9"]),
    st.integers(min_value=0, max_value=12),  # an index into the allocations made so far
)
operations = st.lists(
    st.one_of(request, decision, request_lines, decision, request, import_payment, import_invoice),
    # Hypothesis favours short lists; a sequence needs room to reserve, decide and reverse.
    min_size=8,
    max_size=20,
)
# Everything but INV-2 exists from the start; it appears only if imported.
SEED = [
    ("import_payment", "PAY-1", 60_000),
    ("import_payment", "PAY-2", 20_000),
    ("import_payment", "PAY-3", 5_000),
    ("import_payment", "PAY-4", 30_000),
    ("import_invoice", "INV-1", 40_000, 100),
    ("import_invoice", "INV-3", 8_000, 50),
    ("import_invoice", "INV-4", 20_000, 100),
    ("import_invoice", "INV-5", 10_000, 100),
    ("import_invoice", "INV-6", 30_000, 100),
    ("import_invoice", "INV-7", 15_000, 100),
]


def upsert_payment(db: Database, model: Model, payment_id: str, amount: int) -> None:
    partner, currency = PAYMENT_HOMES[payment_id]
    known = model.payments.get(payment_id)
    if known is None:
        add_payment(db, payment_id, partner, amount, currency)
        model.payments[payment_id] = PaymentModel(partner, currency, amount)
        return
    fits = amount >= known.allocated + known.pending
    try:
        with db.transaction() as session:
            session.execute(
                update(Payment).where(Payment.payment_id == payment_id).values(amount=amount)
            )
    except IntegrityError:
        assert not fits, f"re-import of {payment_id} at {amount} refused though it fits"
        return
    assert fits, f"re-import of {payment_id} at {amount} below what is spent was stored"
    known.amount = amount


def upsert_invoice(db: Database, model: Model, invoice_id: str, amount: int, percent: int) -> None:
    partner, currency = INVOICE_HOMES[invoice_id]
    due = amount * percent // 100
    known = model.invoices.get(invoice_id)
    if known is None:
        add_invoice(db, invoice_id, partner, amount, currency, amount_due=due)
        model.invoices[invoice_id] = InvoiceModel(partner, currency, amount, due)
        return
    fits = known.applied + known.pending <= due
    try:
        with db.transaction() as session:
            session.execute(
                update(Invoice)
                .where(Invoice.invoice_id == invoice_id)
                .values(amount=amount, opening_due=due)
            )
    except IntegrityError:
        assert not fits, f"re-import of {invoice_id} due {due} refused though it fits"
        return
    assert fits, f"re-import of {invoice_id} due {due} below what is applied was stored"
    known.amount, known.opening_due = amount, due


def run_step(db: Database, ledger: Ledger, model: Model, op: tuple[Any, ...]) -> None:
    kind = op[0]
    if kind == "import_payment":
        upsert_payment(db, model, op[1], op[2])
        return
    if kind == "import_invoice":
        upsert_invoice(db, model, op[1], op[2], op[3])
        return
    if kind == "request":
        _, user, (payment_id, invoice_id), amount, key = op
        expected = model.expected_request(user, payment_id, invoice_id, amount, key)
        try:
            summary = ledger.request_allocation(
                user, payment_id, invoice_id, amount, request_key=key
            )
        except DomainError as error:
            assert (type(error), error.field) == expected, (op, error.message)
            event(f"request refused: {type(error).__name__} {error.field}")
            return
        event("request replayed" if isinstance(expected, int) else "request accepted")
        if isinstance(expected, int):
            assert (summary.replayed, summary.allocation_id) == (True, expected), op
            return
        assert expected is None, (op, expected)
        assert summary.replayed is False
        assert summary.allocation_id not in model.allocations
        model.allocations[summary.allocation_id] = AllocationModel(
            payment_id, invoice_id, amount, user, request=summary.allocation_id
        )
        model.payments[payment_id].pending += amount
        model.invoices[invoice_id].pending += amount
        if key is not None:
            model.keys[key] = summary.allocation_id
        return
    if kind == "request_lines":
        run_request_lines(ledger, model, op)
        return
    verb, user, index = op
    ids = sorted(model.allocations)
    allocation_id = ids[index % len(ids)] if ids else 999_999
    if user == REQUESTER:
        chosen = model.allocations.get(allocation_id)
        user = chosen.requested_by if chosen else "U1"
    expected_refusal = model.expected_decision(verb, user, allocation_id)
    actor = Actor(user_id=user, can_approve=user in APPROVERS)
    try:
        if verb == "approve":
            ledger.approve(allocation_id, actor)
        elif verb == "reject":
            ledger.reject(allocation_id, actor, "not this one")
        elif verb == "cancel":
            ledger.cancel(allocation_id, user)
        else:
            ledger.reverse(allocation_id, actor, "posted in error")
    except DomainError as error:
        assert (type(error), error.field) == expected_refusal, (op, error.message)
        event(f"{verb} refused: {type(error).__name__}")
        return
    assert expected_refusal is None, (op, expected_refusal)
    event(f"{verb} done")
    model.apply_decision(verb, allocation_id)


def run_request_lines(ledger: Ledger, model: Model, op: tuple[Any, ...]) -> None:
    _, user, payment_id, lines, key = op
    expected = model.expected_lines(user, payment_id, lines, key)
    try:
        summary = ledger.request_lines(user, payment_id, lines, request_key=key)
    except DomainError as error:
        assert (type(error), error.field) == expected, (op, error.message)
        event(f"lines refused: {type(error).__name__} {error.field}")
        return
    if isinstance(expected, int):
        event("lines replayed")
        assert (summary.replayed, summary.allocation_id) == (True, expected), op
        return
    event("lines accepted")
    assert expected is None, (op, expected)
    assert summary.amount == sum(amount for _, amount in lines)
    assert [(line.invoice_id, line.amount) for line in summary.lines] == lines
    for line, (invoice_id, amount) in zip(summary.lines, lines, strict=True):
        assert line.allocation_id not in model.allocations
        model.allocations[line.allocation_id] = AllocationModel(
            payment_id, invoice_id, amount, user, request=summary.allocation_id
        )
        model.payments[payment_id].pending += amount
        model.invoices[invoice_id].pending += amount
    if key is not None:
        model.keys[key] = summary.allocation_id


def assert_books_match_model(db: Database, model: Model) -> None:
    assert check_books(db) == []
    with db.transaction() as session:
        payments = {
            p.payment_id: (p.amount, p.allocated, p.pending)
            for p in session.scalars(select(Payment))
        }
        invoices = {
            i.invoice_id: (i.amount, i.opening_due, i.applied, i.pending)
            for i in session.scalars(select(Invoice))
        }
        allocations = {
            a.allocation_id: (a.payment_id, a.invoice_id, a.amount, a.status)
            for a in session.scalars(select(Allocation))
        }
    assert payments == {k: (p.amount, p.allocated, p.pending) for k, p in model.payments.items()}
    assert invoices == {
        k: (i.amount, i.opening_due, i.applied, i.pending) for k, i in model.invoices.items()
    }
    assert allocations == {
        k: (a.payment, a.invoice, a.amount, a.status) for k, a in model.allocations.items()
    }
    with db.transaction() as session:
        requests = {
            row[0]: row[1]
            for row in session.execute(select(Allocation.allocation_id, Allocation.request_id))
        }
    assert requests == {k: a.request for k, a in model.allocations.items()}
    for payment in model.payments.values():
        assert payment.allocated >= 0
        assert payment.pending >= 0
        assert payment.allocated + payment.pending <= payment.amount
    for invoice in model.invoices.values():
        assert 0 <= invoice.pending <= invoice.amount_due <= invoice.amount


@settings(
    max_examples=50,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(ops=operations)
# Every path at least once, whatever the random draw: reserve, approve, reverse, reject, cancel,
# replay, a re-import below what is spent (refused) and one above it (stored).
@example(
    ops=[
        ("request", "U1", ("PAY-1", "INV-1"), 10_000, "key-1"),
        ("request", "U1", ("PAY-1", "INV-1"), 10_000, "key-1"),
        ("approve", "A2", 0),
        ("reverse", "A1", 0),
        ("request", "A1", ("PAY-1", "INV-1"), 30_000, None),
        ("approve", "A1", 1),
        ("reject", "A2", 1),
        ("request", "U2", ("PAY-2", "INV-1"), 20_000, None),
        ("import_payment", "PAY-2", 19_999),
        ("import_invoice", "INV-1", 40_000, 49),
        ("import_invoice", "INV-1", 60_000, 100),
        ("cancel", REQUESTER, 2),
        ("import_payment", "PAY-2", 1),
        ("request", "U1", ("PAY-1", "INV-2"), 1, None),
        ("import_invoice", "INV-2", 5_000, 100),
        ("request", "U1", ("PAY-1", "INV-2"), 5_000, None),
        ("approve", "A1", 3),
        # A request of three lines, approved by a click on its second line, then reversed;
        # one of two lines naming an invoice twice; one whose total goes over at line 2.
        ("request_lines", "U1", "PAY-1", [("INV-6", 1_000), ("INV-2", 2_000), ("INV-1", 10)], None),
        ("approve", "A2", 6),
        ("reverse", "A1", 4),
        ("request_lines", "U2", "PAY-1", [("INV-6", 100), ("INV-6", 100)], None),
        ("request_lines", "U2", "PAY-2", [("INV-6", 1_000), ("INV-1", 60_000)], "key-2"),
        ("request_lines", "U2", "PAY-2", [("INV-6", 1_000), ("INV-1", 1_000)], "key-2"),
        ("request", "U2", ("PAY-2", "INV-6"), 1, "key-2"),
        ("cancel", REQUESTER, 8),
    ]
)
def test_random_operations_keep_the_books_right(db: Database, ops: list[tuple[Any, ...]]) -> None:
    wipe(db)
    ledger = Ledger(db, clock=FixedClock())
    model = Model()
    add_partner(db, "P1", "Acme", members=sorted(MEMBERS["P1"]))
    add_partner(db, "P2", "Beta", members=sorted(MEMBERS["P2"]))
    for op in SEED:
        run_step(db, ledger, model, op)
    assert_books_match_model(db, model)
    for op in ops:
        run_step(db, ledger, model, op)
        assert_books_match_model(db, model)


# ------------------------------------------------- the audit catches corruption


@pytest.fixture
def posted(db: Database) -> Database:
    """One approved (100.00), one reversed (50.00) and one pending (25.00) allocation."""
    ledger = Ledger(db, clock=FixedClock())
    approver = Actor(user_id="A2", can_approve=True)
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    add_invoice(db, "INV-1", "P1", 50_000, "USD")
    add_invoice(db, "INV-2", "P1", 50_000, "USD")
    approved = ledger.request_allocation("U1", "PAY-1", "INV-1", 10_000).allocation_id
    ledger.approve(approved, approver)
    reversed_ = ledger.request_allocation("U1", "PAY-1", "INV-2", 5_000).allocation_id
    ledger.approve(reversed_, approver)
    ledger.reverse(reversed_, approver, "undo")
    ledger.request_allocation("U1", "PAY-1", "INV-2", 2_500)
    assert check_books(db) == []
    return db


def _sql(db: Database, statement: str) -> None:
    with db.transaction() as session:
        session.execute(text(statement))


CORRUPTIONS = {
    "payment allocated without a posting": (
        "UPDATE payments SET allocated = allocated + 1",
        "payment PAY-1: allocated is 10001",
    ),
    "invoice applied without a posting": (
        "UPDATE invoices SET applied = applied + 7 WHERE invoice_id = 'INV-2'",
        "invoice INV-2: applied is 7",
    ),
    "payment pending without a request": (
        "UPDATE payments SET pending = 0",
        "payment PAY-1: pending is 0 but its pending requests hold 2500",
    ),
    "invoice pending without a request": (
        "UPDATE invoices SET pending = 3 WHERE invoice_id = 'INV-1'",
        "invoice INV-1: pending is 3 but its pending requests hold 0",
    ),
    "an extra unbalanced journal line": (
        "INSERT INTO journal_lines (entry_id, account, debit, credit, currency)"
        " SELECT MIN(entry_id), 'unapplied_cash:P1', 1, 0, 'USD' FROM journal_entries",
        "debits 10001 and credits 10000",
    ),
    "a posting to a foreign account": (
        "UPDATE journal_lines SET account = 'unapplied_cash:P9'"
        " WHERE line_id = (SELECT MIN(line_id) FROM journal_lines)",
        "to 'unapplied_cash:P9'",
    ),
    "a posting in another currency": (
        "UPDATE journal_lines SET currency = 'EUR'"
        " WHERE line_id = (SELECT MAX(line_id) FROM journal_lines)",
        "posts EUR",
    ),
    "an approved allocation marked cancelled": (
        "UPDATE allocations SET status = 'cancelled' WHERE allocation_id ="
        " (SELECT MIN(allocation_id) FROM allocations)",
        "is cancelled with 1 allocation and 0 reversal entries",
    ),
    "a pending allocation marked approved without posting": (
        "UPDATE allocations SET status = 'approved', decided_at = requested_at"
        " WHERE status = 'pending'",
        "is approved with 0 allocation and 0 reversal entries",
    ),
}


@pytest.mark.parametrize("corruption", sorted(CORRUPTIONS))
def test_the_audit_reports_each_kind_of_corruption(posted: Database, corruption: str) -> None:
    statement, words = CORRUPTIONS[corruption]
    # By hand, past the database's own journal triggers (tests/ledger/test_journal_guards.py
    # shows they refuse the journal corruptions): the audit must catch what is left behind.
    unguarded_sql(posted, statement)

    violations = check_books(posted)

    assert any(words in v for v in violations), violations


def test_the_audit_reports_a_lost_reversal_entry(posted: Database) -> None:
    with posted.transaction() as session:
        entry = session.scalars(select(JournalEntry).where(JournalEntry.kind == "reversal")).one()
        session.query(JournalLine).filter(JournalLine.entry_id == entry.entry_id).delete()
        session.delete(entry)

    violations = check_books(posted)

    assert any("is reversed with 1 allocation and 0 reversal entries" in v for v in violations)
    assert any("allocated is 10000 but" in v and "by 15000" in v for v in violations)


def test_the_audit_reports_balances_out_of_range_that_constraints_would_refuse(
    tmp_path: Path,
) -> None:
    # Only SQLite can switch CHECK constraints off, which is the one way to store such rows.
    url = f"sqlite:///{tmp_path / 'unchecked.db'}"
    upgrade(url)
    db = Database(url)
    add_partner(db, "P1", "Acme")
    add_payment(db, "PAY-1", "P1", 100, "USD")
    add_invoice(db, "INV-1", "P1", 100, "USD")
    with db.engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA ignore_check_constraints = ON")
        connection.exec_driver_sql("UPDATE payments SET allocated = 150")
        connection.exec_driver_sql("UPDATE invoices SET applied = -5, pending = 200")
        connection.exec_driver_sql("PRAGMA ignore_check_constraints = OFF")

    violations = check_books(db)
    db.dispose()

    assert any(v.startswith("payment PAY-1: allocated 150 + pending 0") for v in violations)
    assert any(v.startswith("invoice INV-1: amount_due 105") for v in violations)


def test_the_audit_caps_what_it_lists_and_counts_the_rest(db: Database) -> None:
    add_partner(db, "P1", "Acme")
    for n in range(30):
        add_payment(db, f"PAY-{n:02d}", "P1", 100, "USD")
    _sql(db, "UPDATE payments SET pending = 1")

    violations = check_books(db, limit_per_check=5)

    assert violations[:5] == [
        f"payment PAY-{n:02d}: pending is 1 but its pending requests hold 0" for n in range(5)
    ]
    assert violations[5] == "... and 25 more like the above"
    assert len(violations) == 6


def bulk_postings(db: Database, count: int) -> None:
    """``count`` approved allocations with their postings, written in a few bulk inserts."""
    now = dt.datetime(2026, 11, 24, tzinfo=dt.UTC)
    day = now.date()
    with db.transaction() as session:
        session.execute(insert(Partner), [{"partner_id": "P1", "name": "Acme"}])
        common = {"partner_id": "P1", "currency": "USD", "exponent": 2, "amount": 1000}
        session.execute(
            insert(Payment),
            [
                {
                    **common,
                    "payment_id": f"PAY-{n}",
                    "allocated": 100,
                    "pending": 0,
                    "received_on": day,
                    "reference": "",
                }
                for n in range(count)
            ],
        )
        session.execute(
            insert(Invoice),
            [
                {
                    **common,
                    "invoice_id": f"INV-{n}",
                    "opening_due": 1000,
                    "applied": 100,
                    "pending": 0,
                    "issued_on": day,
                    "due_on": day,
                }
                for n in range(count)
            ],
        )
        session.execute(
            insert(Allocation),
            [
                {
                    "allocation_id": n + 1,
                    "request_id": n + 1,
                    "line_no": 1,
                    "payment_id": f"PAY-{n}",
                    "invoice_id": f"INV-{n}",
                    "partner_id": "P1",
                    "currency": "USD",
                    "amount": 100,
                    "status": "approved",
                    "requested_by": "U1",
                    "requested_at": now,
                    "decided_by": "A1",
                    "decided_at": now,
                }
                for n in range(count)
            ],
        )
        session.execute(
            insert(JournalEntry),
            [
                {
                    "entry_id": n + 1,
                    "allocation_id": n + 1,
                    "kind": "allocation",
                    "posted_at": now,
                    "posted_by": "A1",
                }
                for n in range(count)
            ],
        )
        session.execute(
            insert(JournalLine),
            [
                line
                for n in range(count)
                for line in (
                    {
                        "entry_id": n + 1,
                        "account": "unapplied_cash:P1",
                        "debit": 100,
                        "credit": 0,
                        "currency": "USD",
                    },
                    {
                        "entry_id": n + 1,
                        "account": f"receivable:P1:INV-{n}",
                        "debit": 0,
                        "credit": 100,
                        "currency": "USD",
                    },
                )
            ],
        )


def test_the_audit_is_quick_on_a_large_ledger(db: Database) -> None:
    """Thousands of postings audit in well under a second, so it can run after every burst."""
    # Fewer on PostgreSQL: bulk-loading fresh tables in one transaction makes its foreign-key
    # checks slow (they were planned when the tables were empty); the audit is not what is slow.
    count = 5000 if db.dialect == "sqlite" else 2000
    bulk_postings(db, count)

    started = time.perf_counter()
    violations = check_books(db)
    elapsed = time.perf_counter() - started

    assert violations == []
    assert books_summary(db).journal_lines == 2 * count
    assert elapsed < 2.0, f"check_books took {elapsed:.2f}s on {count} postings"


# -------------------------------------------- notes and reasons: what is stored is readable

# Characters a note or reason must never store: controls (NUL above all: PostgreSQL refuses
# it), format characters other than joiners inside a word or emoji and flag tags, private use,
# and lone surrogates (which cannot even be encoded for the database).
_TRICKY = (
    "\x00\x01\x1b\x7f\x85\u200b\u200c\u200d\u2060\ufeff\u00ad\u202e\u2066\u2028\u2029"
    "\ue000\ud800\udfff\t\r\n 👩🏴\U000e0067\U000e007f\u0301"
)


def _forbidden(ch: str) -> bool:
    category = unicodedata.category(ch)
    if ch == "\n":
        return False
    if ch in "\u200c\u200d" or 0xE0020 <= ord(ch) <= 0xE007F:
        return False  # joiners and flag tags are checked for their neighbours below
    return category in ("Cc", "Cf", "Co", "Cs", "Zl", "Zp")


def _assert_readable_as_stored(stored: str) -> None:
    assert not any(_forbidden(ch) for ch in stored), repr(stored)
    assert stored == stored.strip(), repr(stored)
    for i, ch in enumerate(stored):
        if ch in "\u200c\u200d":
            # A joiner stays only between two characters that show.
            assert 0 < i < len(stored) - 1, repr(stored)
            assert not stored[i - 1].isspace() and not stored[i + 1].isspace(), repr(stored)
    stored.encode("utf-8")  # no lone surrogate survives


any_text = st.text(
    st.one_of(st.characters(exclude_categories=()), st.sampled_from(_TRICKY)), max_size=60
)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(note=any_text, reason=any_text)
def test_whatever_text_comes_in_what_is_stored_is_readable(
    db: Database, note: str, reason: str
) -> None:
    wipe(db)
    ledger = Ledger(db, clock=FixedClock())
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    add_invoice(db, "INV-1", "P1", 50_000, "USD")
    requested = ledger.request_allocation("U1", "PAY-1", "INV-1", 100, note=note)
    with db.transaction() as session:
        stored_note = session.get_one(Allocation, requested.allocation_id).note
    if stored_note is not None:
        _assert_readable_as_stored(stored_note)
        assert has_readable_text(stored_note)
    approver = Actor(user_id="A2", can_approve=True)
    try:
        ledger.reject(requested.allocation_id, approver, reason)
    except InvalidInput as refusal:
        assert refusal.field == "reason"
        assert not has_readable_text(readable_text(reason)) or len(readable_text(reason)) > 1000
        with db.transaction() as session:
            row = session.get_one(Allocation, requested.allocation_id)
            assert (row.status, row.reason) == ("pending", None)
        return
    with db.transaction() as session:
        stored_reason = session.get_one(Allocation, requested.allocation_id).reason
    assert stored_reason is not None
    _assert_readable_as_stored(stored_reason)
    assert has_readable_text(stored_reason)
