"""home_spacing: when each person's Home was last published by the queue

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 13:40:00

- ``home_refresh.published_at``: the queue's last publish of the person's Home. A Home is not
  republished from the queue sooner than the publisher's spacing after it (a burst of changes
  is one publish per person per spacing, not one per change); opening the Home publishes at
  once whatever the spacing.

Existing rows get NULL: their next publish is not held back.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("home_refresh") as batch:
        batch.add_column(sa.Column("published_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("home_refresh") as batch:
        batch.drop_column("published_at")
