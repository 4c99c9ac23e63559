"""erp_sync: export batches of allocations handed to the ERP, and what the ERP booked

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04 12:00:00

- ``erp_batches``: one row per ``slackbot export allocations --new``;
- ``erp_allocations``: one row per allocation the ERP was handed or says it booked (the batch,
  the acknowledgement and its ERP reference), and the same for its reversal.

New tables only: existing rows need nothing (no allocation has been handed over yet).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "erp_batches",
        sa.Column("batch_id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("allocations", sa.Integer(), nullable=False),
        sa.Column("reversals", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("batch_id", name=op.f("pk_erp_batches")),
    )
    op.create_table(
        "erp_allocations",
        sa.Column("allocation_id", sa.Integer(), nullable=False),
        sa.Column("batch_id", sa.Integer(), nullable=True),
        sa.Column("acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("acknowledged_by", sa.String(length=64), nullable=True),
        sa.Column("erp_reference", sa.String(length=128), nullable=True),
        sa.Column("reversal_batch_id", sa.Integer(), nullable=True),
        sa.Column("reversal_acknowledged_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("reversal_erp_reference", sa.String(length=128), nullable=True),
        sa.CheckConstraint(
            "reversal_batch_id IS NULL OR batch_id IS NOT NULL OR acknowledged_at IS NOT NULL",
            name=op.f("ck_erp_allocations_reversal_of_held"),
        ),
        sa.CheckConstraint(
            "reversal_acknowledged_at IS NULL OR acknowledged_at IS NOT NULL",
            name=op.f("ck_erp_allocations_reversal_booked_after_allocation"),
        ),
        sa.ForeignKeyConstraint(
            ["allocation_id"],
            ["allocations.allocation_id"],
            name=op.f("fk_erp_allocations_allocation_id_allocations"),
        ),
        sa.ForeignKeyConstraint(
            ["batch_id"],
            ["erp_batches.batch_id"],
            name=op.f("fk_erp_allocations_batch_id_erp_batches"),
        ),
        sa.ForeignKeyConstraint(
            ["reversal_batch_id"],
            ["erp_batches.batch_id"],
            name=op.f("fk_erp_allocations_reversal_batch_id_erp_batches"),
        ),
        sa.PrimaryKeyConstraint("allocation_id", name=op.f("pk_erp_allocations")),
    )
    op.create_index(op.f("ix_erp_allocations_batch"), "erp_allocations", ["batch_id"], unique=False)
    op.create_index(
        op.f("ix_erp_allocations_reversal_batch"),
        "erp_allocations",
        ["reversal_batch_id"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_erp_allocations_reversal_batch"), table_name="erp_allocations")
    op.drop_index(op.f("ix_erp_allocations_batch"), table_name="erp_allocations")
    op.drop_table("erp_allocations")
    op.drop_table("erp_batches")
