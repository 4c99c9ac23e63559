"""home_refresh: whose App Home is out of date, one row per person; decisions by approver

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 12:00:00

- ``home_refresh``: one row per person whose Home a change marked (coalesced), leased by the
  Home publisher as the outbox is (``claimed_by``/``claimed_until``), with its backoff
  (``attempts``, ``last_error``) and a count of marks (``changes``);
- ``ix_allocations_decided_by``: what an approver decided today, read without a scan.

A new table and an index only: existing rows need nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "home_refresh",
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("claimed_by", sa.String(length=64), nullable=True),
        sa.Column("claimed_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("changes", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("slack_user_id", name=op.f("pk_home_refresh")),
    )
    op.create_index(op.f("ix_home_refresh_due"), "home_refresh", ["due_at"], unique=False)
    op.create_index(
        op.f("ix_allocations_decided_by"),
        "allocations",
        ["decided_by", "decided_at"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_allocations_decided_by"), table_name="allocations")
    op.drop_index(op.f("ix_home_refresh_due"), table_name="home_refresh")
    op.drop_table("home_refresh")
