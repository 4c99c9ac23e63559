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
from slackbot.money import format_amount
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
    count,
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
    blocks: list[dict[str, Any]] = [
        context_block(
            f"Updated {local_time(home.as_of)} · this page follows every request and decision."
        )
    ]
    if not home.linked and home.approver is None:
        blocks += not_linked_message()["blocks"]
        return {"type": "home", "blocks": blocks}
    if home.totals:
        blocks.append(section(_totals_text("*Money left to allocate*", home.totals)))
    room = HOME_MAX_BLOCKS - len(blocks)
    if home.approver is not None:
        share = min(room, APPROVER_SHARE) if home.linked else room
        approver = _approver_blocks(home.approver, home.as_of, share)
        blocks += approver
        room -= len(approver)
    if home.linked:
        blocks += _partners_blocks(home, room)
    return {"type": "home", "blocks": blocks[:HOME_MAX_BLOCKS]}


# ------------------------------------------------------------------ approver


def _approver_blocks(queue: ApproverHome, now: dt.datetime, room: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = [header("Approvals waiting")]
    if queue.pending_count == 0:
        blocks.append(section("✅ No requests are waiting for approval."))
    else:
        oldest = queue.oldest_requested_at
        summary = f"*{count(queue.pending_count, 'request')} waiting*"
        if oldest is not None:
            summary += f" · oldest waiting {age(now - oldest)} (since {local_time(oldest)})"
        if queue.by_partner:
            parts = [
                f"{md_line(p.name or p.partner_id, 80)} {p.pending:,}" for p in queue.by_partner
            ]
            more = (
                f" …and {count(queue.by_partner_more, 'more partner')}"
                if queue.by_partner_more
                else ""
            )
            summary += "\nBy partner: " + " · ".join(parts) + more
        blocks.append(section(summary))
    decided = _decided_today_block(queue)
    # header, summary, decided today, and "…and N more" keep their places.
    fit = max(0, (room - len(blocks) - 1 - (1 if decided else 0)) // 2)
    shown = queue.queue[:fit]
    for request in shown:
        blocks.append(section(_queue_text(request, now)))
        blocks.append(approve_reject_block(request))
    hidden = queue.pending_count - len(shown)
    if hidden > 0 and queue.pending_count:
        blocks.append(
            context_block(
                f"…and {hidden:,} more waiting, newer than these: decide these first, or find"
                " any of them in the billing channel."
            )
        )
    if decided:
        blocks.append(decided)
    return blocks


def approve_reject_block(a: AllocationSummary, *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """Approve and Reject as the billing message has them: same ids, values and confirm."""
    amount = format_amount(a.amount, a.currency)
    what = (
        f"{one_line(a.payment_id)} to {count(len(a.lines), 'invoice')}"
        if len(a.lines) > 1
        else f"{one_line(a.payment_id)} to {one_line(a.invoice_id)}"
    )
    approve_id = suffixed(ActionId.APPROVE_ALLOCATION, a.allocation_id)
    reject_id = suffixed(ActionId.REJECT_ALLOCATION, a.allocation_id)
    confirm = confirm_dialog(
        f"Approve request #{a.allocation_id}?",
        f"Apply {amount} from {what} for {one_line(a.partner_name)}. This posts to the ledger.",
        "Approve",
        "Back",
    )
    return {
        "type": "actions",
        "block_id": approve_id,
        "elements": [
            button("Approve", approve_id, str(a.allocation_id), style="primary", confirm=confirm),
            button("Reject…", reject_id, str(a.allocation_id), style="danger"),
        ],
    }


def _queue_text(a: AllocationSummary, now: dt.datetime) -> str:
    currency = a.currency
    first = (
        f"*#{a.allocation_id}* · *{format_amount(a.amount, currency)}* ·"
        f" {md_line(a.partner_name, NAME_BUDGET)} · from {mention(a.requested_by)} ·"
        f" waiting {age(now - a.requested_at)}"
    )
    lines = [
        f"{md_line(line.invoice_id, 64)} {format_amount(line.amount, currency)}"
        f" (has {format_amount(line.invoice_amount_due, currency)} left to pay)"
        for line in a.lines[:LINES_NAMED]
    ]
    if len(a.lines) > LINES_NAMED:
        lines.append(f"…and {count(len(a.lines) - LINES_NAMED, 'more line')}")
    payment = (
        f"{md_line(a.payment_id, 64)} has {format_amount(a.payment_unallocated, currency)} left"
        f" to allocate, {format_amount(a.payment_pending, currency)} pending (this included)"
    )
    return "\n".join([first, "→ " + " · ".join(lines), payment])


def _decided_today_block(queue: ApproverHome) -> dict[str, Any] | None:
    if not queue.decided_today:
        return None
    lines = [f"*You decided today* ({queue.decided_today_count:,})"]
    for a in queue.decided_today:
        emoji = STATUS_EMOJI.get(a.status, "•")
        text = (
            f"{emoji} #{a.allocation_id} · {format_amount(a.amount, a.currency)} ·"
            f" {md_line(a.partner_name, 80)}"
        )
        if a.reason:
            text += f": {md_line(a.reason, 200)}"
        lines.append(text)
    hidden = queue.decided_today_count - len(queue.decided_today)
    if hidden > 0:
        lines.append(f"…and {hidden:,} earlier today")
    return section("\n".join(lines))


# ------------------------------------------------------------------ partners


def _partners_blocks(home: Home, room: int) -> list[dict[str, Any]]:
    blocks: list[dict[str, Any]] = []
    closing = 1 if home.partners_more else 0
    primary_given = False
    for number, partner in enumerate(home.partners):
        left = len(home.partners) - number
        share = (room - closing - len(blocks)) // left
        own, primary_given = _partner_blocks(partner, share, primary_given)
        blocks += own
    if home.partners_more:
        blocks.append(
            context_block(
                f"…and {count(home.partners_more, 'more partner')} you act for: type `/payments`"
                " to see all your payments."
            )
        )
    return blocks


def _partner_blocks(
    p: PartnerHome, room: int, primary_given: bool
) -> tuple[list[dict[str, Any]], bool]:
    """One partner's section in at most ``room`` blocks (at least its header and totals)."""
    top: list[dict[str, Any]] = [header(p.name or p.partner_id)]
    if p.totals:
        top.append(section(_totals_text("*Payments with money left*", p.totals)))
    else:
        top.append(section("🧾 No payments with money left to allocate."))
    decisions = _decisions_block(p)
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
        payment_blocks.append(_payment_block(payment, primary=primary))
        if suggestion is not None:
            payment_blocks.append(
                suggestion_block(payment.payment_id, payment.currency, suggestion)
            )
        shown += 1
    blocks = top + payment_blocks
    hidden = p.payments_more + len(p.payments) - shown
    if hidden > 0:
        blocks.append(
            context_block(
                f"…and {count(hidden, 'more payment')} with money left: type `/payments` to see"
                " them all, or `/payments allocate PAYMENT_ID`."
            )
        )
    elif p.suggestions_skipped:
        blocks.append(
            context_block(
                "Suggestions are shown for the oldest payments only; *Allocate* on any other"
                " opens the form, which suggests lines too."
            )
        )
    if waiting:
        blocks.append(
            section(f"*Your requests waiting for billing* ({len(p.waiting) + p.waiting_more:,})")
        )
        blocks += [section(_waiting_text(a), accessory=cancel_button(a)) for a in waiting]
    if waiting_more:
        blocks.append(
            context_block(
                f"…and {count(waiting_more, 'more request')} waiting: `/payments history` lists"
                " them with their Cancel buttons."
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
    action_id = suffixed(RequestAction.ALLOCATE_SUGGESTED, payment_id)
    text = (
        f"💡 Suggested: {md_line(s.summary, SUGGESTION_BUDGET)}"
        f" ({count(s.lines, 'invoice')}, {format_amount(s.total, currency)})"
    )
    allocate = button("Allocate as suggested", action_id, payment_id)
    return section(text, block_id=action_id, accessory=allocate)


def _waiting_text(a: AllocationSummary) -> str:
    target = " · ".join(
        f"{md_line(line.invoice_id, 64)} {format_amount(line.amount, a.currency)}"
        for line in a.lines[:LINES_NAMED]
    ) or md_line(a.invoice_id, 64)
    if len(a.lines) > LINES_NAMED:
        target += f" …and {count(len(a.lines) - LINES_NAMED, 'more line')}"
    return (
        f"🕒 *#{a.allocation_id}* · *{format_amount(a.amount, a.currency)}* from"
        f" {md_line(a.payment_id, 64)} → {target}\nrequested {local_time(a.requested_at)}"
    )


def _decisions_block(p: PartnerHome) -> dict[str, Any] | None:
    if not p.decisions:
        return None
    lines = ["*Your last decisions*"]
    for a in p.decisions:
        lines.append(
            f"#{a.allocation_id} · {format_amount(a.amount, a.currency)} ·"
            f" {outcome_line(a, reason_budget=HISTORY_REASON_BUDGET // 4)}"
        )
    return section("\n".join(lines))


# ------------------------------------------------------------------ words


def _totals_text(title: str, totals: tuple[CurrencyTotal, ...]) -> str:
    parts = []
    for t in totals:
        text = f"*{format_amount(t.unallocated, t.currency)}* to allocate"
        if t.pending:
            text += f", {format_amount(t.pending, t.currency)} pending approval"
        parts.append(f"{text} ({count(t.payments, 'payment')})")
    return f"{title}\n" + "\n".join(parts)


def age(delta: dt.timedelta, *, locale: str = DEFAULT_LOCALE) -> str:
    """How long something has waited, in the largest two units: "3 h 20 min", "2 days 4 h"."""
    minutes = max(0, int(delta.total_seconds() // 60))
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{count(days, 'day')} {hours} h" if hours else count(days, "day")
