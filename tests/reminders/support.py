"""Shared by the reminders' tests: Paris moments, requests made at a given time, the rows owed."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import select

from models.enums import OutboxKind
from models.schemas import Actor
from models.tables import OutboxMessage
from slackbot.business_time import ReminderRules
from slackbot.clock import FrozenClock
from slackbot.db import Database
from slackbot.ledger import Ledger

PARIS = ZoneInfo("Europe/Paris")
RULES = ReminderRules()  # the defaults: 4h, 24h, 09:00-18:00 Mon-Fri, Europe/Paris
APPROVER = Actor(user_id="UAPPROVER", can_approve=True)
REQUEST_KINDS = {
    OutboxKind.REQUEST_REMINDED,
    OutboxKind.REQUEST_ESCALATED,
    OutboxKind.REQUEST_CHASED,
}


def paris(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS).astimezone(dt.UTC)  # type: ignore[misc]


MONDAY_10 = paris(2026, 11, 23, 10)


def request_at(db: Database, moment: dt.datetime, invoice: str = "INV-1", user: str = "U1") -> int:
    payment = "PAY-2" if invoice == "INV-B" else "PAY-1"
    ledger = Ledger(db, clock=FrozenClock(moment))
    return ledger.request_allocation(user, payment, invoice, "100.00").allocation_id


def reminder_rows(db: Database, *, digests: bool = False) -> list[tuple[str, int | None, str]]:
    """The reminders' outbox rows, in order (with the digests' when ``digests``)."""
    kinds = REQUEST_KINDS | ({OutboxKind.DAILY_DIGEST} if digests else set())
    with db.transaction(read_only=True) as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.kind.in_(kinds))
            .order_by(OutboxMessage.message_id)
        ).all()
        return [(row.kind, row.allocation_id, row.recipient) for row in rows]
