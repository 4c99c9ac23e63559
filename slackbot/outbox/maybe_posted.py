"""Where an outbox row's post may have landed unseen: recorded after an ambiguous failure.

A post that times out, loses its connection or gets a server error after it was sent may have
been applied by the far side. The row's retry must not post blind, so the sender records here,
on the row itself (its ``payload``, key ``MAYBE_POSTED``), each channel such a post went to and
the wall-clock time (seconds since the epoch, the far side's clock) of the first such attempt;
the next attempt looks there for the message first. Nothing here knows about Slack.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from models.tables import OutboxMessage
from slackbot.db import Database

__all__ = ["MAYBE_POSTED", "record", "since"]

# The payload key: {channel as addressed: first attempt's epoch seconds}.
MAYBE_POSTED = "maybe_posted"


def record(db: Database, message_id: int, channel: str, started_at: float) -> None:
    """A post of this row to ``channel`` that began at ``started_at`` may have landed."""
    with db.transaction() as session:
        row = session.get(OutboxMessage, message_id, with_for_update=True)
        if row is None:
            return
        payload: dict[str, Any] = dict(row.payload or {})
        seen = dict(payload.get(MAYBE_POSTED) or {})
        earlier = seen.get(channel)
        seen[channel] = min(float(earlier), started_at) if earlier is not None else started_at
        payload[MAYBE_POSTED] = seen
        # A new dict, so the JSON column sees the change.
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
    if not isinstance(seen, dict) or seen.get(channel) is None:
        return None
    try:
        return float(seen[channel])
    except (TypeError, ValueError):
        return None
