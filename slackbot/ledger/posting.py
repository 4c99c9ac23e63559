"""The chart of accounts, defined once, and the one function that writes a journal entry.

Every allocation moves money between two accounts of its partner: the partner's unapplied cash
(what payments brought in and no invoice has taken yet) and the invoice's receivable. Approving
debits the cash and credits the receivable; a reversal posts the mirror entry (a posted entry is
never edited). The account names are built here for Python (``unapplied_cash_account``) and for
SQL (``unapplied_cash_account_sql``) from the same prefixes, so the books check, the bench seed
and the ledger can never disagree on a name.

An entry declares how many lines it has (``line_count``); the database refuses an entry whose
lines do not balance (see migration 0003).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ColumnElement, literal
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


def post(
    session: Session, allocation: Allocation, kind: EntryKind, posted_by: str, at: dt.datetime
) -> JournalEntry:
    """Write the allocation's entry of ``kind``: its whole amount, debit and credit, one flush."""
    debit, credit = accounts_for(allocation, kind)
    lines = [
        JournalLine(account=debit, debit=allocation.amount, credit=0, currency=allocation.currency),
        JournalLine(
            account=credit, debit=0, credit=allocation.amount, currency=allocation.currency
        ),
    ]
    entry = JournalEntry(
        allocation_id=allocation.allocation_id,
        kind=kind,
        posted_at=at,
        posted_by=posted_by,
        line_count=len(lines),
    )
    session.add(entry)
    session.flush()
    for line in lines:
        line.entry_id = entry.entry_id
    session.add_all(lines)
    session.flush()
    return entry
