"""Every table of the ledger, with constraints that keep the books right even when code is wrong.

Amounts are integers in the currency's minor unit (cents for USD, yen for JPY, fils for KWD).
Balances that the services keep up to date (a payment's ``allocated`` and ``pending``, an
invoice's ``applied`` and ``pending``) are guarded by CHECK constraints, so no bug and no race can
store a payment allocated beyond its amount or an invoice paid below zero.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.hybrid import hybrid_property
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from models import balances
from models.enums import AllocationStatus, EntryKind, LineChoice, sql_in
from models.limits import MAX_REQUEST_LINES

# Deterministic constraint names keep Alembic migrations portable between SQLite and PostgreSQL.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Identifiers come from the ERP; 64 characters fits every ERP key we have seen.
ID = String(64)
CURRENCY = String(3)
SLACK_ID = String(32)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """A moment in time, always aware and in UTC on the way in and on the way out.

    PostgreSQL keeps the offset (``timestamptz``); SQLite keeps none and hands back naive
    values. This type makes both databases give the program the same thing, so no caller ever
    repairs a naive datetime, and refuses a naive value instead of guessing its zone.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a time zone (UTC) to store it")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dt.datetime: UTCDateTime()}


class Partner(Base):
    __tablename__ = "partners"

    partner_id: Mapped[str] = mapped_column(ID, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    # The partners CSV's optional ``locale`` column (``fr-FR``): what its people read when their
    # Slack locale is not known. None: the bot's DEFAULT_LOCALE.
    locale: Mapped[str | None] = mapped_column(String(35), nullable=True)


class PartnerMember(Base):
    """A Slack user who may act for a partner; one user may act for several partners."""

    __tablename__ = "partner_members"

    partner_id: Mapped[str] = mapped_column(
        ID, ForeignKey("partners.partner_id", ondelete="CASCADE"), primary_key=True
    )
    slack_user_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True, index=True)
    # Set when the members file names the person's team: they act for the partner only when the
    # signed payload says they come from that team (``T…``) or org (``E…``).
    slack_team_id: Mapped[str | None] = mapped_column(SLACK_ID, nullable=True)


class Payment(Base):
    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("allocated >= 0", name="allocated_not_negative"),
        CheckConstraint("pending >= 0", name="pending_not_negative"),
        CheckConstraint("allocated + pending <= amount", name="not_overallocated"),
        CheckConstraint("exponent >= 0 AND exponent <= 4", name="exponent_range"),
        # The target of allocations' composite foreign key: an allocation can only name a
        # payment together with that payment's own partner and currency.
        UniqueConstraint("payment_id", "partner_id", "currency"),
        Index("ix_payments_partner_unallocated", "partner_id", "received_on"),
    )

    payment_id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ID, ForeignKey("partners.partner_id"))
    currency: Mapped[str] = mapped_column(CURRENCY)
    # The currency's minor-unit exponent at import time, kept so that exports and messages
    # format this payment exactly as it was imported even if CLDR data changes later.
    exponent: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    allocated: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    received_on: Mapped[dt.date] = mapped_column(Date)
    reference: Mapped[str] = mapped_column(String(500), default="")

    @hybrid_property
    def unallocated(self) -> int:
        """What is neither allocated nor reserved by a pending request (the contract's formula)."""
        return balances.unallocated(self.amount, self.allocated, self.pending)


class Invoice(Base):
    __tablename__ = "invoices"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint("opening_due >= 0 AND opening_due <= amount", name="opening_due_range"),
        CheckConstraint("applied >= 0", name="applied_not_negative"),
        CheckConstraint("pending >= 0", name="pending_not_negative"),
        CheckConstraint("applied + pending <= opening_due", name="not_overpaid"),
        CheckConstraint("exponent >= 0 AND exponent <= 4", name="exponent_range"),
        UniqueConstraint("invoice_id", "partner_id", "currency"),
        Index("ix_invoices_partner_currency_due", "partner_id", "currency", "due_on"),
    )

    invoice_id: Mapped[str] = mapped_column(ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(ID, ForeignKey("partners.partner_id"))
    currency: Mapped[str] = mapped_column(CURRENCY)
    exponent: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(BigInteger)
    # What the ERP said was due when it last sent this invoice; ``applied`` is what approved
    # allocations here have paid since, so amount_due = opening_due - applied.
    opening_due: Mapped[int] = mapped_column(BigInteger)
    applied: Mapped[int] = mapped_column(BigInteger, default=0)
    pending: Mapped[int] = mapped_column(BigInteger, default=0)
    issued_on: Mapped[dt.date] = mapped_column(Date)
    due_on: Mapped[dt.date] = mapped_column(Date)

    @hybrid_property
    def amount_due(self) -> int:
        """What is left to pay: what the ERP said was due, less what approvals here applied."""
        return balances.amount_due(self.opening_due, self.applied)

    @hybrid_property
    def open_amount(self) -> int:
        """What a new allocation may still take: left to pay, less what pending requests hold."""
        return balances.open_amount(
            balances.amount_due(self.opening_due, self.applied), self.pending
        )


class Allocation(Base):
    """One line of a request to apply part of a payment to invoices, and its decision.

    A request is one payment and 1 to ``MAX_REQUEST_LINES`` lines, decided together: its lines
    share ``request_id``, which is the first line's ``allocation_id`` (line 1 is the request).
    The composite foreign keys make the database refuse an allocation whose payment and invoice
    belong to different partners or are in different currencies.
    """

    __tablename__ = "allocations"
    __table_args__ = (
        CheckConstraint("amount > 0", name="amount_positive"),
        CheckConstraint(
            f"status IN ({sql_in(AllocationStatus)})",
            name="status_known",
        ),
        CheckConstraint(
            f"(status = '{AllocationStatus.PENDING}') = (decided_at IS NULL)",
            name="decided_iff_not_pending",
        ),
        CheckConstraint(
            f"(status = '{AllocationStatus.REVERSED}') = (reversed_at IS NOT NULL)",
            name="reversed_iff_reversed_at",
        ),
        CheckConstraint(
            f"status <> '{AllocationStatus.REJECTED}' OR (reason IS NOT NULL AND reason <> '')",
            name="rejection_has_reason",
        ),
        CheckConstraint(f"line_no >= 1 AND line_no <= {MAX_REQUEST_LINES}", name="line_no_range"),
        # Line 1 is the request: its id is the request's id, and no other line's is.
        CheckConstraint(
            "(line_no = 1) = (request_id = allocation_id)", name="first_line_is_request"
        ),
        CheckConstraint(f"chosen IS NULL OR chosen IN ({sql_in(LineChoice)})", name="chosen_known"),
        # A request's lines are numbered once each, and name an invoice at most once.
        UniqueConstraint("request_id", "line_no"),
        UniqueConstraint("request_id", "invoice_id"),
        ForeignKeyConstraint(
            ["payment_id", "partner_id", "currency"],
            ["payments.payment_id", "payments.partner_id", "payments.currency"],
        ),
        ForeignKeyConstraint(
            ["invoice_id", "partner_id", "currency"],
            ["invoices.invoice_id", "invoices.partner_id", "invoices.currency"],
        ),
        Index("ix_allocations_requested_by", "requested_by", "requested_at"),
        Index("ix_allocations_payment", "payment_id"),
        Index("ix_allocations_invoice", "invoice_id"),
        Index("ix_allocations_status", "status"),
        Index("ix_allocations_request", "request_id"),
    )

    allocation_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    # The request this line belongs to: its first line's allocation_id (see the class doc).
    request_id: Mapped[int] = mapped_column(Integer)
    # The line's place in the request, in the order the partner entered the lines (1..10).
    line_no: Mapped[int] = mapped_column(Integer)
    payment_id: Mapped[str] = mapped_column(ID)
    invoice_id: Mapped[str] = mapped_column(ID)
    partner_id: Mapped[str] = mapped_column(ID)
    currency: Mapped[str] = mapped_column(CURRENCY)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(String(16), default=AllocationStatus.PENDING.value)
    note: Mapped[str | None] = mapped_column(Text, nullable=True)
    requested_by: Mapped[str] = mapped_column(SLACK_ID)
    requested_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # How the request's lines were chosen (``LineChoice``), the same on each line; NULL when
    # the door did not say (old rows, the CLI).
    chosen: Mapped[str | None] = mapped_column(String(16), nullable=True)
    # The caller's idempotency key (a Slack view id, a CLI run id): the same key twice is one
    # request, never two reservations. Only a request's first line carries it.
    request_key: Mapped[str | None] = mapped_column(String(128), unique=True, nullable=True)
    decided_by: Mapped[str | None] = mapped_column(SLACK_ID, nullable=True)
    decided_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    reversed_by: Mapped[str | None] = mapped_column(SLACK_ID, nullable=True)
    reversed_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    reversal_reason: Mapped[str | None] = mapped_column(Text, nullable=True)


class JournalEntry(Base):
    """One posting. Never updated or deleted: a correction is a new, compensating entry."""

    __tablename__ = "journal_entries"
    __table_args__ = (
        CheckConstraint(f"kind IN ({sql_in(EntryKind)})", name="kind_known"),
        # One posting per decision: an allocation is posted at most once and reversed at most once.
        UniqueConstraint("allocation_id", "kind"),
        # Every posting moves money between at least two accounts (each line is one-sided).
        CheckConstraint("line_count >= 2", name="line_count_declared"),
    )

    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    allocation_id: Mapped[int] = mapped_column(ForeignKey("allocations.allocation_id"))
    kind: Mapped[str] = mapped_column(String(16))
    posted_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    posted_by: Mapped[str] = mapped_column(SLACK_ID)
    # How many lines the entry has. The database refuses lines that do not balance once the
    # entry has them all (SQLite) or at commit (PostgreSQL); see migration 0003. Writers that
    # predate it wrote two lines per entry, hence the default.
    line_count: Mapped[int] = mapped_column(Integer, server_default="2")


class JournalLine(Base):
    __tablename__ = "journal_lines"
    __table_args__ = (
        CheckConstraint("debit >= 0 AND credit >= 0", name="not_negative"),
        CheckConstraint("(debit = 0) <> (credit = 0)", name="one_side"),
        Index("ix_journal_lines_entry", "entry_id"),
        Index("ix_journal_lines_account", "account"),
    )

    line_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("journal_entries.entry_id"))
    account: Mapped[str] = mapped_column(String(160))
    debit: Mapped[int] = mapped_column(BigInteger, default=0)
    credit: Mapped[int] = mapped_column(BigInteger, default=0)
    currency: Mapped[str] = mapped_column(CURRENCY)


class AuditEvent(Base):
    """Who did what, when: every request, decision and import, in order."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_subject", "subject"),)

    event_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    subject: Mapped[str] = mapped_column(String(128))
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class OutboxMessage(Base):
    """What the bot owes someone, written in the same transaction as the change that owes it.

    ``kind`` and ``payload`` are domain terms (``allocation_requested`` to the billing channel,
    ``allocation_approved`` to the requester: ``OutboxKind``); the Slack layer renders them when
    it sends, so the services never know what a Block Kit message looks like.
    """

    __tablename__ = "outbox"
    __table_args__ = (
        Index("ix_outbox_unsent", "sent_at", "next_attempt_at"),
        Index("ix_outbox_allocation", "allocation_id", "message_id"),
    )

    message_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(48))
    allocation_id: Mapped[int | None] = mapped_column(
        ForeignKey("allocations.allocation_id"), nullable=True
    )
    recipient: Mapped[str] = mapped_column(String(64))
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # A sender leases a message before calling Slack and commits the lease, so no database lock
    # is held across the network call; a sender that dies loses its lease when it runs out.
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    sent_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # How a notice for a person reaches them, decided once when first sent and kept for its
    # retries: "dm", or "channel" (a message naming them in ``route_channel``, a linked channel).
    route: Mapped[str | None] = mapped_column(String(16), nullable=True)
    route_channel: Mapped[str | None] = mapped_column(String(32), nullable=True)


class SlackMessageRef(Base):
    """Where a message about an allocation landed, so later changes edit it in place."""

    __tablename__ = "slack_messages"

    allocation_id: Mapped[int] = mapped_column(
        ForeignKey("allocations.allocation_id"), primary_key=True
    )
    role: Mapped[str] = mapped_column(String(32), primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    ts: Mapped[str] = mapped_column(String(32))


class ChannelPace(Base):
    """When the next post to a channel may go out, shared by every bot process.

    Slack allows about one message per second per channel; a burst of requests from several
    processes must not add up to a storm of 429s.
    """

    __tablename__ = "channel_pace"

    channel: Mapped[str] = mapped_column(String(32), primary_key=True)
    next_at: Mapped[dt.datetime] = mapped_column()
