"""What a person sees in each Slack message and modal: amounts, ids, mentions, outcomes, buttons."""

from __future__ import annotations

import datetime as dt
import json
import random
import re
from typing import Any

import pytest

from models.schemas import AllocationSummary, InvoiceSummary, PaymentSummary
from slackbot.slack import views

REQUESTED = dt.datetime(2026, 11, 2, 9, 15, tzinfo=dt.UTC)
DECIDED = dt.datetime(2026, 11, 3, 14, 5, tzinfo=dt.UTC)
DECIDED_TOKEN = (
    f"<!date^{int(DECIDED.timestamp())}^{{date_short_pretty}} at {{time}}|2026-11-03 14:05 UTC>"
)


def payment(
    payment_id: str = "PAY-1",
    *,
    amount: int = 125_000,
    allocated: int = 0,
    pending: int = 0,
    currency: str = "USD",
    partner_id: str = "P1",
    partner_name: str = "Acme Corp",
    received_on: dt.date = dt.date(2026, 11, 1),
    reference: str = "Wire 4471 for INV-1001",
) -> PaymentSummary:
    return PaymentSummary(
        payment_id=payment_id,
        partner_id=partner_id,
        partner_name=partner_name,
        currency=currency,
        amount=amount,
        allocated=allocated,
        pending=pending,
        received_on=received_on,
        reference=reference,
    )


def invoice(
    invoice_id: str = "INV-1001",
    *,
    amount_due: int = 82_000,
    pending: int = 0,
    currency: str = "USD",
    due_on: dt.date = dt.date(2026, 12, 1),
) -> InvoiceSummary:
    return InvoiceSummary(
        invoice_id=invoice_id,
        partner_id="P1",
        currency=currency,
        amount=100_000,
        amount_due=amount_due,
        pending=pending,
        issued_on=dt.date(2026, 10, 1),
        due_on=due_on,
    )


def allocation(status: str = "pending", **changes: Any) -> AllocationSummary:
    decided = status in ("approved", "rejected", "cancelled", "reversed")
    values: dict[str, Any] = {
        "allocation_id": 7,
        "payment_id": "PAY-1",
        "invoice_id": "INV-1001",
        "partner_id": "P1",
        "partner_name": "Acme Corp",
        "currency": "USD",
        "amount": 12_500,
        "status": status,
        "note": "Pays the November invoice",
        "requested_by": "U01",
        "requested_at": REQUESTED,
        "decided_by": ("U01" if status == "cancelled" else "U02") if decided else None,
        "decided_at": DECIDED if decided else None,
        "reason": "Wrong invoice: this wire was for INV-1002" if status == "rejected" else None,
        "reversed_by": "U03" if status == "reversed" else None,
        "reversed_at": DECIDED if status == "reversed" else None,
        "reversal_reason": "Bank recalled the wire" if status == "reversed" else None,
        "payment_unallocated": 112_500,
        "payment_pending": 12_500 if status == "pending" else 0,
        "invoice_amount_due": 82_000 if status != "approved" else 69_500,
        "invoice_pending": 12_500 if status == "pending" else 0,
    }
    values.update(changes)
    if status == "reversed":
        values["decided_at"] = REQUESTED
    return AllocationSummary(**values)


def walk(obj: Any) -> list[Any]:
    """Every dict and list inside ``obj``, depth first."""
    found: list[Any] = [obj]
    if isinstance(obj, dict):
        for value in obj.values():
            found.extend(walk(value))
    elif isinstance(obj, list):
        for value in obj:
            found.extend(walk(value))
    return found


def all_text(obj: Any) -> str:
    """All text a person can read in a payload (text objects, plus a message's fallback)."""
    pieces = [
        node["text"]
        for node in walk(obj)
        if isinstance(node, dict) and isinstance(node.get("text"), str)
    ]
    return "\n".join(pieces)


def mrkdwn_text(obj: Any) -> str:
    return "\n".join(
        node["text"]
        for node in walk(obj)
        if isinstance(node, dict) and node.get("type") == "mrkdwn"
    )


def actions(obj: Any) -> dict[str, dict[str, Any]]:
    return {
        node["action_id"]: node
        for node in walk(obj)
        if isinstance(node, dict) and "action_id" in node
    }


def blocks_by_id(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if "block_id" in b}


# ------------------------------------------------------------------------ payments_message


def test_payments_message_formats_each_amount_in_its_currency() -> None:
    message = views.payments_message(
        [
            payment("PAY-USD", amount=200_000, allocated=50_000, pending=25_000),
            payment("PAY-JPY", amount=1_000, currency="JPY"),
            payment("PAY-KWD", amount=1_234_567, pending=1_000, currency="KWD"),
        ]
    )
    shown = all_text(message)
    assert "*1,250.00 USD* left to allocate of 2,000.00 USD" in shown
    assert "250.00 USD pending billing approval" in shown
    assert "*1,000 JPY* left to allocate of 1,000 JPY" in shown
    assert "*1,233.567 KWD* left to allocate of 1,234.567 KWD" in shown
    assert "1.000 KWD pending" in shown
    assert "1,000.00 JPY" not in shown


def test_payments_message_is_ephemeral_with_a_fallback_counting_the_payments() -> None:
    message = views.payments_message([payment()])
    assert message["response_type"] == "ephemeral"
    assert message["text"] == "You have 1 payment with money left to allocate."


def test_each_payment_with_money_left_has_an_allocate_button_with_contract_ids() -> None:
    message = views.payments_message([payment("PAY-1"), payment("PAY-2")])
    buttons = actions(message)
    assert set(buttons) == {"open_allocation:PAY-1", "open_allocation:PAY-2"}
    assert buttons["open_allocation:PAY-1"]["value"] == "PAY-1"
    assert buttons["open_allocation:PAY-1"]["text"]["text"] == "Allocate"
    assert "open_allocation:PAY-1" in blocks_by_id(message)


def test_payment_fully_held_by_pending_requests_has_no_button_and_says_so() -> None:
    held = payment("PAY-HELD", amount=10_000, allocated=4_000, pending=6_000)
    message = views.payments_message([held, payment("PAY-2")])
    assert set(actions(message)) == {"open_allocation:PAY-2"}
    assert "Nothing left to allocate of 100.00 USD" in all_text(message)
    assert "60.00 USD is held by pending requests" in all_text(message)


def test_payments_message_shows_id_date_and_reference() -> None:
    shown = all_text(views.payments_message([payment()]))
    assert "*PAY-1* · received 2026-11-01 · ref Wire 4471 for INV-1001" in shown


def test_payments_of_several_partners_are_grouped_under_partner_headers() -> None:
    message = views.payments_message(
        [
            payment("PAY-A1", partner_id="PA", partner_name="Alpha"),
            payment("PAY-B1", partner_id="PB", partner_name="Beta"),
            payment("PAY-A2", partner_id="PA", partner_name="Alpha"),
        ]
    )
    order = [
        b["text"]["text"] if b["type"] == "header" else b.get("block_id")
        for b in message["blocks"]
        if b["type"] == "header" or "block_id" in b
    ]
    assert order == [
        "Alpha",
        "open_allocation:PAY-A1",
        "open_allocation:PAY-A2",
        "Beta",
        "open_allocation:PAY-B1",
    ]
    assert message["text"] == "You have 3 payments from 2 partners with money left to allocate."


def test_payments_of_one_partner_name_it_once_without_headers() -> None:
    message = views.payments_message([payment("PAY-1"), payment("PAY-2")])
    assert not [b for b in message["blocks"] if b["type"] == "header"]
    assert "Acme Corp" in message["blocks"][0]["text"]["text"]


def test_no_payments_says_there_is_nothing_left_to_allocate() -> None:
    message = views.payments_message([])
    assert message["response_type"] == "ephemeral"
    assert "No payments with money left to allocate" in message["text"]
    assert "No payments with money left to allocate" in mrkdwn_text(message)
    assert actions(message) == {}


def test_partner_name_and_reference_are_escaped_in_mrkdwn() -> None:
    message = views.payments_message(
        [payment(partner_name="<script>x</script> & Co", reference="<!channel> & <b>")]
    )
    text = mrkdwn_text(message)
    assert "&lt;script&gt;x&lt;/script&gt; &amp; Co" in text
    assert "&lt;!channel&gt; &amp; &lt;b&gt;" in text
    assert "<script>" not in text and "<!channel>" not in text


def test_too_many_payments_show_the_oldest_and_count_the_rest() -> None:
    payments = [
        payment(f"PAY-{n}", received_on=dt.date(2026, 1, 1) + dt.timedelta(days=n))
        for n in range(120)
    ]
    random.Random(7).shuffle(payments)
    message = views.payments_message(payments)
    assert len(message["blocks"]) <= 50
    # Page 1 of the list; the Next button (payments_page:next) reaches the rest.
    shown = [a.split(":", 1)[1] for a in actions(message) if a.startswith("open_allocation:")]
    assert shown == [f"PAY-{n}" for n in range(len(shown))]
    more = re.search(r"…and (\d+) more\. Use `/payments allocate PAYMENT_ID`", all_text(message))
    assert more is not None
    assert int(more.group(1)) == 120 - len(shown)
    assert len(shown) >= 45


def test_payments_of_many_partners_count_headers_against_the_block_limit() -> None:
    payments = [
        payment(
            f"PAY-{n}",
            partner_id=f"P{n}",
            partner_name=f"Partner {n}",
            received_on=dt.date(2026, 1, 1) + dt.timedelta(days=n),
        )
        for n in range(60)
    ]
    message = views.payments_message(payments)
    assert len(message["blocks"]) <= 50
    shown = len([a for a in actions(message) if a.startswith("open_allocation:")])
    headers = [b for b in message["blocks"] if b["type"] == "header"]
    assert len(headers) == shown
    assert f"…and {60 - shown} more." in all_text(message)


# ------------------------------------------------------------------- other ephemeral answers


def test_not_linked_message_says_how_to_get_linked() -> None:
    message = views.not_linked_message()
    text = all_text(message)
    assert message["response_type"] == "ephemeral"
    assert "not linked to any partner" in text
    assert "billing team" in text
    assert "Copy member ID" in text
    assert "profile" in text


def test_help_message_lists_every_subcommand_and_explains_approval() -> None:
    message = views.help_message()
    text = all_text(message)
    assert message["response_type"] == "ephemeral"
    for command in (
        "`/payments list`",
        "`/payments allocate`",
        "`/payments allocate PAYMENT_ID`",
        "`/payments history`",
        "`/payments help`",
    ):
        assert command in text
    assert "How approval works" in text
    assert "Cancel" in text


def test_error_message_has_a_warning_sign_and_escapes_the_text() -> None:
    message = views.error_message("You have no payment <PAY&1>.")
    assert message["response_type"] == "ephemeral"
    assert message["blocks"][0]["text"]["text"] == "⚠️ You have no payment &lt;PAY&amp;1&gt;."
    assert message["text"].startswith("⚠️ ")


def test_error_message_keeps_the_mentions_of_already_decided_text() -> None:
    message = views.error_message(views.already_decided_text("approved", "U02", DECIDED))
    assert f"Already approved by <@U02> at {DECIDED_TOKEN}." in mrkdwn_text(message)


# ------------------------------------------------------------------------- history_message


def test_history_shows_each_outcome_with_its_emoji_who_and_why() -> None:
    history = [
        allocation("pending", allocation_id=1),
        allocation("approved", allocation_id=2),
        allocation("rejected", allocation_id=3),
        allocation("cancelled", allocation_id=4),
        allocation("reversed", allocation_id=5),
    ]
    message = views.history_message(history)
    text = all_text(message)
    assert message["response_type"] == "ephemeral"
    assert "🕒 *#1 · Waiting for approval* · *125.00 USD* · PAY-1 → INV-1001" in text
    assert "✅ *#2 · Approved*" in text
    assert f"Approved by <@U02> at {DECIDED_TOKEN}" in text
    assert (
        f"Rejected by <@U02> at {DECIDED_TOKEN}: Wrong invoice: this wire was for INV-1002" in text
    )
    assert "↩️ *#4 · Cancelled*" in text
    assert "⏪ *#5 · Reversed*" in text
    assert f"Reversed by <@U03> at {DECIDED_TOKEN}: Bank recalled the wire" in text
    assert "requested <!date^" in text


def test_empty_history_says_there_are_no_requests_yet() -> None:
    message = views.history_message([])
    assert "You have not requested any allocations yet" in all_text(message)


def test_long_history_stays_within_50_blocks_and_says_how_many_are_hidden() -> None:
    history = [allocation("approved", allocation_id=n) for n in range(100, 0, -1)]
    message = views.history_message(history)
    assert len(message["blocks"]) == 50
    shown = sum(1 for b in message["blocks"] if "✅" in b.get("text", {}).get("text", ""))
    assert f"…and {100 - shown} older requests not shown." in all_text(message)
    assert "*#100 · Approved*" in all_text(message)


def test_history_escapes_the_rejection_reason() -> None:
    message = views.history_message([allocation("rejected", reason="<@U9> & <http://x|y>")])
    text = mrkdwn_text(message)
    assert "&lt;@U9&gt; &amp; &lt;http://x|y&gt;" in text
    assert "<@U9>" not in text


# ------------------------------------------------------------------------ allocation_modal


def test_allocation_modal_carries_the_contract_ids_and_labels() -> None:
    view = views.allocation_modal([payment()], selected=None, private_metadata='{"c":"C1"}')
    assert view["type"] == "modal"
    assert view["callback_id"] == "allocation_modal"
    assert view["title"]["text"] == "Allocate a payment"
    assert view["submit"]["text"] == "Request"
    assert view["close"]["text"] == "Cancel"
    assert view["private_metadata"] == '{"c":"C1"}'
    blocks = blocks_by_id(view)
    for name in ("payment", "invoice", "amount", "note"):
        assert blocks[name]["type"] == "input"
        assert blocks[name]["element"]["action_id"] == name
    assert blocks["payment"]["dispatch_action"] is True
    assert blocks["payment"]["element"]["type"] == "static_select"
    invoice_select = blocks["invoice"]["element"]
    assert invoice_select["type"] == "external_select"
    assert invoice_select["min_query_length"] == 0
    assert invoice_select["placeholder"]["text"] == "Type an invoice number or amount"
    note = blocks["note"]
    assert note["optional"] is True
    assert note["element"]["multiline"] is True
    assert note["element"]["max_length"] == 1000
    assert not blocks["amount"].get("optional")
    assert not blocks["invoice"].get("optional")


def test_allocation_modal_offers_each_payment_with_what_it_has_left() -> None:
    view = views.allocation_modal(
        [payment("PAY-1"), payment("PAY-2", amount=5_000, currency="JPY")], selected=None
    )
    options = blocks_by_id(view)["payment"]["element"]["options"]
    assert [(o["value"], o["text"]["text"]) for o in options] == [
        ("PAY-1", "PAY-1 · 1,250.00 USD left"),
        ("PAY-2", "PAY-2 · 5,000 JPY left"),
    ]
    assert "initial_option" not in blocks_by_id(view)["payment"]["element"]
    assert "initial_value" not in blocks_by_id(view)["amount"]["element"]


@pytest.mark.parametrize(
    ("currency", "amount", "expected"),
    [("USD", 125_000, "1250.00"), ("JPY", 95_000, "95000"), ("KWD", 1_234_567, "1234.567")],
)
def test_selected_payment_starts_the_amount_at_what_it_has_left(
    currency: str, amount: int, expected: str
) -> None:
    chosen = payment(amount=amount, currency=currency)
    view = views.allocation_modal([chosen], selected=chosen)
    blocks = blocks_by_id(view)
    assert blocks["amount"]["element"]["initial_value"] == expected
    assert blocks["amount"]["label"]["text"] == f"Amount ({currency})"
    select = blocks["payment"]["element"]
    assert select["initial_option"] in select["options"]
    assert select["initial_option"]["value"] == "PAY-1"


def test_selected_payment_context_shows_reference_and_what_is_pending() -> None:
    chosen = payment(pending=30_000, reference="Wire <4471>")
    view = views.allocation_modal([chosen], selected=chosen)
    context = view["blocks"][1]
    assert context["type"] == "context"
    text = context["elements"][0]["text"]
    assert "ref Wire &lt;4471&gt;" in text
    assert "300.00 USD already pending in other requests" in text
    assert "*950.00 USD* left to allocate" in text


def test_more_than_100_payments_keep_100_options_with_the_selected_one_and_say_so() -> None:
    payments = [
        payment(f"PAY-{n}", received_on=dt.date(2026, 1, 1) + dt.timedelta(days=n))
        for n in range(150)
    ]
    newest = payments[-1]
    view = views.allocation_modal(payments, selected=newest)
    options = blocks_by_id(view)["payment"]["element"]["options"]
    values = [o["value"] for o in options]
    assert len(values) == 100
    assert "PAY-149" in values
    assert "PAY-0" in values
    assert "Showing 100 of 150 payments" in all_text(view)
    assert blocks_by_id(view)["payment"]["element"]["initial_option"]["value"] == "PAY-149"


def test_payments_of_several_partners_are_grouped_in_the_select() -> None:
    payments = [
        payment("PAY-A", partner_id="PA", partner_name="Alpha"),
        payment("PAY-B", partner_id="PB", partner_name="Beta"),
    ]
    view = views.allocation_modal(payments, selected=payments[1])
    select = blocks_by_id(view)["payment"]["element"]
    groups = select["option_groups"]
    assert [(g["label"]["text"], [o["value"] for o in g["options"]]) for g in groups] == [
        ("Alpha", ["PAY-A"]),
        ("Beta", ["PAY-B"]),
    ]
    assert select["initial_option"] == groups[1]["options"][0]


def test_allocation_modal_without_payments_is_a_notice() -> None:
    view = views.allocation_modal([], selected=None)
    assert "submit" not in view
    assert "no payments with money left" in all_text(view)


# ------------------------------------------------------------------------- invoice_options


def test_invoice_option_shows_id_amount_due_and_due_date() -> None:
    response = views.invoice_options([invoice()])
    assert response == {
        "options": [
            {
                "text": {
                    "type": "plain_text",
                    "text": "INV-1001 · 820.00 USD due · due 2026-12-01",
                    "emoji": True,
                },
                "value": "INV-1001",
            }
        ]
    }


def test_invoice_option_mentions_the_part_held_by_pending_requests() -> None:
    response = views.invoice_options([invoice(amount_due=82_000, pending=12_000)])
    assert response["options"][0]["text"]["text"] == (
        "INV-1001 · 700.00 USD open · 120.00 USD pending · due 2026-12-01"
    )


def test_invoice_options_in_jpy_and_kwd_use_their_decimals() -> None:
    response = views.invoice_options(
        [invoice("INV-J", amount_due=50_000, currency="JPY"), invoice("INV-K", currency="KWD")]
    )
    labels = [o["text"]["text"] for o in response["options"]]
    assert labels == [
        "INV-J · 50,000 JPY due · due 2026-12-01",
        "INV-K · 82.000 KWD due · due 2026-12-01",
    ]


def test_invoice_options_stop_at_100() -> None:
    response = views.invoice_options([invoice(f"INV-{n}") for n in range(300)])
    assert [o["value"] for o in response["options"]] == [f"INV-{n}" for n in range(100)]


def test_no_invoices_give_an_empty_options_list() -> None:
    assert views.invoice_options([]) == {"options": []}


def test_long_invoice_id_is_clipped_in_the_middle_but_keeps_its_amount_and_value() -> None:
    long_id = "INV-" + "0" * 55 + "12345"
    option = views.invoice_options([invoice(long_id, amount_due=999_999_999_999_999)])["options"][0]
    assert len(option["text"]["text"]) <= 75
    assert option["text"]["text"].endswith("12345 · 9,999,999,999,999.99 USD due")
    assert "…" in option["text"]["text"]
    assert option["value"] == long_id


# ------------------------------------------------------------------------- billing_message


def test_pending_billing_message_shows_the_request_and_both_buttons() -> None:
    message = views.billing_message(allocation("pending"))
    assert message["blocks"][0] == {
        "type": "header",
        "text": {"type": "plain_text", "text": "Allocation request #7", "emoji": True},
    }
    text = all_text(message)
    for expected in (
        "*Partner*\nAcme Corp",
        "*Requested by*\n<@U01>",
        "*Amount*\n125.00 USD",
        "*Payment*\nPAY-1",
        "*Invoice*\nINV-1001",
        "PAY-1 has *1,125.00 USD* left to allocate, 125.00 USD pending approval",
        "INV-1001 has *820.00 USD* left to pay",
        "If approved, INV-1001 will have 695.00 USD left to pay.",
        "Pays the November invoice",
    ):
        assert expected in text
    buttons = actions(message)
    assert set(buttons) == {"approve_allocation:7", "reject_allocation:7"}
    approve, reject = buttons["approve_allocation:7"], buttons["reject_allocation:7"]
    assert (approve["value"], approve["style"]) == ("7", "primary")
    assert (reject["value"], reject["style"]) == ("7", "danger")
    assert approve["confirm"]["confirm"]["text"] == "Approve"
    assert "125.00 USD" in approve["confirm"]["text"]["text"]
    actions_block = next(b for b in message["blocks"] if b["type"] == "actions")
    assert actions_block["block_id"] == "approve_allocation:7"
    assert "Allocation request #7" in message["text"]


@pytest.mark.parametrize(
    ("status", "line"),
    [
        ("approved", f"✅ Approved by <@U02> at {DECIDED_TOKEN}"),
        (
            "rejected",
            f"❌ Rejected by <@U02> at {DECIDED_TOKEN}: Wrong invoice: this wire was for INV-1002",
        ),
        ("cancelled", f"↩️ Cancelled by the requester at {DECIDED_TOKEN}"),
        ("reversed", f"⏪ Reversed by <@U03> at {DECIDED_TOKEN}: Bank recalled the wire"),
    ],
)
def test_decided_billing_message_has_a_status_line_and_no_buttons(status: str, line: str) -> None:
    message = views.billing_message(allocation(status))
    assert line in all_text(message)
    assert actions(message) == {}
    assert "Allocation request #7" in message["text"]


def test_billing_message_after_approval_shows_what_the_invoice_has_left() -> None:
    text = all_text(views.billing_message(allocation("approved")))
    assert "INV-1001 has *695.00 USD* left to pay" in text
    assert "If approved" not in text


def test_billing_message_escapes_and_quotes_the_note_and_partner_name() -> None:
    message = views.billing_message(
        allocation(note="<script>alert(1)</script>\n& <!channel>", partner_name="A&B <Ltd>")
    )
    text = mrkdwn_text(message)
    assert ">&lt;script&gt;alert(1)&lt;/script&gt;\n>&amp; &lt;!channel&gt;" in text
    assert "*Partner*\nA&amp;B &lt;Ltd&gt;" in text
    assert "<script>" not in text and "<!channel>" not in text
    assert "<!channel>" not in message["text"]


def test_billing_message_clips_a_long_note() -> None:
    message = views.billing_message(allocation(note="&" * 1000))
    note = next(b for b in message["blocks"] if "Note from" in b.get("text", {}).get("text", ""))
    assert len(note["text"]["text"]) <= 3000
    assert note["text"]["text"].endswith("&amp;…")


def test_amounts_in_jpy_and_kwd_keep_their_decimals_in_the_billing_message() -> None:
    jpy = all_text(views.billing_message(allocation(currency="JPY", amount=1_000)))
    kwd = all_text(views.billing_message(allocation(currency="KWD", amount=1_500)))
    assert "*Amount*\n1,000 JPY" in jpy
    assert "*Amount*\n1.500 KWD" in kwd


# --------------------------------------------------------------------------- reject_modal


def test_reject_modal_asks_for_a_required_reason_and_carries_the_allocation_id() -> None:
    view = views.reject_modal(allocation())
    assert view["callback_id"] == "reject_modal"
    assert view["title"]["text"] == "Reject request"
    assert json.loads(view["private_metadata"]) == {"allocation_id": 7}
    reason = blocks_by_id(view)["reason"]
    assert reason["type"] == "input"
    assert not reason.get("optional")
    assert reason["element"]["action_id"] == "reason"
    assert reason["element"]["multiline"] is True
    assert reason["element"]["max_length"] == 1000
    summary = all_text(view)
    assert (
        "*Request #7* from <@U01> (Acme Corp): apply *125.00 USD* from PAY-1 to INV-1001" in summary
    )


def test_reject_modal_metadata_can_carry_the_billing_message_and_keeps_the_id() -> None:
    view = views.reject_modal(allocation(), metadata={"channel": "C1", "allocation_id": 99})
    assert json.loads(view["private_metadata"]) == {"channel": "C1", "allocation_id": 7}


# ------------------------------------------------------------------------ receipt_message


def test_pending_receipt_says_it_waits_and_offers_cancel() -> None:
    message = views.receipt_message(allocation())
    expected = (
        "Your request #7 to apply *125.00 USD* from *PAY-1* to *INV-1001* is waiting for billing"
        " approval."
    )
    assert expected in all_text(message)
    # The notification text says the same without mrkdwn (it would show literal asterisks).
    assert message["text"] == expected.replace("*", "")
    buttons = actions(message)
    assert set(buttons) == {"cancel_allocation:7"}
    cancel = buttons["cancel_allocation:7"]
    assert (cancel["value"], cancel["style"]) == ("7", "danger")
    assert cancel["confirm"]["title"]["text"] == "Cancel request #7?"
    assert "cancel_allocation:7" in blocks_by_id(message)


@pytest.mark.parametrize(
    ("status", "line"),
    [
        ("approved", f"✅ Approved by <@U02> at {DECIDED_TOKEN}"),
        ("rejected", f"❌ Rejected by <@U02> at {DECIDED_TOKEN}: Wrong invoice"),
        ("cancelled", f"↩️ You cancelled it at {DECIDED_TOKEN}."),
        ("reversed", f"⏪ Reversed by <@U03> at {DECIDED_TOKEN}: Bank recalled the wire"),
    ],
)
def test_decided_receipt_shows_the_outcome_without_cancel(status: str, line: str) -> None:
    message = views.receipt_message(allocation(status))
    assert line in all_text(message)
    assert "Your request #7 to apply *125.00 USD*" in all_text(message)
    assert actions(message) == {}


# ------------------------------------------------------------------------ decision_message


def test_approval_message_gives_the_invoice_new_amount_due() -> None:
    message = views.decision_message(allocation("approved"))
    text = all_text(message)
    assert f"✅ Your request #7 was approved by <@U02> at {DECIDED_TOKEN}" in text
    assert "*125.00 USD* from PAY-1 now pays INV-1001." in text
    assert "INV-1001 has *695.00 USD* left to pay." in text
    assert "approved" in message["text"]


def test_approval_that_pays_the_invoice_in_full_says_so() -> None:
    text = all_text(views.decision_message(allocation("approved", invoice_amount_due=0)))
    assert "INV-1001 is now paid in full." in text


def test_rejection_message_quotes_the_reason_escaped() -> None:
    message = views.decision_message(
        allocation("rejected", reason="Use INV-1002 <not this>\n& retry")
    )
    text = all_text(message)
    assert f"was rejected by <@U02> at {DECIDED_TOKEN}" in text
    assert "*Reason*\n>Use INV-1002 &lt;not this&gt;\n>&amp; retry" in text
    assert "The 125.00 USD is available on PAY-1 again." in text


def test_reversal_message_gives_the_reason_and_new_balances() -> None:
    text = all_text(views.decision_message(allocation("reversed")))
    assert f"was reversed by <@U03> at {DECIDED_TOKEN}" in text
    assert "*Reason*\n>Bank recalled the wire" in text
    assert "INV-1001 has 820.00 USD left to pay again" in text


def test_cancellation_message_confirms_the_money_is_back() -> None:
    message = views.decision_message(allocation("cancelled"))
    assert "↩️ You cancelled your request #7 to apply *125.00 USD*" in all_text(message)
    assert "The 125.00 USD is available on PAY-1 again." in all_text(message)


# ------------------------------------------------------------------- already_decided_text


def test_already_decided_text_names_who_and_when() -> None:
    assert views.already_decided_text("approved", "U02", DECIDED) == (
        f"Already approved by <@U02> at {DECIDED_TOKEN}. Nothing changed."
    )
    assert views.already_decided_text("cancelled", "U01", DECIDED) == (
        f"Already cancelled by <@U01> at {DECIDED_TOKEN}. Nothing changed."
    )


def test_already_decided_text_without_who_or_when_still_reads() -> None:
    assert (
        views.already_decided_text("rejected", None, None) == "Already rejected. Nothing changed."
    )


def test_naive_times_are_read_as_utc() -> None:
    naive = DECIDED.replace(tzinfo=None)
    assert DECIDED_TOKEN in views.already_decided_text("approved", "U02", naive)


def test_a_user_id_that_is_not_a_slack_id_is_not_turned_into_a_mention() -> None:
    text = views.already_decided_text("approved", "<!channel>", DECIDED)
    assert "&lt;!channel&gt;" in text
    assert "<!channel>" not in text


# --------------------------------------------------------------------------- notice_modal


def test_notice_modal_only_has_a_close_button() -> None:
    view = views.notice_modal("Nothing to allocate", "You have no payments with money left.")
    assert view["type"] == "modal"
    assert "submit" not in view
    assert view["close"]["text"] == "Close"
    assert view["title"]["text"] == "Nothing to allocate"
    assert "You have no payments with money left." in all_text(view)


def test_notice_modal_clips_the_title_and_escapes_the_text() -> None:
    view = views.notice_modal("A title far longer than Slack allows", "<b> & co")
    assert view["title"]["text"] == "A title far longer than…"
    assert "&lt;b&gt; &amp; co" in mrkdwn_text(view)


def test_already_decided_plain_text_has_no_markup_for_modal_errors() -> None:
    text = views.already_decided_text("rejected", "U02", DECIDED, plain=True)
    assert text == "Already rejected at 2026-11-03 14:05 UTC. Nothing changed."


# ---------------------------------------------------------------------- request_sent_text


def test_request_sent_notice_names_the_request_and_what_happens_next() -> None:
    view = views.notice_modal("Request sent", views.request_sent_text(allocation()))
    text = mrkdwn_text(view)
    assert "Request #7 sent: *125.00 USD* from *PAY-1* to *INV-1001*" in text
    assert "waiting for billing approval" in text
    assert "*Cancel*" in text


def test_request_sent_notice_escapes_ids_once() -> None:
    text = mrkdwn_text(
        views.notice_modal("Request sent", views.request_sent_text(allocation(invoice_id="A&B")))
    )
    assert "*A&amp;B*" in text
    assert "&amp;amp;" not in text


def test_bidi_overrides_and_control_characters_never_reach_the_billing_message() -> None:
    # U+202E would show "...5.00 USD" of a name followed by the amount in reverse order.
    message = views.billing_message(
        allocation(partner_name="Acme\u202e\u2066 Corp\x00\x1b", note="ok\u202dnote\x07")
    )
    shown = all_text(message) + message["text"]
    for char in ("\u202e", "\u2066", "\u202d", "\x00", "\x1b", "\x07"):
        assert char not in shown
    assert "*Partner*\nAcme Corp" in shown
    assert ">oknote" in shown


def test_right_to_left_names_are_kept() -> None:
    shown = all_text(views.billing_message(allocation(partner_name="שלום עולם")))
    assert "*Partner*\nשלום עולם" in shown


# ------------------------------------------------------------- what an approver checks


def _checked(status: str = "pending", **changes: Any) -> AllocationSummary:
    facts: dict[str, Any] = {
        "payment_reference": "Wire 4471 <for> INV-1001",
        "payment_received_on": dt.date(2026, 11, 1),
        "invoice_amount": 100_000,
        "invoice_due_on": dt.date(2026, 11, 20),
        "as_of": dt.date(2026, 11, 24),
    }
    return allocation(status, **{**facts, **changes})


def test_billing_message_shows_the_payment_reference_and_the_invoice_total_and_due_date() -> None:
    text = all_text(views.billing_message(_checked()))
    assert "*Payment*\nPAY-1\nreceived 2026-11-01\nref Wire 4471 &lt;for&gt; INV-1001" in text
    assert "*Invoice*\nINV-1001\ntotal 1,000.00 USD\ndue 2026-11-20 · ⚠️ *overdue* by 4 days" in text


def test_overdue_is_said_only_while_pending_and_only_after_the_due_date() -> None:
    assert "overdue" not in all_text(views.billing_message(_checked(as_of=dt.date(2026, 11, 20))))
    assert "overdue by 1 day" in all_text(
        views.billing_message(_checked(as_of=dt.date(2026, 11, 21)))
    ).replace("*", "")
    assert "overdue" not in all_text(views.billing_message(_checked("approved")))


def test_billing_message_links_the_invoice_when_a_template_is_set() -> None:
    message = views.billing_message(
        _checked(invoice_id="INV 7/8|<x>&y"),
        invoice_url_template="https://erp.example.com/invoices/{invoice_id}?tab=lines&x=1",
    )
    text = all_text(message)
    assert (
        "*Invoice*\n<https://erp.example.com/invoices/INV%207%2F8%7C%3Cx%3E%26y"
        "?tab=lines&amp;x=1|INV 7/8|&lt;x&gt;&amp;y>"
    ) in text
    assert "<https://" not in views.billing_message(_checked())["text"]
    assert "<https://" not in all_text(views.billing_message(_checked()))


@pytest.mark.parametrize(
    "template", [None, "", "ftp://erp/{invoice_id}", "https://erp.example.com/no-placeholder"]
)
def test_no_usable_template_means_no_link(template: str | None) -> None:
    text = all_text(views.billing_message(_checked(), invoice_url_template=template))
    assert "*Invoice*\nINV-1001\n" in text and "<http" not in text


@pytest.mark.parametrize("status", ["rejected", "cancelled"])
def test_a_request_that_changed_nothing_shows_no_after_this_change(status: str) -> None:
    text = all_text(views.billing_message(_checked(status)))
    assert "After this change" not in text and "Balances now" not in text
    assert "Nothing was posted: the 125.00 USD held on PAY-1 and INV-1001 was released." in text


@pytest.mark.parametrize("status", ["approved", "reversed"])
def test_a_posted_decision_shows_after_this_change(status: str) -> None:
    assert "*After this change*" in all_text(views.billing_message(_checked(status)))


# ------------------------------------------------------- the requester's DMs are complete


@pytest.mark.parametrize("status", ["pending", "approved", "rejected", "cancelled", "reversed"])
def test_notification_texts_have_no_mrkdwn(status: str) -> None:
    for builder in (views.receipt_message, views.decision_message):
        text = builder(allocation(status))["text"]
        assert "*" not in text and "<!date" not in text and "`" not in text, text
        assert "#7" in text  # the outbox audit finds the allocation by it


@pytest.mark.parametrize(
    ("status", "words"),
    [
        ("approved", ["<@U02>", DECIDED_TOKEN, "INV-1001 has *695.00 USD* left to pay."]),
        (
            "rejected",
            ["<@U02>", DECIDED_TOKEN, "Wrong invoice: this wire was for INV-1002", "available"],
        ),
        ("reversed", ["<@U03>", "Bank recalled the wire", "820.00 USD left to pay again"]),
        ("cancelled", [DECIDED_TOKEN, "The 125.00 USD is available on PAY-1 again."]),
    ],
)
def test_a_decided_receipt_says_all_the_decision_message_says(
    status: str, words: list[str]
) -> None:
    receipt = all_text(views.receipt_message(allocation(status)))
    decision = all_text(views.decision_message(allocation(status)))
    for word in words:
        assert word in receipt, word
        assert word in decision, word


# ----------------------------------------------------------------- the list and history


def test_only_the_first_allocate_button_is_primary() -> None:
    held = payment("PAY-0", amount=10_000, allocated=4_000, pending=6_000)
    message = views.payments_message([held] + [payment(f"PAY-{n}") for n in range(1, 36)])
    styles = [b.get("style") for b in actions(message).values()]
    assert styles.count("primary") == 1
    assert actions(message)["open_allocation:PAY-1"]["style"] == "primary"


def test_a_long_list_pages_with_next_and_previous() -> None:
    payments = [
        payment(f"PAY-{n:03d}", received_on=dt.date(2026, 1, 1) + dt.timedelta(days=n))
        for n in range(120)
    ]
    seen: list[str] = []
    for page in (1, 2, 3):
        message = views.payments_message(payments, page=page)
        buttons = actions(message)
        seen += [a.split(":", 1)[1] for a in buttons if a.startswith("open_allocation:")]
        assert ("payments_page:previous" in buttons) == (page > 1)
        assert ("payments_page:next" in buttons) == (page < 3)
        assert f"page {page} of 3" in all_text(message)
    assert seen == [f"PAY-{n:03d}" for n in range(120)]
    assert views.payments_message(payments, page=99) == views.payments_message(payments, page=3)
    assert views.payments_message(payments, page=0) == views.payments_message(payments, page=1)
    assert "payments_page" not in str(views.payments_message(payments[:10]))


def test_history_offers_the_receipts_cancel_on_pending_requests_only() -> None:
    message = views.history_message(
        [allocation("pending"), allocation("approved", allocation_id=8)]
    )
    buttons = actions(message)
    assert set(buttons) == {"cancel_allocation:7"}
    receipt_cancel = actions(views.receipt_message(allocation("pending")))["cancel_allocation:7"]
    assert buttons["cancel_allocation:7"] == receipt_cancel


# -------------------------------------------------------------- the modal follows the invoice


def test_a_chosen_invoice_sets_the_amount_to_the_lesser_of_both_under_a_new_block_id() -> None:
    chosen = payment()  # 1,250.00 USD left
    small = invoice("INV-7", amount_due=40_000)
    view = views.allocation_modal(
        [chosen],
        selected=chosen,
        invoice=small,
        amount_block=views.amount_block_id("PAY-1", "INV-7"),
    )
    blocks = blocks_by_id(view)
    assert "amount" not in blocks
    amount = blocks["amount:PAY-1:INV-7"]
    assert amount["element"]["action_id"] == "amount"
    assert amount["element"]["initial_value"] == "400.00"
    assert amount["hint"]["text"].startswith(
        "Up to 400.00 USD: PAY-1 has 1,250.00 USD left and INV-7 has 400.00 USD open."
    )
    select = blocks["invoice"]["element"]
    assert select["initial_option"] == views.invoice_options([small])["options"][0]
    assert blocks["invoice"]["dispatch_action"] is True


@pytest.mark.parametrize(
    ("currency", "hint"),
    [
        ("JPY", "A whole number of JPY in digits, no commas or currency symbols."),
        ("USD", "Digits with up to 2 decimals after a point, no commas or currency symbols."),
        ("KWD", "Digits with up to 3 decimals after a point, no commas or currency symbols."),
    ],
)
def test_the_amount_hint_speaks_of_the_currencys_decimals(currency: str, hint: str) -> None:
    chosen = payment(currency=currency)
    amount = blocks_by_id(views.allocation_modal([chosen], selected=chosen))["amount"]
    assert amount["hint"]["text"].endswith(hint)
