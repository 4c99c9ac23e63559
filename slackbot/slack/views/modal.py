"""The modals: the allocation form and its invoice options, the reject form, a notice."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from models.limits import MAX_ID, MAX_NOTE, MAX_REQUEST_LINES
from models.schemas import InvoiceSummary, PaymentSummary
from slackbot.errors import DomainError
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import texts
from slackbot.i18n.numbers import display_count, display_money, typing_amount
from slackbot.i18n.numbers import parse_amount as read_amount
from slackbot.ledger.matching import Suggestion
from slackbot.money import currency_exponent
from slackbot.slack.ids import (
    BlockId,
    CallbackId,
    RequestAction,
    is_amount_block,
    line_amount_block,
    line_invoice_block,
    suffixed,
)
from slackbot.slack.views.blocks import button, context_block, plain_text, section
from slackbot.slack.views.forms import invoice_label, notice_modal
from slackbot.slack.views.partner import oldest_first, received_date, unique_payments
from slackbot.slack.views.text import (
    MODAL_TITLE_MAX,
    NAME_BUDGET,
    OPTION_TEXT_MAX,
    OPTIONS_MAX,
    PRIVATE_METADATA_MAX,
    REFERENCE_BUDGET,
    SUGGESTION_BUDGET,
    clip,
    clip_middle,
    md,
    md_line,
    one_line,
    units,
)


def amount_hint(currency: str | None, *, locale: str = DEFAULT_LOCALE) -> str:
    """How to type an amount in this currency (a zero-decimal one has no decimals to mention)."""
    t = texts(locale)
    if currency is None:
        return t.gettext("Digits with an optional decimal point, no commas or currency symbols.")
    exponent = currency_exponent(currency)
    if exponent == 0:
        return t.gettext(
            "A whole number of {currency} in digits, no commas or currency symbols."
        ).format(currency=currency)
    return t.gettext(
        "Digits with up to {count} decimals after a point, no commas or currency symbols."
    ).format(count=exponent)


@dataclass(frozen=True)
class ModalLine:
    """One line of the modal as it is drawn: its slot, the chosen invoice, the amount.

    ``slot`` names the line's blocks (1: the contract's ``invoice``/``amount``; N:
    ``invoice_N``/``amount_N``) and never changes while the modal is open, so removing line 2
    leaves line 3's blocks, and what Slack keeps typed in them, where they were. ``amount`` is
    the text to show (as typed, or proposed); None proposes the lesser of what the invoice has
    open and what the payment has left for it. ``invoice`` is the chosen invoice when the ledger
    found it (its hint then says what it has open); ``invoice_option`` is the choice as Slack
    showed it, for a line whose invoice is not looked up again.
    """

    slot: int
    invoice: InvoiceSummary | None = None
    invoice_option: tuple[str, str] | None = None
    amount: str | None = None
    amount_block: str | None = None

    @property
    def invoice_id(self) -> str | None:
        if self.invoice is not None:
            return self.invoice.invoice_id
        return self.invoice_option[0] if self.invoice_option else None


@dataclass(frozen=True)
class ModalMemory:
    """What the modal remembers between redraws and for its submission (``private_metadata``).

    ``slots``: the lines after the first, in the order shown. ``suggested``: the lines the modal
    was filled in with (invoice id, minor units) and for which payment, so the submission can say
    whether they were accepted as suggested, edited, or chosen by hand (no suggestion).
    """

    slots: tuple[int, ...] = ()
    suggested_for: str | None = None
    suggested: tuple[tuple[str, int], ...] = field(default=())

    def to_metadata(self) -> str:
        data: dict[str, Any] = {"lines": list(self.slots)}
        if self.suggested_for is not None:
            data["suggested"] = {
                "payment": self.suggested_for,
                "lines": [[invoice_id, amount] for invoice_id, amount in self.suggested],
            }
        return json.dumps(data, separators=(",", ":"), ensure_ascii=False)

    @classmethod
    def from_metadata(cls, text: object) -> ModalMemory:
        """The memory a view carries; anything unreadable (an old modal, a forgery) is none."""
        try:
            data = json.loads(text) if isinstance(text, str) and len(text) <= 3000 else None
        except ValueError:
            data = None
        if not isinstance(data, dict):
            return cls()
        slots: list[int] = []
        for slot in _listed(data.get("lines")):
            if (
                isinstance(slot, int)
                and not isinstance(slot, bool)
                and 2 <= slot <= MAX_REQUEST_LINES
                and slot not in slots
            ):
                slots.append(slot)
        suggested = data.get("suggested")
        if not isinstance(suggested, dict) or not isinstance(suggested.get("payment"), str):
            return cls(slots=tuple(slots[: MAX_REQUEST_LINES - 1]))
        lines: list[tuple[str, int]] = []
        for line in _listed(suggested.get("lines")):
            if (
                isinstance(line, list)
                and len(line) == 2
                and isinstance(line[0], str)
                and isinstance(line[1], int)
                and not isinstance(line[1], bool)
            ):
                lines.append((line[0][:MAX_ID], line[1]))
        return cls(
            slots=tuple(slots[: MAX_REQUEST_LINES - 1]),
            suggested_for=str(suggested["payment"])[:MAX_ID],
            suggested=tuple(lines[:MAX_REQUEST_LINES]),
        )

    def next_slot(self) -> int | None:
        """The slot a new line gets: the lowest free one (2..10), None when 10 lines are shown."""
        return next((n for n in range(2, MAX_REQUEST_LINES + 1) if n not in self.slots), None)


def _listed(value: object) -> list[Any]:
    """A forged ``{"lines": 5}`` is no lines, not a crash: only a JSON array is read."""
    return value if isinstance(value, list) else []


def allocation_modal(
    payments: Sequence[PaymentSummary],
    *,
    selected: PaymentSummary | None,
    private_metadata: str = "",
    invoice: InvoiceSummary | None = None,
    amount_block: str = BlockId.AMOUNT,
    lines: Sequence[ModalLine] = (),
    memory: ModalMemory | None = None,
    suggestion: Suggestion | None = None,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, Any]:
    """The form to request an allocation: payment, one or more invoice lines, note.

    Choosing a payment or an invoice sends ``block_actions`` (``dispatch_action``) so the
    handler can re-render this modal with ``selected`` and ``invoice`` set: the amount then
    starts at the lesser of what the payment and the invoice have left, in an ``amount_block``
    named by :func:`amount_block_id` so Slack shows the new value.

    ``lines`` draws a request of several lines instead (the first is slot 1, the contract's
    blocks; ``invoice`` and ``amount_block`` are then unused): each extra line has its own
    invoice and amount blocks and a Remove button, an "Add invoice" button adds one (up to
    10), and a context block shows the running total and what will be left on the payment.
    ``memory`` is written into ``private_metadata``. ``suggestion`` (the payment's best)
    is offered with an "Allocate as suggested" button when the lines are not already it.
    """
    if memory is not None:
        private_metadata = memory.to_metadata()
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        # Cutting it would corrupt what the handler reads back; that is a bug to surface.
        raise ValueError(
            f"private_metadata is {len(private_metadata)} characters; Slack allows 3000"
        )
    candidates = unique_payments(payments)
    if selected is not None:
        # Slack refuses an initial_option that differs in any way from its option, so the
        # selected payment's own snapshot stands in for its entry in the list.
        if any(p.payment_id == selected.payment_id for p in candidates):
            candidates = [
                selected if p.payment_id == selected.payment_id else p for p in candidates
            ]
        else:
            candidates.insert(0, selected)
    t = texts(locale)
    if not candidates:
        return notice_modal(
            t.gettext("Allocate a payment"),
            t.gettext(
                "You have no payments with money left to allocate. Type `/payments` to see yours."
            ),
            locale=locale,
        )

    offered = _first_payments(candidates, selected)
    payment_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": BlockId.PAYMENT,
        "placeholder": plain_text(t.gettext("Choose a payment"), 150),
    }
    partners: dict[str, str] = {}
    for payment in offered:
        partners.setdefault(payment.partner_id, payment.partner_name)
    if len(partners) > 1:
        payment_select["option_groups"] = [
            {
                "label": plain_text(one_line(name) or partner_id, OPTION_TEXT_MAX),
                "options": [
                    _payment_option(p, locale) for p in offered if p.partner_id == partner_id
                ],
            }
            for partner_id, name in partners.items()
        ]
    else:
        payment_select["options"] = [_payment_option(p, locale) for p in offered]
    if selected is not None:
        payment_select["initial_option"] = _payment_option(selected, locale)

    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": BlockId.PAYMENT,
            "dispatch_action": True,
            "label": plain_text(t.gettext("Payment"), 2000),
            "element": payment_select,
        },
        context_block(_selected_payment_summary(selected, locale)),
    ]
    if len(offered) < len(candidates):
        blocks.append(
            context_block(
                t.gettext(
                    "Showing {shown} of {count} payments (the oldest). For another one, close"
                    " this and type `/payments allocate PAYMENT_ID`."
                ).format(
                    shown=display_count(len(offered), locale),
                    count=display_count(len(candidates), locale),
                )
            )
        )
    if selected is not None and suggestion is not None and suggestion.lines:
        offered_lines = tuple((line.invoice_id, line.amount) for line in suggestion.lines)
        shown_lines = _typed_lines(lines, selected.currency, locale)
        if shown_lines != offered_lines:
            blocks.append(_suggestion_block(selected, suggestion, locale))

    drawn = list(lines) or [
        ModalLine(
            slot=1,
            invoice=invoice,
            amount_block=amount_block if is_amount_block(amount_block) else BlockId.AMOUNT,
        )
    ]
    several = len(drawn) > 1
    amounts = _typed_amounts(drawn, selected, locale)
    for position, line in enumerate(drawn, start=1):
        others = sum(a for slot, a in amounts.items() if slot != line.slot)
        blocks += _line_blocks(
            line, position, selected, others=others, several=several, locale=locale
        )
    if len(drawn) < MAX_REQUEST_LINES and selected is not None:
        blocks.append(
            {
                "type": "actions",
                "block_id": RequestAction.ADD_INVOICE_LINE,
                "elements": [
                    button(t.gettext("➕ Add invoice"), RequestAction.ADD_INVOICE_LINE, "add"),
                ],
            }
        )
    if selected is not None and (several or lines):
        blocks.append(context_block(_running_total(drawn, amounts, selected, locale)))
    blocks += [
        {
            "type": "input",
            "block_id": BlockId.NOTE,
            "optional": True,
            "label": plain_text(t.gettext("Note for billing"), 2000),
            "hint": plain_text(
                t.gettext("Anything billing should know to approve this quickly."), 2000
            ),
            "element": {
                "type": "plain_text_input",
                "action_id": BlockId.NOTE,
                "multiline": True,
                "max_length": MAX_NOTE,
            },
        },
        context_block(
            t.gettext(
                "Billing approves or rejects each request. Until then the amount is held; you get"
                " a direct message with the decision."
            )
        ),
    ]
    return {
        "type": "modal",
        "callback_id": CallbackId.ALLOCATION_MODAL,
        "title": plain_text(t.gettext("Allocate a payment"), MODAL_TITLE_MAX),
        "submit": plain_text(t.gettext("Request"), MODAL_TITLE_MAX),
        "close": plain_text(t.gettext("Cancel"), MODAL_TITLE_MAX),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def _suggestion_block(
    selected: PaymentSummary, suggestion: Suggestion, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    t = texts(locale)
    n = len(suggestion.lines)
    text = "💡 " + t.ngettext(
        "*Suggested:* {summary} ({count} invoice, {total})",
        "*Suggested:* {summary} ({count} invoices, {total})",
        n,
    ).format(
        summary=md_line(suggestion.summary, SUGGESTION_BUDGET),
        count=display_count(n, locale),
        total=display_money(suggestion.total, selected.currency, locale),
    )
    return section(
        text,
        block_id=RequestAction.ALLOCATE_SUGGESTED,
        accessory=button(
            t.gettext("Allocate as suggested"),
            suffixed(RequestAction.ALLOCATE_SUGGESTED, selected.payment_id),
            selected.payment_id,
        ),
    )


def _typed_amounts(
    lines: Sequence[ModalLine], selected: PaymentSummary | None, locale: str
) -> dict[int, int]:
    """Each line's amount in minor units, as the modal will show it (unreadable ones left out)."""
    if selected is None:
        return {}
    currency = selected.currency
    amounts: dict[int, int] = {}
    for line in lines:
        if line.amount is not None:
            try:
                amounts[line.slot] = read_amount(line.amount, currency, locale)
            except DomainError:
                continue
    proposed_left = selected.unallocated - sum(amounts.values())
    for line in lines:
        if line.amount is None and line.invoice is not None and line.invoice.currency == currency:
            proposal = max(0, min(line.invoice.open_amount, proposed_left))
            if proposal > 0:
                amounts[line.slot] = proposal
                proposed_left -= proposal
    first = lines[0] if lines else None
    # A fresh first line starts at what the payment has left for it.
    if first is not None and first.amount is None and first.slot not in amounts:
        amounts[first.slot] = max(0, proposed_left)
    return amounts


def _typed_lines(
    lines: Sequence[ModalLine], currency: str, locale: str
) -> tuple[tuple[str, int], ...]:
    """The lines as (invoice id, minor units) where both are readable (to compare with a
    suggestion)."""
    found: list[tuple[str, int]] = []
    for line in lines:
        if line.invoice_id is None or line.amount is None:
            return ()
        try:
            found.append((line.invoice_id, read_amount(line.amount, currency, locale)))
        except DomainError:
            return ()
    return tuple(found)


def _line_blocks(
    line: ModalLine,
    position: int,
    selected: PaymentSummary | None,
    *,
    others: int,
    several: bool,
    locale: str = DEFAULT_LOCALE,
) -> list[dict[str, Any]]:
    """A line's blocks: (for lines after the first) a heading with Remove, invoice, amount."""
    t = texts(locale)
    invoice = line.invoice
    invoice_hint = t.gettext("Open invoices of the chosen payment's partner, in its currency.")
    if selected is not None:
        invoice_hint = t.gettext(
            "Open invoices of {partner} in {currency}. Type part of the number or an amount to"
            " narrow the list."
        ).format(
            partner=clip(one_line(selected.partner_name), NAME_BUDGET), currency=selected.currency
        )
    amount_action = line_amount_block(line.slot)
    amount_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": amount_action,
        "placeholder": plain_text(t.gettext("e.g. 1250.00"), 150),
    }
    amount_label = (
        t.gettext("Amount")
        if position == 1
        else t.gettext("Amount {number}").format(number=position)
    )
    hint = amount_hint(selected.currency if selected is not None else None, locale=locale)
    if selected is not None:
        amount_label = f"{amount_label} ({selected.currency})"
        currency = selected.currency
        room = max(0, selected.unallocated - others)
        suggested = room

        def money(minor: int) -> str:
            return display_money(minor, currency, locale)

        payment_id = clip(one_line(selected.payment_id), 64)
        limit = t.gettext("Up to {amount}.").format(amount=money(room))
        if several and others:
            limit = t.gettext(
                "Up to {amount} ({payment} has {left} left, the other lines take {others})."
            ).format(
                amount=money(room),
                payment=payment_id,
                left=money(selected.unallocated),
                others=money(others),
            )
        if invoice is not None and invoice.currency == currency:
            suggested = min(room, invoice.open_amount)
            limit = (
                t.gettext(
                    "Up to {amount}: {payment} has {left} left for this line and {invoice} has"
                    " {open} open."
                )
                if several and others
                else t.gettext(
                    "Up to {amount}: {payment} has {left} left and {invoice} has {open} open."
                )
            ).format(
                amount=money(suggested),
                payment=payment_id,
                left=money(room),
                invoice=clip(one_line(invoice.invoice_id), 64),
                open=money(invoice.open_amount),
            )
        hint = f"{limit} {hint}"
        if line.amount is not None:
            if line.amount.strip():
                amount_element["initial_value"] = clip(line.amount.strip(), 64)
        elif suggested > 0 and (position == 1 or invoice is not None):
            # As the reader types it: an untouched amount must read back in their locale.
            typed = typing_amount(suggested, currency, locale)
            amount_element["initial_value"] = typed
            amount_element["placeholder"] = plain_text(
                t.gettext("e.g. {amount}").format(amount=typed), 150
            )
    invoice_action = line_invoice_block(line.slot)
    invoice_select: dict[str, Any] = {
        "type": "external_select",
        "action_id": invoice_action,
        "min_query_length": 0,
        "placeholder": plain_text(t.gettext("Type an invoice number or amount"), 150),
    }
    if invoice is not None:
        # The choice survives the re-render; the options load offers the same option text.
        invoice_select["initial_option"] = {
            "text": plain_text(invoice_label(invoice, locale=locale), OPTION_TEXT_MAX),
            "value": invoice.invoice_id,
        }
    elif line.invoice_option is not None:
        value, text = line.invoice_option
        invoice_select["initial_option"] = {
            "text": plain_text(text or value, OPTION_TEXT_MAX),
            "value": value,
        }
    blocks: list[dict[str, Any]] = []
    if position > 1:
        blocks.append(
            section(
                t.gettext("*Line {number}*").format(number=position),
                block_id=suffixed(RequestAction.REMOVE_INVOICE_LINE, line.slot),
                accessory=button(
                    t.gettext("Remove"),
                    suffixed(RequestAction.REMOVE_INVOICE_LINE, line.slot),
                    str(line.slot),
                ),
            )
        )
    amount_block: dict[str, Any] = {
        "type": "input",
        "block_id": line.amount_block or amount_action,
        "label": plain_text(amount_label, 2000),
        "hint": plain_text(hint, 2000),
        "element": amount_element,
    }
    if several:
        # Enter in an amount redraws the modal, so the running total follows what was typed.
        amount_block["dispatch_action"] = True
        amount_element["dispatch_action_config"] = {"trigger_actions_on": ["on_enter_pressed"]}
    blocks += [
        {
            "type": "input",
            "block_id": invoice_action,
            # Choosing an invoice redraws the modal so the amount follows it.
            "dispatch_action": True,
            "label": plain_text(
                t.gettext("Invoice")
                if position == 1
                else t.gettext("Invoice {number}").format(number=position),
                2000,
            ),
            "hint": plain_text(invoice_hint, 2000),
            "element": invoice_select,
        },
        amount_block,
    ]
    return blocks


def _running_total(
    lines: Sequence[ModalLine],
    amounts: Mapping[int, int],
    selected: PaymentSummary,
    locale: str = DEFAULT_LOCALE,
) -> str:
    t = texts(locale)
    currency = selected.currency
    total = sum(amounts.get(line.slot, 0) for line in lines)
    left = selected.unallocated - total
    payment_id = md_line(selected.payment_id, 64)
    unread = sum(1 for line in lines if line.slot not in amounts)
    n = len(lines)
    text = t.ngettext("*Total {total}* in {count} line", "*Total {total}* in {count} lines", n)
    text = text.format(total=display_money(total, currency, locale), count=display_count(n, locale))
    if left >= 0:
        text += " · " + t.gettext("{payment} will have *{left}* left").format(
            payment=payment_id, left=display_money(left, currency, locale)
        )
    else:
        text += " · ⚠️ " + t.gettext("{amount} more than {payment} has left").format(
            amount=display_money(-left, currency, locale), payment=payment_id
        )
    if unread:
        text += " · " + t.ngettext(
            "{count} line without a readable amount yet",
            "{count} lines without a readable amount yet",
            unread,
        ).format(count=display_count(unread, locale))
    if n > 1:
        text += " · " + t.gettext("press Enter in an amount to update this")
    return text


def _first_payments(
    payments: Sequence[PaymentSummary], selected: PaymentSummary | None
) -> list[PaymentSummary]:
    """At most 100 payments (Slack's limit for a select), the oldest, ``selected`` among them."""
    if len(payments) <= OPTIONS_MAX:
        return list(payments)
    keep = {p.payment_id for p in oldest_first(payments)[:OPTIONS_MAX]}
    if selected is not None and selected.payment_id not in keep:
        keep.remove(oldest_first([p for p in payments if p.payment_id in keep])[-1].payment_id)
        keep.add(selected.payment_id)
    # The order the caller chose (by partner, then oldest) is the order people scan.
    return [p for p in payments if p.payment_id in keep]


def _payment_option(payment: PaymentSummary, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    left = display_money(payment.unallocated, payment.currency, locale)
    suffix = " · " + texts(locale).gettext("{amount} left").format(amount=left)
    room = OPTION_TEXT_MAX - units(suffix)
    label = clip_middle(one_line(payment.payment_id), room) + suffix
    return {"text": plain_text(label, OPTION_TEXT_MAX), "value": payment.payment_id}


def _selected_payment_summary(selected: PaymentSummary | None, locale: str = DEFAULT_LOCALE) -> str:
    t = texts(locale)
    if selected is None:
        return t.gettext("Choose a payment to see its reference and what is already pending.")
    parts = [
        f"*{md_line(selected.partner_name, NAME_BUDGET)}*",
        t.gettext("received {date}").format(date=received_date(selected, locale)),
    ]
    reference = one_line(selected.reference)
    parts.append(
        t.gettext("ref {reference}").format(reference=md(reference, REFERENCE_BUDGET))
        if reference
        else t.gettext("no reference")
    )
    if selected.pending > 0:
        parts.append(
            "🕒 "
            + t.gettext("{amount} already pending in other requests").format(
                amount=display_money(selected.pending, selected.currency, locale)
            )
        )
    else:
        parts.append(t.gettext("nothing pending"))
    parts.append(
        t.gettext("*{amount}* left to allocate").format(
            amount=display_money(selected.unallocated, selected.currency, locale)
        )
    )
    return " · ".join(parts)
