"""The billing channel's message for a request: the facts an approver checks, then the buttons."""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from models.enums import AllocationStatus, LineChoice
from models.limits import MAX_REQUEST_LINES
from models.schemas import AllocationLine, AllocationSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.ledger.rules import left_to_pay_if_approved
from slackbot.money import format_amount
from slackbot.slack.ids import ActionId, suffixed
from slackbot.slack.views.blocks import (
    STATUS_WORD,
    button,
    confirm_dialog,
    context_block,
    header,
    mrkdwn_text,
    outcome_line,
    section,
)
from slackbot.slack.views.text import (
    NAME_BUDGET,
    NOTE_BUDGET,
    REASON_BUDGET,
    REFERENCE_BUDGET,
    clean,
    count,
    fallback,
    local_time,
    md,
    md_line,
    mention,
    one_line,
    quote,
)


def billing_message(
    allocation: AllocationSummary,
    *,
    invoice_url_template: str | None = None,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """The request as billing sees it: the facts, then Approve/Reject while it is pending.

    The facts are what an approver checks: the payment's reference and date, the invoice's
    total, due date and whether it is overdue, and (with ``invoice_url_template``, the
    ``INVOICE_URL_TEMPLATE`` setting) a link to the invoice in the ERP.
    """
    a = allocation
    if len(a.lines) > 1:
        return _request_message(a, invoice_url_template)
    amount = format_amount(a.amount, a.currency)
    blocks: list[dict[str, Any]] = [
        header(f"Allocation request #{a.allocation_id}"),
        {
            "type": "section",
            "fields": [
                mrkdwn_text(f"*Partner*\n{md_line(a.partner_name, NAME_BUDGET)}"),
                mrkdwn_text(f"*Requested by*\n{mention(a.requested_by)}"),
                mrkdwn_text(f"*Amount*\n{amount}"),
                mrkdwn_text(f"*Requested*\n{local_time(a.requested_at)}"),
                mrkdwn_text(_payment_field(a)),
                mrkdwn_text(_invoice_field(a, invoice_url_template)),
            ],
        },
    ]
    balances = _balances_text(a)
    if balances:
        blocks.append(section(balances))
    if a.note:
        blocks.append(
            section(f"*Note from {mention(a.requested_by)}*\n{quote(a.note, NOTE_BUDGET)}")
        )
    if a.chosen is not None:
        blocks.append(context_block(f"Chosen {CHOSEN_WORDS[a.chosen]}."))
    blocks += _decision_blocks(a, f"{one_line(a.payment_id)} to {one_line(a.invoice_id)}")
    status = STATUS_WORD.get(a.status, a.status)
    text = (
        f"Allocation request #{a.allocation_id} from {md_line(a.partner_name, NAME_BUDGET)}:"
        f" {amount} from {md_line(a.payment_id, 64)} to {md_line(a.invoice_id, 64)}"
        f" ({status})"
    )
    return {"text": fallback(text), "blocks": blocks}


CHOSEN_WORDS: dict[LineChoice, str] = {
    LineChoice.SUGGESTED: "as suggested by the bot",
    LineChoice.EDITED: "edited from the bot's suggestion",
    LineChoice.BY_HAND: "by hand (no suggestion used)",
}


def _decision_blocks(a: AllocationSummary, what: str) -> list[dict[str, Any]]:
    """Approve and Reject while pending (one pair for the whole request), else the outcome."""
    amount = format_amount(a.amount, a.currency)
    blocks: list[dict[str, Any]] = []
    if a.status == AllocationStatus.PENDING:
        blocks.append(context_block("🕒 Waiting for a billing approver."))
        # One actions block holds both buttons; its block_id repeats the approve action's name
        # (the block's first action), and each action carries the allocation id after a colon
        # because Slack wants action ids unique within a message.
        approve_id = suffixed(ActionId.APPROVE_ALLOCATION, a.allocation_id)
        reject_id = suffixed(ActionId.REJECT_ALLOCATION, a.allocation_id)
        confirm = confirm_dialog(
            f"Approve request #{a.allocation_id}?",
            f"Apply {amount} from {what} for {one_line(a.partner_name)}. This posts to the ledger.",
            "Approve",
            "Back",
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": approve_id,
                "elements": [
                    button(
                        "Approve",
                        approve_id,
                        str(a.allocation_id),
                        style="primary",
                        confirm=confirm,
                    ),
                    button("Reject…", reject_id, str(a.allocation_id), style="danger"),
                ],
            }
        )
    else:
        outcome = outcome_line(a, reason_budget=REASON_BUDGET)
        if a.status in (AllocationStatus.REJECTED, AllocationStatus.CANCELLED):
            where = (
                md_line(a.invoice_id, 64)
                if len(a.lines) <= 1
                else f"its {count(len(a.lines), 'invoice')}"
            )
            outcome += (
                f"\nNothing was posted: the {amount} held on {md_line(a.payment_id, 64)} and"
                f" {where} was released."
            )
        blocks.append(section(outcome))
    return blocks


def _request_message(a: AllocationSummary, url_template: str | None) -> dict[str, Any]:
    """A request of several lines: one section per line, the total, one Approve and Reject."""
    amount = format_amount(a.amount, a.currency)
    chosen = CHOSEN_WORDS[a.chosen] if a.chosen is not None else "not recorded"
    blocks: list[dict[str, Any]] = [
        header(f"Allocation request #{a.allocation_id} · {count(len(a.lines), 'invoice')}"),
        {
            "type": "section",
            "fields": [
                mrkdwn_text(f"*Partner*\n{md_line(a.partner_name, NAME_BUDGET)}"),
                mrkdwn_text(f"*Requested by*\n{mention(a.requested_by)}"),
                mrkdwn_text(f"*Total*\n{amount} in {count(len(a.lines), 'line')}"),
                mrkdwn_text(f"*Requested*\n{local_time(a.requested_at)}"),
                mrkdwn_text(_payment_field(a)),
                mrkdwn_text(f"*Lines chosen*\n{chosen}"),
            ],
        },
    ]
    for number, line in enumerate(a.lines, start=1):
        blocks.append(section(_line_text(a, number, line, url_template)))
    balances = _request_balances_text(a)
    if balances:
        blocks.append(section(balances))
    if a.note:
        blocks.append(
            section(f"*Note from {mention(a.requested_by)}*\n{quote(a.note, NOTE_BUDGET)}")
        )
    blocks += _decision_blocks(a, f"{one_line(a.payment_id)} to {count(len(a.lines), 'invoice')}")
    status = STATUS_WORD.get(a.status, a.status)
    named = ", ".join(md_line(line.invoice_id, 64) for line in a.lines[:MAX_REQUEST_LINES])
    text = (
        f"Allocation request #{a.allocation_id} from {md_line(a.partner_name, NAME_BUDGET)}:"
        f" {amount} from {md_line(a.payment_id, 64)} to {count(len(a.lines), 'invoice')}"
        f" ({named}) ({status})"
    )
    return {"text": fallback(text), "blocks": blocks}


def _line_text(
    a: AllocationSummary, number: int, line: AllocationLine, url_template: str | None
) -> str:
    """One line as an approver checks it: the invoice (linked), the amount, its total, due
    date and whether it is overdue, what it has left and would have left."""
    currency = a.currency
    invoice_id = md_line(line.invoice_id, 64)
    url = invoice_url(url_template, line.invoice_id)
    shown = f"<{url}|{invoice_id}>" if url else invoice_id
    first = (
        f"*{number}.* {shown} · *{format_amount(line.amount, currency)}*"
        f" · total {format_amount(line.invoice_amount, currency)}"
        f" · due {line.invoice_due_on.isoformat()}"
    )
    late = (
        (a.as_of - line.invoice_due_on).days
        if a.as_of is not None
        and a.status == AllocationStatus.PENDING
        and line.invoice_amount_due > 0
        else 0
    )
    if late > 0:
        first += f" · ⚠️ *overdue* by {count(late, 'day')}"
    if a.status in (AllocationStatus.REJECTED, AllocationStatus.CANCELLED):
        return first
    left = f"{format_amount(line.invoice_amount_due, currency)} left to pay"
    if a.status == AllocationStatus.PENDING:
        if line.invoice_pending > 0:
            left += (
                f" ({format_amount(line.invoice_pending, currency)} of it pending, this line"
                " included)"
            )
        after = max(0, line.invoice_amount_due - line.amount)
        left += f"; if approved, {format_amount(after, currency)}"
    return f"{first}\n{left}"


def _request_balances_text(a: AllocationSummary) -> str:
    """What the payment has now (pending) or after the decision posted (approved, reversed)."""
    if a.status in (AllocationStatus.REJECTED, AllocationStatus.CANCELLED):
        return ""
    payment_id = md_line(a.payment_id, 64)
    included = " (this request included)" if a.status == AllocationStatus.PENDING else ""
    payment_line = (
        f"{payment_id} has *{format_amount(a.payment_unallocated, a.currency)}* left to allocate"
    )
    if a.payment_pending > 0:
        payment_line += (
            f", {format_amount(a.payment_pending, a.currency)} pending approval{included}"
        )
    heading = "*Balances now*" if a.status == AllocationStatus.PENDING else "*After this change*"
    return f"{heading}\n{payment_line}."


def _payment_field(a: AllocationSummary) -> str:
    lines = [f"*Payment*\n{md_line(a.payment_id, 64)}"]
    if a.payment_received_on is not None:
        lines.append(f"received {a.payment_received_on.isoformat()}")
    reference = one_line(a.payment_reference)
    lines.append(f"ref {md(reference, REFERENCE_BUDGET)}" if reference else "no reference")
    return "\n".join(lines)


def _invoice_field(a: AllocationSummary, url_template: str | None) -> str:
    invoice_id = md_line(a.invoice_id, 64)
    url = invoice_url(url_template, a.invoice_id)
    lines = [f"*Invoice*\n<{url}|{invoice_id}>" if url else f"*Invoice*\n{invoice_id}"]
    if a.invoice_amount is not None:
        lines.append(f"total {format_amount(a.invoice_amount, a.currency)}")
    if a.invoice_due_on is not None:
        due = f"due {a.invoice_due_on.isoformat()}"
        late = (
            (a.as_of - a.invoice_due_on).days
            if a.as_of is not None
            and a.status == AllocationStatus.PENDING
            and a.invoice_amount_due > 0
            else 0
        )
        if late > 0:
            due += f" · ⚠️ *overdue* by {count(late, 'day')}"
        lines.append(due)
    return "\n".join(lines)


# Characters that would end or split a ``<url|label>`` link, and blanks, are percent-encoded in
# the URL; ``&`` is written as ``&amp;``, as Slack reads every mrkdwn text.
_URL_BREAKERS = {"<": "%3C", ">": "%3E", "|": "%7C", " ": "%20", "\n": "%0A", '"': "%22"}


def invoice_url(template: str | None, invoice_id: str) -> str | None:
    """The invoice's page in the ERP: the id URL-encoded into ``{invoice_id}`` of ``template``."""
    if not template or "{invoice_id}" not in template:
        return None
    if not re.match(r"^https?://[^/\s|<>]+", template):
        return None
    encoded = urllib.parse.quote(one_line(invoice_id), safe="")
    url = "".join(_URL_BREAKERS.get(ch, ch) for ch in clean(template))
    url = url.replace("{invoice_id}", encoded).replace("&", "&amp;")
    return url if len(url) <= 1500 else None


def _balances_text(a: AllocationSummary) -> str:
    """What the payment and invoice have now (pending) or after the decision posted (approved,
    reversed). A rejection or a cancellation changed nothing, so it shows none."""
    if a.status in (AllocationStatus.REJECTED, AllocationStatus.CANCELLED):
        return ""
    payment_id, invoice_id = md_line(a.payment_id, 64), md_line(a.invoice_id, 64)
    included = " (this request included)" if a.status == AllocationStatus.PENDING else ""
    payment_line = (
        f"• {payment_id} has *{format_amount(a.payment_unallocated, a.currency)}* left to allocate"
    )
    if a.payment_pending > 0:
        payment_line += (
            f", {format_amount(a.payment_pending, a.currency)} pending approval{included}"
        )
    invoice_line = (
        f"• {invoice_id} has *{format_amount(a.invoice_amount_due, a.currency)}* left to pay"
    )
    if a.invoice_pending > 0:
        invoice_line += (
            f", {format_amount(a.invoice_pending, a.currency)} of it pending approval{included}"
        )
    # A pending request's message is edited whenever another change moves these balances.
    heading = "*Balances now*" if a.status == AllocationStatus.PENDING else "*After this change*"
    lines = [heading, payment_line, invoice_line]
    if a.status == AllocationStatus.PENDING:
        after = left_to_pay_if_approved(a)
        lines.append(
            f"If approved, {invoice_id} will have {format_amount(after, a.currency)} left to pay."
        )
    return "\n".join(lines)
