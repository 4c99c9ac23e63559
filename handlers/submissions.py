"""Modal submissions: the allocation request and the rejection reason."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from slackbot.errors import InvalidInput
from slackbot.ledger import Ledger
from slackbot.slack import refusals, views
from slackbot.slack.approvers import ApproverDirectory
from slackbot.slack.ids import BlockId, CallbackId
from slackbot.slack.middleware import Outbox
from slackbot.slack.payload import allocation_in_metadata, amount_entry

ALLOCATION_FIELDS = (BlockId.PAYMENT, BlockId.INVOICE, BlockId.AMOUNT, BlockId.NOTE)
NO_REQUEST = "This form no longer names a request."


def register(app: App) -> None:
    app.view(CallbackId.ALLOCATION_MODAL)(submit_allocation)
    app.view(CallbackId.REJECT_MODAL)(submit_rejection)


@refusals.answer_in_modal(fields=ALLOCATION_FIELDS, default=BlockId.PAYMENT)
def submit_allocation(
    ack: Ack,
    view: dict[str, Any],
    ledger: Ledger,
    outbox: Outbox,
    user_id: str,
    form: dict[str, str],
) -> None:
    # Whichever amount block the view holds (``amount``, or ``amount:PAY:INV`` after a redraw).
    amount_block, amount = amount_entry(view, form)
    checks = (
        (BlockId.PAYMENT, form.get(BlockId.PAYMENT, ""), "Choose the payment to apply."),
        (BlockId.INVOICE, form.get(BlockId.INVOICE, ""), "Choose the invoice to pay."),
        (amount_block, amount, "Enter the amount to apply."),
    )
    missing = {block: message for block, typed, message in checks if not typed.strip()}
    if missing:
        ack(response_action="errors", errors=missing)
        return
    allocation = ledger.request_allocation(
        user_id,
        form[BlockId.PAYMENT][:64],
        form[BlockId.INVOICE][:64],
        amount[:64],
        note=form.get(BlockId.NOTE),
        # One modal is one request, however often its submission reaches us.
        request_key=f"view:{str(view.get('id', ''))[:100]}" if view.get("id") else None,
    )
    ack(
        response_action="update",
        view=views.notice_modal("Request sent", views.request_sent_text(allocation)),
    )
    outbox.wake()


@refusals.answer_in_modal(fields=(), default=BlockId.REASON)
def submit_rejection(
    ack: Ack,
    view: dict[str, Any],
    ledger: Ledger,
    approvers: ApproverDirectory,
    outbox: Outbox,
    user_id: str,
    form: dict[str, str],
) -> None:
    allocation_id = allocation_in_metadata(view)
    if allocation_id is None:
        raise InvalidInput("allocation", NO_REQUEST)
    ledger.reject(allocation_id, approvers.actor(user_id), form.get(BlockId.REASON, ""))
    ack()
    outbox.wake()
