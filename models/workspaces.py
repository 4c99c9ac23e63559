"""Who is who across Slack workspaces: installations, teams linked to partners, linked channels.

The vendor's partners are other companies, often in their own Slack workspace or Enterprise Grid
organization, meeting the vendor in Slack Connect channels. These tables hold:

- ``slack_installations``, ``slack_bots``, ``slack_oauth_states``: slack_sdk's own OAuth tables
  (its ``SQLAlchemyInstallationStore`` and ``SQLAlchemyOAuthStateStore`` read and write them),
  declared here so the project's migrations create them and the schema test sees them. Columns
  as slack_sdk 3.x builds them, except that the token columns are wider: bot tokens are stored
  encrypted (Fernet), which is longer than the token, and rotating tokens are long already.
- ``partner_teams``: a whole workspace (``T…``) or org (``E…``) whose every person acts for a
  partner, so a partner's new staff need no import.
- ``partner_channels``: a channel (usually Slack Connect) linked to one partner, where the
  launcher message is pinned and where notices go when a DM cannot reach the person.
- ``slack_people``: where a person was last seen acting, from signed payloads only (their team
  and org, the channel they used), and how their notices are routed once that is decided.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    func,
)
from sqlalchemy.orm import Mapped, mapped_column

from models.tables import ID, SLACK_ID, Base, utcnow

__all__ = [
    "INSTALLATIONS_TABLE",
    "OAUTH_STATES_TABLE",
    "SLACK_BOTS_TABLE",
    "PartnerChannel",
    "PartnerTeam",
    "SlackPerson",
]

INSTALLATIONS_TABLE = "slack_installations"
SLACK_BOTS_TABLE = "slack_bots"
OAUTH_STATES_TABLE = "slack_oauth_states"
# An encrypted rotating token: Fernet adds about 60 bytes and a third for base64.
TOKEN = String(1000)


slack_installations = Table(
    INSTALLATIONS_TABLE,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("enterprise_url", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", TOKEN),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", TOKEN),
    Column("bot_token_expires_at", DateTime),
    Column("user_id", String(32), nullable=False),
    Column("user_token", TOKEN),
    Column("user_scopes", String(1000)),
    Column("user_refresh_token", TOKEN),
    Column("user_token_expires_at", DateTime),
    Column("incoming_webhook_url", String(200)),
    Column("incoming_webhook_channel", String(200)),
    Column("incoming_webhook_channel_id", String(200)),
    Column("incoming_webhook_configuration_url", String(200)),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("token_type", String(32)),
    Column("installed_at", DateTime, nullable=False, server_default=func.now()),
    Index(
        f"{INSTALLATIONS_TABLE}_idx",
        "client_id",
        "enterprise_id",
        "team_id",
        "user_id",
        "installed_at",
    ),
)

slack_bots = Table(
    SLACK_BOTS_TABLE,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("client_id", String(32), nullable=False),
    Column("app_id", String(32), nullable=False),
    Column("enterprise_id", String(32)),
    Column("enterprise_name", String(200)),
    Column("team_id", String(32)),
    Column("team_name", String(200)),
    Column("bot_token", TOKEN),
    Column("bot_id", String(32)),
    Column("bot_user_id", String(32)),
    Column("bot_scopes", String(1000)),
    Column("bot_refresh_token", TOKEN),
    Column("bot_token_expires_at", DateTime),
    Column("is_enterprise_install", Boolean, default=False, nullable=False),
    Column("installed_at", DateTime, nullable=False, server_default=func.now()),
    Index(f"{SLACK_BOTS_TABLE}_idx", "client_id", "enterprise_id", "team_id", "installed_at"),
)

slack_oauth_states = Table(
    OAUTH_STATES_TABLE,
    Base.metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("state", String(200), nullable=False),
    Column("expire_at", DateTime, nullable=False),
)


class PartnerTeam(Base):
    """A Slack workspace (``T…``) or Enterprise Grid org (``E…``) whose people act for a partner."""

    __tablename__ = "partner_teams"

    partner_id: Mapped[str] = mapped_column(
        ID, ForeignKey("partners.partner_id", ondelete="CASCADE"), primary_key=True
    )
    slack_team_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True, index=True)


class PartnerChannel(Base):
    """A channel linked to one partner: its launcher lives there, and notices fall back to it."""

    __tablename__ = "partner_channels"

    channel_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    partner_id: Mapped[str] = mapped_column(
        ID, ForeignKey("partners.partner_id", ondelete="CASCADE"), index=True
    )
    # The workspace whose bot token posts there (None: the single-token mode's one token).
    team_id: Mapped[str | None] = mapped_column(SLACK_ID, nullable=True)
    launcher_ts: Mapped[str | None] = mapped_column(String(32), nullable=True)
    linked_by: Mapped[str] = mapped_column(String(64))
    linked_at: Mapped[dt.datetime] = mapped_column(default=utcnow)


class SlackPerson(Base):
    """Where a person was last seen acting (signed payloads only) and how their notices go."""

    __tablename__ = "slack_people"

    slack_user_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    team_id: Mapped[str | None] = mapped_column(SLACK_ID, nullable=True)
    enterprise_id: Mapped[str | None] = mapped_column(SLACK_ID, nullable=True)
    # The channel they last acted from (a launcher in a linked channel, a slash command).
    channel_id: Mapped[str | None] = mapped_column(SLACK_ID, nullable=True)
    seen_at: Mapped[dt.datetime] = mapped_column(default=utcnow)
    # How their notices reach them once decided: "dm", or "channel" (``notice_channel_id``).
    notice_route: Mapped[str | None] = mapped_column(String(16), nullable=True)
    notice_channel_id: Mapped[str | None] = mapped_column(SLACK_ID, nullable=True)
    notice_decided_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
