"""Button clicks and selects: Allocate, the modal's payment and invoice, Approve, Reject, Cancel,
and the payment list's pages."""

from __future__ import annotations

import logging
import re
from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.common import (
    action_value,
    allocation_id_from,
    bot_of,
    form_values,
    guarded,
    is_ephemeral_click,
    refusal_text,
    reply_privately,
    user_id_of,
)
from handlers.modals import open_allocation_modal
from slackbot.app import Bot
from slackbot.errors import DomainError, Unavailable
from slackbot.slack import views

log = logging.getLogger("handlers")


def _suffixed(name: str) -> re.Pattern[str]:
    """The contract's ids may carry a suffix after a colon (``approve_allocation:42``)."""
    return re.compile(rf"^{re.escape(name)}(:.*)?$")


def register(app: App) -> None:
    app.action(_suffixed("open_allocation"))(open_allocation)
    app.action("payment")(choose_payment)
    app.action("invoice")(choose_invoice)
    app.action(_suffixed("payments_page"))(turn_payments_page)
    app.action(_suffixed("approve_allocation"))(approve_allocation)
    app.action(_suffixed("reject_allocation"))(reject_allocation)
    app.action(_suffixed("cancel_allocation"))(cancel_allocation)


def _tell(respond: Respond, text: str) -> None:
    """An ephemeral note to the clicker only; the message they clicked stays as it is."""
    reply_privately(respond, views.error_message(text))


def _clicked_allocation(body: dict[str, Any], respond: Respond) -> int | None:
    """The allocation a decision or cancel button names, or None (and the clicker is told)."""
    allocation_id = allocation_id_from(action_value(body))
    if allocation_id is None:
        _tell(respond, "That button doesn't name an allocation request.")
    return allocation_id


@guarded
def open_allocation(
    ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
) -> None:
    ack()
    open_allocation_modal(
        bot_of(context),
        client,
        user_id=user_id_of(body),
        trigger_id=str(body.get("trigger_id", "")),
        payment_id=action_value(body)[:64] or None,
        tell=lambda message: reply_privately(respond, message),
    )


@guarded
def choose_payment(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The modal's payment changed: redraw it so the amount suggests that payment's balance."""
    ack()
    view = body.get("view") or {}
    form = form_values(view)
    payment_id = form.get("payment") or action_value(body)
    _redraw_allocation_modal(bot_of(context), client, body, payment_id, form.get("invoice"))


@guarded
def choose_invoice(ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient) -> None:
    """The modal's invoice changed: the amount becomes the lesser of what both have left."""
    ack()
    view = body.get("view") or {}
    invoice_id = action_value(body) or form_values(view).get("invoice")
    _redraw_allocation_modal(
        bot_of(context), client, body, form_values(view).get("payment", ""), invoice_id
    )


def _redraw_allocation_modal(
    bot: Bot, client: WebClient, body: dict[str, Any], payment_id: str, invoice_id: str | None
) -> None:
    view = body.get("view") or {}
    user_id = user_id_of(body)
    try:
        payments = bot.ledger.payments_of(user_id, only_allocatable=True)
        selected = next((p for p in payments if p.payment_id == payment_id), None)
        invoice = None
        if selected is not None and invoice_id:
            try:
                invoice = bot.ledger.invoice_for(user_id, selected.payment_id, invoice_id[:64])
            except DomainError:
                invoice = None  # Not payable by this payment: the submission will say why.
    except (DomainError, Unavailable):
        return  # The modal stays as it is; the submission will say what is wrong.
    metadata = view.get("private_metadata")
    redrawn = views.allocation_modal(
        payments,
        selected=selected,
        invoice=invoice,
        amount_block=views.amount_block_id(
            selected.payment_id if selected else None, invoice.invoice_id if invoice else None
        ),
        private_metadata=metadata if isinstance(metadata, str) and len(metadata) <= 3000 else "",
    )
    try:
        client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=redrawn)
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        # A hash conflict means the person already changed something else: nothing to redo.
        log.info("views.update after a choice in the modal did not go through: %s", exc)


@guarded
def turn_payments_page(
    ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    """Next/Previous on the payment list: the same ephemeral message shows the other page."""
    ack()
    bot = bot_of(context)
    user_id = user_id_of(body)
    page = allocation_id_from(action_value(body)) or 1
    try:
        if not bot.ledger.partners_of(user_id):
            reply_privately(respond, views.not_linked_message(), replace=True)
            return
        payments = bot.ledger.payments_of(user_id)
    except (DomainError, Unavailable) as refusal:
        _tell(respond, refusal_text(refusal))
        return
    reply_privately(respond, views.payments_message(payments, page=page), replace=True)


@guarded
def approve_allocation(
    ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    ack()
    bot = bot_of(context)
    allocation_id = _clicked_allocation(body, respond)
    if allocation_id is None:
        return
    try:
        bot.ledger.approve(allocation_id, bot.approvers.actor(user_id_of(body)))
    except (DomainError, Unavailable) as refusal:
        _tell(respond, refusal_text(refusal))
        return
    bot.delivery.wake()


@guarded
def reject_allocation(
    ack: Ack, body: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
) -> None:
    ack()
    bot = bot_of(context)
    allocation_id = _clicked_allocation(body, respond)
    if allocation_id is None:
        return
    try:
        allocation = bot.ledger.check_can_decide(
            allocation_id, bot.approvers.actor(user_id_of(body)), "reject"
        )
    except (DomainError, Unavailable) as refusal:
        _tell(respond, refusal_text(refusal))
        return
    try:
        client.views_open(
            trigger_id=str(body.get("trigger_id", "")), view=views.reject_modal(allocation)
        )
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        log.warning("views.open for rejecting %s failed: %s", allocation_id, exc)
        _tell(
            respond,
            "Slack didn't open the rejection form just now, so nothing changed."
            " Please click Reject again.",
        )


@guarded
def cancel_allocation(
    ack: Ack, body: dict[str, Any], context: BoltContext, respond: Respond
) -> None:
    ack()
    bot = bot_of(context)
    allocation_id = _clicked_allocation(body, respond)
    if allocation_id is None:
        return
    user_id = user_id_of(body)
    try:
        bot.ledger.cancel(allocation_id, user_id)
    except (DomainError, Unavailable) as refusal:
        _tell(respond, refusal_text(refusal))
        return
    bot.delivery.wake()
    if is_ephemeral_click(body):
        # Clicked in /payments history (the receipt is a real DM, edited by the outbox): the
        # history the person is looking at shows the request cancelled.
        try:
            history = bot.ledger.history(user_id)
        except (DomainError, Unavailable):
            return
        reply_privately(respond, views.history_message(history), replace=True)
