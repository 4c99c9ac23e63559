"""Modal submissions: the allocation request (one to ten lines) and the rejection reason."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from models.enums import LineChoice
from slackbot.errors import DomainError, InvalidInput
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import N_, texts
from slackbot.i18n.numbers import AmountNotUnderstood
from slackbot.i18n.numbers import parse_amount as parse_typed_amount
from slackbot.ledger import Ledger
from slackbot.money import parse_amount, to_decimal_string
from slackbot.slack import refusals, views
from slackbot.slack.approvers import ApproverDirectory
from slackbot.slack.ids import (
    BlockId,
    CallbackId,
    line_amount_block,
    line_invoice_block,
    line_of_block,
)
from slackbot.slack.middleware import Outbox
from slackbot.slack.payload import allocation_in_metadata, amount_entry, line_amount_block_in
from slackbot.slack.views.modal import ModalMemory

ALLOCATION_FIELDS = (BlockId.PAYMENT, BlockId.INVOICE, BlockId.AMOUNT, BlockId.NOTE)
NO_REQUEST = N_("This form no longer names a request.")


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
    locale: str = DEFAULT_LOCALE,
) -> None:
    """The request: line 1 (the contract's blocks) and any lines after it, as one request.

    A line after the first left wholly empty is ignored; a half-filled one is refused under
    its empty block. The ledger's refusal names the line by its place among the lines sent
    (``amount_3``); it is shown under that line's block as the modal draws it.
    """
    memory = ModalMemory.from_metadata(view.get("private_metadata"))
    # Whichever amount block the view holds (``amount``, or ``amount:PAY:INV`` after a redraw).
    amount_block, amount = amount_entry(view, form)
    entered: list[tuple[int, str, str, str]] = [
        (1, form.get(BlockId.INVOICE, ""), amount_block, amount)
    ]
    for slot in memory.slots:
        block = line_amount_block_in(view, slot) or line_amount_block(slot)
        entered.append((slot, form.get(line_invoice_block(slot), ""), block, form.get(block, "")))
    sent = [line for line in entered if line[0] == 1 or line[1].strip() or line[3].strip()]
    missing: dict[str, str] = {}
    t = texts(locale)
    if not form.get(BlockId.PAYMENT, "").strip():
        missing[BlockId.PAYMENT] = t.gettext("Choose the payment to apply.")
    for slot, invoice_id, block, typed in sent:
        if not invoice_id.strip():
            missing[line_invoice_block(slot)] = t.gettext("Choose the invoice to pay.")
        if not typed.strip():
            missing[block] = t.gettext("Enter the amount to apply.")
    if missing:
        ack(response_action="errors", errors=missing)
        return
    payment_id = form[BlockId.PAYMENT][:64]
    lines, unread = canonical_lines(ledger, user_id, payment_id, sent, locale)
    if unread:
        ack(response_action="errors", errors=unread)
        return
    try:
        allocation = ledger.request_lines(
            user_id,
            payment_id,
            lines,
            note=form.get(BlockId.NOTE),
            # One modal is one request, however often its submission reaches us.
            request_key=f"view:{str(view.get('id', ''))[:100]}" if view.get("id") else None,
            chosen=how_chosen(memory, payment_id, lines, ledger, user_id),
        )
    except DomainError as refusal:
        ack(
            response_action="errors",
            errors={
                _block_at_fault(refusal.field, sent): refusals.refusal_text(
                    refusal, plain=True, locale=locale
                )
            },
        )
        return
    ack(
        response_action="update",
        view=views.notice_modal(
            texts(locale).gettext("Request sent"),
            views.request_sent_text(allocation, locale=locale),
            locale=locale,
        ),
    )
    outbox.wake()


def canonical_lines(
    ledger: Ledger,
    user_id: str,
    payment_id: str,
    sent: list[tuple[int, str, str, str]],
    locale: str,
) -> tuple[list[tuple[str, str]], dict[str, str]]:
    """The lines as the ledger reads them: each typed amount read the way the person's locale
    writes it (``1 250,50`` in fr-FR, ``1,250.50`` in en-US) and handed on in canonical form
    (``1250.50``); and the amounts that could not be read, by block, in the person's words.

    A payment the person cannot use leaves the amounts as typed: the ledger's refusal of the
    payment is the one to show. English readers too: ``1,250.50`` and ``1250.50`` both read,
    ``1.234`` is refused as ambiguous (the ledger itself reads only the canonical form).
    """
    typed_lines = [(invoice_id[:64], typed[:64]) for _slot, invoice_id, _block, typed in sent]
    try:
        currency = ledger.payment_for(user_id, payment_id).currency
    except DomainError:
        return typed_lines, {}
    lines: list[tuple[str, str]] = []
    unread: dict[str, str] = {}
    for (invoice_id, typed), (_slot, _invoice, block, _typed) in zip(
        typed_lines, sent, strict=True
    ):
        try:
            minor = parse_typed_amount(typed, currency, locale)
        except AmountNotUnderstood as refusal:
            unread[block] = refusal.text_in(locale)
            continue
        lines.append((invoice_id, to_decimal_string(minor, currency)))
    return lines, unread


def how_chosen(
    memory: ModalMemory,
    payment_id: str,
    lines: list[tuple[str, str]],
    ledger: Ledger,
    user_id: str,
) -> LineChoice:
    """As suggested when the lines are the suggestion's (same invoices, same amounts, any
    order), edited when the modal was filled in with one and they differ, else by hand."""
    if memory.suggested_for != payment_id or not memory.suggested:
        return LineChoice.BY_HAND
    currency = ledger.payment_for(user_id, payment_id).currency
    try:
        typed = sorted((invoice_id, parse_amount(amount, currency)) for invoice_id, amount in lines)
    except DomainError:
        return LineChoice.EDITED
    return LineChoice.SUGGESTED if typed == sorted(memory.suggested) else LineChoice.EDITED


def _block_at_fault(field: str | None, sent: list[tuple[int, str, str, str]]) -> str:
    """The modal block a ledger refusal's ``field`` names: ``amount_3`` is the third line sent."""
    place = line_of_block(field or "")
    if place is None:
        return field if field in (BlockId.PAYMENT, BlockId.NOTE) else BlockId.PAYMENT
    kind, position = place
    if not 1 <= position <= len(sent):
        return BlockId.PAYMENT
    slot, _invoice_id, amount_block, _typed = sent[position - 1]
    return line_invoice_block(slot) if kind == BlockId.INVOICE else amount_block


@refusals.answer_in_modal(fields=(), default=BlockId.REASON)
def submit_rejection(
    ack: Ack,
    view: dict[str, Any],
    ledger: Ledger,
    approvers: ApproverDirectory,
    outbox: Outbox,
    user_id: str,
    form: dict[str, str],
    locale: str = DEFAULT_LOCALE,
) -> None:
    allocation_id = allocation_in_metadata(view)
    if allocation_id is None:
        raise InvalidInput("allocation", NO_REQUEST)
    ledger.reject(allocation_id, approvers.actor(user_id), form.get(BlockId.REASON, ""))
    ack()
    outbox.wake()
