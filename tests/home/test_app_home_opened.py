"""The Home tab through the real app: a signed ``app_home_opened`` publishes that person's
Home with views.publish, within Slack's 3 s; its buttons run the billing message's services."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_bolt import BoltContext

from handlers import home as home_handlers
from slackbot.db import Database
from slackbot.slack.home_publisher import HomePublisher
from tests.home.home_data import ACME_MEMBER, GLOBEX_MEMBER, STRANGER, two_partners
from tests.support import home_payloads
from tests.support.bot_harness import APPROVER, BotHarness, action_ids, text_of, wait_for
from tests.support.slack_stub import FakeSlack


@pytest.fixture
def home_bot(db: Database, slack: FakeSlack) -> Iterator[tuple[BotHarness, HomePublisher]]:
    """The real bot on HTTP, with the Home listener and a publisher wired as app.py will."""
    two_partners(db)
    harness = BotHarness(db, slack)
    bot = harness.bot
    publisher = HomePublisher(
        db,
        lambda _user: bot.tokens.billing(),
        is_approver=bot.approvers.is_approver,
        approver_ids=lambda: bot.settings.billing_approver_ids,
        clock=bot.ledger.clock,
    )

    def inject_home(context: BoltContext, next: Callable[[], None]) -> None:
        context["home"] = publisher
        next()

    bot.app.use(inject_home)
    home_handlers.register(bot.app)
    yield harness, publisher
    publisher.stop()
    harness.close()


def published(slack: FakeSlack, user: str) -> list[dict[str, Any]]:
    views = []
    for call in slack.deliveries("views.publish"):
        if call.params.get("user_id") == user:
            view = call.params.get("view")
            views.append(json.loads(view) if isinstance(view, str) else view)
    return views


def test_opening_the_home_tab_publishes_the_persons_home(
    home_bot: tuple[BotHarness, HomePublisher], slack: FakeSlack
) -> None:
    harness, _ = home_bot
    started = time.monotonic()
    status, _ = harness.post(home_payloads.app_home_opened(ACME_MEMBER))
    assert status == 200
    assert time.monotonic() - started < 3.0
    view = wait_for(lambda: published(slack, ACME_MEMBER), what="views.publish")[-1]
    assert view["type"] == "home"
    text = text_of(view)
    assert "PAY-A1" in text and "Acme Corp" in text
    assert "PAY-G1" not in text and "Globex" not in text
    assert "open_allocation:PAY-A1" in action_ids(view)
    call = slack.deliveries("views.publish")[-1]
    assert call.headers.get("Authorization", call.headers.get("authorization")) == (
        "Bearer xoxb-test-token"
    )


def test_the_messages_tab_publishes_nothing(
    home_bot: tuple[BotHarness, HomePublisher], slack: FakeSlack
) -> None:
    harness, _ = home_bot
    status, _ = harness.post(home_payloads.app_home_opened(ACME_MEMBER, tab="messages"))
    assert status == 200
    time.sleep(0.5)
    assert slack.calls_to("views.publish") == []


def test_a_forged_event_is_refused_and_publishes_nothing(
    home_bot: tuple[BotHarness, HomePublisher], slack: FakeSlack
) -> None:
    harness, _ = home_bot
    from tests.support.slack_payloads import post_signed

    status, _, _ = post_signed(
        harness.base_url, home_payloads.app_home_opened(ACME_MEMBER), secret="not-the-secret"
    )
    assert status == 401
    time.sleep(0.3)
    assert slack.calls_to("views.publish") == []


def test_a_stranger_is_told_how_to_get_linked(
    home_bot: tuple[BotHarness, HomePublisher], slack: FakeSlack
) -> None:
    harness, _ = home_bot
    assert harness.post(home_payloads.app_home_opened(STRANGER))[0] == 200
    view = wait_for(lambda: published(slack, STRANGER), what="views.publish")[-1]
    assert "How to get linked" in text_of(view)
    assert "PAY-" not in text_of(view)


def test_junk_in_the_event_is_answered_200_and_publishes_nothing(
    home_bot: tuple[BotHarness, HomePublisher], slack: FakeSlack
) -> None:
    harness, _ = home_bot
    for junk in ["", "x" * 5000, "U1'; DROP TABLE payments; --", "<!channel>"]:
        assert harness.post(home_payloads.app_home_opened(junk))[0] == 200
    time.sleep(0.5)
    assert slack.calls_to("views.publish") == []


def test_an_approver_approves_from_home_as_from_the_billing_channel(
    home_bot: tuple[BotHarness, HomePublisher], slack: FakeSlack
) -> None:
    harness, publisher = home_bot
    ledger = harness.bot.ledger
    request = ledger.request_allocation(GLOBEX_MEMBER, "PAY-G1", "INV-G1", "25.00")
    harness.deliver()  # the billing post
    assert harness.post(home_payloads.app_home_opened(APPROVER))[0] == 200
    view = wait_for(lambda: published(slack, APPROVER), what="the approver's Home")[-1]
    approve = f"approve_allocation:{request.allocation_id}"
    assert approve in action_ids(view)
    shown = {**view, "id": "VHOME1"}
    status, _, _ = harness.click(APPROVER, approve, view=shown)
    assert status == 200
    wait_for(lambda: ledger.allocation(request.allocation_id).status == "approved")
    harness.deliver()
    billing = harness.billing_messages()[-1]
    assert "Approved by" in text_of(billing)
    # The Home opened again shows it decided today, and the queue empty.
    publisher.publish_now(APPROVER)
    again = text_of(published(slack, APPROVER)[-1])
    assert "No requests are waiting" in again and "You decided today" in again


def test_the_requester_cannot_approve_their_own_request_from_home(
    home_bot: tuple[BotHarness, HomePublisher], slack: FakeSlack, db: Database
) -> None:
    harness, _ = home_bot
    from tests.support.factories import add_member

    add_member(db, "GLOBEX", APPROVER)
    ledger = harness.bot.ledger
    request = ledger.request_allocation(APPROVER, "PAY-G1", "INV-G1", "25.00")
    harness.post(home_payloads.app_home_opened(APPROVER))
    view = wait_for(lambda: published(slack, APPROVER), what="the approver's Home")[-1]
    # Their Home offers no Approve on their own request; a forged (or stale) click is refused.
    assert f"approve_allocation:{request.allocation_id}" not in action_ids(view)
    assert "Your own request: another approver decides it." in text_of(view)
    status, _, _ = harness.click(
        APPROVER,
        f"approve_allocation:{request.allocation_id}",
        value=str(request.allocation_id),
        view={**view, "id": "VHOME1"},
    )
    assert status == 200
    # No response_url on the Home: the refusal opens as a modal the requester reads.
    notice = wait_for(lambda: slack.calls_to("views.open"), what="the refusal's modal")[-1]
    shown = str(notice.params["view"])
    assert "Nothing was changed" in shown and "another approver has to approve it" in shown, shown
    assert ledger.allocation(request.allocation_id).status == "pending"
