"""Button clicks and selects: Allocate (plain or as suggested), the modal's payment, invoices,
amounts and lines, Approve, Reject, Cancel, and the payment list's pages."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers import modals
from handlers.launcher import Click, answers_click, in_modal
from handlers.modals import best_suggestion, lines_in_view, modal_for
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


@answers_click
def open_allocation(click: Click) -> None:
    """A payment's Allocate: the allocation modal for that payment (stacked onto the
    launcher's modal when clicked there, from a shortcut)."""
    click.open_modal(action_value(click.body)[:64] or None)


@dataclass(frozen=True)
class ModalClick:
    """A click inside the allocation modal: who clicked, the view, and what the view remembers."""

    body: dict[str, Any]
    client: WebClient
    ledger: Ledger
    user_id: str
    locale: str
    view: dict[str, Any]
    memory: ModalMemory
    payment_id: str  # the payment chosen in the form ("" when none yet)


@dataclass(frozen=True)
class Redraw:
    """What a click changes in the allocation modal: it is drawn again with these lines."""

    memory: ModalMemory
    lines: list[ModalLine]
    changed: int | None = None  # the line whose invoice was chosen just now
    payment_id: str | None = None  # None: the form's


def redraws_modal(edit: Callable[[ModalClick], Redraw | None]) -> Callable[..., None]:
    """The listener for a click inside the allocation modal: ``edit`` says what the modal
    becomes (None: leave it as it is, or ``edit`` updated it itself); a refusal leaves it.

    Every such click is acknowledged, read and redrawn the same way, so only what the click
    changes is written per listener.
    """

    def listener(
        ack: Ack,
        body: dict[str, Any],
        client: WebClient,
        ledger: Ledger,
        user_id: str,
        form: dict[str, str],
        locale: str = DEFAULT_LOCALE,
    ) -> None:
        ack()
        view = _view_of(body)
        memory = ModalMemory.from_metadata(view.get("private_metadata"))
        payment_id = form.get(BlockId.PAYMENT, "")[:64]
        click = ModalClick(body, client, ledger, user_id, locale, view, memory, payment_id)
        redraw = edit(click)
        if redraw is None:
            return
        modals.redraw(
            ledger,
            client,
            view,
            user_id,
            payment_id=payment_id if redraw.payment_id is None else redraw.payment_id,
            memory=redraw.memory,
            lines=redraw.lines,
            changed=redraw.changed,
            locale=locale,
        )

    # Named as the edit (logs, refusals), but Bolt must read the listener's own parameters:
    # no ``__wrapped__`` pointing at ``edit``.
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(listener, attribute, getattr(edit, attribute))
    return refusals.leave_as_is(listener)


def fill_in_suggestion(
    ledger: Ledger,
    client: WebClient,
    view: dict[str, Any],
    user_id: str,
    payment_id: str | None,
    locale: str,
) -> bool:
    """Fill the open modal in with the payment's best suggestion; False if it has no such
    payment left to allocate (nothing is changed)."""
    payments = ledger.payments_of(user_id, only_allocatable=True)
    selected = next((p for p in payments if p.payment_id == payment_id), None)
    if selected is None:
        return False
    suggestion = best_suggestion(ledger, user_id, selected)
    modals.update(
        client,
        view,
        modal_for(ledger, user_id, payments, selected, suggestion, fill=True, locale=locale),
    )
    return True


@redraws_modal
def choose_payment(click: ModalClick) -> Redraw | None:
    """The modal's payment changed: redraw it so the amount suggests that payment's balance.

    A modal filled in with a suggestion is filled in again with the new payment's.
    """
    payment_id = (click.payment_id or action_value(click.body))[:64]
    if click.memory.suggested_for is not None and fill_in_suggestion(
        click.ledger, click.client, click.view, click.user_id, payment_id, click.locale
    ):
        return None
    lines = lines_in_view(click.view, click.memory)
    return Redraw(click.memory, lines, changed=1, payment_id=payment_id)


@redraws_modal
def choose_invoice(click: ModalClick) -> Redraw:
    """A line's invoice changed: its amount becomes the lesser of what both have left."""
    place = line_of_block(str(first_action(click.body).get("block_id") or BlockId.INVOICE))
    slot = place[1] if place is not None else 1
    lines = lines_in_view(click.view, click.memory)
    chosen = action_value(click.body)[:64]
    if chosen:
        lines = [
            replace(line, invoice_option=(chosen, chosen)) if line.slot == slot else line
            for line in lines
        ]
    return Redraw(click.memory, lines, changed=slot)


@redraws_modal
def enter_amount(click: ModalClick) -> Redraw:
    """Enter in a line's amount: redraw, so the running total follows what was typed."""
    return Redraw(click.memory, lines_in_view(click.view, click.memory))


@redraws_modal
def add_invoice_line(click: ModalClick) -> Redraw | None:
    """ "Add invoice": one more line (up to 10), everything typed so far kept."""
    memory = click.memory
    slot = memory.next_slot()
    if slot is None:
        return None
    grown = ModalMemory(
        slots=(*memory.slots, slot),
        suggested_for=memory.suggested_for,
        suggested=memory.suggested,
    )
    return Redraw(grown, [*lines_in_view(click.view, memory), ModalLine(slot=slot)])


@redraws_modal
def remove_invoice_line(click: ModalClick) -> Redraw | None:
    """ "Remove" on line N: that line goes; the others keep their blocks and what they hold."""
    memory = click.memory
    action_id = str(first_action(click.body).get("action_id") or "")
    suffix = action_id.partition(SUFFIX_SEPARATOR)[2] or action_value(click.body)
    slot = allocation_id_from(suffix)
    if slot is None or slot not in memory.slots:
        return None
    kept = [line for line in lines_in_view(click.view, memory) if line.slot != slot]
    return Redraw(replace(memory, slots=tuple(s for s in memory.slots if s != slot)), kept)


@answers_click
def allocate_suggested(click: Click) -> None:
    """ "Allocate as suggested": the modal filled in with the payment's best suggestion.

    From the payment list it opens the modal; inside the modal it fills the open one in.
    """
    payment_id = action_value(click.body)[:64] or None
    if in_modal(click.body):
        view = _view_of(click.body)
        fill_in_suggestion(
            click.ledger, click.client, view, click.user_id, payment_id, click.locale
        )
        return
    click.open_modal(payment_id, as_suggested=True)


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
