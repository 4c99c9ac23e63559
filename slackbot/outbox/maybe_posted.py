"""Where an outbox row's post may have landed unseen: recorded before every post.

A post may be applied by the far side though its sender never learns it: the answer is lost (a
timeout, a dropped connection, a server error after it was sent), or the sender's process dies
or loses its database between the far side accepting the post and the row being marked sent.
The row's next attempt must not post blind. So, before each post, in its own committed
transaction, the sender records here, on the row itself (its ``payload``, key ``MAYBE_POSTED``),
the channel the post goes to and the wall-clock time (seconds since the epoch, the far side's
clock) of the first attempt there; an attempt that finds a mark already there looks in that
channel for the message first. A clear refusal (nothing was applied) of a post that found no
earlier mark takes its mark away again. Nothing here knows about Slack.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models.tables import OutboxMessage
from slackbot.db import Database

__all__ = ["MAYBE_POSTED", "clear", "record", "since"]

# The payload key: {channel as addressed: first attempt's epoch seconds}.
MAYBE_POSTED = "maybe_posted"


def record(db: Database, message_id: int, channel: str, started_at: float) -> float | None:
    """A post of this row to ``channel`` begins at ``started_at`` and may land; returns when an
    earlier attempt there began (it may have landed: look first), None when none did."""
    with db.transaction() as session:
        row = session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None:
            return None
        payload: dict[str, Any] = dict(row.payload or {})
        seen = dict(payload.get(MAYBE_POSTED) or {})
        earlier = _seconds(seen.get(channel))
        seen[channel] = min(earlier, started_at) if earlier is not None else started_at
        payload[MAYBE_POSTED] = seen
        # A new dict, so the JSON column sees the change.
        row.payload = payload
        return earlier


def clear(db: Database, message_id: int, channel: str) -> None:
    """Nothing of this row was applied in ``channel`` (a clear refusal, or no post was made)."""
    with db.transaction() as session:
        row = session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None or not isinstance(row.payload, dict):
            return
        payload: dict[str, Any] = dict(row.payload)
        seen = dict(payload.get(MAYBE_POSTED) or {})
        if seen.pop(channel, None) is None:
            return
        if seen:
            payload[MAYBE_POSTED] = seen
        else:
            payload.pop(MAYBE_POSTED, None)
        row.payload = payload


def since(db: Database, message_id: int, channel: str) -> float | None:
    """When this row's first possibly-landed post to ``channel`` began; None: none may have."""
    with db.transaction(read_only=True) as session:
        payload = session.scalar(
            select(OutboxMessage.payload).where(OutboxMessage.message_id == message_id)
        )
    if not isinstance(payload, dict):
        return None
    seen = payload.get(MAYBE_POSTED)
    return _seconds(seen.get(channel)) if isinstance(seen, dict) else None


def _seconds(value: Any) -> float | None:
    if value is None:
        return None
    try:
        return float(value)
    except (TypeError, ValueError):
        return None
