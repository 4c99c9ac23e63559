"""Modal submissions: the allocation request and the rejection reason."""

from __future__ import annotations

import json
from typing import Any

from slack_bolt import Ack, App, BoltContext

from handlers.common import (
    allocation_id_from,
    amount_entry,
    bot_of,
    form_values,
    guarded,
    refusal_text,
    user_id_of,
)
from slackbot.errors import DomainError, Unavailable
from slackbot.slack import views

ALLOCATION_FIELDS = ("payment", "invoice", "amount", "note")


def register(app: App) -> None:
    app.view("allocation_modal")(submit_allocation)
    app.view("reject_modal")(submit_rejection)


def _field_for(error: Exception, fields: tuple[str, ...], default: str) -> str:
    field = getattr(error, "field", None)
    return field if field in fields else default


@guarded
def submit_allocation(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    bot = bot_of(context)
    form = form_values(view)
    # Whichever amount block the view holds (``amount``, or ``amount:PAY:INV`` after a redraw).
    amount_block, form["amount"] = amount_entry(view)
    missing = {
        block: message
        for block, message in (
            ("payment", "Choose the payment to apply."),
            ("invoice", "Choose the invoice to pay."),
            ("amount", "Enter the amount to apply."),
        )
        if not form.get(block, "").strip()
    }
    if "amount" in missing:
        missing[amount_block] = missing.pop("amount")
    if missing:
        ack(response_action="errors", errors=missing)
        return
    try:
        allocation = bot.ledger.request_allocation(
            user_id_of(body),
            form["payment"][:64],
            form["invoice"][:64],
            form["amount"][:64],
            note=form.get("note"),
            # One modal is one request, however often its submission reaches us.
            request_key=f"view:{str(view.get('id', ''))[:100]}" if view.get("id") else None,
        )
    except (DomainError, Unavailable) as refusal:
        field = _field_for(refusal, ALLOCATION_FIELDS, "payment")
        block = amount_block if field == "amount" else field
        ack(response_action="errors", errors={block: refusal_text(refusal, plain=True)})
        return
    ack(
        response_action="update",
        view=views.notice_modal("Request sent", views.request_sent_text(allocation)),
    )
    bot.delivery.wake()


@guarded
def submit_rejection(
    ack: Ack, body: dict[str, Any], view: dict[str, Any], context: BoltContext
) -> None:
    bot = bot_of(context)
    allocation_id = _allocation_in(view)
    if allocation_id is None:
        ack(response_action="errors", errors={"reason": "This form no longer names a request."})
        return
    reason = form_values(view).get("reason", "")
    try:
        bot.ledger.reject(allocation_id, bot.approvers.actor(user_id_of(body)), reason)
    except (DomainError, Unavailable) as refusal:
        ack(response_action="errors", errors={"reason": refusal_text(refusal, plain=True)})
        return
    ack()
    bot.delivery.wake()


def _allocation_in(view: dict[str, Any]) -> int | None:
    try:
        metadata = json.loads(str(view.get("private_metadata") or ""))
    except ValueError:
        return None
    if not isinstance(metadata, dict):
        return None
    return allocation_id_from(str(metadata.get("allocation_id", "")))
