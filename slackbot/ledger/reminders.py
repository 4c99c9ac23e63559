"""Deciding reminders exactly once: which waiting requests are reminded or escalated, the digest.

One look (:func:`run_reminders`) runs in one transaction: it finds the pending requests whose
business age passed ``REMIND_AFTER`` (or ``ESCALATE_AFTER``), inserts their ``request_reminders``
rows with ``INSERT … ON CONFLICT DO NOTHING … RETURNING``, and writes outbox rows only for the
rows it inserted. Two processes that look at the same moment insert the same keys: PostgreSQL
makes the second wait for the first and then skip them, SQLite serializes the two transactions,
so each stage of each request owes its messages once, across any number of processes and
restarts. The daily digest is decided the same way, once per business date.

A request decided after its reminder was owed but before it was sent is not reminded: the
sender reads the request when it sends and skips a reminder for a request no longer pending.
Nothing here knows Slack: the rows name kinds (:class:`OutboxKind`) and audiences, the payload
holds plain values, and the Slack layer renders them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import distinct, exists, func, insert, select
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from models.enums import AllocationStatus, Audience, OutboxKind, ReminderStage
from models.home_refresh import EVERY_APPROVER
from models.reminders import DailyDigest, RequestReminder
from models.tables import Allocation, OutboxMessage, Partner
from slackbot.business_time import BusinessCalendar, ReminderRules
from slackbot.clock import Clock
from slackbot.db import Database
from slackbot.outbox.home_queue import mark_stale

__all__ = [
    "DIGEST_PARTNERS_MAX",
    "RemindersRun",
    "next_due",
    "owed_payload",
    "run_reminders",
    "waiting_digest",
]

# Requests one look decides per stage: a backlog (the first start over months of requests) is
# worked off a batch per look, so no transaction holds the database for long.
BATCH = 200
# Partners a digest lists by name (oldest first); the rest are counted.
DIGEST_PARTNERS_MAX = 40

_WHAT_IS_OWED: dict[ReminderStage, tuple[tuple[OutboxKind, Audience], ...]] = {
    ReminderStage.REMIND: ((OutboxKind.REQUEST_REMINDED, Audience.BILLING),),
    ReminderStage.ESCALATE: (
        (OutboxKind.REQUEST_ESCALATED, Audience.BILLING),
        (OutboxKind.REQUEST_CHASED, Audience.REQUESTER),
    ),
}


@dataclass(frozen=True)
class RemindersRun:
    """What one look decided: the requests reminded and escalated, the digest's day if owed."""

    at: dt.datetime
    reminded: tuple[int, ...] = ()
    escalated: tuple[int, ...] = ()
    digest: dt.date | None = None
    # More requests were due than one batch holds: look again now.
    more: bool = False

    @property
    def owed(self) -> bool:
        """Outbox rows were written: the sender should look now."""
        return bool(self.reminded or self.escalated or self.digest)


def run_reminders(
    db: Database, clock: Clock, rules: ReminderRules, *, batch: int = BATCH
) -> RemindersRun:
    """Decide, in one transaction, every reminder, escalation and digest due now."""
    with db.transaction() as session:
        now = clock()
        escalated, more_escalations = _decide_stage(
            session, rules, ReminderStage.ESCALATE, now, batch
        )
        reminded, more_reminders = _decide_stage(session, rules, ReminderStage.REMIND, now, batch)
        digest = _decide_digest(session, rules.calendar, now)
    return RemindersRun(
        at=now,
        reminded=tuple(reminded),
        escalated=tuple(escalated),
        digest=digest,
        more=more_escalations or more_reminders,
    )


def next_due(db: Database, rules: ReminderRules, now: dt.datetime) -> dt.datetime | None:
    """When the next reminder, escalation or digest falls due (at or before ``now``: due now);
    None when nothing ever will (both stages off, and no business day: impossible)."""
    calendar = rules.calendar
    candidates: list[dt.datetime] = []
    with db.transaction(read_only=True) as session:
        for stage, after in _stages(rules):
            oldest = session.scalar(
                select(func.min(Allocation.requested_at)).where(*_waiting(stage))
            )
            if oldest is not None:
                candidates.append(calendar.reached(oldest, after))
        today = calendar.open_day(now)
        if today is not None and session.get(DailyDigest, today) is None:
            candidates.append(now)
    if not candidates or min(candidates) > now:
        later = now + dt.timedelta(microseconds=1)
        candidates.append(calendar.next_opening(later))
    return min(candidates)


def owed_payload(db: Database, message_id: int) -> dict[str, Any]:
    """The payload a reminder's outbox row was written with (its age then, the digest's
    figures); empty when the row is gone."""
    with db.transaction(read_only=True) as session:
        payload = session.scalar(
            select(OutboxMessage.payload).where(OutboxMessage.message_id == message_id)
        )
    return dict(payload) if isinstance(payload, dict) else {}


# ------------------------------------------------------------------------ requests' stages


def _stages(rules: ReminderRules) -> list[tuple[ReminderStage, dt.timedelta]]:
    stages = [
        (ReminderStage.ESCALATE, rules.escalate_after),
        (ReminderStage.REMIND, rules.remind_after),
    ]
    return [(stage, after) for stage, after in stages if after is not None]


def _waiting(stage: ReminderStage) -> list[Any]:
    """A request (its first line) still pending that has not reached ``stage`` (nor, for a
    reminder, been escalated already)."""
    stages = [ReminderStage.ESCALATE] if stage is ReminderStage.ESCALATE else list(ReminderStage)
    return [
        Allocation.line_no == 1,
        Allocation.status == AllocationStatus.PENDING,
        ~exists().where(
            RequestReminder.request_id == Allocation.allocation_id,
            RequestReminder.stage.in_(stages),
        ),
    ]


def _decide_stage(
    session: Session, rules: ReminderRules, stage: ReminderStage, now: dt.datetime, batch: int
) -> tuple[list[int], bool]:
    """Insert this stage's rows for the requests now due; owe messages for those inserted."""
    after = rules.escalate_after if stage is ReminderStage.ESCALATE else rules.remind_after
    if after is None:
        return [], False
    calendar = rules.calendar
    # A request is due when its business age reached ``after``: made at or before this moment.
    cutoff = calendar.latest_start(now, after)
    due = session.execute(
        select(Allocation.allocation_id, Allocation.requested_at, Allocation.requested_by)
        .where(*_waiting(stage), Allocation.requested_at <= cutoff)
        # One order in every process, so two looks that insert overlapping keys never wait on
        # each other in a cycle.
        .order_by(Allocation.allocation_id)
        .limit(batch + 1)
    ).all()
    more = len(due) > batch
    due = due[:batch]
    if not due:
        return [], more
    ages = {
        row.allocation_id: int(calendar.elapsed(row.requested_at, now).total_seconds())
        for row in due
    }
    requested_by = {row.allocation_id: row.requested_by for row in due}
    inserted = _insert_new(
        session,
        [
            {
                "request_id": request_id,
                "stage": stage.value,
                "decided_at": now,
                "business_seconds": ages[request_id],
                "owed": True,
            }
            for request_id in sorted(ages)
        ],
    )
    if stage is ReminderStage.ESCALATE and inserted:
        # Found already past escalation (the bot was off, or the request older than the
        # feature): the reminder is decided too, and owes nothing beside the escalation.
        _insert_new(
            session,
            [
                {
                    "request_id": request_id,
                    "stage": ReminderStage.REMIND.value,
                    "decided_at": now,
                    "business_seconds": ages[request_id],
                    "owed": False,
                }
                for request_id in inserted
            ],
            returning=False,
        )
    rows = [
        {
            "kind": kind,
            "allocation_id": request_id,
            "recipient": audience,
            "payload": {
                "requested_by": requested_by[request_id],
                "stage": stage.value,
                "business_seconds": ages[request_id],
            },
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
        }
        for request_id in inserted
        for kind, audience in _WHAT_IS_OWED[stage]
    ]
    if rows:
        session.execute(insert(OutboxMessage), rows)
        # "A reminder sent" changes Homes (issue 13): the requesters' and the approvers' queue,
        # coalesced per person by the Home's own outbox.
        mark_stale(session, {EVERY_APPROVER, *(requested_by[r] for r in inserted)}, at=now)
    return inserted, more


def _insert_new(
    session: Session, rows: Sequence[dict[str, Any]], *, returning: bool = True
) -> list[int]:
    """Insert the reminder rows not there yet; the request ids this statement inserted."""
    if not rows:
        return []
    dialect = session.get_bind().dialect.name
    upsert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    stmt = (
        upsert(RequestReminder)
        .values(list(rows))
        .on_conflict_do_nothing(index_elements=["request_id", "stage"])
    )
    if not returning:
        session.execute(stmt)
        return []
    return sorted(session.scalars(stmt.returning(RequestReminder.request_id)).all())


# ------------------------------------------------------------------------------- the digest


def _decide_digest(
    session: Session, calendar: BusinessCalendar, now: dt.datetime
) -> dt.date | None:
    """Owe today's digest if the business is open and nobody decided it yet; its date if owed.

    Decided at the first look after opening (at opening when the bot is running; later the
    same day when it started later). A day with nothing waiting is decided with no message.
    """
    today = calendar.open_day(now)
    if today is None or session.get(DailyDigest, today) is not None:
        return None
    digest = waiting_digest(session, calendar, now, today)
    dialect = session.get_bind().dialect.name
    upsert = sqlite_insert if dialect == "sqlite" else postgresql_insert
    decided = session.scalar(
        upsert(DailyDigest)
        .values(business_date=today, decided_at=now, waiting=digest["waiting"])
        .on_conflict_do_nothing(index_elements=["business_date"])
        .returning(DailyDigest.business_date)
    )
    if decided is None or not digest["waiting"]:
        return None
    session.execute(
        insert(OutboxMessage).values(
            kind=OutboxKind.DAILY_DIGEST,
            allocation_id=None,
            recipient=Audience.BILLING,
            payload=digest,
            created_at=now,
            attempts=0,
            next_attempt_at=now,
        )
    )
    return today


def waiting_digest(
    session: Session, calendar: BusinessCalendar, now: dt.datetime, day: dt.date
) -> dict[str, Any]:
    """What waits now, as the digest's payload (plain JSON values): how many requests, the
    oldest, and per partner (oldest first) how many, since when, and how much per currency."""
    pending = [Allocation.status == AllocationStatus.PENDING]
    waiting = int(
        session.scalar(
            select(func.count()).select_from(Allocation).where(*pending, Allocation.line_no == 1)
        )
        or 0
    )
    digest: dict[str, Any] = {
        "business_date": day.isoformat(),
        "as_of": now.isoformat(),
        "waiting": waiting,
        "oldest": None,
        "partners": [],
        "more_partners": 0,
    }
    if not waiting:
        return digest
    oldest = session.execute(
        select(Allocation.allocation_id, Allocation.requested_at, Partner.name)
        .join(Partner, Partner.partner_id == Allocation.partner_id)
        .where(*pending, Allocation.line_no == 1)
        .order_by(Allocation.requested_at, Allocation.allocation_id)
        .limit(1)
    ).one()
    digest["oldest"] = {
        "request_id": oldest.allocation_id,
        "partner_name": oldest.name,
        "requested_at": oldest.requested_at.isoformat(),
        "business_seconds": _age(calendar, oldest.requested_at, now),
    }
    per_partner = session.execute(
        select(
            Allocation.partner_id,
            Partner.name,
            func.count(distinct(Allocation.request_id)).label("requests"),
            func.min(Allocation.requested_at).label("since"),
        )
        .join(Partner, Partner.partner_id == Allocation.partner_id)
        .where(*pending)
        .group_by(Allocation.partner_id, Partner.name)
        .order_by(func.min(Allocation.requested_at), Allocation.partner_id)
    ).all()
    shown = per_partner[:DIGEST_PARTNERS_MAX]
    totals: dict[str, list[dict[str, Any]]] = {row.partner_id: [] for row in shown}
    if shown:
        for partner_id, currency, amount in session.execute(
            select(Allocation.partner_id, Allocation.currency, func.sum(Allocation.amount))
            .where(*pending, Allocation.partner_id.in_(list(totals)))
            .group_by(Allocation.partner_id, Allocation.currency)
            .order_by(Allocation.partner_id, Allocation.currency)
        ).all():
            totals[partner_id].append({"currency": currency, "amount": int(amount)})
    digest["partners"] = [
        {
            "partner_id": row.partner_id,
            "name": row.name,
            "waiting": int(row.requests),
            "since": row.since.isoformat(),
            "business_seconds": _age(calendar, row.since, now),
            "totals": totals[row.partner_id],
        }
        for row in shown
    ]
    digest["more_partners"] = len(per_partner) - len(shown)
    return digest


def _age(calendar: BusinessCalendar, since: dt.datetime, now: dt.datetime) -> int:
    return int(calendar.elapsed(since, now).total_seconds())
