"""partner_locale: the language a partner's people read when their Slack locale is not known

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 14:40:00

- ``partners.locale``: the partners CSV's optional ``locale`` column (``fr-FR``), nullable.

Existing partners get NULL: they read the bot's DEFAULT_LOCALE, as they did before.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.add_column(sa.Column("locale", sa.String(length=35), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("partners") as batch:
        batch.drop_column("locale")
