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
from slackbot.i18n.catalog import texts
from slackbot.i18n.numbers import display_count, display_money
from slackbot.slack.views.blocks import context_block, header, section
from slackbot.slack.views.text import (
    NAME_BUDGET,
    SECTION_TEXT_MAX,
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


def _n(text: str, n: int, locale: str) -> str:
    """A ``t.ngettext(…)`` text with ``{count}`` written the locale's way (the call stays at the
    call site, where Babel's extractor finds it)."""
    return text.format(count=display_count(n, locale))


def business_age(seconds: int, *, locale: str = DEFAULT_LOCALE) -> str:
    """``4h``, ``1h 30m``, ``45m``, ``28h 5m``: business time in hours and minutes."""
    t = texts(locale)
    minutes = max(0, int(seconds)) // 60
    if minutes < 1:
        return t.gettext("under a minute")
    hours, minutes = divmod(minutes, 60)
    if not hours:
        return t.gettext("{minutes}m").format(minutes=minutes)
    if minutes:
        return t.gettext("{hours}h {minutes}m").format(hours=hours, minutes=minutes)
    return t.gettext("{hours}h").format(hours=hours)


def approver_mentions(
    group_id: str | None, user_ids: Sequence[str], *, locale: str = DEFAULT_LOCALE
) -> str:
    """The approver group (``<!subteam^S…>``), else each approver (``<@U…>``), else words."""
    if group_id and is_slack_group_id(group_id):
        return f"<!subteam^{group_id}>"
    t = texts(locale)
    people = [user for user in dict.fromkeys(user_ids) if is_slack_user_id(user)]
    if not people:
        return t.gettext("Billing approvers")
    named = " ".join(f"<@{user}>" for user in people[:MENTIONS_MAX])
    if len(people) > MENTIONS_MAX:
        named += " " + _n(
            t.ngettext(
                "and {count} other approver",
                "and {count} other approvers",
                len(people) - MENTIONS_MAX,
            ),
            len(people) - MENTIONS_MAX,
            locale,
        )
    return named


def _what(a: AllocationSummary, locale: str = DEFAULT_LOCALE) -> str:
    t = texts(locale)
    invoices = (
        md_line(a.invoice_id, 64)
        if len(a.lines) <= 1
        else _n(
            t.ngettext("{count} invoice", "{count} invoices", len(a.lines)), len(a.lines), locale
        )
    )
    return t.gettext("*{amount}* from *{payment}* to *{invoices}* for {partner}").format(
        amount=display_money(a.amount, a.currency, locale),
        payment=md_line(a.payment_id, 64),
        invoices=invoices,
        partner=md_line(a.partner_name, NAME_BUDGET),
    )


def reminder_reply(
    a: AllocationSummary, *, business_seconds: int, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """The thread reply on a request's billing message once it waited ``REMIND_AFTER``."""
    t = texts(locale)
    age = business_age(business_seconds, locale=locale)
    text = "⏰ " + t.gettext(
        "Request #{id} has been waiting {age} of business time (requested by {who} {when}):"
        " {what}. It needs an approver's decision: Approve or Reject on the message above."
    ).format(
        id=a.allocation_id,
        age=age,
        who=mention(a.requested_by, locale=locale),
        when=local_time(a.requested_at, locale=locale),
        what=_what(a, locale),
    )
    plain = t.gettext(
        "Reminder: request #{id} has been waiting {age} of business time for a decision ({partner})"
    ).format(id=a.allocation_id, age=age, partner=md_line(a.partner_name, NAME_BUDGET))
    return {"text": fallback(plain, locale=locale), "blocks": [section(text)]}


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
    t = texts(locale)
    age = business_age(business_seconds, locale=locale)
    who = approver_mentions(group_id, approver_ids, locale=locale)
    text = "🚨 " + t.gettext(
        "{approvers}: request #{id} has been waiting {age} of business time with no decision"
        " (requested by {who} {when}): {what}. Please approve or reject it on the request's"
        " message; the partner has been told it is being chased."
    ).format(
        approvers=who,
        id=a.allocation_id,
        age=age,
        who=mention(a.requested_by, locale=locale),
        when=local_time(a.requested_at, locale=locale),
        what=_what(a, locale),
    )
    plain = t.gettext(
        "{approvers}: request #{id} has been waiting {age} of business time with no"
        " decision ({partner})"
    ).format(
        approvers=who, id=a.allocation_id, age=age, partner=md_line(a.partner_name, NAME_BUDGET)
    )
    return {"text": fallback(plain, locale=locale), "blocks": [section(text)]}


def chase_notice(
    a: AllocationSummary, *, business_seconds: int, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """What the requester reads when their request is escalated: billing is chasing it."""
    t = texts(locale)
    age = business_age(business_seconds, locale=locale)
    text = "🔔 " + t.gettext(
        "Billing has been reminded: your request #{id} of {when} ({what}) is being chased."
        " It has waited {age} of business time; you will hear here as soon as it is decided."
    ).format(
        id=a.allocation_id,
        when=local_time(a.requested_at, locale=locale),
        what=_what(a, locale),
        age=age,
    )
    plain = t.gettext(
        "Billing has been reminded: your request #{id} of {when} is being chased"
    ).format(id=a.allocation_id, when=utc_time(a.requested_at, locale=locale))
    return {"text": fallback(plain, locale=locale), "blocks": [section(text)]}


def daily_digest(digest: Mapping[str, Any], *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """The billing channel's summary at opening: how many wait, the oldest, per partner.

    ``digest`` is the payload :func:`slackbot.ledger.reminders.waiting_digest` wrote (plain
    JSON values): figures as they stood when the day's digest was decided.
    """
    t = texts(locale)
    waiting = int(digest.get("waiting") or 0)
    as_of = _moment(digest.get("as_of"))
    title = t.gettext("Waiting for approval: {requests}").format(
        requests=_n(t.ngettext("{count} request", "{count} requests", waiting), waiting, locale)
    )
    blocks: list[dict[str, Any]] = [
        header(title),
        context_block(
            t.gettext("As of {when}. Ages are business time.").format(
                when=local_time(as_of, locale=locale)
            )
        ),
    ]
    oldest = digest.get("oldest")
    if isinstance(oldest, Mapping):
        blocks.append(
            section(
                t.gettext(
                    "*Oldest:* request #{id} from {partner}, waiting {age} (since {when})"
                ).format(
                    id=int(oldest.get("request_id") or 0),
                    partner=md_line(str(oldest.get("partner_name") or ""), NAME_BUDGET),
                    age=business_age(int(oldest.get("business_seconds") or 0), locale=locale),
                    when=local_time(_moment(oldest.get("requested_at")), locale=locale),
                )
            )
        )
    partners = [p for p in digest.get("partners") or [] if isinstance(p, Mapping)]
    shown = partners[:DIGEST_LINES_MAX]
    left_out = len(partners) - len(shown) + int(digest.get("more_partners") or 0)
    chunk: list[str] = []
    for partner in shown:
        line = _partner_line(partner, locale)
        if chunk and units("\n".join([*chunk, line])) > _DIGEST_SECTION_BUDGET:
            blocks.append(section("\n".join(chunk)))
            chunk = []
        chunk.append(line)
    if chunk:
        blocks.append(section("\n".join(chunk)))
    if left_out > 0:
        blocks.append(
            context_block(
                _n(
                    t.ngettext(
                        "…and {count} more partner with requests waiting (not listed).",
                        "…and {count} more partners with requests waiting (not listed).",
                        left_out,
                    ),
                    left_out,
                    locale,
                )
            )
        )
    plain = title
    if isinstance(oldest, Mapping):
        plain += "; " + t.gettext("the oldest has waited {age}").format(
            age=business_age(int(oldest.get("business_seconds") or 0), locale=locale)
        )
    return {"text": fallback(plain, locale=locale), "blocks": blocks}


def _partner_line(partner: Mapping[str, Any], locale: str = DEFAULT_LOCALE) -> str:
    t = texts(locale)
    totals = ", ".join(
        display_money(int(total.get("amount") or 0), str(total.get("currency") or ""), locale)
        for total in partner.get("totals") or []
        if isinstance(total, Mapping)
    )
    name = md_line(str(partner.get("name") or partner.get("partner_id") or ""), NAME_BUDGET)
    requests = _n(
        t.ngettext("{count} request", "{count} requests", int(partner.get("waiting") or 0)),
        int(partner.get("waiting") or 0),
        locale,
    )
    line = f"• *{name}* · {requests}"
    if totals:
        line += f" · {totals}"
    return (
        line
        + " · "
        + t.gettext("oldest waiting {age} (since {when})").format(
            age=business_age(int(partner.get("business_seconds") or 0), locale=locale),
            when=local_time(_moment(partner.get("since")), locale=locale),
        )
    )


def _moment(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
