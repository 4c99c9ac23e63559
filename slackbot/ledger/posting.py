"""The chart of accounts, defined once, and the one function that writes a journal entry.

Every allocation moves money between two accounts of its partner: the partner's unapplied cash
(what payments brought in and no invoice has taken yet) and the invoice's receivable. Approving
debits the cash and credits the receivable; a reversal posts the mirror entry (a posted entry is
never edited). The account names are built here for Python (``unapplied_cash_account``) and for
SQL (``unapplied_cash_account_sql``) from the same prefixes, so the books check, the bench seed
and the ledger can never disagree on a name.

An entry declares how many lines it has (``line_count``); the database refuses an entry whose
lines do not balance (see migration 0003). A decision on a request of several lines posts all
its entries in two statements (:func:`post_entries`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import ColumnElement, insert, literal
from sqlalchemy.orm import InstrumentedAttribute, Session

from models.enums import EntryKind
from models.tables import Allocation, JournalEntry, JournalLine

# A text column of a table or of a query (the books check passes both).
SQLText = ColumnElement[str] | InstrumentedAttribute[str]

UNAPPLIED_CASH = "unapplied_cash"
RECEIVABLE = "receivable"
_SEPARATOR = ":"


def unapplied_cash_account(partner_id: str) -> str:
    """The partner's money received and not yet applied to an invoice."""
    return f"{UNAPPLIED_CASH}{_SEPARATOR}{partner_id}"


def receivable_account(partner_id: str, invoice_id: str) -> str:
    """What the partner owes on one invoice."""
    return f"{RECEIVABLE}{_SEPARATOR}{partner_id}{_SEPARATOR}{invoice_id}"


def unapplied_cash_account_sql(partner_id: SQLText) -> ColumnElement[str]:
    """``unapplied_cash_account`` as a SQL expression over a partner id column."""
    return literal(f"{UNAPPLIED_CASH}{_SEPARATOR}") + partner_id


def receivable_account_sql(partner_id: SQLText, invoice_id: SQLText) -> ColumnElement[str]:
    """``receivable_account`` as a SQL expression over partner and invoice id columns."""
    return literal(f"{RECEIVABLE}{_SEPARATOR}") + partner_id + literal(_SEPARATOR) + invoice_id


def accounts_for(allocation: Allocation, kind: EntryKind) -> tuple[str, str]:
    """(debited, credited) account of an allocation's posting of ``kind``."""
    cash = unapplied_cash_account(allocation.partner_id)
    receivable = receivable_account(allocation.partner_id, allocation.invoice_id)
    return (cash, receivable) if kind == EntryKind.ALLOCATION else (receivable, cash)


def post_entries(
    session: Session,
    allocations: Sequence[Allocation],
    kind: EntryKind,
    posted_by: str,
    at: dt.datetime,
) -> dict[int, int]:
    """Write each allocation's entry of ``kind``: its whole amount, debit and credit.

    Two statements however many allocations: the entries in one INSERT ... RETURNING their
    ids, then every line in one multi-row INSERT. Lines go in entry by entry, debit then
    credit, so SQLite's row triggers (migration 0003) see each entry complete and balanced at
    its second line. Returns ``allocation_id`` -> ``entry_id`` (one entry per allocation and
    kind: the unique constraint).
    """
    if not allocations:
        return {}
    entries = session.execute(
        insert(JournalEntry)
        .values(
            [
                {
                    "allocation_id": allocation.allocation_id,
                    "kind": kind,
                    "posted_at": at,
                    "posted_by": posted_by,
                    "line_count": 2,
                }
                for allocation in allocations
            ]
        )
        .returning(JournalEntry.allocation_id, JournalEntry.entry_id)
    ).all()
    entry_of = {allocation_id: entry_id for allocation_id, entry_id in entries}
    lines = []
    for allocation in allocations:
        debit, credit = accounts_for(allocation, kind)
        entry_id, amount, currency = (
            entry_of[allocation.allocation_id],
            allocation.amount,
            allocation.currency,
        )
        lines.append(
            {
                "entry_id": entry_id,
                "account": debit,
                "debit": amount,
                "credit": 0,
                "currency": currency,
            }
        )
        lines.append(
            {
                "entry_id": entry_id,
                "account": credit,
                "debit": 0,
                "credit": amount,
                "currency": currency,
            }
        )
    session.execute(insert(JournalLine).values(lines))
    return entry_of
