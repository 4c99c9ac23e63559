"""Every outbox post, once: metadata naming the row, and a look for it before any re-post.

``chat.postMessage`` has no idempotency key. Each post the outbox makes therefore carries Slack
message metadata naming its outbox row (``event_type`` ``payments_outbox_message``,
``event_payload`` with ``outbox_message_id``, ``allocation_id`` and ``kind``), invisible to
people. Before each post, in its own committed transaction (one small write), the row records
the channel and when the attempt began (:mod:`slackbot.outbox.maybe_posted`): the post may land
though this process never learns it, whether its answer is lost (a timeout, a dropped
connection, a 5xx) or the process dies or loses its database before the row is marked sent.
An attempt that finds such a mark first reads that channel's history from a little before then
(``conversations.history``; a thread reply: ``conversations.replies`` of the parent; a DM: the
channel ``conversations.open`` gives), with ``include_all_metadata``, page by page, and when it
finds its own message it adopts that ``ts`` as if the post had answered. If the look itself
fails, it raises :class:`LookupFailed` and the row waits and looks again: it never posts blind.
A clear refusal (``ok: false``, a 429, a refused connection) of an attempt that found no mark
takes the mark away: nothing landed, and the retry posts without a look.

``chat.update`` and ``views.publish`` need none of this: they replace content, so doing one
twice leaves the same message or Home.
"""

from __future__ import annotations

import contextlib
import copy
import http.client
import time
from collections.abc import Callable
from typing import Any
from urllib.error import URLError

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import ConnectionErrorRetryHandler

from slackbot.db import Database
from slackbot.outbox import maybe_posted
from slackbot.outbox.queue import Owed

__all__ = [
    "EVENT_TYPE",
    "LOOKBACK_SECONDS",
    "UNDMABLE",
    "LookupFailed",
    "PostOnce",
    "is_ambiguous",
    "tag",
]

EVENT_TYPE = "payments_outbox_message"
# How far before the first attempt the look starts: our clock against Slack's (NTP keeps them
# within a second or two) and the time the request spent before Slack stamped it.
LOOKBACK_SECONDS = 120.0
# Messages per page of the look (Slack's ceiling is 999; it recommends 200 at most).
PAGE = 200
# Pages read at most: a billing channel would need 40,000 messages since the first attempt.
MAX_PAGES = 200


# What Slack answers when the bot cannot DM this person (chat.postMessage to their user id,
# conversations.open): external people of a Slack Connect channel, people the token's workspace
# cannot see, deactivated accounts, workspaces whose settings forbid it. No retry will help;
# the partner's linked channel will.
UNDMABLE = frozenset(
    {
        "cannot_dm_bot",
        "channel_not_found",
        "user_not_found",
        "users_not_found",
        "user_not_visible",
        "user_disabled",
        "not_allowed_token_type",
        "restricted_action",
        "team_access_not_granted",
        "messages_tab_disabled",
    }
)


class LookupFailed(Exception):
    """Looking for a possibly-landed post failed: the row waits and looks again."""

    def __init__(self, message: str, cause: Exception | None = None) -> None:
        super().__init__(message)
        self.cause = cause


def slack_error(exc: SlackApiError) -> str:
    """Slack's error code (``not_in_channel``), else ``http_<status>``."""
    response = getattr(exc, "response", None)
    try:
        code = response.get("error") if response is not None else None
    except Exception:
        code = None
    if code:
        return str(code)
    status = getattr(response, "status_code", None)
    return f"http_{status}" if status else "slack_error"


def tag(owed: Owed) -> dict[str, Any]:
    """The message metadata naming ``owed``'s row (Slack takes strings, numbers, booleans)."""
    payload: dict[str, Any] = {"outbox_message_id": owed.message_id, "kind": str(owed.kind)}
    if owed.allocation_id is not None:
        payload["allocation_id"] = owed.allocation_id
    return {"event_type": EVENT_TYPE, "event_payload": payload}


def is_ambiguous(exc: Exception) -> bool:
    """Whether a failed post may have been applied: anything but Slack's clear answer (``ok:
    false``, a 4xx such as 429) or a connection that was refused before anything was sent."""
    if isinstance(exc, SlackApiError):
        status = getattr(getattr(exc, "response", None), "status_code", None)
        return isinstance(status, int) and status >= 500
    if isinstance(exc, URLError) and isinstance(exc.reason, ConnectionRefusedError):
        return False
    if isinstance(exc, ConnectionRefusedError):
        return False
    # Timeouts, resets, remote disconnects, truncated answers: the request may have arrived.
    return isinstance(exc, (OSError, http.client.HTTPException, ValueError))


def is_ours(message: dict[str, Any], owed: Owed) -> bool:
    metadata = message.get("metadata")
    if not isinstance(metadata, dict) or metadata.get("event_type") != EVENT_TYPE:
        return False
    payload = metadata.get("event_payload")
    if not isinstance(payload, dict):
        return False
    row = payload.get("outbox_message_id")
    return isinstance(row, int | str) and str(row) == str(owed.message_id)


def once_only(client: WebClient) -> WebClient:
    """``client``, or a copy of it that does not re-send a post on a dropped connection by
    itself (slack_sdk's ``ConnectionErrorRetryHandler`` would post blind, twice)."""
    handlers = list(getattr(client, "retry_handlers", None) or [])
    kept = [h for h in handlers if not isinstance(h, ConnectionErrorRetryHandler)]
    if len(kept) == len(handlers):
        return client
    bare = copy.copy(client)
    bare.retry_handlers = kept
    return bare


class PostOnce:
    """``chat.postMessage`` for an outbox row, at most once however its answers get lost.

    ``wall``: seconds since the epoch on Slack's clock, which the look compares with messages'
    ``ts``. Not the bot's injected ``Clock``: tests freeze and move that one to any date.
    """

    def __init__(self, db: Database, *, wall: Callable[[], float] = time.time) -> None:
        self.db = db
        self.wall = wall

    def post(
        self,
        client: WebClient,
        owed: Owed,
        channel: str,
        *,
        ready: Callable[[], None] | None = None,
        **message: Any,
    ) -> Any:
        """Post ``message`` to ``channel`` (a user id: their DM) for ``owed``; Slack's answer,
        or, when an earlier attempt had landed, an answer naming that message.

        ``ready``: called just before the post itself (the paced channel's slot), after the
        mark and any look, so no database write comes between the slot and the post.
        """
        # Committed before Slack can accept anything: whatever happens after, the next attempt
        # of this row looks before it posts.
        earlier = maybe_posted.record(self.db, owed.message_id, channel, self.wall())
        if earlier is not None:
            found = self.find(client, owed, channel, message.get("thread_ts"), earlier)
            if found is not None:
                where, ts = found
                return {"ok": True, "channel": where, "ts": ts, "adopted": True}
        try:
            if ready is not None:
                ready()
        except Exception:
            # No post was made: the retry need not look (unless an earlier attempt may have).
            self._nothing_landed(owed, channel, earlier)
            raise
        try:
            return once_only(client).chat_postMessage(
                channel=channel, metadata=tag(owed), **message
            )
        except Exception as exc:
            if not is_ambiguous(exc):
                self._nothing_landed(owed, channel, earlier)
            raise

    def _nothing_landed(self, owed: Owed, channel: str, earlier: float | None) -> None:
        if earlier is not None:
            return  # an earlier attempt may have landed: its mark stays
        # Failing to take the mark away only costs the retry a look.
        with contextlib.suppress(Exception):
            maybe_posted.clear(self.db, owed.message_id, channel)

    def find(
        self,
        client: WebClient,
        owed: Owed,
        channel: str,
        thread_ts: str | None,
        since: float,
    ) -> tuple[str, str] | None:
        """The channel and ``ts`` of ``owed``'s message posted since ``since`` (epoch seconds,
        less ``LOOKBACK_SECONDS``), or None when it is not there. Raises LookupFailed."""
        try:
            conversation = channel
            if channel[:1] in ("U", "W"):
                # A post to a user id lands in the DM; its history is the DM channel's.
                try:
                    opened = client.conversations_open(users=channel)
                except SlackApiError as exc:
                    if slack_error(exc) in UNDMABLE:
                        # No DM with them can be opened: no post to them can have landed.
                        return None
                    raise
                conversation = str(opened["channel"]["id"])
            oldest = f"{max(0.0, since - LOOKBACK_SECONDS):.6f}"
            cursor: str | None = None
            for _ in range(MAX_PAGES):
                arguments: dict[str, Any] = {
                    "channel": conversation,
                    "oldest": oldest,
                    "inclusive": True,
                    "include_all_metadata": True,
                    "limit": PAGE,
                }
                if cursor:
                    arguments["cursor"] = cursor
                if thread_ts:
                    # Thread replies are not in the channel's history, only in the thread's.
                    page = client.conversations_replies(ts=thread_ts, **arguments)
                else:
                    page = client.conversations_history(**arguments)
                for found in page.get("messages") or []:
                    if isinstance(found, dict) and is_ours(found, owed) and found.get("ts"):
                        return conversation, str(found["ts"])
                cursor = (page.get("response_metadata") or {}).get("next_cursor") or None
                if not page.get("has_more") or not cursor:
                    return None
        except Exception as exc:
            raise LookupFailed(
                f"could not look for {owed}'s earlier post in {channel}: {exc}", exc
            ) from exc
        raise LookupFailed(f"{owed}: more than {MAX_PAGES} pages of history since the first try")
