"""CSV imports from the ERP: validate every row, then upsert all of them in one transaction.

A file is streamed row by row and written in chunks, so memory stays flat however long it is.
Everything happens inside one transaction: if any row is bad, every bad row is reported (with its
file line number and what is wrong, in an operator's words) and the transaction is rolled back,
so the database is exactly as it was. Importing the same file twice changes nothing: a row equal
to what is stored is counted as unchanged and never written. Rows missing from the file are left
alone — an import never deletes.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import IO, Any, SupportsIndex

from sqlalchemy import Connection, Table, bindparam, delete, insert, select, update

from models.tables import (
    Allocation,
    AuditEvent,
    Invoice,
    Partner,
    PartnerMember,
    Payment,
    utcnow,
)
from slackbot.db import Database
from slackbot.erp.exports import COLUMNS as EXPORT_COLUMNS
from slackbot.erp.exports import TEXT_COLUMNS, ExportKind, unneutralize
from slackbot.erp.members import partners_by_case, record_removals
from slackbot.errors import InvalidInput
from slackbot.money import (
    currency_exponent,
    format_amount,
    normalize_currency,
    parse_amount,
    to_decimal_string,
)
from slackbot.outbox.owed import owe_balance_refreshes

# Rows per write: big enough that executemany amortizes round trips, small enough that one
# chunk's ``WHERE id IN (...)`` stays far below every backend's bound-parameter limit.
CHUNK_ROWS = 2000
PROGRESS_ROWS = 1000
# Bad rows printed per kind of problem; the rest are counted.
SHOWN_PER_PROBLEM = 50
# Ids per IN (...) list when looking up a whole file's partners.
_IN_CHUNK = 500

MAX_ID = 64
MAX_NAME = 200
MAX_REFERENCE = 500
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}", re.ASCII)
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# Control characters other than tab and line breaks: PostgreSQL refuses NUL in text outright.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ZERO = re.compile(r"0+(?:\.(?P<frac>0+))?", re.ASCII)


class ImportKind(StrEnum):
    PARTNERS = "partners"
    MEMBERS = "members"
    PAYMENTS = "payments"
    INVOICES = "invoices"


HEADERS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.PARTNERS: ("partner_id", "name"),
    ImportKind.MEMBERS: ("partner_id", "slack_user_id"),
    ImportKind.PAYMENTS: (
        "payment_id",
        "partner_id",
        "amount",
        "currency",
        "received_on",
        "reference",
    ),
    ImportKind.INVOICES: ("invoice_id", "partner_id", "amount", "currency", "issued_on", "due_on"),
}
# Columns a file may leave out, after the required ones.
OPTIONAL_COLUMNS: dict[ImportKind, tuple[str, ...]] = {ImportKind.INVOICES: ("amount_due",)}


@dataclass(frozen=True)
class BadRow:
    """One bad line of the file: its line number (the header is line 1) and what is wrong.

    ``kind`` is the problem without this row's own values, for grouping rows that share it.
    """

    line: int
    problem: str
    kind: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


class ImportRejected(Exception):
    """The file has bad rows; nothing was written. ``bad_rows`` lists every one, in file order."""

    def __init__(self, kind: ImportKind, bad_rows: Sequence[BadRow], rows_read: int) -> None:
        self.kind = kind
        self.bad_rows = list(bad_rows)
        self.rows_read = rows_read
        count = len(self.bad_rows)
        super().__init__(
            f"{kind}: nothing imported; {count:,} bad row{'s' if count != 1 else ''}"
            f" (of {rows_read:,} read)"
        )

    def grouped(self, shown_per_kind: int = SHOWN_PER_PROBLEM) -> tuple[list[BadRow], list[str]]:
        """The first ``shown_per_kind`` bad rows of each kind of problem, in file order, and
        one line per kind with more, saying how many more rows have it."""
        shown: list[BadRow] = []
        counts: dict[str, int] = {}
        first_line: dict[str, int] = {}
        for bad in self.bad_rows:
            kind = bad.kind or bad.problem
            counts[kind] = counts.get(kind, 0) + 1
            first_line.setdefault(kind, bad.line)
            if counts[kind] <= shown_per_kind:
                shown.append(bad)
        more = []
        for kind, count in counts.items():
            hidden = count - shown_per_kind
            if hidden > 0:
                more.append(
                    f"... and {hidden:,} more row{'s' if hidden != 1 else ''} with the same"
                    f" problem as line {first_line[kind]} ({kind})"
                )
        return shown, more


@dataclass(frozen=True)
class ImportResult:
    kind: ImportKind
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    # Members no longer listed for the partners a ``replace`` import names; None otherwise.
    removed: int | None = None

    def summary(self) -> str:
        rows = "row" if self.rows_read == 1 else "rows"
        removed = "" if self.removed is None else f", {self.removed} removed"
        return (
            f"{self.kind}: {self.rows_read} {rows} read, {self.inserted} inserted,"
            f" {self.updated} updated, {self.unchanged} unchanged{removed}"
        )


def import_csv(
    db: Database,
    kind: ImportKind | str,
    source: IO[bytes] | IO[str] | Iterable[bytes] | Iterable[str],
    *,
    source_name: str = "-",
    actor: str = "cli",
    chunk_rows: int = CHUNK_ROWS,
    on_progress: Callable[[int, int], None] | None = None,
    replace: bool = False,
) -> ImportResult:
    """Upsert a CSV file of ``kind`` keyed by its first column, all or nothing.

    ``source`` yields lines: bytes (decoded as UTF-8, a leading BOM tolerated) or text.
    ``on_progress`` is called with the number of bytes consumed since its last call and the
    number of rows read so far.
    ``replace`` (members only): the file is the complete list of members of every partner it
    names; members of those partners that it does not list are removed (and audited, one event
    each). Partners the file does not name keep their members.
    Raises :class:`ImportRejected` listing every bad row; the database is then unchanged.
    """
    kind = ImportKind(kind)
    if replace and kind is not ImportKind.MEMBERS:
        raise ValueError("replace applies to members files only")
    reader = _SourceReader(source)
    rows = _rows_of(reader)
    run = _ImportRun(kind, _SPECS[kind], chunk_rows)
    with db.transaction() as session:
        connection = session.connection()
        header = next(rows, None)
        if header is None and reader.error is None:
            run.bad.append(
                BadRow(1, f"the file is empty; expected the header {_header_text(kind)}")
            )
        elif header is not None:
            run.read_header(*header)
        if not run.bad:
            for line, values in rows:
                run.add(connection, line, values)
                if on_progress is not None and run.rows_read % PROGRESS_ROWS == 0:
                    on_progress(reader.take_progress(), run.rows_read)
            run.flush(connection)
        if reader.error is not None:
            run.bad.append(reader.error)
        if run.bad:
            raise ImportRejected(kind, sorted(run.bad, key=lambda bad: bad.line), run.rows_read)
        removed: list[tuple[str, str]] = []
        if replace:
            removed = _remove_unlisted_members(connection, set(run._seen))
            record_removals(
                session, removed, actor=actor, via="import --replace", source=source_name
            )
        result = ImportResult(
            kind,
            run.rows_read,
            run.inserted,
            run.updated,
            run.unchanged,
            removed=len(removed) if replace else None,
        )
        if run.updated_keys and kind in _SHOWN_ON_PENDING:
            # Pending requests' billing messages show these rows' figures and names.
            column = _SHOWN_ON_PENDING[kind]
            pending = session.execute(
                select(Allocation.allocation_id, Allocation.requested_by, column).where(
                    Allocation.status == "pending"
                )
            ).all()
            owe_balance_refreshes(
                session,
                [(row[0], row[1]) for row in pending if row[2] in run.updated_keys],
                utcnow(),
            )
        if result.inserted or result.updated or removed:
            # An import that changed nothing leaves no trace, so re-running it is truly a no-op.
            session.add(
                AuditEvent(
                    actor=actor,
                    action=f"import.{kind}",
                    subject=f"import:{kind}",
                    detail={
                        "source": source_name,
                        "sha256": reader.sha256.hexdigest(),
                        "bytes": reader.bytes_read,
                        "rows_read": result.rows_read,
                        "inserted": result.inserted,
                        "updated": result.updated,
                        "unchanged": result.unchanged,
                        **({"replace": True, "removed": len(removed)} if replace else {}),
                    },
                )
            )
    if on_progress is not None and reader.unreported:
        on_progress(reader.take_progress(), run.rows_read)
    return result


def _remove_unlisted_members(
    connection: Connection, listed: set[tuple[str, str]]
) -> list[tuple[str, str]]:
    """Delete the members of the partners named in ``listed`` that ``listed`` leaves out."""
    partners = sorted({partner_id for partner_id, _ in listed})
    unlisted: list[tuple[str, str]] = []
    for start in range(0, len(partners), _IN_CHUNK):
        rows = connection.execute(
            select(PartnerMember.partner_id, PartnerMember.slack_user_id)
            .where(PartnerMember.partner_id.in_(partners[start : start + _IN_CHUNK]))
            .order_by(PartnerMember.partner_id, PartnerMember.slack_user_id)
        ).all()
        unlisted.extend((row[0], row[1]) for row in rows if (row[0], row[1]) not in listed)
    if unlisted:
        connection.execute(
            delete(PartnerMember).where(
                PartnerMember.partner_id == bindparam("_partner"),
                PartnerMember.slack_user_id == bindparam("_user"),
            ),
            [{"_partner": partner, "_user": user} for partner, user in unlisted],
        )
    return unlisted


# ------------------------------------------------------------------------------ reading the file


class _SourceReader:
    """Lines of the source as text, counting and hashing bytes; stops at the first undecodable."""

    def __init__(self, source: Iterable[bytes] | Iterable[str]) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0
        self.unreported = 0
        self.lines_read = 0
        self.error: BadRow | None = None

    def take_progress(self) -> int:
        taken, self.unreported = self.unreported, 0
        return taken

    def __iter__(self) -> Iterator[str]:
        for raw in self._source:
            self.lines_read += 1
            if isinstance(raw, bytes):
                data = raw
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.error = BadRow(
                        self.lines_read,
                        f"this line is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column"
                        f" {exc.start + 1}); save the file as CSV UTF-8 and import it again",
                    )
                    return
            else:
                text = raw
                data = raw.encode("utf-8", "surrogatepass")
            self.sha256.update(data)
            self.bytes_read += len(data)
            self.unreported += len(data)
            if self.lines_read == 1:
                text = text.removeprefix("\ufeff")
            yield text


def _rows_of(reader: _SourceReader) -> Iterator[tuple[int, list[str]]]:
    """CSV records with the file line each starts on; blank lines are skipped."""
    records = csv.reader(reader, strict=True)
    last_line = 0
    while True:
        try:
            values = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            if reader.error is None:
                reader.error = BadRow(
                    records.line_num or 1,
                    f"this is not valid CSV ({exc}); check quotes and separators",
                )
            return
        start, last_line = last_line + 1, records.line_num
        if not values or all(not value.strip() for value in values):
            continue
        yield start, [value.strip() for value in values]


def _delimiter_hint(values: list[str]) -> str:
    """Advice for a file that Excel or an ERP saved with semicolons or tabs between columns."""
    text = ",".join(values)
    for separator, name in ((";", "semicolons"), ("\t", "tabs")):
        if separator in text:
            return (
                f" (the values look separated by {name}; columns must be separated by commas:"
                " save the file as CSV UTF-8, comma-delimited)"
            )
    return ""


def _header_text(kind: ImportKind) -> str:
    optional = OPTIONAL_COLUMNS.get(kind, ())
    text = ",".join(HEADERS[kind])
    return text + "".join(f"[,{name}]" for name in optional)


# ----------------------------------------------------------------------------- checking values


class _Problems(list[str]):
    """What is wrong with one row, in the order the columns appear.

    Each problem has a kind: its message without the row's own values, so a file with 200,000
    rows naming the same unknown partner is reported as one problem 200,000 times.
    """

    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[str] = []

    def append(self, problem: str, kind: str | None = None) -> None:
        super().append(problem)
        self.kinds.append(kind or problem)

    def insert(self, index: SupportsIndex, problem: str, kind: str | None = None) -> None:
        super().insert(index, problem)
        self.kinds.insert(index, kind or problem)

    def kind(self) -> str:
        return " + ".join(self.kinds)


def _required_id(problems: _Problems, column: str, value: str) -> str | None:
    if not value:
        problems.append(f"{column} is empty")
        return None
    if len(value) > MAX_ID:
        problems.append(f"{column} is longer than {MAX_ID} characters")
        return None
    if not value.isprintable():
        problems.append(f"{column} contains control characters")
        return None
    return value


def _text(problems: _Problems, column: str, value: str, limit: int, *, required: bool) -> str:
    if required and not value:
        problems.append(f"{column} is empty")
    elif len(value) > limit:
        problems.append(f"{column} is longer than {limit} characters")
    elif _CONTROL.search(value):
        problems.append(f"{column} contains control characters")
    return value


class _CurrencyCache:
    """Currency codes seen in this file, so a 100,000-row file asks CLDR a handful of times."""

    def __init__(self) -> None:
        self._codes: dict[str, tuple[str, int] | str] = {}

    def check(self, problems: _Problems, value: str) -> tuple[str, int] | None:
        known = self._codes.get(value)
        if known is None:
            if not value:
                known = "currency is empty"
            else:
                try:
                    code = normalize_currency(value)
                except InvalidInput as exc:
                    known = f"currency: {exc.message}"
                else:
                    known = (code, currency_exponent(code))
            self._codes[value] = known
        if isinstance(known, str):
            problems.append(known, "currency is not an ISO 4217 code")
            return None
        return known


def _amount(problems: _Problems, column: str, value: str, currency: str | None) -> int | None:
    if not value:
        problems.append(f"{column} is empty")
        return None
    if currency is None:
        return None  # the currency's problem is already reported; its decimals are unknown
    try:
        return parse_amount(value, currency, field=column)
    except InvalidInput as exc:
        problems.append(f"{column}: {exc.message}", f"{column} is not a valid amount")
        return None


def _amount_or_zero(
    problems: _Problems, column: str, value: str, currency: str | None
) -> int | None:
    """Like an amount, but zero is allowed (an invoice paid in full before it reached us)."""
    zero = _ZERO.fullmatch(value)
    if zero is None:
        if value.startswith("-"):
            problems.append(
                f"{column} cannot be negative; you entered {value}", f"{column} is negative"
            )
            return None
        return _amount(problems, column, value, currency)
    if currency is None:
        return None
    decimals = len(zero["frac"] or "")
    exponent = currency_exponent(currency)
    if decimals > exponent:
        places = "no decimals" if exponent == 0 else f"at most {exponent} decimals"
        problems.append(
            f"{column}: {currency} amounts have {places}; you entered {value}.",
            f"{column} is not a valid amount",
        )
        return None
    return 0


def _date(problems: _Problems, column: str, value: str) -> dt.date | None:
    if not value:
        problems.append(f"{column} is empty")
        return None
    if _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(
        f"{column}: {value} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-24",
        f"{column} is not a date",
    )
    return None


# ------------------------------------------------------------------------------- the four kinds


@dataclass
class _Row:
    """One data row on its way to the database; ``record`` is None when it cannot be written."""

    line: int
    key: Any
    record: dict[str, Any] | None
    partner_id: str | None
    problems: _Problems


class _Spec:
    """How one kind of file maps onto its table. Subclasses fill in the parsing and the checks."""

    table: Table
    key_columns: tuple[str, ...]
    # Columns the file controls; a stored row equal on all of them is "unchanged".
    compared: tuple[str, ...]
    needs_partner = True
    lock_existing = False

    def parse(
        self, values: dict[str, str], problems: _Problems, currencies: _CurrencyCache
    ) -> dict[str, Any] | None:
        raise NotImplementedError

    def key_of(self, record: dict[str, Any]) -> Any:
        return record[self.key_columns[0]]

    def describe_key(self, key: Any) -> str:
        return f"{self.key_columns[0]} {key}"

    def existing(self, connection: Connection, keys: list[Any]) -> dict[Any, dict[str, Any]]:
        column = self.table.c[self.key_columns[0]]
        stmt = select(self.table).where(column.in_(keys))
        if self.lock_existing:
            # On PostgreSQL, hold the rows whose balances we check until the import commits, so
            # no allocation can slip in between the check and the write.
            stmt = stmt.with_for_update()
        return {row[self.key_columns[0]]: dict(row) for row in connection.execute(stmt).mappings()}

    def conflicts(self, connection: Connection, pairs: list[tuple[_Row, dict[str, Any]]]) -> None:
        """Add a problem to each row whose change would break what is already recorded."""

    def insert_values(self, record: dict[str, Any]) -> dict[str, Any]:
        return record


class _PartnerSpec(_Spec):
    table = Partner.__table__  # type: ignore[assignment]
    key_columns = ("partner_id",)
    compared = ("name",)
    needs_partner = False

    def parse(
        self, values: dict[str, str], problems: _Problems, currencies: _CurrencyCache
    ) -> dict[str, Any] | None:
        partner_id = _required_id(problems, "partner_id", values["partner_id"])
        name = _text(problems, "name", values["name"], MAX_NAME, required=True)
        if problems:
            return None
        return {"partner_id": partner_id, "name": name}


class _MemberSpec(_Spec):
    table = PartnerMember.__table__  # type: ignore[assignment]
    key_columns = ("partner_id", "slack_user_id")
    compared = ()

    def parse(
        self, values: dict[str, str], problems: _Problems, currencies: _CurrencyCache
    ) -> dict[str, Any] | None:
        partner_id = _required_id(problems, "partner_id", values["partner_id"])
        user_id = values["slack_user_id"]
        if not user_id:
            problems.append("slack_user_id is empty")
        elif not _SLACK_USER_ID.fullmatch(user_id):
            problems.append(
                f"slack_user_id: {user_id[:40]} does not look like a Slack user ID (U or W"
                " followed by capital letters and digits, e.g. U0123ABCD; copy it from the"
                " person's Slack profile, Copy member ID)",
                "slack_user_id does not look like a Slack user ID",
            )
        if problems:
            return None
        return {"partner_id": partner_id, "slack_user_id": user_id}

    def key_of(self, record: dict[str, Any]) -> Any:
        return (record["partner_id"], record["slack_user_id"])

    def describe_key(self, key: Any) -> str:
        return f"member {key[1]} of partner {key[0]}"

    def existing(self, connection: Connection, keys: list[Any]) -> dict[Any, dict[str, Any]]:
        users = sorted({user for _, user in keys})
        wanted = set(keys)
        rows = connection.execute(
            select(self.table).where(self.table.c.slack_user_id.in_(users))
        ).mappings()
        found = {(row["partner_id"], row["slack_user_id"]): dict(row) for row in rows}
        return {key: row for key, row in found.items() if key in wanted}


class _BalanceSpec(_Spec):
    """Payments and invoices: money rows whose balances allocations keep."""

    lock_existing = True
    noun: str
    key_column: str
    # The stored balances an import must leave room for, and the column they must fit in.
    held: tuple[str, str]
    limit_column: str
    limit_label: str

    def conflicts(self, connection: Connection, pairs: list[tuple[_Row, dict[str, Any]]]) -> None:
        moving = [
            (row, old)
            for row, old in pairs
            if row.record is not None
            and (
                row.record["partner_id"] != old["partner_id"]
                or row.record["currency"] != old["currency"]
            )
        ]
        with_allocations: set[str] = set()
        if moving:
            column = getattr(Allocation, self.key_column)
            keys = sorted({old[self.key_column] for _, old in moving})
            with_allocations = set(
                connection.execute(select(column).where(column.in_(keys)).distinct()).scalars()
            )
        for row, old in pairs:
            record = row.record
            if record is None:
                continue
            key = old[self.key_column]
            if key in with_allocations:
                if record["partner_id"] != old["partner_id"]:
                    row.problems.append(
                        f"{self.noun} {key} already has allocation requests, so its partner"
                        f" cannot change from {old['partner_id']} to {record['partner_id']}",
                        f"{self.noun} with allocation requests changes partner",
                    )
                if record["currency"] != old["currency"]:
                    row.problems.append(
                        f"{self.noun} {key} already has allocation requests, so its currency"
                        f" cannot change from {old['currency']} to {record['currency']}",
                        f"{self.noun} with allocation requests changes currency",
                    )
                continue
            first, second = self.held
            held = old[first] + old[second]
            if record[self.limit_column] < held and record["currency"] == old["currency"]:
                currency = old["currency"]
                row.problems.append(
                    f"{self.limit_label}: {self.noun} {key} already has"
                    f" {format_amount(held, currency)} {self.held_words(old)}; it cannot drop to"
                    f" {format_amount(record[self.limit_column], currency)}",
                    f"{self.limit_label} below what is allocated or pending",
                )

    def held_words(self, old: dict[str, Any]) -> str:
        raise NotImplementedError


class _PaymentSpec(_BalanceSpec):
    table = Payment.__table__  # type: ignore[assignment]
    key_columns = ("payment_id",)
    key_column = "payment_id"
    noun = "payment"
    compared = ("partner_id", "currency", "exponent", "amount", "received_on", "reference")
    held = ("allocated", "pending")
    limit_column = "amount"
    limit_label = "amount"

    def parse(
        self, values: dict[str, str], problems: _Problems, currencies: _CurrencyCache
    ) -> dict[str, Any] | None:
        payment_id = _required_id(problems, "payment_id", values["payment_id"])
        partner_id = _required_id(problems, "partner_id", values["partner_id"])
        currency = currencies.check(problems, values["currency"])
        amount = _amount(problems, "amount", values["amount"], currency and currency[0])
        received_on = _date(problems, "received_on", values["received_on"])
        reference = _text(problems, "reference", values["reference"], MAX_REFERENCE, required=False)
        if problems or currency is None:
            return None
        return {
            "payment_id": payment_id,
            "partner_id": partner_id,
            "currency": currency[0],
            "exponent": currency[1],
            "amount": amount,
            "received_on": received_on,
            "reference": reference,
        }

    def insert_values(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "allocated": 0, "pending": 0}

    def held_words(self, old: dict[str, Any]) -> str:
        return "allocated or awaiting approval"


class _InvoiceSpec(_BalanceSpec):
    table = Invoice.__table__  # type: ignore[assignment]
    key_columns = ("invoice_id",)
    key_column = "invoice_id"
    noun = "invoice"
    compared = (
        "partner_id",
        "currency",
        "exponent",
        "amount",
        "opening_due",
        "issued_on",
        "due_on",
    )
    held = ("applied", "pending")
    limit_column = "opening_due"
    limit_label = "amount_due"

    def parse(
        self, values: dict[str, str], problems: _Problems, currencies: _CurrencyCache
    ) -> dict[str, Any] | None:
        invoice_id = _required_id(problems, "invoice_id", values["invoice_id"])
        partner_id = _required_id(problems, "partner_id", values["partner_id"])
        currency = currencies.check(problems, values["currency"])
        code = currency and currency[0]
        amount = _amount(problems, "amount", values["amount"], code)
        issued_on = _date(problems, "issued_on", values["issued_on"])
        due_on = _date(problems, "due_on", values["due_on"])
        if issued_on and due_on and due_on < issued_on:
            problems.append(
                f"due_on {due_on} is before issued_on {issued_on}", "due_on is before issued_on"
            )
        raw_due = values.get("amount_due", "")
        amount_due = (
            amount if not raw_due else _amount_or_zero(problems, "amount_due", raw_due, code)
        )
        if amount is not None and amount_due is not None and amount_due > amount and code:
            problems.append(
                f"amount_due {raw_due} is more than the invoice amount"
                f" {to_decimal_string(amount, code)}",
                "amount_due is more than the invoice amount",
            )
        if problems or currency is None:
            return None
        return {
            "invoice_id": invoice_id,
            "partner_id": partner_id,
            "currency": currency[0],
            "exponent": currency[1],
            "amount": amount,
            "opening_due": amount_due,
            "issued_on": issued_on,
            "due_on": due_on,
        }

    def insert_values(self, record: dict[str, Any]) -> dict[str, Any]:
        return {**record, "applied": 0, "pending": 0}

    def held_words(self, old: dict[str, Any]) -> str:
        return "paid by approved allocations or awaiting approval"


_SPECS: dict[ImportKind, _Spec] = {
    ImportKind.PARTNERS: _PartnerSpec(),
    ImportKind.MEMBERS: _MemberSpec(),
    ImportKind.PAYMENTS: _PaymentSpec(),
    ImportKind.INVOICES: _InvoiceSpec(),
}


# ------------------------------------------------------------------------------------ the run

# The column of a pending allocation that names an imported row its billing message shows.
_SHOWN_ON_PENDING = {
    ImportKind.PARTNERS: Allocation.partner_id,
    ImportKind.PAYMENTS: Allocation.payment_id,
    ImportKind.INVOICES: Allocation.invoice_id,
}


@dataclass
class _ImportRun:
    kind: ImportKind
    spec: _Spec
    chunk_rows: int
    columns: tuple[str, ...] = ()
    # The file is an export of this bot (``slackbot export``), read by column name.
    from_export: bool = False
    bad: list[BadRow] = field(default_factory=list)
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    updated_keys: set[Any] = field(default_factory=set)
    _chunk: list[_Row] = field(default_factory=list)
    _seen: dict[Any, int] = field(default_factory=dict)
    _partners: set[str] = field(default_factory=set)
    # Unknown partner ids seen so far and the known id each differs from only by case, if any.
    _case_matches: dict[str, str | None] = field(default_factory=dict)
    _currencies: _CurrencyCache = field(default_factory=_CurrencyCache)

    def read_header(self, line: int, values: list[str]) -> None:
        names = tuple(value.lower() for value in values)
        required = HEADERS[self.kind]
        optional = OPTIONAL_COLUMNS.get(self.kind, ())
        allowed = [required + optional[:n] for n in range(len(optional) + 1)]
        exported = EXPORT_COLUMNS[ExportKind(self.kind.value)]
        if names == exported and names not in allowed:
            self.from_export = True
        elif names not in allowed:
            found = ",".join(values)[:200]
            self.bad.append(
                BadRow(
                    line,
                    f"the header must be {_header_text(self.kind)} (a {self.kind} file);"
                    f" found {found}{_delimiter_hint(values)}",
                    "the header",
                )
            )
            return
        self.columns = names

    def add(self, connection: Connection, line: int, values: list[str]) -> None:
        self.rows_read += 1
        problems = _Problems()
        record: dict[str, Any] | None = None
        key: Any = None
        partner_id: str | None = None
        if len(values) != len(self.columns):
            problems.append(
                f"expected {len(self.columns)} columns ({','.join(self.columns)}),"
                f" found {len(values)}{_delimiter_hint(values)}",
                f"found {len(values)} columns",
            )
        else:
            named = {
                # An exported CSV cell may carry a ' that kept a spreadsheet from running it.
                name: unneutralize(value) if name in TEXT_COLUMNS else value
                for name, value in zip(self.columns, values, strict=True)
            }
            candidate = named.get("partner_id", "")
            # Only an id that could exist is looked up (PostgreSQL refuses NUL in text); a
            # malformed one is reported by the row's own checks.
            if (
                self.spec.needs_partner
                and candidate
                and len(candidate) <= MAX_ID
                and candidate.isprintable()
            ):
                partner_id = candidate
            record = self.spec.parse(named, problems, self._currencies)
            if record is not None:
                key = self.spec.key_of(record)
                earlier = self._seen.get(key)
                if earlier is not None:
                    problems.append(
                        f"{self.spec.describe_key(key)} is already on line {earlier} of this file",
                        "the same id is on an earlier line of this file",
                    )
                    record = None
                else:
                    self._seen[key] = line
        self._chunk.append(_Row(line, key, record, partner_id, problems))
        if len(self._chunk) >= self.chunk_rows:
            self.flush(connection)

    def flush(self, connection: Connection) -> None:
        chunk, self._chunk = self._chunk, []
        if not chunk:
            return
        if self.spec.needs_partner:
            self._check_partners(connection, chunk)
        writable = [row for row in chunk if row.record is not None and not row.problems]
        existing = self.spec.existing(connection, [row.key for row in writable]) if writable else {}
        pairs = [(row, existing[row.key]) for row in writable if row.key in existing]
        self.spec.conflicts(connection, pairs)
        if self.from_export and self.kind is ImportKind.INVOICES:
            self._check_exported_amount_due(pairs)
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        for row in chunk:
            if row.problems or row.record is None:
                problem = "; ".join(p.rstrip(".") for p in row.problems)
                self.bad.append(BadRow(row.line, problem, row.problems.kind()))
                continue
            old = existing.get(row.key)
            if old is None:
                inserts.append(self.spec.insert_values(row.record))
            elif any(row.record[name] != old[name] for name in self.spec.compared):
                updates.append(row.record)
            else:
                self.unchanged += 1
        self.inserted += len(inserts)
        self.updated += len(updates)
        if self.bad:
            return  # the run will be rolled back; keep checking, stop writing
        table = self.spec.table
        if inserts:
            connection.execute(insert(table), inserts)
        if updates:
            key = self.spec.key_columns[0]
            self.updated_keys.update(record[key] for record in updates)
            stmt = (
                update(table)
                .where(table.c[key] == bindparam("_key"))
                .values({name: bindparam(f"_new_{name}") for name in self.spec.compared})
            )
            connection.execute(
                stmt,
                [
                    {"_key": record[key], **{f"_new_{n}": record[n] for n in self.spec.compared}}
                    for record in updates
                ],
            )

    @staticmethod
    def _check_exported_amount_due(pairs: list[tuple[_Row, dict[str, Any]]]) -> None:
        """An export's amount_due is what is left after allocations made here; imported over
        an invoice that has some, it would count them twice."""
        for row, old in pairs:
            if (
                row.record is not None
                and old["applied"]
                and (row.record["opening_due"] != old["opening_due"])
            ):
                row.problems.append(
                    f"invoice {old['invoice_id']} already has"
                    f" {format_amount(old['applied'], old['currency'])} paid by allocations made"
                    " here, and an export's amount_due is what is left after them, so importing"
                    " it would count them twice; import the ERP's invoices file instead",
                    "an exported amount_due over an invoice with approved allocations",
                )

    def _check_partners(self, connection: Connection, chunk: list[_Row]) -> None:
        wanted = {row.partner_id for row in chunk if row.partner_id} - self._partners
        if wanted:
            found = connection.execute(
                select(Partner.partner_id).where(Partner.partner_id.in_(sorted(wanted)))
            ).scalars()
            self._partners.update(found)
        missing = {row.partner_id for row in chunk if row.partner_id} - self._partners
        if missing - self._case_matches.keys():
            matches = partners_by_case(connection, missing - self._case_matches.keys())
            for partner_id in missing:
                self._case_matches.setdefault(partner_id, matches.get(partner_id.lower()))
        for row in chunk:
            if row.partner_id and row.partner_id not in self._partners:
                shown = row.partner_id[:MAX_ID]
                known = self._case_matches.get(row.partner_id)
                advice = (
                    f"did you mean {known}? (partner ids are case-sensitive)"
                    if known
                    else "import it with `slackbot import partners` first"
                )
                row.problems.insert(
                    0,
                    f"partner_id {shown} is not a known partner; {advice}",
                    "partner_id is not a known partner",
                )
