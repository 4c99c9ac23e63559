"""Round trips of a decision: how many statements Approve, Reject, Cancel and Reverse send.

Counted with a ``before_cursor_execute`` listener on the engine, so an N+1 (a statement per line
or per audience), a flush-then-read (a SELECT after the writes) or a re-read of the snapshot
fails here. The bounds are the measured counts; BEGIN IMMEDIATE is SQLite's own statement
(PostgreSQL opens a transaction with the first statement, and COMMIT is not a cursor call).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import event

from models.schemas import Actor
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.ledger.books import check_books
from tests.support.factories import add_invoice, add_partner, add_payment, journal_of

APPROVER = Actor(user_id="B1", can_approve=True)
# What one decision on a request sends, however many lines the request has. Each includes the
# one INSERT … SELECT that marks the Homes the decision changes (slackbot.outbox.home_queue).
APPROVE_STATEMENTS = 13
REJECT_STATEMENTS = 11
CANCEL_STATEMENTS = 11
REVERSE_STATEMENTS = 13


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 1_000_000, "USD", reference="INV-1 INV-2 INV-3")
    for n in range(1, 8):
        add_invoice(db, f"INV-{n}", "P1", 50_000, "USD")
    return db


@contextmanager
def statements(db: Database) -> Iterator[list[tuple[str, int]]]:
    """The statements the engine sends meanwhile: (first SQL word, parameter sets)."""
    seen: list[tuple[str, int]] = []

    def record(
        _conn: Any, _cursor: Any, sql: str, parameters: Any, _context: Any, many: bool
    ) -> None:
        seen.append((sql.split()[0].upper(), len(parameters) if many else 1))

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def own(db: Database, count: int) -> int:
    """``count`` plus SQLite's BEGIN IMMEDIATE."""
    return count + (1 if db.dialect == "sqlite" else 0)


def reads_then_writes(seen: list[tuple[str, int]]) -> bool:
    """Every SELECT (the locks) comes before the first write: nothing is read back."""
    kinds = [kind for kind, _ in seen if kind != "BEGIN"]
    first_write = next((k for k, kind in enumerate(kinds) if kind != "SELECT"), len(kinds))
    return "SELECT" not in kinds[first_write:]


@pytest.mark.parametrize("lines", [1, 3, 7])
def test_approve_sends_the_same_few_statements_for_any_number_of_lines(
    books: Database, ledger: Ledger, lines: int
) -> None:
    requested = ledger.request_lines(
        "U1", "PAY-1", [(f"INV-{n}", "100.00") for n in range(1, lines + 1)]
    )

    with statements(books) as seen:
        approved = ledger.approve(requested.allocation_id, APPROVER)

    assert approved.status == "approved"
    assert [line.invoice_amount_due for line in approved.lines] == [40_000] * lines
    assert approved.payment_unallocated == 1_000_000 - 10_000 * lines
    assert journal_of(books, requested.allocation_id) == [
        ("allocation", "unapplied_cash:P1", 10_000, 0, "USD"),
        ("allocation", "receivable:P1:INV-1", 0, 10_000, "USD"),
    ]
    assert len(seen) == own(books, APPROVE_STATEMENTS), seen
    assert reads_then_writes(seen), seen
    # Only the invoices' UPDATE has a parameter set per line (one executemany).
    assert sum(sets for _, sets in seen) == own(books, APPROVE_STATEMENTS) + lines - 1, seen
    assert check_books(books) == []


def test_reject_and_cancel_send_a_fixed_number_of_statements(
    books: Database, ledger: Ledger
) -> None:
    rejected = ledger.request_lines("U1", "PAY-1", [("INV-1", "10.00"), ("INV-2", "20.00")])
    cancelled = ledger.request_lines("U1", "PAY-1", [("INV-3", "10.00"), ("INV-4", "20.00")])

    with statements(books) as on_reject:
        after_reject = ledger.reject(rejected.allocation_id, APPROVER, "not ours")
    with statements(books) as on_cancel:
        after_cancel = ledger.cancel(cancelled.allocation_id, "U1")

    assert (after_reject.status, after_reject.reason) == ("rejected", "not ours")
    assert after_cancel.status == "cancelled"
    assert (after_cancel.payment_pending, after_cancel.payment_unallocated) == (0, 1_000_000)
    assert len(on_reject) == own(books, REJECT_STATEMENTS), on_reject
    assert len(on_cancel) == own(books, CANCEL_STATEMENTS), on_cancel
    assert reads_then_writes(on_reject) and reads_then_writes(on_cancel)
    assert check_books(books) == []


def test_reverse_sends_a_fixed_number_of_statements(books: Database, ledger: Ledger) -> None:
    requested = ledger.request_lines("U1", "PAY-1", [("INV-1", "10.00"), ("INV-2", "20.00")])
    ledger.approve(requested.allocation_id, APPROVER)

    with statements(books) as seen:
        reversed_ = ledger.reverse(requested.allocation_id, APPROVER, "posted twice")

    assert reversed_.status == "reversed"
    assert [line.invoice_amount_due for line in reversed_.lines] == [50_000, 50_000]
    assert len(journal_of(books, requested.allocation_id)) == 4
    assert len(seen) == own(books, REVERSE_STATEMENTS), seen
    assert reads_then_writes(seen), seen
    assert check_books(books) == []
