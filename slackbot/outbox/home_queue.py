"""Home refreshes owed: who to mark for a change, the coalescing mark, and the leased queue.

A change that alters what someone's App Home shows calls one of the ``mark_*`` functions in
its own transaction, so a rolled-back change marks nobody and a committed one cannot be
forgotten. :func:`mark_stale` is an upsert on ``home_refresh`` (one row per person): fifty
changes for one person before the publisher gets to them are one row, so one ``views.publish``.

The publisher (``slackbot.slack.home_publisher``) leases due rows as the outbox sender leases
messages (``claimed_by``/``claimed_until``, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL, a read
before any write lock on SQLite), publishes without holding a database lock, then reports
:meth:`HomeQueue.done` (clears ``due_at`` unless a change came in meanwhile) or
:meth:`HomeQueue.failed` (backoff; nothing is lost while Slack is down). A Home the queue
published is not published from it again within :data:`HOME_SPACING_SECONDS` (``published_at``):
changes in between wait, coalesced, and go out together once the spacing has passed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.home_refresh import EVERY_APPROVER, HomeRefresh
from models.limits import is_slack_user_id
from models.tables import PartnerMember
from models.workspaces import PartnerTeam, SlackPerson
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.outbox.queue import RetryPolicy

__all__ = [
    "EVERY_APPROVER",
    "HOME_SPACING_SECONDS",
    "Claimed",
    "HomeQueue",
    "mark_for_partners",
    "mark_for_request",
    "mark_stale",
    "members_of",
]

# Rows written per INSERT (a partner's import may mark thousands of members at once).
_MARK_CHUNK = 500
# The least time between two publishes of one person's Home from the queue: a burst of changes
# (an approver's queue while a partner submits ten requests, an import touching a partner) is
# one publish per person per spacing, so the publisher's work is bounded by people, not by
# changes, and it leaves the request threads their CPU. Opening the Home publishes at once.
HOME_SPACING_SECONDS = 5.0


# ----------------------------------------------------------------------- marking


def mark_stale(session: Session, user_ids: Iterable[str], *, at: dt.datetime) -> int:
    """Mark each person's Home due at ``at`` (the caller's clock), coalesced: one row per person.

    An upsert in the caller's transaction. A row already due keeps its time (a Home waiting out
    a Slack outage's backoff is not hammered); every mark counts ``changes`` up, so a publish
    under way when the change landed leaves the row due. Ids are written in sorted order, so
    two transactions marking the same people on PostgreSQL lock them in the same order.
    Returns how many people were marked.
    """
    wanted = sorted({u for u in user_ids if u == EVERY_APPROVER or is_slack_user_id(u)})
    if not wanted:
        return 0
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    for start in range(0, len(wanted), _MARK_CHUNK):
        rows = [
            {"slack_user_id": user, "due_at": at, "attempts": 0, "changes": 1}
            for user in wanted[start : start + _MARK_CHUNK]
        ]
        statement = insert(HomeRefresh).values(rows)
        session.execute(
            statement.on_conflict_do_update(
                index_elements=[HomeRefresh.slack_user_id],
                set_={
                    "due_at": func.coalesce(HomeRefresh.due_at, statement.excluded.due_at),
                    "changes": HomeRefresh.changes + 1,
                },
            )
        )
    return len(wanted)


def members_of(session: Session, partner_ids: Iterable[str]) -> list[str]:
    """Everyone who may act for any of ``partner_ids`` (``slackbot.ledger.membership``'s rule,
    read wide: a member pinned to a team is marked even when last seen elsewhere; their Home
    then simply leaves that partner out)."""
    partners = sorted(set(partner_ids))
    if not partners:
        return []
    return sorted(set(session.scalars(union(*_member_selects(partners)))))


def _member_selects(partners: list[str]) -> tuple[Select[str], Select[str]]:
    """The listed members of ``partners``, and the people seen from a team they claim."""
    listed = select(PartnerMember.slack_user_id).where(PartnerMember.partner_id.in_(partners))
    by_team = (
        select(SlackPerson.slack_user_id)
        .join(
            PartnerTeam,
            or_(
                PartnerTeam.slack_team_id == SlackPerson.team_id,
                PartnerTeam.slack_team_id == SlackPerson.enterprise_id,
            ),
        )
        .where(PartnerTeam.partner_id.in_(partners))
    )
    return listed, by_team


def mark_for_request(session: Session, partner_id: str, requester: str, *, at: dt.datetime) -> None:
    """A request was made, decided, cancelled or reversed: its requester, the partner's
    members and every approver (their queue) see it change.

    One statement (``INSERT … SELECT … ON CONFLICT``), since every decision runs it: the same
    coalescing upsert as :func:`mark_stale`, the people read by the database itself.
    """
    also = [requester, EVERY_APPROVER] if is_slack_user_id(requester) else [EVERY_APPROVER]
    people = union(*_member_selects([partner_id]), *(select(literal(u)) for u in also)).subquery()
    rows = (
        select(people.c[0], literal(at, HomeRefresh.due_at.type), literal(0), literal(1))
        # SQLite reads "INSERT … SELECT … ON CONFLICT" right only with a WHERE in the SELECT.
        .where(true())
        .order_by(people.c[0])
    )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(HomeRefresh).from_select(
        ["slack_user_id", "due_at", "attempts", "changes"], rows
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[HomeRefresh.slack_user_id],
            set_={
                "due_at": func.coalesce(HomeRefresh.due_at, statement.excluded.due_at),
                "changes": HomeRefresh.changes + 1,
            },
        )
    )


def mark_for_partners(
    session: Session,
    partner_ids: Iterable[str],
    *,
    also: Iterable[str] = (),
    at: dt.datetime,
) -> int:
    """An import touched these partners' payments or invoices: their members' Homes change.

    Approvers too when a pending request's figures may have moved (their queue shows balances).
    """
    return mark_stale(session, [*members_of(session, partner_ids), *also, EVERY_APPROVER], at=at)


# ------------------------------------------------------------------------- queue


@dataclass(frozen=True)
class Claimed:
    """A leased row: whose Home, and the count of changes the publish will cover."""

    user_id: str
    changes: int
    attempts: int


class HomeQueue:
    """The due ``home_refresh`` rows: what may be claimed, and what became of each publish."""

    def __init__(
        self,
        db: Database,
        *,
        clock: Clock = system_clock,
        retry: RetryPolicy | None = None,
        lease_seconds: float = 30.0,
        batch_size: int = 10,
        spacing_seconds: float = HOME_SPACING_SECONDS,
    ) -> None:
        self.db = db
        self.clock = clock
        self.retry = retry or RetryPolicy()
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.spacing = dt.timedelta(seconds=max(0.0, spacing_seconds))

    def mark(self, user_ids: Iterable[str]) -> int:
        """:func:`mark_stale` in a transaction of its own (a Home opened, an approver list)."""
        with self.db.transaction() as session:
            return mark_stale(session, user_ids, at=self.clock())

    def next_due_in(self) -> float | None:
        """Seconds until a row could be claimed (0: now), or None when none is due."""
        with self.db.transaction(read_only=True) as session:
            free = (HomeRefresh.due_at.is_not(None), HomeRefresh.claimed_until.is_(None))
            due: dt.datetime | None = session.scalar(
                select(func.min(HomeRefresh.due_at)).where(*free, self._spaced(self.clock()))
            )
            # A row published too recently is due once its spacing has passed (or later).
            held: dt.datetime | None = session.scalar(
                select(func.min(HomeRefresh.published_at)).where(
                    *free, not_(self._spaced(self.clock()))
                )
            )
            if held is not None:
                due = min(t for t in (due, held + self.spacing) if t is not None)
            leased: dt.datetime | None = session.scalar(
                select(func.min(HomeRefresh.claimed_until)).where(
                    HomeRefresh.due_at.is_not(None), HomeRefresh.claimed_until.is_not(None)
                )
            )
        times = [t for t in (due, leased) if t is not None]
        if not times:
            return None
        return max(0.0, (min(times) - self.clock()).total_seconds())

    def due_count(self) -> int:
        with self.db.transaction(read_only=True) as session:
            found = session.scalar(
                select(func.count()).select_from(HomeRefresh).where(HomeRefresh.due_at.is_not(None))
            )
        return int(found or 0)

    def claim(self, worker_id: str) -> list[Claimed]:
        """Lease up to ``batch_size`` due rows to ``worker_id``, the longest-waiting first."""
        now = self.clock()
        claimable = (
            HomeRefresh.due_at.is_not(None),
            HomeRefresh.due_at <= now,
            or_(HomeRefresh.claimed_until.is_(None), HomeRefresh.claimed_until < now),
            self._spaced(now),
        )
        # Look before locking: on SQLite a write transaction takes the one write lock.
        with self.db.transaction(read_only=True) as session:
            if session.scalar(select(HomeRefresh.slack_user_id).where(*claimable).limit(1)) is None:
                return []
        with self.db.transaction() as session:
            stmt = (
                select(HomeRefresh.slack_user_id, HomeRefresh.changes, HomeRefresh.attempts)
                .where(*claimable)
                .order_by(HomeRefresh.due_at, HomeRefresh.slack_user_id)
                .limit(self.batch_size)
            )
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True)
            rows = session.execute(stmt).all()
            if rows:
                session.execute(
                    update(HomeRefresh)
                    .where(HomeRefresh.slack_user_id.in_([r.slack_user_id for r in rows]))
                    .values(claimed_by=worker_id, claimed_until=now + self.lease)
                )
        return [Claimed(r.slack_user_id, int(r.changes), int(r.attempts)) for r in rows]

    def done(self, claimed: Claimed, worker_id: str) -> bool:
        """The Home was published: current unless a change came in during the publish.

        Returns True when the row is now current (False: still due, published again soon).
        """
        ours = and_(
            HomeRefresh.slack_user_id == claimed.user_id, HomeRefresh.claimed_by == worker_id
        )
        with self.db.transaction() as session:
            published = {
                "claimed_by": None,
                "claimed_until": None,
                "attempts": 0,
                "last_error": None,
                "published_at": self.clock(),
            }
            result = session.execute(
                update(HomeRefresh)
                .where(ours, HomeRefresh.changes == claimed.changes)
                .values(due_at=None, **published)
            )
            if getattr(result, "rowcount", 0):
                return True
            session.execute(update(HomeRefresh).where(ours).values(**published))
        return False

    def _spaced(self, now: dt.datetime) -> ColumnElement[bool]:
        """Not published by the queue within the spacing before ``now``."""
        return or_(
            HomeRefresh.published_at.is_(None), HomeRefresh.published_at <= now - self.spacing
        )

    def failed(self, claimed: Claimed, worker_id: str, error: str) -> float:
        """The publish failed: due again after a backoff; returns the wait in seconds."""
        attempts = claimed.attempts + 1
        delay = self.retry.delay(attempts)
        with self.db.transaction() as session:
            session.execute(
                update(HomeRefresh)
                .where(
                    HomeRefresh.slack_user_id == claimed.user_id,
                    HomeRefresh.claimed_by == worker_id,
                )
                .values(
                    due_at=self.clock() + dt.timedelta(seconds=delay),
                    claimed_by=None,
                    claimed_until=None,
                    attempts=attempts,
                    last_error=error[:2000],
                )
            )
        return delay

    def people_with_a_home(self) -> list[str]:
        """Everyone who has a row (was ever marked or opened their Home), the sentinel aside."""
        with self.db.transaction(read_only=True) as session:
            return list(
                session.scalars(
                    select(HomeRefresh.slack_user_id).where(
                        HomeRefresh.slack_user_id != EVERY_APPROVER
                    )
                )
            )
