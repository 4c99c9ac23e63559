"""What reminders say: the billing thread's reminder and escalation, the chase notice, the digest.

Ages are business time (what ``REMIND_AFTER`` and ``ESCALATE_AFTER`` count), shown in hours and
minutes; the moment a request was made is shown in each reader's own time zone. Pure builders:
data in, ``{"text", "blocks"}`` out, under the same escaping and limits as every view.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

from models.limits import is_slack_group_id, is_slack_user_id
from models.schemas import AllocationSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.money import format_amount
from slackbot.slack.views.blocks import context_block, header, section
from slackbot.slack.views.text import (
    NAME_BUDGET,
    SECTION_TEXT_MAX,
    count,
    fallback,
    local_time,
    md_line,
    mention,
    units,
    utc_time,
)

__all__ = [
    "MENTIONS_MAX",
    "approver_mentions",
    "business_age",
    "chase_notice",
    "daily_digest",
    "escalation_reply",
    "reminder_reply",
]

# Approvers an escalation names one by one when there is no group to mention.
MENTIONS_MAX = 20
# Partners a digest lists (the payload holds at most this many; the rest are counted).
DIGEST_LINES_MAX = 40
# A digest's blocks: header, summary, oldest, partner sections, the note of what was left out.
_DIGEST_SECTION_BUDGET = SECTION_TEXT_MAX - 100


def business_age(seconds: int, *, locale: str = DEFAULT_LOCALE) -> str:
    """``4h``, ``1h 30m``, ``45m``, ``28h 5m``: business time in hours and minutes."""
    minutes = max(0, int(seconds)) // 60
    if minutes < 1:
        return "under a minute"
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return f"{minutes}m"
    return f"{hours}h {minutes}m" if minutes else f"{hours}h"


def approver_mentions(group_id: str | None, user_ids: Sequence[str]) -> str:
    """The approver group (``<!subteam^S…>``), else each approver (``<@U…>``), else words."""
    if group_id and is_slack_group_id(group_id):
        return f"<!subteam^{group_id}>"
    people = [user for user in dict.fromkeys(user_ids) if is_slack_user_id(user)]
    if not people:
        return "Billing approvers"
    named = " ".join(f"<@{user}>" for user in people[:MENTIONS_MAX])
    if len(people) > MENTIONS_MAX:
        named += f" and {count(len(people) - MENTIONS_MAX, 'other approver')}"
    return named


def _what(a: AllocationSummary) -> str:
    invoices = md_line(a.invoice_id, 64) if len(a.lines) <= 1 else count(len(a.lines), "invoice")
    return (
        f"*{format_amount(a.amount, a.currency)}* from *{md_line(a.payment_id, 64)}* to"
        f" *{invoices}* for {md_line(a.partner_name, NAME_BUDGET)}"
    )


def reminder_reply(
    a: AllocationSummary, *, business_seconds: int, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The thread reply on a request's billing message once it waited ``REMIND_AFTER``."""
    age = business_age(business_seconds)
    text = (
        f"⏰ Request #{a.allocation_id} has been waiting {age} of business time"
        f" (requested by {mention(a.requested_by)} {local_time(a.requested_at)}): {_what(a)}."
        " It needs an approver's decision: Approve or Reject on the message above."
    )
    plain = (
        f"Reminder: request #{a.allocation_id} has been waiting {age} of business time"
        f" for a decision ({md_line(a.partner_name, NAME_BUDGET)})"
    )
    return {"text": fallback(plain), "blocks": [section(text)]}


def escalation_reply(
    a: AllocationSummary,
    *,
    business_seconds: int,
    group_id: str | None = None,
    approver_ids: Sequence[str] = (),
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """The thread reply (also shown in the channel) once a request waited ``ESCALATE_AFTER``:
    it mentions the approver group, or the approvers, so someone is notified."""
    age = business_age(business_seconds)
    who = approver_mentions(group_id, approver_ids)
    text = (
        f"🚨 {who}: request #{a.allocation_id} has been waiting {age} of business time"
        f" with no decision (requested by {mention(a.requested_by)}"
        f" {local_time(a.requested_at)}): {_what(a)}. Please approve or reject it on the request's"
        " message; the partner has been told it is being chased."
    )
    plain = (
        f"{who}: request #{a.allocation_id} has been waiting {age} of business time with no"
        f" decision ({md_line(a.partner_name, NAME_BUDGET)})"
    )
    return {"text": fallback(plain), "blocks": [section(text)]}


def chase_notice(
    a: AllocationSummary, *, business_seconds: int, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """What the requester reads when their request is escalated: billing is chasing it."""
    age = business_age(business_seconds)
    text = (
        f"🔔 Billing has been reminded: your request #{a.allocation_id}"
        f" of {local_time(a.requested_at)}"
        f" ({_what(a)}) is being chased. It has waited {age} of business time; you will hear"
        " here as soon as it is decided."
    )
    plain = (
        f"Billing has been reminded: your request #{a.allocation_id} of"
        f" {utc_time(a.requested_at)} is being chased"
    )
    return {"text": fallback(plain), "blocks": [section(text)]}


def daily_digest(digest: Mapping[str, Any], *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """The billing channel's summary at opening: how many wait, the oldest, per partner.

    ``digest`` is the payload :func:`slackbot.ledger.reminders.waiting_digest` wrote (plain
    JSON values): figures as they stood when the day's digest was decided.
    """
    waiting = int(digest.get("waiting") or 0)
    as_of = _moment(digest.get("as_of"))
    blocks: list[dict[str, Any]] = [
        header(f"Waiting for approval: {count(waiting, 'request')}"),
        context_block(f"As of {local_time(as_of)}. Ages are business time."),
    ]
    oldest = digest.get("oldest")
    if isinstance(oldest, Mapping):
        blocks.append(
            section(
                f"*Oldest:* request #{int(oldest.get('request_id') or 0)} from"
                f" {md_line(str(oldest.get('partner_name') or ''), NAME_BUDGET)}, waiting"
                f" {business_age(int(oldest.get('business_seconds') or 0))}"
                f" (since {local_time(_moment(oldest.get('requested_at')))})"
            )
        )
    partners = [p for p in digest.get("partners") or [] if isinstance(p, Mapping)]
    shown = partners[:DIGEST_LINES_MAX]
    left_out = len(partners) - len(shown) + int(digest.get("more_partners") or 0)
    chunk: list[str] = []
    for partner in shown:
        line = _partner_line(partner)
        if chunk and units("\n".join([*chunk, line])) > _DIGEST_SECTION_BUDGET:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    if left_out > 0:
        blocks.append(
            context_block(
                f"…and {count(left_out, 'more partner')} with requests waiting (not listed)."
            )
        )
    plain = f"Waiting for approval: {count(waiting, 'request')}"
    if isinstance(oldest, Mapping):
        plain += f"; the oldest has waited {business_age(int(oldest.get('business_seconds') or 0))}"
    return {"text": fallback(plain), "blocks": blocks}


def _partner_line(partner: Mapping[str, Any]) -> str:
    totals = ", ".join(
        format_amount(int(total.get("amount") or 0), str(total.get("currency") or ""))
        for total in partner.get("totals") or []
        if isinstance(total, Mapping)
    )
    line = (
        f"• *{md_line(str(partner.get('name') or partner.get('partner_id') or ''), NAME_BUDGET)}*"
        f" · {count(int(partner.get('waiting') or 0), 'request')}"
    )
    if totals:
        line += f" · {totals}"
    return line + (
        f" · oldest waiting {business_age(int(partner.get('business_seconds') or 0))}"
        f" (since {local_time(_moment(partner.get('since')))})"
    )


def _moment(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
