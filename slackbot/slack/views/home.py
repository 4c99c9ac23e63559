"""The App Home tab: a partner member's payments, requests and decisions; an approver's queue.

:func:`home_view` turns a :class:`~models.home.Home` into ``{"type": "home", "blocks": [...]}``
within Slack's limit of 100 blocks, whatever the lists hold: each section gets a share of the
blocks, shows the oldest items that fit, and says how many it left out and where to find
them. The buttons are the other surfaces' own, with the same action ids and values, so the
same listeners run the same services: Allocate and "Allocate as suggested" as on the payment
list, Cancel as on the receipt, Approve and Reject as on the billing message.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from models.home import ApproverHome, CurrencyTotal, Home, HomeSuggestion, PartnerHome
from models.schemas import AllocationSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import texts
from slackbot.i18n.numbers import display_count, display_money
from slackbot.slack.ids import ActionId, RequestAction, suffixed
from slackbot.slack.views.blocks import (
    STATUS_EMOJI,
    button,
    cancel_button,
    confirm_dialog,
    context_block,
    header,
    outcome_line,
    section,
)
from slackbot.slack.views.partner import _payment_block, not_linked_message
from slackbot.slack.views.text import (
    HISTORY_REASON_BUDGET,
    MODAL_MAX_BLOCKS,
    NAME_BUDGET,
    SUGGESTION_BUDGET,
    local_time,
    md_line,
    mention,
    one_line,
)

# A Home tab holds at most 100 blocks, as a modal does.
HOME_MAX_BLOCKS = MODAL_MAX_BLOCKS
# When a person is both, the approver's queue gets at most this many blocks.
APPROVER_SHARE = 46
# Lines of a request named inline before "and N more".
LINES_NAMED = 10


def home_view(home: Home, *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """The person's Home: totals, then the approver's queue, then each partner's section."""
    t = texts(locale)
    blocks: list[dict[str, Any]] = [
        context_block(
            t.gettext("Updated {when} · this page follows every request and decision.").format(
                when=local_time(home.as_of, locale=locale)
            )
        )
    ]
    if not home.linked and home.approver is None:
        blocks += not_linked_message(locale=locale)["blocks"]
        return {"type": "home", "blocks": blocks}
    if home.totals:
        title = t.gettext("*Money left to allocate*")
        blocks.append(section(_totals_text(title, home.totals, locale)))
    room = HOME_MAX_BLOCKS - len(blocks)
    if home.approver is not None:
        share = min(room, APPROVER_SHARE) if home.linked else room
        approver = _approver_blocks(home.approver, home.as_of, share, locale, viewer=home.user_id)
        blocks += approver
        room -= len(approver)
    if home.linked:
        blocks += _partners_blocks(home, room, locale)
    return {"type": "home", "blocks": blocks[:HOME_MAX_BLOCKS]}


def _n(text: str, n: int, locale: str, **values: str) -> str:
    """A ``t.ngettext(…)`` text with ``{count}`` written the locale's way (the call stays at the
    call site, where Babel's extractor finds it)."""
    return text.format(count=display_count(n, locale), **values)


# ------------------------------------------------------------------ approver


def _approver_blocks(
    queue: ApproverHome,
    now: dt.datetime,
    room: int,
    locale: str = DEFAULT_LOCALE,
    *,
    viewer: str = "",
) -> list[dict[str, Any]]:
    """The approver's queue; ``viewer``'s own requests get no buttons (segregation of duties:
    the ledger refuses them that click anyway)."""
    t = texts(locale)
    blocks: list[dict[str, Any]] = [header(t.gettext("Approvals waiting"))]
    if queue.pending_count == 0:
        blocks.append(section("✅ " + t.gettext("No requests are waiting for approval.")))
    else:
        oldest = queue.oldest_requested_at
        summary = _n(
            t.ngettext(
                "*{count} request waiting*", "*{count} requests waiting*", queue.pending_count
            ),
            queue.pending_count,
            locale,
        )
        if oldest is not None:
            summary += " · " + t.gettext("oldest waiting {age} (since {when})").format(
                age=age(now - oldest, locale=locale), when=local_time(oldest, locale=locale)
            )
        if queue.by_partner:
            parts = [
                f"{md_line(p.name or p.partner_id, 80)} {display_count(p.pending, locale)}"
                for p in queue.by_partner
            ]
            more = (
                " "
                + _n(
                    t.ngettext(
                        "…and {count} more partner",
                        "…and {count} more partners",
                        queue.by_partner_more,
                    ),
                    queue.by_partner_more,
                    locale,
                )
                if queue.by_partner_more
                else ""
            )
            summary += "\n" + t.gettext("By partner: {partners}").format(
                partners=" · ".join(parts) + more
            )
        blocks.append(section(summary))
    decided = _decided_today_block(queue, locale)
    # header, summary, decided today, and "…and N more" keep their places.
    fit = max(0, (room - len(blocks) - 1 - (1 if decided else 0)) // 2)
    shown = queue.queue[:fit]
    for request in shown:
        blocks.append(section(_queue_text(request, now, locale)))
        if viewer and request.requested_by == viewer:
            blocks.append(
                context_block(t.gettext("Your own request: another approver decides it."))
            )
        else:
            blocks.append(approve_reject_block(request, locale=locale))
    hidden = queue.pending_count - len(shown)
    if hidden > 0 and queue.pending_count:
        blocks.append(
            context_block(
                t.gettext(
                    "…and {count} more waiting, newer than these: decide these first, or find"
                    " any of them in the billing channel."
                ).format(count=display_count(hidden, locale))
            )
        )
    if decided:
        blocks.append(decided)
    return blocks


def approve_reject_block(a: AllocationSummary, *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """Approve and Reject as the billing message has them: same ids, values and confirm."""
    t = texts(locale)
    amount = display_money(a.amount, a.currency, locale)
    invoices = (
        _n(t.ngettext("{count} invoice", "{count} invoices", len(a.lines)), len(a.lines), locale)
        if len(a.lines) > 1
        else one_line(a.invoice_id)
    )
    what = t.gettext("{payment} to {invoice}").format(
        payment=one_line(a.payment_id), invoice=invoices
    )
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
    return {
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


def _queue_text(a: AllocationSummary, now: dt.datetime, locale: str = DEFAULT_LOCALE) -> str:
    t = texts(locale)
    currency = a.currency

    def money(minor: int) -> str:
        return display_money(minor, currency, locale)

    first = t.gettext("*#{id}* · *{amount}* · {partner} · from {who} · waiting {age}").format(
        id=a.allocation_id,
        amount=money(a.amount),
        partner=md_line(a.partner_name, NAME_BUDGET),
        who=mention(a.requested_by, locale=locale),
        age=age(now - a.requested_at, locale=locale),
    )
    lines = [
        t.gettext("{invoice} {amount} (has {due} left to pay)").format(
            invoice=md_line(line.invoice_id, 64),
            amount=money(line.amount),
            due=money(line.invoice_amount_due),
        )
        for line in a.lines[:LINES_NAMED]
    ]
    if len(a.lines) > LINES_NAMED:
        extra = len(a.lines) - LINES_NAMED
        lines.append(
            _n(
                t.ngettext("…and {count} more line", "…and {count} more lines", extra),
                extra,
                locale,
            )
        )
    payment = t.gettext(
        "{payment} has {left} left to allocate, {pending} pending (this included)"
    ).format(
        payment=md_line(a.payment_id, 64),
        left=money(a.payment_unallocated),
        pending=money(a.payment_pending),
    )
    return "\n".join([first, "→ " + " · ".join(lines), payment])


def _decided_today_block(
    queue: ApproverHome, locale: str = DEFAULT_LOCALE
) -> dict[str, Any] | None:
    if not queue.decided_today:
        return None
    t = texts(locale)
    lines = [
        t.gettext("*You decided today* ({count})").format(
            count=display_count(queue.decided_today_count, locale)
        )
    ]
    for a in queue.decided_today:
        emoji = STATUS_EMOJI.get(a.status, "•")
        text = (
            f"{emoji} #{a.allocation_id} · {display_money(a.amount, a.currency, locale)} ·"
            f" {md_line(a.partner_name, 80)}"
        )
        if a.reason:
            text += f": {md_line(a.reason, 200)}"
        lines.append(text)
    hidden = queue.decided_today_count - len(queue.decided_today)
    if hidden > 0:
        lines.append(
            t.gettext("…and {count} earlier today").format(count=display_count(hidden, locale))
        )
    return section("\n".join(lines))


# ------------------------------------------------------------------ partners


def _partners_blocks(home: Home, room: int, locale: str = DEFAULT_LOCALE) -> list[dict[str, Any]]:
    t = texts(locale)
    blocks: list[dict[str, Any]] = []
    closing = 1 if home.partners_more else 0
    primary_given = False
    for number, partner in enumerate(home.partners):
        left = len(home.partners) - number
        share = (room - closing - len(blocks)) // left
        own, primary_given = _partner_blocks(partner, share, primary_given, locale)
        blocks += own
    if home.partners_more:
        blocks.append(
            context_block(
                _n(
                    t.ngettext(
                        "…and {count} more partner you act for: type `/payments` to see all your"
                        " payments.",
                        "…and {count} more partners you act for: type `/payments` to see all your"
                        " payments.",
                        home.partners_more,
                    ),
                    home.partners_more,
                    locale,
                )
            )
        )
    return blocks


def _partner_blocks(
    p: PartnerHome, room: int, primary_given: bool, locale: str = DEFAULT_LOCALE
) -> tuple[list[dict[str, Any]], bool]:
    """One partner's section in at most ``room`` blocks (at least its header and totals)."""
    t = texts(locale)
    top: list[dict[str, Any]] = [header(p.name or p.partner_id)]
    if p.totals:
        title = t.gettext("*Payments with money left*")
        top.append(section(_totals_text(title, p.totals, locale)))
    else:
        top.append(section("🧾 " + t.gettext("No payments with money left to allocate.")))
    decisions = _decisions_block(p, locale)
    tail = [decisions] if decisions else []
    waiting_title = 1 if p.waiting else 0
    # Requests waiting first (a person cancels from here), then as many payments as fit.
    fixed = len(top) + len(tail) + waiting_title
    waiting = list(p.waiting[: max(0, room - fixed - 2)])
    waiting_more = p.waiting_more + len(p.waiting) - len(waiting)
    if waiting_more:
        fixed += 1
    payment_room = max(0, room - fixed - len(waiting) - 1)
    payment_blocks: list[dict[str, Any]] = []
    shown = 0
    for payment in p.payments:
        suggestion = p.suggestions.get(payment.payment_id)
        cost = 2 if suggestion is not None else 1
        if len(payment_blocks) + cost > payment_room:
            break
        primary = not primary_given and payment.unallocated > 0
        primary_given = primary_given or primary
        payment_blocks.append(_payment_block(payment, primary=primary, locale=locale))
        if suggestion is not None:
            payment_blocks.append(
                suggestion_block(payment.payment_id, payment.currency, suggestion, locale=locale)
            )
        shown += 1
    blocks = top + payment_blocks
    hidden = p.payments_more + len(p.payments) - shown
    if hidden > 0:
        blocks.append(
            context_block(
                _n(
                    t.ngettext(
                        "…and {count} more payment with money left: type `/payments` to see them"
                        " all, or `/payments allocate PAYMENT_ID`.",
                        "…and {count} more payments with money left: type `/payments` to see them"
                        " all, or `/payments allocate PAYMENT_ID`.",
                        hidden,
                    ),
                    hidden,
                    locale,
                )
            )
        )
    elif p.suggestions_skipped:
        blocks.append(
            context_block(
                t.gettext(
                    "Suggestions are shown for the oldest payments only; *Allocate* on any other"
                    " opens the form, which suggests lines too."
                )
            )
        )
    if waiting:
        blocks.append(
            section(
                t.gettext("*Your requests waiting for billing* ({count})").format(
                    count=display_count(len(p.waiting) + p.waiting_more, locale)
                )
            )
        )
        blocks += [
            section(_waiting_text(a, locale), accessory=cancel_button(a, locale=locale))
            for a in waiting
        ]
    if waiting_more:
        blocks.append(
            context_block(
                _n(
                    t.ngettext(
                        "…and {count} more request waiting: `/payments history` lists them with"
                        " their Cancel buttons.",
                        "…and {count} more requests waiting: `/payments history` lists them with"
                        " their Cancel buttons.",
                        waiting_more,
                    ),
                    waiting_more,
                    locale,
                )
            )
        )
    out = blocks + tail
    if len(out) > room:
        # Too little room for everything (many partners): the decisions go first, then the end.
        out = blocks[: max(room, 2)]
    return out, primary_given


def suggestion_block(
    payment_id: str, currency: str, s: HomeSuggestion, *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The payment list's suggestion line and its "Allocate as suggested" (same id, value)."""
    t = texts(locale)
    action_id = suffixed(RequestAction.ALLOCATE_SUGGESTED, payment_id)
    text = "💡 " + _n(
        t.ngettext(
            "Suggested: {summary} ({count} invoice, {total})",
            "Suggested: {summary} ({count} invoices, {total})",
            s.lines,
        ),
        s.lines,
        locale,
        summary=md_line(s.summary, SUGGESTION_BUDGET),
        total=display_money(s.total, currency, locale),
    )
    allocate = button(t.gettext("Allocate as suggested"), action_id, payment_id)
    return section(text, block_id=action_id, accessory=allocate)


def _waiting_text(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str:
    t = texts(locale)
    target = " · ".join(
        f"{md_line(line.invoice_id, 64)} {display_money(line.amount, a.currency, locale)}"
        for line in a.lines[:LINES_NAMED]
    ) or md_line(a.invoice_id, 64)
    if len(a.lines) > LINES_NAMED:
        extra = len(a.lines) - LINES_NAMED
        target += " " + _n(
            t.ngettext("…and {count} more line", "…and {count} more lines", extra), extra, locale
        )
    first = t.gettext("🕒 *#{id}* · *{amount}* from {payment} → {target}").format(
        id=a.allocation_id,
        amount=display_money(a.amount, a.currency, locale),
        payment=md_line(a.payment_id, 64),
        target=target,
    )
    when = t.gettext("requested {when}").format(when=local_time(a.requested_at, locale=locale))
    return f"{first}\n{when}"


def _decisions_block(p: PartnerHome, locale: str = DEFAULT_LOCALE) -> dict[str, Any] | None:
    if not p.decisions:
        return None
    lines = [texts(locale).gettext("*Your last decisions*")]
    for a in p.decisions:
        outcome = outcome_line(a, reason_budget=HISTORY_REASON_BUDGET // 4, locale=locale)
        lines.append(
            f"#{a.allocation_id} · {display_money(a.amount, a.currency, locale)} · {outcome}"
        )
    return section("\n".join(lines))


# ------------------------------------------------------------------ words


def _totals_text(
    title: str, totals: tuple[CurrencyTotal, ...], locale: str = DEFAULT_LOCALE
) -> str:
    t = texts(locale)
    parts = []
    for total in totals:
        left = display_money(total.unallocated, total.currency, locale)
        if total.pending:
            text = t.gettext("*{left}* to allocate, {pending} pending approval").format(
                left=left, pending=display_money(total.pending, total.currency, locale)
            )
        else:
            text = t.gettext("*{left}* to allocate").format(left=left)
        payments = _n(
            t.ngettext("{count} payment", "{count} payments", total.payments),
            total.payments,
            locale,
        )
        parts.append(f"{text} ({payments})")
    return f"{title}\n" + "\n".join(parts)


def age(delta: dt.timedelta, *, locale: str = DEFAULT_LOCALE) -> str:
    """How long something has waited, in the largest two units: "3 h 20 min", "2 days 4 h"."""
    t = texts(locale)
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 1:
        return t.gettext("under a minute")
    if minutes < 60:
        return t.gettext("{minutes} min").format(minutes=minutes)
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        if minutes:
            return t.gettext("{hours} h {minutes} min").format(hours=hours, minutes=minutes)
        return t.gettext("{hours} h").format(hours=hours)
    days, hours = divmod(hours, 24)
    day_text = _n(t.ngettext("{count} day", "{count} days", days), days, locale)
    return t.gettext("{days} {hours} h").format(days=day_text, hours=hours) if hours else day_text
