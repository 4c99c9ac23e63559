"""The books check: recomputes every stored balance from the journal and the allocations.

``check_books`` answers "are the books right?" with a list of violations a person can read (an
empty list means yes). Each check is one aggregate query, so it stays fast on hundreds of
thousands of rows; the stress tooling runs it after every burst and the tests after every step.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, case, func, not_, or_, select
from sqlalchemy.orm import Session

from models.enums import AllocationStatus, EntryKind
from models.tables import Allocation, Invoice, JournalEntry, JournalLine, Payment
from slackbot.db import Database
from slackbot.ledger.posting import receivable_account_sql, unapplied_cash_account_sql

# A badly broken database could yield a violation per row; a person needs the first few and a
# count, not a hundred thousand lines.
DEFAULT_LIMIT_PER_CHECK = 20

# A query of any row shape; each check describes its own rows.
_Query = Select[*tuple[Any, ...]]


@dataclass(frozen=True)
class BooksSummary:
    """Counts for a progress line: how many of what, and the journal's totals per currency."""

    payments: int
    invoices: int
    allocations_by_status: dict[str, int] = field(default_factory=dict)
    journal_entries: int = 0
    journal_lines: int = 0
    debits_by_currency: dict[str, int] = field(default_factory=dict)
    credits_by_currency: dict[str, int] = field(default_factory=dict)

    @property
    def allocations(self) -> int:
        return sum(self.allocations_by_status.values())

    @property
    def balanced(self) -> bool:
        return self.debits_by_currency == self.credits_by_currency


def check_books(db: Database, *, limit_per_check: int = DEFAULT_LIMIT_PER_CHECK) -> list[str]:
    """Every way the stored balances disagree with each other or with the journal."""
    violations: list[str] = []
    with db.transaction() as session:
        for check in _CHECKS:
            violations.extend(_run(session, check, limit_per_check))
    return violations


def books_summary(db: Database) -> BooksSummary:
    with db.transaction() as session:
        payments = session.scalar(select(func.count()).select_from(Payment)) or 0
        invoices = session.scalar(select(func.count()).select_from(Invoice)) or 0
        by_status = {
            status: count
            for status, count in session.execute(
                select(Allocation.status, func.count()).group_by(Allocation.status)
            )
        }
        entries = session.scalar(select(func.count()).select_from(JournalEntry)) or 0
        lines = session.scalar(select(func.count()).select_from(JournalLine)) or 0
        totals = session.execute(
            select(
                JournalLine.currency, func.sum(JournalLine.debit), func.sum(JournalLine.credit)
            ).group_by(JournalLine.currency)
        )
        debits: dict[str, int] = {}
        credits: dict[str, int] = {}
        for currency, debit, credit in totals:
            debits[currency] = int(debit or 0)
            credits[currency] = int(credit or 0)
    return BooksSummary(
        payments=payments,
        invoices=invoices,
        allocations_by_status=dict(sorted(by_status.items())),
        journal_entries=entries,
        journal_lines=lines,
        debits_by_currency=debits,
        credits_by_currency=credits,
    )


@dataclass(frozen=True)
class _Check:
    query: Callable[[], _Query]
    describe: Callable[[Sequence[Any]], str]


def _run(session: Session, check: _Check, limit: int) -> list[str]:
    # One row more than shown tells whether to add "and more"; the exact count costs a second
    # query only when the books are already wrong.
    stmt = check.query()
    rows = session.execute(stmt.limit(limit + 1)).all()
    found = [check.describe(row) for row in rows[:limit]]
    if len(rows) > limit:
        total = session.scalar(select(func.count()).select_from(stmt.subquery())) or 0
        found.append(f"... and {total - limit} more like the above")
    return found


# ---------------------------------------------------------------- balances in range


def _payments_in_range() -> _Query:
    return select(Payment.payment_id, Payment.amount, Payment.allocated, Payment.pending).where(
        or_(
            Payment.allocated < 0,
            Payment.pending < 0,
            Payment.unallocated < 0,
        )
    )


def _describe_payment_range(row: Sequence[Any]) -> str:
    payment_id, amount, allocated, pending = row
    return (
        f"payment {payment_id}: allocated {allocated} + pending {pending} must be >= 0 each and"
        f" at most the amount {amount}"
    )


def _invoices_in_range() -> _Query:
    due = Invoice.amount_due
    return select(
        Invoice.invoice_id, Invoice.amount, due.label("amount_due"), Invoice.pending
    ).where(
        or_(
            due < 0,
            due > Invoice.amount,
            Invoice.pending < 0,
            Invoice.pending > due,
            Invoice.applied < 0,
        )
    )


def _describe_invoice_range(row: Sequence[Any]) -> str:
    invoice_id, amount, amount_due, pending = row
    return (
        f"invoice {invoice_id}: amount_due {amount_due} must be between 0 and the amount {amount},"
        f" and pending {pending} between 0 and amount_due"
    )


# ---------------------------------------------------------------- the journal itself


def _unbalanced_entries() -> _Query:
    debits = func.coalesce(func.sum(JournalLine.debit), 0)
    credits = func.coalesce(func.sum(JournalLine.credit), 0)
    lines = func.count(JournalLine.line_id)
    return (
        select(
            JournalEntry.entry_id,
            JournalEntry.allocation_id,
            JournalEntry.kind,
            Allocation.amount,
            debits.label("debits"),
            credits.label("credits"),
            lines.label("lines"),
            JournalEntry.line_count,
        )
        .join(Allocation, Allocation.allocation_id == JournalEntry.allocation_id)
        .outerjoin(JournalLine, JournalLine.entry_id == JournalEntry.entry_id)
        .group_by(
            JournalEntry.entry_id,
            JournalEntry.allocation_id,
            JournalEntry.kind,
            Allocation.amount,
            JournalEntry.line_count,
        )
        # Each posting moves exactly the allocation's amount, so a balanced entry for the wrong
        # amount is as wrong as an unbalanced one. SQLite cannot refuse an entry that never got
        # all its declared lines (it has no deferred triggers), so that is reported here.
        .having(
            or_(
                debits != credits,
                debits != Allocation.amount,
                lines == 0,
                lines != JournalEntry.line_count,
            )
        )
        .order_by(JournalEntry.entry_id)
    )


def _describe_unbalanced_entry(row: Sequence[Any]) -> str:
    entry_id, allocation_id, kind, amount, debits, credits, lines, declared = row
    return (
        f"journal entry {entry_id} ({kind} of allocation {allocation_id}, amount {amount}):"
        f" {lines} lines, debits {debits} and credits {credits} must both equal the amount"
        f" ({declared} lines declared)"
    )


def _unbalanced_in_a_currency() -> _Query:
    # What the database's journal triggers refuse: an entry balanced in total can still move
    # dollars one way and euros the other.
    debits = func.sum(JournalLine.debit)
    credits = func.sum(JournalLine.credit)
    return (
        select(JournalLine.entry_id, JournalLine.currency, debits, credits)
        .group_by(JournalLine.entry_id, JournalLine.currency)
        .having(debits != credits)
        .order_by(JournalLine.entry_id, JournalLine.currency)
    )


def _describe_unbalanced_in_a_currency(row: Sequence[Any]) -> str:
    entry_id, currency, debits, credits = row
    return (
        f"journal entry {entry_id} does not balance in {currency}: debits {debits},"
        f" credits {credits}"
    )


def _unbalanced_allocations() -> _Query:
    debits = func.sum(JournalLine.debit)
    credits = func.sum(JournalLine.credit)
    return (
        select(JournalEntry.allocation_id, debits.label("debits"), credits.label("credits"))
        .join(JournalLine, JournalLine.entry_id == JournalEntry.entry_id)
        .group_by(JournalEntry.allocation_id)
        .having(debits != credits)
        .order_by(JournalEntry.allocation_id)
    )


def _describe_unbalanced_allocation(row: Sequence[Any]) -> str:
    allocation_id, debits, credits = row
    return f"allocation {allocation_id}: journal debits {debits} differ from credits {credits}"


def _misposted_lines() -> _Query:
    return (
        select(
            JournalLine.line_id,
            JournalLine.entry_id,
            JournalLine.account,
            JournalLine.currency,
            Allocation.allocation_id,
            Allocation.currency,
        )
        .join(JournalEntry, JournalEntry.entry_id == JournalLine.entry_id)
        .join(Allocation, Allocation.allocation_id == JournalEntry.allocation_id)
        .where(
            or_(
                JournalLine.currency != Allocation.currency,
                JournalLine.debit < 0,
                JournalLine.credit < 0,
                and_(
                    JournalLine.account != unapplied_cash_account_sql(Allocation.partner_id),
                    JournalLine.account
                    != receivable_account_sql(Allocation.partner_id, Allocation.invoice_id),
                ),
            )
        )
        .order_by(JournalLine.line_id)
    )


def _describe_misposted_line(row: Sequence[Any]) -> str:
    line_id, entry_id, account, currency, allocation_id, allocation_currency = row
    return (
        f"journal line {line_id} of entry {entry_id} posts {currency} to {account!r}; allocation"
        f" {allocation_id} may only post {allocation_currency} to its partner's unapplied cash"
        f" and its invoice's receivable"
    )


# ------------------------------------------------------ stored balances vs the journal


def _payment_allocated_vs_journal() -> _Query:
    # The account test sits inside the sum, not in a join or WHERE: every line of a partner
    # shares one cash account, and an index lookup on it turns the join quadratic on PostgreSQL.
    cash = (
        select(
            Allocation.payment_id.label("payment_id"),
            func.sum(
                case(
                    (
                        JournalLine.account == unapplied_cash_account_sql(Allocation.partner_id),
                        JournalLine.debit - JournalLine.credit,
                    ),
                    else_=0,
                )
            ).label("net"),
        )
        .join(JournalEntry, JournalEntry.allocation_id == Allocation.allocation_id)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.entry_id)
        .group_by(Allocation.payment_id)
        .subquery()
    )
    net = func.coalesce(cash.c.net, 0)
    return (
        select(Payment.payment_id, Payment.allocated, net)
        .outerjoin(cash, cash.c.payment_id == Payment.payment_id)
        .where(Payment.allocated != net)
        .order_by(Payment.payment_id)
    )


def _describe_payment_allocated(row: Sequence[Any]) -> str:
    payment_id, allocated, net = row
    return (
        f"payment {payment_id}: allocated is {allocated} but its allocations' journal debits"
        f" unapplied cash by {net}"
    )


def _invoice_applied_vs_journal() -> _Query:
    receivable = (
        select(
            Allocation.invoice_id.label("invoice_id"),
            func.sum(
                case(
                    (
                        JournalLine.account
                        == receivable_account_sql(Allocation.partner_id, Allocation.invoice_id),
                        JournalLine.credit - JournalLine.debit,
                    ),
                    else_=0,
                )
            ).label("net"),
        )
        .join(JournalEntry, JournalEntry.allocation_id == Allocation.allocation_id)
        .join(JournalLine, JournalLine.entry_id == JournalEntry.entry_id)
        .group_by(Allocation.invoice_id)
        .subquery()
    )
    net = func.coalesce(receivable.c.net, 0)
    return (
        select(Invoice.invoice_id, Invoice.applied, net)
        .outerjoin(receivable, receivable.c.invoice_id == Invoice.invoice_id)
        .where(Invoice.applied != net)
        .order_by(Invoice.invoice_id)
    )


def _describe_invoice_applied(row: Sequence[Any]) -> str:
    invoice_id, applied, net = row
    return (
        f"invoice {invoice_id}: applied is {applied} but its allocations' journal credits the"
        f" receivable by {net}"
    )


# ------------------------------------------------- stored reservations vs the requests


def _pending_of(key: Any) -> Any:
    return (
        select(key.label("key"), func.sum(Allocation.amount).label("held"))
        .where(Allocation.status == AllocationStatus.PENDING)
        .group_by(key)
        .subquery()
    )


def _payment_pending_vs_requests() -> _Query:
    held = _pending_of(Allocation.payment_id)
    total = func.coalesce(held.c.held, 0)
    return (
        select(Payment.payment_id, Payment.pending, total)
        .outerjoin(held, held.c.key == Payment.payment_id)
        .where(Payment.pending != total)
        .order_by(Payment.payment_id)
    )


def _describe_payment_pending(row: Sequence[Any]) -> str:
    payment_id, pending, held = row
    return f"payment {payment_id}: pending is {pending} but its pending requests hold {held}"


def _invoice_pending_vs_requests() -> _Query:
    held = _pending_of(Allocation.invoice_id)
    total = func.coalesce(held.c.held, 0)
    return (
        select(Invoice.invoice_id, Invoice.pending, total)
        .outerjoin(held, held.c.key == Invoice.invoice_id)
        .where(Invoice.pending != total)
        .order_by(Invoice.invoice_id)
    )


def _describe_invoice_pending(row: Sequence[Any]) -> str:
    invoice_id, pending, held = row
    return f"invoice {invoice_id}: pending is {pending} but its pending requests hold {held}"


# ------------------------------------------------------ postings vs allocation status

# How many entries of each kind an allocation in each status has: (allocation, reversal).
EXPECTED_POSTINGS: dict[str, tuple[int, int]] = {
    AllocationStatus.PENDING: (0, 0),
    AllocationStatus.REJECTED: (0, 0),
    AllocationStatus.CANCELLED: (0, 0),
    AllocationStatus.APPROVED: (1, 0),
    AllocationStatus.REVERSED: (1, 1),
}


def _postings_vs_status() -> _Query:
    postings = func.coalesce(
        func.sum(case((JournalEntry.kind == EntryKind.ALLOCATION, 1), else_=0)), 0
    )
    reversals = func.coalesce(
        func.sum(case((JournalEntry.kind == EntryKind.REVERSAL, 1), else_=0)), 0
    )
    # Other kinds cannot be stored (CHECK kind_known), so every entry is one of the two.
    others = func.count(JournalEntry.entry_id) - postings - reversals
    expected = or_(
        *(
            and_(Allocation.status == status, postings == a, reversals == r)
            for status, (a, r) in EXPECTED_POSTINGS.items()
        )
    )
    return (
        select(Allocation.allocation_id, Allocation.status, postings, reversals)
        .outerjoin(JournalEntry, JournalEntry.allocation_id == Allocation.allocation_id)
        .group_by(Allocation.allocation_id, Allocation.status)
        .having(or_(not_(expected), others != 0))
        .order_by(Allocation.allocation_id)
    )


def _describe_postings(row: Sequence[Any]) -> str:
    allocation_id, status, postings, reversals = row
    want = EXPECTED_POSTINGS.get(status)
    wanted = (
        f"{want[0]} allocation and {want[1]} reversal entries"
        if want is not None
        else "a known status"
    )
    return (
        f"allocation {allocation_id} is {status} with {postings} allocation and {reversals}"
        f" reversal entries; it should have {wanted}"
    )


_CHECKS = (
    _Check(_payments_in_range, _describe_payment_range),
    _Check(_invoices_in_range, _describe_invoice_range),
    _Check(_unbalanced_entries, _describe_unbalanced_entry),
    _Check(_unbalanced_in_a_currency, _describe_unbalanced_in_a_currency),
    _Check(_unbalanced_allocations, _describe_unbalanced_allocation),
    _Check(_misposted_lines, _describe_misposted_line),
    _Check(_payment_allocated_vs_journal, _describe_payment_allocated),
    _Check(_invoice_applied_vs_journal, _describe_invoice_applied),
    _Check(_payment_pending_vs_requests, _describe_payment_pending),
    _Check(_invoice_pending_vs_requests, _describe_invoice_pending),
    _Check(_postings_vs_status, _describe_postings),
)
