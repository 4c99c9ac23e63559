"""The allocation modal's life: opening it (plain or filled in with a suggestion), redrawing it.

Shared by ``/payments allocate``, the Allocate and "Allocate as suggested" buttons, and the
modal's own changes (a payment or invoice chosen, a line added or removed, an amount entered).
A redraw reads what the person typed from ``view.state.values`` and draws it again, so nothing
typed is lost; the lines after the first keep their slots (``invoice_N``/``amount_N``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from models.schemas import InvoiceSummary, PaymentSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import N_, texts
from slackbot.i18n.numbers import typing_amount
from slackbot.ledger import Ledger
from slackbot.ledger.matching import Suggestion
from slackbot.ledger.membership import NOBODY, Person
from slackbot.ledger.rules import check_payment_allocatable
from slackbot.slack import refusals, views
from slackbot.slack.ids import BlockId, line_amount_block_id, line_invoice_block
from slackbot.slack.payload import chosen_option, line_amount_block_in, typed_text
from slackbot.slack.replies import reply_privately
from slackbot.slack.views.modal import ModalLine, ModalMemory

log = logging.getLogger("handlers")

COULD_NOT_OPEN = N_(
    "Slack didn't open the allocation form just now, so nothing was started."
    " Please run `/payments allocate{suffix}` again."
)


def open_allocation_modal(
    ledger: Ledger,
    client: WebClient,
    respond: Respond,
    *,
    user_id: str,
    trigger_id: str,
    payment_id: str | None,
    as_suggested: bool = False,
    person: Person = NOBODY,
    locale: str = DEFAULT_LOCALE,
    answer: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """Open the modal with the person's allocatable payments, ``payment_id`` chosen if given.

    ``as_suggested`` fills the lines in with the payment's best suggestion (the "Allocate as
    suggested" button); otherwise the modal starts with one line, as it always has, and offers
    the suggestion with a button. When there is nothing to open, or Slack would not open it,
    the person is told privately (through ``answer`` when given: a click inside a modal has no
    response_url); a refusal (a payment that is not theirs, or has nothing left) propagates to
    the listener's :mod:`~slackbot.slack.refusals` decorator.
    """

    def tell(message: dict[str, Any]) -> None:
        if answer is not None:
            answer(message)
        else:
            reply_privately(respond, message)

    payments = ledger.payments_of(user_id, only_allocatable=True)
    if not payments and not ledger.partners_of(user_id):
        # Not linked at all: "you have no payment PAY-1" would send them looking for it.
        tell(refusals.not_linked_message(person, locale=locale))
        return
    selected = None
    if payment_id:
        selected = next((p for p in payments if p.payment_id == payment_id), None)
        if selected is None:
            # Either not theirs (NotFound, same words as a missing one) or nothing left.
            selected = ledger.payment_for(user_id, payment_id)
            check_payment_allocatable(selected)
    if not payments:
        tell(
            views.error_message(
                texts(locale).gettext("You have no payments with money left to allocate."),
                locale=locale,
            ),
        )
        return
    if selected is None:
        view = views.allocation_modal(payments, selected=None, locale=locale)
    else:
        suggestion = best_suggestion(ledger, user_id, selected)
        view = modal_for(
            ledger, user_id, payments, selected, suggestion, fill=as_suggested, locale=locale
        )
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        log.warning("views.open failed for %s: %s", user_id, exc)
        suffix = f" {payment_id}" if payment_id else ""
        tell(
            views.error_message(
                texts(locale).gettext(COULD_NOT_OPEN).format(suffix=suffix), locale=locale
            ),
        )


def best_suggestion(ledger: Ledger, user_id: str, payment: PaymentSummary) -> Suggestion | None:
    found = ledger.suggestions(user_id, payment.payment_id)
    return found[0] if found else None


def modal_for(
    ledger: Ledger,
    user_id: str,
    payments: Sequence[PaymentSummary],
    selected: PaymentSummary,
    suggestion: Suggestion | None,
    *,
    fill: bool,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """The modal for ``selected``: filled in with ``suggestion`` (``fill``), or one empty line
    offering it."""
    if not fill or suggestion is None:
        return views.allocation_modal(
            payments, selected=selected, suggestion=suggestion, memory=ModalMemory(), locale=locale
        )
    lines = suggested_lines(ledger, user_id, selected, suggestion, locale=locale)
    memory = ModalMemory(
        slots=tuple(line.slot for line in lines[1:]),
        suggested_for=selected.payment_id,
        suggested=tuple((line.invoice_id, line.amount) for line in suggestion.lines),
    )
    return views.allocation_modal(
        payments,
        selected=selected,
        lines=lines,
        memory=memory,
        suggestion=suggestion,
        locale=locale,
    )


def suggested_lines(
    ledger: Ledger,
    user_id: str,
    payment: PaymentSummary,
    suggestion: Suggestion,
    *,
    locale: str = DEFAULT_LOCALE,
) -> list[ModalLine]:
    """The suggestion as modal lines (slots 1..n), each invoice as the options load shows it;
    each amount written as the person would type it (``1250,50`` in French), which the
    submission reads back."""
    found = open_invoices(
        ledger, user_id, payment.payment_id, [s.invoice_id for s in suggestion.lines]
    )
    lines = []
    for slot, line in enumerate(suggestion.lines, start=1):
        lines.append(
            ModalLine(
                slot=slot,
                invoice=found.get(line.invoice_id),
                invoice_option=(line.invoice_id, line.invoice_id),
                amount=typing_amount(line.amount, payment.currency, locale),
                # A new block id per payment and invoice, so a redraw shows the new amount.
                amount_block=line_amount_block_id(slot, payment.payment_id, line.invoice_id),
            )
        )
    return lines


def open_invoices(
    ledger: Ledger, user_id: str, payment_id: str, invoice_ids: Sequence[str]
) -> dict[str, InvoiceSummary]:
    """The open invoices among ``invoice_ids`` that ``payment_id`` can pay, by id."""
    return ledger.open_invoices_among(user_id, payment_id, [i[:64] for i in invoice_ids if i])


def lines_in_view(view: dict[str, Any], memory: ModalMemory) -> list[ModalLine]:
    """The lines the modal shows, with what the person chose and typed in each."""
    lines = []
    for slot in (1, *memory.slots):
        amount_block = line_amount_block_in(view, slot)
        lines.append(
            ModalLine(
                slot=slot,
                invoice_option=chosen_option(view, line_invoice_block(slot)),
                amount=typed_text(view, amount_block) if amount_block else None,
                amount_block=amount_block,
            )
        )
    return lines


def redraw(
    ledger: Ledger,
    client: WebClient,
    view: dict[str, Any],
    user_id: str,
    *,
    payment_id: str,
    memory: ModalMemory,
    lines: list[ModalLine],
    changed: int | None = None,
    locale: str = DEFAULT_LOCALE,
) -> None:
    """Draw the modal again with ``lines``; line ``changed`` had its invoice chosen just now.

    Every chosen invoice is looked up again for the chosen payment (its hint then says what it
    has open; one the payment cannot pay is dropped from the line, and the submission would
    explain). The changed line's amount moves to a new block id so Slack shows the proposal.
    A refusal or Slack failing leaves the modal as it was.
    """
    payments = ledger.payments_of(user_id, only_allocatable=True)
    selected = next((p for p in payments if p.payment_id == payment_id), None)
    drawn: list[ModalLine] = []
    if selected is not None:
        found = open_invoices(
            ledger, user_id, selected.payment_id, [line.invoice_id or "" for line in lines]
        )
        for line in lines:
            invoice = found.get(line.invoice_id or "")
            if line.slot == changed:
                drawn.append(
                    ModalLine(
                        slot=line.slot,
                        invoice=invoice,
                        amount=None,
                        amount_block=line_amount_block_id(
                            line.slot,
                            selected.payment_id,
                            invoice.invoice_id if invoice else None,
                        ),
                    )
                )
            else:
                drawn.append(
                    ModalLine(
                        slot=line.slot,
                        invoice=invoice,
                        amount=line.amount,
                        amount_block=line.amount_block,
                    )
                )
    else:
        drawn = [ModalLine(slot=line.slot, amount_block=line.amount_block) for line in lines]
    suggestion = best_suggestion(ledger, user_id, selected) if selected else None
    memory = ModalMemory(
        slots=tuple(line.slot for line in drawn[1:]),
        suggested_for=memory.suggested_for,
        suggested=memory.suggested,
    )
    redrawn = views.allocation_modal(
        payments,
        selected=selected,
        lines=drawn if (len(drawn) > 1 or memory.suggested_for) else (),
        invoice=drawn[0].invoice if drawn else None,
        amount_block=(drawn[0].amount_block or BlockId.AMOUNT) if drawn else BlockId.AMOUNT,
        memory=memory,
        suggestion=suggestion,
        locale=locale,
    )
    update(client, view, redrawn)


def update(client: WebClient, view: dict[str, Any], redrawn: dict[str, Any]) -> None:
    try:
        client.views_update(view_id=view.get("id"), hash=view.get("hash"), view=redrawn)
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        # A hash conflict means the person already changed something else: nothing to redo.
        log.info("views.update after a change in the modal did not go through: %s", exc)
