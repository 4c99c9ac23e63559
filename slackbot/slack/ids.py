"""Every Slack interaction id, defined once for the views that build and the handlers that read.

The names are the contract's (``CONTRACT.md``, "Slack surface"): Slack keeps old messages and their
buttons for years, so a value here changes only with a migration path. A ``StrEnum`` member is the
string itself, so it goes into a payload and a listener's matcher as is.
"""

from __future__ import annotations

import re
from enum import StrEnum

# Slack refuses a block_id or action_id longer than this.
BLOCK_ID_MAX = 255
# An id's suffix follows a colon: ``approve_allocation:42`` (the contract's one form of suffix).
SUFFIX_SEPARATOR = ":"


class CallbackId(StrEnum):
    """A modal's ``callback_id``: which form a submission comes from."""

    ALLOCATION_MODAL = "allocation_modal"
    REJECT_MODAL = "reject_modal"


class BlockId(StrEnum):
    """A modal input's ``block_id``; the element inside it carries the same name as its action id.

    So a select's change (``block_actions``) and options load (``block_suggestion``) are matched
    by these too.
    """

    PAYMENT = "payment"
    INVOICE = "invoice"
    AMOUNT = "amount"
    NOTE = "note"
    REASON = "reason"


class ActionId(StrEnum):
    """A button's ``action_id``, before its suffix; the actions block holding it shares the name.

    Slack wants action ids unique within a message, so a button on one of many payments or
    requests carries that one's id after a colon (:func:`suffixed`).
    """

    OPEN_ALLOCATION = "open_allocation"
    APPROVE_ALLOCATION = "approve_allocation"
    REJECT_ALLOCATION = "reject_allocation"
    CANCEL_ALLOCATION = "cancel_allocation"
    # Not in the contract (ids of our own): the payment list's Next and Previous buttons.
    PAYMENTS_PAGE = "payments_page"


class RequestAction(StrEnum):
    """The actions of a request with several lines (issue 11), beside the contract's own.

    ``add_invoice_line`` and ``remove_invoice_line:N`` redraw the allocation modal with a line
    more or less; ``allocate_suggested:PAY-1`` (on the payment list, or inside the modal) opens
    or redraws the modal with the payment's best suggestion filled in.
    """

    ADD_INVOICE_LINE = "add_invoice_line"
    REMOVE_INVOICE_LINE = "remove_invoice_line"
    ALLOCATE_SUGGESTED = "allocate_suggested"


class PageTurn(StrEnum):
    """The suffix of a :attr:`ActionId.PAYMENTS_PAGE` button."""

    PREVIOUS = "previous"
    NEXT = "next"


def suffixed(name: str, suffix: object) -> str:
    """``name:suffix``: ``approve_allocation:42``, ``open_allocation:PAY-1``."""
    return f"{name}{SUFFIX_SEPARATOR}{suffix}"


def unsuffixed(action_id: str) -> str:
    """The name before any suffix: ``approve_allocation:42`` -> ``approve_allocation``."""
    return action_id.split(SUFFIX_SEPARATOR, 1)[0]


def matching(name: str) -> re.Pattern[str]:
    """What a listener matches: the name alone or with any suffix (old messages have either)."""
    return re.compile(rf"^{re.escape(name)}({re.escape(SUFFIX_SEPARATOR)}.*)?$")


def amount_block_id(payment_id: str | None, invoice_id: str | None) -> str:
    """The amount block's id after the payment or invoice changed: ``amount:PAY-1:INV-2``.

    Slack keeps what a person typed in an input whose block_id is unchanged, whatever the new
    initial_value says; a new id per payment and invoice lets the suggested amount follow the
    choice. The first render uses the contract's plain ``amount``, and a submission is read
    from whichever amount block the view holds.
    """
    versioned = suffixed(BlockId.AMOUNT, f"{payment_id or ''}{SUFFIX_SEPARATOR}{invoice_id or ''}")
    return versioned[:BLOCK_ID_MAX]


def is_amount_block(block_id: str) -> bool:
    """Whether ``block_id`` is the amount input, in its first or any redrawn version."""
    return unsuffixed(block_id) == BlockId.AMOUNT


def line_invoice_block(line: int) -> str:
    """Line ``line``'s invoice block: ``invoice`` (line 1, the contract's), then ``invoice_N``."""
    return BlockId.INVOICE if line <= 1 else f"{BlockId.INVOICE}_{line}"


def line_amount_block(line: int) -> str:
    """Line ``line``'s amount block in its first render: ``amount``, ``amount_N``."""
    return BlockId.AMOUNT if line <= 1 else f"{BlockId.AMOUNT}_{line}"


def line_amount_block_id(line: int, payment_id: str | None, invoice_id: str | None) -> str:
    """Line ``line``'s amount block after a choice, versioned as :func:`amount_block_id` is."""
    if line <= 1:
        return amount_block_id(payment_id, invoice_id)
    versioned = suffixed(
        line_amount_block(line), f"{payment_id or ''}{SUFFIX_SEPARATOR}{invoice_id or ''}"
    )
    return versioned[:BLOCK_ID_MAX]


_LINE_BLOCK = re.compile(r"^(invoice|amount)(?:_([1-9][0-9]?))?$")


def line_of_block(block_id: str) -> tuple[str, int] | None:
    """``("invoice" | "amount", line)`` for a line's block (any version), else None.

    ``invoice`` -> ("invoice", 1); ``amount_3:PAY-1:INV-2`` -> ("amount", 3).
    """
    found = _LINE_BLOCK.match(unsuffixed(block_id))
    if found is None:
        return None
    line = int(found.group(2) or 1)
    return (found.group(1), line) if 1 <= line <= 99 else None


def any_line(name: BlockId) -> re.Pattern[str]:
    """What a listener matches for every line's ``name`` element: ``invoice``, ``invoice_2`` …

    Up to :data:`models.limits.MAX_REQUEST_LINES` (10) lines; nothing else matches.
    """
    return re.compile(rf"^{re.escape(name)}(_([2-9]|10))?$")
