"""The outbox queue on its own (no Slack) and the one place a kind of news meets its messages.

The queue records what became of a row from plain values (an error code, a wait, whether it is
a configuration error), reads the time only from the clock it is given, and counts in SQL; the
sender's routing covers every kind, so a new kind cannot be forgotten there.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import event, select

from models.enums import Audience, OutboxKind
from models.tables import OutboxMessage
from slackbot.clock import FrozenClock, system_clock
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.outbox.queue import Failure, OutboxQueue, RetryPolicy
from slackbot.slack.sender import (
    BillingCall,
    Delivery,
    RequesterCall,
    Route,
    classify,
    route,
)
from slackbot.slack.sender import RetryPolicy as ReExportedRetryPolicy
from tests.support.bot_harness import BILLING_CHANNEL
from tests.support.factories import add_invoice, add_partner, add_payment
from tests.support.slack_stub import FakeSlack

ALICE = "U0ALICE"
WORKER = "sender-test"
# No jitter: the waits a test reads back are exact.
EXACT = RetryPolicy(base_seconds=2.0, cap_seconds=300.0, configuration_cap_seconds=600.0, jitter=0)


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-Q", "Queue Ltd", members=[ALICE])
    add_payment(db, "PAY-1", "P-Q", 100000, "USD")
    add_invoice(db, "INV-1", "P-Q", 50000, "USD")
    return db


@pytest.fixture
def later() -> FrozenClock:
    """An hour ahead of the wall clock the ledger writes rows with, so every row is due."""
    return FrozenClock(system_clock().replace(microsecond=0) + dt.timedelta(hours=1))


def _owed_rows(db: Database) -> list[OutboxMessage]:
    with db.transaction(read_only=True) as session:
        rows = list(session.scalars(select(OutboxMessage).order_by(OutboxMessage.message_id)))
        session.expunge_all()
        return rows


def _held(queue: OutboxQueue) -> Any:
    claim = queue.claim(WORKER)
    assert claim.ids
    held = queue.begin_send(claim.ids[0], WORKER)
    assert held is not None
    return held


@pytest.mark.parametrize(
    ("failure", "wait_seconds", "error"),
    [
        # Slack's 429: exactly the wait it asked for, not the backoff schedule.
        (Failure("ratelimited", "slow down", retry_after=7.0), 7.0, "ratelimited: slow down"),
        # A first failure waits the schedule's base.
        (Failure("http_500", "server error"), 2.0, "http_500: server error"),
        (
            Failure("not_in_channel", "invite the bot", configuration=True),
            2.0,
            "not_in_channel: invite the bot",
        ),
    ],
)
def test_a_failure_is_recorded_from_plain_values_with_the_wait_it_asks_for(
    books: Database, later: FrozenClock, failure: Failure, wait_seconds: float, error: str
) -> None:
    Ledger(books).request_allocation(ALICE, "PAY-1", "INV-1", "10.00")
    queue = OutboxQueue(
        books, billing_channel=BILLING_CHANNEL, pace_seconds=0, retry=EXACT, clock=later
    )
    held = _held(queue)

    assert queue.record_failure(held.owed, failure) == wait_seconds

    (row,) = [r for r in _owed_rows(books) if r.message_id == held.owed.message_id]
    assert row.sent_at is None and row.claimed_by is None and row.claimed_until is None
    assert row.attempts == 1
    assert row.next_attempt_at == later() + dt.timedelta(seconds=wait_seconds)
    assert row.last_error == error
    # Not claimable again until then, by the queue's own clock.
    assert held.owed.message_id not in queue.claim(WORKER).ids
    later.advance(dt.timedelta(seconds=wait_seconds))
    assert held.owed.message_id in queue.claim(WORKER).ids


def test_configuration_errors_back_off_to_their_own_slower_cap() -> None:
    retry = RetryPolicy(base_seconds=1.0, cap_seconds=5.0, configuration_cap_seconds=50.0, jitter=0)
    assert retry.delay(10) == 5.0
    assert retry.delay(10, configuration=True) == 50.0
    assert ReExportedRetryPolicy is RetryPolicy  # tests and bench import it from the sender


def test_the_queue_and_the_sender_read_the_time_only_from_the_clock_they_are_given(
    books: Database, slack: FakeSlack, later: FrozenClock
) -> None:
    Ledger(books).request_allocation(ALICE, "PAY-1", "INV-1", "10.00")
    client = WebClient(token="xoxb-test-token", base_url=slack.api_url, timeout=10)
    delivery = Delivery(
        books, Ledger(books), client, billing_channel=BILLING_CHANNEL, retry=EXACT, clock=later
    )
    slack.fail("chat.postMessage", "slack_error:msg_too_long", times=1)
    delivery.run_once()  # the billing post fails (it has the slot and goes first), the DM lands
    delivery.stop()

    rows = _owed_rows(books)
    assert len(rows) == 2
    sent = [r for r in rows if r.sent_at is not None]
    failed = [r for r in rows if r.last_error is not None]
    assert [r.sent_at for r in sent] == [later()]
    (failed_row,) = failed
    assert failed_row.recipient == Audience.BILLING
    assert failed_row.next_attempt_at > later()
    # The leases the claim took, and the channel's next slot, are by the same clock.
    assert delivery.next_due_in() == pytest.approx(
        (failed_row.next_attempt_at - later()).total_seconds()
    )


def test_pending_count_is_one_count_query(books: Database, later: FrozenClock) -> None:
    ledger = Ledger(books)
    ledger.request_allocation(ALICE, "PAY-1", "INV-1", "10.00")
    queue = OutboxQueue(books, billing_channel=BILLING_CHANNEL, pace_seconds=0, clock=later)
    queue.mark_sent(_held(queue).owed, None)
    statements: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        statements.append(statement)

    event.listen(books.engine, "before_cursor_execute", seen)
    try:
        assert queue.pending_count() == 1
    finally:
        event.remove(books.engine, "before_cursor_execute", seen)
    (query,) = [s for s in statements if "outbox" in s]
    assert "count(" in query.lower()


def test_a_row_of_a_kind_this_version_does_not_know_waits_and_says_so_in_one_line(
    books: Database, slack: FakeSlack, later: FrozenClock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    allocation = Ledger(books).request_allocation(ALICE, "PAY-1", "INV-1", "10.00")
    with books.transaction() as session:
        for row in session.scalars(select(OutboxMessage)):
            row.sent_at = later()
        session.add(
            OutboxMessage(
                kind="allocation_paid",  # written by a newer version, say
                allocation_id=allocation.allocation_id,
                recipient=Audience.BILLING,
                payload={},
                created_at=later(),
                next_attempt_at=later(),
            )
        )
    client = WebClient(token="xoxb-test-token", base_url=slack.api_url, timeout=10)
    delivery = Delivery(
        books, Ledger(books), client, billing_channel=BILLING_CHANNEL, retry=EXACT, clock=later
    )
    assert delivery.run_once() == 1

    assert slack.deliveries("chat.postMessage") == []
    (row,) = [r for r in _owed_rows(books) if r.sent_at is None]
    assert row.claimed_by is None and row.attempts == 1
    assert row.last_error == "unknown_kind: 'allocation_paid' to 'billing'"
    assert row.next_attempt_at == later() + dt.timedelta(seconds=2)
    (line,) = [r for r in caplog.records if "cannot send" in r.getMessage()]
    assert line.levelno == logging.ERROR and "\n" not in line.getMessage()
    assert f"message {row.message_id}" in line.getMessage()


@pytest.mark.parametrize("kind", list(OutboxKind))
def test_every_kind_of_news_has_one_route(kind: OutboxKind) -> None:
    news = route(kind)
    assert isinstance(news, Route)
    assert isinstance(news.billing, BillingCall) and isinstance(news.requester, RequesterCall)


def test_only_a_request_posts_a_receipt_and_only_a_reversal_posts_beside_the_edit() -> None:
    posts_receipt = {k for k in OutboxKind if route(k).requester is RequesterCall.POST_RECEIPT}
    beside = {k for k in OutboxKind if route(k).requester is RequesterCall.EDIT_AND_DM}
    assert posts_receipt == {OutboxKind.ALLOCATION_REQUESTED}
    assert beside == {OutboxKind.ALLOCATION_REVERSED}
    assert route(OutboxKind.BALANCES_CHANGED).billing is BillingCall.EDIT_ONLY


def test_slack_errors_become_the_plain_values_the_queue_records() -> None:
    from slack_sdk.errors import SlackApiError
    from slack_sdk.web import SlackResponse

    def answer(status: int, error: str, headers: dict[str, Any] | None = None) -> SlackApiError:
        response = SlackResponse(
            client=None,
            http_verb="POST",
            api_url="https://slack.test/api/chat.postMessage",
            req_args={},
            data={"ok": False, "error": error},
            headers=headers or {},
            status_code=status,
        )
        return SlackApiError(error, response)

    limited = classify(answer(429, "ratelimited", {"Retry-After": "3"}))
    assert (limited.error, limited.retry_after, limited.configuration) == (
        "ratelimited",
        3.0,
        False,
    )
    setup = classify(answer(200, "not_in_channel"))
    assert (setup.error, setup.retry_after, setup.configuration) == ("not_in_channel", None, True)
    dropped = classify(ConnectionResetError("peer went away"))
    assert (dropped.error, dropped.configuration) == ("ConnectionResetError", False)


def test_a_late_call_moves_the_channels_next_slot_on_only_while_it_is_still_its_own(
    books: Database, later: FrozenClock
) -> None:
    # The claim takes the billing channel's slot and says which next slot it wrote; a call that
    # starts 0.3 s late pushes that next slot 0.3 s on, so the next call is still a pace after
    # it. Once a later claim (another process) or a 429 has moved the next slot, a late call's
    # slot is gone: move_on says so and changes nothing.
    add_invoice(books, "INV-2", "P-Q", 50000, "USD")
    ledger = Ledger(books)
    ledger.request_allocation(ALICE, "PAY-1", "INV-1", "1.00")
    ledger.request_allocation(ALICE, "PAY-1", "INV-2", "1.00")
    queue = OutboxQueue(books, billing_channel=BILLING_CHANNEL, pace_seconds=1.0, clock=later)
    pace = queue.pacer
    claim = queue.claim(WORKER)
    assert claim.slot_for is not None and claim.slot_until == later() + dt.timedelta(seconds=1)

    later.advance(dt.timedelta(milliseconds=300))
    assert pace.move_on(BILLING_CHANNEL, claim.slot_until)
    assert pace.wait(BILLING_CHANNEL) == pytest.approx(1.0)

    # The next slot comes and another claim takes it: the first claim's slot is not its own.
    later.advance(dt.timedelta(seconds=1))
    second = queue.claim("another-process")
    assert second.slot_for is not None and second.slot_for != claim.slot_for
    assert not pace.move_on(BILLING_CHANNEL, claim.slot_until)
    assert pace.wait(BILLING_CHANNEL) == pytest.approx(1.0)

    # Slack said wait (429): the hold is not undone by a late call of the slot before it.
    pace.hold(BILLING_CHANNEL, 30)
    assert second.slot_until is not None
    assert not pace.move_on(BILLING_CHANNEL, second.slot_until)
    assert pace.wait(BILLING_CHANNEL) == pytest.approx(30.0)


def _while_another_holds_the_pace_lock(
    books: Database, queue: OutboxQueue, then: Callable[[], Any]
) -> tuple[Any, dt.datetime]:
    """Run ``then`` while another transaction (another process's claim) holds the billing
    channel's pace row for 0.4 s; returns what ``then`` returned and when the holder let go."""
    holding = threading.Event()
    letting_go: list[dt.datetime] = []

    def hold() -> None:
        with books.transaction() as session:
            queue.pacer.locked(session, BILLING_CHANNEL, system_clock())
            holding.set()
            time.sleep(0.4)
            letting_go.append(system_clock())

    holder = threading.Thread(target=hold)
    holder.start()
    assert holding.wait(5)
    result = then()
    holder.join()
    return result, letting_go[0]


def test_a_claim_that_waits_for_the_pace_lock_starts_its_slot_when_it_gets_the_lock(
    books: Database,
) -> None:
    # CI caught two billing posts 0.56 s apart at the real 1 s pace: a claim read the clock,
    # waited 0.44 s for the pace lock, and wrote the next slot a pace from the time it read, so
    # the next call came less than a pace after this one. The slot starts when the lock is held.
    Ledger(books).request_allocation(ALICE, "PAY-1", "INV-1", "1.00")
    queue = OutboxQueue(books, billing_channel=BILLING_CHANNEL, pace_seconds=1.0)

    claim, let_go = _while_another_holds_the_pace_lock(books, queue, lambda: queue.claim(WORKER))
    assert claim.slot_for is not None and claim.slot_until is not None
    assert claim.slot_until >= let_go + dt.timedelta(seconds=1), (
        f"the next slot is {(let_go + dt.timedelta(seconds=1) - claim.slot_until).total_seconds()}"
        " s early: the wait for the lock was counted as part of the pace"
    )
    assert claim.slot_taken is not None and claim.slot_taken <= time.monotonic()

    # A fresh slot taken outside a claim (a late call whose slot was taken meanwhile) likewise.
    time.sleep(queue.pacer.wait(BILLING_CHANNEL))  # the claim's slot runs out
    taken, let_go = _while_another_holds_the_pace_lock(
        books, queue, lambda: queue.pacer.take(BILLING_CHANNEL)
    )
    assert taken == 0.0
    with books.transaction(read_only=True) as session:
        next_free = queue.pacer.free_at(session, BILLING_CHANNEL)
    assert next_free is not None and next_free >= let_go + dt.timedelta(seconds=1)
