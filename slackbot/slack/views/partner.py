"""What a partner's member reads after ``/payments``: the payment list, history, help, refusals."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from models.enums import AllocationStatus
from models.schemas import AllocationSummary, PaymentSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import NOT_LINKED, NOT_LINKED_ASK, NOT_LINKED_HOW, texts
from slackbot.i18n.numbers import display_count, display_money, format_date, language_of
from slackbot.ledger.matching import Suggestion
from slackbot.slack.ids import ActionId, PageTurn, RequestAction, suffixed
from slackbot.slack.views.blocks import (
    STATUS_EMOJI,
    button,
    cancel_button,
    context_block,
    ephemeral,
    header,
    outcome_line,
    section,
    status_word,
)
from slackbot.slack.views.text import (
    HISTORY_NOTE_BUDGET,
    HISTORY_REASON_BUDGET,
    MESSAGE_MAX_BLOCKS,
    NAME_BUDGET,
    REFERENCE_BUDGET,
    SECTION_TEXT_MAX,
    SUGGESTION_BUDGET,
    as_mrkdwn,
    local_time,
    md,
    md_line,
    one_line,
)


def payments_message(
    payments: Sequence[PaymentSummary],
    *,
    page: int = 1,
    suggestions: Mapping[str, Suggestion] | None = None,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """The person's payments with money left, grouped by partner, each with an Allocate button.

    ``suggestions`` (payment id -> its best suggestion) adds, under each payment that has one,
    what the bot suggests ("matches INV-7 + INV-8 exactly") and an "Allocate as suggested"
    button that opens the modal filled in with it.

    At most 50 blocks: when they do not all fit, the list is cut into pages (in the order shown:
    by partner, then oldest first) with Next and Previous buttons, and a line says how many
    more there are and how to reach any of them by id. Only the first Allocate button is
    primary (green), so the eye lands on one place, not on 35.
    """
    t = texts(locale)
    unique = unique_payments(payments)
    if not unique:
        text = t.gettext(
            "No payments with money left to allocate. When a new payment arrives it shows up"
            " here; type `/payments history` to see your earlier requests."
        )
        return ephemeral(text, [section(f"🧾 {text}")], locale=locale)

    partner_order: dict[str, str] = {}
    for payment in unique:
        partner_order.setdefault(payment.partner_id, payment.partner_name)
    several_partners = len(partner_order) > 1
    ordered = [
        p
        for partner_id in partner_order
        for p in oldest_first(unique)
        if p.partner_id == partner_id
    ]
    suggested = {
        p.payment_id: suggestions[p.payment_id]
        for p in ordered
        if suggestions and p.payment_id in suggestions and p.unallocated > 0
    }
    pages = _payment_pages(ordered, several_partners, suggested)
    number = min(max(1, page), len(pages))
    shown = pages[number - 1]
    hidden = len(unique) - len(shown)

    paging = (
        " · " + t.gettext("page {number} of {pages}").format(number=number, pages=len(pages))
        if len(pages) > 1
        else ""
    )
    title = t.gettext("*Your payments with money left to allocate* ({count})").format(
        count=display_count(len(unique), locale)
    )
    if several_partners:
        intro = f"{title}{paging}"
    else:
        only = unique[0]
        name = md_line(only.partner_name or only.partner_id, NAME_BUDGET)
        intro = f"{title} · {name}{paging}"
    blocks: list[dict[str, Any]] = [section(intro)]

    headed: set[str] = set()
    primary_given = False
    for payment in shown:
        if several_partners and payment.partner_id not in headed:
            headed.add(payment.partner_id)
            blocks.append(header(payment.partner_name or payment.partner_id))
        primary = not primary_given and payment.unallocated > 0
        primary_given = primary_given or primary
        blocks.append(_payment_block(payment, primary=primary, locale=locale))
        if payment.payment_id in suggested:
            blocks.append(_suggestion_block(payment, suggested[payment.payment_id], locale))

    if hidden:
        blocks.append(
            context_block(
                t.gettext(
                    "…and {count} more. Use `/payments allocate PAYMENT_ID` for any of them,"
                    " or the Next and Previous buttons."
                ).format(count=display_count(hidden, locale))
            )
        )
        nav: list[dict[str, Any]] = []
        if number > 1:
            nav.append(
                button(
                    t.gettext("◀ Previous"),
                    suffixed(ActionId.PAYMENTS_PAGE, PageTurn.PREVIOUS),
                    str(number - 1),
                )
            )
        if number < len(pages):
            nav.append(
                button(
                    t.gettext("Next ▶"),
                    suffixed(ActionId.PAYMENTS_PAGE, PageTurn.NEXT),
                    str(number + 1),
                )
            )
        blocks.append({"type": "actions", "block_id": ActionId.PAYMENTS_PAGE, "elements": nav})
    blocks.append(
        context_block(
            t.gettext(
                "Billing approves each request; you get a direct message with the decision."
                " `/payments history` shows your recent requests."
            )
        )
    )
    # Slack shows ``text`` only in notifications, where a list of ids would be noise.
    n = len(unique)
    if several_partners:
        text = t.ngettext(
            "You have {count} payment from {partners} partners with money left to allocate.",
            "You have {count} payments from {partners} partners with money left to allocate.",
            n,
        ).format(count=display_count(n, locale), partners=display_count(len(partner_order), locale))
    else:
        text = t.ngettext(
            "You have {count} payment with money left to allocate.",
            "You have {count} payments with money left to allocate.",
            n,
        ).format(count=display_count(n, locale))
    return ephemeral(text, blocks, locale=locale)


def _suggestion_block(
    payment: PaymentSummary, suggestion: Suggestion, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """What the bot suggests for ``payment``, with the button that opens it filled in."""
    t = texts(locale)
    action_id = suffixed(RequestAction.ALLOCATE_SUGGESTED, payment.payment_id)
    n = len(suggestion.lines)
    text = "💡 " + t.ngettext(
        "Suggested: {summary} ({count} invoice, {total})",
        "Suggested: {summary} ({count} invoices, {total})",
        n,
    ).format(
        summary=md_line(suggestion.summary, SUGGESTION_BUDGET),
        count=display_count(n, locale),
        total=display_money(suggestion.total, payment.currency, locale),
    )
    allocate = button(t.gettext("Allocate as suggested"), action_id, payment.payment_id)
    return section(text, block_id=action_id, accessory=allocate)


def _payment_pages(
    ordered: Sequence[PaymentSummary],
    several_partners: bool,
    suggested: Mapping[str, Suggestion] | None = None,
) -> list[list[PaymentSummary]]:
    """``ordered`` cut into pages whose blocks (with their partners' headers) fit a message."""
    suggested = suggested or {}
    if _blocks_for(ordered, several_partners) + len(suggested) <= MESSAGE_MAX_BLOCKS - 2:
        return [list(ordered)]
    # intro, "…and K more", the Next/Previous row and the closing context.
    budget = MESSAGE_MAX_BLOCKS - 4
    pages: list[list[PaymentSummary]] = [[]]
    headed: set[str] = set()
    used = 0
    for payment in ordered:
        own = 2 if payment.payment_id in suggested else 1
        cost = own + (1 if several_partners and payment.partner_id not in headed else 0)
        if used + cost > budget:
            pages.append([])
            headed = set()
            used = 0
            cost = own + (1 if several_partners else 0)
        pages[-1].append(payment)
        headed.add(payment.partner_id)
        used += cost
    return pages


def _blocks_for(payments: Sequence[PaymentSummary], several_partners: bool) -> int:
    headers = len({p.partner_id for p in payments}) if several_partners else 0
    return len(payments) + headers


def unique_payments(payments: Iterable[PaymentSummary]) -> list[PaymentSummary]:
    """Each payment once (a repeated block_id would make Slack refuse the whole message)."""
    seen: set[str] = set()
    unique: list[PaymentSummary] = []
    for payment in payments:
        if payment.payment_id not in seen:
            seen.add(payment.payment_id)
            unique.append(payment)
    return unique


def oldest_first(payments: Iterable[PaymentSummary]) -> list[PaymentSummary]:
    return sorted(payments, key=lambda p: (p.received_on, p.payment_id))


def _payment_block(
    payment: PaymentSummary, *, primary: bool = False, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    t = texts(locale)
    currency = payment.currency
    first = t.gettext("*{payment}* · received {date}").format(
        payment=md_line(payment.payment_id, 64), date=received_date(payment, locale)
    )
    reference = one_line(payment.reference)
    if reference:
        first += " · " + t.gettext("ref {reference}").format(
            reference=md(reference, REFERENCE_BUDGET)
        )
    amount = display_money(payment.amount, currency, locale)
    pending = display_money(payment.pending, currency, locale)
    block_id = suffixed(ActionId.OPEN_ALLOCATION, payment.payment_id)
    if payment.unallocated <= 0:
        # Nothing to allocate, but the money is not gone either: say where it is, no button.
        held = t.gettext(
            "Nothing left to allocate of {amount}: 🕒 {pending} is held by pending requests"
            " until billing decides."
        ).format(amount=amount, pending=pending)
        return section(f"{first}\n{held}")
    lines = [
        first,
        t.gettext("*{left}* left to allocate of {amount}").format(
            left=display_money(payment.unallocated, currency, locale), amount=amount
        ),
    ]
    if payment.pending > 0:
        lines.append(t.gettext("🕒 {pending} pending billing approval").format(pending=pending))
    allocate = button(
        t.gettext("Allocate"), block_id, payment.payment_id, style="primary" if primary else None
    )
    return section("\n".join(lines), block_id=block_id, accessory=allocate)


def not_linked_message(*, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """The person belongs to no partner yet: how to get linked."""
    t = texts(locale)
    text = t.gettext(NOT_LINKED)
    return ephemeral(
        f"{text} {t.gettext(NOT_LINKED_ASK)}",
        [
            section(f"🔗 {text}"),
            section(t.gettext(NOT_LINKED_HOW)),
        ],
        locale=locale,
    )


def help_message(*, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """What ``/payments`` does and how approval works."""
    t = texts(locale)
    commands = t.gettext(
        "*`/payments`* or *`/payments list`* — your payments with money left to allocate,"
        " each with an *Allocate* button.\n"
        "*`/payments allocate`* — open the allocation form.\n"
        "*`/payments allocate PAYMENT_ID`* — open the form with that payment chosen.\n"
        "*`/payments history`* — your recent requests and what billing decided.\n"
        "*`/payments help`* — this message."
    )
    approval = t.gettext(
        "*How approval works:* when you request an allocation, the amount is held on the"
        " payment and the invoice and the billing team gets the request. You get a direct"
        " message with a *Cancel* button while it waits, and another when billing approves or"
        " rejects it (with their reason). Only approved allocations reduce what an invoice has"
        " left to pay."
    )
    return ephemeral(
        t.gettext(
            "/payments applies your payments to your invoices: list, allocate [PAYMENT_ID],"
            " history, help."
        ),
        [
            header(t.gettext("/payments: apply payments to invoices")),
            section(commands),
            section(approval),
        ],
        locale=locale,
    )


def error_message(text: str, *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """Something went wrong that the person should know about (escaped unless :class:`Mrkdwn`)."""
    body = as_mrkdwn(text or texts(locale).gettext("Something went wrong."), SECTION_TEXT_MAX - 4)
    return ephemeral(f"⚠️ {body}", [section(f"⚠️ {body}")], locale=locale)


def history_message(
    allocations: Sequence[AllocationSummary], *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The person's recent requests, newest first, with their outcome."""
    t = texts(locale)
    if not allocations:
        text = t.gettext(
            "You have not requested any allocations yet. Type `/payments` to see your payments"
            " and allocate one to an invoice."
        )
        return ephemeral(text, [section(f"🗂️ {text}")], locale=locale)
    # header + closing context, and one more for "…and K more".
    room = MESSAGE_MAX_BLOCKS - 2
    if len(allocations) > room:
        room -= 1
    shown = list(allocations[:room])
    hidden = len(allocations) - len(shown)
    blocks: list[dict[str, Any]] = [header(t.gettext("Your recent allocation requests"))]
    blocks.extend(_history_block(a, locale) for a in shown)
    if hidden:
        blocks.append(
            context_block(
                t.ngettext(
                    "…and {count} older request not shown.",
                    "…and {count} older requests not shown.",
                    hidden,
                ).format(count=display_count(hidden, locale))
            )
        )
    if any(a.status == AllocationStatus.PENDING for a in shown):
        blocks.append(
            context_block(
                t.gettext(
                    "*Cancel request* withdraws a request still waiting for billing; the amount"
                    " goes back to the payment."
                )
            )
        )
    else:
        blocks.append(
            context_block(
                t.gettext("Type `/payments` to see your payments and make a new request.")
            )
        )
    lines = [
        f"#{a.allocation_id} {status_word(a.status, locale=locale) or a.status}:"
        f" {display_money(a.amount, a.currency, locale)}"
        for a in shown[:20]
    ]
    text = t.gettext("Your recent allocation requests: {requests}").format(
        requests="; ".join(lines)
    )
    return ephemeral(text, blocks, locale=locale)


def _history_block(allocation: AllocationSummary, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    t = texts(locale)
    a = allocation
    emoji = STATUS_EMOJI.get(a.status, "•")
    word = status_word(a.status, locale=locale) or md_line(a.status, 32)
    n = len(a.lines)
    target = (
        t.ngettext("{count} invoice", "{count} invoices", n).format(count=display_count(n, locale))
        if n > 1
        else md_line(a.invoice_id, 64)
    )
    lines = [
        f"{emoji} *#{a.allocation_id} · {word}* · *{display_money(a.amount, a.currency, locale)}* ·"
        f" {md_line(a.payment_id, 64)} → {target}",
    ]
    if len(a.lines) > 1:
        lines.append(
            " · ".join(
                f"{md_line(line.invoice_id, 64)} {display_money(line.amount, a.currency, locale)}"
                for line in a.lines
            )
        )
    lines.append(
        t.gettext("{partner} · requested {when}").format(
            partner=md_line(a.partner_name, NAME_BUDGET),
            when=local_time(a.requested_at, locale=locale),
        )
    )
    outcome = outcome_line(
        a, reason_budget=HISTORY_REASON_BUDGET, include_emoji=False, locale=locale
    )
    if a.status != AllocationStatus.PENDING:
        lines.append(outcome)
    if a.note:
        lines.append(
            t.gettext("Your note: {note}").format(note=md_line(a.note, HISTORY_NOTE_BUDGET))
        )
    if a.status == AllocationStatus.PENDING:
        # The receipt's own button (same action id and confirm), so either one withdraws it.
        return section("\n".join(lines), accessory=cancel_button(a, locale=locale))
    return section("\n".join(lines))


def received_date(payment: PaymentSummary, locale: str = DEFAULT_LOCALE) -> str:
    """The day a payment arrived: ISO in English (as the ERP writes it), the locale's elsewhere."""
    if language_of(locale) == "en":
        return payment.received_on.isoformat()
    return format_date(payment.received_on, locale)
