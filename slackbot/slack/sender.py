"""The outbox's Slack side: each claimed row rendered through the views and sent with the Web API.

The queue (``slackbot.outbox.queue``) decides what may be sent now, by whom, and records what
became of it; this module makes the calls and tells the queue what happened, in plain values:

- What each kind of news becomes is decided in one place, :func:`route`: the billing channel's
  message (posted, or edited where it landed) and what the requester gets (their receipt, the
  receipt edited, a new DM only when there is no receipt to edit, or beside the edit for a
  reversal). A new kind is an ``OutboxKind`` member plus its line there.
- Slack's answers are classified for the queue: configuration errors (the bot is not in the
  channel, a revoked token) are retried slowly; ``429`` waits out ``Retry-After`` (and holds the
  paced channel); server errors, timeouts and dropped connections are retried with backoff.
- A deleted message is put up again: an edit that Slack answers ``message_not_found`` posts the
  message anew (waiting here for the channel's next slot, since the failed edit took this one),
  and the new post is the one later edits change.
- Sender threads sleep until something could really be claimed (a row falls due, a lease runs
  out, the billing channel's next slot comes) or until woken, and then one sender wakes, not
  all; the sender watching the clock wakes at the slot's time, so the channel runs at its pace.
- A call in a claim's slot that starts late (a loaded machine, a slow read) first moves the
  channel's next slot on by as much, so the next call still comes a pace after it.
- A requester's notice goes by the route :mod:`slackbot.slack.notices` decides once per person
  (a DM, else the partner's linked channel), with the client ``BotTokens`` gives for it.
- Rendered at send time: the requester's messages in their locale, the billing channel's in
  ``BILLING_LOCALE`` (:class:`~slackbot.slack.locales.Readers`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from enum import Enum
from typing import TYPE_CHECKING, Any, assert_never

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from models.enums import Audience, OutboxKind
from models.schemas import AllocationSummary
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.errors import Unavailable
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.ledger import Ledger
from slackbot.outbox.pace import ChannelPacer
from slackbot.outbox.queue import (
    Claim,
    Held,
    Landed,
    NoticeWay,
    OutboxQueue,
    Owed,
    RetryPolicy,
)
from slackbot.slack import views
from slackbot.slack.answers import (
    CONFIGURATION_ERRORS,
    MESSAGE_NOT_FOUND,
    classify,
    retry_after,
)
from slackbot.slack.notices import Notices, slack_error
from slackbot.slack.post_once import PostOnce
from slackbot.slack.reminder_calls import Approvers, Reminders, SlackCall

if TYPE_CHECKING:
    from slackbot.slack.locales import Readers
    from slackbot.slack.tokens import BotTokens

__all__ = ["CONFIGURATION_ERRORS", "ChannelPacer", "Delivery", "RetryPolicy", "classify", "route"]

log = logging.getLogger(__name__)

# A call that starts this long after its claim took the channel's slot first moves the
# channel's next slot on by as much (or, if a later claim took it meanwhile, takes a fresh one).
SLOT_GRACE_SECONDS = 0.02
# Shortest idle wait: something is due now but a claim found nothing (another process's claim
# transaction holds it for a moment); look again soon, without spinning.
IDLE_FLOOR_SECONDS = 0.02
# A sender that is not the one watching the clock still looks this often (in poll periods): a
# safety net only; wake() and the watcher's hand-over wake it when there is work.
SPARE_SENDER_POLLS = 30
# After ``Unavailable`` mid-send the row is handed back to be tried again this soon.
UNAVAILABLE_RETRY_SECONDS = 1.0


# ------------------------------------------------------------------ routing


class BillingCall(Enum):
    """What the billing channel's message for the request does with this news."""

    POST_OR_EDIT = "edit the request's message, or post it when there is none"
    EDIT_ONLY = "edit the request's message; nothing when it was never posted"
    REMINDER = "a reply in the request's thread (the digest: a post of its own); none once decided"


class RequesterCall(Enum):
    """What the requester gets for this news."""

    POST_RECEIPT = "post the receipt (the message later news edits)"
    EDIT_ELSE_DM = "edit the receipt; a new DM only when there is no receipt to edit"
    EDIT_AND_DM = "edit the receipt and send a DM too (news weeks later: an edit notifies nobody)"
    EDIT_ONLY = "edit the receipt; nothing when there is none"
    CHASE = "a new notice: billing is chasing the request; nothing once it is decided"


@dataclass(frozen=True)
class Route:
    """What one kind of news becomes in Slack, for each audience."""

    billing: BillingCall
    requester: RequesterCall


def route(kind: OutboxKind) -> Route:
    """What each kind of news becomes in Slack: the one place a kind meets its messages."""
    match kind:
        case OutboxKind.ALLOCATION_REQUESTED:
            return Route(BillingCall.POST_OR_EDIT, RequesterCall.POST_RECEIPT)
        case OutboxKind.ALLOCATION_APPROVED | OutboxKind.ALLOCATION_REJECTED:
            return Route(BillingCall.POST_OR_EDIT, RequesterCall.EDIT_ELSE_DM)
        case OutboxKind.ALLOCATION_CANCELLED:
            # The requester's own doing, confirmed to them on the spot.
            return Route(BillingCall.POST_OR_EDIT, RequesterCall.EDIT_ONLY)
        case OutboxKind.ALLOCATION_REVERSED:
            return Route(BillingCall.POST_OR_EDIT, RequesterCall.EDIT_AND_DM)
        case OutboxKind.BALANCES_CHANGED:
            # Owed only for posts already made: posting here would put up a second message.
            return Route(BillingCall.EDIT_ONLY, RequesterCall.EDIT_ONLY)
        case (
            OutboxKind.REQUEST_REMINDED
            | OutboxKind.REQUEST_ESCALATED
            | OutboxKind.REQUEST_CHASED
            | OutboxKind.DAILY_DIGEST
        ):
            # Waiting, not a change: slackbot.slack.reminder_calls sends them, editing nothing.
            return Route(BillingCall.REMINDER, RequesterCall.CHASE)
    assert_never(kind)


@dataclass(frozen=True)
class Slot:
    """The billing channel's slot a claim took: when (monotonic), and the next slot it wrote."""

    taken: float
    until: dt.datetime | None


class Postpone(Exception):
    """Not sent, and not a failure: the channel's pace says wait ``seconds``."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"paced for {seconds:.2f}s")
        self.seconds = seconds


# ------------------------------------------------------------------ senders


class Delivery:
    """Sends outbox rows. ``start()`` runs sender threads; ``run_once()`` is one pass (tests)."""

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
        clock: Clock = system_clock,
        tokens: BotTokens | None = None,
        approvers: Approvers | None = None,
        readers: Readers | None = None,
    ) -> None:
        self.db = db
        self.readers = readers
        self.ledger = ledger
        # ``client`` serves every call unless ``tokens`` gives one per workspace (OAuth).
        self.client = client
        self._tokens = tokens
        self.billing_channel = billing_channel
        self.invoice_url_template = invoice_url_template
        self.queue = OutboxQueue(
            db,
            billing_channel=billing_channel,
            pace_seconds=pace_seconds,
            retry=retry,
            lease_seconds=lease_seconds,
            batch_size=batch_size,
            clock=clock,
        )
        self.pacer = self.queue.pacer
        # Every post carries its row in metadata and is looked for before a re-post.
        self.once = PostOnce(db)
        self.notices = Notices(
            db, self.queue, self, billing_channel=billing_channel, once=self.once
        )
        # Reminders' kinds (issue 13): ``approvers`` is who an escalation mentions.
        self.reminders = Reminders(
            db, billing_channel=billing_channel, approvers=approvers, locale=self.locale_for
        )
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
        # When the billing channel's next slot comes (monotonic), as this process last took
        # one: a sender busy with DMs then takes it between two calls, so the channel keeps its
        # pace while every sender is busy and none is idle to watch the clock.
        self._slot_due: float | None = None
        self._slot_look = threading.Lock()

    def locale_for(self, user_id: str | None) -> str:
        """What ``user_id`` reads now (None: the billing channel), for a row sent now."""
        if self.readers is None:
            return DEFAULT_LOCALE
        if user_id is None:
            return self.readers.billing_locale
        return self.readers.for_person(user_id)

    # The delivery is its own BotTokens: ``tokens`` when given, else ``client`` for every
    # call (the single-token mode), read at each call so a swapped ``client`` is the one used.

    def billing(self) -> WebClient:
        return self._tokens.billing() if self._tokens is not None else self.client

    def for_team(self, team_id: str | None, enterprise_id: str | None) -> WebClient | None:
        if self._tokens is None:
            return self.client
        return self._tokens.for_team(team_id, enterprise_id)

    @property
    def batch_size(self) -> int:
        """Rows one claim takes at most."""
        return self.queue.batch_size

    @batch_size.setter
    def batch_size(self, value: int) -> None:
        self.queue.batch_size = value

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
                # The watcher sleeps until the next row is claimable, the billing channel's
                # next slot included, so a paced channel's slot is taken when it comes.
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
        claim: Claim = self.queue.claim(worker)
        slot = self._took_slot(claim)
        if claim.ids and (claim.more or self._watcher is None):
            # More is claimable than this batch holds, or no idle sender is watching the clock
            # while this one sends: one more sender looks now (and, finding nothing, watches).
            self.wake()
        # The billing row holding the channel's slot goes first, so the call is made in the
        # slot it was given, not after the batch's DMs.
        ordered = sorted(claim.ids, key=lambda message_id: message_id != claim.slot_for)
        for position, message_id in enumerate(ordered):
            if self._stop.is_set():
                self.queue.release(message_id, worker)
                continue
            if position:
                self._take_slot_if_due(worker)
            self._deliver(
                message_id,
                worker,
                slot=slot if message_id == claim.slot_for else None,
                # Leased a moment ago: its lease needs no renewal (and no write lock) yet.
                fresh=position == 0,
            )
        return len(claim.ids)

    def _take_fresh_slot(self) -> None:
        """Wait for, and take, the billing channel's next free slot (about one pace at most);
        Postpone when stopping or when the channel is held longer (a 429's Retry-After)."""
        interval = self.queue.pacer.interval.total_seconds()
        deadline = time.monotonic() + 2 * interval
        while (wait := self.pacer.take(self.billing_channel)) > 0:
            if self._stop.is_set() or time.monotonic() + wait > deadline:
                raise Postpone(wait)
            self._stop.wait(wait)

    def _took_slot(self, claim: Claim) -> Slot | None:
        """The slot the claim took (None: it took none), and when this process's next comes."""
        if claim.slot_for is None:
            return None
        # The slot began when the claim read the clock under the pace lock, not when the claim
        # returned: its commit (and any wait before the lock) counts as lateness.
        taken = claim.slot_taken if claim.slot_taken is not None else time.monotonic()
        self._slot_due = taken + self.queue.pacer.interval.total_seconds()
        return Slot(taken=taken, until=claim.slot_until)

    def _in_slot(self, slot: Slot) -> None:
        """Just before a call in the slot a claim took: a call that starts late (a loaded
        machine, a slow read) moves the channel's next slot on by as much, so the next call is
        still a pace after this one; if a later claim took the next slot meanwhile, this call
        waits for a fresh slot of its own. No two calls to the channel are closer than its pace."""
        if time.monotonic() - slot.taken <= SLOT_GRACE_SECONDS:
            return
        if slot.until is not None and self.pacer.move_on(self.billing_channel, slot.until):
            return
        self._take_fresh_slot()

    def _take_slot_if_due(self, worker: str) -> None:
        """The billing channel's slot has come while this sender is busy: take it now."""
        due = self._slot_due
        if due is None or time.monotonic() < due or not self._slot_look.acquire(blocking=False):
            return
        try:
            # One look per slot; a claim that takes the slot sets the next one.
            self._slot_due = None
            claim = self.queue.claim(worker, billing_only=True)
            slot = self._took_slot(claim)
            if claim.slot_for is not None:
                self._deliver(claim.slot_for, worker, slot=slot, fresh=True)
        finally:
            self._slot_look.release()

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
        """Seconds until some unsent row could be claimed (0: now), or None when nothing is."""
        return self.queue.next_due_in()

    def pending_count(self) -> int:
        """How many outbox rows are not sent yet."""
        return self.queue.pending_count()

    # ---------------------------------------------------------------- sending

    def _deliver(
        self,
        message_id: int,
        worker_id: str,
        *,
        slot: Slot | None = None,
        fresh: bool = False,
    ) -> None:
        held: Held | None = self.queue.begin_send(message_id, worker_id, fresh=fresh)
        if held is None:
            return
        owed = held.owed
        try:
            if owed.kind is OutboxKind.DAILY_DIGEST:
                # The one row of no allocation: the billing channel's summary of the day.
                self.reminders.send_digest(self._caller(slot, owed), owed)
                landed, way = None, None
            else:
                if owed.allocation_id is None:
                    raise ValueError("the row names no allocation")
                allocation = self.ledger.allocation(owed.allocation_id)
                landed, way = self._send(owed, allocation, held.landed, slot=slot)
        except Postpone as wait:
            self.queue.release(message_id, worker_id, after=wait.seconds)
            return
        except Unavailable:
            # The database went away mid-send (the pace slot, the allocation): hand the row
            # back so it is retried soon, not only when its lease runs out.
            with contextlib.suppress(Unavailable):
                self.queue.release(message_id, worker_id, after=UNAVAILABLE_RETRY_SECONDS)
            raise
        except Exception as exc:
            # Slack refused, the network failed, or (a bug, a row that cannot be rendered) it
            # raised: retried with backoff and logged, never left leased in a tight loop.
            self._failed(owed, exc)
            return
        try:
            waiting = self.queue.mark_sent(owed, landed, route=way)
        except Unavailable:
            log.error("outbox: %s was sent but could not be marked sent", owed)
            return
        if waiting:
            self.wake()

    def _send(
        self,
        owed: Owed,
        allocation: AllocationSummary,
        landed: dict[Audience, tuple[str, str]],
        *,
        slot: Slot | None = None,
    ) -> tuple[Landed | None, NoticeWay | None]:
        """The Web API calls for one row; returns where a message landed, to remember it, and
        the requester's notice route it went by.

        ``slot``: the billing channel's slot the claim took for this row's first call.
        """
        news = route(owed.kind)
        match owed.recipient:
            case Audience.BILLING:
                return self._send_billing(owed, allocation, landed, news.billing, slot), None
            case Audience.REQUESTER | Audience.RECEIPT:
                # RECEIPT: the requester's receipt shows the news. REQUESTER with a decision: a
                # row from before one DM per decision, delivered the same way.
                return self._tell_requester(owed, allocation, landed, news.requester)
        assert_never(owed.recipient)

    def _send_billing(
        self,
        owed: Owed,
        allocation: AllocationSummary,
        landed: dict[Audience, tuple[str, str]],
        call: BillingCall,
        slot: Slot | None,
    ) -> Landed | None:
        if call is BillingCall.REMINDER:
            # A reply in the thread, not the request's message: nothing to remember.
            self.reminders.send_billing(self._caller(slot, owed), owed, allocation, landed)
            return None
        posted = landed.get(Audience.BILLING)
        if posted is None and call is BillingCall.EDIT_ONLY:
            return None
        payload = views.billing_message(
            allocation,
            invoice_url_template=self.invoice_url_template,
            locale=self.locale_for(None),
        )
        patience = 0.0
        if posted is not None:
            channel, ts = posted
            try:
                self._call("chat_update", channel, slot=slot, channel=channel, ts=ts, **payload)
                return None
            except SlackApiError as exc:
                if slack_error(exc) != MESSAGE_NOT_FOUND:
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
            patience = self.queue.lease.total_seconds() / 3
            slot = None
        response = self._call(
            "chat_postMessage",
            self.billing_channel,
            slot=slot,
            patience=patience,
            owed=owed,
            channel=self.billing_channel,
            **payload,
        )
        return Landed(Audience.BILLING, str(response["channel"]), str(response["ts"]))

    def _tell_requester(
        self,
        owed: Owed,
        allocation: AllocationSummary,
        landed: dict[Audience, tuple[str, str]],
        call: RequesterCall,
    ) -> tuple[Landed | None, NoticeWay | None]:
        """Post the receipt, or edit it to show the news (a new notice only as ``call`` says),
        where the requester's route says: a DM, or their partner's linked channel."""
        if call is RequesterCall.CHASE:
            return None, self.reminders.send_chase(self.notices, owed, allocation)
        locale = self.locale_for(allocation.requested_by)
        if call is RequesterCall.POST_RECEIPT:
            first = views.receipt_message(allocation, locale=locale)
            response, way = self.notices.post(owed, allocation, first)
            receipt_at = Landed(Audience.RECEIPT, str(response["channel"]), str(response["ts"]))
            return receipt_at, way
        if owed.edit_only:
            # A receipt edit written beside a requester DM row leaves the telling to that row.
            call = RequesterCall.EDIT_ONLY
        receipt = landed.get(Audience.RECEIPT)
        if receipt is not None:
            channel, ts = receipt
            try:
                shown = views.receipt_message(allocation, locale=locale)
                if not self.notices.edit(allocation, channel, ts, shown):
                    raise _NotTheirs(channel)
                if call is not RequesterCall.EDIT_AND_DM:
                    return None, None
                gone = ""
            except _NotTheirs:
                gone = f"the receipt's channel {channel} is no longer linked to the partner"
            except SlackApiError as exc:
                if slack_error(exc) != MESSAGE_NOT_FOUND:
                    raise
                gone = f"the receipt {ts} in {channel} is gone (message_not_found)"
        else:
            gone = "no receipt was ever posted"
        if call is RequesterCall.EDIT_ONLY:
            log.info("outbox: %s: %s; nothing to edit", owed, gone)
            return None, None
        if gone:
            log.warning("outbox: %s: %s; telling the requester in a new message", owed, gone)
        _, way = self.notices.post(
            owed, allocation, views.decision_message(allocation, locale=locale)
        )
        return None, way

    def _caller(self, slot: Slot | None, owed: Owed) -> SlackCall:
        """``_call`` for this row in its slot, for the reminders' module."""
        return lambda method, target, /, **kwargs: self._call(
            method, target, slot=slot, owed=owed, **kwargs
        )

    def _call(
        self,
        method: str,
        target: str,
        /,
        *,
        slot: Slot | None = None,
        patience: float = 0.0,
        owed: Owed | None = None,
        **kwargs: Any,
    ) -> Any:
        """One Web API call; to the paced channel only in a slot (``slot``: the one the claim
        took), waiting up to ``patience`` seconds for one (else Postpone). A post goes through
        ``PostOnce`` for ``owed``, its row."""
        channel = target
        paced = channel == self.billing_channel

        def ready() -> None:
            if paced and slot is not None:
                self._in_slot(slot)
            elif paced:
                deadline = time.monotonic() + patience
                while (wait := self.pacer.take(channel)) > 0:
                    if self._stop.is_set() or time.monotonic() + wait > deadline:
                        raise Postpone(wait)
                    self._stop.wait(wait)

        try:
            if method == "chat_postMessage":
                if owed is None:
                    raise ValueError("a post names its outbox row")
                # The slot is taken after the post's mark (and any look), right before it.
                return self.once.post(
                    self.billing(), owed, kwargs.pop("channel"), ready=ready, **kwargs
                )
            ready()
            return getattr(self.billing(), method)(**kwargs)
        except SlackApiError as exc:
            seconds = retry_after(exc)
            if seconds is not None and paced:
                self.pacer.hold(channel, seconds)
            raise

    def _failed(self, owed: Owed, exc: Exception) -> None:
        failure = classify(exc)
        delay = self.queue.record_failure(owed, failure)
        logger = log.error if failure.configuration else log.warning
        detail = "" if isinstance(exc, SlackApiError) else f": {_one_line(exc, 200)}"
        logger("outbox: %s failed (%s%s); retrying in %.1fs", owed, failure.error, detail, delay)


class _NotTheirs(Exception):
    """The receipt is in a channel no longer linked to the allocation's partner."""


def _one_line(exc: object, limit: int = 300) -> str:
    """An error as one short log line: drivers put SQL and tracebacks on many."""
    text = " ".join(str(exc).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
