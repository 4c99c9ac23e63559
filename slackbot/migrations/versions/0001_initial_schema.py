"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 04:57:17.707619
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "audit_events",
        sa.Column("event_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=64), nullable=False),
        sa.Column("subject", sa.String(length=128), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_audit_events")),
    )
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.create_index("ix_audit_events_subject", ["subject"], unique=False)

    op.create_table(
        "partners",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("partner_id", name=op.f("pk_partners")),
    )
    op.create_table(
        "invoices",
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("exponent", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("opening_due", sa.BigInteger(), nullable=False),
        sa.Column("applied", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("issued_on", sa.Date(), nullable=False),
        sa.Column("due_on", sa.Date(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_invoices_amount_positive")),
        sa.CheckConstraint(
            "applied + pending <= opening_due", name=op.f("ck_invoices_not_overpaid")
        ),
        sa.CheckConstraint("applied >= 0", name=op.f("ck_invoices_applied_not_negative")),
        sa.CheckConstraint(
            "exponent >= 0 AND exponent <= 4", name=op.f("ck_invoices_exponent_range")
        ),
        sa.CheckConstraint(
            "opening_due >= 0 AND opening_due <= amount", name=op.f("ck_invoices_opening_due_range")
        ),
        sa.CheckConstraint("pending >= 0", name=op.f("ck_invoices_pending_not_negative")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.partner_id"], name=op.f("fk_invoices_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_invoices")),
        sa.UniqueConstraint(
            "invoice_id",
            "partner_id",
            "currency",
            name=op.f("uq_invoices_invoice_id_partner_id_currency"),
        ),
    )
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.create_index(
            "ix_invoices_partner_currency_due", ["partner_id", "currency", "due_on"], unique=False
        )

    op.create_table(
        "partner_members",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_partner_members_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", "slack_user_id", name=op.f("pk_partner_members")),
    )
    with op.batch_alter_table("partner_members", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_partner_members_slack_user_id"), ["slack_user_id"], unique=False
        )

    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("exponent", sa.Integer(), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("allocated", sa.BigInteger(), nullable=False),
        sa.Column("pending", sa.BigInteger(), nullable=False),
        sa.Column("received_on", sa.Date(), nullable=False),
        sa.Column("reference", sa.String(length=500), nullable=False),
        sa.CheckConstraint(
            "allocated + pending <= amount", name=op.f("ck_payments_not_overallocated")
        ),
        sa.CheckConstraint("allocated >= 0", name=op.f("ck_payments_allocated_not_negative")),
        sa.CheckConstraint("amount > 0", name=op.f("ck_payments_amount_positive")),
        sa.CheckConstraint(
            "exponent >= 0 AND exponent <= 4", name=op.f("ck_payments_exponent_range")
        ),
        sa.CheckConstraint("pending >= 0", name=op.f("ck_payments_pending_not_negative")),
        sa.ForeignKeyConstraint(
            ["partner_id"], ["partners.partner_id"], name=op.f("fk_payments_partner_id_partners")
        ),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
        sa.UniqueConstraint(
            "payment_id",
            "partner_id",
            "currency",
            name=op.f("uq_payments_payment_id_partner_id_currency"),
        ),
    )
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.create_index(
            "ix_payments_partner_unallocated", ["partner_id", "received_on"], unique=False
        )

    op.create_table(
        "allocations",
        sa.Column("allocation_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("payment_id", sa.String(length=64), nullable=False),
        sa.Column("invoice_id", sa.String(length=64), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("note", sa.Text(), nullable=True),
        sa.Column("requested_by", sa.String(length=32), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("request_key", sa.String(length=128), nullable=True),
        sa.Column("decided_by", sa.String(length=32), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reason", sa.Text(), nullable=True),
        sa.Column("reversed_by", sa.String(length=32), nullable=True),
        sa.Column("reversed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversal_reason", sa.Text(), nullable=True),
        sa.CheckConstraint(
            "(status = 'pending') = (decided_at IS NULL)",
            name=op.f("ck_allocations_decided_iff_not_pending"),
        ),
        sa.CheckConstraint(
            "(status = 'reversed') = (reversed_at IS NOT NULL)",
            name=op.f("ck_allocations_reversed_iff_reversed_at"),
        ),
        sa.CheckConstraint(
            "status <> 'rejected' OR (reason IS NOT NULL AND reason <> '')",
            name=op.f("ck_allocations_rejection_has_reason"),
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'cancelled', 'reversed')",
            name=op.f("ck_allocations_status_known"),
        ),
        sa.CheckConstraint("amount > 0", name=op.f("ck_allocations_amount_positive")),
        sa.ForeignKeyConstraint(
            ["invoice_id", "partner_id", "currency"],
            ["invoices.invoice_id", "invoices.partner_id", "invoices.currency"],
            name=op.f("fk_allocations_invoice_id_partner_id_currency_invoices"),
        ),
        sa.ForeignKeyConstraint(
            ["payment_id", "partner_id", "currency"],
            ["payments.payment_id", "payments.partner_id", "payments.currency"],
            name=op.f("fk_allocations_payment_id_partner_id_currency_payments"),
        ),
        sa.PrimaryKeyConstraint("allocation_id", name=op.f("pk_allocations")),
        sa.UniqueConstraint("request_key", name=op.f("uq_allocations_request_key")),
    )
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.create_index("ix_allocations_invoice", ["invoice_id"], unique=False)
        batch_op.create_index("ix_allocations_payment", ["payment_id"], unique=False)
        batch_op.create_index(
            "ix_allocations_requested_by", ["requested_by", "requested_at"], unique=False
        )
        batch_op.create_index("ix_allocations_status", ["status"], unique=False)

    op.create_table(
        "journal_entries",
        sa.Column("entry_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("posted_by", sa.String(length=32), nullable=False),
        sa.CheckConstraint(
            "kind IN ('allocation', 'reversal')", name=op.f("ck_journal_entries_kind_known")
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.allocation_id"],
            name=op.f("fk_journal_entries_allocation_id_allocations"),
        ),
        sa.PrimaryKeyConstraint("entry_id", name=op.f("pk_journal_entries")),
        sa.UniqueConstraint(
            "allocation_id", "kind", name=op.f("uq_journal_entries_allocation_id_kind")
        ),
    )
    op.create_table(
        "outbox",
        sa.Column("message_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("kind", sa.String(length=48), nullable=False),
        sa.Column("allocation_id", sa.Integer(), nullable=True),
        sa.Column("recipient", sa.String(length=64), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.allocation_id"],
            name=op.f("fk_outbox_allocation_id_allocations"),
        ),
        sa.PrimaryKeyConstraint("message_id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index("ix_outbox_allocation", ["allocation_id", "message_id"], unique=False)
        batch_op.create_index("ix_outbox_unsent", ["sent_at", "next_attempt_at"], unique=False)

    op.create_table(
        "slack_messages",
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("channel", sa.String(length=32), nullable=False),
        sa.Column("ts", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.allocation_id"],
            name=op.f("fk_slack_messages_allocation_id_allocations"),
        ),
        sa.PrimaryKeyConstraint("allocation_id", "role", name=op.f("pk_slack_messages")),
    )
    op.create_table(
        "journal_lines",
        sa.Column("line_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("account", sa.String(length=160), nullable=False),
        sa.Column("debit", sa.BigInteger(), nullable=False),
        sa.Column("credit", sa.BigInteger(), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.CheckConstraint("(debit = 0) <> (credit = 0)", name=op.f("ck_journal_lines_one_side")),
        sa.CheckConstraint(
            "debit >= 0 AND credit >= 0", name=op.f("ck_journal_lines_not_negative")
        ),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journal_entries.entry_id"],
            name=op.f("fk_journal_lines_entry_id_journal_entries"),
        ),
        sa.PrimaryKeyConstraint("line_id", name=op.f("pk_journal_lines")),
    )
    with op.batch_alter_table("journal_lines", schema=None) as batch_op:
        batch_op.create_index("ix_journal_lines_account", ["account"], unique=False)
        batch_op.create_index("ix_journal_lines_entry", ["entry_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("journal_lines", schema=None) as batch_op:
        batch_op.drop_index("ix_journal_lines_entry")
        batch_op.drop_index("ix_journal_lines_account")

    op.drop_table("journal_lines")
    op.drop_table("slack_messages")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_unsent")
        batch_op.drop_index("ix_outbox_allocation")

    op.drop_table("outbox")
    op.drop_table("journal_entries")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_allocations_status")
        batch_op.drop_index("ix_allocations_requested_by")
        batch_op.drop_index("ix_allocations_payment")
        batch_op.drop_index("ix_allocations_invoice")

    op.drop_table("allocations")
    with op.batch_alter_table("payments", schema=None) as batch_op:
        batch_op.drop_index("ix_payments_partner_unallocated")

    op.drop_table("payments")
    with op.batch_alter_table("partner_members", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_partner_members_slack_user_id"))

    op.drop_table("partner_members")
    with op.batch_alter_table("invoices", schema=None) as batch_op:
        batch_op.drop_index("ix_invoices_partner_currency_due")

    op.drop_table("invoices")
    op.drop_table("partners")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_events_subject")

    op.drop_table("audit_events")
