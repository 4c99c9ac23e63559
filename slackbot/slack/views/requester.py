"""What the requester reads: the receipt, the decision, and the short answers to their clicks."""

from __future__ import annotations

import datetime as dt
from typing import Any

from models.enums import AllocationStatus
from models.schemas import AllocationSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import N_, texts
from slackbot.i18n.numbers import display_count, display_money
from slackbot.slack.ids import ActionId, suffixed
from slackbot.slack.views.blocks import (
    STATUS_EMOJI,
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
    fallback,
    local_time,
    md_line,
    mention,
    one_line,
    quote,
    utc_time,
)

# Why a click changed nothing, one sentence per outcome so every language agrees its words.
ALREADY_DECIDED: dict[str, str] = {
    AllocationStatus.APPROVED: N_("Already approved{who}{when}. Nothing changed."),
    AllocationStatus.REJECTED: N_("Already rejected{who}{when}. Nothing changed."),
    AllocationStatus.CANCELLED: N_("Already cancelled{who}{when}. Nothing changed."),
    AllocationStatus.REVERSED: N_("Already reversed{who}{when}. Nothing changed."),
}


def _invoices(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str:
    """What the request pays: its one invoice, or how many (the lines are listed apart)."""
    n = len(a.lines)
    if n > 1:
        return (
            texts(locale)
            .ngettext("{count} invoice", "{count} invoices", n)
            .format(count=display_count(n, locale))
        )
    return md_line(a.invoice_id, 64)


def _request_phrase(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str:
    return (
        texts(locale)
        .gettext("request #{id} to apply *{amount}* from *{payment}* to *{invoices}*")
        .format(
            id=a.allocation_id,
            amount=display_money(a.amount, a.currency, locale),
            payment=md_line(a.payment_id, 64),
            invoices=_invoices(a, locale),
        )
    )


def _plain_request_phrase(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str:
    """The same words for a notification: Slack shows ``text`` there with no markup applied."""
    return (
        texts(locale)
        .gettext("request #{id} to apply {amount} from {payment} to {invoices}")
        .format(
            id=a.allocation_id,
            amount=display_money(a.amount, a.currency, locale),
            payment=md_line(a.payment_id, 64),
            invoices=_invoices(a, locale),
        )
    )


def lines_text(a: AllocationSummary, *, locale: str = DEFAULT_LOCALE) -> str:
    """The request's lines, one per row: the invoice, the amount, and (once approved or
    reversed) what the invoice has left to pay."""
    t = texts(locale)
    rows = []
    for number, line in enumerate(a.lines, start=1):
        amount = display_money(line.amount, a.currency, locale)
        row = f"{number}. {md_line(line.invoice_id, 64)} · *{amount}*"
        if a.status in (AllocationStatus.APPROVED, AllocationStatus.REVERSED):
            if line.invoice_amount_due <= 0:
                row += " · " + t.gettext("now paid in full")
            else:
                row += " · " + t.gettext("{due} left to pay").format(
                    due=display_money(line.invoice_amount_due, a.currency, locale)
                )
        rows.append(row)
    return "\n".join(rows)


def _lines_blocks(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> list[dict[str, Any]]:
    return [section(lines_text(a, locale=locale))] if len(a.lines) > 1 else []


def _aftermath(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str | None:
    """What the decision left: what the invoice has to pay, or that the money is back."""
    t = texts(locale)
    amount = display_money(a.amount, a.currency, locale)
    payment_id, invoice_id = md_line(a.payment_id, 64), md_line(a.invoice_id, 64)
    left = display_money(a.payment_unallocated, a.currency, locale)
    due = display_money(a.invoice_amount_due, a.currency, locale)
    if len(a.lines) > 1 and a.status in (AllocationStatus.APPROVED, AllocationStatus.REVERSED):
        # Each line says what its invoice has left (:func:`lines_text`).
        return t.gettext("{payment} has {left} left to allocate.").format(
            payment=payment_id, left=left
        )
    if a.status == AllocationStatus.APPROVED:
        if a.invoice_amount_due <= 0:
            return t.gettext("{invoice} is now paid in full.").format(invoice=invoice_id)
        return t.gettext("{invoice} has *{due}* left to pay.").format(invoice=invoice_id, due=due)
    if a.status == AllocationStatus.REJECTED:
        return t.gettext(
            "The {amount} is available on {payment} again. Type `/payments` to make a new request."
        ).format(amount=amount, payment=payment_id)
    if a.status == AllocationStatus.CANCELLED:
        return t.gettext("The {amount} is available on {payment} again.").format(
            amount=amount, payment=payment_id
        )
    if a.status == AllocationStatus.REVERSED:
        return t.gettext(
            "{invoice} has {due} left to pay again; {payment} has {left} left to allocate."
        ).format(invoice=invoice_id, due=due, payment=payment_id, left=left)
    return None


def _notification_text(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str:
    """A DM's ``text``: what a phone notification shows, so plain words (no bold, no tokens)."""
    t = texts(locale)
    amount = display_money(a.amount, a.currency, locale)
    payment_id, invoice_id = md_line(a.payment_id, 64), _invoices(a, locale)
    if a.status == AllocationStatus.APPROVED:
        return t.gettext(
            "Request #{id} approved at {when}: {amount} from {payment} now pays {invoices}."
        ).format(
            id=a.allocation_id,
            when=utc_time(a.decided_at, locale=locale),
            amount=amount,
            payment=payment_id,
            invoices=invoice_id,
        )
    if a.status == AllocationStatus.REJECTED:
        reason = md_line(a.reason, 500) or t.gettext("no reason given")
        return t.gettext("Request #{id} rejected at {when}: {reason}").format(
            id=a.allocation_id, when=utc_time(a.decided_at, locale=locale), reason=reason
        )
    if a.status == AllocationStatus.REVERSED:
        reason = md_line(a.reversal_reason, 500) or t.gettext("no reason given")
        return t.gettext("Request #{id} reversed at {when}: {reason}").format(
            id=a.allocation_id, when=utc_time(a.reversed_at, locale=locale), reason=reason
        )
    if a.status == AllocationStatus.CANCELLED:
        return t.gettext("Request #{id} cancelled; {amount} is available on {payment}.").format(
            id=a.allocation_id, amount=amount, payment=payment_id
        )
    return t.gettext("Your {request} is waiting for billing approval.").format(
        request=_plain_request_phrase(a, locale)
    )


def receipt_message(
    allocation: AllocationSummary, *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The requester's confirmation: waiting (with Cancel), or, re-rendered, the outcome.

    Once decided it says all that :func:`decision_message` says (outcome, who, when, the
    reason, what the invoice or payment has now): the decision edits this message in place and
    is then the only thing the requester reads about it.
    """
    t = texts(locale)
    a = allocation
    phrase = _request_phrase(a, locale)
    details = t.gettext("{partner} · requested {when}").format(
        partner=md_line(a.partner_name, NAME_BUDGET), when=local_time(a.requested_at, locale=locale)
    )
    if a.note:
        details += " · " + t.gettext("your note: {note}").format(
            note=md_line(a.note, HISTORY_NOTE_BUDGET)
        )
    text = fallback(_notification_text(a, locale), locale=locale)
    if a.status == AllocationStatus.PENDING:
        headline = "🕒 " + t.gettext("Your {request} is waiting for billing approval.").format(
            request=phrase
        )
        cancel_id = suffixed(ActionId.CANCEL_ALLOCATION, a.allocation_id)
        blocks: list[dict[str, Any]] = [
            section(headline),
            *_lines_blocks(a, locale),
            context_block(details),
            {
                "type": "actions",
                "block_id": cancel_id,
                "elements": [cancel_button(a, locale=locale)],
            },
        ]
        return {"text": text, "blocks": blocks}
    outcome = outcome_line(a, reason_budget=REASON_BUDGET, locale=locale)
    if a.status == AllocationStatus.CANCELLED:
        emoji = STATUS_EMOJI[AllocationStatus.CANCELLED]
        outcome = f"{emoji} " + t.gettext("You cancelled it at {when}.").format(
            when=local_time(a.decided_at, locale=locale)
        )
    mine = t.gettext("Your {request}:").format(request=phrase)
    blocks = [section(f"{mine}\n{outcome}"), *_lines_blocks(a, locale)]
    aftermath = _aftermath(a, locale)
    if aftermath:
        blocks.append(section(aftermath))
    blocks.append(context_block(details))
    return {"text": text, "blocks": blocks}


def decision_message(
    allocation: AllocationSummary, *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The direct message telling the requester what became of their request.

    Sent only when there is no receipt to edit; complete on its own.
    """
    t = texts(locale)
    a = allocation
    amount = display_money(a.amount, a.currency, locale)
    payment_id, invoice_id = md_line(a.payment_id, 64), _invoices(a, locale)
    aftermath = _aftermath(a, locale) or ""
    reason_title = t.gettext("*Reason*")
    blocks: list[dict[str, Any]]
    if a.status == AllocationStatus.APPROVED:
        headline = "✅ " + t.gettext(
            "Your request #{id} was approved by {who} at {when}: *{amount}* from {payment}"
            " now pays {invoices}."
        ).format(
            id=a.allocation_id,
            who=mention(a.decided_by, locale=locale),
            when=local_time(a.decided_at, locale=locale),
            amount=amount,
            payment=payment_id,
            invoices=invoice_id,
        )
        blocks = [section(f"{headline}\n{aftermath}")]
    elif a.status == AllocationStatus.REJECTED:
        headline = "❌ " + t.gettext("Your {request} was rejected by {who} at {when}.").format(
            request=_request_phrase(a, locale),
            who=mention(a.decided_by, locale=locale),
            when=local_time(a.decided_at, locale=locale),
        )
        reason = quote(a.reason or t.gettext("No reason given."), REASON_BUDGET)
        blocks = [section(headline), section(f"{reason_title}\n{reason}"), context_block(aftermath)]
    elif a.status == AllocationStatus.REVERSED:
        headline = "⏪ " + t.gettext(
            "Your approved {request} was reversed by {who} at {when}."
        ).format(
            request=_request_phrase(a, locale),
            who=mention(a.reversed_by, locale=locale),
            when=local_time(a.reversed_at, locale=locale),
        )
        reason = quote(a.reversal_reason or t.gettext("No reason given."), REASON_BUDGET)
        blocks = [section(headline), section(f"{reason_title}\n{reason}"), context_block(aftermath)]
    elif a.status == AllocationStatus.CANCELLED:
        headline = "↩️ " + t.gettext("You cancelled your {request} at {when}.").format(
            request=_request_phrase(a, locale), when=local_time(a.decided_at, locale=locale)
        )
        blocks = [section(headline), context_block(aftermath)]
    else:
        headline = "🕒 " + t.gettext("Your {request} is waiting for billing approval.").format(
            request=_request_phrase(a, locale)
        )
        blocks = [section(headline)]
    # The lines go right after the headline, whatever the outcome.
    blocks[1:1] = _lines_blocks(a, locale)
    return {"text": fallback(_notification_text(a, locale), locale=locale), "blocks": blocks}


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
    t = texts(locale)
    if status == AllocationStatus.PENDING:
        return Mrkdwn(
            t.gettext("This request is still waiting for billing approval. Nothing changed.")
        )
    known = ALREADY_DECIDED.get(status)
    if plain:
        when = (
            t.gettext(" at {when}").format(when=utc_time(decided_at, locale=locale))
            if decided_at
            else ""
        )
        if known is None:
            return t.gettext("Already {status}{who}{when}. Nothing changed.").format(
                status=one_line(status)[:32].lower(), who="", when=when
            )
        return t.gettext(known).format(who="", when=when)
    who = (
        t.gettext(" by {who}").format(who=mention(decided_by, locale=locale)) if decided_by else ""
    )
    when = (
        t.gettext(" at {when}").format(when=local_time(decided_at, locale=locale))
        if decided_at
        else ""
    )
    if known is None:
        return Mrkdwn(
            t.gettext("Already {status}{who}{when}. Nothing changed.").format(
                status=md_line(status, 32).lower(), who=who, when=when
            )
        )
    return Mrkdwn(t.gettext(known).format(who=who, when=when))


def request_sent_text(allocation: AllocationSummary, *, locale: str = DEFAULT_LOCALE) -> str:
    """What the allocation modal says once the request is recorded (for :func:`notice_modal`)."""
    a = allocation
    return Mrkdwn(
        "✅ "
        + texts(locale)
        .gettext(
            "Request #{id} sent: *{amount}* from *{payment}* to *{invoices}* is waiting for"
            " billing approval. The amount is held until they decide.\n\nI've sent you a direct"
            " message with a *Cancel* button, and I'll message you again with their decision."
        )
        .format(
            id=a.allocation_id,
            amount=display_money(a.amount, a.currency, locale),
            payment=md_line(a.payment_id, 64),
            invoices=_invoices(a, locale),
        )
    )
