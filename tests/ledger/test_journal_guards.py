"""The database itself refuses an unbalanced journal entry (migration 0003), on both databases."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from models.schemas import Actor
from models.tables import JournalEntry, JournalLine
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.ledger.books import check_books
from tests.ledger.journal_guards import unguarded_sql
from tests.support.factories import add_invoice, add_partner, add_payment, snapshot

APPROVER = Actor(user_id="B1", can_approve=True)


@pytest.fixture
def approved(db: Database, ledger: Ledger) -> int:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    add_invoice(db, "INV-1", "P1", 50_000, "USD")
    add_invoice(db, "INV-2", "P1", 50_000, "USD")
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", 10_000).allocation_id
    ledger.approve(allocation_id, APPROVER)
    return allocation_id


def _sql(db: Database, *statements: str) -> None:
    with db.transaction() as session:
        for statement in statements:
            session.execute(text(statement))


def _entry_sql(allocation_id: int, line_count: int = 2) -> str:
    return (
        "INSERT INTO journal_entries (allocation_id, kind, posted_at, posted_by, line_count)"
        f" VALUES ({allocation_id}, 'reversal', CURRENT_TIMESTAMP, 'B1', {line_count})"
    )


def _line_sql(account: str, debit: int, credit: int, currency: str = "USD") -> str:
    return (
        "INSERT INTO journal_lines (entry_id, account, debit, credit, currency)"
        f" SELECT MAX(entry_id), '{account}', {debit}, {credit}, '{currency}'"
        " FROM journal_entries"
    )


def _refused(db: Database, *statements: str) -> str:
    before = snapshot(db)
    with pytest.raises(IntegrityError) as refused:
        _sql(db, *statements)
    assert snapshot(db) == before
    assert check_books(db) == []
    return str(refused.value.orig)


def test_an_unbalanced_entry_written_in_sql_is_refused(
    db: Database, ledger: Ledger, approved: int
) -> None:
    message = _refused(
        db,
        _entry_sql(approved),
        _line_sql("receivable:P1:INV-1", 10_000, 0),
        _line_sql("unapplied_cash:P1", 0, 9_999),
    )
    assert "does not balance" in message


def test_an_entry_balanced_in_total_but_not_per_currency_is_refused(
    db: Database, ledger: Ledger, approved: int
) -> None:
    message = _refused(
        db,
        _entry_sql(approved),
        _line_sql("receivable:P1:INV-1", 10_000, 0, "USD"),
        _line_sql("unapplied_cash:P1", 0, 10_000, "EUR"),
    )
    assert "does not balance" in message


def test_a_balanced_entry_written_in_sql_is_stored(
    db: Database, ledger: Ledger, approved: int
) -> None:
    _sql(
        db,
        _entry_sql(approved),
        _line_sql("receivable:P1:INV-1", 10_000, 0),
        _line_sql("unapplied_cash:P1", 0, 10_000),
    )
    with db.transaction() as session:
        assert (
            session.scalar(select(JournalEntry.line_count).where(JournalEntry.kind == "reversal"))
            == 2
        )
    # Stored, but not reflected in the balances: the books check says so (the guard is about
    # the entry balancing, the check about the entry agreeing with everything else).
    assert any("reversal entries" in v for v in check_books(db))


def test_a_line_added_to_a_posted_entry_is_refused(db: Database, approved: int) -> None:
    message = _refused(db, _line_sql("unapplied_cash:P1", 1, 0))
    assert "declared lines" in message or "lines but declares" in message


def test_an_update_that_unbalances_a_posted_entry_is_refused(db: Database, approved: int) -> None:
    message = _refused(
        db,
        "UPDATE journal_lines SET debit = debit + 1 WHERE line_id ="
        " (SELECT MIN(line_id) FROM journal_lines WHERE debit > 0)",
    )
    assert "does not balance" in message


def test_changing_an_entrys_declared_line_count_is_refused(db: Database, approved: int) -> None:
    _refused(db, "UPDATE journal_entries SET line_count = 3")


def test_an_entry_missing_a_line(db: Database, approved: int) -> None:
    """PostgreSQL refuses it at commit; SQLite cannot, so the books check names it."""
    statements = (_entry_sql(approved), _line_sql("receivable:P1:INV-1", 10_000, 0))
    if db.dialect == "postgresql":
        assert "has 1 lines but declares 2" in _refused(db, *statements)
        return
    _sql(db, *statements)
    assert any("1 lines" in v and "(2 lines declared)" in v for v in check_books(db))


def test_a_rebalancing_pair_of_updates(db: Database, approved: int) -> None:
    """PostgreSQL judges the entry at commit; SQLite, with no deferral, at the first update."""
    statements = (
        "UPDATE journal_lines SET debit = debit + 1 WHERE debit > 0",
        "UPDATE journal_lines SET credit = credit + 1 WHERE credit > 0",
    )
    if db.dialect == "sqlite":
        assert "does not balance" in _refused(db, *statements)
        return
    _sql(db, *statements)
    with db.transaction() as session:
        assert sorted(session.scalars(select(JournalLine.debit + JournalLine.credit))) == [
            10_001,
            10_001,
        ]


def test_deleting_an_entry_with_all_its_lines_is_allowed(db: Database, ledger: Ledger) -> None:
    """What the tests' wipe does between tests: nothing is left that could be unbalanced."""
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    add_invoice(db, "INV-1", "P1", 50_000, "USD")
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", 10_000).allocation_id
    ledger.approve(allocation_id, APPROVER)
    _sql(db, "DELETE FROM journal_lines", "DELETE FROM journal_entries")
    with db.transaction() as session:
        assert session.scalars(select(JournalEntry.entry_id)).all() == []


def test_approve_and_reverse_still_post_balanced_entries(
    db: Database, ledger: Ledger, approved: int
) -> None:
    ledger.reverse(approved, APPROVER, "wrong invoice")
    with db.transaction() as session:
        counts = session.execute(
            select(JournalEntry.kind, JournalEntry.line_count).order_by(JournalEntry.entry_id)
        ).all()
    assert [tuple(row) for row in counts] == [("allocation", 2), ("reversal", 2)]
    assert check_books(db) == []


def test_the_bypass_used_by_the_corruption_tests_restores_the_guards(
    db: Database, approved: int
) -> None:
    unguarded_sql(db, "UPDATE journal_lines SET currency = 'EUR' WHERE credit > 0")
    assert any("posts EUR" in v for v in check_books(db))
    # The guard is back: the next unbalancing write is refused again.
    with pytest.raises(IntegrityError):
        _sql(db, "UPDATE journal_lines SET debit = debit + 5 WHERE debit > 0")
