"""reminders: each waiting request's stages (reminded, escalated) and each day's digest

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03 10:00:00

- ``request_reminders``: one row per request and stage, inserted once by whichever bot process
  decides it first (``ON CONFLICT DO NOTHING``), with the request's business age then;
- ``daily_digests``: one row per business day whose digest was decided.

New tables only: existing rows need nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_reminders",
        sa.Column("request_id", sa.Integer(), nullable=False),
        sa.Column("stage", sa.String(length=16), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("business_seconds", sa.Integer(), nullable=False),
        sa.Column("owed", sa.Boolean(), nullable=False),
        sa.CheckConstraint(
            "stage IN ('remind', 'escalate')", name=op.f("ck_request_reminders_stage_known")
        ),
        sa.ForeignKeyConstraint(
            ["request_id"],
            ["allocations.allocation_id"],
            name=op.f("fk_request_reminders_request_id_allocations"),
        ),
        sa.PrimaryKeyConstraint("request_id", "stage", name=op.f("pk_request_reminders")),
    )
    op.create_table(
        "daily_digests",
        sa.Column("business_date", sa.Date(), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("waiting", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("business_date", name=op.f("pk_daily_digests")),
    )


def downgrade() -> None:
    op.drop_table("daily_digests")
    op.drop_table("request_reminders")
