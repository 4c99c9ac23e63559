"""The Home view: inside Block Kit's limits at any size, saying what it left out, with the
other surfaces' own buttons (same action ids and values, so the same listeners answer)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest
from slack_sdk.models.views import View

from models.home import ApproverHome, Home, PartnerHome
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.ledger.home import HomeQueries
from slackbot.slack import views
from slackbot.slack.views.home import HOME_MAX_BLOCKS, age, home_view
from tests.conftest import FixedClock
from tests.home.home_data import ACME_MEMBER, STRANGER, many_pending, two_partners
from tests.slack.test_views_limits import allocation, check_blocks, payment
from tests.support.bot_harness import APPROVER, action_ids, text_of
from tests.support.factories import add_payment

WHEN = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)


def check_home(view: dict[str, Any]) -> None:
    """Slack's rules for a Home tab: type home, at most 100 valid blocks (ids unique)."""
    assert set(view) == {"type", "blocks"} and view["type"] == "home"
    check_blocks(view["blocks"], HOME_MAX_BLOCKS, "home.blocks")
    View(**view).validate_json()
    json.dumps(view)


def buttons(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in view["blocks"]:
        for element in [block.get("accessory"), *block.get("elements", [])]:
            if isinstance(element, dict) and element.get("type") == "button":
                found[element["action_id"]] = element
    return found


def test_a_partner_with_500_payments_fits_and_is_told_how_many_more(
    db: Database, clock: FixedClock
) -> None:
    two_partners(db)
    for n in range(500):
        add_payment(db, f"PAY-M{n:03d}", "ACME", 1000 + n, "USD", reference=f"INV-A{n}")
    view = home_view(HomeQueries(db, clock=clock).home_of(ACME_MEMBER))
    check_home(view)
    shown = [a for a in action_ids(view) if a.startswith("open_allocation:")]
    assert 10 <= len(shown) <= 40
    assert f"and {502 - len(shown):,} more payments with money left" in text_of(view)
    assert "type `/payments`" in text_of(view)


def test_an_approver_with_5000_pending_requests_fits_oldest_first(
    db: Database, clock: FixedClock
) -> None:
    many_pending(db, 5000)
    view = home_view(HomeQueries(db, clock=clock).home_of(APPROVER, approver=True))
    check_home(view)
    approve = [a for a in action_ids(view) if a.startswith("approve_allocation:")]
    assert approve[:3] == ["approve_allocation:1", "approve_allocation:2", "approve_allocation:3"]
    text = text_of(view)
    assert "*5,000 requests waiting*" in text
    assert f"…and {5000 - len(approve):,} more waiting" in text


def test_a_person_who_is_both_sees_both_within_limits(db: Database, clock: FixedClock) -> None:
    two_partners(db)
    many_pending(db, 2000)
    for n in range(200):
        add_payment(db, f"PAY-M{n:03d}", "ACME", 1000 + n, "USD")
    view = home_view(HomeQueries(db, clock=clock).home_of(ACME_MEMBER, approver=True))
    check_home(view)
    ids = action_ids(view)
    assert any(a.startswith("approve_allocation:") for a in ids)
    assert any(a.startswith("open_allocation:") for a in ids)
    assert "Approvals waiting" in text_of(view) and "Acme Corp" in text_of(view)


def test_a_person_linked_to_nothing_is_told_how_to_get_linked(
    db: Database, clock: FixedClock
) -> None:
    two_partners(db)
    view = home_view(HomeQueries(db, clock=clock).home_of(STRANGER))
    check_home(view)
    assert "How to get linked" in text_of(view)
    assert action_ids(view) == []


def test_the_buttons_are_the_other_surfaces_own(
    db: Database, clock: FixedClock, ledger: Ledger
) -> None:
    two_partners(db)
    request = ledger.request_allocation(ACME_MEMBER, "PAY-A2", "INV-AE", "5.00")
    home = HomeQueries(db, clock=clock).home_of(ACME_MEMBER, approver=True)
    view = home_view(home)
    check_home(view)
    mine = buttons(view)
    # Approve and Reject exactly as the billing message has them (ids, values, confirm), on
    # another approver's Home: the requester's own Home offers them none (segregation of duties).
    billing = buttons(views.billing_message(ledger.allocation(request.allocation_id)))
    deciding = buttons(home_view(HomeQueries(db, clock=clock).home_of(APPROVER, approver=True)))
    for action in (
        f"approve_allocation:{request.allocation_id}",
        f"reject_allocation:{request.allocation_id}",
    ):
        assert deciding[action] == billing[action]
        assert action not in mine
    # Cancel as /payments history has it; Allocate and Allocate as suggested as the list's.
    history = buttons(views.history_message(ledger.history(ACME_MEMBER)))
    cancel = f"cancel_allocation:{request.allocation_id}"
    assert mine[cancel] == history[cancel]
    payments = ledger.payments_of(ACME_MEMBER)
    listed = buttons(
        views.payments_message(payments, suggestions=ledger.best_suggestions(ACME_MEMBER, payments))
    )
    for action in ("open_allocation:PAY-A1", "allocate_suggested:PAY-A1"):
        assert {k: v for k, v in mine[action].items() if k != "style"} == {
            k: v for k, v in listed[action].items() if k != "style"
        }


@pytest.mark.parametrize("status", ["approved", "rejected", "cancelled", "reversed"])
def test_extreme_texts_stay_within_limits(status: str) -> None:
    waiting = tuple(
        allocation("pending").model_copy(update={"allocation_id": n}) for n in range(1, 40)
    )
    decided = tuple(
        allocation(status).model_copy(update={"allocation_id": 100 + n}) for n in range(10)
    )
    partners = tuple(
        PartnerHome(
            partner_id=f"P{p}",
            name="Ŝ" * 400,
            payments=tuple(payment(p * 100 + n, partner=p, pending=5) for n in range(20)),
            payments_more=480,
            waiting=waiting[:10],
            waiting_more=29,
            decisions=decided,
        )
        for p in range(5)
    )
    queue = ApproverHome(
        pending_count=5000,
        oldest_requested_at=WHEN - dt.timedelta(days=3),
        queue=waiting,
        queue_more=4961,
        decided_today=decided,
        decided_today_count=40,
    )
    view = home_view(
        Home(user_id="U1", as_of=WHEN, partners=partners, partners_more=3, approver=queue)
    )
    check_home(view)
    assert "…and 3 more partners" in text_of(view)


@pytest.mark.parametrize(
    ("waited", "said"),
    [
        (dt.timedelta(seconds=20), "under a minute"),
        (dt.timedelta(minutes=12), "12 min"),
        (dt.timedelta(hours=3, minutes=20), "3 h 20 min"),
        (dt.timedelta(hours=5), "5 h"),
        (dt.timedelta(days=2, hours=4, minutes=59), "2 days 4 h"),
        (dt.timedelta(days=1), "1 day"),
        (dt.timedelta(seconds=-5), "under a minute"),
    ],
)
def test_ages_read_in_two_units(waited: dt.timedelta, said: str) -> None:
    assert age(waited) == said
