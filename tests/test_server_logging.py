"""The line `serve` logs for each request: kind, user, outcome, ms; no secrets or bodies."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from models.tables import Allocation
from slackbot.db import Database
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import (
    APPROVER,
    BILLING_CHANNEL,
    SECRET,
    BotHarness,
    text_of,
    wait_for,
)
from tests.support.factories import add_invoice, add_partner, add_payment

ALICE = "U0ALICE"
NOTE = "Per our call with Wile E. Coyote"
LINE = re.compile(
    r"^(?P<where>POST /slack/events) (?P<kind>.+) user=(?P<user>\S+) -> (?P<status>\d{3})"
    r" (?P<outcome>.+) in (?P<ms>\d+) ms$"
)


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE])
    add_payment(db, "PAY-1", "P-ACME", 100000, "USD", reference="Wire for INV-1")
    add_invoice(db, "INV-1", "P-ACME", 60000, "USD")
    return db


def _lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, str]]:
    found = []
    for record in caplog.records:
        if record.name == "slackbot.server" and (match := LINE.match(record.getMessage())):
            assert record.levelno == logging.INFO, record.getMessage()
            found.append(match.groupdict())
    return found


def _last(caplog: pytest.LogCaptureFixture) -> dict[str, str]:
    lines = _lines(caplog)
    assert lines, [r.getMessage() for r in caplog.records]
    return lines[-1]


def _values(amount: str) -> dict[str, Any]:
    return {
        "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
        "invoice": {"invoice": payloads.external_select_value("INV-1", "INV-1")},
        "amount": {"amount": payloads.text_value(amount)},
        "note": {"note": payloads.text_value(NOTE)},
    }


def test_each_kind_of_request_is_logged_in_one_line_with_user_outcome_and_time(
    harness: BotHarness, books: Database, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    h = harness

    status, _reply, list_url = h.slash(ALICE, "list")
    assert status == 200
    assert (_last(caplog)["kind"], _last(caplog)["user"]) == ("command /payments", ALICE)
    assert (_last(caplog)["status"], _last(caplog)["outcome"]) == ("200", "ok")

    h.slash(ALICE, "allocate PAY-1")
    view = h.wait_view(1)
    state = {"payment": {"payment": payloads.static_select_value("PAY-1")}}
    status, options = h.suggest(ALICE, view, "INV", state)
    assert status == 200 and options["options"], options
    assert _last(caplog)["kind"] == "block_suggestion invoice"

    status, reply = h.submit(ALICE, view, _values("not money"))
    assert reply["response_action"] == "errors"
    assert _last(caplog)["kind"] == "view_submission allocation_modal"
    assert (_last(caplog)["status"], _last(caplog)["outcome"]) == ("200", "refused")

    status, reply = h.submit(ALICE, view, _values("100.00"))
    assert reply["response_action"] == "update", reply
    assert (_last(caplog)["kind"], _last(caplog)["outcome"]) == (
        "view_submission allocation_modal",
        "ok",
    )
    with h.bot.db.transaction() as session:
        allocation_id = int(session.scalar(select(func.max(Allocation.allocation_id))) or 0)
    h.deliver()
    billing = wait_for(
        lambda: next((m for m in h.billing_messages() if f"#{allocation_id}" in text_of(m)), None),
        what="the billing message",
    )

    h.click(APPROVER, f"approve_allocation:{allocation_id}", message=billing)
    line = _last(caplog)
    assert (line["kind"], line["user"], line["outcome"]) == (
        "block_actions approve_allocation",
        APPROVER,
        "ok",
    )

    event = json.dumps(
        {
            "type": "event_callback",
            "team_id": "T0TEAM",
            "api_app_id": "A0APP",
            "event": {"type": "app_mention", "user": ALICE, "channel": BILLING_CHANNEL},
        }
    )
    status, _ = h.post(event)
    line = _last(caplog)
    assert (line["kind"], line["user"], line["status"]) == ("event app_mention", ALICE, str(status))

    everything = "\n".join(r.getMessage() for r in caplog.records)
    for secret in ("xoxb-test-token", SECRET, NOTE, "not money", list_url, "Wire for INV-1"):
        assert secret not in everything, f"{secret!r} was logged"
    assert all(int(line["ms"]) < 10_000 for line in _lines(caplog))


def test_a_request_is_logged_before_its_answer_reaches_slack(
    harness: BotHarness, books: Database, caplog: pytest.LogCaptureFixture
) -> None:
    """So the log is complete when the caller (a test, an operator tailing it) looks."""
    caplog.set_level(logging.INFO)
    for n in range(5):
        harness.slash(ALICE, "help")
        assert len(_lines(caplog)) == n + 1


def test_healthz_is_logged_only_when_it_fails(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    import urllib.request

    caplog.set_level(logging.INFO)
    with urllib.request.urlopen(harness.base_url + "/healthz", timeout=5) as response:
        assert response.status == 200
    assert [r for r in caplog.records if "/healthz" in r.getMessage()] == []
