"""What partners and approvers see, through the real HTTP app with signed requests (issue 9, 11).

The modal's amount follows the chosen invoice; the billing message carries what an approver
checks; DM notifications read as plain words; a long payment list pages; an unlinked person is
told how to get linked; history offers Cancel on what is still pending.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import pytest
from sqlalchemy import func, select

from models.tables import Allocation
from slackbot.db import Database
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import APPROVER, BotHarness, action_ids, text_of, wait_for
from tests.support.factories import (
    add_invoice,
    add_partner,
    add_payment,
    allocation_row,
    payment_row,
)
from tests.support.slack_stub import FakeSlack

ALICE = "U0ALICE"
STRANGER = "U0NOBODY"
OVERDUE_ON = dt.date(2020, 1, 31)
NOT_DUE_ON = dt.date(2099, 12, 31)


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE])
    add_payment(
        db,
        "PAY-1",
        "P-ACME",
        100000,
        "USD",
        reference="Wire 4471 for INV-2",
        received_on=dt.date(2026, 11, 3),
    )
    add_payment(db, "PAY-JPY", "P-ACME", 50000, "JPY", reference="Furikomi")
    add_invoice(db, "INV-1", "P-ACME", 60000, "USD", due_on=OVERDUE_ON)
    add_invoice(db, "INV-2", "P-ACME", 90000, "USD", amount_due=40000)
    add_invoice(db, "INV-BIG", "P-ACME", 500000, "USD", due_on=NOT_DUE_ON)
    add_invoice(db, "INV-JPY", "P-ACME", 30000, "JPY")
    return db


def _open_modal(h: BotHarness, payment_id: str = "PAY-1") -> dict[str, Any]:
    before = len(h.opened_views())
    status, _reply, _ = h.slash(ALICE, f"allocate {payment_id}")
    assert status == 200
    return h.wait_view(before + 1)


def _blocks(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def _amount_block(view: dict[str, Any]) -> dict[str, Any]:
    found = [b for b in view["blocks"] if str(b.get("block_id", "")).startswith("amount")]
    assert len(found) == 1, view["blocks"]
    return found[0]


def _choose_invoice(
    h: BotHarness, view: dict[str, Any], payment_id: str, invoice_id: str
) -> dict[str, Any]:
    """The person picks ``invoice_id`` in the modal; returns the modal as Slack then shows it."""
    current = h.slack.view(view["id"])
    assert current is not None
    updates = len(h.slack.deliveries("views.update"))
    state = {
        "payment": {"payment": payloads.static_select_value(payment_id, payment_id)},
        "invoice": {"invoice": payloads.external_select_value(invoice_id, invoice_id)},
    }
    status, _ = h.post(
        payloads.block_actions(
            ALICE, "invoice", invoice_id, container="view", view=current, state_values=state
        )
    )
    assert status == 200
    wait_for(lambda: len(h.slack.deliveries("views.update")) > updates, what="views.update")
    redrawn = h.slack.view(view["id"])
    assert redrawn is not None
    return redrawn


def _submit(h: BotHarness, view: dict[str, Any], values: dict[str, Any]) -> tuple[int, Any]:
    return h.submit(ALICE, h.slack.view(view["id"]) or view, values)


def _count_allocations(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Allocation)) or 0)


# ------------------------------------------------------------------ the modal's amount


def test_the_amount_follows_the_chosen_invoice(harness: BotHarness, books: Database) -> None:
    view = _open_modal(harness)
    first = _amount_block(view)
    assert first["block_id"] == "amount"  # the contract's id on first render
    assert first["element"]["initial_value"] == "1000.00"
    invoice_block = _blocks(view)["invoice"]
    assert invoice_block["dispatch_action"] is True

    # INV-2 has 400.00 left: less than the payment's 1,000.00, so 400.00 is suggested.
    redrawn = _choose_invoice(harness, view, "PAY-1", "INV-2")
    amount = _amount_block(redrawn)
    assert amount["block_id"] == "amount:PAY-1:INV-2"  # a new id: Slack shows the new value
    assert amount["element"]["initial_value"] == "400.00"
    assert "Up to 400.00 USD" in amount["hint"]["text"]
    assert _blocks(redrawn)["invoice"]["element"]["initial_option"]["value"] == "INV-2"
    update = harness.slack.deliveries("views.update")[-1]
    assert update.params.get("hash") == view["hash"]  # the update names the view it replaces

    # INV-BIG has 5,000.00: the payment's 1,000.00 is the lesser.
    redrawn = _choose_invoice(harness, view, "PAY-1", "INV-BIG")
    amount = _amount_block(redrawn)
    assert amount["block_id"] == "amount:PAY-1:INV-BIG"
    assert amount["element"]["initial_value"] == "1000.00"

    # Back to INV-2: the id changes again, so the suggestion refreshes again.
    redrawn = _choose_invoice(harness, view, "PAY-1", "INV-2")
    amount = _amount_block(redrawn)
    assert amount["element"]["initial_value"] == "400.00"

    # The submission reads the amount from the redrawn block.
    status, reply = _submit(
        harness,
        view,
        {
            "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
            "invoice": {"invoice": payloads.external_select_value("INV-2", "INV-2")},
            amount["block_id"]: {"amount": payloads.text_value("400.00")},
            "note": {"note": payloads.text_value(None)},
        },
    )
    assert status == 200 and reply["response_action"] == "update", reply
    assert payment_row(books, "PAY-1").pending == 40000


def test_a_refused_amount_in_a_redrawn_modal_is_shown_under_that_block(
    harness: BotHarness, books: Database
) -> None:
    view = _open_modal(harness)
    redrawn = _choose_invoice(harness, view, "PAY-1", "INV-2")
    block_id = _amount_block(redrawn)["block_id"]
    values = {
        "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
        "invoice": {"invoice": payloads.external_select_value("INV-2", "INV-2")},
        block_id: {"amount": payloads.text_value("500.00")},
        "note": {"note": payloads.text_value(None)},
    }
    status, reply = _submit(harness, view, values)
    assert status == 200 and reply["response_action"] == "errors"
    assert list(reply["errors"]) == [block_id]
    assert "400.00 USD left to pay" in reply["errors"][block_id]
    values[block_id] = {"amount": payloads.text_value(" ")}
    _status, reply = _submit(harness, view, values)
    assert reply["errors"] == {block_id: "Enter the amount to apply."}
    assert _count_allocations(books) == 0


def test_a_submission_with_the_contracts_amount_block_still_works(
    harness: BotHarness, books: Database
) -> None:
    # A modal opened before this change, or a client that never redrew it: plain ``amount``.
    view = _open_modal(harness)
    _status, reply = _submit(
        harness,
        view,
        {
            "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
            "invoice": {"invoice": payloads.external_select_value("INV-1", "INV-1")},
            "amount": {"amount": payloads.text_value("100.00")},
            "note": {"note": payloads.text_value(None)},
        },
    )
    assert reply["response_action"] == "update", reply
    assert payment_row(books, "PAY-1").pending == 10000


def test_the_hint_for_a_zero_decimal_currency_does_not_mention_decimals(
    harness: BotHarness, books: Database
) -> None:
    view = _open_modal(harness, "PAY-JPY")
    hint = _amount_block(view)["hint"]["text"]
    assert "decimal" not in hint.lower()
    assert "whole number of JPY" in hint
    usd = _amount_block(_open_modal(harness, "PAY-1"))["hint"]["text"]
    assert "up to 2 decimals" in usd


# ----------------------------------------------------------------- the billing message


def _request(h: BotHarness, invoice_id: str, amount: str) -> int:
    return h.bot.ledger.request_allocation(ALICE, "PAY-1", invoice_id, amount).allocation_id


def _billing(h: BotHarness, allocation_id: int) -> dict[str, Any]:
    for message in h.billing_messages():
        if f"#{allocation_id}" in str(message.get("text")):
            return message
    raise AssertionError(f"no billing message for #{allocation_id}")


def test_the_billing_message_shows_what_an_approver_checks(
    harness: BotHarness, books: Database
) -> None:
    allocation_id = _request(harness, "INV-1", "100.00")
    harness.deliver()
    shown = text_of(_billing(harness, allocation_id))
    assert "*Payment*\nPAY-1\nreceived 2026-11-03\nref Wire 4471 for INV-2" in shown
    assert "*Invoice*\nINV-1\ntotal 600.00 USD\ndue 2020-01-31 · ⚠️ *overdue* by" in shown
    late = (dt.datetime.now(dt.UTC).date() - OVERDUE_ON).days
    assert f"overdue* by {late:,} days" in shown
    assert "Balances now" in shown

    not_due = _request(harness, "INV-BIG", "10.00")
    harness.deliver()
    shown = text_of(_billing(harness, not_due))
    assert "total 5,000.00 USD\ndue 2099-12-31" in shown and "overdue" not in shown


def test_the_billing_channel_links_the_invoice_when_invoice_url_template_is_set(
    books: Database, slack: FakeSlack
) -> None:
    h = BotHarness(
        books, slack, INVOICE_URL_TEMPLATE="https://erp.example.com/invoices/{invoice_id}?v=1"
    )
    try:
        allocation_id = _request(h, "INV-1", "100.00")
        h.deliver()
        shown = text_of(_billing(h, allocation_id))
    finally:
        h.close()
    assert "<https://erp.example.com/invoices/INV-1?v=1|" in shown


def test_a_rejected_request_shows_no_after_this_change(
    harness: BotHarness, books: Database
) -> None:
    allocation_id = _request(harness, "INV-2", "100.00")
    harness.bot.ledger.reject(allocation_id, harness.bot.approvers.actor(APPROVER), "Wrong one")
    harness.deliver()
    shown = text_of(_billing(harness, allocation_id))
    assert "After this change" not in shown and "Balances now" not in shown
    assert "Nothing was posted: the 100.00 USD held on PAY-1 and INV-2 was released." in shown
    assert "overdue" not in shown

    approved = _request(harness, "INV-2", "50.00")
    harness.bot.ledger.approve(approved, harness.bot.approvers.actor(APPROVER))
    harness.deliver()
    assert "After this change" in text_of(_billing(harness, approved))


# ----------------------------------------------------------------- DM notifications

_MARKUP = re.compile(r"[*`~]|<!date|\b_\w")


def test_dm_notification_texts_carry_no_mrkdwn(harness: BotHarness, books: Database) -> None:
    approver = harness.bot.approvers.actor(APPROVER)
    approved = _request(harness, "INV-2", "100.00")
    rejected = _request(harness, "INV-BIG", "10.00")
    cancelled = _request(harness, "INV-BIG", "20.00")
    harness.deliver()
    harness.bot.ledger.approve(approved, approver)
    harness.bot.ledger.reject(rejected, approver, "Use *INV-1* instead")
    harness.bot.ledger.cancel(cancelled, ALICE)
    harness.deliver()
    dm_calls = [
        call
        for call in harness.slack.calls
        if call.method in ("chat.postMessage", "chat.update")
        and call.delivered
        and str(call.channel).startswith("D")
    ]
    assert len(dm_calls) >= 6  # three receipts and what became of each
    for call in dm_calls:
        text = str(call.params.get("text"))
        # The reason is quoted as typed; everything the bot itself writes is plain.
        text = text.replace("Use *INV-1* instead", "")
        assert not _MARKUP.search(text), text
    texts = [str(call.params.get("text")) for call in dm_calls]
    assert any(t.startswith(f"Request #{approved} approved at ") for t in texts), texts
    assert any(
        t.startswith(f"Your request #{approved} to apply 100.00 USD from PAY-1 to INV-2")
        for t in texts
    ), texts


# ---------------------------------------------------------- a partner with many payments


def test_every_payment_is_reachable_from_payments_and_one_button_is_green(
    harness: BotHarness, db: Database, slack: FakeSlack
) -> None:
    add_partner(db, "P-MANY", "Many Payments Ltd", members=[ALICE])
    for n in range(120):
        add_payment(db, f"PAY-{n:03d}", "P-MANY", 1000 + n, "USD", received_on=dt.date(2026, 1, 1))
    status, listing, response_url = harness.slash(ALICE)
    assert status == 200
    seen: list[str] = []
    page = listing
    for _ in range(10):
        ids = [a.split(":", 1)[1] for a in action_ids(page) if a.startswith("open_allocation:")]
        seen.extend(ids)
        styles = [
            element.get("style")
            for block in page["blocks"]
            if isinstance(block.get("accessory"), dict)
            for element in [block["accessory"]]
        ]
        assert styles.count("primary") == 1, styles
        assert len(page["blocks"]) <= 50
        if "payments_page:next" not in action_ids(page):
            break
        nxt = next(
            e
            for b in page["blocks"]
            if b["type"] == "actions"
            for e in b["elements"]
            if e["action_id"] == "payments_page:next"
        )
        _status, _reply, response_url = harness.click(
            ALICE,
            "payments_page:next",
            value=nxt["value"],
            channel_id="C_PARTNER",
            ephemeral=True,
        )
        reply = harness.wait_response(response_url)
        assert reply["replace_original"] is True  # the list changes in place
        page = reply
    assert sorted(seen) == [f"PAY-{n:03d}" for n in range(120)]
    assert len(seen) == len(set(seen))
    assert "page 3 of 3" in text_of(page)

    # Previous goes back.
    _status, _reply, response_url = harness.click(
        ALICE, "payments_page:previous", value="2", channel_id="C_PARTNER", ephemeral=True
    )
    back = harness.wait_response(response_url)
    assert "page 2 of 3" in text_of(back)


# ------------------------------------------------------------------- unlinked people


@pytest.mark.parametrize("text", ["allocate PAY-1", "allocate", "history"])
def test_an_unlinked_person_is_told_how_to_get_linked(
    harness: BotHarness, books: Database, text: str
) -> None:
    status, reply, response_url = harness.slash(STRANGER, text)
    assert status == 200
    said = reply if reply and reply.get("blocks") else harness.wait_response(response_url)
    shown = text_of(said)
    assert "not linked to any partner" in shown
    assert "Copy member ID" in shown
    assert "You have no payment" not in shown and "PAY-1" not in shown
    assert harness.opened_views() == []


def test_the_allocate_button_for_an_unlinked_person_says_how_to_get_linked(
    harness: BotHarness, books: Database
) -> None:
    _status, _reply, response_url = harness.click(
        STRANGER, "open_allocation:PAY-1", value="PAY-1", channel_id="C_X", ephemeral=True
    )
    shown = text_of(harness.wait_response(response_url))
    assert "not linked to any partner" in shown and "You have no payment" not in shown


# ------------------------------------------------------------ history's Cancel button


def test_history_offers_cancel_on_pending_requests_and_it_withdraws_them(
    harness: BotHarness, books: Database
) -> None:
    pending = _request(harness, "INV-2", "100.00")
    decided = _request(harness, "INV-BIG", "10.00")
    harness.bot.ledger.reject(decided, harness.bot.approvers.actor(APPROVER), "No")
    harness.deliver()
    receipt = harness.slack.messages_in(ALICE)[0]

    _status, history, _ = harness.slash(ALICE, "history")
    assert action_ids(history) == [f"cancel_allocation:{pending}"]
    button = next(b["accessory"] for b in history["blocks"] if isinstance(b.get("accessory"), dict))
    receipt_button = next(
        e for b in receipt["blocks"] if b["type"] == "actions" for e in b["elements"]
    )
    assert (button["action_id"], button["value"], button["confirm"]) == (
        receipt_button["action_id"],
        receipt_button["value"],
        receipt_button["confirm"],
    )

    _status, _reply, response_url = harness.click(
        ALICE,
        f"cancel_allocation:{pending}",
        value=str(pending),
        channel_id="C_PARTNER",
        ephemeral=True,
    )
    wait_for(lambda: allocation_row(books, pending).status == "cancelled", what="cancel")
    refreshed = harness.wait_response(response_url)
    assert refreshed["replace_original"] is True
    assert f"#{pending} · Cancelled" in text_of(refreshed)
    assert action_ids(refreshed) == []
    assert payment_row(books, "PAY-1").pending == 0
    harness.deliver()
    edited = harness.slack.messages_in(ALICE)[0]
    assert action_ids(edited) == [] and "cancelled" in text_of(edited).lower()


def test_history_cancel_by_someone_else_changes_nothing(
    harness: BotHarness, books: Database
) -> None:
    pending = _request(harness, "INV-2", "100.00")
    _status, _reply, response_url = harness.click(
        "U0OTHER",
        f"cancel_allocation:{pending}",
        value=str(pending),
        channel_id="C_PARTNER",
        ephemeral=True,
    )
    said = harness.wait_response(response_url)
    assert "Only the person who made a request can cancel it" in text_of(said)
    assert said["replace_original"] is False
    assert allocation_row(books, pending).status == "pending"


def test_the_billing_facts_arrive_with_the_real_channel_pace(
    db: Database, slack: FakeSlack
) -> None:
    # Production's default pace (1 s between billing posts), not the tests' 0.
    harness = BotHarness(db, slack, BILLING_CHANNEL_PACE_SECONDS=1.0)
    try:
        add_partner(db, "P-ACME", "Acme Corp", members=[ALICE])
        add_payment(db, "PAY-1", "P-ACME", 100000, "USD", reference="Wire 9")
        add_invoice(db, "INV-1", "P-ACME", 60000, "USD", due_on=OVERDUE_ON)
        first = _request(harness, "INV-1", "100.00")
        second = _request(harness, "INV-1", "200.00")
        assert harness.deliver() >= 4
        for allocation_id in (first, second):
            shown = text_of(_billing(harness, allocation_id))
            assert "ref Wire 9" in shown and "total 600.00 USD" in shown and "overdue" in shown
    finally:
        harness.close()
