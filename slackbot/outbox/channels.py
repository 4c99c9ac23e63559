"""Channels linked to partners (where the launcher is pinned) and how each person's notices go.

A channel, usually a Slack Connect channel shared with a partner, is linked to exactly one
partner (``partner_channels``). It is where that partner's people find the launcher, and where
a notice goes when the bot cannot open a DM with the person. How a person's notices reach them
is decided once and kept in ``slack_people`` (``notice_route``, ``notice_channel_id``), so every
later notice and retry goes the same way; it is decided again only when that way fails for good.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.limits import is_key, is_slack_channel_id
from models.tables import Partner
from models.workspaces import PartnerChannel, SlackPerson
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.errors import InvalidInput, NotAllowed, NotFound

__all__ = [
    "LinkedChannel",
    "NoticeRoute",
    "Person",
    "check_link",
    "forget_notice_route",
    "is_linked_to",
    "link_channel",
    "linked_channel",
    "linked_channels",
    "notice_channel",
    "person",
    "record_notice_route",
    "unlink_channel",
]


class NoticeRoute(StrEnum):
    """How a person's notices reach them (stored in ``outbox.route`` and ``slack_people``)."""

    DM = "dm"
    CHANNEL = "channel"


@dataclass(frozen=True)
class LinkedChannel:
    """A channel linked to a partner, and the launcher message pinned there."""

    channel_id: str
    partner_id: str
    partner_name: str
    launcher_ts: str | None
    linked_by: str
    linked_at: dt.datetime


@dataclass(frozen=True)
class Person:
    """Where a person was last seen (signed payloads only) and how their notices go."""

    slack_user_id: str
    team_id: str | None
    enterprise_id: str | None
    channel_id: str | None
    notice_route: NoticeRoute | None
    notice_channel_id: str | None


def check_link(
    db: Database,
    partner_id: str,
    channel_id: str,
    *,
    billing_channel: str | None,
    replace: bool = False,
) -> tuple[str, str | None]:
    """Refuse a link that cannot be made; returns the partner's name and locale (the language
    its launcher is posted in; None: the default). Changes nothing.

    A channel links to one partner: linking it to another is refused unless ``replace``. The
    billing channel is the vendor's own and never links to a partner.
    """
    if not is_slack_channel_id(channel_id) or channel_id.startswith("D"):
        shown = repr(channel_id[:40])
        raise InvalidInput(
            "channel",
            f"{shown} is not a Slack channel id (C0123ABCD, from the channel's details,"
            " at the bottom of its About tab)",
        )
    if billing_channel and channel_id == billing_channel:
        raise NotAllowed(
            "channel",
            f"{channel_id} is the billing channel (BILLING_CHANNEL_ID), which stays internal;"
            " link a channel shared with the partner instead",
        )
    if not is_key(partner_id):
        raise InvalidInput("partner", f"{partner_id[:40]!r} is not a partner id")
    with db.transaction(read_only=True) as session:
        partner = session.get(Partner, partner_id)
        if partner is None:
            raise NotFound(
                "partner",
                f"no partner {partner_id!r}; import it first (slackbot import partners FILE)",
            )
        current = session.get(PartnerChannel, channel_id)
        if current is not None and current.partner_id != partner_id and not replace:
            raise NotAllowed(
                "channel",
                f"{channel_id} is linked to partner {current.partner_id!r}; add --replace to"
                f" link it to {partner_id!r} instead",
            )
        return partner.name, partner.locale


def link_channel(
    db: Database,
    partner_id: str,
    channel_id: str,
    *,
    linked_by: str,
    launcher_ts: str | None,
    clock: Clock = system_clock,
) -> LinkedChannel:
    """Record the link (after :func:`check_link` and the launcher's post). People whose notices
    went to this channel for another partner are decided again."""
    now = clock()
    with db.transaction() as session:
        partner = session.get_one(Partner, partner_id)
        row = session.get(PartnerChannel, channel_id)
        if row is None:
            row = PartnerChannel(channel_id=channel_id, partner_id=partner_id)
            session.add(row)
        elif row.partner_id != partner_id:
            _forget_routes_to(session, channel_id)
        row.partner_id = partner_id
        row.launcher_ts = launcher_ts
        row.linked_by = linked_by[:64]
        row.linked_at = now
        session.flush()
        return _linked(row, partner.name)


def unlink_channel(db: Database, channel_id: str) -> LinkedChannel:
    """Remove a channel's link; notices routed there are decided again when next owed."""
    with db.transaction() as session:
        row = session.get(PartnerChannel, channel_id)
        if row is None:
            raise NotFound("channel", f"{channel_id[:40]!r} is not linked to any partner")
        partner = session.get(Partner, row.partner_id)
        linked = _linked(row, partner.name if partner else row.partner_id)
        session.delete(row)
        _forget_routes_to(session, channel_id)
    return linked


def linked_channel(db: Database, channel_id: str) -> LinkedChannel | None:
    with db.transaction(read_only=True) as session:
        row = session.get(PartnerChannel, channel_id)
        if row is None:
            return None
        partner = session.get(Partner, row.partner_id)
        return _linked(row, partner.name if partner else row.partner_id)


def linked_channels(db: Database) -> list[LinkedChannel]:
    """Every linked channel, by partner then channel."""
    with db.transaction(read_only=True) as session:
        rows = session.execute(
            select(PartnerChannel, Partner.name)
            .join(Partner, Partner.partner_id == PartnerChannel.partner_id)
            .order_by(PartnerChannel.partner_id, PartnerChannel.channel_id)
        ).all()
        return [_linked(row, name) for row, name in rows]


def person(session: Session, slack_user_id: str) -> Person | None:
    row = session.get(SlackPerson, slack_user_id)
    if row is None:
        return None
    try:
        route = NoticeRoute(row.notice_route) if row.notice_route else None
    except ValueError:
        route = None
    return Person(
        slack_user_id=row.slack_user_id,
        team_id=row.team_id,
        enterprise_id=row.enterprise_id,
        channel_id=row.channel_id,
        notice_route=route,
        notice_channel_id=row.notice_channel_id,
    )


def notice_channel(session: Session, partner_id: str, last_used: str | None) -> str | None:
    """The partner's linked channel for a notice: the one the person last acted from, if it is
    one of them, else the one linked first. None: the partner has no linked channel."""
    channels = session.scalars(
        select(PartnerChannel.channel_id)
        .where(PartnerChannel.partner_id == partner_id)
        .order_by(PartnerChannel.linked_at, PartnerChannel.channel_id)
    ).all()
    if last_used in channels:
        return last_used
    return channels[0] if channels else None


def is_linked_to(session: Session, channel_id: str, partner_id: str) -> bool:
    """Is ``channel_id`` linked to ``partner_id`` now (a route to it is still good)?"""
    row = session.get(PartnerChannel, channel_id)
    return row is not None and row.partner_id == partner_id


def record_notice_route(
    session: Session,
    slack_user_id: str,
    route: NoticeRoute,
    channel_id: str | None,
    now: dt.datetime,
) -> None:
    """Keep how this person's notices go, for every later notice and retry.

    A DM route is kept only for a person already recorded: for anyone else the DM is what is
    tried first anyway, so a row made only to say "dm" would be a write that decides nothing
    (and would start recording where they act, which a payload naming no team must not).
    """
    row = session.get(SlackPerson, slack_user_id)
    if row is None and route is NoticeRoute.DM:
        return
    if row is None:
        row = SlackPerson(slack_user_id=slack_user_id, seen_at=now)
        session.add(row)
    row.notice_route = route.value
    row.notice_channel_id = channel_id
    row.notice_decided_at = now


def forget_notice_route(session: Session, slack_user_id: str) -> None:
    """The recorded way failed for good: the next notice decides again."""
    row = session.get(SlackPerson, slack_user_id)
    if row is not None:
        row.notice_route = None
        row.notice_channel_id = None
        row.notice_decided_at = None


def _forget_routes_to(session: Session, channel_id: str) -> None:
    for row in session.scalars(
        select(SlackPerson).where(SlackPerson.notice_channel_id == channel_id)
    ):
        row.notice_route = None
        row.notice_channel_id = None
        row.notice_decided_at = None


def _linked(row: PartnerChannel, partner_name: str) -> LinkedChannel:
    return LinkedChannel(
        channel_id=row.channel_id,
        partner_id=row.partner_id,
        partner_name=partner_name,
        launcher_ts=row.launcher_ts,
        linked_by=row.linked_by,
        linked_at=row.linked_at,
    )
