"""Notices that reach the person: a requester's receipt and decision, by DM or in their channel.

The route is decided once per recipient and kept (``outbox.route``, ``slack_people``): a DM when
the bot can open one with the person (with their own workspace's token when the app is
installed there, else the vendor's), otherwise the partner's linked channel, where the notice is
a message naming them. Retries and later notices go the same way; the route is decided again
only when it fails for good (the DM closed, the channel unlinked or linked to another partner).

A person neither way reaches (no DM, and the partner has no linked channel) is a configuration
error for the operator: link a channel. The billing channel is never a partner's route.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from models.schemas import AllocationSummary
from slackbot.db import Database
from slackbot.outbox import channels
from slackbot.outbox.channels import NoticeRoute
from slackbot.outbox.queue import NoticeWay, OutboxQueue, Owed
from slackbot.slack.post_once import UNDMABLE, PostOnce, slack_error

if TYPE_CHECKING:
    from slackbot.slack.tokens import BotTokens

__all__ = ["UNDMABLE", "Notices", "Unreachable", "naming", "slack_error"]

log = logging.getLogger("slackbot.slack.sender")


class Unreachable(Exception):
    """Neither a DM nor a linked channel reaches the person: the operator must link a channel."""


def naming(user: str, message: dict[str, Any]) -> dict[str, Any]:
    """A notice as posted in a shared channel: the same content, opening with the person."""
    named = dict(message)
    named["text"] = f"<@{user}> {message.get('text') or ''}".strip()
    blocks = message.get("blocks")
    if blocks:
        named["blocks"] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": f"<@{user}>"}},
            *blocks,
        ]
    return named


def is_dm(channel: str) -> bool:
    return channel.startswith("D")


class Notices:
    """Posts and edits a requester's notices by their route, deciding it when it is not yet."""

    def __init__(
        self,
        db: Database,
        queue: OutboxQueue,
        tokens: BotTokens,
        *,
        billing_channel: str,
        once: PostOnce | None = None,
    ) -> None:
        self.db = db
        self.queue = queue
        self.tokens = tokens
        self.billing_channel = billing_channel
        # Every notice is posted once, however Slack's answers get lost (slackbot.slack.post_once).
        self.once = once or PostOnce(db)

    def post(
        self, owed: Owed, allocation: AllocationSummary, message: dict[str, Any]
    ) -> tuple[Any, NoticeWay]:
        """Post a new notice to the requester; returns Slack's answer and the route it took."""
        user = allocation.requested_by
        way = self.queue.notice_way(owed, user, allocation.partner_id)
        if way.route is NoticeRoute.CHANNEL and way.channel:
            return self._in_channel(owed, way.channel, user, message), way
        try:
            response = self._dm(owed, way, user, message)
        except SlackApiError as exc:
            error = slack_error(exc)
            if error not in UNDMABLE:
                raise
        else:
            if way.route is NoticeRoute.DM:
                return response, way
            decided = replace(way, route=NoticeRoute.DM, channel=str(response["channel"]))
            return response, self.queue.record_route(owed, user, decided)
        if way.route is NoticeRoute.DM:
            log.warning("outbox: %s: the DM with %s failed (%s); deciding again", owed, user, error)
            self.queue.forget_route(owed, user)
        fallback = way.fallback
        if fallback is None:
            raise Unreachable(
                f"{user} cannot get a DM ({error}) and partner {allocation.partner_id} has no"
                f" linked channel: run `slackbot channel link {allocation.partner_id} CHANNEL_ID`"
            )
        decided = replace(way, route=NoticeRoute.CHANNEL, channel=fallback)
        way = self.queue.record_route(owed, user, decided)
        log.info("outbox: %s: %s gets notices in %s (%s)", owed, user, fallback, error)
        return self._in_channel(owed, fallback, user, message), way

    def edit(
        self, allocation: AllocationSummary, channel: str, ts: str, message: dict[str, Any]
    ) -> bool:
        """Edit a receipt where it landed; False when it is in a channel no longer linked to
        the allocation's partner (it must not be edited there: tell them anew instead)."""
        user = allocation.requested_by
        if is_dm(channel):
            with self.db.transaction(read_only=True) as session:
                seen = channels.person(session, user)
            client = self._client_of(
                seen.team_id if seen else None, seen.enterprise_id if seen else None
            )
            client.chat_update(channel=channel, ts=ts, **message)
            return True
        if channel == self.billing_channel or not self._linked_to(channel, allocation.partner_id):
            return False
        self.tokens.billing().chat_update(channel=channel, ts=ts, **naming(user, message))
        return True

    def _dm(self, owed: Owed, way: NoticeWay, user: str, message: dict[str, Any]) -> Any:
        client = self._client_of(way.team_id, way.enterprise_id)
        return self.once.post(client, owed, user, **message)

    def _in_channel(self, owed: Owed, channel: str, user: str, message: dict[str, Any]) -> Any:
        if channel == self.billing_channel:
            # The billing channel stays internal: never a partner's notice there.
            raise Unreachable(f"{user}'s notice route names the billing channel; relink it")
        return self.once.post(self.tokens.billing(), owed, channel, **naming(user, message))

    def _client_of(self, team_id: str | None, enterprise_id: str | None) -> WebClient:
        """The person's own workspace's client when the app is installed there, else ours."""
        return self.tokens.for_team(team_id, enterprise_id) or self.tokens.billing()

    def _linked_to(self, channel: str, partner_id: str) -> bool:
        with self.db.transaction(read_only=True) as session:
            return channels.is_linked_to(session, channel, partner_id)
