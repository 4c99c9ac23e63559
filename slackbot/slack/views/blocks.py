"""The Block Kit pieces every surface builds with, and the words and signs of each status."""

from __future__ import annotations

from typing import Any

from models.enums import AllocationStatus
from models.schemas import AllocationSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import N_, texts
from slackbot.i18n.numbers import display_count, display_money
from slackbot.slack.ids import ActionId, suffixed
from slackbot.slack.views.text import (
    BUTTON_TEXT_MAX,
    CONFIRM_TEXT_MAX,
    CONFIRM_TITLE_MAX,
    HEADER_TEXT_MAX,
    SECTION_TEXT_MAX,
    clip,
    clip_markup,
    fallback,
    local_time,
    md_line,
    mention,
    one_line,
)


def plain_text(text: str, n: int) -> dict[str, Any]:
    # plain_text is shown exactly as given (Slack parses no markup in it), so it is not escaped.
    return {"type": "plain_text", "text": clip(text, n) or " ", "emoji": True}


def mrkdwn_text(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": mrkdwn_text(clip_markup(text, SECTION_TEXT_MAX)), **extra}


def context_block(*texts: str) -> dict[str, Any]:
    elements = [mrkdwn_text(clip_markup(t, SECTION_TEXT_MAX)) for t in texts]
    return {"type": "context", "elements": elements}


def header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": plain_text(one_line(text), HEADER_TEXT_MAX)}


def button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "button",
        "text": plain_text(text, BUTTON_TEXT_MAX),
        "action_id": action_id,
        "value": value,
    }
    if style:
        element["style"] = style
    if confirm:
        element["confirm"] = confirm
    return element


def confirm_dialog(title: str, text: str, confirm: str, deny: str) -> dict[str, Any]:
    return {
        "title": plain_text(title, CONFIRM_TITLE_MAX),
        "text": plain_text(text, CONFIRM_TEXT_MAX),
        "confirm": plain_text(confirm, 30),
        "deny": plain_text(deny, 30),
    }


def ephemeral(
    text: str, blocks: list[dict[str, Any]], *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": fallback(text, locale=locale), "blocks": blocks}


STATUS_EMOJI: dict[str, str] = {
    AllocationStatus.PENDING: "🕒",
    AllocationStatus.APPROVED: "✅",
    AllocationStatus.REJECTED: "❌",
    AllocationStatus.CANCELLED: "↩️",
    AllocationStatus.REVERSED: "⏪",
}


STATUS_WORD: dict[str, str] = {
    AllocationStatus.PENDING: N_("Waiting for approval"),
    AllocationStatus.APPROVED: N_("Approved"),
    AllocationStatus.REJECTED: N_("Rejected"),
    AllocationStatus.CANCELLED: N_("Cancelled"),
    AllocationStatus.REVERSED: N_("Reversed"),
}


def status_word(status: str, *, locale: str = DEFAULT_LOCALE) -> str | None:
    """The status in the reader's language (None for a status this version does not know)."""
    word = STATUS_WORD.get(status)
    return texts(locale).gettext(word) if word else None


def outcome_line(
    a: AllocationSummary,
    *,
    reason_budget: int,
    include_emoji: bool = True,
    locale: str = DEFAULT_LOCALE,
) -> str:
    """One status line: who decided, when, and why (for a rejection or a reversal)."""
    t = texts(locale)
    emoji = f"{STATUS_EMOJI[a.status]} " if include_emoji and a.status in STATUS_EMOJI else ""
    if a.status == AllocationStatus.APPROVED:
        return emoji + t.gettext("Approved by {who} at {when}").format(
            who=mention(a.decided_by, locale=locale), when=local_time(a.decided_at, locale=locale)
        )
    if a.status == AllocationStatus.REJECTED:
        reason = md_line(a.reason, reason_budget) or t.gettext("no reason given")
        return emoji + t.gettext("Rejected by {who} at {when}: {reason}").format(
            who=mention(a.decided_by, locale=locale),
            when=local_time(a.decided_at, locale=locale),
            reason=reason,
        )
    if a.status == AllocationStatus.CANCELLED:
        return emoji + t.gettext("Cancelled by the requester at {when}").format(
            when=local_time(a.decided_at, locale=locale)
        )
    if a.status == AllocationStatus.REVERSED:
        reason = md_line(a.reversal_reason, reason_budget) or t.gettext("no reason given")
        line = emoji + t.gettext("Reversed by {who} at {when}: {reason}").format(
            who=mention(a.reversed_by, locale=locale),
            when=local_time(a.reversed_at, locale=locale),
            reason=reason,
        )
        if a.decided_by:
            line += "\n" + t.gettext("(approved earlier by {who} at {when})").format(
                who=mention(a.decided_by, locale=locale),
                when=local_time(a.decided_at, locale=locale),
            )
        return line
    if a.status == AllocationStatus.PENDING:
        return emoji + t.gettext("Waiting for billing approval")
    return t.gettext("Status: {status}").format(status=md_line(a.status, 32))


def cancel_button(a: AllocationSummary, *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    t = texts(locale)
    if len(a.lines) > 1:
        held_for = t.ngettext("{count} invoice", "{count} invoices", len(a.lines)).format(
            count=display_count(len(a.lines), locale)
        )
    else:
        held_for = one_line(a.invoice_id)
    confirm = confirm_dialog(
        t.gettext("Cancel request #{id}?").format(id=a.allocation_id),
        t.gettext(
            "The {amount} held for {held_for} goes back to {payment}, and billing no longer"
            " sees the request."
        ).format(
            amount=display_money(a.amount, a.currency, locale),
            held_for=held_for,
            payment=one_line(a.payment_id),
        ),
        t.gettext("Cancel request"),
        t.gettext("Keep it"),
    )
    return button(
        t.gettext("Cancel request"),
        suffixed(ActionId.CANCEL_ALLOCATION, a.allocation_id),
        str(a.allocation_id),
        style="danger",
        confirm=confirm,
    )
