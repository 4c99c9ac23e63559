"""The Block Kit pieces every surface builds with, and the words and signs of each status."""

from __future__ import annotations

from typing import Any

from models.enums import AllocationStatus
from models.schemas import AllocationSummary
from slackbot.money import format_amount
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


def ephemeral(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": fallback(text), "blocks": blocks}


STATUS_EMOJI: dict[str, str] = {
    AllocationStatus.PENDING: "🕒",
    AllocationStatus.APPROVED: "✅",
    AllocationStatus.REJECTED: "❌",
    AllocationStatus.CANCELLED: "↩️",
    AllocationStatus.REVERSED: "⏪",
}


STATUS_WORD: dict[str, str] = {
    AllocationStatus.PENDING: "Waiting for approval",
    AllocationStatus.APPROVED: "Approved",
    AllocationStatus.REJECTED: "Rejected",
    AllocationStatus.CANCELLED: "Cancelled",
    AllocationStatus.REVERSED: "Reversed",
}


def outcome_line(a: AllocationSummary, *, reason_budget: int, include_emoji: bool = True) -> str:
    """One status line: who decided, when, and why (for a rejection or a reversal)."""
    emoji = f"{STATUS_EMOJI[a.status]} " if include_emoji and a.status in STATUS_EMOJI else ""
    if a.status == AllocationStatus.APPROVED:
        return f"{emoji}Approved by {mention(a.decided_by)} at {local_time(a.decided_at)}"
    if a.status == AllocationStatus.REJECTED:
        reason = md_line(a.reason, reason_budget) or "no reason given"
        return f"{emoji}Rejected by {mention(a.decided_by)} at {local_time(a.decided_at)}: {reason}"
    if a.status == AllocationStatus.CANCELLED:
        return f"{emoji}Cancelled by the requester at {local_time(a.decided_at)}"
    if a.status == AllocationStatus.REVERSED:
        reason = md_line(a.reversal_reason, reason_budget) or "no reason given"
        line = (
            f"{emoji}Reversed by {mention(a.reversed_by)} at {local_time(a.reversed_at)}: {reason}"
        )
        if a.decided_by:
            line += f"\n(approved earlier by {mention(a.decided_by)} at {local_time(a.decided_at)})"
        return line
    if a.status == AllocationStatus.PENDING:
        return f"{emoji}Waiting for billing approval"
    return f"Status: {md_line(a.status, 32)}"


def cancel_button(a: AllocationSummary) -> dict[str, Any]:
    held_for = f"{len(a.lines)} invoices" if len(a.lines) > 1 else one_line(a.invoice_id)
    confirm = confirm_dialog(
        f"Cancel request #{a.allocation_id}?",
        f"The {format_amount(a.amount, a.currency)} held for {held_for} goes"
        f" back to {one_line(a.payment_id)}, and billing no longer sees the request.",
        "Cancel request",
        "Keep it",
    )
    return button(
        "Cancel request",
        suffixed(ActionId.CANCEL_ALLOCATION, a.allocation_id),
        str(a.allocation_id),
        style="danger",
        confirm=confirm,
    )
