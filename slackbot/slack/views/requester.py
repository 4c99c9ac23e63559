"""What the requester reads: the receipt, the decision, and the short answers to their clicks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from models.enums import AllocationStatus
from models.schemas import AllocationSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.money import format_amount
from slackbot.slack.ids import ActionId, suffixed
from slackbot.slack.views.blocks import (
    STATUS_EMOJI,
    STATUS_WORD,
    cancel_button,
    context_block,
    outcome_line,
    section,
)
from slackbot.slack.views.text import (
    HISTORY_NOTE_BUDGET,
    NAME_BUDGET,
    REASON_BUDGET,
    Mrkdwn,
    count,
    fallback,
    local_time,
    md_line,
    mention,
    one_line,
    quote,
    utc_time,
)


def _invoices(a: AllocationSummary) -> str:
    """What the request pays: its one invoice, or how many (the lines are listed apart)."""
    if len(a.lines) > 1:
        return count(len(a.lines), "invoice")
    return md_line(a.invoice_id, 64)


def _request_phrase(a: AllocationSummary) -> str:
    return (
        f"request #{a.allocation_id} to apply *{format_amount(a.amount, a.currency)}* from"
        f" *{md_line(a.payment_id, 64)}* to *{_invoices(a)}*"
    )


def _plain_request_phrase(a: AllocationSummary) -> str:
    """The same words for a notification: Slack shows ``text`` there with no markup applied."""
    return (
        f"request #{a.allocation_id} to apply {format_amount(a.amount, a.currency)} from"
        f" {md_line(a.payment_id, 64)} to {_invoices(a)}"
    )


def lines_text(a: AllocationSummary) -> str:
    """The request's lines, one per row: the invoice, the amount, and (once approved or
    reversed) what the invoice has left to pay."""
    rows = []
    for number, line in enumerate(a.lines, start=1):
        row = (
            f"{number}. {md_line(line.invoice_id, 64)} · *{format_amount(line.amount, a.currency)}*"
        )
        if a.status in (AllocationStatus.APPROVED, AllocationStatus.REVERSED):
            if line.invoice_amount_due <= 0:
                row += " · now paid in full"
            else:
                row += f" · {format_amount(line.invoice_amount_due, a.currency)} left to pay"
        rows.append(row)
    return "\n".join(rows)


def _lines_blocks(a: AllocationSummary) -> list[dict[str, Any]]:
    return [section(lines_text(a))] if len(a.lines) > 1 else []


def _aftermath(a: AllocationSummary) -> str | None:
    """What the decision left: what the invoice has to pay, or that the money is back."""
    amount = format_amount(a.amount, a.currency)
    payment_id, invoice_id = md_line(a.payment_id, 64), md_line(a.invoice_id, 64)
    if len(a.lines) > 1 and a.status in (AllocationStatus.APPROVED, AllocationStatus.REVERSED):
        # Each line says what its invoice has left (:func:`lines_text`).
        left = format_amount(a.payment_unallocated, a.currency)
        return f"{payment_id} has {left} left to allocate."
    if a.status == AllocationStatus.APPROVED:
        if a.invoice_amount_due <= 0:
            return f"{invoice_id} is now paid in full."
        return f"{invoice_id} has *{format_amount(a.invoice_amount_due, a.currency)}* left to pay."
    if a.status == AllocationStatus.REJECTED:
        return (
            f"The {amount} is available on {payment_id} again. Type `/payments` to make a"
            " new request."
        )
    if a.status == AllocationStatus.CANCELLED:
        return f"The {amount} is available on {payment_id} again."
    if a.status == AllocationStatus.REVERSED:
        return (
            f"{invoice_id} has {format_amount(a.invoice_amount_due, a.currency)} left to pay"
            f" again; {payment_id} has {format_amount(a.payment_unallocated, a.currency)}"
            " left to allocate."
        )
    return None


def _notification_text(a: AllocationSummary) -> str:
    """A DM's ``text``: what a phone notification shows, so plain words (no bold, no tokens)."""
    amount = format_amount(a.amount, a.currency)
    payment_id, invoice_id = md_line(a.payment_id, 64), _invoices(a)
    if a.status == AllocationStatus.APPROVED:
        return (
            f"Request #{a.allocation_id} approved at {utc_time(a.decided_at)}: {amount} from"
            f" {payment_id} now pays {invoice_id}."
        )
    if a.status == AllocationStatus.REJECTED:
        reason = md_line(a.reason, 500) or "no reason given"
        return f"Request #{a.allocation_id} rejected at {utc_time(a.decided_at)}: {reason}"
    if a.status == AllocationStatus.REVERSED:
        reason = md_line(a.reversal_reason, 500) or "no reason given"
        return f"Request #{a.allocation_id} reversed at {utc_time(a.reversed_at)}: {reason}"
    if a.status == AllocationStatus.CANCELLED:
        return f"Request #{a.allocation_id} cancelled; {amount} is available on {payment_id}."
    return f"Your {_plain_request_phrase(a)} is waiting for billing approval."


def receipt_message(
    allocation: AllocationSummary, *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The requester's confirmation: waiting (with Cancel), or, re-rendered, the outcome.

    Once decided it says all that :func:`decision_message` says (outcome, who, when, the
    reason, what the invoice or payment has now): the decision edits this message in place and
    is then the only thing the requester reads about it.
    """
    a = allocation
    phrase = _request_phrase(a)
    details = f"{md_line(a.partner_name, NAME_BUDGET)} · requested {local_time(a.requested_at)}"
    if a.note:
        details += f" · your note: {md_line(a.note, HISTORY_NOTE_BUDGET)}"
    if a.status == AllocationStatus.PENDING:
        headline = f"🕒 Your {phrase} is waiting for billing approval."
        cancel_id = suffixed(ActionId.CANCEL_ALLOCATION, a.allocation_id)
        blocks: list[dict[str, Any]] = [
            section(headline),
            *_lines_blocks(a),
            context_block(details),
            {"type": "actions", "block_id": cancel_id, "elements": [cancel_button(a)]},
        ]
        return {"text": fallback(_notification_text(a)), "blocks": blocks}
    outcome = outcome_line(a, reason_budget=REASON_BUDGET)
    if a.status == AllocationStatus.CANCELLED:
        emoji = STATUS_EMOJI[AllocationStatus.CANCELLED]
        outcome = f"{emoji} You cancelled it at {local_time(a.decided_at)}."
    blocks = [section(f"Your {phrase}:\n{outcome}"), *_lines_blocks(a)]
    aftermath = _aftermath(a)
    if aftermath:
        blocks.append(section(aftermath))
    blocks.append(context_block(details))
    return {"text": fallback(_notification_text(a)), "blocks": blocks}


def decision_message(
    allocation: AllocationSummary, *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The direct message telling the requester what became of their request.

    Sent only when there is no receipt to edit; complete on its own.
    """
    a = allocation
    amount = format_amount(a.amount, a.currency)
    payment_id, invoice_id = md_line(a.payment_id, 64), _invoices(a)
    aftermath = _aftermath(a) or ""
    blocks: list[dict[str, Any]]
    if a.status == AllocationStatus.APPROVED:
        headline = (
            f"✅ Your request #{a.allocation_id} was approved by {mention(a.decided_by)} at"
            f" {local_time(a.decided_at)}: *{amount}* from {payment_id} now pays {invoice_id}."
        )
        blocks = [section(f"{headline}\n{aftermath}")]
    elif a.status == AllocationStatus.REJECTED:
        headline = (
            f"❌ Your {_request_phrase(a)} was rejected by {mention(a.decided_by)} at"
            f" {local_time(a.decided_at)}."
        )
        reason = quote(a.reason or "No reason given.", REASON_BUDGET)
        blocks = [section(headline), section(f"*Reason*\n{reason}"), context_block(aftermath)]
    elif a.status == AllocationStatus.REVERSED:
        headline = (
            f"⏪ Your approved {_request_phrase(a)} was reversed by {mention(a.reversed_by)}"
            f" at {local_time(a.reversed_at)}."
        )
        reason = quote(a.reversal_reason or "No reason given.", REASON_BUDGET)
        blocks = [section(headline), section(f"*Reason*\n{reason}"), context_block(aftermath)]
    elif a.status == AllocationStatus.CANCELLED:
        headline = f"↩️ You cancelled your {_request_phrase(a)} at {local_time(a.decided_at)}."
        blocks = [section(headline), context_block(aftermath)]
    else:
        headline = f"🕒 Your {_request_phrase(a)} is waiting for billing approval."
        blocks = [section(headline)]
    # The lines go right after the headline, whatever the outcome.
    blocks[1:1] = _lines_blocks(a)
    return {"text": fallback(_notification_text(a)), "blocks": blocks}


def already_decided_text(
    status: str,
    decided_by: str | None,
    decided_at: dt.datetime | None,
    *,
    plain: bool = False,
    locale: str = DEFAULT_LOCALE,
) -> str:
    """Why a click changed nothing: "Already approved by <@U2> at <date>. Nothing changed."

    ``plain=True`` gives the same without mentions or date tokens, for places Slack shows as
    plain text (a modal's ``response_action: errors``), where ``<@U2>`` would show raw.
    """
    if status == AllocationStatus.PENDING:
        return Mrkdwn("This request is still waiting for billing approval. Nothing changed.")
    if plain:
        word = STATUS_WORD.get(status, one_line(status)[:32]).lower()
        when = f" at {utc_time(decided_at)}" if decided_at else ""
        return f"Already {word}{when}. Nothing changed."
    word = STATUS_WORD.get(status, md_line(status, 32)).lower()
    who = f" by {mention(decided_by)}" if decided_by else ""
    when = f" at {local_time(decided_at)}" if decided_at else ""
    return Mrkdwn(f"Already {word}{who}{when}. Nothing changed.")


def request_sent_text(allocation: AllocationSummary, *, locale: str = DEFAULT_LOCALE) -> str:
    """What the allocation modal says once the request is recorded (for :func:`notice_modal`)."""
    a = allocation
    return Mrkdwn(
        f"✅ Request #{a.allocation_id} sent: *{format_amount(a.amount, a.currency)}* from"
        f" *{md_line(a.payment_id, 64)}* to *{_invoices(a)}* is waiting for"
        " billing approval. The amount is held until they decide.\n\nI've sent you a direct"
        " message with a *Cancel* button, and I'll message you again with their decision."
    )
