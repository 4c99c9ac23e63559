"""Requests of several lines (issue 11) as each surface draws them, inside Block Kit's limits.

The modal at 10 lines, the billing message, the receipt and decision DMs and history with 10
lines of 64-character ids and extreme text, and the payment list with suggestions, all pass the
same checker as every other view (tests/slack/test_views_limits.py).
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from models.enums import LineChoice
from models.schemas import AllocationLine, AllocationSummary, InvoiceSummary, PaymentSummary
from slackbot.ledger.matching import MatchKind, SuggestedLine, Suggestion
from slackbot.slack import views
from slackbot.slack.views.modal import ModalLine, ModalMemory
from tests.slack.test_views_limits import (
    HUGE,
    LONG_NAME,
    LONG_NOTE,
    NASTY,
    STATUSES,
    allocation,
    check_message,
    check_view,
    invoice,
    long_id,
    payment,
)
from tests.support.bot_harness import action_ids, text_of


def blocks_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


def mrkdwn_texts(node: Any) -> list[str]:
    """Every mrkdwn text (the ones Slack parses; plain_text is shown as is)."""
    if isinstance(node, dict):
        if node.get("type") == "mrkdwn" and isinstance(node.get("text"), str):
            return [node["text"]]
        return [t for value in node.values() for t in mrkdwn_texts(value)]
    if isinstance(node, list):
        return [t for item in node for t in mrkdwn_texts(item)]
    return []


def usd_payment(left: int = 1_000_000, reference: str = "wire 884213") -> PaymentSummary:
    return PaymentSummary(
        payment_id="PAY-1",
        partner_id="P-ACME",
        partner_name="Acme & Sons <Ltd>",
        currency="USD",
        amount=left,
        allocated=0,
        pending=0,
        received_on=dt.date(2026, 11, 3),
        reference=reference,
    )


def usd_invoice(n: int, open_amount: int) -> InvoiceSummary:
    return InvoiceSummary(
        invoice_id=f"INV-{n}",
        partner_id="P-ACME",
        currency="USD",
        amount=open_amount,
        amount_due=open_amount,
        pending=0,
        issued_on=dt.date(2026, 1, n),
        due_on=dt.date(2026, 2, n),
    )


def suggestion(
    *lines: tuple[str, int], summary: str = "matches INV-7 + INV-8 exactly"
) -> Suggestion:
    return Suggestion(
        how=MatchKind.EXACT_SET,
        lines=tuple(SuggestedLine(invoice_id, amount) for invoice_id, amount in lines),
        summary=summary,
    )


def request(
    status: str,
    *,
    lines: int = 10,
    chosen: LineChoice | None = LineChoice.EDITED,
    text: str = LONG_NOTE,
) -> AllocationSummary:
    """A request of ``lines`` lines with 64-character ids and huge amounts."""
    base = allocation(status, text=text)
    each = HUGE["USD"] // lines
    return base.model_copy(
        update={
            "amount": each * lines,
            "request_id": base.allocation_id,
            "chosen": chosen,
            "as_of": dt.date(2027, 6, 1),
            "lines": tuple(
                AllocationLine(
                    allocation_id=base.allocation_id + n,
                    invoice_id=long_id("INV-", n),
                    amount=each,
                    invoice_amount_due=HUGE["USD"] - n,
                    invoice_pending=each,
                    invoice_amount=HUGE["USD"],
                    invoice_due_on=dt.date(2026, 12, 31),
                )
                for n in range(lines)
            ),
        }
    )


# --------------------------------------------------------------------------------- the modal


def ten_lines(pay: PaymentSummary) -> list[ModalLine]:
    lines = [
        ModalLine(
            slot=slot,
            invoice=invoice(slot),
            amount="9" * 40,  # typed, unreadable as an amount: still drawn as typed
            amount_block=views.amount_block_id(pay.payment_id, long_id("INV-", slot))
            if slot == 1
            else None,
        )
        for slot in range(1, 11)
    ]
    return lines


def test_the_modal_with_ten_lines_of_long_ids_stays_within_slack_limits() -> None:
    pay = payment(1)
    lines = ten_lines(pay)
    memory = ModalMemory(
        slots=tuple(range(2, 11)),
        suggested_for=pay.payment_id,
        suggested=tuple((long_id("INV-", n), HUGE["USD"]) for n in range(1, 11)),
    )
    offered = suggestion(*((long_id("INV-", n), 1) for n in range(1, 11)), summary=LONG_NAME * 4)
    view = views.allocation_modal(
        [payment(n) for n in range(200)],
        selected=pay,
        lines=lines,
        memory=memory,
        suggestion=offered,
    )
    check_view(view)
    blocks = blocks_by_id(view)
    assert "invoice" in blocks and all(f"invoice_{n}" in blocks for n in range(2, 11))
    assert all(f"amount_{n}" in blocks for n in range(2, 11))
    # At 10 lines there is no "Add invoice"; each line after the first can be removed.
    assert "add_invoice_line" not in action_ids(view)
    assert [f"remove_invoice_line:{n}" for n in range(2, 11)] == [
        a for a in action_ids(view) if a.startswith("remove_invoice_line")
    ]
    assert ModalMemory.from_metadata(view["private_metadata"]) == memory


def test_metadata_with_ten_suggested_lines_of_long_ids_fits_3000_characters() -> None:
    memory = ModalMemory(
        slots=tuple(range(2, 11)),
        suggested_for=long_id("PAY-", 1),
        suggested=tuple((long_id("INV-", n), HUGE["KWD"]) for n in range(10)),
    )
    assert len(memory.to_metadata()) <= 3000
    assert ModalMemory.from_metadata(memory.to_metadata()) == memory


@pytest.mark.parametrize(
    "metadata",
    [
        "",
        "not json",
        '{"c":"C1"}',
        '{"lines":[1,2,2,11,"3",true,-4]}',
        '{"lines":"x","suggested":{"payment":7}}',
        '{"suggested":{"payment":"PAY-1","lines":[["INV-1","100"],["INV-2",true],[1,2]]}}',
        "[" * 3001,
    ],
)
def test_metadata_that_is_not_ours_reads_as_a_fresh_modal(metadata: str) -> None:
    memory = ModalMemory.from_metadata(metadata)
    assert all(2 <= slot <= 10 for slot in memory.slots)
    assert len(set(memory.slots)) == len(memory.slots)
    assert all(isinstance(amount, int) for _i, amount in memory.suggested)


def test_lines_show_their_amounts_the_running_total_and_what_is_left() -> None:
    pay = usd_payment(left=1_000_000)  # 10,000.00 USD
    lines = [
        ModalLine(slot=1, invoice=usd_invoice(1, 300_000), amount="3000.00"),
        ModalLine(slot=3, invoice=usd_invoice(3, 250_000), amount="2500"),
        ModalLine(slot=2, invoice_option=("INV-2", "INV-2 · 900.00 USD due"), amount="abc"),
    ]
    view = views.allocation_modal(
        [pay], selected=pay, lines=lines, memory=ModalMemory(slots=(3, 2))
    )
    check_view(view)
    blocks = blocks_by_id(view)
    assert blocks["amount"]["element"]["initial_value"] == "3000.00"
    # Slots keep their block ids; labels number the lines as shown.
    assert blocks["invoice_3"]["label"]["text"] == "Invoice 2"
    assert blocks["invoice_2"]["label"]["text"] == "Invoice 3"
    assert blocks["invoice_2"]["element"]["initial_option"] == {
        "text": {"type": "plain_text", "text": "INV-2 · 900.00 USD due", "emoji": True},
        "value": "INV-2",
    }
    assert blocks["amount_2"]["element"]["initial_value"] == "abc"
    shown = text_of(view)
    assert "*Total 5,500.00 USD* in 3 lines" in shown
    assert "PAY-1 will have *4,500.00 USD* left" in shown
    assert "1 line without a readable amount yet" in shown
    # Every amount of a several-line modal redraws on Enter (the total follows).
    assert blocks["amount_3"]["dispatch_action"] is True


def test_lines_over_the_payment_say_by_how_much() -> None:
    pay = usd_payment(left=100_000)
    lines = [
        ModalLine(slot=1, invoice=usd_invoice(1, 90_000), amount="900"),
        ModalLine(slot=2, invoice=usd_invoice(2, 90_000), amount="900"),
    ]
    view = views.allocation_modal([pay], selected=pay, lines=lines, memory=ModalMemory((2,)))
    assert "⚠️ 800.00 USD more than PAY-1 has left" in text_of(view)


def test_a_suggestion_is_offered_in_the_modal_until_the_lines_are_it() -> None:
    pay = usd_payment()
    offered = suggestion(("INV-7", 600_000), ("INV-8", 400_000))
    plain = views.allocation_modal([pay], selected=pay, suggestion=offered)
    check_view(plain)
    assert "allocate_suggested:PAY-1" in action_ids(plain)
    assert "matches INV-7 + INV-8 exactly (2 invoices, 10,000.00 USD)" in text_of(plain)
    filled = views.allocation_modal(
        [pay],
        selected=pay,
        lines=[
            ModalLine(slot=1, invoice=usd_invoice(7, 600_000), amount="6000.00"),
            ModalLine(slot=2, invoice=usd_invoice(8, 400_000), amount="4000.00"),
        ],
        memory=ModalMemory(slots=(2,), suggested_for="PAY-1", suggested=(("INV-7", 600_000),)),
        suggestion=offered,
    )
    assert "allocate_suggested:PAY-1" not in action_ids(filled)


def test_the_single_line_modal_offers_add_invoice_and_keeps_the_contract_blocks() -> None:
    pay = usd_payment()
    view = views.allocation_modal([pay], selected=pay)
    blocks = blocks_by_id(view)
    assert {"payment", "invoice", "amount", "note"} <= set(blocks)
    assert "add_invoice_line" in action_ids(view)
    assert not any(b.startswith(("invoice_", "amount_")) for b in blocks)
    # Without a payment there is nothing to add lines to yet.
    assert "add_invoice_line" not in action_ids(views.allocation_modal([pay], selected=None))


# ------------------------------------------------------------------------- billing and DMs


@pytest.mark.parametrize("status", STATUSES)
@pytest.mark.parametrize("text", [LONG_NOTE, "&" * 1000, "😀" * 1000])
def test_ten_line_requests_stay_within_slack_limits_everywhere(status: str, text: str) -> None:
    r = request(status, text=text)
    for render in (
        views.billing_message(r, invoice_url_template="https://erp.example.com/i/{invoice_id}"),
        views.receipt_message(r),
        views.decision_message(r),
        views.history_message([r] * 20),
    ):
        check_message(render)
        shown = "\n".join(mrkdwn_texts(render))
        assert "<!channel>" not in shown and "<script>" not in shown


def test_billing_lists_every_line_with_one_approve_and_one_reject() -> None:
    r = request("pending", lines=7, chosen=LineChoice.SUGGESTED, text="Remittance 884213")
    message = views.billing_message(r)
    shown = text_of(message)
    for n in range(7):
        assert long_id("INV-", n) in shown
    assert "7 invoices" in shown and "Remittance 884213" in shown
    assert "as suggested by the bot" in shown
    assert "overdue" in shown  # due 2026-12-31, read on 2027-06-01
    ids = action_ids(message)
    assert [a.split(":")[0] for a in ids] == ["approve_allocation", "reject_allocation"]
    approved = views.billing_message(request("approved", lines=7))
    assert action_ids(approved) == []
    assert "Approved by <@W0123456789ABCDEFGHIJ>" in text_of(approved)


def test_the_dms_and_history_list_the_lines() -> None:
    r = request("approved", lines=3)
    for render in (views.receipt_message(r), views.decision_message(r)):
        shown = text_of(render)
        assert all(long_id("INV-", n) in shown for n in range(3))
        assert "3 invoices" in shown
    history = views.history_message([request("pending", lines=3)])
    assert all(long_id("INV-", n) in text_of(history) for n in range(3))
    assert any(a.startswith("cancel_allocation:") for a in action_ids(history))


def test_a_one_line_request_reads_as_it_always_did() -> None:
    old = allocation("pending", text="x")
    assert views.billing_message(old) == views.billing_message(old.model_copy())
    assert "Chosen" not in text_of(views.billing_message(old))
    chosen = old.model_copy(update={"chosen": LineChoice.BY_HAND})
    assert "Chosen by hand (no suggestion used)." in text_of(views.billing_message(chosen))


# ------------------------------------------------------------------------ the payment list


def test_each_payment_shows_its_suggestion_with_a_button_and_one_primary() -> None:
    first = usd_payment()
    second = first.model_copy(update={"payment_id": "PAY-2", "reference": NASTY})
    offered = {
        "PAY-1": suggestion(("INV-7", 600_000), ("INV-8", 400_000)),
        "PAY-2": suggestion(("INV-9", 1), summary="INV-9 <!channel> & <b> named"),
    }
    message = views.payments_message([first, second], suggestions=offered)
    check_message(message)
    ids = action_ids(message)
    assert "allocate_suggested:PAY-1" in ids and "allocate_suggested:PAY-2" in ids
    assert "open_allocation:PAY-1" in ids and "open_allocation:PAY-2" in ids
    styles = json.dumps(message).count('"style": "primary"')
    assert styles == 1
    shown = text_of(message)
    assert "matches INV-7 + INV-8 exactly" in shown
    assert "INV-9 &lt;!channel&gt; &amp; &lt;b&gt; named" in shown


def test_a_long_list_with_suggestions_still_pages_within_50_blocks() -> None:
    payments = [payment(n, partner=n % 3) for n in range(120)]
    offered = {
        p.payment_id: suggestion((long_id("INV-", 1), 1), summary=LONG_NAME * 4)
        for p in payments[::2]
    }
    seen: set[str] = set()
    page = 1
    while True:
        message = views.payments_message(payments, page=page, suggestions=offered)
        check_message(message)
        seen |= {a for a in action_ids(message) if a.startswith("open_allocation:")}
        if "payments_page:next" not in action_ids(message):
            break
        page += 1
    assert len(seen) == 120
