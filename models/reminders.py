"""What the reminders decided, once for every bot process: each request's stages, each day's digest.

A row here is the decision itself: it is inserted with ``ON CONFLICT DO NOTHING`` in the same
transaction as the outbox rows it owes, and only the transaction that inserted it writes them,
so a reminder is owed once however many processes look at the same moment, or restart.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, Date, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from models.enums import ReminderStage, sql_in
from models.tables import Base

__all__ = ["DailyDigest", "RequestReminder"]


class RequestReminder(Base):
    """A waiting request reached a stage (reminded, escalated): decided once, at ``decided_at``."""

    __tablename__ = "request_reminders"
    __table_args__ = (CheckConstraint(f"stage IN ({sql_in(ReminderStage)})", name="stage_known"),)

    # The request's id: its first line's allocation_id.
    request_id: Mapped[int] = mapped_column(
        Integer, ForeignKey("allocations.allocation_id"), primary_key=True
    )
    stage: Mapped[str] = mapped_column(String(16), primary_key=True)
    decided_at: Mapped[dt.datetime] = mapped_column()
    # The request's business age then, in whole seconds (what the message names).
    business_seconds: Mapped[int] = mapped_column(Integer)
    # False when a later stage was reached in the same look (a request found already past
    # ESCALATE_AFTER is escalated, not also reminded): the stage is decided, nothing was owed.
    owed: Mapped[bool] = mapped_column(default=True)


class DailyDigest(Base):
    """The billing channel's digest for one business day, decided once at that day's opening."""

    __tablename__ = "daily_digests"

    business_date: Mapped[dt.date] = mapped_column(Date, primary_key=True)
    decided_at: Mapped[dt.datetime] = mapped_column()
    # How many requests were waiting then (0: nothing was posted).
    waiting: Mapped[int] = mapped_column(Integer)
