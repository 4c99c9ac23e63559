"""Reminders through the real sender: owed by the loop, delivered once at the 1 s billing pace.

Needs the sender hook (slackbot/slack/sender.py routing REMINDER_KINDS to reminder_calls).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from models.schemas import Actor
from slackbot.business_time import ReminderRules
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.outbox.reminder_loop import ReminderLoop
from slackbot.slack.reminder_calls import Approvers
from slackbot.slack.sender import Delivery
from tests.reminders.support import MONDAY_10, paris
from tests.support.slack_stub import FakeSlack, dm_channel_for

BILLING = "C0BILLING"
GROUP = "S0APPROVERS"


class MovingClock:
    """Business moments that pass as real time does (the billing pace needs time to pass),
    and can be set forward to a later moment."""

    def __init__(self, moment: dt.datetime) -> None:
        self.set(moment)

    def set(self, moment: dt.datetime) -> None:
        self._base, self._started = moment, time.monotonic()

    def __call__(self) -> dt.datetime:
        return self._base + dt.timedelta(seconds=time.monotonic() - self._started)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as stub:
        yield stub


def test_reminders_go_out_once_each_in_the_thread_and_to_the_requester(
    books: Database, slack: FakeSlack
) -> None:
    clock = MovingClock(MONDAY_10)
    ledger = Ledger(books, clock=clock)
    request = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    client = WebClient(token="xoxb-test-token", base_url=slack.api_url, timeout=10)
    delivery = Delivery(
        books, ledger, client, billing_channel=BILLING, clock=clock, approvers=Approvers(GROUP)
    )
    loop = ReminderLoop(books, ReminderRules(), clock=clock, wake=delivery.wake)
    loop.run_once()  # Monday's digest
    delivery.drain(timeout=15)
    posts = slack.calls_to("chat.postMessage")
    parent = next(
        c
        for c in posts
        if c.channel == BILLING
        and "thread_ts" not in c.params
        and "Allocation request" in c.params["text"]
    )
    slack.clear()

    clock.set(paris(2026, 11, 23, 14, 0, 1))
    loop.run_once()
    loop.run_once()
    delivery.drain(timeout=15)
    (reminder,) = slack.calls_to("chat.postMessage")
    assert reminder.params["thread_ts"] == parent.response["ts"]  # type: ignore[index]
    assert "waiting 4h of business time" in reminder.params["text"]
    slack.clear()

    clock.set(paris(2026, 11, 25, 16, 0, 1))
    loop.run_once()
    delivery.drain(timeout=15)
    calls = slack.calls_to("chat.postMessage")
    threaded = [c for c in calls if c.params.get("thread_ts")]
    (escalation,) = threaded
    assert escalation.params["text"].startswith(f"<!subteam^{GROUP}>: request #{request}")
    (chase,) = [c for c in calls if c.channel == dm_channel_for("U1")]
    assert "is being chased" in chase.params["text"]
    digests = [c for c in calls if c.channel == BILLING and not c.params.get("thread_ts")]
    assert [d.params["text"].split(";")[0] for d in digests] == ["Waiting for approval: 1 request"]
    # About one call a second to the billing channel, even in a burst (arrivals a hair under a
    # second apart are the channel's pace seen through the network's jitter).
    billing_times = sorted(
        c.at for c in slack.deliveries("chat.postMessage") if c.channel == BILLING
    )
    assert slack.max_rate("chat.postMessage", BILLING, window=0.95) <= 1, billing_times
    # Nothing refreshed: a reminder moves no balance.
    assert slack.calls_to("chat.update") == []
    assert delivery.pending_count() == 0


def test_a_request_decided_before_its_reminder_is_sent_is_not_reminded(
    books: Database, slack: FakeSlack
) -> None:
    clock = MovingClock(MONDAY_10)
    ledger = Ledger(books, clock=clock)
    request = ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    client = WebClient(token="xoxb-test-token", base_url=slack.api_url, timeout=10)
    delivery = Delivery(books, ledger, client, billing_channel=BILLING, clock=clock)
    delivery.drain(timeout=15)
    clock.set(paris(2026, 11, 30, 8))  # before Monday's opening: no digest
    loop = ReminderLoop(books, ReminderRules(), clock=clock, wake=delivery.wake)
    assert loop.run_once().escalated == (request,)
    ledger.approve(request, Actor(user_id="UAPPROVER", can_approve=True))
    slack.clear()

    delivery.drain(timeout=15)

    texts = [c.params.get("text", "") for c in slack.calls_to("chat.postMessage")]
    assert not any("waiting" in t or "chased" in t for t in texts), texts
    assert delivery.pending_count() == 0
