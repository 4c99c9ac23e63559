"""A realistic ledger, fast: partners, members, payments, invoices and a decided history.

Set-based: rows are generated in Python and written in large batches, ``COPY`` on PostgreSQL and
SQLAlchemy Core ``executemany`` on SQLite (the same column types the bot writes with). The
history of decided requests carries its journal entries and lines, its audit events, its sent
outbox rows and its message refs, and the payments' ``allocated`` / invoices' ``applied`` agree
with the journal, so ``check_books`` passes on the result.

Besides the bulk it seeds the benchmark's subjects (``SUBJECTS``): a partner with 50 payments,
a partner with 5,000 open invoices in one currency, a partner whose requests wait for approval,
and the approvers.

    python -m bench.seed --database-url sqlite:///big.db --partners 10000 \
        --payments 1000000 --invoices 1000000
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import Table, func, insert, select, text, update  # noqa: E402
from sqlalchemy.exc import DBAPIError  # noqa: E402

from models import balances  # noqa: E402
from models.enums import AllocationStatus, Audience, EntryKind, OutboxKind  # noqa: E402
from models.tables import (  # noqa: E402
    Allocation,
    AuditEvent,
    Invoice,
    JournalEntry,
    JournalLine,
    OutboxMessage,
    Partner,
    PartnerMember,
    Payment,
    SlackMessageRef,
)
from slackbot.db import CLI_LOCK_WAIT_MS, Database, retrying_locking_protocol  # noqa: E402
from slackbot.ledger.books import check_books  # noqa: E402
from slackbot.ledger.posting import receivable_account, unapplied_cash_account  # noqa: E402
from slackbot.migrate import upgrade  # noqa: E402

BILLING_CHANNEL = "C0BENCH"
# (code, exponent, share of partners): most partners bill in one major currency.
CURRENCIES = (
    ("USD", 2, 0.55),
    ("EUR", 2, 0.25),
    ("GBP", 2, 0.10),
    ("JPY", 0, 0.07),
    ("KWD", 3, 0.03),
)
HISTORY_APPROVERS = tuple(f"U0HISTAPPR{n}" for n in range(5))
EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.UTC)
BATCH_ROWS = 20_000
MONTH = dt.timedelta(days=30)


@dataclass(frozen=True)
class Subjects:
    """The specific partners and people the benchmark's requests are about."""

    list_partner: str = "BENCH-LIST"
    list_member: str = "U0BENCHLIST"
    list_payments: int = 50
    list_invoices: int = 250
    open_partner: str = "BENCH-OPEN"
    open_member: str = "U0BENCHOPEN"
    open_payment: str = "BENCH-OPEN-PAY"
    open_invoices: int = 5_000
    # Every open invoice id contains it, so a 3-character query matches all 5,000.
    open_query: str = "INV"
    approve_partner: str = "BENCH-APPROVE"
    approve_requester: str = "U0BENCHREQ"
    approvers: tuple[str, ...] = tuple(f"U0BENCHAPPR{n}" for n in range(8))
    currency: str = "USD"

    def list_payment_ids(self) -> list[str]:
        return [f"BENCH-LIST-PAY-{k:03d}" for k in range(self.list_payments)]

    def list_invoice_ids(self) -> list[str]:
        return [f"BENCH-LIST-INV-{k:04d}" for k in range(self.list_invoices)]


SUBJECTS = Subjects()


@dataclass(frozen=True)
class LedgerSize:
    """How big a ledger to seed; ``history`` defaults to a tenth of the payments."""

    partners: int = 10_000
    payments: int = 1_000_000
    invoices: int = 1_000_000
    history: int | None = None
    pending: int = 400
    seed: int = 16

    @property
    def decided(self) -> int:
        wanted = self.payments // 10 if self.history is None else self.history
        return max(0, min(wanted, self.payments, self.invoices))

    def label(self) -> str:
        return f"{self.partners} partners, {self.payments} payments, {self.invoices} invoices"


SMALL = LedgerSize(partners=10, payments=1_000, invoices=1_000)
LARGE = LedgerSize()
TINY = LedgerSize(partners=4, payments=60, invoices=60, pending=40)


@dataclass
class SeedReport:
    size: LedgerSize
    dialect: str
    seconds: float
    rows: dict[str, int] = field(default_factory=dict)

    @property
    def total_rows(self) -> int:
        return sum(self.rows.values())

    def summary(self) -> str:
        rate = self.total_rows / self.seconds if self.seconds else 0.0
        return (
            f"seeded {self.size.label()} on {self.dialect}: {self.total_rows:,} rows in"
            f" {self.seconds:.1f} s ({rate:,.0f} rows/s)"
        )


# ------------------------------------------------------------------------------ writing


class _Writer:
    """Writes rows (tuples in column order) to tables: COPY on PostgreSQL, Core elsewhere."""

    def __init__(self, connection: Any, dialect: str) -> None:
        self.connection = connection
        self.postgres = dialect == "postgresql"
        self.rows: dict[str, int] = {}

    def write(self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        self.rows[table.name] = self.rows.get(table.name, 0) + len(rows)
        if self.postgres:
            self._copy(table, columns, rows)
        else:
            records = [dict(zip(columns, row, strict=True)) for row in rows]
            self.connection.execute(insert(table), records)

    def _copy(self, table: Table, columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> None:
        json_columns = {
            n for n, name in enumerate(columns) if table.c[name].type.__class__.__name__ == "JSON"
        }
        driver = self.connection.connection.driver_connection
        names = ", ".join(columns)
        with (
            driver.cursor() as cursor,
            cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy,
        ):
            for row in rows:
                if json_columns:
                    row = tuple(
                        json.dumps(v) if n in json_columns else v for n, v in enumerate(row)
                    )
                copy.write_row(row)


PARTNER_COLUMNS = ("partner_id", "name")
MEMBER_COLUMNS = ("partner_id", "slack_user_id")
PAYMENT_COLUMNS = (
    "payment_id",
    "partner_id",
    "currency",
    "exponent",
    "amount",
    "allocated",
    "pending",
    "received_on",
    "reference",
)
INVOICE_COLUMNS = (
    "invoice_id",
    "partner_id",
    "currency",
    "exponent",
    "amount",
    "opening_due",
    "applied",
    "pending",
    "issued_on",
    "due_on",
)
ALLOCATION_COLUMNS = (
    "allocation_id",
    "payment_id",
    "invoice_id",
    "partner_id",
    "currency",
    "amount",
    "status",
    "note",
    "requested_by",
    "requested_at",
    "request_key",
    "decided_by",
    "decided_at",
    "reason",
    "reversed_by",
    "reversed_at",
    "reversal_reason",
    "request_id",
    "line_no",
)
ENTRY_COLUMNS = ("entry_id", "allocation_id", "kind", "posted_at", "posted_by")
LINE_COLUMNS = ("line_id", "entry_id", "account", "debit", "credit", "currency")
AUDIT_COLUMNS = ("event_id", "at", "actor", "action", "subject", "detail")
OUTBOX_COLUMNS = (
    "message_id",
    "kind",
    "allocation_id",
    "recipient",
    "payload",
    "created_at",
    "attempts",
    "next_attempt_at",
    "claimed_by",
    "claimed_until",
    "sent_at",
    "last_error",
)
REF_COLUMNS = ("allocation_id", "role", "channel", "ts")

# Parents before children, so every foreign key finds its row within one flush.
_ORDER = (
    (Partner.__table__, PARTNER_COLUMNS),
    (PartnerMember.__table__, MEMBER_COLUMNS),
    (Payment.__table__, PAYMENT_COLUMNS),
    (Invoice.__table__, INVOICE_COLUMNS),
    (Allocation.__table__, ALLOCATION_COLUMNS),
    (JournalEntry.__table__, ENTRY_COLUMNS),
    (JournalLine.__table__, LINE_COLUMNS),
    (AuditEvent.__table__, AUDIT_COLUMNS),
    (OutboxMessage.__table__, OUTBOX_COLUMNS),
    (SlackMessageRef.__table__, REF_COLUMNS),
)


class _Batch:
    """Rows waiting to be written, per table; flushed in foreign-key order."""

    def __init__(self, writer: _Writer) -> None:
        self.writer = writer
        self.pending: dict[str, list[tuple[Any, ...]]] = {t.name: [] for t, _ in _ORDER}

    def add(self, table: Any, row: tuple[Any, ...]) -> None:
        self.pending[table.__tablename__].append(row)

    def size(self) -> int:
        return sum(len(rows) for rows in self.pending.values())

    def flush(self) -> None:
        for table, columns in _ORDER:
            rows = self.pending[table.name]
            if rows:
                self.writer.write(table, columns, rows)
                self.pending[table.name] = []


# ---------------------------------------------------------------------------- the bulk


def _spread(total: int, parts: int, index: int) -> int:
    """How many of ``total`` things the ``index``-th of ``parts`` gets (as evenly as possible)."""
    return total // parts + (1 if index < total % parts else 0)


def _currency(rng: random.Random) -> tuple[str, int]:
    roll = rng.random()
    for code, exponent, share in CURRENCIES:
        roll -= share
        if roll <= 0:
            return code, exponent
    return CURRENCIES[0][0], CURRENCIES[0][1]


def _amount(rng: random.Random, exponent: int) -> int:
    """A few to fifty thousand major units, in minor units; a long tail of small ones."""
    major = int(rng.paretovariate(1.2) * 40) % 50_000 + 1
    return major * 10**exponent + rng.randrange(10**exponent)


class _Ids:
    def __init__(self) -> None:
        self.allocation = 0
        self.entry = 0
        self.line = 0
        self.event = 0
        self.message = 0
        self.ts = 0

    def next(self, name: str) -> int:
        value: int = getattr(self, name) + 1
        setattr(self, name, value)
        return value


class _History:
    """Writes one decided request with everything the ledger would have written for it."""

    def __init__(self, batch: _Batch, ids: _Ids, rng: random.Random) -> None:
        self.batch = batch
        self.ids = ids
        self.rng = rng

    def decided(
        self,
        payment: list[Any],
        invoice: list[Any],
        requester: str,
        at: dt.datetime,
    ) -> None:
        """Decide a request on ``payment``/``invoice`` (rows as lists, updated in place)."""
        rng = self.rng
        # The rows are PAYMENT_COLUMNS / INVOICE_COLUMNS lists; the formulas are the models'.
        unallocated = balances.unallocated(payment[4], payment[5], payment[6])
        open_amount = balances.open_amount(balances.amount_due(invoice[5], invoice[6]), invoice[7])
        room = min(unallocated, open_amount)
        if room <= 0:
            return
        amount = max(1, int(room * rng.uniform(0.2, 1.0)))
        roll = rng.random()
        status = (
            AllocationStatus.APPROVED
            if roll < 0.75
            else AllocationStatus.REJECTED
            if roll < 0.95
            else AllocationStatus.REVERSED
        )
        partner, currency = payment[1], payment[2]
        allocation_id = self.ids.next("allocation")
        approver = rng.choice(HISTORY_APPROVERS)
        decided_at = at + dt.timedelta(hours=rng.randint(1, 72))
        reversed_at = decided_at + dt.timedelta(days=rng.randint(1, 20))
        reason = (
            "Wrong invoice, please pick the March one."
            if status == AllocationStatus.REJECTED
            else None
        )
        self.batch.add(
            Allocation,
            (
                allocation_id,
                payment[0],
                invoice[0],
                partner,
                currency,
                amount,
                status,
                None,
                requester,
                at,
                f"seed:{allocation_id}",
                approver,
                decided_at,
                reason,
                approver if status == AllocationStatus.REVERSED else None,
                reversed_at if status == AllocationStatus.REVERSED else None,
                "Payment bounced." if status == AllocationStatus.REVERSED else None,
                allocation_id,  # a one-line request: its own request id
                1,
            ),
        )
        if status == AllocationStatus.APPROVED:
            payment[5] += amount
            invoice[6] += amount
        cash = unapplied_cash_account(partner)
        receivable = receivable_account(partner, invoice[0])
        if status in (AllocationStatus.APPROVED, AllocationStatus.REVERSED):
            self._entry(allocation_id, EntryKind.ALLOCATION, approver, decided_at)
            self._lines(amount, currency, cash, receivable)
        if status == AllocationStatus.REVERSED:
            self._entry(allocation_id, EntryKind.REVERSAL, approver, reversed_at)
            self._lines(amount, currency, receivable, cash)
        detail = {
            "payment_id": payment[0],
            "invoice_id": invoice[0],
            "amount": amount,
            "currency": currency,
        }
        subject = f"allocation:{allocation_id}"
        self._audit(at, requester, "allocation.requested", subject, detail)
        decision = AllocationStatus.APPROVED if status == AllocationStatus.REVERSED else status
        self._audit(decided_at, approver, f"allocation.{decision}", subject, detail)
        told = (Audience.BILLING, Audience.REQUESTER)
        told_after = (Audience.BILLING, Audience.REQUESTER, Audience.RECEIPT)
        owed = [(at, OutboxKind.ALLOCATION_REQUESTED, told)]
        owed.append((decided_at, OutboxKind(f"allocation_{decision}"), told_after))
        if status == AllocationStatus.REVERSED:
            self._audit(reversed_at, approver, "allocation.reversed", subject, detail)
            owed.append((reversed_at, OutboxKind.ALLOCATION_REVERSED, told_after))
        for when, kind, audiences in owed:
            for audience in audiences:
                sent = when + dt.timedelta(seconds=1)
                self.batch.add(
                    OutboxMessage,
                    (
                        self.ids.next("message"),
                        kind,
                        allocation_id,
                        audience,
                        {"requested_by": requester},
                        when,
                        1,
                        when,
                        None,
                        None,
                        sent,
                        None,
                    ),
                )
        stamp = int(at.timestamp())
        self.batch.add(
            SlackMessageRef,
            (allocation_id, "billing", BILLING_CHANNEL, f"{stamp}.{self.ids.next('ts'):06d}"),
        )
        self.batch.add(
            SlackMessageRef,
            (allocation_id, "receipt", "D" + requester, f"{stamp}.{self.ids.next('ts'):06d}"),
        )

    def _entry(self, allocation_id: int, kind: str, by: str, at: dt.datetime) -> None:
        self.batch.add(JournalEntry, (self.ids.next("entry"), allocation_id, kind, at, by))

    def _lines(self, amount: int, currency: str, debit: str, credit: str) -> None:
        """The entry just added: debit one account, credit the other, by the same amount."""
        entry_id = self.ids.entry
        self.batch.add(JournalLine, (self.ids.next("line"), entry_id, debit, amount, 0, currency))
        self.batch.add(JournalLine, (self.ids.next("line"), entry_id, credit, 0, amount, currency))

    def _audit(
        self, at: dt.datetime, actor: str, action: str, subject: str, detail: dict[str, Any]
    ) -> None:
        self.batch.add(AuditEvent, (self.ids.next("event"), at, actor, action, subject, detail))


def _bulk(batch: _Batch, ids: _Ids, size: LedgerSize) -> None:
    rng = random.Random(size.seed)
    history = _History(batch, ids, rng)
    payment_no = 0
    invoice_no = 0
    for p in range(size.partners):
        partner = f"P{p:05d}"
        currency, exponent = _currency(rng)
        batch.add(Partner, (partner, f"Partner {p} Trading Ltd."))
        members = [f"U0M{p:05d}"] + ([f"U0M{p:05d}B"] if p % 3 == 0 else [])
        for member in members:
            batch.add(PartnerMember, (partner, member))
        n_payments = _spread(size.payments, size.partners, p)
        n_invoices = _spread(size.invoices, size.partners, p)
        n_decided = min(_spread(size.decided, size.partners, p), n_payments, n_invoices)
        invoices: list[list[Any]] = []
        for _ in range(n_invoices):
            invoice_no += 1
            amount = _amount(rng, exponent)
            # Some invoices the ERP already saw paid in part or in full.
            roll = rng.random()
            due = amount if roll < 0.7 else 0 if roll < 0.85 else amount // 2 or amount
            issued = EPOCH.date() + dt.timedelta(days=rng.randrange(540))
            invoices.append(
                [
                    f"INV-{invoice_no:07d}",
                    partner,
                    currency,
                    exponent,
                    amount,
                    due,
                    0,
                    0,
                    issued,
                    issued + dt.timedelta(days=30),
                ]
            )
        payments: list[list[Any]] = []
        for _ in range(n_payments):
            payment_no += 1
            named = invoices[rng.randrange(len(invoices))][0] if invoices else "none"
            payments.append(
                [
                    f"PAY-{payment_no:07d}",
                    partner,
                    currency,
                    exponent,
                    _amount(rng, exponent),
                    0,
                    0,
                    EPOCH.date() + dt.timedelta(days=rng.randrange(540)),
                    f"wire {rng.randrange(10**9):09d} for {named}",
                ]
            )
        decided_rows: list[tuple[list[Any], list[Any]]] = [
            (payments[k], invoices[k]) for k in range(n_decided)
        ]
        # Balances first (allocated/applied accumulate), then the payment and invoice rows.
        for k, (payment, invoice) in enumerate(decided_rows):
            at = EPOCH + dt.timedelta(minutes=rng.randrange(540 * 24 * 60))
            history.decided(payment, invoice, members[k % len(members)], at)
        for payment in payments:
            batch.add(Payment, tuple(payment))
        for invoice in invoices:
            batch.add(Invoice, tuple(invoice))
        # Allocations were queued before their payments and invoices: flush writes the parents
        # first whatever order they were added in.
        if batch.size() >= BATCH_ROWS:
            batch.flush()
    batch.flush()


def _subjects(batch: _Batch, subjects: Subjects) -> None:
    usd = subjects.currency
    day = dt.date(2026, 10, 1)
    batch.add(Partner, (subjects.list_partner, "Listing Benchmark Ltd."))
    batch.add(PartnerMember, (subjects.list_partner, subjects.list_member))
    for k, payment_id in enumerate(subjects.list_payment_ids()):
        batch.add(
            Payment,
            (
                payment_id,
                subjects.list_partner,
                usd,
                2,
                1_000_000 + k * 100,
                0,
                0,
                day + dt.timedelta(days=k % 28),
                f"wire {k:06d} for BENCH-LIST-INV-{k:04d}",
            ),
        )
    for k, invoice_id in enumerate(subjects.list_invoice_ids()):
        batch.add(
            Invoice,
            (
                invoice_id,
                subjects.list_partner,
                usd,
                2,
                500_000,
                500_000,
                0,
                0,
                day,
                day + dt.timedelta(days=30 + k % 60),
            ),
        )
    batch.add(Partner, (subjects.open_partner, "Many Invoices Benchmark Ltd."))
    batch.add(PartnerMember, (subjects.open_partner, subjects.open_member))
    batch.add(
        Payment,
        (
            subjects.open_payment,
            subjects.open_partner,
            usd,
            2,
            250_000_000,
            0,
            0,
            day,
            "remittance INV-OPEN-00042 INV-OPEN-01234 INV-OPEN-04999",
        ),
    )
    rng = random.Random(5000)
    for k in range(subjects.open_invoices):
        amount = rng.randrange(10_000, 5_000_000)
        batch.add(
            Invoice,
            (
                f"INV-OPEN-{k:05d}",
                subjects.open_partner,
                usd,
                2,
                amount,
                amount,
                0,
                0,
                day - dt.timedelta(days=k % 400),
                day + dt.timedelta(days=30 - k % 400),
            ),
        )
    batch.add(Partner, (subjects.approve_partner, "Approvals Benchmark Ltd."))
    batch.add(PartnerMember, (subjects.approve_partner, subjects.approve_requester))
    batch.flush()


def _align_sequences(connection: Any) -> None:
    """Explicit ids were written: the serial sequences must continue after them."""
    for table, column in (
        ("allocations", "allocation_id"),
        ("journal_entries", "entry_id"),
        ("journal_lines", "line_id"),
        ("audit_events", "event_id"),
        ("outbox", "message_id"),
    ):
        connection.execute(
            text(
                f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'),"
                f" COALESCE((SELECT MAX({column}) FROM {table}), 0) + 1, false)"
            )
        )


# A seeding this big is checkpointed before measuring; a smaller one is not worth stalling
# the whole server for (the quick benchmark runs in CI beside other tests' databases).
SETTLE_ROWS = 100_000


def settle_postgres(db: Database, *, checkpoint: bool) -> None:
    """Leave a freshly seeded PostgreSQL ledger as a long-running one is, before measuring.

    Autovacuum would analyse the new tables within a minute, the first reads of each page would
    write its hint bits, and the checkpoint of the seeding's WAL would run during the first
    measurements: VACUUM (ANALYZE) and, with ``checkpoint``, a CHECKPOINT do all of it now. A
    CHECKPOINT flushes the whole server (every database's writes, so other sessions' commits
    wait meanwhile) and needs a superuser (or pg_checkpoint); without one the benchmark goes on
    and the server checkpoints on its own schedule.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM (ANALYZE)"))
        if checkpoint:
            with contextlib.suppress(DBAPIError):
                connection.execute(text("CHECKPOINT"))


SEEDED_ACTION = "bench.seeded"
# Tries at seeding when SQLite refuses the commit with its transient "locking protocol".
SEED_ATTEMPTS = 3


def seed(db: Database, size: LedgerSize, subjects: Subjects = SUBJECTS) -> SeedReport:
    """Fill an empty, migrated ledger; returns what was written and how long it took."""
    began = time.perf_counter()
    with db.engine.begin() as connection:
        writer = _Writer(connection, db.dialect)
        batch = _Batch(writer)
        ids = _Ids()
        _bulk(batch, ids, size)
        _subjects(batch, subjects)
        # What was seeded, so a later run can tell whether this ledger is the one it wants.
        batch.add(
            AuditEvent,
            (
                ids.next("event"),
                dt.datetime.now(dt.UTC),
                "bench",
                SEEDED_ACTION,
                "bench",
                asdict(size),
            ),
        )
        batch.flush()
        if db.dialect == "postgresql":
            _align_sequences(connection)
    report = SeedReport(size, db.dialect, 0.0, dict(writer.rows))
    if db.dialect == "postgresql":
        settle_postgres(db, checkpoint=report.total_rows >= SETTLE_ROWS)
    top_up_pending(db, size.pending, subjects)
    report.seconds = time.perf_counter() - began
    return report


def seeded_size(db: Database) -> LedgerSize | None:
    """What ``seed`` wrote into this ledger, or None when it was not seeded by the benchmark."""
    with db.transaction(read_only=True) as session:
        detail = session.scalar(
            select(AuditEvent.detail)
            .where(AuditEvent.action == SEEDED_ACTION)
            .order_by(AuditEvent.event_id.desc())
            .limit(1)
        )
    if not isinstance(detail, dict):
        return None
    try:
        return LedgerSize(**detail)
    except TypeError:
        return None


def top_up_pending(db: Database, wanted: int, subjects: Subjects = SUBJECTS) -> list[int]:
    """At least ``wanted`` pending requests await approval; returns their ids, oldest first.

    Each is alone on its own payment and invoice, so approving one moves no other request's
    balances (no billing-message refreshes fan out from it).
    """
    partner = subjects.approve_partner
    with db.transaction(read_only=True) as session:
        have = list(_pending_ids(session, partner))
        made = session.scalar(
            select(func.count()).select_from(Payment).where(Payment.partner_id == partner)
        )
    missing = wanted - len(have)
    if missing > 0:
        _add_pending(db, subjects, int(made or 0), missing)
        with db.transaction(read_only=True) as session:
            have = list(_pending_ids(session, partner))
    return have


def _pending_ids(session: Any, partner: str) -> Iterable[int]:
    return session.scalars(
        select(Allocation.allocation_id)
        .where(Allocation.partner_id == partner, Allocation.status == AllocationStatus.PENDING)
        .order_by(Allocation.allocation_id)
    ).all()


def _add_pending(db: Database, subjects: Subjects, start: int, count: int) -> None:
    partner, requester, usd = subjects.approve_partner, subjects.approve_requester, "USD"
    amount = 10_000
    now = dt.datetime.now(dt.UTC)
    day = now.date()
    with db.engine.begin() as connection:
        writer = _Writer(connection, db.dialect)
        payments, invoices, allocations = [], [], []
        # Explicit ids: a one-line request's request_id is its own allocation_id.
        next_id = int(
            connection.execute(
                text("SELECT COALESCE(MAX(allocation_id), 0) FROM allocations")
            ).scalar_one()
        )
        for k in range(start, start + count):
            next_id += 1
            payment_id, invoice_id = f"APR-PAY-{k:07d}", f"APR-INV-{k:07d}"
            payments.append((payment_id, partner, usd, 2, amount, 0, amount, day, "approve me"))
            invoices.append(
                (
                    invoice_id,
                    partner,
                    usd,
                    2,
                    amount,
                    amount,
                    0,
                    amount,
                    day,
                    day + dt.timedelta(30),
                )
            )
            allocations.append(
                (
                    next_id,
                    next_id,
                    1,
                    payment_id,
                    invoice_id,
                    partner,
                    usd,
                    amount,
                    AllocationStatus.PENDING,
                    requester,
                    now,
                    None,
                )
            )
        writer.write(Payment.__table__, PAYMENT_COLUMNS, payments)
        writer.write(Invoice.__table__, INVOICE_COLUMNS, invoices)
        writer.write(
            Allocation.__table__,
            (
                "allocation_id",
                "request_id",
                "line_no",
                "payment_id",
                "invoice_id",
                "partner_id",
                "currency",
                "amount",
                "status",
                "requested_by",
                "requested_at",
                "note",
            ),
            allocations,
        )
        if db.dialect == "postgresql":
            _align_sequences(connection)


def settle_outbox(db: Database) -> int:
    """Mark what an earlier run still owed as sent: the stand-in Slack it was owed to is gone.

    Only for benchmark ledgers: a run must start with an empty queue, not the last run's
    backlog of paced billing posts.
    """
    with db.transaction() as session:
        result = session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
            .values(sent_at=dt.datetime.now(dt.UTC), claimed_by=None, claimed_until=None)
        )
    return int(getattr(result, "rowcount", 0) or 0)


def open_ledger(url: str, size: LedgerSize, *, fresh: bool = False) -> tuple[Database, str]:
    """A migrated ledger of ``size`` at ``url``: reused when already seeded so, else seeded.

    Returns the database and a line saying what was done. ``fresh`` seeds even when the ledger
    looks right; a non-empty ledger seeded differently (or not by the benchmark) is refused.
    """
    upgrade(url)
    db = Database(url, lock_wait_ms=CLI_LOCK_WAIT_MS)
    found = seeded_size(db)
    if found is not None and not fresh and _same_ledger(found, size):
        top_up_pending(db, size.pending)
        return db, f"reused the seeded ledger ({size.label()})"
    with db.transaction(read_only=True) as session:
        empty = not session.scalar(select(func.count()).select_from(Partner))
    if not empty:
        db.dispose()
        raise SystemExit(
            f"{_shown(url)} already holds a ledger that is not a {size.label()} benchmark"
            " ledger; give the benchmark an empty database (or delete this one)"
        )
    # SQLite's "locking protocol" rolls the whole seeding transaction back: the ledger is
    # still empty, so seeding again starts from nothing.
    report = retrying_locking_protocol(lambda: seed(db, size), attempts=SEED_ATTEMPTS, backoff=0.5)
    return db, report.summary()


def _same_ledger(found: LedgerSize, wanted: LedgerSize) -> bool:
    keys = ("partners", "payments", "invoices", "history", "seed")
    return all(getattr(found, k) == getattr(wanted, k) for k in keys)


def _shown(url: str) -> str:
    return url.split("@")[-1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database-url", required=True, help="an empty database (migrated here)")
    parser.add_argument("--partners", type=int, default=LARGE.partners)
    parser.add_argument("--payments", type=int, default=LARGE.payments)
    parser.add_argument("--invoices", type=int, default=LARGE.invoices)
    parser.add_argument("--history", type=int, default=None, help="decided requests (payments/10)")
    parser.add_argument("--pending", type=int, default=LARGE.pending)
    parser.add_argument("--seed", type=int, default=LARGE.seed)
    parser.add_argument("--check", action="store_true", help="run the books check afterwards")
    args = parser.parse_args(argv)
    size = LedgerSize(
        partners=max(1, args.partners),
        payments=max(0, args.payments),
        invoices=max(0, args.invoices),
        history=args.history,
        pending=max(0, args.pending),
        seed=args.seed,
    )
    upgrade(args.database_url)
    db = Database(args.database_url, lock_wait_ms=CLI_LOCK_WAIT_MS)
    try:
        report = seed(db, size)
        print(report.summary())
        for table, rows in report.rows.items():
            print(f"  {table:<16} {rows:>10,}")
        if args.check:
            began = time.perf_counter()
            problems = check_books(db)
            took = time.perf_counter() - began
            print(f"books check: {'balanced' if not problems else problems[:5]} ({took:.1f} s)")
            return 1 if problems else 0
    finally:
        db.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
