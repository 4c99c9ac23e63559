"""Button clicks and selects: Allocate (plain or as suggested), the modal's payment, invoices,
amounts and lines, Approve, Reject, Cancel, and the payment list's pages."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers import modals
from handlers.launcher import modal_client
from handlers.modals import best_suggestion, lines_in_view, modal_for, open_allocation_modal
from models.enums import Decision
from slackbot.errors import InvalidInput
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import N_, texts
from slackbot.ledger import Ledger
from slackbot.ledger.membership import Person
from slackbot.slack import refusals, views
from slackbot.slack.approvers import ApproverDirectory
from slackbot.slack.ids import (
    SUFFIX_SEPARATOR,
    ActionId,
    BlockId,
    RequestAction,
    any_line,
    line_of_block,
    matching,
)
from slackbot.slack.middleware import Outbox
from slackbot.slack.payload import (
    action_value,
    allocation_id_from,
    first_action,
    is_ephemeral_click,
)
from slackbot.slack.replies import reply_privately
from slackbot.slack.views.modal import ModalLine, ModalMemory

log = logging.getLogger("handlers")

NO_ALLOCATION = N_("That button doesn't name an allocation request.")
COULD_NOT_OPEN_REJECT = N_(
    "Slack didn't open the rejection form just now, so nothing changed. Please click Reject again."
)


def register(app: App) -> None:
    app.action(matching(ActionId.OPEN_ALLOCATION))(open_allocation)
    app.action(BlockId.PAYMENT)(choose_payment)
    app.action(any_line(BlockId.INVOICE))(choose_invoice)
    app.action(any_line(BlockId.AMOUNT))(enter_amount)
    app.action(matching(RequestAction.ADD_INVOICE_LINE))(add_invoice_line)
    app.action(matching(RequestAction.REMOVE_INVOICE_LINE))(remove_invoice_line)
    app.action(matching(RequestAction.ALLOCATE_SUGGESTED))(allocate_suggested)
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
    person: Person,
    locale: str = DEFAULT_LOCALE,
) -> None:
    ack()
    open_allocation_modal(
        ledger,
        # A payment's Allocate in the launcher's modal (a shortcut) stacks the allocation modal.
        modal_client(client, body),
        respond,
        user_id=user_id,
        trigger_id=str(body.get("trigger_id", "")),
        payment_id=action_value(body)[:64] or None,
        person=person,
        locale=locale,
    )


@refusals.leave_as_is
def choose_payment(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    ledger: Ledger,
    user_id: str,
    form: dict[str, str],
    locale: str = DEFAULT_LOCALE,
) -> None:
    """The modal's payment changed: redraw it so the amount suggests that payment's balance.

    A modal filled in with a suggestion is filled in again with the new payment's.
    """
    ack()
    view = _view_of(body)
    payment_id = (form.get(BlockId.PAYMENT) or action_value(body))[:64]
    memory = ModalMemory.from_metadata(view.get("private_metadata"))
    if memory.suggested_for is not None:
        payments = ledger.payments_of(user_id, only_allocatable=True)
        selected = next((p for p in payments if p.payment_id == payment_id), None)
        if selected is not None:
            suggestion = best_suggestion(ledger, user_id, selected)
            modals.update(
                client,
                view,
                modal_for(
                    ledger, user_id, payments, selected, suggestion, fill=True, locale=locale
                ),
            )
            return
    modals.redraw(
        ledger,
        client,
        view,
        user_id,
        payment_id=payment_id,
        memory=memory,
        lines=lines_in_view(view, memory),
        changed=1,
        locale=locale,
    )


@refusals.leave_as_is
def choose_invoice(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    ledger: Ledger,
    user_id: str,
    form: dict[str, str],
    locale: str = DEFAULT_LOCALE,
) -> None:
    """A line's invoice changed: its amount becomes the lesser of what both have left."""
    ack()
    view = _view_of(body)
    place = line_of_block(str(first_action(body).get("block_id") or BlockId.INVOICE))
    slot = place[1] if place is not None else 1
    memory = ModalMemory.from_metadata(view.get("private_metadata"))
    lines = lines_in_view(view, memory)
    chosen = action_value(body)[:64]
    if chosen:
        lines = [
            replace(line, invoice_option=(chosen, chosen)) if line.slot == slot else line
            for line in lines
        ]
    modals.redraw(
        ledger,
        client,
        view,
        user_id,
        payment_id=form.get(BlockId.PAYMENT, "")[:64],
        memory=memory,
        lines=lines,
        changed=slot,
        locale=locale,
    )


@refusals.leave_as_is
def enter_amount(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    ledger: Ledger,
    user_id: str,
    form: dict[str, str],
    locale: str = DEFAULT_LOCALE,
) -> None:
    """Enter in a line's amount: redraw, so the running total follows what was typed."""
    ack()
    view = _view_of(body)
    memory = ModalMemory.from_metadata(view.get("private_metadata"))
    modals.redraw(
        ledger,
        client,
        view,
        user_id,
        payment_id=form.get(BlockId.PAYMENT, "")[:64],
        memory=memory,
        lines=lines_in_view(view, memory),
        locale=locale,
    )


@refusals.leave_as_is
def add_invoice_line(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    ledger: Ledger,
    user_id: str,
    form: dict[str, str],
    locale: str = DEFAULT_LOCALE,
) -> None:
    """ "Add invoice": one more line (up to 10), everything typed so far kept."""
    ack()
    view = _view_of(body)
    memory = ModalMemory.from_metadata(view.get("private_metadata"))
    slot = memory.next_slot()
    if slot is None:
        return
    grown = ModalMemory(
        slots=(*memory.slots, slot),
        suggested_for=memory.suggested_for,
        suggested=memory.suggested,
    )
    modals.redraw(
        ledger,
        client,
        view,
        user_id,
        payment_id=form.get(BlockId.PAYMENT, "")[:64],
        memory=grown,
        lines=[*lines_in_view(view, memory), ModalLine(slot=slot)],
        locale=locale,
    )


@refusals.leave_as_is
def remove_invoice_line(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    ledger: Ledger,
    user_id: str,
    form: dict[str, str],
    locale: str = DEFAULT_LOCALE,
) -> None:
    """ "Remove" on line N: that line goes; the others keep their blocks and what they hold."""
    ack()
    view = _view_of(body)
    memory = ModalMemory.from_metadata(view.get("private_metadata"))
    action_id = str(first_action(body).get("action_id") or "")
    suffix = action_id.partition(SUFFIX_SEPARATOR)[2] or action_value(body)
    slot = allocation_id_from(suffix)
    if slot is None or slot not in memory.slots:
        return
    kept = [line for line in lines_in_view(view, memory) if line.slot != slot]
    modals.redraw(
        ledger,
        client,
        view,
        user_id,
        payment_id=form.get(BlockId.PAYMENT, "")[:64],
        memory=replace(memory, slots=tuple(s for s in memory.slots if s != slot)),
        lines=kept,
        locale=locale,
    )


@refusals.answer_privately
def allocate_suggested(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    ledger: Ledger,
    user_id: str,
    person: Person,
    locale: str = DEFAULT_LOCALE,
) -> None:
    """ "Allocate as suggested": the modal filled in with the payment's best suggestion.

    From the payment list it opens the modal; inside the modal it fills the open one in.
    """
    ack()
    payment_id = action_value(body)[:64] or None
    container = body.get("container")
    if isinstance(container, dict) and container.get("type") == "view":
        view = _view_of(body)
        payments = ledger.payments_of(user_id, only_allocatable=True)
        selected = next((p for p in payments if p.payment_id == payment_id), None)
        if selected is None:
            return
        suggestion = best_suggestion(ledger, user_id, selected)
        modals.update(
            client,
            view,
            modal_for(ledger, user_id, payments, selected, suggestion, fill=True, locale=locale),
        )
        return
    open_allocation_modal(
        ledger,
        client,
        respond,
        user_id=user_id,
        trigger_id=str(body.get("trigger_id", "")),
        payment_id=payment_id,
        as_suggested=True,
        person=person,
        locale=locale,
    )


def _view_of(body: dict[str, Any]) -> dict[str, Any]:
    view = body.get("view")
    return view if isinstance(view, dict) else {}


@refusals.answer_privately
def turn_payments_page(
    ack: Ack,
    body: dict[str, Any],
    respond: Respond,
    ledger: Ledger,
    user_id: str,
    person: Person,
    locale: str = DEFAULT_LOCALE,
) -> None:
    """Next/Previous on the payment list: the same ephemeral message shows the other page."""
    ack()
    page = allocation_id_from(action_value(body)) or 1
    if not ledger.partners_of(user_id):
        reply_privately(respond, refusals.not_linked_message(person, locale=locale), replace=True)
        return
    payments = ledger.payments_of(user_id)
    suggestions = ledger.best_suggestions(user_id, payments)
    reply_privately(
        respond,
        views.payments_message(payments, page=page, suggestions=suggestions, locale=locale),
        replace=True,
    )


@refusals.answer_privately
def approve_allocation(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    ledger: Ledger,
    approvers: ApproverDirectory,
    outbox: Outbox,
    user_id: str,
    locale: str = DEFAULT_LOCALE,
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
    locale: str = DEFAULT_LOCALE,
) -> None:
    ack()
    allocation_id = clicked_allocation(body)
    allocation = ledger.check_can_decide(allocation_id, approvers.actor(user_id), Decision.REJECT)
    try:
        client.views_open(
            trigger_id=str(body.get("trigger_id", "")),
            view=views.reject_modal(allocation, locale=locale),
        )
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        log.warning("views.open for rejecting %s failed: %s", allocation_id, exc)
        reply_privately(
            respond,
            views.error_message(texts(locale).gettext(COULD_NOT_OPEN_REJECT), locale=locale),
        )


@refusals.answer_privately
def cancel_allocation(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    ledger: Ledger,
    outbox: Outbox,
    user_id: str,
    locale: str = DEFAULT_LOCALE,
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
            reply_privately(respond, views.history_message(history, locale=locale), replace=True)
