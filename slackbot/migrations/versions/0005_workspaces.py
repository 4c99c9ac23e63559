"""partners in many workspaces: OAuth installations, team links, linked channels, notice routes

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 04:40:00

- slack_sdk's OAuth tables (``slack_installations``, ``slack_bots``, ``slack_oauth_states``),
  written out as slack_sdk 3.48 builds them, with wider token columns (tokens are stored
  encrypted);
- ``partner_teams``: a workspace or Enterprise Grid org whose every person acts for a partner;
  ``partner_members.slack_team_id``: the team a listed person must come from, when the file
  names it;
- ``partner_channels``: channels (usually Slack Connect) linked to a partner, with the launcher;
- ``slack_people``: where each person was last seen acting and how their notices are routed;
- ``outbox.route`` / ``outbox.route_channel``: the route a person's notice took, kept for its
  retries.

Every column added to an existing table is nullable, so existing rows need nothing.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TOKEN = sa.String(length=1000)


def upgrade() -> None:
    op.create_table(
        "slack_installations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=200), nullable=True),
        sa.Column("enterprise_url", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("bot_token", TOKEN, nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("bot_scopes", sa.String(length=1000), nullable=True),
        sa.Column("bot_refresh_token", TOKEN, nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("user_id", sa.String(length=32), nullable=False),
        sa.Column("user_token", TOKEN, nullable=True),
        sa.Column("user_scopes", sa.String(length=1000), nullable=True),
        sa.Column("user_refresh_token", TOKEN, nullable=True),
        sa.Column("user_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("incoming_webhook_url", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_channel", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_channel_id", sa.String(length=200), nullable=True),
        sa.Column("incoming_webhook_configuration_url", sa.String(length=200), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("token_type", sa.String(length=32), nullable=True),
        sa.Column("installed_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_installations")),
    )
    op.create_index(
        "slack_installations_idx",
        "slack_installations",
        ["client_id", "enterprise_id", "team_id", "user_id", "installed_at"],
    )
    op.create_table(
        "slack_bots",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("client_id", sa.String(length=32), nullable=False),
        sa.Column("app_id", sa.String(length=32), nullable=False),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_name", sa.String(length=200), nullable=True),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("team_name", sa.String(length=200), nullable=True),
        sa.Column("bot_token", TOKEN, nullable=True),
        sa.Column("bot_id", sa.String(length=32), nullable=True),
        sa.Column("bot_user_id", sa.String(length=32), nullable=True),
        sa.Column("bot_scopes", sa.String(length=1000), nullable=True),
        sa.Column("bot_refresh_token", TOKEN, nullable=True),
        sa.Column("bot_token_expires_at", sa.DateTime(), nullable=True),
        sa.Column("is_enterprise_install", sa.Boolean(), nullable=False),
        sa.Column("installed_at", sa.DateTime(), server_default=sa.func.now(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_bots")),
    )
    op.create_index(
        "slack_bots_idx",
        "slack_bots",
        ["client_id", "enterprise_id", "team_id", "installed_at"],
    )
    op.create_table(
        "slack_oauth_states",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("state", sa.String(length=200), nullable=False),
        sa.Column("expire_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_slack_oauth_states")),
    )
    op.create_table(
        "partner_teams",
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("slack_team_id", sa.String(length=32), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_partner_teams_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("partner_id", "slack_team_id", name=op.f("pk_partner_teams")),
    )
    op.create_index(
        op.f("ix_partner_teams_slack_team_id"), "partner_teams", ["slack_team_id"], unique=False
    )
    op.create_table(
        "partner_channels",
        sa.Column("channel_id", sa.String(length=32), nullable=False),
        sa.Column("partner_id", sa.String(length=64), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("launcher_ts", sa.String(length=32), nullable=True),
        sa.Column("linked_by", sa.String(length=64), nullable=False),
        sa.Column("linked_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["partner_id"],
            ["partners.partner_id"],
            name=op.f("fk_partner_channels_partner_id_partners"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("channel_id", name=op.f("pk_partner_channels")),
    )
    op.create_index(
        op.f("ix_partner_channels_partner_id"), "partner_channels", ["partner_id"], unique=False
    )
    op.create_table(
        "slack_people",
        sa.Column("slack_user_id", sa.String(length=32), nullable=False),
        sa.Column("team_id", sa.String(length=32), nullable=True),
        sa.Column("enterprise_id", sa.String(length=32), nullable=True),
        sa.Column("channel_id", sa.String(length=32), nullable=True),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("notice_route", sa.String(length=16), nullable=True),
        sa.Column("notice_channel_id", sa.String(length=32), nullable=True),
        sa.Column("notice_decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("slack_user_id", name=op.f("pk_slack_people")),
    )
    op.add_column(
        "partner_members", sa.Column("slack_team_id", sa.String(length=32), nullable=True)
    )
    op.add_column("outbox", sa.Column("route", sa.String(length=16), nullable=True))
    op.add_column("outbox", sa.Column("route_channel", sa.String(length=32), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "route_channel")
    op.drop_column("outbox", "route")
    op.drop_column("partner_members", "slack_team_id")
    op.drop_table("slack_people")
    op.drop_index(op.f("ix_partner_channels_partner_id"), table_name="partner_channels")
    op.drop_table("partner_channels")
    op.drop_index(op.f("ix_partner_teams_slack_team_id"), table_name="partner_teams")
    op.drop_table("partner_teams")
    op.drop_table("slack_oauth_states")
    op.drop_index("slack_bots_idx", table_name="slack_bots")
    op.drop_table("slack_bots")
    op.drop_index("slack_installations_idx", table_name="slack_installations")
    op.drop_table("slack_installations")
