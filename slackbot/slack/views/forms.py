"""The small modals and options beside the allocation form: invoice options, reject, notice."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from models.limits import MAX_REASON
from models.schemas import AllocationSummary, InvoiceSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import FALLBACK_TEXT, texts
from slackbot.i18n.numbers import display_money, format_date, language_of
from slackbot.slack.ids import BlockId, CallbackId
from slackbot.slack.views.blocks import plain_text, section
from slackbot.slack.views.text import (
    MODAL_TITLE_MAX,
    NAME_BUDGET,
    NOTE_BUDGET,
    OPTION_TEXT_MAX,
    OPTIONS_MAX,
    PRIVATE_METADATA_MAX,
    SECTION_TEXT_MAX,
    as_mrkdwn,
    clip_middle,
    md_line,
    mention,
    one_line,
    quote,
    units,
)


def invoice_options(
    invoices: Sequence[InvoiceSummary], *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The invoice select's options load: at most 100, each "INV-1 · 820.00 USD due · due …"."""
    seen: set[str] = set()
    options: list[dict[str, Any]] = []
    for invoice in invoices:
        if invoice.invoice_id in seen:
            continue
        seen.add(invoice.invoice_id)
        options.append(
            {
                "text": plain_text(invoice_label(invoice, locale=locale), OPTION_TEXT_MAX),
                "value": invoice.invoice_id,
            }
        )
        if len(options) == OPTIONS_MAX:
            break
    return {"options": options}


def invoice_label(invoice: InvoiceSummary, *, locale: str = DEFAULT_LOCALE) -> str:
    """The fullest wording that fits 75 characters; when none does, the id is what gets clipped."""
    t = texts(locale)
    currency = invoice.currency
    day = (
        invoice.due_on.isoformat()
        if language_of(locale) == "en"
        else format_date(invoice.due_on, locale)
    )
    due_on = t.gettext("due {date}").format(date=day)
    open_amount = display_money(invoice.open_amount, currency, locale)
    if invoice.pending > 0:
        # What can still be applied is the open amount; the rest is held by pending requests.
        left = t.gettext("{amount} open").format(amount=open_amount)
        pending = t.gettext("{amount} pending").format(
            amount=display_money(invoice.pending, currency, locale)
        )
        part = t.gettext("part pending")
        wordings = [[left, pending, due_on], [left, part, due_on], [left, part]]
    else:
        left = t.gettext("{amount} due").format(amount=open_amount)
        wordings = [[left, due_on], [left]]
    invoice_id = one_line(invoice.invoice_id)
    for tail in wordings:
        label = " · ".join([invoice_id, *tail])
        if units(label) <= OPTION_TEXT_MAX:
            return label
    suffix = " · " + " · ".join(wordings[-1])
    return clip_middle(invoice_id, OPTION_TEXT_MAX - units(suffix)) + suffix


def reject_modal(
    allocation: AllocationSummary,
    *,
    metadata: Mapping[str, str | int] | None = None,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """Asks the approver why; the requester reads the reason word for word.

    ``metadata`` lets the handler carry more (say, the billing message's channel and ts) in
    ``private_metadata``; ``allocation_id`` is always the allocation's own.
    """
    t = texts(locale)
    a = allocation
    carried: dict[str, str | int] = dict(metadata or {})
    carried["allocation_id"] = a.allocation_id
    private_metadata = json.dumps(carried, separators=(",", ":"), ensure_ascii=False)
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        raise ValueError("reject_modal metadata does not fit Slack's 3000 characters")
    summary = t.gettext(
        "*Request #{id}* from {who} ({partner}): apply *{amount}* from {payment} to {invoice}."
    ).format(
        id=a.allocation_id,
        who=mention(a.requested_by, locale=locale),
        partner=md_line(a.partner_name, NAME_BUDGET),
        amount=display_money(a.amount, a.currency, locale),
        payment=md_line(a.payment_id, 64),
        invoice=md_line(a.invoice_id, 64),
    )
    blocks: list[dict[str, Any]] = [section(summary)]
    if a.note:
        blocks.append(section(f"{t.gettext('*Their note*')}\n{quote(a.note, NOTE_BUDGET)}"))
    blocks.append(
        {
            "type": "input",
            "block_id": BlockId.REASON,
            "label": plain_text(t.gettext("Reason"), 2000),
            "hint": plain_text(
                t.gettext(
                    "The requester reads this in a direct message. Say what to fix or do instead."
                ),
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
        "title": plain_text(t.gettext("Reject request"), MODAL_TITLE_MAX),
        "submit": plain_text(t.gettext("Reject"), MODAL_TITLE_MAX),
        "close": plain_text(t.gettext("Cancel"), MODAL_TITLE_MAX),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def notice_modal(title: str, text: str, *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """A modal that only tells the person something (no submit), e.g. inside a modal flow."""
    t = texts(locale)
    # Slack refuses a section with no text; a notice of nothing but control characters is one.
    body = as_mrkdwn(text, SECTION_TEXT_MAX)
    return {
        "type": "modal",
        "title": plain_text(one_line(title) or t.gettext(FALLBACK_TEXT), MODAL_TITLE_MAX),
        "close": plain_text(t.gettext("Close"), MODAL_TITLE_MAX),
        "blocks": [section(body if body.strip() else "—")],
    }
