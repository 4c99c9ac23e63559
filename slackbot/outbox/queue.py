"""The outbox queue: leased claims, order per destination, the paced channel's slots, outcomes.

The ledger writes an outbox row in the same transaction as every change that owes someone a
message, so nothing is lost when Slack (or this process) fails. This module is the queue those
rows wait in; it knows nothing of Slack (the sender in ``slackbot.slack.sender`` turns a claimed
row into Web API calls and reports back in plain values):

- A sender *leases* a batch (``claimed_by``/``claimed_until``) in a short transaction and commits,
  so no database lock is held while Slack is called; on PostgreSQL the claim uses ``FOR UPDATE
  SKIP LOCKED``, so several bot processes never send the same row. A sender that dies loses its
  lease when it runs out and another sender picks the row up.
- Messages about one allocation go out in the order they were written, per destination: a row is
  not claimable while an earlier row of the same allocation and destination is unsent (the
  billing post always precedes its edits, so edits find the ``channel``/``ts`` they need).
- The billing channel is paced across all processes (Slack allows about one message per second
  per channel): its next free slot lives in the ``channel_pace`` table, and a claim takes it for
  the batch's single most urgent billing row, so billing rows are never claimed before they
  could be sent and DMs keep flowing while a burst drains.
- A claim reads first and takes a write lock (SQLite's ``BEGIN IMMEDIATE``) only when there is
  something to take, so an idle or busy outbox does not queue people's requests behind it.
- A failure is recorded with exponential backoff and jitter, or the wait the far side asked for;
  configuration errors are retried slowly, forever, so the operator can fix them without losing
  a message.

Exactly once: a message is marked sent in the transaction that records where it landed. If that
commit fails after Slack accepted the call (the database vanished in between), the row is
claimed again after its lease runs out; its post is then found in the channel by its metadata
and adopted (:mod:`slackbot.slack.post_once`), and edits repeat harmlessly.
"""

from __future__ import annotations

import datetime as dt
import logging
import random
import time
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, update
from sqlalchemy.orm import Session, aliased

from models.enums import MOVES_NO_BALANCE, Audience, OutboxKind
from models.tables import OutboxMessage, SlackMessageRef
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.errors import Unavailable
from slackbot.outbox import channels
from slackbot.outbox.channels import NoticeRoute
from slackbot.outbox.owed import owe_refreshes_beside
from slackbot.outbox.pace import ChannelPacer

log = logging.getLogger(__name__)

_Member = TypeVar("_Member", bound=StrEnum)

# How often marking a sent message is tried before giving up (the database is gone).
MARK_ATTEMPTS = 5
# Where a message may have landed: one message per audience and allocation.
_ROLES = frozenset(Audience)


@dataclass(frozen=True)
class RetryPolicy:
    """How long a failed message waits before its next try: doubling, capped, jittered."""

    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    configuration_cap_seconds: float = 600.0
    jitter: float = 0.2

    def delay(self, attempts: int, *, configuration: bool = False) -> float:
        cap = self.configuration_cap_seconds if configuration else self.cap_seconds
        raw = min(cap, self.base_seconds * 2 ** max(0, attempts - 1))
        return float(raw * (1 + random.uniform(-self.jitter, self.jitter)))


@dataclass(frozen=True)
class Claim:
    """What one claim took: row ids, whether more was claimable, and which row got the slot."""

    ids: list[int]
    more: bool
    slot_for: int | None
    # The channel's next free slot as this claim wrote it (None: it took no slot). A call that
    # starts late moves it on by as much (``ChannelPacer.move_on``) while it is still this one.
    slot_until: dt.datetime | None = None
    # When (monotonic) the slot began: the moment the claim read the clock under the pace lock.
    slot_taken: float | None = None


@dataclass(frozen=True)
class Landed:
    """Where a message landed (a Slack channel and ``ts``), so later news edits it in place."""

    role: Audience
    channel: str
    ts: str


@dataclass(frozen=True)
class Owed:
    """One outbox row as a sender holds it: what it is about, for the call and the log."""

    message_id: int
    kind: OutboxKind
    recipient: Audience
    allocation_id: int | None
    attempts: int
    # A decision's receipt edit written beside a requester DM row (databases from before one DM
    # per decision): that row tells the requester, so this one only edits.
    edit_only: bool = False

    def __str__(self) -> str:
        return (
            f"message {self.message_id} ({self.kind} to {self.recipient},"
            f" allocation {self.allocation_id})"
        )


@dataclass(frozen=True)
class Held:
    """A leased row ready to send, and where its allocation's earlier messages landed."""

    owed: Owed
    landed: dict[Audience, tuple[str, str]]


@dataclass(frozen=True)
class Failure:
    """Why a send failed, in plain values: the error code, its text, and what it asks of us."""

    error: str
    message: str
    # The far side said when to come back (Slack's 429 ``Retry-After``), in seconds.
    retry_after: float | None = None
    # No retry soon will fix it: someone must change the app's setup (retried slowly).
    configuration: bool = False


@dataclass(frozen=True)
class NoticeWay:
    """How a notice reaches its person: the route recorded (None: not decided yet, or the
    recorded one is no longer good), and what deciding needs (their workspace, the channel)."""

    route: NoticeRoute | None
    channel: str | None
    # The partner's linked channel a notice falls back to (None: the partner has none).
    fallback: str | None
    team_id: str | None = None
    enterprise_id: str | None = None
    # The row itself has its route recorded (its retries go the same way).
    on_row: bool = False


class OutboxQueue:
    """The unsent outbox rows: what may be claimed now, by whom, and what became of each."""

    def __init__(
        self,
        db: Database,
        *,
        billing_channel: str,
        pace_seconds: float = 1.0,
        retry: RetryPolicy | None = None,
        lease_seconds: float = 60.0,
        batch_size: int = 5,
        clock: Clock = system_clock,
    ) -> None:
        self.db = db
        self.billing_channel = billing_channel
        self.clock = clock
        self.pacer = ChannelPacer(db, pace_seconds, clock=self.clock)
        self.retry = retry or RetryPolicy()
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.batch_size = batch_size

    # ------------------------------------------------------------- looking

    def next_due_in(self) -> float | None:
        """Seconds until some unsent row could be claimed (0: now), or None when nothing is.

        What a claim would refuse is counted as it will be: a row leased to a sender waits for
        its lease to run out, a billing row for the channel's next slot. A row behind an earlier
        unsent message of its allocation and destination is left out: that message is counted,
        and marking it sent wakes a sender.
        """
        ready_at = case(
            (
                and_(
                    OutboxMessage.claimed_until.is_not(None),
                    OutboxMessage.claimed_until > OutboxMessage.next_attempt_at,
                ),
                OutboxMessage.claimed_until,
            ),
            else_=OutboxMessage.next_attempt_at,
        )
        unsent = select(func.min(ready_at)).where(OutboxMessage.sent_at.is_(None), ~_blocked())
        with self.db.transaction(read_only=True) as session:
            # UTCDateTime reads the aggregate back aware (the CASE takes the columns' type).
            billing: dt.datetime | None = session.scalar(
                unsent.where(OutboxMessage.recipient == Audience.BILLING)
            )
            others: dt.datetime | None = session.scalar(
                unsent.where(OutboxMessage.recipient != Audience.BILLING)
            )
            slot = self.pacer.free_at(session, self.billing_channel) if billing else None
        candidates: list[dt.datetime] = [others] if others is not None else []
        if billing is not None:
            candidates.append(max(billing, slot) if slot is not None else billing)
        if not candidates:
            return None
        return max(0.0, (min(candidates) - self.clock()).total_seconds())

    def pending_count(self) -> int:
        """How many rows are not sent yet."""
        with self.db.transaction(read_only=True) as session:
            count = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
        return int(count or 0)

    # ------------------------------------------------------------ claiming

    def claim(self, worker_id: str, *, billing_only: bool = False) -> Claim:
        """Lease up to ``batch_size`` claimable rows to ``worker_id``, most urgent first.

        Of the billing rows, only the most urgent is taken, with the channel's slot (when the
        channel is paced and the slot is free): the next one waits for the next slot.
        ``billing_only``: that billing row alone (a sender busy with DMs takes the slot as it
        comes, between two of its calls).
        """
        now = self.clock()
        if billing_only and not self.pacer.interval:
            return Claim([], more=False, slot_for=None)
        # Look before locking: most looks find nothing, and on SQLite a write transaction takes
        # the database's one write lock, which people's requests would then queue behind.
        with self.db.transaction(read_only=True) as session:
            slot = self.pacer.free_at(session, self.billing_channel)
            billing_free = slot is None or slot <= now
            anything = session.scalar(
                select(OutboxMessage.message_id)
                .where(*_claimable(now, billing=billing_free, billing_only=billing_only))
                .limit(1)
            )
            if anything is None:
                return Claim([], more=False, slot_for=None)
        paced = bool(self.pacer.interval)
        with self.db.transaction() as session:
            pace = self.pacer.locked(session, self.billing_channel, now) if paced else None
            # The clock again once the pace lock is held: a claim that waited for it (another
            # process's claim, SQLite's one write lock) must not write a slot that began before
            # the wait, or the next call would land less than a pace after this one.
            now = self.clock()
            slot_taken = time.monotonic()
            billing_free = pace is None or pace.next_at <= now
            stmt = (
                select(OutboxMessage.message_id, OutboxMessage.recipient)
                .where(*_claimable(now, billing=billing_free, billing_only=billing_only))
                .order_by(_urgency(), OutboxMessage.message_id)
                .limit(self.batch_size * 3)
            )
            if self.db.dialect == "postgresql":
                stmt = stmt.with_for_update(skip_locked=True, of=OutboxMessage)
            ids: list[int] = []
            slot_for: int | None = None
            more = False
            for message_id, recipient in session.execute(stmt).all():
                if len(ids) == self.batch_size:
                    more = True
                    break
                if recipient == Audience.BILLING and paced:
                    if slot_for is not None:
                        # One slot at a time: the next billing row waits for the next slot,
                        # which the sender watching the clock takes.
                        continue
                    slot_for = int(message_id)
                ids.append(int(message_id))
            if ids:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.message_id.in_(ids))
                    .values(claimed_by=worker_id, claimed_until=now + self.lease)
                )
            if pace is not None and slot_for is not None:
                # The slot is taken here, in the claim, so the most urgent billing row gets
                # it: two senders that each claimed one would race for it and the refresh of
                # a pending request could go out before a decision's edit.
                pace.next_at = now + self.pacer.interval
                slot_until = pace.next_at
            else:
                slot_until = None
        return Claim(
            ids,
            more=more,
            slot_for=slot_for,
            slot_until=slot_until,
            slot_taken=slot_taken if slot_until is not None else None,
        )

    def begin_send(self, message_id: int, worker_id: str, *, fresh: bool = False) -> Held | None:
        """The row, its lease renewed for this send; None when it is no longer this worker's.

        ``fresh``: the claim leased it a moment ago (the first row of a batch, which holds the
        paced channel's slot), so its lease needs no renewal and the row is only read. That
        call then starts when its slot does, not after a wait for SQLite's write lock.

        A row whose kind or recipient this version does not know is recorded as failed here
        (retried slowly, as a configuration error: a newer version may send it).
        """
        with self.db.transaction(read_only=fresh) as session:
            message = session.get_one(OutboxMessage, message_id, with_for_update=not fresh)
            if message.claimed_by != worker_id or message.sent_at is not None:
                # The lease ran out while earlier messages of the batch were slow, and another
                # sender has this one now: sending it here too would send it twice.
                return None
            kind = _member(OutboxKind, message.kind)
            recipient = _member(Audience, message.recipient)
            if kind is None or recipient is None:
                unknown = (message.kind, message.recipient, message.allocation_id, message.attempts)
            else:
                unknown = None
                if not fresh:
                    # Renew the lease for this message's own send, however long the batch took.
                    message.claimed_until = self.clock() + self.lease
                owed = Owed(
                    message_id=message_id,
                    kind=kind,
                    recipient=recipient,
                    allocation_id=message.allocation_id,
                    attempts=message.attempts,
                    edit_only=_beside_a_requester_dm(session, message),
                )
                landed = {
                    Audience(ref.role): (ref.channel, ref.ts)
                    for ref in session.scalars(
                        select(SlackMessageRef).where(
                            SlackMessageRef.allocation_id == owed.allocation_id
                        )
                    )
                    if ref.role in _ROLES
                }
        if unknown is not None:
            self._refuse_unknown(message_id, *unknown)
            return None
        return Held(owed, landed)

    def _refuse_unknown(
        self, message_id: int, kind: str, recipient: str, allocation_id: int | None, attempts: int
    ) -> None:
        delay = self.retry.delay(attempts + 1, configuration=True)
        log.error(
            "outbox: message %s (%s to %s, allocation %s) is of a kind this version cannot send;"
            " retrying in %.1fs",
            message_id,
            kind,
            recipient,
            allocation_id,
            delay,
        )
        with self.db.transaction() as session:
            self._record_failure(
                session, message_id, delay, f"unknown_kind: {kind!r} to {recipient!r}"
            )

    def release(self, message_id: int, worker_id: str, *, after: float | None = None) -> None:
        """Give a leased row back unsent, claimable again now or ``after`` seconds from now."""
        values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
        if after is not None:
            values["next_attempt_at"] = self.clock() + dt.timedelta(seconds=after)
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.message_id == message_id,
                    OutboxMessage.claimed_by == worker_id,
                )
                .values(**values)
            )

    # ----------------------------------------------------------- recording

    def mark_sent(
        self, owed: Owed, landed: Landed | None, *, route: NoticeWay | None = None
    ) -> bool:
        """Record the row sent (and where it landed); True when a sender should look now.

        ``route``: the notice route this row went by, recorded on the row if it was not yet.

        A request's own news in the billing channel (its post, its decision) moved balances
        that the other pending requests on its payment or invoice show: their refreshes are
        owed in this same transaction. Raises ``Unavailable`` once the database has refused
        ``MARK_ATTEMPTS`` times.
        """
        allocation_id = owed.allocation_id
        fan_out = (
            owed.recipient == Audience.BILLING
            and owed.kind not in MOVES_NO_BALANCE
            and allocation_id is not None
        )
        for attempt in range(MARK_ATTEMPTS):
            try:
                with self.db.transaction() as session:
                    now = self.clock()
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.message_id == owed.message_id)
                        .values(
                            sent_at=now,
                            claimed_by=None,
                            claimed_until=None,
                            attempts=OutboxMessage.attempts + 1,
                            last_error=None,
                        )
                    )
                    if route is not None and route.route is not None and not route.on_row:
                        session.execute(
                            update(OutboxMessage)
                            .where(OutboxMessage.message_id == owed.message_id)
                            .values(route=route.route.value, route_channel=route.channel)
                        )
                    if landed is not None and allocation_id is not None:
                        _remember(session, allocation_id, landed)
                    owed_more = 0
                    if fan_out and allocation_id is not None:
                        # In the same transaction as the mark: both happen, or neither (and
                        # the message is sent again, then marked with its edits owed).
                        owed_more = owe_refreshes_beside(session, allocation_id, now)
                    # A message waiting behind this one (or just owed): no sender would
                    # otherwise look for it before the next poll.
                    return bool(
                        owed_more
                        or session.scalar(
                            select(
                                exists().where(
                                    OutboxMessage.allocation_id == allocation_id,
                                    OutboxMessage.message_id > owed.message_id,
                                    OutboxMessage.sent_at.is_(None),
                                )
                            )
                        )
                    )
            except Unavailable:
                if attempt == MARK_ATTEMPTS - 1:
                    raise
                time.sleep(0.2 * (attempt + 1))
        raise AssertionError("unreachable")  # pragma: no cover

    # --------------------------------------------------------- notice routes

    def notice_way(self, owed: Owed, user: str, partner_id: str) -> NoticeWay:
        """How this row's notice reaches ``user``: the row's recorded route, else the person's,
        else undecided. A channel route is good only while that channel is still linked to the
        allocation's partner (unlinked or relinked to another: decided again)."""
        with self.db.transaction(read_only=True) as session:
            row = session.get(OutboxMessage, owed.message_id)
            seen = channels.person(session, user)
            on_row = row is not None and row.route is not None
            route: NoticeRoute | None = None
            channel: str | None = None
            if row is not None and row.route is not None:
                route = _member(NoticeRoute, row.route)
                channel = row.route_channel
            elif seen is not None:
                route, channel = seen.notice_route, seen.notice_channel_id
            if route is NoticeRoute.CHANNEL and not (
                channel and channels.is_linked_to(session, channel, partner_id)
            ):
                route, channel, on_row = None, None, False
            fallback = channels.notice_channel(
                session, partner_id, seen.channel_id if seen else None
            )
        return NoticeWay(
            route=route,
            channel=channel,
            fallback=fallback,
            team_id=seen.team_id if seen else None,
            enterprise_id=seen.enterprise_id if seen else None,
            on_row=on_row,
        )

    def record_route(self, owed: Owed, user: str, way: NoticeWay) -> NoticeWay:
        """The route just decided for ``user``: kept on the row (its retries) and on the person
        (their later notices). Returns ``way`` as recorded."""
        assert way.route is not None
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.message_id == owed.message_id)
                .values(route=way.route.value, route_channel=way.channel)
            )
            channels.record_notice_route(session, user, way.route, way.channel, self.clock())
        return NoticeWay(
            route=way.route,
            channel=way.channel,
            fallback=way.fallback,
            team_id=way.team_id,
            enterprise_id=way.enterprise_id,
            on_row=True,
        )

    def forget_route(self, owed: Owed, user: str) -> None:
        """The recorded route failed for good (the DM closed): the next try decides again."""
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.message_id == owed.message_id)
                .values(route=None, route_channel=None)
            )
            channels.forget_notice_route(session, user)

    def record_failure(self, owed: Owed, failure: Failure) -> float:
        """Hand the row back to be tried again later; returns the seconds it will wait."""
        if failure.retry_after is not None:
            delay = float(failure.retry_after)
        else:
            delay = self.retry.delay(owed.attempts + 1, configuration=failure.configuration)
        with self.db.transaction() as session:
            self._record_failure(
                session, owed.message_id, delay, f"{failure.error}: {failure.message[:500]}"
            )
        return delay

    def _record_failure(
        self, session: Session, message_id: int, delay: float, last_error: str
    ) -> None:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.message_id == message_id)
            .values(
                attempts=OutboxMessage.attempts + 1,
                next_attempt_at=self.clock() + dt.timedelta(seconds=delay),
                claimed_by=None,
                claimed_until=None,
                last_error=last_error,
            )
        )


def _member(enum: type[_Member], value: str) -> _Member | None:
    """The enum member stored as ``value``; None for a value this version does not know."""
    try:
        return enum(value)
    except ValueError:
        return None


def _blocked() -> ColumnElement[bool]:
    """An earlier message of the same allocation to the same destination is still unsent.

    Order matters within a destination (the billing post before its edits; the receipt before
    the edit that shows the decision), not across them: a requester's DM must not wait behind a
    burst of paced billing posts.
    """
    earlier = aliased(OutboxMessage)
    both_billing = and_(
        earlier.recipient == Audience.BILLING, OutboxMessage.recipient == Audience.BILLING
    )
    both_requester = and_(
        earlier.recipient != Audience.BILLING, OutboxMessage.recipient != Audience.BILLING
    )
    return exists().where(
        earlier.allocation_id == OutboxMessage.allocation_id,
        earlier.message_id < OutboxMessage.message_id,
        earlier.sent_at.is_(None),
        or_(both_billing, both_requester),
    )


def _claimable(
    now: dt.datetime, *, billing: bool, billing_only: bool = False
) -> list[ColumnElement[bool]]:
    """What makes a row claimable now (billing rows only if the channel has a free slot)."""
    conditions = [
        OutboxMessage.sent_at.is_(None),
        OutboxMessage.next_attempt_at <= now,
        or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
        ~_blocked(),
    ]
    if not billing:
        conditions.append(OutboxMessage.recipient != Audience.BILLING)
    if billing_only:
        conditions.append(OutboxMessage.recipient == Audience.BILLING)
    return conditions


def _urgency() -> ColumnElement[int]:
    """Edits of decided requests first: a stale billing message still shows live buttons. Then
    new requests, then refreshes and reminders (MOVES_NO_BALANCE), which change no figure."""
    return case(
        (OutboxMessage.kind == OutboxKind.ALLOCATION_REQUESTED, 1),
        (OutboxMessage.kind.in_(sorted(MOVES_NO_BALANCE)), 2),
        else_=0,
    )


def _beside_a_requester_dm(session: Session, message: OutboxMessage) -> bool:
    """A receipt edit written with a requester DM row for the same news (before one DM per
    decision): the DM row tells the requester, so this one must not post a second DM."""
    if message.recipient != Audience.RECEIPT or message.kind in (
        OutboxKind.ALLOCATION_REQUESTED,
        OutboxKind.ALLOCATION_CANCELLED,
    ):
        return False
    return bool(
        session.scalar(
            select(
                exists().where(
                    OutboxMessage.allocation_id == message.allocation_id,
                    OutboxMessage.kind == message.kind,
                    OutboxMessage.recipient == Audience.REQUESTER,
                )
            )
        )
    )


def _remember(session: Session, allocation_id: int, landed: Landed) -> None:
    """Where the allocation's message for ``landed.role`` is now (a new post replaces an old)."""
    ref = session.get(SlackMessageRef, (allocation_id, landed.role))
    if ref is None:
        session.add(
            SlackMessageRef(
                allocation_id=allocation_id,
                role=landed.role,
                channel=landed.channel,
                ts=landed.ts,
            )
        )
    else:
        ref.channel, ref.ts = landed.channel, landed.ts
