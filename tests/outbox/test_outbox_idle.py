"""Idle senders sleep: no busy-polling while nothing is claimable, and prompt when woken.

Counted: the database transactions the outbox's sender threads begin (on SQLite every write
transaction takes the write lock with BEGIN IMMEDIATE, which people's requests then wait for).
Everything runs at the production defaults: four senders, the real 1 s channel pace, a 60 s lease.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import event

from models.schemas import Actor
from slackbot.db import READ_ONLY, Database
from slackbot.ledger import Ledger
from slackbot.slack.sender import Delivery
from tests.support.bot_harness import APPROVER, BILLING_CHANNEL, allocation_named_by, wait_for
from tests.support.factories import add_invoice, add_partner, add_payment
from tests.support.slack_stub import FakeSlack, dm_channel_for

# The idle senders' claims and the billing pace are timed against the real clock: another test
# process on the same two cores shows up in them, so the README's test command runs these alone.
pytestmark = pytest.mark.solo

ALICE = "U0ALICE"
ALICE_DM = dm_channel_for(ALICE)
# "A handful per second across four senders": what an idle outbox may cost the database.
MAX_TRANSACTIONS_PER_SECOND = 3
SETTLE_SECONDS = 0.5


@dataclass
class SenderTransactions:
    """Transactions begun by the outbox's sender threads, as (monotonic time, writes?)."""

    begun: list[tuple[float, bool]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on_begin(self, connection: Any) -> None:
        if not threading.current_thread().name.startswith("outbox-sender"):
            return
        writes = not connection.get_execution_options().get(READ_ONLY)
        with self.lock:
            self.begun.append((time.monotonic(), writes))

    def between(self, start: float, end: float) -> tuple[int, int]:
        """(all transactions, write transactions) begun in [start, end)."""
        with self.lock:
            inside = [writes for at, writes in self.begun if start <= at < end]
        return len(inside), sum(inside)


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-IDLE", "Idle Ltd", members=[ALICE])
    add_payment(db, "PAY-1", "P-IDLE", 100000, "USD")
    for n in range(1, 4):
        add_invoice(db, f"INV-{n}", "P-IDLE", 50000, "USD")
    return db


@pytest.fixture
def counted(books: Database) -> Iterator[SenderTransactions]:
    counter = SenderTransactions()
    event.listen(books.engine, "begin", counter.on_begin)
    yield counter
    event.remove(books.engine, "begin", counter.on_begin)


@pytest.fixture
def outbox(books: Database, slack: FakeSlack) -> Iterator[Delivery]:
    """The outbox as the bot builds it, with every production default (pace, senders, lease)."""
    client = WebClient(token="xoxb-test-token", base_url=slack.api_url, timeout=10)
    delivery = Delivery(books, Ledger(books), client, billing_channel=BILLING_CHANNEL)
    yield delivery
    delivery.stop()


def _measure(counter: SenderTransactions, seconds: float) -> tuple[int, int]:
    start = time.monotonic()
    time.sleep(seconds)
    return counter.between(start, time.monotonic())


def _request(delivery: Delivery, invoice: str = "INV-1") -> int:
    allocation = delivery.ledger.request_allocation(ALICE, "PAY-1", invoice, "10.00")
    delivery.wake()
    return allocation.allocation_id


def _posts_to(slack: FakeSlack, channel: str) -> list[Any]:
    return [c for c in slack.deliveries("chat.postMessage") if c.channel == channel]


def test_an_idle_outbox_takes_no_write_lock_and_reads_rarely(
    outbox: Delivery, counted: SenderTransactions
) -> None:
    outbox.start()
    time.sleep(SETTLE_SECONDS)
    seconds = 3.0
    total, writes = _measure(counted, seconds)
    assert writes == 0, f"{writes} writes ({total} transactions) in {seconds}s, nothing owed"
    assert total <= MAX_TRANSACTIONS_PER_SECOND * seconds, (
        f"{total} transactions in {seconds}s with nothing owed"
    )


def test_senders_sleep_while_one_holds_a_long_send(
    outbox: Delivery, counted: SenderTransactions, slack: FakeSlack
) -> None:
    slack.slow("chat.postMessage", 5.0, channel=ALICE)  # the receipt takes 5 s to land
    outbox.start()
    allocation_id = _request(outbox)
    wait_for(lambda: _posts_to(slack, BILLING_CHANNEL), what="the billing post")
    time.sleep(SETTLE_SECONDS)  # the billing post's own bookkeeping is done

    seconds = 3.0
    total, writes = _measure(counted, seconds)
    assert _posts_to(slack, ALICE_DM) == [], "the slow receipt landed before the measurement"
    assert writes == 0, f"{writes} writes ({total} transactions) in {seconds}s, one send held"
    assert total <= MAX_TRANSACTIONS_PER_SECOND * seconds, (
        f"{total} transactions in {seconds}s while one send was held"
    )
    (receipt,) = wait_for(lambda: _posts_to(slack, ALICE_DM), timeout=5, what="the receipt")
    assert allocation_named_by(receipt) == allocation_id


def test_paced_billing_posts_go_out_one_per_second_without_spinning(
    outbox: Delivery, counted: SenderTransactions, slack: FakeSlack
) -> None:
    outbox.start()
    time.sleep(SETTLE_SECONDS)
    started = time.monotonic()
    ids = [_request(outbox, f"INV-{n}") for n in range(1, 4)]
    posts = wait_for(
        lambda: (found := _posts_to(slack, BILLING_CHANNEL)) and len(found) == 3 and found,
        timeout=6,
        what="three billing posts",
    )
    receipts = wait_for(
        lambda: (found := _posts_to(slack, ALICE_DM)) and len(found) == 3 and found,
        what="three receipts",
    )
    ended = max(c.at for c in posts + receipts)

    assert sorted(allocation_named_by(c) for c in posts) == ids
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert all(gap >= 0.9 for gap in gaps), f"posts closer than the 1 s pace: {gaps}"
    # Each post waits for its slot and no longer: the third is out about 2 s after the first.
    assert posts[-1].at - started < 3.0, f"the third post took {posts[-1].at - started:.1f}s"
    # Receipts are not paced: all three land while the billing posts are still waiting.
    assert max(c.at for c in receipts) < posts[-1].at
    # Per message: a claim, the lease renewal, the pace slot, the mark; a few spare for two
    # senders reaching for one slot. Spinning while the slot is taken costs hundreds.
    _total, writes = counted.between(started, ended + 0.01)
    assert writes <= 6 * 6, f"{writes} write transactions to send 6 messages"


def test_a_woken_outbox_sends_at_once_and_an_edit_follows_its_slow_post(
    outbox: Delivery, slack: FakeSlack
) -> None:
    outbox.start()
    time.sleep(1.5)  # idle, asleep
    woken = time.monotonic()
    first = _request(outbox)
    (post,) = wait_for(lambda: _posts_to(slack, BILLING_CHANNEL), what="the billing post")
    (receipt,) = wait_for(lambda: _posts_to(slack, ALICE_DM), what="the receipt")
    assert post.at - woken < 0.5 and receipt.at - woken < 0.5, (post.at - woken, receipt.at)

    # A decision's billing edit queued behind a slow post (blocked until the post is marked
    # sent) goes out as soon as the post lands, not at the next poll.
    slack.slow("chat.postMessage", 2.0, channel=BILLING_CHANNEL)
    second = _request(outbox, "INV-2")
    outbox.ledger.approve(second, Actor(user_id=APPROVER, can_approve=True))
    outbox.wake()
    edits = wait_for(
        lambda: [
            c
            for c in slack.deliveries("chat.update")
            if allocation_named_by(c) == second and c.channel == BILLING_CHANNEL
        ],
        timeout=6,
        what="the decision's billing edit",
    )
    (second_post,) = [
        c for c in _posts_to(slack, BILLING_CHANNEL) if allocation_named_by(c) == second
    ]
    assert edits[0].at - second_post.at < 0.5, (
        f"the edit waited {edits[0].at - second_post.at:.2f}s"
    )
    assert first != second


def test_the_billing_channel_keeps_its_pace_while_the_only_sender_is_busy_with_dms(
    books: Database, slack: FakeSlack
) -> None:
    # No sender is idle to watch the clock: the one sender is sending slow DMs. It takes the
    # billing channel's slot between two of them when it comes, not after its whole batch.
    requests = 10
    dm_seconds = 0.5
    for n in range(requests):
        add_payment(books, f"PAY-S{n}", "P-IDLE", 10000, "USD")
        add_invoice(books, f"INV-S{n}", "P-IDLE", 10000, "USD")
    ledger = Ledger(books)
    for n in range(requests):
        ledger.request_allocation(ALICE, f"PAY-S{n}", f"INV-S{n}", "1.00")
    slack.slow("chat.postMessage", dm_seconds, times=requests, channel=ALICE)
    client = WebClient(token="xoxb-test-token", base_url=slack.api_url, timeout=10)
    delivery = Delivery(books, ledger, client, billing_channel=BILLING_CHANNEL, senders=1)
    delivery.start()
    try:
        receipts = wait_for(
            lambda: (found := _posts_to(slack, ALICE_DM)) and len(found) == requests and found,
            timeout=requests * dm_seconds + 10,
            what="every receipt",
        )
    finally:
        delivery.stop()

    dms_done = max(c.at for c in receipts)
    posts = [c.at for c in _posts_to(slack, BILLING_CHANNEL) if c.at <= dms_done]
    gaps = [b - a for a, b in itertools.pairwise(sorted(posts))]
    assert len(gaps) >= 3, posts
    assert min(gaps) >= 0.9, f"posts closer than the 1 s pace: {gaps}"
    # Waiting for a batch of four 0.5 s DMs would make every gap 2 s or more.
    assert max(gaps) < 1.0 + dm_seconds + 0.25, f"billing waited for the batch: {gaps}"
