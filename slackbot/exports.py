"""Exports of the ledger as CSV or JSON, streamed row by row in a stable order (by id).

Amounts leave as decimal strings in major units, formatted with the exponent stored on the
payment or invoice they belong to; dates are ISO 8601 and datetimes ISO 8601 in UTC.

On PostgreSQL one read transaction streams the whole table through a server-side cursor, so the
export is one consistent snapshot and blocks nobody. On SQLite every transaction takes the write
lock (see ``slackbot.db``), so the export reads one short page at a time instead: a slow reader
(``slackbot export journal | less``) never holds the lock while the bot waits to write.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Row, Select, and_, or_, select

from models.tables import Allocation, Invoice, JournalEntry, JournalLine, Payment
from slackbot.db import Database
from slackbot.money import to_decimal_string

PAGE_ROWS = 2000


class ExportKind(StrEnum):
    PAYMENTS = "payments"
    INVOICES = "invoices"
    ALLOCATIONS = "allocations"
    JOURNAL = "journal"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


COLUMNS: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.PAYMENTS: (
        "payment_id",
        "partner_id",
        "currency",
        "amount",
        "allocated",
        "pending",
        "unallocated",
    ),
    ExportKind.INVOICES: (
        "invoice_id",
        "partner_id",
        "currency",
        "amount",
        "amount_due",
        "pending",
    ),
    ExportKind.ALLOCATIONS: (
        "allocation_id",
        "payment_id",
        "invoice_id",
        "currency",
        "amount",
        "status",
        "requested_by",
        "decided_by",
        "decided_at",
        "reason",
    ),
    ExportKind.JOURNAL: (
        "entry_id",
        "allocation_id",
        "account",
        "debit",
        "credit",
        "currency",
        "posted_at",
    ),
}

Record = dict[str, str | int | None]


def export(
    db: Database,
    kind: ExportKind | str,
    out: TextIO,
    export_format: ExportFormat | str = ExportFormat.CSV,
) -> int:
    """Write every row of ``kind`` to ``out``; returns how many rows were written."""
    kind = ExportKind(kind)
    export_format = ExportFormat(export_format)
    records = export_records(db, kind)
    if export_format is ExportFormat.CSV:
        return _write_csv(COLUMNS[kind], records, out)
    return _write_json(records, out)


def export_records(db: Database, kind: ExportKind | str) -> Iterator[Record]:
    """The rows of an export as dicts keyed by the contract's column names, in id order."""
    kind = ExportKind(kind)
    return _EXPORTS[kind](db)


# ----------------------------------------------------------------------------------- the kinds


def _payments(db: Database) -> Iterator[Record]:
    stmt = select(
        Payment.payment_id,
        Payment.partner_id,
        Payment.currency,
        Payment.exponent,
        Payment.amount,
        Payment.allocated,
        Payment.pending,
    ).order_by(Payment.payment_id)
    for row in _stream(db, stmt, lambda last: Payment.payment_id > last.payment_id):
        amount = _amount_formatter(row.currency, row.exponent)
        yield {
            "payment_id": row.payment_id,
            "partner_id": row.partner_id,
            "currency": row.currency,
            "amount": amount(row.amount),
            "allocated": amount(row.allocated),
            "pending": amount(row.pending),
            "unallocated": amount(row.amount - row.allocated - row.pending),
        }


def _invoices(db: Database) -> Iterator[Record]:
    stmt = select(
        Invoice.invoice_id,
        Invoice.partner_id,
        Invoice.currency,
        Invoice.exponent,
        Invoice.amount,
        Invoice.opening_due,
        Invoice.applied,
        Invoice.pending,
    ).order_by(Invoice.invoice_id)
    for row in _stream(db, stmt, lambda last: Invoice.invoice_id > last.invoice_id):
        amount = _amount_formatter(row.currency, row.exponent)
        yield {
            "invoice_id": row.invoice_id,
            "partner_id": row.partner_id,
            "currency": row.currency,
            "amount": amount(row.amount),
            "amount_due": amount(row.opening_due - row.applied),
            "pending": amount(row.pending),
        }


def _allocations(db: Database) -> Iterator[Record]:
    stmt = (
        select(
            Allocation.allocation_id,
            Allocation.payment_id,
            Allocation.invoice_id,
            Allocation.currency,
            Allocation.amount,
            Allocation.status,
            Allocation.requested_by,
            Allocation.decided_by,
            Allocation.decided_at,
            Allocation.reason,
            Payment.exponent,
        )
        .join(Payment, Payment.payment_id == Allocation.payment_id)
        .order_by(Allocation.allocation_id)
    )
    for row in _stream(db, stmt, lambda last: Allocation.allocation_id > last.allocation_id):
        yield {
            "allocation_id": row.allocation_id,
            "payment_id": row.payment_id,
            "invoice_id": row.invoice_id,
            "currency": row.currency,
            "amount": to_decimal_string(row.amount, row.currency, row.exponent),
            "status": row.status,
            "requested_by": row.requested_by,
            "decided_by": row.decided_by,
            "decided_at": _utc_iso(row.decided_at),
            "reason": row.reason,
        }


def _journal(db: Database) -> Iterator[Record]:
    stmt = (
        select(
            JournalLine.entry_id,
            JournalLine.line_id,
            JournalEntry.allocation_id,
            JournalLine.account,
            JournalLine.debit,
            JournalLine.credit,
            JournalLine.currency,
            JournalEntry.posted_at,
            Payment.exponent,
        )
        .join(JournalEntry, JournalEntry.entry_id == JournalLine.entry_id)
        .join(Allocation, Allocation.allocation_id == JournalEntry.allocation_id)
        .join(Payment, Payment.payment_id == Allocation.payment_id)
        .order_by(JournalLine.entry_id, JournalLine.line_id)
    )

    def after(last: Row[*tuple[Any, ...]]) -> ColumnElement[bool]:
        return or_(
            JournalLine.entry_id > last.entry_id,
            and_(JournalLine.entry_id == last.entry_id, JournalLine.line_id > last.line_id),
        )

    for row in _stream(db, stmt, after):
        yield {
            "entry_id": row.entry_id,
            "allocation_id": row.allocation_id,
            "account": row.account,
            "debit": to_decimal_string(row.debit, row.currency, row.exponent),
            "credit": to_decimal_string(row.credit, row.currency, row.exponent),
            "currency": row.currency,
            "posted_at": _utc_iso(row.posted_at),
        }


_EXPORTS: dict[ExportKind, Callable[[Database], Iterator[Record]]] = {
    ExportKind.PAYMENTS: _payments,
    ExportKind.INVOICES: _invoices,
    ExportKind.ALLOCATIONS: _allocations,
    ExportKind.JOURNAL: _journal,
}


# ----------------------------------------------------------------------------------- streaming


def _stream(
    db: Database,
    stmt: Select[*tuple[Any, ...]],
    after: Callable[[Row[*tuple[Any, ...]]], ColumnElement[bool]],
    page_rows: int | None = None,
) -> Iterator[Row[*tuple[Any, ...]]]:
    """Rows of ``stmt`` (ordered by a unique key) without holding them all in memory.

    ``after(row)`` is the condition for the rows that follow ``row`` in that order.
    """
    page_rows = page_rows or PAGE_ROWS
    if db.dialect != "sqlite":
        with db.transaction() as session:
            yield from session.execute(stmt.execution_options(yield_per=page_rows))
        return
    condition: ColumnElement[bool] | None = None
    while True:
        page_stmt = stmt if condition is None else stmt.where(condition)
        with db.transaction() as session:
            page = session.execute(page_stmt.limit(page_rows)).all()
        yield from page
        if len(page) < page_rows:
            return
        condition = after(page[-1])


def _amount_formatter(currency: str, exponent: int) -> Callable[[int], str]:
    return lambda minor: to_decimal_string(minor, currency, exponent)


def _utc_iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC; SQLite hands back naive datetimes, and everything stored is UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).isoformat()


# ----------------------------------------------------------------------------------- formats


def _write_csv(columns: tuple[str, ...], records: Iterator[Record], out: TextIO) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    count = 0
    for record in records:
        writer.writerow(["" if record[name] is None else record[name] for name in columns])
        count += 1
    return count


def _write_json(records: Iterator[Record], out: TextIO) -> int:
    """One JSON array, written an object at a time so a large table never becomes one string."""
    count = 0
    for record in records:
        out.write("[\n" if count == 0 else ",\n")
        out.write(json.dumps(record, ensure_ascii=False))
        count += 1
    out.write("[]\n" if count == 0 else "\n]\n")
    return count
