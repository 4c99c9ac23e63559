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

Exactly once: a message is marked sent in the transaction that records where it landed. Only if
that commit fails after Slack accepted the call (the database vanished in between) can the
message be sent again after its lease runs out; the mark is retried first to make that window
small.
"""

from __future__ import annotations

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
from sqlalchemy import and_, case, exists, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, aliased

from models.schemas import AllocationSummary
from models.tables import ChannelPace, OutboxMessage, SlackMessageRef
from slackbot import views
from slackbot.db import Database
from slackbot.errors import Unavailable
from slackbot.ledger import (
    BALANCES_CHANGED,
    BILLING,
    RECEIPT,
    REQUESTER,
    Ledger,
    owe_refreshes_beside,
)

log = logging.getLogger(__name__)

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
            pace = self._locked(session, channel, now)
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

    def hold(self, channel: str, seconds: float) -> None:
        """Slack said 429: nothing more to this channel until ``Retry-After`` has passed."""
        until = _now() + dt.timedelta(seconds=seconds)
        with self.db.transaction() as session:
            pace = self._locked(session, channel, until)
            pace.next_at = max(_aware(pace.next_at), until)

    def _locked(self, session: Session, channel: str, default: dt.datetime) -> ChannelPace:
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
    ) -> None:
        self.db = db
        self.ledger = ledger
        self.client = client
        self.billing_channel = billing_channel
        self.pacer = ChannelPacer(db, pace_seconds)
        self.retry = retry or RetryPolicy()
        self.lease = dt.timedelta(seconds=lease_seconds)
        self.batch_size = batch_size
        self.poll_seconds = poll_seconds
        self.worker_id = worker_id or f"sender-{uuid.uuid4().hex[:12]}"
        self.senders = max(1, senders)
        self._wake = threading.Condition()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------- lifecycle

    def wake(self) -> None:
        """Something new is owed: look now rather than at the next poll."""
        with self._wake:
            self._wake.notify_all()

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
        self.wake()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    def _loop(self, worker_id: str) -> None:
        while not self._stop.is_set():
            try:
                handled = self.run_once(worker_id)
            except Unavailable as exc:
                log.warning("outbox: database unavailable, will retry: %s", exc)
                handled = 0
            except Exception:
                log.exception("outbox: unexpected error; will retry")
                handled = 0
            if handled:
                continue
            with self._wake:
                if not self._stop.is_set():
                    self._wake.wait(self._idle_wait())

    def _idle_wait(self) -> float:
        try:
            due = self.next_due_in()
        except Exception:
            return self.poll_seconds
        return self.poll_seconds if due is None else max(0.01, min(self.poll_seconds, due))

    # ----------------------------------------------------------------- passes

    def run_once(self, worker_id: str | None = None) -> int:
        """Claim what is due and try to send it; returns how many rows were handled."""
        worker = worker_id or self.worker_id
        claimed = self._claim(worker)
        for message_id in claimed:
            if self._stop.is_set():
                self._release(message_id, worker)
                continue
            self._deliver(message_id, worker)
        return len(claimed)

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
        """Seconds until the next unsent row is due, or None when nothing is owed."""
        with self.db.transaction(read_only=True) as session:
            soonest = session.scalar(
                select(OutboxMessage.next_attempt_at)
                .where(OutboxMessage.sent_at.is_(None))
                .order_by(OutboxMessage.next_attempt_at)
                .limit(1)
            )
        if soonest is None:
            return None
        return max(0.0, (_aware(soonest) - _now()).total_seconds())

    def pending_count(self) -> int:
        with self.db.transaction(read_only=True) as session:
            return len(
                session.scalars(
                    select(OutboxMessage.message_id).where(OutboxMessage.sent_at.is_(None))
                ).all()
            )

    # --------------------------------------------------------------- claiming

    def _claim(self, worker_id: str) -> list[int]:
        now = _now()
        earlier = aliased(OutboxMessage)
        # Order matters within a destination (the billing post before its edits; the receipt
        # before the edit that removes its Cancel button), not across them: a requester's DM
        # must not wait behind a burst of paced billing posts.
        both_billing = and_(earlier.recipient == BILLING, OutboxMessage.recipient == BILLING)
        both_requester = and_(earlier.recipient != BILLING, OutboxMessage.recipient != BILLING)
        blocked = exists().where(
            earlier.allocation_id == OutboxMessage.allocation_id,
            earlier.message_id < OutboxMessage.message_id,
            earlier.sent_at.is_(None),
            or_(both_billing, both_requester),
        )
        conditions = [
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.next_attempt_at <= now,
            or_(OutboxMessage.claimed_until.is_(None), OutboxMessage.claimed_until < now),
            ~blocked,
        ]
        if self.pacer.wait(self.billing_channel) > 0:
            # The channel is not ready: claiming its rows would only postpone them again.
            conditions.append(OutboxMessage.recipient != BILLING)
        # Edits of decided requests first: a stale billing message still shows live buttons.
        # Then new requests, then balance refreshes of pending ones, which only bring figures
        # up to date.
        rank = case(
            (OutboxMessage.kind == "allocation_requested", 1),
            (OutboxMessage.kind == BALANCES_CHANGED, 2),
            else_=0,
        )
        stmt = (
            select(OutboxMessage.message_id)
            .where(*conditions)
            .order_by(rank, OutboxMessage.message_id)
            .limit(self.batch_size)
        )
        if self.db.dialect == "postgresql":
            stmt = stmt.with_for_update(skip_locked=True, of=OutboxMessage)
        with self.db.transaction() as session:
            ids = list(session.scalars(stmt).all())
            if ids:
                session.execute(
                    update(OutboxMessage)
                    .where(OutboxMessage.message_id.in_(ids))
                    .values(claimed_by=worker_id, claimed_until=now + self.lease)
                )
        return ids

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

    def _deliver(self, message_id: int, worker_id: str) -> None:
        with self.db.transaction() as session:
            message = session.get_one(OutboxMessage, message_id, with_for_update=True)
            if message.claimed_by != worker_id or message.sent_at is not None:
                # The lease ran out while earlier messages of the batch were slow, and another
                # sender has this one now: sending it here too would send it twice.
                return
            # Renew the lease for this message's own send, however long the batch has taken.
            message.claimed_until = _now() + self.lease
            kind, recipient = message.kind, message.recipient
            allocation_id = message.allocation_id
            attempts = message.attempts
            refs = {
                ref.role: (ref.channel, ref.ts)
                for ref in session.scalars(
                    select(SlackMessageRef).where(SlackMessageRef.allocation_id == allocation_id)
                )
            }
        try:
            if allocation_id is None:
                raise ValueError(f"outbox row {message_id} names no allocation")
            allocation = self.ledger.allocation(allocation_id)
            landed = self._send(kind, recipient, allocation, refs)
        except Postpone as wait:
            self._release(message_id, worker_id, at=_now() + dt.timedelta(seconds=wait.seconds))
            return
        except SlackApiError as exc:
            self._failed(message_id, attempts, exc)
            return
        except (SlackClientError, OSError, TimeoutError) as exc:
            self._failed(message_id, attempts, exc)
            return
        # A request's own news in the billing channel (its post, its decision) moved balances
        # that the other pending requests on its payment or invoice show; theirs follow.
        fan_out = recipient == BILLING and kind != BALANCES_CHANGED
        self._mark_sent(message_id, allocation_id, landed, fan_out=fan_out)

    def _send(
        self,
        kind: str,
        recipient: str,
        allocation: AllocationSummary,
        refs: dict[str, tuple[str, str]],
    ) -> tuple[str, str, str] | None:
        """One Web API call; returns (role, channel, ts) when a new message must be remembered."""
        if recipient == BILLING:
            if kind == BALANCES_CHANGED and "billing" not in refs:
                # Refreshes are owed only for posts already made; with no post to edit there is
                # nothing to refresh (posting here would put up a second message).
                return None
            payload = views.billing_message(allocation)
            if "billing" in refs:
                channel, ts = refs["billing"]
                try:
                    self._call("chat_update", channel, channel=channel, ts=ts, **payload)
                    return None
                except SlackApiError as exc:
                    if _slack_error(exc) != "message_not_found":
                        raise
                    log.warning("billing message for #%s is gone; posting it again", allocation)
            response = self._call(
                "chat_postMessage", self.billing_channel, channel=self.billing_channel, **payload
            )
            return ("billing", str(response["channel"]), str(response["ts"]))
        if recipient == REQUESTER:
            user = allocation.requested_by
            if kind == "allocation_requested":
                response = self._call(
                    "chat_postMessage", user, channel=user, **views.receipt_message(allocation)
                )
                return ("receipt", str(response["channel"]), str(response["ts"]))
            self._call("chat_postMessage", user, channel=user, **views.decision_message(allocation))
            return None
        if recipient == RECEIPT:
            if "receipt" not in refs:
                # The receipt never landed (its own row is still retrying or was dropped): there
                # is nothing to edit, and the decision DM tells the requester what happened.
                return None
            channel, ts = refs["receipt"]
            try:
                self._call(
                    "chat_update",
                    channel,
                    channel=channel,
                    ts=ts,
                    **views.receipt_message(allocation),
                )
            except SlackApiError as exc:
                if _slack_error(exc) != "message_not_found":
                    raise
            return None
        raise ValueError(f"unknown outbox recipient {recipient!r}")

    def _call(self, method: str, target: str, /, **kwargs: Any) -> Any:
        channel = target
        paced = channel == self.billing_channel
        if paced:
            wait = self.pacer.take(channel)
            if wait > 0:
                raise Postpone(wait)
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
        message_id: int,
        allocation_id: int | None,
        landed: tuple[str, str, str] | None,
        *,
        fan_out: bool = False,
    ) -> None:
        for attempt in range(5):
            try:
                with self.db.transaction() as session:
                    session.execute(
                        update(OutboxMessage)
                        .where(OutboxMessage.message_id == message_id)
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
                    if fan_out and allocation_id is not None:
                        # In the same transaction as the mark: both happen, or neither (and
                        # the message is sent again, then marked with its edits owed).
                        owe_refreshes_beside(session, allocation_id, _now())
                return
            except Unavailable:
                time.sleep(0.2 * (attempt + 1))
        log.error("outbox: message %s was sent but could not be marked sent", message_id)

    def _failed(self, message_id: int, attempts: int, exc: Exception) -> None:
        error = _slack_error(exc) if isinstance(exc, SlackApiError) else type(exc).__name__
        retry_after = _retry_after(exc) if isinstance(exc, SlackApiError) else None
        configuration = error in CONFIGURATION_ERRORS
        if retry_after is not None:
            delay = float(retry_after)
        else:
            delay = self.retry.delay(attempts + 1, configuration=configuration)
        logger = log.error if configuration else log.warning
        logger("outbox: message %s failed (%s); retrying in %.1fs", message_id, error, delay)
        with self.db.transaction() as session:
            session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.message_id == message_id)
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


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)
