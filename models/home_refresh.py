"""Whose App Home is out of date: one row per person, however many changes touched it.

A change that affects someone's Home marks their row due (``slackbot.outbox.home_queue``) in
the change's own transaction; the Home publisher leases due rows as the outbox sender leases
messages, republishes, and clears ``due_at`` only if no change came in meanwhile (``changes``
is counted up by every mark, and the claim remembers the count it saw). The row stays after a
publish (``due_at`` NULL), so it also lists everyone who has a Home.

Also the index the approver's Home reads "what I decided today" by, on ``allocations``.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from models.tables import SLACK_ID, Allocation, Base

# A row under this id stands for "every approver": the ledger does not know who they are (the
# Slack layer's directory does), so the publisher expands it into one row per approver.
EVERY_APPROVER = "@approvers"


class HomeRefresh(Base):
    __tablename__ = "home_refresh"
    __table_args__ = (Index("ix_home_refresh_due", "due_at"),)

    slack_user_id: Mapped[str] = mapped_column(SLACK_ID, primary_key=True)
    # When to publish next: NULL when the published Home is current.
    due_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    claimed_by: Mapped[str | None] = mapped_column(String(64), nullable=True)
    claimed_until: Mapped[dt.datetime | None] = mapped_column(nullable=True)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    # How many marks this row has had; a publish that started at count N clears due_at only if
    # the count is still N (a change during the publish keeps the row due).
    changes: Mapped[int] = mapped_column(Integer, default=0)
    # The queue's last publish of this Home: the next one waits out the publisher's spacing.
    published_at: Mapped[dt.datetime | None] = mapped_column(nullable=True)


# "What did I decide today" for an approver: their decisions, newest first, without a scan.
Index("ix_allocations_decided_by", Allocation.decided_by, Allocation.decided_at)
