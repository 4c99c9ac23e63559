"""Exactly once, though Slack loses answers: each outbox post appears once in Slack.

Slack applies ``chat.postMessage`` and the answer is lost (``FakeSlack.lose_first_answers``):
the sender's retry finds its own message by its metadata in the channel's history (a thread's
replies; the DM's) and adopts it. A failed look delays the post and never doubles it; a clear
refusal is retried as before, with no look. Edits and Home publishes are idempotent already.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from sqlalchemy import select

from models.enums import Audience, OutboxKind
from models.schemas import Actor
from models.tables import OutboxMessage, SlackMessageRef
from slackbot.business_time import ReminderRules
from slackbot.db import Database
from slackbot.errors import Unavailable
from slackbot.ledger import Ledger
from slackbot.outbox import channels
from slackbot.outbox.queue import RetryPolicy
from slackbot.outbox.reminder_loop import ReminderLoop
from slackbot.slack.home_publisher import HomePublisher
from slackbot.slack.post_once import EVENT_TYPE
from slackbot.slack.reminder_calls import Approvers
from slackbot.slack.sender import Delivery
from tests.support.factories import add_invoice, add_partner, add_payment
from tests.support.slack_stub import LOST_RESPONSE_FAULT, FakeSlack, dm_channel_for

BILLING = "C0BILLING"
SHARED = "C0SHARED"
ALICE = "U0ALICE"
EXTERNAL = "U0EXTERNAL"
APPROVER = Actor(user_id="UAPPROVER", can_approve=True)
FAST = RetryPolicy(base_seconds=0.05, cap_seconds=0.3, configuration_cap_seconds=0.3)
# The stub holds a lost answer's connection this long, then drops it (the client sees the
# connection close with no answer: Slack may or may not have posted).
LOST_AFTER = 0.3


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(timeout_sleep=LOST_AFTER) as stub:
        yield stub


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE, EXTERNAL])
    add_payment(db, "PAY-1", "P-ACME", 1_000_000, "USD")
    for n in range(1, 5):
        add_invoice(db, f"INV-{n}", "P-ACME", 100_000, "USD")
    # EXTERNAL cannot get a DM (a Slack Connect guest): their notices go to the linked channel.
    channels.check_link(db, "P-ACME", SHARED, billing_channel=None, replace=True)
    channels.link_channel(db, "P-ACME", SHARED, linked_by="test", launcher_ts=None)
    return db


def delivery(
    db: Database, slack: FakeSlack, *, pace: float = 0.0, clock: Any = None, **kwargs: Any
) -> Delivery:
    # slack_sdk's default client, which re-sends on a dropped connection by itself: the sender
    # must not let it (the production client has no retry handlers at all).
    client = WebClient(token="xoxb-test-token", base_url=slack.api_url, timeout=5)
    extra: dict[str, Any] = {"clock": clock} if clock is not None else {}
    return Delivery(
        db,
        Ledger(db, **extra),
        client,
        billing_channel=BILLING,
        pace_seconds=pace,
        retry=kwargs.pop("retry", FAST),
        **extra,
        **kwargs,
    )


def naming(allocation_id: int, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if f"#{allocation_id}" in str(m.get("text"))]


def top_level(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [m for m in messages if m.get("thread_ts") in (None, m["ts"])]


def unsent(db: Database) -> list[int]:
    with db.transaction(read_only=True) as session:
        return list(
            session.scalars(select(OutboxMessage.message_id).where(OutboxMessage.sent_at.is_(None)))
        )


def remembered(db: Database) -> list[tuple[int, str, str, str]]:
    with db.transaction(read_only=True) as session:
        return [
            (ref.allocation_id, ref.role, ref.channel, ref.ts)
            for ref in session.scalars(select(SlackMessageRef))
        ]


def drain_all(sender: Delivery, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while sender.pending_count() and time.monotonic() < deadline:
        sender.drain(timeout=max(0.1, deadline - time.monotonic()))
    assert sender.pending_count() == 0


# ------------------------------------------------------------------ every first answer lost


def test_every_first_post_losing_its_answer_leaves_each_message_once_at_the_real_pace(
    books: Database, slack: FakeSlack
) -> None:
    slack.set_undmable(EXTERNAL)
    slack.lose_first_answers()
    sender = delivery(books, slack, pace=1.0)  # the production billing pace
    ledger = sender.ledger
    alice = [
        ledger.request_allocation(ALICE, "PAY-1", f"INV-{n}", "10.00").allocation_id for n in (1, 2)
    ]
    external = ledger.request_allocation(EXTERNAL, "PAY-1", "INV-3", "20.00").allocation_id
    drain_all(sender)
    ledger.approve(alice[0], APPROVER)
    ledger.reverse(alice[0], APPROVER, "Paid twice by mistake")  # a decision DM, weeks later
    ledger.reject(external, APPROVER, "Wrong invoice")
    drain_all(sender)

    billing = top_level(slack.messages_in(BILLING))
    dm = slack.messages_in(ALICE)
    shared = slack.messages_in(SHARED)
    for allocation_id in (*alice, external):
        assert len(naming(allocation_id, billing)) == 1, [
            (
                c.method,
                c.channel,
                c.fault,
                c.params.get("oldest"),
                (c.response or {}).get("ts"),
                len((c.response or {}).get("messages") or []),
            )
            for c in slack.calls
            if c.method.startswith(("chat.post", "conversations"))
        ]
    # Alice: a receipt per request, and the reversal's DM beside the edited receipt.
    assert [len(naming(a, dm)) for a in alice] == [2, 1]
    assert len(naming(external, shared)) == 1
    assert naming(external, dm) == [] and naming(alice[0], shared) == []
    # Every post lost its first answer, and none was posted twice.
    posts = slack.calls_to("chat.postMessage")
    lost = [c for c in posts if c.fault == LOST_RESPONSE_FAULT and c.delivered]
    assert len(lost) == len([c for c in posts if c.delivered]) == 3 + 3 + 1
    assert slack.calls_to("conversations.history")
    # What the bot remembers is the message that landed (the one later news edited).
    for _allocation, _role, channel, ts in remembered(books):
        assert slack.message(channel, ts) is not None
    assert slack.max_rate("chat.postMessage", BILLING) <= 1
    assert unsent(books) == []


def test_every_post_carries_metadata_naming_its_outbox_row(
    books: Database, slack: FakeSlack
) -> None:
    sender = delivery(books, slack)
    allocation_id = sender.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "10.00").allocation_id
    drain_all(sender)
    with books.transaction(read_only=True) as session:
        rows = {
            row.message_id: row.kind
            for row in session.scalars(
                select(OutboxMessage).where(OutboxMessage.allocation_id == allocation_id)
            )
        }
    posted = [
        slack.message(c.channel or "", c.response["ts"])
        for c in slack.deliveries("chat.postMessage")
        if c.response
    ]
    assert len(posted) == 2
    for message in posted:
        assert message is not None
        metadata = message["metadata"]
        assert metadata["event_type"] == EVENT_TYPE
        payload = metadata["event_payload"]
        assert payload["allocation_id"] == allocation_id
        assert rows[payload["outbox_message_id"]] == payload["kind"]


def test_reminder_replies_digest_and_chase_appear_once_though_every_first_answer_is_lost(
    db: Database, slack: FakeSlack
) -> None:
    from tests.reminders.support import MONDAY_10, paris
    from tests.reminders.test_through_sender import MovingClock

    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 10_000_000, "EUR")
    add_invoice(db, "INV-1", "P1", 1_000_000, "EUR")
    clock = MovingClock(MONDAY_10)
    sender = delivery(db, slack, pace=1.0, clock=clock, approvers=Approvers("S0APPROVERS"))
    request = sender.ledger.request_allocation("U1", "PAY-1", "INV-1", "100.00").allocation_id
    loop = ReminderLoop(db, ReminderRules(), clock=clock, wake=sender.wake)
    slack.lose_first_answers()
    loop.run_once()  # Monday's digest
    drain_all(sender)
    clock.set(paris(2026, 11, 23, 14, 0, 1))  # 4 business hours: the reminder
    loop.run_once()
    drain_all(sender)
    clock.set(paris(2026, 11, 25, 16, 0, 1))  # 24 business hours: the escalation and chase
    loop.run_once()
    drain_all(sender)

    billing = slack.messages_in(BILLING)
    (parent,) = [m for m in top_level(billing) if f"#{request}" in m["text"]]
    replies = [m for m in billing if m.get("thread_ts") == parent["ts"]]
    kinds = kinds_sent(db)
    assert kinds[OutboxKind.REQUEST_REMINDED] == 1 and kinds[OutboxKind.REQUEST_ESCALATED] == 1
    assert len(replies) == 2, [m["text"] for m in replies]
    digests = [m for m in top_level(billing) if m is not parent]
    assert len(digests) == kinds[OutboxKind.DAILY_DIGEST] >= 1
    chases = [m for m in slack.messages_in("U1") if "is being chased" in m["text"]]
    assert len(chases) == kinds[OutboxKind.REQUEST_CHASED] == 1
    # The thread replies were found among the thread's replies, not the channel's history.
    assert slack.calls_to("conversations.replies")
    # Every post that landed lost its answer: none was made a second time.
    landed = slack.deliveries("chat.postMessage")
    assert landed and all(c.fault == LOST_RESPONSE_FAULT for c in landed)


def kinds_sent(db: Database) -> dict[str, int]:
    counts: dict[str, int] = dict.fromkeys(OutboxKind, 0)
    with db.transaction(read_only=True) as session:
        for kind in session.scalars(
            select(OutboxMessage.kind).where(OutboxMessage.sent_at.is_not(None))
        ):
            counts[kind] = counts.get(kind, 0) + 1
    return counts


# ------------------------------------ accepted, then the sender loses its database (or dies)


def test_posts_slack_accepted_before_the_sender_lost_its_database_are_adopted_not_reposted(
    books: Database, slack: FakeSlack, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Slack answered every post, but no row was marked sent (the database went away, as when
    the process dies there): no answer was lost, so only the mark each attempt commits before
    its post tells the next sender to look."""
    first = delivery(books, slack, lease_seconds=0.3)
    allocation_id = first.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "10.00").allocation_id

    def lost(*_args: Any, **_kwargs: Any) -> bool:
        raise Unavailable("the database went away")

    monkeypatch.setattr(first.queue, "mark_sent", lost)
    first.run_once()
    before = {c.channel: (c.response or {}).get("ts") for c in slack.deliveries("chat.postMessage")}
    assert (
        set(before) == {BILLING, dm_channel_for(ALICE)} and len(unsent(books)) == 2
    )  # posted, never marked
    restarted = delivery(books, slack)  # another process, once the leases run out
    drain_all(restarted)

    assert len(naming(allocation_id, slack.messages_in(BILLING))) == 1
    assert len(naming(allocation_id, slack.messages_in(ALICE))) == 1  # the receipt
    assert len(slack.deliveries("chat.postMessage")) == 2  # each row posted once: adopted
    looked = {c.params["channel"] for c in slack.calls_to("conversations.history")}
    assert looked == {BILLING, dm_channel_for(ALICE)}
    refs = {role: (channel, ts) for _a, role, channel, ts in remembered(books)}
    assert refs[Audience.BILLING] == (BILLING, before[BILLING])
    assert refs[Audience.RECEIPT] == (dm_channel_for(ALICE), before[dm_channel_for(ALICE)])


# --------------------------------------------------------------------- the look itself fails


def test_a_failing_history_lookup_delays_the_post_but_never_doubles_it(
    books: Database, slack: FakeSlack
) -> None:
    sender = delivery(books, slack, batch_size=1)
    allocation_id = sender.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "10.00").allocation_id
    slack.fail("chat.postMessage", LOST_RESPONSE_FAULT, channel=BILLING)
    slack.fail("conversations.history", "500", times=2)
    drain_all(sender)
    assert len(naming(allocation_id, slack.messages_in(BILLING))) == 1
    looks = slack.calls_to("conversations.history")
    assert [c.fault for c in looks] == ["500", "500", None]
    posts = [c for c in slack.calls_to("chat.postMessage") if c.channel == BILLING]
    assert len(posts) == 1  # adopted, never posted again
    (ref,) = [r for r in remembered(books) if r[1] == Audience.BILLING]
    assert ref[3] == posts[0].response["ts"]  # type: ignore[index]


def test_a_lookup_slack_refuses_keeps_the_row_waiting_and_posts_nothing_blind(
    books: Database, slack: FakeSlack
) -> None:
    """An install without the history scopes: the row waits, logged, until they are granted."""
    sender = delivery(books, slack, batch_size=1)
    allocation_id = sender.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "10.00").allocation_id
    slack.fail("chat.postMessage", LOST_RESPONSE_FAULT, channel=BILLING)
    slack.fail("conversations.history", "slack_error:missing_scope", times=50)
    sender.drain(timeout=1.5)
    with books.transaction(read_only=True) as session:
        row = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.allocation_id == allocation_id,
                OutboxMessage.recipient == Audience.BILLING,
            )
        ).one()
        assert row.sent_at is None
        assert (row.last_error or "").startswith("history_lookup_failed: missing_scope")
    assert len([c for c in slack.calls_to("chat.postMessage") if c.channel == BILLING]) == 1
    slack.clear()  # the scopes are granted
    drain_all(sender)
    assert len(naming(allocation_id, slack.messages_in(BILLING))) == 1
    assert [c for c in slack.calls_to("chat.postMessage") if c.channel == BILLING] == []


@pytest.mark.parametrize("kind", ["slack_error:not_in_channel", "429"])
def test_a_clear_refusal_is_retried_without_a_look(
    books: Database, slack: FakeSlack, kind: str
) -> None:
    sender = delivery(books, slack, batch_size=1)
    allocation_id = sender.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "10.00").allocation_id
    slack.fail("chat.postMessage", kind, channel=BILLING, retry_after=0)
    drain_all(sender)
    assert len(naming(allocation_id, slack.messages_in(BILLING))) == 1
    assert slack.calls_to("conversations.history") == []
    assert len([c for c in slack.calls_to("chat.postMessage") if c.channel == BILLING]) == 2


def test_a_post_that_never_landed_is_looked_for_then_posted_once(
    books: Database, slack: FakeSlack
) -> None:
    sender = delivery(books, slack, batch_size=1)
    allocation_id = sender.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "10.00").allocation_id
    slack.fail("chat.postMessage", "disconnect", channel=BILLING)  # nothing was applied
    drain_all(sender)
    assert len(naming(allocation_id, slack.messages_in(BILLING))) == 1
    assert len(slack.calls_to("conversations.history")) == 1
    assert [c.fault for c in slack.calls_to("chat.postMessage") if c.channel == BILLING] == [
        "disconnect",
        None,
    ]


# ------------------------------------------------------------- edits and Homes: idempotent


def test_the_same_edit_twice_and_a_lost_edit_retried_leave_one_message_with_the_content(
    books: Database, slack: FakeSlack
) -> None:
    sender = delivery(books, slack, batch_size=1)
    allocation_id = sender.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "10.00").allocation_id
    drain_all(sender)
    sender.ledger.approve(allocation_id, APPROVER)
    slack.fail("chat.update", LOST_RESPONSE_FAULT, channel=BILLING)
    drain_all(sender)
    edits = [c for c in slack.calls_to("chat.update") if c.channel == BILLING]
    assert [(c.fault, c.delivered) for c in edits] == [(LOST_RESPONSE_FAULT, True), (None, True)]
    (shown,) = naming(allocation_id, slack.messages_in(BILLING))
    assert "approved" in shown["text"].lower()
    # The same edit once more (what a retry after a lost answer is) changes nothing more.
    client = sender.client
    before = slack.message(BILLING, shown["ts"])
    client.chat_update(
        channel=BILLING,
        ts=shown["ts"],
        text=edits[-1].params["text"],
        blocks=edits[-1].params["blocks"],
    )
    after = slack.message(BILLING, shown["ts"])
    assert before is not None and after is not None
    assert (after["text"], after["blocks"]) == (before["text"], before["blocks"])
    assert len(naming(allocation_id, slack.messages_in(BILLING))) == 1


def test_a_home_publish_whose_answer_is_lost_and_retried_leaves_one_home(
    books: Database, slack: FakeSlack
) -> None:
    client = WebClient(
        token="xoxb-test-token", base_url=slack.api_url, timeout=5, retry_handlers=[]
    )
    publisher = HomePublisher(books, lambda _user: client, retry=FAST)
    slack.fail("views.publish", LOST_RESPONSE_FAULT)
    assert publisher.publish_now(ALICE) is False  # applied, but the answer was lost
    publisher.drain(timeout=5)  # the worker publishes the same Home again
    publishes = slack.calls_to("views.publish")
    assert [c.delivered for c in publishes] == [True, True]
    home = slack.home_of(ALICE)
    assert home is not None and home["type"] == "home"
    assert home["blocks"] == publishes[-1].params["view"]["blocks"]
    assert len({c.response["view"]["id"] for c in publishes if c.response}) == 1  # type: ignore[index]


def test_a_dm_lookup_reads_the_dm_conversations_open_gives(
    books: Database, slack: FakeSlack
) -> None:
    sender = delivery(books, slack)
    slack.fail("chat.postMessage", LOST_RESPONSE_FAULT, channel=ALICE)
    allocation_id = sender.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "10.00").allocation_id
    drain_all(sender)
    assert len(naming(allocation_id, slack.messages_in(ALICE))) == 1
    (opened,) = slack.calls_to("conversations.open")
    assert opened.params["users"] == ALICE
    assert [c.params["channel"] for c in slack.calls_to("conversations.history")] == [
        dm_channel_for(ALICE)
    ]
