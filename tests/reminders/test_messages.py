"""What reminders say and how they are sent: within Block Kit limits, threaded, skipped if decided.

The calls go to the stand-in Web API (FakeSlack) through a real slack_sdk WebClient; the request's
billing message and receipt are put up by the real sender first, so the thread reply is checked
against the ``ts`` the sender recorded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient

from models.enums import Audience, OutboxKind
from models.schemas import Actor
from slackbot.clock import FrozenClock
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.ledger.reminders import run_reminders
from slackbot.outbox.queue import Held, OutboxQueue
from slackbot.slack.reminder_calls import Approvers, Reminders
from slackbot.slack.sender import Delivery
from slackbot.slack.views.reminders import (
    MENTIONS_MAX,
    approver_mentions,
    business_age,
    chase_notice,
    daily_digest,
    escalation_reply,
    reminder_reply,
)
from tests.reminders.support import MONDAY_10, RULES, paris, request_at
from tests.slack.test_views_limits import LONG_NAME, NASTY, allocation, check_message
from tests.support.slack_stub import FakeSlack, dm_channel_for

BILLING = "C0BILLING"
GROUP = "S0APPROVERS"
# The group mention is markup the shared checker does not know yet (it knows ``<@U…>``).
_GROUP_MENTION = re.compile(r"<!subteam\^S[A-Z0-9]+>")


def check_reminder(message: dict[str, Any]) -> None:
    """tests/slack's limits checker, with the one group mention an escalation may hold."""
    as_json = json.dumps(message)
    assert len(_GROUP_MENTION.findall(as_json)) <= 2  # the text and its one section
    check_message(json.loads(_GROUP_MENTION.sub("Billing approvers", as_json)))


# ---------------------------------------------------------------------------------- the views


def test_ages_read_in_hours_and_minutes() -> None:
    assert [business_age(s) for s in (0, 59, 60, 2700, 3600, 5400, 14400, 101100)] == [
        "under a minute",
        "under a minute",
        "1m",
        "45m",
        "1h",
        "1h 30m",
        "4h",
        "28h 5m",
    ]


def test_escalation_mentions_the_group_else_the_approvers() -> None:
    assert approver_mentions(GROUP, ["U1"]) == f"<!subteam^{GROUP}>"
    assert approver_mentions(None, ["UA1", "UA1", "WB2"]) == "<@UA1> <@WB2>"
    # Anything that is not an id is left out, never shown as a link.
    assert approver_mentions("<!channel>", ["<!here>", "UA1"]) == "<@UA1>"
    assert approver_mentions(None, []) == "Billing approvers"
    many = [f"U{n:04d}" for n in range(MENTIONS_MAX + 5)]
    assert approver_mentions(None, many).endswith("and 5 other approvers")


@pytest.mark.parametrize("currency", ["USD", "JPY", "KWD"])
def test_every_reminder_message_stays_within_slack_limits_with_extreme_data(currency: str) -> None:
    a = allocation("pending", currency=currency)
    many = [f"U{n:010d}" for n in range(500)]
    for message in (
        reminder_reply(a, business_seconds=10**9),
        escalation_reply(a, business_seconds=10**9, group_id=GROUP),
        escalation_reply(a, business_seconds=1, approver_ids=many),
        chase_notice(a, business_seconds=0),
    ):
        check_reminder(message)
        assert "<!channel>" not in str(message)


def digest_payload(partners: int, *, more: int = 0) -> dict[str, Any]:
    when = "2026-11-23T08:00:00+00:00"
    return {
        "business_date": "2026-11-23",
        "as_of": when,
        "waiting": partners * 1000,
        "oldest": {
            "request_id": 9_223_372_036_854_775_807,
            "partner_name": LONG_NAME,
            "requested_at": when,
            "business_seconds": 10**9,
        },
        "partners": [
            {
                "partner_id": f"P-{n:062d}",
                "name": f"{n} {LONG_NAME}",
                "waiting": 1000,
                "since": when,
                "business_seconds": 10**9,
                "totals": [
                    {"currency": c, "amount": 999_999_999_999_999} for c in ("USD", "JPY", "KWD")
                ],
            }
            for n in range(partners)
        ],
        "more_partners": more,
    }


@pytest.mark.parametrize(("partners", "more"), [(1, 0), (40, 0), (40, 5000), (300, 0)])
def test_the_digest_stays_within_slack_limits_and_says_what_it_left_out(
    partners: int, more: int
) -> None:
    message = daily_digest(digest_payload(partners, more=more))
    check_message(message)
    text = str(message)
    assert "<!channel>" not in text
    left_out = max(0, partners - 40) + more
    assert (f"and {left_out:,} more partner" in text) == bool(left_out)


def test_a_digest_of_junk_still_renders() -> None:
    check_message(daily_digest({"waiting": 2, "oldest": "x", "partners": [1, {"totals": [5]}]}))


def test_the_digest_reads_as_billing_needs_it() -> None:
    payload = digest_payload(2)
    payload["partners"][0]["name"] = "Acme"
    payload["partners"][0]["totals"] = [{"currency": "EUR", "amount": 20000}]
    payload["partners"][0]["waiting"] = 2
    payload["partners"][0]["business_seconds"] = 7 * 3600
    message = daily_digest(payload)
    assert message["blocks"][0]["text"]["text"] == "Waiting for approval: 2,000 requests"
    lines = message["blocks"][3]["text"]["text"].split("\n")
    assert lines[0].startswith(
        "• *Acme* · 2 requests · 200.00 EUR · oldest waiting 7h (since <!date^"
    )
    assert NASTY[:10] not in str(message)  # outside text is escaped


# ---------------------------------------------------------------------------------- the calls


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as stub:
        yield stub


@pytest.fixture
def client(slack: FakeSlack) -> WebClient:
    return WebClient(token="xoxb-test-token", base_url=slack.api_url, timeout=10)


@pytest.fixture
def posted(books: Database, client: WebClient) -> tuple[int, Delivery]:
    """A request whose billing message and receipt the real sender put up (real 1 s pace)."""
    request = request_at(books, MONDAY_10)
    delivery = Delivery(books, Ledger(books), client, billing_channel=BILLING)
    assert delivery.drain(timeout=10) == 2
    return request, delivery


def hold(db: Database, kind: OutboxKind) -> Held:
    """The reminder row of ``kind``, claimed and held as the sender holds it."""
    queue = OutboxQueue(db, billing_channel=BILLING, pace_seconds=0)
    claim = queue.claim("h6-test")
    for message_id in claim.ids:
        held = queue.begin_send(message_id, "h6-test")
        if held is not None and held.owed.kind is kind:
            return held
    raise AssertionError(f"no {kind} row was claimable: {claim}")


def caller(client: WebClient) -> Any:
    def call(method: str, target: str, /, **arguments: Any) -> Any:
        return getattr(client, method)(**arguments)

    return call


def test_a_reminder_is_a_reply_in_the_request_s_billing_thread(
    books: Database, slack: FakeSlack, client: WebClient, posted: tuple[int, Delivery]
) -> None:
    request, _ = posted
    (billing_post,) = slack.calls_to("chat.postMessage")[:1]
    parent_ts = billing_post.response["ts"]  # type: ignore[index]
    run_reminders(books, FrozenClock(paris(2026, 11, 23, 14)), RULES)
    held = hold(books, OutboxKind.REQUEST_REMINDED)
    slack.clear()

    Reminders(books, billing_channel=BILLING).send_billing(
        caller(client), held.owed, Ledger(books).allocation(request), held.landed
    )

    (reply,) = slack.calls_to("chat.postMessage")
    assert reply.params["channel"] == BILLING and reply.params["thread_ts"] == parent_ts
    assert "has been waiting 4h of business time" in reply.params["text"]
    assert "reply_broadcast" not in reply.params
    check_reminder({"text": reply.params["text"], "blocks": reply.params["blocks"]})


def test_an_escalation_mentions_the_approver_group_in_the_thread_and_the_channel(
    books: Database, slack: FakeSlack, client: WebClient, posted: tuple[int, Delivery]
) -> None:
    request, _ = posted
    parent_ts = slack.calls_to("chat.postMessage")[0].response["ts"]  # type: ignore[index]
    run_reminders(books, FrozenClock(paris(2026, 11, 25, 16)), RULES)
    held = hold(books, OutboxKind.REQUEST_ESCALATED)
    slack.clear()

    reminders = Reminders(books, billing_channel=BILLING, approvers=Approvers(GROUP, ("UA1",)))
    reminders.send_billing(
        caller(client), held.owed, Ledger(books).allocation(request), held.landed
    )

    (reply,) = slack.calls_to("chat.postMessage")
    assert reply.params["thread_ts"] == parent_ts
    assert reply.params["reply_broadcast"] in (True, "true", "1", 1)
    assert reply.params["text"].startswith(f"<!subteam^{GROUP}>: request #{request}")
    assert "24h of business time" in reply.params["text"]


def test_the_requester_is_told_billing_is_chasing_by_their_notice_route(
    books: Database, slack: FakeSlack, client: WebClient, posted: tuple[int, Delivery]
) -> None:
    request, delivery = posted
    run_reminders(books, FrozenClock(paris(2026, 11, 25, 16)), RULES)
    held = hold(books, OutboxKind.REQUEST_CHASED)
    assert held.owed.recipient is Audience.REQUESTER
    slack.clear()

    way = Reminders(books, billing_channel=BILLING).send_chase(
        delivery.notices, held.owed, Ledger(books).allocation(request)
    )

    (notice,) = slack.calls_to("chat.postMessage")
    assert notice.channel == dm_channel_for("U1") and "thread_ts" not in notice.params
    assert notice.params["text"].startswith(
        f"Billing has been reminded: your request #{request} of 2026-11-23 09:00 UTC"
    )
    assert way is not None and way.route is not None


@pytest.mark.parametrize("kind", [OutboxKind.REQUEST_ESCALATED, OutboxKind.REQUEST_CHASED])
def test_a_request_decided_after_its_reminder_was_owed_is_not_reminded(
    books: Database,
    slack: FakeSlack,
    client: WebClient,
    posted: tuple[int, Delivery],
    kind: OutboxKind,
) -> None:
    request, delivery = posted
    run_reminders(books, FrozenClock(paris(2026, 12, 1, 14)), RULES)
    held = hold(books, kind)
    Ledger(books).approve(request, Actor(user_id="UAPPROVER", can_approve=True))
    slack.clear()
    reminders = Reminders(books, billing_channel=BILLING)
    decided = Ledger(books).allocation(request)

    if kind is OutboxKind.REQUEST_CHASED:
        assert reminders.send_chase(delivery.notices, held.owed, decided) is None
    else:
        reminders.send_billing(caller(client), held.owed, decided, held.landed)

    assert slack.calls_to("chat.postMessage") == []


def test_the_digest_is_a_message_of_its_own_in_the_billing_channel(
    books: Database, slack: FakeSlack, client: WebClient, posted: tuple[int, Delivery]
) -> None:
    run_reminders(books, FrozenClock(paris(2026, 11, 24, 9)), RULES)
    held = hold(books, OutboxKind.DAILY_DIGEST)
    assert held.owed.allocation_id is None
    slack.clear()

    Reminders(books, billing_channel=BILLING).send_digest(caller(client), held.owed)

    (digest,) = slack.calls_to("chat.postMessage")
    assert digest.params["channel"] == BILLING and "thread_ts" not in digest.params
    assert digest.params["text"] == (
        "Waiting for approval: 1 request; the oldest has waited 8h"  # Monday 10:00-18:00
    )
