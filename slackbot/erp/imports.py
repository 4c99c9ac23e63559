"""The import run: every row checked, then all of them upserted in one transaction, or none.

A file is streamed row by row (:mod:`slackbot.erp.reader`), each row checked on its own
(:mod:`slackbot.erp.rows`) and against what is stored (unknown partners, rows that allocations
hold), and written in chunks; payments and invoices are staged and upserted set-based
(:mod:`slackbot.erp.staging`). All in one transaction: if any row is bad, every bad row is
reported (its line number and what is wrong, in an operator's words) and nothing is written.
The same file twice changes nothing: a row equal to what is stored is never written. Rows missing
from the file are left alone (but ``replace`` for members). What a change owes the people
watching (billing messages, Homes) goes through :mod:`slackbot.outbox`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import IO, Any, Literal

from sqlalchemy import Connection, Table, bindparam, insert, select, update

from models.enums import AllocationStatus
from models.limits import MAX_ID, is_key
from models.tables import Allocation, AuditEvent, Invoice, Partner, PartnerMember, Payment
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.erp.exports import TEXT_COLUMNS, unneutralize
from slackbot.erp.members import (
    describe_member,
    member_key,
    partners_by_case,
    record_removals,
    record_team_removals,
    remove_unlisted_members,
    upsert_members,
)
from slackbot.erp.partner_locale import partner_compared
from slackbot.erp.reader import (
    PROGRESS_ROWS,
    BadRow,
    Header,
    ImportKind,
    SourceReader,
    delimiter_hint,
    empty_file,
    read_header,
    records_of,
)
from slackbot.erp.results import ImportRejected, ImportResult
from slackbot.erp.rows import (
    FAST_CHECKS,
    ROW_CHECKS,
    CurrencyCache,
    FastCheck,
    Problems,
    Record,
    RowCheck,
    StageRow,
    stage_row,
)
from slackbot.erp.staging import INVOICES, PAYMENTS, MoneyTable, Stage
from slackbot.errors import InvalidInput
from slackbot.ledger.rules import check_import_keeps_held, check_import_keeps_owner
from slackbot.money import format_amount, to_decimal_string
from slackbot.outbox.home_queue import mark_for_partners
from slackbot.outbox.owed import owe_balance_refreshes

__all__ = ["BadRow", "ImportKind", "ImportRejected", "ImportResult", "import_csv"]

# Rows per write: big enough that executemany amortizes round trips, small enough that one
# chunk's ``WHERE id IN (...)`` stays far below every backend's bound-parameter limit.
CHUNK_ROWS = 2000
# Rows per write to a money file's stage, which looks nothing up by IN (...).
STAGE_CHUNK_ROWS = 20_000
# Ids per IN (...) list when looking up a whole file's partners.
_IN_CHUNK = 500


def import_csv(
    db: Database,
    kind: ImportKind | str,
    source: IO[bytes] | IO[str] | Iterable[bytes] | Iterable[str],
    *,
    source_name: str = "-",
    actor: str = "cli",
    chunk_rows: int | None = None,
    on_progress: Callable[[int, int], None] | None = None,
    replace: bool = False,
    clock: Clock = system_clock,
    amount_due_includes_applied: bool = False,
) -> ImportResult:
    """Upsert a CSV file of ``kind`` keyed by its first column, all or nothing.

    ``source`` yields lines: bytes (decoded as UTF-8, a leading BOM tolerated) or text.
    ``on_progress`` is called with the number of bytes consumed since its last call and the
    number of rows read so far.
    ``replace`` (members only): the file is the complete list of members of every partner it
    names; members of those partners that it does not list are removed (and audited, one event
    each). Partners the file does not name keep their members.
    ``clock`` stamps the audit events and the messages the import owes.
    ``amount_due_includes_applied`` (invoices only): each row's amount_due already counts the
    allocations the ERP acknowledged booking (``slackbot import applied``), so they are added
    back to make the amount due before this bot's allocations (the contract's rule).
    Raises :class:`ImportRejected` listing every bad row; the database is then unchanged.
    """
    kind = ImportKind(kind)
    if replace and kind is not ImportKind.MEMBERS:
        raise ValueError("replace applies to members files only")
    reader = SourceReader(source)
    rows = records_of(reader)
    spec = _SPECS[kind]
    if chunk_rows is None:
        chunk_rows = CHUNK_ROWS if spec.money is None else STAGE_CHUNK_ROWS
    if amount_due_includes_applied and kind is not ImportKind.INVOICES:
        raise ValueError("amount_due_includes_applied applies to invoices files only")
    run = _ImportRun(kind, spec, chunk_rows, folded=amount_due_includes_applied)
    with db.transaction() as session, contextlib.closing(run):
        connection = session.connection()
        header = next(rows, None)
        if isinstance(header, BadRow):
            run.bad.append(header)
        elif header is None and reader.error is None:
            run.bad.append(empty_file(kind))
        elif header is not None:
            run.read_header(*header)
        if not run.bad:
            run.start(connection)
            for record in rows:
                if isinstance(record, BadRow):
                    run.not_csv(record)
                else:
                    run.add(connection, *record)
                if on_progress is not None and run.rows_read % PROGRESS_ROWS == 0:
                    on_progress(reader.take_progress(), run.rows_read)
            run.flush(connection)
            run.finish(connection)
        if reader.error is not None:
            run.bad.append(reader.error)
        if run.bad:
            raise ImportRejected(kind, sorted(run.bad, key=lambda bad: bad.line), run.rows_read)
        now = clock()
        removed: list[tuple[str, str]] = []  # (partner, person) pairs, then (partner, team)
        people = 0
        if replace:
            removed, unlinked = remove_unlisted_members(connection, set(run.seen))
            record_removals(
                session, removed, actor=actor, via="import --replace", at=now, source=source_name
            )
            record_team_removals(
                session, unlinked, actor=actor, at=now, via="import --replace", source=source_name
            )
            people, removed = len(removed), removed + unlinked
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
                    Allocation.status == AllocationStatus.PENDING
                )
            ).all()
            owe_balance_refreshes(
                session, [(row[0], row[1]) for row in pending if row[2] in run.updated_keys], now
            )
        if result.inserted or result.updated or removed:
            # Whose Home changed: the partners' members, the approvers, each removed member.
            touched, gone = run._partners | {p for p, _ in removed}, removed[:people]
            mark_for_partners(session, touched, also=[user for _, user in gone], at=now)
            # An import that changed nothing leaves no trace, so re-running it is truly a no-op.
            session.add(
                AuditEvent(
                    at=now,
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


# --------------------------------------------------------------------- each kind's table


@dataclass
class _Row:
    """One data row on its way to the database; ``record`` is None when it cannot be written."""

    line: int
    key: Any
    record: Record | None
    partner_id: str | None
    problems: Problems


class _Spec:
    """How one kind of file maps onto its table: its key, what it compares, its conflicts."""

    table: Table
    key_columns: tuple[str, ...]
    # Columns the file controls; a stored row equal on all of them is "unchanged".
    compared: tuple[str, ...]
    needs_partner = True
    # Set for the kinds written set-based through a stage (:mod:`slackbot.erp.staging`).
    money: MoneyTable | None = None

    def __init__(self, check_row: RowCheck) -> None:
        self.check_row = check_row

    def key_of(self, record: Record) -> Any:
        return record[self.key_columns[0]]

    def describe_key(self, key: Any) -> str:
        return f"{self.key_columns[0]} {key}"

    def existing(self, connection: Connection, keys: list[Any]) -> dict[Any, dict[str, Any]]:
        column = self.table.c[self.key_columns[0]]
        stmt = select(self.table).where(column.in_(keys))
        return {row[self.key_columns[0]]: dict(row) for row in connection.execute(stmt).mappings()}

    def conflicts(self, connection: Connection, pairs: list[tuple[_Row, dict[str, Any]]]) -> None:
        """Add a problem to each row whose change would break what is already recorded."""

    def compared_in(self, header: Header) -> tuple[str, ...]:
        return self.compared


class _PartnerSpec(_Spec):
    table = Partner.__table__  # type: ignore[assignment]
    key_columns = ("partner_id",)
    compared = ("name",)
    needs_partner = False

    def compared_in(self, header: Header) -> tuple[str, ...]:
        return partner_compared(header.columns)  # the locale only when the file has it


class _MemberSpec(_Spec):
    """People and whole teams: :mod:`slackbot.erp.members` writes both tables."""

    table = PartnerMember.__table__  # type: ignore[assignment]
    key_columns = ("partner_id", "slack_user_id")
    compared = ()

    def key_of(self, record: Record) -> Any:
        return member_key(record)

    def describe_key(self, key: Any) -> str:
        return describe_member(key)


# What a payment or invoice with allocation requests keeps: its column and how a problem names it.
_OWNERS: tuple[tuple[Literal["partner_id", "currency"], str], ...] = (
    ("partner_id", "partner"),
    ("currency", "currency"),
)


class _BalanceSpec(_Spec):
    """Payments and invoices: money rows whose balances allocations keep.

    What such a row may not become once allocations hold part of it is the ledger's rule
    (:mod:`slackbot.ledger.rules`); this only finds the rows to ask about.
    """

    noun: Literal["payment", "invoice"]
    key_column: str
    # The stored balances an import must leave room for (settled, pending), and the column
    # they must fit in.
    held: tuple[str, str]
    limit_column: str

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
                for owner, what in _OWNERS:
                    try:
                        check_import_keeps_owner(
                            self.noun, key, column=owner, old=old[owner], new=record[owner]
                        )
                    except InvalidInput as exc:
                        row.problems.append(
                            exc.message, f"{self.noun} with allocation requests changes {what}"
                        )
                continue
            if record["currency"] != old["currency"]:
                continue  # no allocation names it, so nothing is held to compare with
            settled, pending = self.held
            try:
                check_import_keeps_held(
                    self.noun,
                    key,
                    new_limit=record[self.limit_column],
                    settled=old[settled],
                    pending=old[pending],
                    currency=old["currency"],
                )
            except InvalidInput as exc:
                row.problems.append(
                    f"{exc.field}: {exc.message}", f"{exc.field} below what is allocated or pending"
                )


class _PaymentSpec(_BalanceSpec):
    table = Payment.__table__  # type: ignore[assignment]
    key_columns = ("payment_id",)
    key_column = "payment_id"
    noun = "payment"
    compared = ("partner_id", "currency", "exponent", "amount", "received_on", "reference")
    held = ("allocated", "pending")
    limit_column = "amount"
    money = PAYMENTS


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
    money = INVOICES


_SPECS: dict[ImportKind, _Spec] = {
    ImportKind.PARTNERS: _PartnerSpec(ROW_CHECKS[ImportKind.PARTNERS]),
    ImportKind.MEMBERS: _MemberSpec(ROW_CHECKS[ImportKind.MEMBERS]),
    ImportKind.PAYMENTS: _PaymentSpec(ROW_CHECKS[ImportKind.PAYMENTS]),
    ImportKind.INVOICES: _InvoiceSpec(ROW_CHECKS[ImportKind.INVOICES]),
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
    # An invoices file whose amount_due counts what the ERP booked (``fold_booked``).
    folded: bool = False
    header: Header = field(default_factory=lambda: Header(()))
    bad: list[BadRow] = field(default_factory=list)
    rows_read: int = 0
    inserted: int = 0
    updated: int = 0
    unchanged: int = 0
    updated_keys: set[Any] = field(default_factory=set)
    _chunk: list[_Row] = field(default_factory=list)
    seen: dict[Any, int] = field(default_factory=dict)
    _partners: set[str] = field(default_factory=set)
    # Unknown partner ids seen so far and the known id each differs from only by case, if any.
    _case_matches: dict[str, str | None] = field(default_factory=dict)
    _currencies: CurrencyCache = field(default_factory=CurrencyCache)
    # Money kinds: the stage, the fast check of a row in the plain header's order, and the
    # chunk's rows it passed, as ``(line, *stage columns)``.
    stage: Stage | None = None
    _fast: FastCheck | None = None
    _width: int = 0
    _fast_rows: list[StageRow] = field(default_factory=list)

    def read_header(self, line: int, values: list[str]) -> None:
        header = read_header(self.kind, line, values)
        if isinstance(header, BadRow):
            self.bad.append(header)
        else:
            self.header = header

    def start(self, connection: Connection) -> None:
        """Ready to take rows: a money file gets its stage (and, in the plain order, the fast
        check)."""
        if self.spec.money is None:
            return
        self.stage = Stage(connection, self.spec.money)
        if not self.header.from_export:
            self._fast = FAST_CHECKS[self.kind]
            self._width = len(self.header.columns)

    def close(self) -> None:
        if self.stage is not None:
            self.stage.close()

    def finish(self, connection: Connection) -> None:
        """Money kinds, once every row is staged: compare, check against allocations, write."""
        stage, spec = self.stage, self.spec
        if stage is None or spec.money is None:
            return
        key = spec.money.key
        if self.folded:
            for line, invoice, currency, exponent, amount, due, booked in stage.fold_booked():
                figures = (amount, due, booked)
                shown = [to_decimal_string(int(n), currency, exponent) for n in figures]
                self.bad.append(
                    BadRow(
                        line,
                        f"invoice {invoice}: amount_due {shown[1]} {currency} plus the {shown[2]}"
                        f" the ERP booked from allocations here (slackbot import applied) is more"
                        f" than its amount {shown[0]}; is the amount_due really after them?",
                        "amount_due plus what the ERP booked is more than the amount",
                    )
                )
            if self.bad:
                return
        pairs = [
            (_Row(found.line, found.old[key], found.new, None, Problems()), found.old)
            for found in stage.candidates(
                exported_amount_due=self.header.from_export and self.kind is ImportKind.INVOICES
            )
        ]
        spec.conflicts(connection, pairs)
        if self.header.from_export and self.kind is ImportKind.INVOICES:
            self._check_exported_amount_due(pairs)
        for row, _ in pairs:
            if row.problems:
                self._reject(row)
        if self.bad:
            return  # the run will be rolled back: nothing to count, lock or write
        existing, changed = stage.compare()
        self.inserted = stage.rows - existing
        self.updated = len(changed)
        self.unchanged = existing - len(changed)
        self.updated_keys.update(changed)
        stage.upsert(new=self.inserted > 0, changed=bool(changed))

    def _reject(self, row: _Row) -> None:
        problem = "; ".join(p.rstrip(".") for p in row.problems)
        self.bad.append(BadRow(row.line, problem, row.problems.kind()))

    def not_csv(self, bad: BadRow) -> None:
        """A record the CSV reader could not split: read, bad, and never written."""
        self.rows_read += 1
        self.bad.append(bad)

    def add(self, connection: Connection, line: int, values: list[str]) -> None:
        if self._fast is not None and len(values) == self._width:
            staged = self._fast(values, self._currencies.good)
            if staged is not None and staged[0] not in self.seen:
                self.rows_read += 1
                self.seen[staged[0]] = line
                self._fast_rows.append((line, *staged))
                if len(self._fast_rows) + len(self._chunk) >= self.chunk_rows:
                    self.flush(connection)
                return
        self.rows_read += 1
        problems = Problems()
        record: Record | None = None
        key: Any = None
        partner_id: str | None = None
        if len(values) != len(self.header.columns):
            problems.append(
                f"expected {len(self.header.columns)} columns ({','.join(self.header.columns)}),"
                f" found {len(values)}{delimiter_hint(values)}",
                f"found {len(values)} columns",
            )
        else:
            named = {
                # An exported CSV cell may carry a ' that kept a spreadsheet from running it.
                name: unneutralize(value) if name in TEXT_COLUMNS else value
                for name, value in zip(self.header.columns, values, strict=True)
            }
            candidate = named.get("partner_id", "")
            # Only an id that could exist is looked up (PostgreSQL refuses NUL in text); a
            # malformed one is reported by the row's own checks.
            if self.spec.needs_partner and is_key(candidate):
                partner_id = candidate
            record = self.spec.check_row(named, problems, self._currencies)
            if record is not None:
                key = self.spec.key_of(record)
                earlier = self.seen.get(key)
                if earlier is not None:
                    problems.append(
                        f"{self.spec.describe_key(key)} is already on line {earlier} of this file",
                        "the same id is on an earlier line of this file",
                    )
                    record = None
                else:
                    self.seen[key] = line
        self._chunk.append(_Row(line, key, record, partner_id, problems))
        if len(self._chunk) + len(self._fast_rows) >= self.chunk_rows:
            self.flush(connection)

    def flush(self, connection: Connection) -> None:
        if self.stage is not None:
            self._flush_staged(connection, self.stage)
            return
        chunk, self._chunk = self._chunk, []
        if not chunk:
            return
        if self.spec.needs_partner:
            self._check_partners(connection, chunk)
        if self.kind is ImportKind.MEMBERS:
            self._write_members(connection, chunk)
            return
        # Partners: compared in Python, a chunk at a time.
        writable = [row for row in chunk if row.record is not None and not row.problems]
        existing = self.spec.existing(connection, [row.key for row in writable]) if writable else {}
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        compared = self.spec.compared_in(self.header)
        for row in chunk:
            if row.problems or row.record is None:
                self._reject(row)
                continue
            old = existing.get(row.key)
            if old is None:
                inserts.append(row.record)
            elif any(row.record[name] != old[name] for name in compared):
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
                .values({name: bindparam(f"_new_{name}") for name in compared})
            )
            connection.execute(
                stmt,
                [
                    {"_key": record[key], **{f"_new_{n}": record[n] for n in compared}}
                    for record in updates
                ],
            )

    def _write_members(self, connection: Connection, chunk: list[_Row]) -> None:
        records = []
        for row in chunk:
            if row.problems or row.record is None:
                self._reject(row)
            else:
                records.append(row.record)
        if self.bad or not records:
            return  # the run will be rolled back; keep checking, stop writing
        counts = upsert_members(
            connection, records, with_teams="slack_team_id" in self.header.columns
        )
        self.inserted += counts[0]
        self.updated += counts[1]
        self.unchanged += counts[2]

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

    def _flush_staged(self, connection: Connection, stage: Stage) -> None:
        """Stage the chunk's rows whose partner is known; the others are bad rows."""
        chunk, self._chunk = self._chunk, []
        fast, self._fast_rows = self._fast_rows, []
        partners = {row[2] for row in fast}
        self._check_partners(connection, chunk, partners)
        if not partners <= self._partners:
            known = self._partners
            unknown = [row for row in fast if row[2] not in known]
            fast = [row for row in fast if row[2] in known]
            chunk.extend(_Row(row[0], row[1], None, row[2], Problems()) for row in unknown)
            self._check_partners(connection, chunk[-len(unknown) :])
        for row in chunk:
            if row.problems or row.record is None:
                self._reject(row)
            else:
                fast.append((row.line, *stage_row(self.kind, row.record)))
        stage.write(fast)

    def _check_partners(
        self, connection: Connection, chunk: list[_Row], more: Iterable[str] = ()
    ) -> None:
        wanted = sorted(
            {row.partner_id for row in chunk if row.partner_id}.union(more) - self._partners
        )
        for start in range(0, len(wanted), _IN_CHUNK):
            found = connection.execute(
                select(Partner.partner_id).where(
                    Partner.partner_id.in_(wanted[start : start + _IN_CHUNK])
                )
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
