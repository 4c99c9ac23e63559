"""The interaction ids: the contract's names, the suffix helpers, views and handlers agreeing."""

from __future__ import annotations

import datetime as dt

import pytest

from models.schemas import AllocationSummary
from slackbot.slack import views
from slackbot.slack.ids import (
    BLOCK_ID_MAX,
    ActionId,
    BlockId,
    CallbackId,
    amount_block_id,
    is_amount_block,
    matching,
    suffixed,
    unsuffixed,
)


def test_the_ids_are_the_contracts_names() -> None:
    # CONTRACT.md, "Slack surface": old messages in Slack carry these, so they never change.
    assert {m.value for m in CallbackId} == {"allocation_modal", "reject_modal"}
    assert {m.value for m in BlockId} == {"payment", "invoice", "amount", "note", "reason"}
    assert {m.value for m in ActionId} == {
        "open_allocation",
        "approve_allocation",
        "reject_allocation",
        "cancel_allocation",
        "payments_page",
    }


def test_a_suffix_follows_a_colon_and_comes_off_again() -> None:
    assert suffixed(ActionId.APPROVE_ALLOCATION, 42) == "approve_allocation:42"
    assert unsuffixed("approve_allocation:42") == "approve_allocation"
    assert unsuffixed("open_allocation:PAY:1") == "open_allocation"
    assert unsuffixed("payment") == "payment"


@pytest.mark.parametrize(
    ("action_id", "matches"),
    [
        ("approve_allocation", True),  # a message posted before ids carried suffixes
        ("approve_allocation:42", True),
        ("approve_allocation:", True),
        ("approve_allocation_all", False),
        ("xapprove_allocation:42", False),
        ("approve-allocation:42", False),
    ],
)
def test_a_listener_matches_the_name_alone_or_with_a_suffix(action_id: str, matches: bool) -> None:
    assert bool(matching(ActionId.APPROVE_ALLOCATION).match(action_id)) is matches


def test_the_amount_block_is_versioned_by_payment_and_invoice_and_fits_slack() -> None:
    assert amount_block_id("PAY-1", "INV-2") == "amount:PAY-1:INV-2"
    assert amount_block_id(None, None) == "amount::"
    assert len(amount_block_id("P" * 200, "I" * 200)) == BLOCK_ID_MAX
    assert is_amount_block("amount") and is_amount_block("amount:PAY-1:INV-2")
    assert not is_amount_block("amounts") and not is_amount_block("note")


def _pending() -> AllocationSummary:
    moment = dt.datetime(2026, 11, 3, 14, 5, tzinfo=dt.UTC)
    return AllocationSummary(
        allocation_id=42,
        payment_id="PAY-1",
        invoice_id="INV-1",
        partner_id="P1",
        partner_name="Acme",
        currency="USD",
        amount=12500,
        status="pending",
        note=None,
        requested_by="U0ALICE",
        requested_at=moment,
        decided_by=None,
        decided_at=None,
        reason=None,
        reversed_by=None,
        reversed_at=None,
        reversal_reason=None,
        payment_unallocated=0,
        payment_pending=12500,
        invoice_amount_due=12500,
        invoice_pending=12500,
    )


def test_every_button_a_view_builds_is_one_a_listener_matches() -> None:
    """Views and handlers share the enums, so a button never goes unheard."""
    allocation = _pending()
    built = [
        element["action_id"]
        for message in (views.billing_message(allocation), views.receipt_message(allocation))
        for block in message["blocks"]
        if block["type"] == "actions"
        for element in block["elements"]
    ]
    assert built == ["approve_allocation:42", "reject_allocation:42", "cancel_allocation:42"]
    for action_id in built:
        assert any(matching(name).match(action_id) for name in ActionId), action_id
