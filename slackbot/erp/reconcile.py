"""``slackbot reconcile``: every difference between the ERP's payments and invoices and the ledger.

Nothing is changed. Each file is read and checked as its import would (the same header, the
same row checks, the fast path for the plain shape), streamed into a temporary table of one
read-only transaction (``COPY`` on PostgreSQL, ``executemany`` on SQLite; see
:mod:`slackbot.erp.temp_table`) and compared with the ledger in SQL, one statement per kind of
difference, so a file of a million rows is a few scans, never a million lookups. Allocations
are compared through what the ERP acknowledged (:mod:`slackbot.erp.applied`).

The kinds (``Difference.kind``): ``payment_missing_in_ledger``, ``payment_missing_in_erp``,
``payment_twice_in_erp``, ``payment_partner``, ``payment_currency``, ``payment_amount``; the
same six for ``invoice_``, and ``invoice_amount_due``; ``allocation_not_booked`` (approved
here, not acknowledged by the ERP) and ``allocation_reversed_but_booked`` (reversed here, the
ERP booked it and has not acknowledged the reversal: it counts the money twice).

An invoice's expected ``amount_due`` follows the mode of the invoices import: the amount due
before this bot's allocations (the contract's rule: the ledger's opening_due), or with
``amount_due_includes_applied`` that less what the ERP booked of them.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any, TextIO

from sqlalchemy import Connection, text

from models.enums import AllocationStatus
from slackbot.db import Database
from slackbot.erp.exports import neutralize, unneutralize
from slackbot.erp.reader import (
    BadRow,
    ImportKind,
    SourceReader,
    delimiter_hint,
    read_header,
    records_of,
)
from slackbot.erp.results import ImportRejected
from slackbot.erp.rows import FAST_CHECKS, ROW_CHECKS, CurrencyCache, Problems, stage_row
from slackbot.erp.staging import BOOKED_BY_INVOICE, INVOICES, PAYMENTS, MoneyTable
from slackbot.erp.temp_table import TempTable
from slackbot.money import to_decimal_string

CHUNK_ROWS = 20_000
PAGE_ROWS = 5_000
COLUMNS = ("kind", "id", "currency", "erp", "ledger", "line", "detail")
Source = IO[bytes] | IO[str] | Iterable[bytes] | Iterable[str]


@dataclass(frozen=True)
class Difference:
    """One difference: its kind, the id, the currency, both figures (None: not there)."""

    kind: str
    id: str
    currency: str
    erp: str | None
    ledger: str | None
    detail: str
    line: int | None = None

    def record(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in COLUMNS}

    def __str__(self) -> str:
        line = f" line={self.line}" if self.line is not None else ""
        return (
            f"{self.kind} {self.id} {self.currency} erp={self.erp or '-'}"
            f" ledger={self.ledger or '-'}{line}: {self.detail}"
        )


@dataclass
class Summary:
    """Per currency: ``figure -> [erp, ledger]`` totals in minor units, and the differences."""

    totals: dict[str, dict[str, list[int]]] = field(default_factory=dict)
    exponents: dict[str, int] = field(default_factory=dict)
    differences: dict[str, int] = field(default_factory=dict)

    @property
    def count(self) -> int:
        return sum(self.differences.values())

    def add(self, currency: str, exponent: int, figure: str, side: int, minor: int) -> None:
        self.exponents[currency] = max(self.exponents.get(currency, 0), exponent)
        pair = self.totals.setdefault(currency, {}).setdefault(figure, [0, 0])
        pair[side] += minor

    def lines(self) -> Iterator[Difference]:
        """The totals as rows of kind ``total`` (id: the figure), one per currency and figure."""
        for currency in sorted(set(self.totals) | set(self.differences)):
            exponent = self.exponents.get(currency, 2)
            for figure, (erp, ledger) in sorted(self.totals.get(currency, {}).items()):
                yield Difference(
                    "total",
                    figure,
                    currency,
                    _money(erp, currency, exponent),
                    _money(ledger, currency, exponent),
                    "the ERP's file and the ledger",
                )
            count = self.differences.get(currency, 0)
            yield Difference("total", "differences", currency, None, None, f"{count} found")


def reconcile(
    db: Database,
    on_difference: Callable[[Difference], None],
    *,
    payments: Source | None = None,
    invoices: Source | None = None,
    amount_due_includes_applied: bool = False,
) -> Summary:
    """Compare the given files (and the allocations) with the ledger, calling ``on_difference``
    for each difference in turn; returns the totals. Raises :class:`ImportRejected` for a file
    it cannot read."""
    summary = Summary()

    def found(difference: Difference) -> None:
        summary.differences[difference.currency] = (
            summary.differences.get(difference.currency, 0) + 1
        )
        on_difference(difference)

    with db.transaction(read_only=True) as session:
        connection = session.connection()
        if payments is not None:
            _compare(connection, PAYMENTS, payments, found, summary, folded=False)
        if invoices is not None:
            _compare(
                connection, INVOICES, invoices, found, summary, folded=amount_due_includes_applied
            )
        _allocations(connection, found)
    return summary


# ------------------------------------------------------------------------------- one file


def _money(minor: Any, currency: str, exponent: int) -> str:
    # PostgreSQL sums bigints as numeric: Decimal here, int on SQLite.
    return to_decimal_string(int(minor), currency, exponent)


def _stage(connection: Connection, money: MoneyTable, source: Source) -> TempTable:
    kind = ImportKind(money.table)
    stage = TempTable(
        connection,
        f"reconcile_{money.table}",
        (("line", "integer"), *zip(money.columns, money.types, strict=True)),
    )
    reader = SourceReader(source)
    records = records_of(reader)
    bad: list[BadRow] = []
    header = next(records, None)
    columns: tuple[str, ...] = ()
    if header is None and reader.error is None:
        bad.append(BadRow(1, f"the file is empty; expected a {kind} file's header"))
    elif isinstance(header, BadRow):
        bad.append(header)
    elif header is not None:
        parsed = read_header(kind, *header)
        if isinstance(parsed, BadRow):
            bad.append(parsed)
        elif parsed.from_export:
            bad.append(BadRow(header[0], "this is the bot's export; give the ERP's own file"))
        else:
            columns = parsed.columns
    fast, check, currencies = FAST_CHECKS[kind], ROW_CHECKS[kind], CurrencyCache()
    chunk: list[tuple[Any, ...]] = []
    for record in records if not bad else ():
        if isinstance(record, BadRow):
            bad.append(record)
            continue
        line, values = record
        staged = fast(values, currencies.good) if len(values) == len(columns) else None
        if staged is None:
            staged = _checked(kind, check, columns, line, values, currencies, bad)
        if staged is not None and not bad:
            chunk.append((line, *staged))
            if len(chunk) >= CHUNK_ROWS:
                stage.write(chunk)
                chunk = []
    if reader.error is not None:
        bad.append(reader.error)
    if bad:
        stage.close()
        raise ImportRejected(f"reconcile {kind}", bad, len(bad))
    stage.write(chunk)
    stage.index(money.key)
    return stage


def _checked(
    kind: ImportKind,
    check: Any,
    columns: tuple[str, ...],
    line: int,
    values: list[str],
    currencies: CurrencyCache,
    bad: list[BadRow],
) -> tuple[Any, ...] | None:
    if len(values) != len(columns):
        found = f"found {len(values)}{delimiter_hint(values)}"
        bad.append(BadRow(line, f"expected {len(columns)} columns, {found}"))
        return None
    problems = Problems()
    named = {name: unneutralize(value) for name, value in zip(columns, values, strict=True)}
    record = check(named, problems, currencies)
    if record is None or problems:
        bad.append(BadRow(line, "; ".join(problems), problems.kind()))
        return None
    return stage_row(kind, record)


def _compare(
    connection: Connection,
    money: MoneyTable,
    source: Source,
    found: Callable[[Difference], None],
    summary: Summary,
    *,
    folded: bool,
) -> None:
    stage = _stage(connection, money, source)
    noun, key, table, name = money.table[:-1], money.key, money.table, stage.name
    invoices = money is INVOICES
    # The ERP's amount_due as the ledger expects it, in the file's mode.
    expected = "t.opening_due - COALESCE(b.booked, 0)" if folded else "t.opening_due"
    booked = f" LEFT JOIN ({BOOKED_BY_INVOICE}) b ON b.invoice_id = t.{key}" if folded else ""
    due_detail = (
        "the ledger's amount due before allocations here, less what the ERP booked of them"
        if folded
        else "the ledger's amount due before allocations here"
    )

    def rows(sql: str) -> Iterator[Any]:
        yield from connection.execution_options(yield_per=PAGE_ROWS).execute(text(sql))

    for line, ident, currency, exponent, amount in rows(
        f"SELECT s.line, s.{key}, s.currency, s.exponent, s.amount FROM {name} s"
        f" WHERE NOT EXISTS (SELECT 1 FROM {table} t WHERE t.{key} = s.{key}) ORDER BY s.line"
    ):
        shown = _money(amount, currency, exponent)
        found(
            Difference(
                f"{noun}_missing_in_ledger",
                ident,
                currency,
                shown,
                None,
                f"the ERP has this {noun}; the ledger does not (import it)",
                line,
            )
        )
    for ident, currency, exponent, amount in rows(
        f"SELECT t.{key}, t.currency, t.exponent, t.amount FROM {table} t"
        f" WHERE NOT EXISTS (SELECT 1 FROM {name} s WHERE s.{key} = t.{key}) ORDER BY t.{key}"
    ):
        shown = _money(amount, currency, exponent)
        found(
            Difference(
                f"{noun}_missing_in_erp",
                ident,
                currency,
                None,
                shown,
                f"the ledger has this {noun}; the ERP's file does not",
            )
        )
    for ident, count, first, currency in rows(
        f"SELECT {key}, COUNT(*), MIN(line), MIN(currency) FROM {name}"
        f" GROUP BY {key} HAVING COUNT(*) > 1 ORDER BY MIN(line)"
    ):
        found(
            Difference(
                f"{noun}_twice_in_erp",
                ident,
                currency,
                None,
                None,
                f"the ERP's file has this {noun} {count} times",
                first,
            )
        )
    due = f", s.opening_due, {expected}" if invoices else ", 0, 0"
    differs = f" OR s.opening_due <> {expected}" if invoices else ""
    for (
        line,
        ident,
        exponent,
        partner,
        t_partner,
        currency,
        t_currency,
        amount,
        t_amount,
        erp_due,
        t_due,
    ) in rows(
        f"SELECT s.line, s.{key}, t.exponent, s.partner_id, t.partner_id, s.currency,"
        f" t.currency, s.amount, t.amount{due} FROM {name} s JOIN {table} t ON t.{key} = s.{key}"
        f"{booked} WHERE s.partner_id <> t.partner_id OR s.currency <> t.currency"
        f" OR s.amount <> t.amount{differs} ORDER BY s.line"
    ):
        if partner != t_partner:
            found(
                Difference(
                    f"{noun}_partner", ident, t_currency, partner, t_partner, "partner_id", line
                )
            )
        if currency != t_currency:
            found(
                Difference(
                    f"{noun}_currency", ident, t_currency, currency, t_currency, "currency", line
                )
            )
        if currency == t_currency and amount != t_amount:
            found(
                Difference(
                    f"{noun}_amount",
                    ident,
                    currency,
                    _money(amount, currency, exponent),
                    _money(t_amount, currency, exponent),
                    "amount",
                    line,
                )
            )
        if invoices and currency == t_currency and erp_due != t_due:
            found(
                Difference(
                    "invoice_amount_due",
                    ident,
                    currency,
                    _money(erp_due, currency, exponent),
                    _money(t_due, currency, exponent),
                    f"amount_due; the ledger's figure is {due_detail}",
                    line,
                )
            )
    figures = ", SUM(opening_due)" if invoices else ""
    for currency, exponent, total, *more in rows(
        f"SELECT currency, MAX(exponent), SUM(amount){figures} FROM {name} GROUP BY currency"
    ):
        summary.add(currency, exponent, f"{table}_amount", 0, int(total))
        if invoices:
            summary.add(currency, exponent, "invoices_amount_due", 0, int(more[0]))
    ledger_due = f", SUM({expected})" if invoices else ""
    for currency, exponent, total, *more in rows(
        f"SELECT t.currency, MAX(t.exponent), SUM(t.amount){ledger_due} FROM {table} t{booked}"
        " GROUP BY t.currency"
    ):
        summary.add(currency, exponent, f"{table}_amount", 1, int(total))
        if invoices:
            summary.add(currency, exponent, "invoices_amount_due", 1, int(more[0]))
    stage.close()


# ------------------------------------------------------------------------------ allocations


def _allocations(connection: Connection, found: Callable[[Difference], None]) -> None:
    approved, reversed_ = AllocationStatus.APPROVED.value, AllocationStatus.REVERSED.value
    result = connection.execution_options(yield_per=PAGE_ROWS).execute(
        text(
            "SELECT a.allocation_id, a.invoice_id, a.currency, p.exponent, a.amount, a.status,"
            " e.batch_id, e.reversal_batch_id FROM allocations a"
            " JOIN payments p ON p.payment_id = a.payment_id"
            " LEFT JOIN erp_allocations e ON e.allocation_id = a.allocation_id"
            " WHERE (a.status = :approved AND e.acknowledged_at IS NULL)"
            " OR (a.status = :reversed AND e.acknowledged_at IS NOT NULL"
            " AND e.reversal_acknowledged_at IS NULL) ORDER BY a.allocation_id"
        ),
        {"approved": approved, "reversed": reversed_},
    )
    for ident, invoice, currency, exponent, amount, status, batch, reversal_batch in result:
        shown = _money(amount, currency, exponent)
        if status == approved:
            handed = f"handed over in batch {batch}" if batch else "not exported yet"
            found(
                Difference(
                    "allocation_not_booked",
                    str(ident),
                    currency,
                    None,
                    shown,
                    f"approved here on {invoice}, {handed}; the ERP has not acknowledged it",
                )
            )
        else:
            handed = f"batch {reversal_batch}" if reversal_batch else "not exported yet"
            found(
                Difference(
                    "allocation_reversed_but_booked",
                    str(ident),
                    currency,
                    shown,
                    None,
                    f"reversed here on {invoice} (its reversal: {handed}); the ERP booked it"
                    " and has not acknowledged the reversal",
                )
            )


# ------------------------------------------------------------------------------- the report


class ReportFormat(StrEnum):
    TEXT = "text"
    CSV = "csv"
    JSON = "json"


class Report:
    """Writes each difference as it is found (one line each), then the totals, to ``out``.

    ``text``: ``KIND ID CURRENCY erp=… ledger=… [line=N]: detail``; ``csv``: the columns
    :data:`COLUMNS` under a header; ``json``: one object per line (JSON Lines). Totals are rows
    of kind ``total`` in every format.
    """

    def __init__(self, out: TextIO, report_format: ReportFormat | str = ReportFormat.TEXT) -> None:
        self.out = out
        self.format = ReportFormat(report_format)
        self.writer = csv.writer(out, lineterminator="\n")
        if self.format is ReportFormat.CSV:
            self.writer.writerow(COLUMNS)

    def __call__(self, difference: Difference) -> None:
        if self.format is ReportFormat.TEXT:
            self.out.write(f"{difference}\n")
        elif self.format is ReportFormat.CSV:
            record = difference.record()
            self.writer.writerow(
                [neutralize(v) if isinstance(v, str) else v for v in record.values()]
            )
        else:
            self.out.write(json.dumps(difference.record(), ensure_ascii=False) + "\n")

    def totals(self, summary: Summary) -> None:
        for line in summary.lines():
            self(line)
