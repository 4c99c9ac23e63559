"""The billing channel's message for a request: the facts an approver checks, then the buttons."""

from __future__ import annotations

import datetime as dt
import re
import urllib.parse
from typing import Any

from models.enums import AllocationStatus, LineChoice
from models.limits import MAX_REQUEST_LINES
from models.schemas import AllocationLine, AllocationSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import N_, Texts, texts
from slackbot.i18n.numbers import display_count, display_money, format_date, language_of
from slackbot.ledger.rules import left_to_pay_if_approved
from slackbot.slack.ids import ActionId, suffixed
from slackbot.slack.views.blocks import (
    button,
    confirm_dialog,
    context_block,
    header,
    mrkdwn_text,
    outcome_line,
    section,
    status_word,
)
from slackbot.slack.views.text import (
    NAME_BUDGET,
    NOTE_BUDGET,
    REASON_BUDGET,
    REFERENCE_BUDGET,
    clean,
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
        return _request_message(a, invoice_url_template, locale)
    t = texts(locale)
    amount = display_money(a.amount, a.currency, locale)
    requester = mention(a.requested_by, locale=locale)
    blocks: list[dict[str, Any]] = [
        header(t.gettext("Allocation request #{id}").format(id=a.allocation_id)),
        {
            "type": "section",
            "fields": [
                mrkdwn_text(_field(t.gettext("Partner"), md_line(a.partner_name, NAME_BUDGET))),
                mrkdwn_text(_field(t.gettext("Requested by"), requester)),
                mrkdwn_text(_field(t.gettext("Amount"), amount)),
                mrkdwn_text(
                    _field(t.gettext("Requested"), local_time(a.requested_at, locale=locale))
                ),
                mrkdwn_text(_payment_field(a, locale)),
                mrkdwn_text(_invoice_field(a, invoice_url_template, locale)),
            ],
        },
    ]
    balances = _balances_text(a, locale)
    if balances:
        blocks.append(section(balances))
    if a.note:
        blocks.append(section(_note(t, requester, a.note)))
    if a.chosen is not None:
        blocks.append(context_block(t.gettext(CHOSEN_WORDS[a.chosen])))
    what = t.gettext("{payment} to {invoice}").format(
        payment=one_line(a.payment_id), invoice=one_line(a.invoice_id)
    )
    blocks += _decision_blocks(a, what, locale)
    text = t.gettext(
        "Allocation request #{id} from {partner}: {amount} from {payment} to {invoice} ({status})"
    ).format(
        id=a.allocation_id,
        partner=md_line(a.partner_name, NAME_BUDGET),
        amount=amount,
        payment=md_line(a.payment_id, 64),
        invoice=md_line(a.invoice_id, 64),
        status=status_word(a.status, locale=locale) or a.status,
    )
    return {"text": fallback(text, locale=locale), "blocks": blocks}


CHOSEN_WORDS: dict[LineChoice, str] = {
    LineChoice.SUGGESTED: N_("Chosen as suggested by the bot."),
    LineChoice.EDITED: N_("Chosen edited from the bot's suggestion."),
    LineChoice.BY_HAND: N_("Chosen by hand (no suggestion used)."),
}
LINES_CHOSEN: dict[LineChoice, str] = {
    LineChoice.SUGGESTED: N_("as suggested by the bot"),
    LineChoice.EDITED: N_("edited from the bot's suggestion"),
    LineChoice.BY_HAND: N_("by hand (no suggestion used)"),
}


def _field(name: str, value: str) -> str:
    return f"*{name}*\n{value}"


def _note(t: Texts, requester: str, note: str) -> str:
    title = t.gettext("*Note from {who}*").format(who=requester)
    return f"{title}\n{quote(note, NOTE_BUDGET)}"


def _invoices(t: Texts, n: int, locale: str) -> str:
    return t.ngettext("{count} invoice", "{count} invoices", n).format(
        count=display_count(n, locale)
    )


def _day(day: dt.date, locale: str) -> str:
    """A due or received date: ISO in English (as the ERP writes it), the locale's elsewhere."""
    return day.isoformat() if language_of(locale) == "en" else format_date(day, locale)


def _overdue(t: Texts, late: int, locale: str) -> str:
    return "⚠️ " + t.ngettext("*overdue* by {count} day", "*overdue* by {count} days", late).format(
        count=display_count(late, locale)
    )


def _decision_blocks(a: AllocationSummary, what: str, locale: str) -> list[dict[str, Any]]:
    """Approve and Reject while pending (one pair for the whole request), else the outcome."""
    t = texts(locale)
    amount = display_money(a.amount, a.currency, locale)
    blocks: list[dict[str, Any]] = []
    if a.status == AllocationStatus.PENDING:
        blocks.append(context_block("🕒 " + t.gettext("Waiting for a billing approver.")))
        # One actions block holds both buttons; its block_id repeats the approve action's name
        # (the block's first action), and each action carries the allocation id after a colon
        # because Slack wants action ids unique within a message.
        approve_id = suffixed(ActionId.APPROVE_ALLOCATION, a.allocation_id)
        reject_id = suffixed(ActionId.REJECT_ALLOCATION, a.allocation_id)
        confirm = confirm_dialog(
            t.gettext("Approve request #{id}?").format(id=a.allocation_id),
            t.gettext("Apply {amount} from {what} for {partner}. This posts to the ledger.").format(
                amount=amount, what=what, partner=one_line(a.partner_name)
            ),
            t.gettext("Approve"),
            t.gettext("Back"),
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": approve_id,
                "elements": [
                    button(
                        t.gettext("Approve"),
                        approve_id,
                        str(a.allocation_id),
                        style="primary",
                        confirm=confirm,
                    ),
                    button(t.gettext("Reject…"), reject_id, str(a.allocation_id), style="danger"),
                ],
            }
        )
    else:
        outcome = outcome_line(a, reason_budget=REASON_BUDGET, locale=locale)
        if a.status in (AllocationStatus.REJECTED, AllocationStatus.CANCELLED):
            if len(a.lines) <= 1:
                released = t.gettext(
                    "Nothing was posted: the {amount} held on {payment} and {invoice} was released."
                ).format(
                    amount=amount,
                    payment=md_line(a.payment_id, 64),
                    invoice=md_line(a.invoice_id, 64),
                )
            else:
                released = t.ngettext(
                    "Nothing was posted: the {amount} held on {payment} and its {count} invoice"
                    " was released.",
                    "Nothing was posted: the {amount} held on {payment} and its {count} invoices"
                    " was released.",
                    len(a.lines),
                ).format(
                    amount=amount,
                    payment=md_line(a.payment_id, 64),
                    count=display_count(len(a.lines), locale),
                )
            outcome += "\n" + released
        blocks.append(section(outcome))
    return blocks


def _request_message(
    a: AllocationSummary, url_template: str | None, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """A request of several lines: one section per line, the total, one Approve and Reject."""
    t = texts(locale)
    amount = display_money(a.amount, a.currency, locale)
    chosen = (
        t.gettext(LINES_CHOSEN[a.chosen]) if a.chosen is not None else t.gettext("not recorded")
    )
    n = len(a.lines)
    invoices = _invoices(t, n, locale)
    requester = mention(a.requested_by, locale=locale)
    total = t.ngettext("{amount} in {count} line", "{amount} in {count} lines", n).format(
        amount=amount, count=display_count(n, locale)
    )
    blocks: list[dict[str, Any]] = [
        header(
            t.gettext("Allocation request #{id} · {invoices}").format(
                id=a.allocation_id, invoices=invoices
            )
        ),
        {
            "type": "section",
            "fields": [
                mrkdwn_text(_field(t.gettext("Partner"), md_line(a.partner_name, NAME_BUDGET))),
                mrkdwn_text(_field(t.gettext("Requested by"), requester)),
                mrkdwn_text(_field(t.gettext("Total"), total)),
                mrkdwn_text(
                    _field(t.gettext("Requested"), local_time(a.requested_at, locale=locale))
                ),
                mrkdwn_text(_payment_field(a, locale)),
                mrkdwn_text(_field(t.gettext("Lines chosen"), chosen)),
            ],
        },
    ]
    for number, line in enumerate(a.lines, start=1):
        blocks.append(section(_line_text(a, number, line, url_template, locale)))
    balances = _request_balances_text(a, locale)
    if balances:
        blocks.append(section(balances))
    if a.note:
        blocks.append(section(_note(t, requester, a.note)))
    what = t.gettext("{payment} to {invoice}").format(
        payment=one_line(a.payment_id), invoice=invoices
    )
    blocks += _decision_blocks(a, what, locale)
    named = ", ".join(md_line(line.invoice_id, 64) for line in a.lines[:MAX_REQUEST_LINES])
    text = t.gettext(
        "Allocation request #{id} from {partner}: {amount} from {payment} to {invoices}"
        " ({named}) ({status})"
    ).format(
        id=a.allocation_id,
        partner=md_line(a.partner_name, NAME_BUDGET),
        amount=amount,
        payment=md_line(a.payment_id, 64),
        invoices=invoices,
        named=named,
        status=status_word(a.status, locale=locale) or a.status,
    )
    return {"text": fallback(text, locale=locale), "blocks": blocks}


def _line_text(
    a: AllocationSummary,
    number: int,
    line: AllocationLine,
    url_template: str | None,
    locale: str = DEFAULT_LOCALE,
) -> str:
    """One line as an approver checks it: the invoice (linked), the amount, its total, due
    date and whether it is overdue, what it has left and would have left."""
    t = texts(locale)
    currency = a.currency
    invoice_id = md_line(line.invoice_id, 64)
    url = invoice_url(url_template, line.invoice_id)
    shown = f"<{url}|{invoice_id}>" if url else invoice_id
    first = t.gettext("*{number}.* {invoice} · *{amount}* · total {total} · due {due}").format(
        number=number,
        invoice=shown,
        amount=display_money(line.amount, currency, locale),
        total=display_money(line.invoice_amount, currency, locale),
        due=_day(line.invoice_due_on, locale),
    )
    late = (
        (a.as_of - line.invoice_due_on).days
        if a.as_of is not None
        and a.status == AllocationStatus.PENDING
        and line.invoice_amount_due > 0
        else 0
    )
    if late > 0:
        first += " · " + _overdue(t, late, locale)
    if a.status in (AllocationStatus.REJECTED, AllocationStatus.CANCELLED):
        return first
    due = display_money(line.invoice_amount_due, currency, locale)
    if a.status == AllocationStatus.PENDING:
        after = display_money(max(0, line.invoice_amount_due - line.amount), currency, locale)
        if line.invoice_pending > 0:
            left = t.gettext(
                "{due} left to pay ({pending} of it pending, this line included);"
                " if approved, {after}"
            ).format(
                due=due, pending=display_money(line.invoice_pending, currency, locale), after=after
            )
        else:
            left = t.gettext("{due} left to pay; if approved, {after}").format(due=due, after=after)
    else:
        left = t.gettext("{due} left to pay").format(due=due)
    return f"{first}\n{left}"


def _payment_line(a: AllocationSummary, payment_id: str, locale: str) -> str:
    t = texts(locale)
    left = display_money(a.payment_unallocated, a.currency, locale)
    if a.payment_pending <= 0:
        return t.gettext("{payment} has *{left}* left to allocate").format(
            payment=payment_id, left=left
        )
    pending = display_money(a.payment_pending, a.currency, locale)
    if a.status == AllocationStatus.PENDING:
        text = t.gettext(
            "{payment} has *{left}* left to allocate, {pending} pending approval"
            " (this request included)"
        )
    else:
        text = t.gettext("{payment} has *{left}* left to allocate, {pending} pending approval")
    return text.format(payment=payment_id, left=left, pending=pending)


def _heading(a: AllocationSummary, t: Texts) -> str:
    # A pending request's message is edited whenever another change moves these balances.
    if a.status == AllocationStatus.PENDING:
        return t.gettext("*Balances now*")
    return t.gettext("*After this change*")


def _request_balances_text(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str:
    """What the payment has now (pending) or after the decision posted (approved, reversed)."""
    if a.status in (AllocationStatus.REJECTED, AllocationStatus.CANCELLED):
        return ""
    payment_line = _payment_line(a, md_line(a.payment_id, 64), locale)
    return f"{_heading(a, texts(locale))}\n{payment_line}."


def _payment_field(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str:
    t = texts(locale)
    lines = [_field(t.gettext("Payment"), md_line(a.payment_id, 64))]
    if a.payment_received_on is not None:
        lines.append(t.gettext("received {date}").format(date=_day(a.payment_received_on, locale)))
    reference = one_line(a.payment_reference)
    lines.append(
        t.gettext("ref {reference}").format(reference=md(reference, REFERENCE_BUDGET))
        if reference
        else t.gettext("no reference")
    )
    return "\n".join(lines)


def _invoice_field(
    a: AllocationSummary, url_template: str | None, locale: str = DEFAULT_LOCALE
) -> str:
    t = texts(locale)
    invoice_id = md_line(a.invoice_id, 64)
    url = invoice_url(url_template, a.invoice_id)
    lines = [_field(t.gettext("Invoice"), f"<{url}|{invoice_id}>" if url else invoice_id)]
    if a.invoice_amount is not None:
        lines.append(
            t.gettext("total {total}").format(
                total=display_money(a.invoice_amount, a.currency, locale)
            )
        )
    if a.invoice_due_on is not None:
        due = t.gettext("due {date}").format(date=_day(a.invoice_due_on, locale))
        late = (
            (a.as_of - a.invoice_due_on).days
            if a.as_of is not None
            and a.status == AllocationStatus.PENDING
            and a.invoice_amount_due > 0
            else 0
        )
        if late > 0:
            due += " · " + _overdue(t, late, locale)
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


def _balances_text(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str:
    """What the payment and invoice have now (pending) or after the decision posted (approved,
    reversed). A rejection or a cancellation changed nothing, so it shows none."""
    if a.status in (AllocationStatus.REJECTED, AllocationStatus.CANCELLED):
        return ""
    t = texts(locale)
    payment_id, invoice_id = md_line(a.payment_id, 64), md_line(a.invoice_id, 64)
    payment_line = "• " + _payment_line(a, payment_id, locale)
    due = display_money(a.invoice_amount_due, a.currency, locale)
    if a.invoice_pending <= 0:
        invoice_line = t.gettext("{invoice} has *{due}* left to pay").format(
            invoice=invoice_id, due=due
        )
    else:
        pending = display_money(a.invoice_pending, a.currency, locale)
        if a.status == AllocationStatus.PENDING:
            text = t.gettext(
                "{invoice} has *{due}* left to pay, {pending} of it pending approval"
                " (this request included)"
            )
        else:
            text = t.gettext("{invoice} has *{due}* left to pay, {pending} of it pending approval")
        invoice_line = text.format(invoice=invoice_id, due=due, pending=pending)
    lines = [_heading(a, t), payment_line, "• " + invoice_line]
    if a.status == AllocationStatus.PENDING:
        after = left_to_pay_if_approved(a)
        lines.append(
            t.gettext("If approved, {invoice} will have {after} left to pay.").format(
                invoice=invoice_id, after=display_money(after, a.currency, locale)
            )
        )
    return "\n".join(lines)
