"""How a requester's notices reach them: decided once, kept, reused by retries, decided again
only when the kept way fails for good; nobody reachable is the operator's to fix, in one line."""

from __future__ import annotations

import logging
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from models.tables import Allocation, OutboxMessage
from models.workspaces import SlackPerson
from slackbot.db import Database
from slackbot.outbox import channels
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import APPROVER, BotHarness, text_of, wait_for
from tests.support.factories import add_invoice, add_partner, add_payment, allocation_row
from tests.support.slack_stub import FakeSlack

EXTERNAL = "U0EXTERNAL"
ALICE = "U0ALICE"
SHARED = "C0SHARED"
OTHER = "C0OTHER"


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[EXTERNAL, ALICE])
    add_payment(db, "PAY-1", "P-ACME", 100000, "USD")
    add_invoice(db, "INV-1", "P-ACME", 100000, "USD")
    return db


def link(db: Database, channel: str, partner: str = "P-ACME") -> None:
    channels.check_link(db, partner, channel, billing_channel=None, replace=True)
    channels.link_channel(db, partner, channel, linked_by="test", launcher_ts=None)


def request(h: BotHarness, user: str, amount: str = "10.00") -> int:
    before = len(h.opened_views())
    h.slash(user, "allocate PAY-1")
    view = h.wait_view(before + 1)
    status, reply = h.submit(
        user,
        view,
        {
            "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
            "invoice": {"invoice": payloads.external_select_value("INV-1", "INV-1")},
            "amount": {"amount": payloads.text_value(amount)},
            "note": {"note": payloads.text_value(None)},
        },
    )
    assert status == 200 and reply["response_action"] == "update", reply
    with h.bot.db.transaction() as session:
        return int(session.scalar(select(func.max(Allocation.allocation_id))) or 0)


def approve(h: BotHarness, allocation_id: int) -> None:
    billing = next(m for m in h.billing_messages() if f"#{allocation_id}" in text_of(m))
    h.click(APPROVER, f"approve_allocation:{allocation_id}", message=billing)
    wait_for(lambda: allocation_row(h.bot.db, allocation_id).status == "approved", what="approved")


def direct_tries(slack: FakeSlack, user: str) -> int:
    posts = [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.params.get("channel") in (user, "D" + user)
    ]
    opens = [c for c in slack.calls_to("conversations.open") if user in str(c.params.get("users"))]
    return len(posts) + len(opens)


def requester_routes(db: Database) -> list[tuple[Any, Any]]:
    """The route recorded on each requester row, in the order they were written."""
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.route, OutboxMessage.route_channel)
            .where(OutboxMessage.recipient == "requester")
            .order_by(OutboxMessage.message_id)
        ).all()
    return [tuple(row) for row in rows]


def route_of(db: Database, user: str) -> tuple[Any, Any]:
    with db.transaction() as session:
        person = session.get(SlackPerson, user)
        return (person.notice_route, person.notice_channel_id) if person else (None, None)


def test_the_route_is_decided_once_across_retries_and_later_notices(
    harness: BotHarness, books: Database
) -> None:
    slack = harness.slack
    slack.set_undmable(EXTERNAL, "cannot_dm_bot")
    link(books, SHARED)
    first = request(harness, EXTERNAL)
    # The DM is refused, then the channel post fails twice (Slack's 500s): retried, same way.
    slack.fail("chat.postMessage", "500", times=2, channel=SHARED)
    harness.deliver()
    to_shared = [c for c in slack.calls_to("chat.postMessage") if c.channel == SHARED]
    assert [c.delivered for c in to_shared] == [False, False, True]
    assert direct_tries(slack, EXTERNAL) == 1
    assert route_of(books, EXTERNAL) == ("channel", SHARED)

    # Later requests and decisions go the recorded way without trying a DM again.
    approve(harness, first)
    second = request(harness, EXTERNAL, "20.00")
    harness.deliver()
    approve(harness, second)
    harness.deliver()
    assert direct_tries(slack, EXTERNAL) == 1
    receipts = [m for m in slack.messages_in(SHARED)]
    assert len(receipts) == 2 and all(m["text"].startswith(f"<@{EXTERNAL}>") for m in receipts)
    assert all("approved" in text_of(m).lower() for m in receipts)


def test_a_person_reachable_by_dm_gets_exactly_the_calls_of_before(
    harness: BotHarness, books: Database
) -> None:
    slack = harness.slack
    link(books, SHARED)
    allocation_id = request(harness, ALICE)
    harness.deliver()
    approve(harness, allocation_id)
    harness.deliver()

    calls = [
        (c.method, c.params.get("channel"))
        for c in slack.calls
        if c.method in ("chat.postMessage", "chat.update", "conversations.open")
        and c.channel != "C0BILLING"
    ]
    assert calls == [("chat.postMessage", ALICE), ("chat.update", "D" + ALICE)]
    assert slack.messages_in(SHARED) == []
    # Recorded on the row; no slack_people row is made just to say "dm" (a DM is tried first).
    assert requester_routes(books) == [("dm", "D" + ALICE)]
    assert route_of(books, ALICE) == (None, None)


def test_a_dm_that_fails_for_good_later_falls_back_to_the_linked_channel(
    harness: BotHarness, books: Database
) -> None:
    slack = harness.slack
    link(books, SHARED)
    request(harness, ALICE)
    harness.deliver()
    assert requester_routes(books) == [("dm", "D" + ALICE)]

    slack.set_undmable(ALICE, "user_disabled")
    request(harness, ALICE, "20.00")
    harness.deliver()
    [notice] = slack.messages_in(SHARED)
    assert notice["text"].startswith(f"<@{ALICE}>") and "20.00 USD" in text_of(notice)
    assert route_of(books, ALICE) == ("channel", SHARED)
    assert requester_routes(books) == [("dm", "D" + ALICE), ("channel", SHARED)]


def test_unlinked_channel_and_no_dm_is_a_configuration_error_in_one_line_per_try(
    harness: BotHarness, books: Database, caplog: pytest.LogCaptureFixture
) -> None:
    slack = harness.slack
    slack.set_undmable(EXTERNAL)
    link(books, SHARED)
    allocation_id = request(harness, EXTERNAL)
    harness.deliver()
    [receipt] = slack.messages_in(SHARED)
    channels.unlink_channel(books, SHARED)
    assert route_of(books, EXTERNAL) == (None, None)

    approve(harness, allocation_id)
    caplog.set_level(logging.INFO, logger="slackbot")
    deadline = time.monotonic() + 1.5
    while time.monotonic() < deadline:
        harness.bot.delivery.run_once()
        time.sleep(0.05)
    failures = [
        r for r in caplog.records if r.levelno == logging.ERROR and "no_notice_route" in r.message
    ]
    assert len(failures) >= 2  # retried (slowly in production), each try one record
    for record in failures:
        [line] = record.getMessage().splitlines()
        assert EXTERNAL in line and "slackbot channel link P-ACME CHANNEL_ID" in line
    # Nothing went to the channel that is no longer Acme's: the receipt there is left as it was.
    assert slack.message(SHARED, receipt["ts"]) == receipt
    with books.transaction() as session:
        unsent = session.scalars(select(OutboxMessage).where(OutboxMessage.sent_at.is_(None))).all()
        assert [m.recipient for m in unsent] == ["receipt"]
        assert str(unsent[0].last_error).startswith("no_notice_route")

    # The operator links a channel: the next try tells them there.
    link(books, OTHER)
    with books.transaction() as session:
        session.execute(
            OutboxMessage.__table__.update().values(next_attempt_at=OutboxMessage.created_at)
        )
    harness.deliver()
    [decision] = slack.messages_in(OTHER)
    assert decision["text"].startswith(f"<@{EXTERNAL}>") and "approved" in text_of(decision).lower()


def test_a_channel_relinked_to_another_partner_is_no_longer_the_route(
    harness: BotHarness, books: Database
) -> None:
    add_partner(books, "P-GLOBEX", "Globex")
    slack = harness.slack
    slack.set_undmable(EXTERNAL)
    link(books, SHARED)
    link(books, OTHER)
    allocation_id = request(harness, EXTERNAL)
    harness.deliver()
    assert route_of(books, EXTERNAL) == ("channel", SHARED)

    link(books, SHARED, "P-GLOBEX")  # --replace: the channel is Globex's now
    approve(harness, allocation_id)
    harness.deliver()
    # Acme's news never lands in Globex's channel: not edited there, told in Acme's other one.
    [receipt] = slack.messages_in(SHARED)
    assert "edited" not in receipt
    [decision] = slack.messages_in(OTHER)
    assert "approved" in text_of(decision).lower()
    assert route_of(books, EXTERNAL) == ("channel", OTHER)
