"""Exports of the ledger as CSV or JSON, streamed row by row in natural id order.

Amounts leave as decimal strings in major units, formatted with the exponent stored on the
payment or invoice they belong to; dates are ISO 8601 and datetimes ISO 8601 in UTC.

Natural order: ids that differ only in their trailing number sort by that number (``INV-7``
before ``INV-10``). The sort key is computed in SQL — the id without its trailing digits, then
the id's length, then the id — so the database sorts, a page starts after the last row of the
one before (keyset), and no export ever holds the table in memory.

CSV cells of text columns (ids, names, references, notes, reasons, Slack user ids) that a
spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return, as OWASP lists) get a leading ``'``; so does a cell that already starts with quotes
followed by one of those, which keeps the rule reversible: an import removes exactly one
leading ``'`` from such a cell (see ``unneutralize``), so an exported file imports back to the
same values. Amounts are never touched (they are never negative); JSON and ``raw`` CSV carry
every value as stored.

One read-only transaction streams the whole table, so the export is one consistent snapshot
and blocks nobody: on PostgreSQL through a server-side cursor; on SQLite as a WAL snapshot that
never takes the write lock (see ``slackbot.db``), so a slow reader (``slackbot export journal |
less``) never makes the bot wait. The database sorts (spilling to disk when it must) and rows
are fetched a page at a time, so memory stays flat however large the table.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import re
from collections.abc import Callable, Iterator
from enum import StrEnum
from typing import Any, TextIO

from sqlalchemy import ColumnElement, Row, Select, func, literal, select, union_all

from models.enums import AllocationStatus
from models.tables import (
    Allocation,
    Invoice,
    JournalEntry,
    JournalLine,
    Partner,
    PartnerMember,
    Payment,
)
from models.workspaces import PartnerTeam
from slackbot.db import Database
from slackbot.money import to_decimal_string

PAGE_ROWS = 2000


class ExportKind(StrEnum):
    PARTNERS = "partners"
    MEMBERS = "members"
    PAYMENTS = "payments"
    INVOICES = "invoices"
    ALLOCATIONS = "allocations"
    JOURNAL = "journal"


class ExportFormat(StrEnum):
    CSV = "csv"
    JSON = "json"


# The contract's columns come first and in its order; columns added later go after them.
COLUMNS: dict[ExportKind, tuple[str, ...]] = {
    ExportKind.PARTNERS: ("partner_id", "name"),
    # A team link (the whole workspace or org acts for the partner) has no slack_user_id.
    ExportKind.MEMBERS: ("partner_id", "slack_user_id", "slack_team_id"),
    ExportKind.PAYMENTS: (
        "payment_id",
        "partner_id",
        "currency",
        "amount",
        "allocated",
        "pending",
        "unallocated",
        "received_on",
        "reference",
    ),
    ExportKind.INVOICES: (
        "invoice_id",
        "partner_id",
        "currency",
        "amount",
        "amount_due",
        "pending",
        "issued_on",
        "due_on",
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
        "requested_at",
        "partner_id",
        "note",
        "cancelled_by",
        # Issue 11: the request a line belongs to (its first line's allocation_id); the lines
        # of a request of several lines share it, a request of one line is its own.
        "request_id",
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

# Columns holding text that came from a person or the ERP; only these are neutralized in CSV.
TEXT_COLUMNS = frozenset(
    {
        "partner_id",
        "name",
        "slack_user_id",
        "payment_id",
        "invoice_id",
        "reference",
        "requested_by",
        "decided_by",
        "cancelled_by",
        "reason",
        "note",
        "account",
        # The ERP round trip's batches (:mod:`slackbot.erp.batches`) and acknowledgements.
        "reversal_reason",
        "erp_reference",
    }
)
# OWASP's list of characters that make a spreadsheet read a cell as a formula. A cell made of
# quotes and then one of them is neutralized too, so that removing one quote undoes the rule.
_FORMULA_START = re.compile(r"'*[=+\-@\t\r]")
_NEUTRALIZED = re.compile(r"'+[=+\-@\t\r]")

Record = dict[str, str | int | None]


def neutralize(value: str) -> str:
    """The CSV cell for a text value: a leading ``'`` when a spreadsheet would run it."""
    return "'" + value if _FORMULA_START.match(value) else value


def unneutralize(value: str) -> str:
    """The value a neutralized cell stands for: the exact inverse of :func:`neutralize`."""
    return value[1:] if _NEUTRALIZED.match(value) else value


def export(
    db: Database,
    kind: ExportKind | str,
    out: TextIO,
    export_format: ExportFormat | str = ExportFormat.CSV,
    *,
    raw: bool = False,
) -> int:
    """Write every row of ``kind`` to ``out``; returns how many rows were written.

    CSV text cells are neutralized (see the module's docstring) unless ``raw``.
    """
    kind = ExportKind(kind)
    export_format = ExportFormat(export_format)
    records = export_records(db, kind)
    if export_format is ExportFormat.CSV:
        return _write_csv(COLUMNS[kind], records, out, raw=raw)
    return _write_json(records, out)


def export_records(db: Database, kind: ExportKind | str) -> Iterator[Record]:
    """The rows of an export as dicts keyed by the contract's column names, in id order.

    Values are as stored (never neutralized).
    """
    kind = ExportKind(kind)
    return _EXPORTS[kind](db)


# ----------------------------------------------------------------------------------- the kinds


def natural_key(column: Any, dialect: str = "sqlite") -> tuple[ColumnElement[Any], ...]:
    """The SQL sort key that puts ``INV-7`` before ``INV-10``: the id without its trailing
    digits, then its length (a longer trailing number is a bigger one), then the id itself.

    Text compares by code point on both backends (SQLite's default; ``COLLATE "C"`` on
    PostgreSQL), so an export's order does not depend on the server's locale.
    """
    if dialect == "postgresql":
        column = column.collate("C")
    return (func.rtrim(column, "0123456789"), func.length(column), column)


def _natural(
    db: Database, stmt: Select[*tuple[Any, ...]], column: Any, *also: Any
) -> Select[*tuple[Any, ...]]:
    """``stmt`` in natural order of ``column``, then in code-point order of ``also``."""
    if db.dialect == "postgresql":
        also = tuple(other.collate("C") for other in also)
    return stmt.order_by(*natural_key(column, db.dialect), *also)


def _partners(db: Database) -> Iterator[Record]:
    stmt = _natural(db, select(Partner.partner_id, Partner.name), Partner.partner_id)
    for row in _stream(db, stmt):
        yield {"partner_id": row.partner_id, "name": row.name}


def _members(db: Database) -> Iterator[Record]:
    """People (with the team they are pinned to, if any), then each partner's team links, with
    an empty ``slack_user_id``: the members file's own shape, so the export imports back."""
    people = select(
        PartnerMember.partner_id.label("partner_id"),
        PartnerMember.slack_user_id.label("slack_user_id"),
        func.coalesce(PartnerMember.slack_team_id, "").label("slack_team_id"),
        literal(0).label("link"),
    )
    teams = select(PartnerTeam.partner_id, literal(""), PartnerTeam.slack_team_id, literal(1))
    both = union_all(people, teams).subquery()
    user: ColumnElement[Any] = both.c.slack_user_id
    team: ColumnElement[Any] = both.c.slack_team_id
    if db.dialect == "postgresql":
        user, team = user.collate("C"), team.collate("C")
    stmt = select(both.c.partner_id, both.c.slack_user_id, both.c.slack_team_id).order_by(
        *natural_key(both.c.partner_id, db.dialect), both.c.link, user, team
    )
    for row in _stream(db, stmt):
        yield {
            "partner_id": row.partner_id,
            "slack_user_id": row.slack_user_id,
            "slack_team_id": row.slack_team_id,
        }


def _payments(db: Database) -> Iterator[Record]:
    stmt = _natural(
        db,
        select(
            Payment.payment_id,
            Payment.partner_id,
            Payment.currency,
            Payment.exponent,
            Payment.amount,
            Payment.allocated,
            Payment.pending,
            Payment.unallocated.label("unallocated"),
            Payment.received_on,
            Payment.reference,
        ),
        Payment.payment_id,
    )
    for row in _stream(db, stmt):
        amount = _amount_formatter(row.currency, row.exponent)
        yield {
            "payment_id": row.payment_id,
            "partner_id": row.partner_id,
            "currency": row.currency,
            "amount": amount(row.amount),
            "allocated": amount(row.allocated),
            "pending": amount(row.pending),
            "unallocated": amount(row.unallocated),
            "received_on": row.received_on.isoformat(),
            "reference": row.reference,
        }


def _invoices(db: Database) -> Iterator[Record]:
    stmt = _natural(
        db,
        select(
            Invoice.invoice_id,
            Invoice.partner_id,
            Invoice.currency,
            Invoice.exponent,
            Invoice.amount,
            Invoice.amount_due.label("amount_due"),
            Invoice.pending,
            Invoice.issued_on,
            Invoice.due_on,
        ),
        Invoice.invoice_id,
    )
    for row in _stream(db, stmt):
        amount = _amount_formatter(row.currency, row.exponent)
        yield {
            "invoice_id": row.invoice_id,
            "partner_id": row.partner_id,
            "currency": row.currency,
            "amount": amount(row.amount),
            "amount_due": amount(row.amount_due),
            "pending": amount(row.pending),
            "issued_on": row.issued_on.isoformat(),
            "due_on": row.due_on.isoformat(),
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
            Allocation.requested_at,
            Allocation.partner_id,
            Allocation.note,
            Allocation.request_id,
            Payment.exponent,
        )
        .join(Payment, Payment.payment_id == Allocation.payment_id)
        .order_by(Allocation.allocation_id)
    )
    for row in _stream(db, stmt):
        yield {
            "allocation_id": row.allocation_id,
            "payment_id": row.payment_id,
            "invoice_id": row.invoice_id,
            "currency": row.currency,
            "amount": to_decimal_string(row.amount, row.currency, row.exponent),
            "status": row.status,
            "requested_by": row.requested_by,
            # A cancelled request is decided by its requester, who withdrew it; cancelled_by
            # says so outright, so a reader need not compare decided_by with requested_by.
            "decided_by": row.decided_by,
            "decided_at": _utc_iso(row.decided_at),
            "reason": row.reason,
            "requested_at": _utc_iso(row.requested_at),
            "partner_id": row.partner_id,
            "note": row.note,
            "cancelled_by": row.decided_by if row.status == AllocationStatus.CANCELLED else None,
            "request_id": row.request_id,
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

    for row in _stream(db, stmt):
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
    ExportKind.PARTNERS: _partners,
    ExportKind.MEMBERS: _members,
    ExportKind.PAYMENTS: _payments,
    ExportKind.INVOICES: _invoices,
    ExportKind.ALLOCATIONS: _allocations,
    ExportKind.JOURNAL: _journal,
}


# ----------------------------------------------------------------------------------- streaming


def _stream(db: Database, stmt: Select[*tuple[Any, ...]]) -> Iterator[Row[*tuple[Any, ...]]]:
    """Rows of ``stmt`` from one read-only snapshot, fetched ``PAGE_ROWS`` at a time."""
    with db.transaction(read_only=True) as session:
        yield from session.execute(stmt.execution_options(yield_per=PAGE_ROWS))


def _amount_formatter(currency: str, exponent: int) -> Callable[[int], str]:
    return lambda minor: to_decimal_string(minor, currency, exponent)


def _utc_iso(value: dt.datetime | None) -> str | None:
    """ISO 8601 in UTC (every stored moment reads back aware, see ``models.tables.UTCDateTime``)."""
    return None if value is None else value.astimezone(dt.UTC).isoformat()


# ----------------------------------------------------------------------------------- formats


def _write_csv(
    columns: tuple[str, ...], records: Iterator[Record], out: TextIO, *, raw: bool = False
) -> int:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    text = () if raw else tuple(name in TEXT_COLUMNS for name in columns)
    count = 0
    for record in records:
        cells = ["" if record[name] is None else record[name] for name in columns]
        if text:
            cells = [
                neutralize(cell) if is_text and isinstance(cell, str) else cell
                for cell, is_text in zip(cells, text, strict=True)
            ]
        writer.writerow(cells)
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
