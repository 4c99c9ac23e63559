"""Button clicks and selects: Allocate, the modal's payment and invoice, Approve, Reject, Cancel,
and the payment list's pages."""

from __future__ import annotations

import contextlib
import logging
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.modals import open_allocation_modal
from models.enums import Decision
from slackbot.errors import InvalidInput
from slackbot.ledger import Ledger
from slackbot.slack import refusals, views
from slackbot.slack.approvers import ApproverDirectory
from slackbot.slack.ids import ActionId, BlockId, amount_block_id, matching
from slackbot.slack.middleware import Outbox
from slackbot.slack.payload import action_value, allocation_id_from, is_ephemeral_click
from slackbot.slack.replies import reply_privately

log = logging.getLogger("handlers")

NO_ALLOCATION = "That button doesn't name an allocation request."
COULD_NOT_OPEN_REJECT = (
    "Slack didn't open the rejection form just now, so nothing changed. Please click Reject again."
)


def register(app: App) -> None:
    app.action(matching(ActionId.OPEN_ALLOCATION))(open_allocation)
    app.action(BlockId.PAYMENT)(choose_payment)
    app.action(BlockId.INVOICE)(choose_invoice)
    app.action(matching(ActionId.PAYMENTS_PAGE))(turn_payments_page)
    app.action(matching(ActionId.APPROVE_ALLOCATION))(approve_allocation)
    app.action(matching(ActionId.REJECT_ALLOCATION))(reject_allocation)
    app.action(matching(ActionId.CANCEL_ALLOCATION))(cancel_allocation)


def clicked_allocation(body: dict[str, Any]) -> int:
    """The allocation a decision or cancel button names (its value); refused if none."""
    allocation_id = allocation_id_from(action_value(body))
    if allocation_id is None:
        raise InvalidInput("allocation", NO_ALLOCATION)
    return allocation_id


@refusals.answer_privately
def open_allocation(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    ledger: Ledger,
    user_id: str,
) -> None:
    ack()
    open_allocation_modal(
        ledger,
        client,
        respond,
        user_id=user_id,
        trigger_id=str(body.get("trigger_id", "")),
        payment_id=action_value(body)[:64] or None,
    )


@refusals.leave_as_is
def choose_payment(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    ledger: Ledger,
    user_id: str,
    form: dict[str, str],
) -> None:
    """The modal's payment changed: redraw it so the amount suggests that payment's balance."""
    ack()
    payment_id = form.get(BlockId.PAYMENT) or action_value(body)
    _redraw_allocation_modal(ledger, client, body, user_id, payment_id, form.get(BlockId.INVOICE))


@refusals.leave_as_is
def choose_invoice(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    ledger: Ledger,
    user_id: str,
    form: dict[str, str],
) -> None:
    """The modal's invoice changed: the amount becomes the lesser of what both have left."""
    ack()
    invoice_id = action_value(body) or form.get(BlockId.INVOICE)
    _redraw_allocation_modal(
        ledger, client, body, user_id, form.get(BlockId.PAYMENT, ""), invoice_id
    )


def _redraw_allocation_modal(
    ledger: Ledger,
    client: WebClient,
    body: dict[str, Any],
    user_id: str,
    payment_id: str,
    invoice_id: str | None,
) -> None:
    """The modal again with ``payment_id`` and ``invoice_id`` chosen; a refusal leaves it be.

    The submission says what is wrong with a choice, so nothing is told here.
    """
    view = body.get("view") or {}
    payments = ledger.payments_of(user_id, only_allocatable=True)
    selected = next((p for p in payments if p.payment_id == payment_id), None)
    invoice = None
    if selected is not None and invoice_id:
        # The choice came from this search (the options load); one no longer offered, or not
        # payable by this payment, is left for the submission to explain.
        invoice_id = invoice_id[:64]
        offered = ledger.search_open_invoices(user_id, selected.payment_id, invoice_id)
        invoice = next((i for i in offered if i.invoice_id == invoice_id), None)
    metadata = view.get("private_metadata")
    redrawn = views.allocation_modal(
        payments,
        selected=selected,
        invoice=invoice,
        amount_block=amount_block_id(
            selected.payment_id if selected else None, invoice.invoice_id if invoice else None
        ),
        private_metadata=metadata if isinstance(metadata, str) and len(metadata) <= 3000 else "",
    )
    try:
        client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=redrawn)
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        # A hash conflict means the person already changed something else: nothing to redo.
        log.info("views.update after a choice in the modal did not go through: %s", exc)


@refusals.answer_privately
def turn_payments_page(
    ack: Ack, body: dict[str, Any], respond: Respond, ledger: Ledger, user_id: str
) -> None:
    """Next/Previous on the payment list: the same ephemeral message shows the other page."""
    ack()
    page = allocation_id_from(action_value(body)) or 1
    if not ledger.partners_of(user_id):
        reply_privately(respond, views.not_linked_message(), replace=True)
        return
    payments = ledger.payments_of(user_id)
    reply_privately(respond, views.payments_message(payments, page=page), replace=True)


@refusals.answer_privately
def approve_allocation(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    ledger: Ledger,
    approvers: ApproverDirectory,
    outbox: Outbox,
    user_id: str,
) -> None:
    ack()
    ledger.approve(clicked_allocation(body), approvers.actor(user_id))
    outbox.wake()


@refusals.answer_privately
def reject_allocation(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    ledger: Ledger,
    approvers: ApproverDirectory,
    user_id: str,
) -> None:
    ack()
    allocation_id = clicked_allocation(body)
    allocation = ledger.check_can_decide(allocation_id, approvers.actor(user_id), Decision.REJECT)
    try:
        client.views_open(
            trigger_id=str(body.get("trigger_id", "")), view=views.reject_modal(allocation)
        )
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        log.warning("views.open for rejecting %s failed: %s", allocation_id, exc)
        reply_privately(respond, views.error_message(COULD_NOT_OPEN_REJECT))


@refusals.answer_privately
def cancel_allocation(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    ledger: Ledger,
    outbox: Outbox,
    user_id: str,
) -> None:
    ack()
    ledger.cancel(clicked_allocation(body), user_id)
    outbox.wake()
    if is_ephemeral_click(body):
        # Clicked in /payments history (the receipt is a real DM, edited by the outbox): the
        # history the person is looking at shows the request cancelled. The cancel went
        # through, so a history the ledger cannot give just now is not worth a refusal.
        with contextlib.suppress(*refusals.REFUSALS):
            history = ledger.history(user_id)
            reply_privately(respond, views.history_message(history), replace=True)
