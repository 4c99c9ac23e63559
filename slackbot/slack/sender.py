"""Delivering what the outbox owes: billing posts, edits and DMs, retried until Slack takes them.

The ledger writes an outbox row in the same transaction as every change that owes someone a
message, so nothing is lost when Slack (or this process) fails. This module turns those rows into
Web API calls:

- A sender *leases* a batch (``claimed_by``/``claimed_until``) in a short transaction and commits,
  so no database lock is held while Slack is called; on PostgreSQL the claim uses ``FOR UPDATE
  SKIP LOCKED``, so several bot processes never send the same row. A sender that dies loses its
  lease when it runs out and another sender picks the row up.
- Messages about one allocation go out in the order they were written: a row is not claimable
  while an earlier row of the same allocation is unsent (the billing post always precedes its
  edits, so edits find the ``channel``/``ts`` they need).
- Server errors, timeouts and dropped connections are retried with exponential backoff and
  jitter; ``429`` waits out ``Retry-After``. Configuration errors (the bot is not in the channel,
  a revoked token) are retried slowly, forever, and logged, so the operator can fix them without
  losing a message.
- Posts to the billing channel are paced across all processes (Slack allows about one message
  per second per channel); a message for a channel that is not ready yet is postponed without
  counting as an attempt, so DMs keep flowing while a burst drains into the billing channel.
- A deleted message is put up again: an edit that Slack answers ``message_not_found`` posts the
  message anew (waiting here for the channel's next slot, since the failed edit took this one),
  and the new post is the one later edits change. A decision reaches the requester as one
  message: their receipt, edited; a new DM only when there is no receipt to edit.
- Idle senders sleep until something could really be claimed (a row falls due, a lease runs out,
  the channel's next slot comes) or until woken, and then one sender wakes, not all. A claim
  reads first and takes a write lock (SQLite's ``BEGIN IMMEDIATE``) only when there is something
  to take, so an idle or busy outbox does not queue people's requests behind it.

Exactly once: a message is marked sent in the transaction that records where it landed. Only if
that commit fails after Slack accepted the call (the database vanished in between) can the
message be sent again after its lease runs out; the mark is retried first to make that window
small.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from sqlalchemy import ColumnElement, and_, case, exists, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from models.enums import Audience, OutboxKind
from models.schemas import AllocationSummary
from models.tables import ChannelPace, OutboxMessage, SlackMessageRef
from slackbot.db import Database
from slackbot.errors import Unavailable
from slackbot.ledger import Ledger
from slackbot.outbox.owed import owe_refreshes_beside
from slackbot.slack import views

BILLING = Audience.BILLING
RECEIPT = Audience.RECEIPT
REQUESTER = Audience.REQUESTER
BALANCES_CHANGED = OutboxKind.BALANCES_CHANGED

log = logging.getLogger(__name__)

REQUESTED = "allocation_requested"
CANCELLED = "allocation_cancelled"
REVERSED = "allocation_reversed"
# Shortest idle wait: something is due now but a claim found nothing (another process's claim
# transaction holds it for a moment); look again soon, without spinning.
IDLE_FLOOR_SECONDS = 0.02
# A sender that is not the one watching the clock still looks this often (in poll periods): a
# safety net only; wake() and the watcher's hand-over wake it when there is work.
SPARE_SENDER_POLLS = 30

# Slack errors that no retry soon will fix: someone must change the app's setup.
CONFIGURATION_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "restricted_action",
    }
)


@dataclass(frozen=True)
class RetryPolicy:
    base_seconds: float = 1.0
    cap_seconds: float = 300.0
    configuration_cap_seconds: float = 600.0
    jitter: float = 0.2

    def delay(self, attempts: int, *, configuration: bool = False) -> float:
        cap = self.configuration_cap_seconds if configuration else self.cap_seconds
        raw = min(cap, self.base_seconds * 2 ** max(0, attempts - 1))
        return float(raw * (1 + random.uniform(-self.jitter, self.jitter)))


class ChannelPacer:
    """At most one call per ``interval`` seconds to a paced channel, across every bot process.

    The next free slot of each channel lives in the ``channel_pace`` table and is taken under a
    row lock (``BEGIN IMMEDIATE`` on SQLite), so two processes never take the same slot.
    """

    def __init__(self, db: Database, interval: float) -> None:
        self.db = db
        self.interval = dt.timedelta(seconds=interval)

    def take(self, channel: str) -> float:
        """Take the channel's next slot if it is free now (returns 0), else the seconds to wait."""
        if not self.interval:
            return 0.0
        now = _now()
        with self.db.transaction() as session:
            pace = self.locked(session, channel, now)
            wait = (_aware(pace.next_at) - now).total_seconds()
            if wait > 0:
                return wait
            pace.next_at = now + self.interval
            return 0.0

    def wait(self, channel: str) -> float:
        """Seconds until the channel's next slot is free (0 when it is free now); takes nothing."""
        if not self.interval:
            return 0.0
        with self.db.transaction(read_only=True) as session:
            next_at = session.scalar(
                select(ChannelPace.next_at).where(ChannelPace.channel == channel)
            )
        return 0.0 if next_at is None else max(0.0, (_aware(next_at) - _now()).total_seconds())

    def free_at(self, session: Session, channel: str) -> dt.datetime | None:
        """When the channel's next slot is free (None: now, or pacing is off); takes nothing."""
        if not self.interval:
            return None
        next_at = session.scalar(select(ChannelPace.next_at).where(ChannelPace.channel == channel))
        return None if next_at is None else _aware(next_at)

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said 429: nothing more to this channel until ``Retry-After`` has passed."""
        until = _now() + dt.timedelta(seconds=seconds)
        with self.db.transaction() as session:
            pace = self.locked(session, channel, until)
            pace.next_at = max(_aware(pace.next_at), until)

    def locked(self, session: Session, channel: str, default: dt.datetime) -> ChannelPace:
        """The channel's pace row, created at ``default`` if new, locked for this transaction."""
        insert = sqlite_insert if self.db.dialect == "sqlite" else postgresql_insert
        session.execute(
            insert(ChannelPace)
            .values(channel=channel, next_at=default)
            .on_conflict_do_nothing(index_elements=["channel"])
        )
        return session.scalars(
            select(ChannelPace).where(ChannelPace.channel == channel).with_for_update()
        ).one()


class Postpone(Exception):
    """Not sent, and not a failure: the channel's pace says wait ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paced for {seconds:.2f}s")
        self.seconds = seconds


@dataclass(frozen=True)
class Claim:
    """What one claim took: row ids, whether more was claimable, and which row got the slot."""

    ids: list[int]
    more: bool
    slot_for: int | None


@dataclass(frozen=True)
class Owed:
    """One outbox row as a sender holds it: what it is about, for the call and the log."""

    message_id: int
    kind: str
    recipient: str
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


class Delivery:
    """Sends outbox rows. ``start()`` runs a sender thread; ``run_once()`` is one pass (tests)."""

    def __init__(
        self,
        db: Database,
        ledger: Ledger,
        client: WebClient,
        *,
        billing_channel: str,
        pace_seconds: float = 1.0,
        retry: RetryPolicy | None = None,
        lease_seconds: float = 60.0,
        batch_size: int = 5,
        poll_seconds: float = 1.0,
        worker_id: str | None = None,
        senders: int = 4,
        invoice_url_template: str | None = None,
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.client = client
        self.billing_channel = billing_channel
        self.invoice_url_template = invoice_url_template
        self.pacer = ChannelPacer(db, pace_seconds)
        self.retry = retry or RetryPolicy()
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.worker_id = worker_id or f"sender-{uuid.uuid4().hex[:12]}"
        self.senders = max(1, senders)
        self._wake = threading.Condition()
        # Bumped by wake(): a sender that was looking while something new was owed looks again
        # instead of sleeping through it.
        self._wakeups = 0
        # The one idle sender that sleeps only until the next row could be claimed; the others
        # sleep until woken, so an idle outbox costs one reader, not one per sender.
        self._watcher: str | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------- lifecycle

    def wake(self) -> None:
        """Something new is owed: one sender looks now rather than at the next poll."""
        with self._wake:
            self._wakeups += 1
            self._wake.notify()

    def start(self) -> None:
        """Start the sender threads. Several, so one slow Slack call does not hold up the rest;
        the claim rule keeps each allocation's messages in order whichever thread sends them."""
        if self._threads:
            return
        self._stop.clear()
        for n in range(self.senders):
            thread = threading.Thread(
                target=self._loop,
                args=(f"{self.worker_id}-{n}",),
                name=f"outbox-sender-{n}",
                daemon=True,
            )
            self._threads.append(thread)
            thread.start()

    def stop(self, timeout: float = 15.0) -> None:
        """Finish the messages in hand, then stop; unsent rows stay in the outbox for next time."""
        self._stop.set()
        with self._wake:
            self._wake.notify_all()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def _loop(self, worker_id: str) -> None:
        while not self._stop.is_set():
            with self._wake:
                seen = self._wakeups
            try:
                handled = self.run_once(worker_id)
            except Unavailable as exc:
                log.warning("outbox: database unavailable, will retry: %s", _one_line(exc))
                self._stop.wait(self.poll_seconds)
                continue
            except Exception as exc:
                log.error("outbox: unexpected error, will retry: %s", _one_line(exc))
                log.debug("outbox: unexpected error", exc_info=True)
                self._stop.wait(self.poll_seconds)
                continue
            if handled:
                continue
            self._sleep(worker_id, seen)

    def _sleep(self, worker_id: str, seen: int) -> None:
        due = self._idle_wait()
        with self._wake:
            if self._stop.is_set() or self._wakeups != seen:
                return
            if self._watcher is None:
                self._watcher = worker_id
                timeout = due
            else:
                timeout = self.poll_seconds * SPARE_SENDER_POLLS
            try:
                self._wake.wait(timeout)
            finally:
                if self._watcher == worker_id:
                    self._watcher = None

    def _idle_wait(self) -> float:
        try:
            due = self.next_due_in()
        except Exception:
            return self.poll_seconds
        if due is None:
            return self.poll_seconds
        return max(IDLE_FLOOR_SECONDS, min(self.poll_seconds, due))

    # ----------------------------------------------------------------- passes

    def run_once(self, worker_id: str | None = None) -> int:
        """Claim what is due and try to send it; returns how many rows were handled."""
        worker = worker_id or self.worker_id
        claim = self._claim(worker)
        if claim.ids and (claim.more or self._watcher is None):
            # More is claimable than this batch holds, or no idle sender is watching the clock
            # while this one sends: one more sender looks now (and, finding nothing, watches).
            self.wake()
        # The billing row holding the channel's slot goes first, so the call is made in the
        # slot it was given, not after the batch's DMs.
        ordered = sorted(claim.ids, key=lambda message_id: message_id != claim.slot_for)
        for message_id in ordered:
            if self._stop.is_set():
                self._release(message_id, worker)
                continue
            self._deliver(message_id, worker, slot_held=message_id == claim.slot_for)
        return len(claim.ids)

    def drain(self, timeout: float = 10.0) -> int:
        """Send until nothing is due (tests and the stress command); returns rows handled."""
        deadline = time.monotonic() + timeout
        total = 0
        while time.monotonic() < deadline:
            handled = self.run_once()
            total += handled
            if handled:
                continue
            due = self.next_due_in()
            if due is None:
                break
            time.sleep(min(max(due, 0.01), max(0.0, deadline - time.monotonic())))
        return total

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
        unsent = select(func.min(ready_at)).where(OutboxMessage.sent_at.is_(None), ~self._blocked())
        with self.db.transaction(read_only=True) as session:
            billing = session.scalar(unsent.where(OutboxMessage.recipient == BILLING))
            others = session.scalar(unsent.where(OutboxMessage.recipient != BILLING))
            slot = self.pacer.free_at(session, self.billing_channel) if billing else None
        candidates = [_as_datetime(others)] if others is not None else []
        if billing is not None:
            billing_at = _as_datetime(billing)
            candidates.append(max(billing_at, slot) if slot is not None else billing_at)
        if not candidates:
            return None
        return max(0.0, (min(candidates) - _now()).total_seconds())

    def pending_count(self) -> int:
        with self.db.transaction(read_only=True) as session:
            return len(
                session.scalars(
                    select(OutboxMessage.message_id).where(OutboxMessage.sent_at.is_(None))
                ).all()
            )

    # --------------------------------------------------------------- claiming

    @staticmethod
    def _blocked() -> ColumnElement[bool]:
        """An earlier message of the same allocation to the same destination is still unsent.

        Order matters within a destination (the billing post before its edits; the receipt
        before the edit that shows the decision), not across them: a requester's DM must not
        wait behind a burst of paced billing posts.
        """
        earlier = aliased(OutboxMessage)
        both_billing = and_(earlier.recipient == BILLING, OutboxMessage.recipient == BILLING)
        both_requester = and_(earlier.recipient != BILLING, OutboxMessage.recipient != BILLING)
        return exists().where(
            earlier.allocation_id == OutboxMessage.allocation_id,
            earlier.message_id < OutboxMessage.message_id,
            earlier.sent_at.is_(None),
            or_(both_billing, both_requester),
        )

    def _conditions(self, now: dt.datetime, *, billing: bool) -> list[ColumnElement[bool]]:
        """What makes a row claimable now (billing rows only if the channel has a free slot)."""
        conditions = [
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            ~self._blocked(),
        ]
        if not billing:
            conditions.append(OutboxMessage.recipient != BILLING)
        return conditions

    def _claim(self, worker_id: str) -> Claim:
        now = _now()
        # Look before locking: most looks find nothing, and on SQLite a write transaction takes
        # the database's one write lock, which people's requests would then queue behind.
        with self.db.transaction(read_only=True) as session:
            slot = self.pacer.free_at(session, self.billing_channel)
            billing_free = slot is None or slot <= now
            anything = session.scalar(
                select(OutboxMessage.message_id)
                .where(*self._conditions(now, billing=billing_free))
                .limit(1)
            )
            if anything is None:
                return Claim([], more=False, slot_for=None)
        paced = bool(self.pacer.interval)
        # Edits of decided requests first: a stale billing message still shows live buttons.
        # Then new requests, then balance refreshes of pending ones, which only bring figures
        # up to date.
        rank = case(
            (OutboxMessage.kind == REQUESTED, 1),
            (OutboxMessage.kind == BALANCES_CHANGED, 2),
            else_=0,
        )
        with self.db.transaction() as session:
            pace = self.pacer.locked(session, self.billing_channel, now) if paced else None
            billing_free = pace is None or _aware(pace.next_at) <= now
            stmt = (
                select(OutboxMessage.message_id, OutboxMessage.recipient)
                .where(*self._conditions(now, billing=billing_free))
                .order_by(rank, OutboxMessage.message_id)
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
                if recipient == BILLING and paced:
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
        return Claim(ids, more=more, slot_for=slot_for)

    def _release(self, message_id: int, worker_id: str, *, at: dt.datetime | None = None) -> None:
        values: dict[str, Any] = {"claimed_by": None, "claimed_until": None}
        if at is not None:
            values["next_attempt_at"] = at
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.message_id == message_id,
                    OutboxMessage.claimed_by == worker_id,
                )
                .values(**values)
            )

    # ---------------------------------------------------------------- sending

    def _deliver(self, message_id: int, worker_id: str, *, slot_held: bool = False) -> None:
        with self.db.transaction() as session:
            message = session.get_one(OutboxMessage, message_id, with_for_update=True)
            if message.claimed_by != worker_id or message.sent_at is not None:
                # The lease ran out while earlier messages of the batch were slow, and another
                # sender has this one now: sending it here too would send it twice.
                return
            # Renew the lease for this message's own send, however long the batch has taken.
            message.claimed_until = _now() + self.lease
            owed = Owed(
                message_id=message_id,
                kind=message.kind,
                recipient=message.recipient,
                allocation_id=message.allocation_id,
                attempts=message.attempts,
                edit_only=self._beside_a_requester_dm(session, message),
            )
            refs = {
                ref.role: (ref.channel, ref.ts)
                for ref in session.scalars(
                    select(SlackMessageRef).where(
                        SlackMessageRef.allocation_id == owed.allocation_id
                    )
                )
            }
        try:
            if owed.allocation_id is None:
                raise ValueError("the row names no allocation")
            allocation = self.ledger.allocation(owed.allocation_id)
            landed = self._send(owed, allocation, refs, slot_held=slot_held)
        except Postpone as wait:
            self._release(message_id, worker_id, at=_now() + dt.timedelta(seconds=wait.seconds))
            return
        except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
            self._failed(owed, exc)
            return
        except Unavailable:
            # The database went away mid-send (the pace slot, the allocation): hand the row
            # back so it is retried soon, not only when its lease runs out.
            with contextlib.suppress(Unavailable):
                self._release(message_id, worker_id, at=_now() + dt.timedelta(seconds=1))
            raise
        except Exception as exc:
            # A bug or a row that cannot be rendered: retried with backoff and logged, never
            # left leased and retried in a tight loop.
            self._failed(owed, exc)
            return
        # A request's own news in the billing channel (its post, its decision) moved balances
        # that the other pending requests on its payment or invoice show; theirs follow.
        fan_out = owed.recipient == BILLING and owed.kind != BALANCES_CHANGED
        self._mark_sent(owed, landed, fan_out=fan_out)

    @staticmethod
    def _beside_a_requester_dm(session: Session, message: OutboxMessage) -> bool:
        """A receipt edit written with a requester DM row for the same news (before one DM per
        decision): the DM row tells the requester, so this one must not post a second DM."""
        if message.recipient != RECEIPT or message.kind in (REQUESTED, CANCELLED):
            return False
        return bool(
            session.scalar(
                select(
                    exists().where(
                        OutboxMessage.allocation_id == message.allocation_id,
                        OutboxMessage.kind == message.kind,
                        OutboxMessage.recipient == REQUESTER,
                    )
                )
            )
        )

    def _send(
        self,
        owed: Owed,
        allocation: AllocationSummary,
        refs: dict[str, tuple[str, str]],
        *,
        slot_held: bool = False,
    ) -> tuple[str, str, str] | None:
        """The Web API calls for one row; returns (role, channel, ts) of a message to remember.

        ``slot_held``: the claim took the billing channel's slot for this row's first call.
        """
        if owed.recipient == BILLING:
            return self._send_billing(owed, allocation, refs, slot_held=slot_held)
        if owed.recipient == REQUESTER and owed.kind == REQUESTED:
            user = allocation.requested_by
            response = self._call(
                "chat_postMessage", user, channel=user, **views.receipt_message(allocation)
            )
            return ("receipt", str(response["channel"]), str(response["ts"]))
        if owed.recipient in (RECEIPT, REQUESTER):
            # RECEIPT: the requester's receipt shows the news. REQUESTER with a decision: a
            # row from before one DM per decision, delivered the same way.
            self._tell_requester(owed, allocation, refs)
            return None
        raise ValueError(f"unknown outbox recipient {owed.recipient!r}")

    def _send_billing(
        self,
        owed: Owed,
        allocation: AllocationSummary,
        refs: dict[str, tuple[str, str]],
        *,
        slot_held: bool,
    ) -> tuple[str, str, str] | None:
        if owed.kind == BALANCES_CHANGED and "billing" not in refs:
            # Refreshes are owed only for posts already made; with no post to edit there is
            # nothing to refresh (posting here would put up a second message).
            return None
        payload = views.billing_message(allocation, invoice_url_template=self.invoice_url_template)
        patience = 0.0
        if "billing" in refs:
            channel, ts = refs["billing"]
            try:
                self._call(
                    "chat_update", channel, slot_held=slot_held, channel=channel, ts=ts, **payload
                )
                return None
            except SlackApiError as exc:
                if _slack_error(exc) != "message_not_found":
                    raise
            log.warning(
                "outbox: %s: the billing message %s in %s is gone (message_not_found);"
                " posting it again",
                owed,
                ts,
                channel,
            )
            # The failed edit used this channel's slot. Wait here for the next one: giving the
            # row back would try the edit again, use the slot again, and never post.
            patience = self.lease.total_seconds() / 3
            slot_held = False
        response = self._call(
            "chat_postMessage",
            self.billing_channel,
            slot_held=slot_held,
            patience=patience,
            channel=self.billing_channel,
            **payload,
        )
        return ("billing", str(response["channel"]), str(response["ts"]))

    def _tell_requester(
        self, owed: Owed, allocation: AllocationSummary, refs: dict[str, tuple[str, str]]
    ) -> None:
        """Edit the requester's receipt to show the news; a new DM only when there is none."""
        if "receipt" in refs:
            channel, ts = refs["receipt"]
            try:
                self._call(
                    "chat_update",
                    channel,
                    channel=channel,
                    ts=ts,
                    **views.receipt_message(allocation),
                )
                if owed.kind != REVERSED or owed.edit_only:
                    return
                # A reversal comes weeks after the decision the requester already read, and
                # Slack notifies nobody of an edit: this news needs a message of its own.
                gone = ""
            except SlackApiError as exc:
                if _slack_error(exc) != "message_not_found":
                    raise
            gone = f"the receipt {ts} in {channel} is gone (message_not_found)"
        else:
            gone = "no receipt was ever posted"
        # A cancellation is the requester's own doing, confirmed to them on the spot; a receipt
        # edit written beside a requester DM row leaves the telling to that row.
        if owed.kind == CANCELLED or owed.edit_only:
            log.info("outbox: %s: %s; nothing to edit", owed, gone)
            return
        if gone:
            log.warning("outbox: %s: %s; telling the requester in a new message", owed, gone)
        user = allocation.requested_by
        self._call("chat_postMessage", user, channel=user, **views.decision_message(allocation))

    def _call(
        self,
        method: str,
        target: str,
        /,
        *,
        slot_held: bool = False,
        patience: float = 0.0,
        **kwargs: Any,
    ) -> Any:
        """One Web API call; to the paced channel only in a slot (``slot_held``: the claim took
        it), waiting up to ``patience`` seconds for one (else Postpone)."""
        channel = target
        paced = channel == self.billing_channel
        if paced and not slot_held:
            deadline = time.monotonic() + patience
            while (wait := self.pacer.take(channel)) > 0:
                if self._stop.is_set() or time.monotonic() + wait > deadline:
                    raise Postpone(wait)
                self._stop.wait(wait)
        try:
            return getattr(self.client, method)(**kwargs)
        except SlackApiError as exc:
            retry_after = _retry_after(exc)
            if retry_after is not None and paced:
                self.pacer.hold(channel, retry_after)
            raise

    # -------------------------------------------------------------- recording

    def _mark_sent(
        self,
        owed: Owed,
        landed: tuple[str, str, str] | None,
        *,
        fan_out: bool = False,
    ) -> None:
        allocation_id = owed.allocation_id
        for attempt in range(5):
            try:
                with self.db.transaction() as session:
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.message_id == owed.message_id)
                        .values(
                            sent_at=_now(),
                            claimed_by=None,
                            claimed_until=None,
                            attempts=OutboxMessage.attempts + 1,
                            last_error=None,
                        )
                    )
                    if landed is not None and allocation_id is not None:
                        role, channel, ts = landed
                        ref = session.get(SlackMessageRef, (allocation_id, role))
                        if ref is None:
                            session.add(
                                SlackMessageRef(
                                    allocation_id=allocation_id, role=role, channel=channel, ts=ts
                                )
                            )
                        else:
                            ref.channel, ref.ts = channel, ts
                    owed_more = 0
                    if fan_out and allocation_id is not None:
                        # In the same transaction as the mark: both happen, or neither (and
                        # the message is sent again, then marked with its edits owed).
                        owed_more = owe_refreshes_beside(session, allocation_id, _now())
                    waiting = owed_more or session.scalar(
                        select(
                            exists().where(
                                OutboxMessage.allocation_id == allocation_id,
                                OutboxMessage.message_id > owed.message_id,
                                OutboxMessage.sent_at.is_(None),
                            )
                        )
                    )
                if waiting:
                    # A message was waiting behind this one (or was just owed): no sender
                    # would otherwise look for it before the next poll.
                    self.wake()
                return
            except Unavailable:
                time.sleep(0.2 * (attempt + 1))
        log.error("outbox: %s was sent but could not be marked sent", owed)

    def _failed(self, owed: Owed, exc: Exception) -> None:
        error = _slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
        retry_after = _retry_after(exc) if isinstance(exc, SlackApiError) else None
        configuration = error in CONFIGURATION_ERRORS
        if retry_after is not None:
            delay = float(retry_after)
        else:
            delay = self.retry.delay(owed.attempts + 1, configuration=configuration)
        logger = log.error if configuration else log.warning
        detail = "" if isinstance(exc, SlackApiError) else f": {_one_line(exc, 200)}"
        logger("outbox: %s failed (%s%s); retrying in %.1fs", owed, error, detail, delay)
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.message_id == owed.message_id)
                .values(
                    attempts=OutboxMessage.attempts + 1,
                    next_attempt_at=_now() + dt.timedelta(seconds=delay),
                    claimed_by=None,
                    claimed_until=None,
                    last_error=f"{error}: {str(exc)[:500]}",
                )
            )


def _slack_error(exc: SlackApiError) -> str:
    response = getattr(exc, "response", None)
    try:
        code = response.get("error") if response is not None else None
    except Exception:
        code = None
    if code:
        return str(code)
    status = getattr(response, "status_code", None)
    return f"http_{status}" if status else "slack_error"


def _retry_after(exc: SlackApiError) -> float | None:
    response = getattr(exc, "response", None)
    if response is None or getattr(response, "status_code", None) != 429:
        return None
    headers = getattr(response, "headers", {}) or {}
    value = None
    for key, header in headers.items():
        if str(key).lower() == "retry-after":
            value = header[0] if isinstance(header, list) else header
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0


def _one_line(exc: object, limit: int = 300) -> str:
    """An error as one short log line: drivers put SQL and tracebacks on many."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _as_datetime(value: object) -> dt.datetime:
    """A timestamp read back from an aggregate (SQLite hands those back as text)."""
    if isinstance(value, str):
        value = dt.datetime.fromisoformat(value)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"not a timestamp: {value!r}")
    return _aware(value)


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
