"""The modals: the allocation form and its invoice options, the reject form, a notice."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from models.limits import MAX_NOTE, MAX_REASON
from models.schemas import AllocationSummary, InvoiceSummary, PaymentSummary
from slackbot.money import currency_exponent, format_amount, to_decimal_string
from slackbot.slack.ids import BlockId, CallbackId, is_amount_block
from slackbot.slack.views.blocks import context_block, plain_text, section
from slackbot.slack.views.partner import oldest_first, unique_payments
from slackbot.slack.views.text import (
    MODAL_TITLE_MAX,
    NAME_BUDGET,
    NOTE_BUDGET,
    OPTION_TEXT_MAX,
    OPTIONS_MAX,
    PRIVATE_METADATA_MAX,
    REFERENCE_BUDGET,
    SECTION_TEXT_MAX,
    as_mrkdwn,
    clip,
    clip_middle,
    md,
    md_line,
    mention,
    one_line,
    quote,
    units,
)


def amount_hint(currency: str | None) -> str:
    """How to type an amount in this currency (a zero-decimal one has no decimals to mention)."""
    if currency is None:
        return "Digits with an optional decimal point, no commas or currency symbols."
    exponent = currency_exponent(currency)
    if exponent == 0:
        return f"A whole number of {currency} in digits, no commas or currency symbols."
    return f"Digits with up to {exponent} decimals after a point, no commas or currency symbols."


def allocation_modal(
    payments: Sequence[PaymentSummary],
    *,
    selected: PaymentSummary | None,
    private_metadata: str = "",
    invoice: InvoiceSummary | None = None,
    amount_block: str = BlockId.AMOUNT,
) -> dict[str, Any]:
    """The form to request an allocation: payment, invoice, amount, note.

    Choosing a payment or an invoice sends ``block_actions`` (``dispatch_action``) so the
    handler can re-render this modal with ``selected`` and ``invoice`` set: the amount then
    starts at the lesser of what the payment and the invoice have left, in an ``amount_block``
    named by :func:`amount_block_id` so Slack shows the new value.
    """
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        # Cutting it would corrupt what the handler reads back; that is a bug to surface.
        raise ValueError(
            f"private_metadata is {len(private_metadata)} characters; Slack allows 3000"
        )
    candidates = unique_payments(payments)
    if selected is not None:
        # Slack refuses an initial_option that differs in any way from its option, so the
        # selected payment's own snapshot stands in for its entry in the list.
        if any(p.payment_id == selected.payment_id for p in candidates):
            candidates = [
                selected if p.payment_id == selected.payment_id else p for p in candidates
            ]
        else:
            candidates.insert(0, selected)
    if not candidates:
        return notice_modal(
            "Allocate a payment",
            "You have no payments with money left to allocate. Type `/payments` to see yours.",
        )

    offered = _first_payments(candidates, selected)
    payment_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": BlockId.PAYMENT,
        "placeholder": plain_text("Choose a payment", 150),
    }
    partners: dict[str, str] = {}
    for payment in offered:
        partners.setdefault(payment.partner_id, payment.partner_name)
    if len(partners) > 1:
        payment_select["option_groups"] = [
            {
                "label": plain_text(one_line(name) or partner_id, OPTION_TEXT_MAX),
                "options": [_payment_option(p) for p in offered if p.partner_id == partner_id],
            }
            for partner_id, name in partners.items()
        ]
    else:
        payment_select["options"] = [_payment_option(p) for p in offered]
    if selected is not None:
        payment_select["initial_option"] = _payment_option(selected)

    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": BlockId.PAYMENT,
            "dispatch_action": True,
            "label": plain_text("Payment", 2000),
            "element": payment_select,
        },
        context_block(_selected_payment_summary(selected)),
    ]
    if len(offered) < len(candidates):
        blocks.append(
            context_block(
                f"Showing {len(offered):,} of {len(candidates):,} payments (the oldest). For"
                " another one, close this and type `/payments allocate PAYMENT_ID`."
            )
        )

    invoice_hint = "Open invoices of the chosen payment's partner, in its currency."
    if selected is not None:
        invoice_hint = (
            f"Open invoices of {clip(one_line(selected.partner_name), NAME_BUDGET)}"
            f" in {selected.currency}. Type part of the number or an amount to narrow the list."
        )
    amount_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": BlockId.AMOUNT,
        "placeholder": plain_text("e.g. 1250.00", 150),
    }
    amount_label = "Amount"
    hint = amount_hint(selected.currency if selected is not None else None)
    if selected is not None:
        amount_label = f"Amount ({selected.currency})"
        currency = selected.currency
        suggested = selected.unallocated
        limit = f"Up to {format_amount(selected.unallocated, currency)}."
        if invoice is not None and invoice.currency == currency:
            suggested = min(selected.unallocated, invoice.open_amount)
            limit = (
                f"Up to {format_amount(suggested, currency)}:"
                f" {clip(one_line(selected.payment_id), 64)} has"
                f" {format_amount(selected.unallocated, currency)} left and"
                f" {clip(one_line(invoice.invoice_id), 64)} has"
                f" {format_amount(invoice.open_amount, currency)} open."
            )
        hint = f"{limit} {hint}"
        if suggested > 0:
            amount_element["initial_value"] = to_decimal_string(suggested, currency)
            amount_element["placeholder"] = plain_text(
                f"e.g. {to_decimal_string(suggested, currency)}", 150
            )
    invoice_select: dict[str, Any] = {
        "type": "external_select",
        "action_id": BlockId.INVOICE,
        "min_query_length": 0,
        "placeholder": plain_text("Type an invoice number or amount", 150),
    }
    if invoice is not None:
        # The choice survives the re-render; the options load offers the same option text.
        invoice_select["initial_option"] = {
            "text": plain_text(invoice_label(invoice), OPTION_TEXT_MAX),
            "value": invoice.invoice_id,
        }
    blocks += [
        {
            "type": "input",
            "block_id": BlockId.INVOICE,
            # Choosing an invoice redraws the modal so the amount follows it.
            "dispatch_action": True,
            "label": plain_text("Invoice", 2000),
            "hint": plain_text(invoice_hint, 2000),
            "element": invoice_select,
        },
        {
            "type": "input",
            "block_id": amount_block if is_amount_block(amount_block) else BlockId.AMOUNT,
            "label": plain_text(amount_label, 2000),
            "hint": plain_text(hint, 2000),
            "element": amount_element,
        },
        {
            "type": "input",
            "block_id": BlockId.NOTE,
            "optional": True,
            "label": plain_text("Note for billing", 2000),
            "hint": plain_text("Anything billing should know to approve this quickly.", 2000),
            "element": {
                "type": "plain_text_input",
                "action_id": BlockId.NOTE,
                "multiline": True,
                "max_length": MAX_NOTE,
            },
        },
        context_block(
            "Billing approves or rejects each request. Until then the amount is held; you get a"
            " direct message with the decision."
        ),
    ]
    return {
        "type": "modal",
        "callback_id": CallbackId.ALLOCATION_MODAL,
        "title": plain_text("Allocate a payment", MODAL_TITLE_MAX),
        "submit": plain_text("Request", MODAL_TITLE_MAX),
        "close": plain_text("Cancel", MODAL_TITLE_MAX),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def _first_payments(
    payments: Sequence[PaymentSummary], selected: PaymentSummary | None
) -> list[PaymentSummary]:
    """At most 100 payments (Slack's limit for a select), the oldest, ``selected`` among them."""
    if len(payments) <= OPTIONS_MAX:
        return list(payments)
    keep = {p.payment_id for p in oldest_first(payments)[:OPTIONS_MAX]}
    if selected is not None and selected.payment_id not in keep:
        keep.remove(oldest_first([p for p in payments if p.payment_id in keep])[-1].payment_id)
        keep.add(selected.payment_id)
    # The order the caller chose (by partner, then oldest) is the order people scan.
    return [p for p in payments if p.payment_id in keep]


def _payment_option(payment: PaymentSummary) -> dict[str, Any]:
    suffix = f" · {format_amount(payment.unallocated, payment.currency)} left"
    room = OPTION_TEXT_MAX - units(suffix)
    label = clip_middle(one_line(payment.payment_id), room) + suffix
    return {"text": plain_text(label, OPTION_TEXT_MAX), "value": payment.payment_id}


def _selected_payment_summary(selected: PaymentSummary | None) -> str:
    if selected is None:
        return "Choose a payment to see its reference and what is already pending."
    parts = [
        f"*{md_line(selected.partner_name, NAME_BUDGET)}*",
        f"received {selected.received_on.isoformat()}",
    ]
    reference = one_line(selected.reference)
    parts.append(f"ref {md(reference, REFERENCE_BUDGET)}" if reference else "no reference")
    if selected.pending > 0:
        parts.append(
            f"🕒 {format_amount(selected.pending, selected.currency)} already pending in other"
            " requests"
        )
    else:
        parts.append("nothing pending")
    parts.append(f"*{format_amount(selected.unallocated, selected.currency)}* left to allocate")
    return " · ".join(parts)


def invoice_options(invoices: Sequence[InvoiceSummary]) -> dict[str, Any]:
    """The invoice select's options load: at most 100, each "INV-1 · 820.00 USD due · due …"."""
    seen: set[str] = set()
    options: list[dict[str, Any]] = []
    for invoice in invoices:
        if invoice.invoice_id in seen:
            continue
        seen.add(invoice.invoice_id)
        options.append(
            {
                "text": plain_text(invoice_label(invoice), OPTION_TEXT_MAX),
                "value": invoice.invoice_id,
            }
        )
        if len(options) == OPTIONS_MAX:
            break
    return {"options": options}


def invoice_label(invoice: InvoiceSummary) -> str:
    """The fullest wording that fits 75 characters; when none does, the id is what gets clipped."""
    currency = invoice.currency
    due_on = f"due {invoice.due_on.isoformat()}"
    if invoice.pending > 0:
        # What can still be applied is the open amount; the rest is held by pending requests.
        left = f"{format_amount(invoice.open_amount, currency)} open"
        wordings = [
            [left, f"{format_amount(invoice.pending, currency)} pending", due_on],
            [left, "part pending", due_on],
            [left, "part pending"],
        ]
    else:
        left = f"{format_amount(invoice.open_amount, currency)} due"
        wordings = [[left, due_on], [left]]
    invoice_id = one_line(invoice.invoice_id)
    for tail in wordings:
        label = " · ".join([invoice_id, *tail])
        if units(label) <= OPTION_TEXT_MAX:
            return label
    suffix = " · " + " · ".join(wordings[-1])
    return clip_middle(invoice_id, OPTION_TEXT_MAX - units(suffix)) + suffix


def reject_modal(
    allocation: AllocationSummary, *, metadata: Mapping[str, str | int] | None = None
) -> dict[str, Any]:
    """Asks the approver why; the requester reads the reason word for word.

    ``metadata`` lets the handler carry more (say, the billing message's channel and ts) in
    ``private_metadata``; ``allocation_id`` is always the allocation's own.
    """
    a = allocation
    carried: dict[str, str | int] = dict(metadata or {})
    carried["allocation_id"] = a.allocation_id
    private_metadata = json.dumps(carried, separators=(",", ":"), ensure_ascii=False)
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        raise ValueError("reject_modal metadata does not fit Slack's 3000 characters")
    summary = (
        f"*Request #{a.allocation_id}* from {mention(a.requested_by)}"
        f" ({md_line(a.partner_name, NAME_BUDGET)}): apply"
        f" *{format_amount(a.amount, a.currency)}* from {md_line(a.payment_id, 64)} to"
        f" {md_line(a.invoice_id, 64)}."
    )
    blocks: list[dict[str, Any]] = [section(summary)]
    if a.note:
        blocks.append(section(f"*Their note*\n{quote(a.note, NOTE_BUDGET)}"))
    blocks.append(
        {
            "type": "input",
            "block_id": BlockId.REASON,
            "label": plain_text("Reason", 2000),
            "hint": plain_text(
                "The requester reads this in a direct message. Say what to fix or do instead.",
                2000,
            ),
            "element": {
                "type": "plain_text_input",
                "action_id": BlockId.REASON,
                "multiline": True,
                "max_length": MAX_REASON,
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": CallbackId.REJECT_MODAL,
        "title": plain_text("Reject request", MODAL_TITLE_MAX),
        "submit": plain_text("Reject", MODAL_TITLE_MAX),
        "close": plain_text("Cancel", MODAL_TITLE_MAX),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def notice_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only tells the person something (no submit), e.g. inside a modal flow."""
    # Slack refuses a section with no text; a notice of nothing but control characters is one.
    body = as_mrkdwn(text, SECTION_TEXT_MAX)
    return {
        "type": "modal",
        "title": plain_text(one_line(title) or "Payments", MODAL_TITLE_MAX),
        "close": plain_text("Close", MODAL_TITLE_MAX),
        "blocks": [section(body if body.strip() else "—")],
    }
