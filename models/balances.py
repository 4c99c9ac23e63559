"""The balance formulas, written once: they work on stored integers and on SQL columns alike.

``Payment``'s and ``Invoice``'s hybrid properties use them for rows and queries, and the
snapshots in ``models.schemas`` for the figures they carry, so no copy can drift.
"""

from __future__ import annotations

from typing import Any, overload

from sqlalchemy import ColumnElement

# Each formula takes ints (a row's or a snapshot's figures) and gives an int, or takes SQL
# column expressions (a hybrid property at class level) and gives the SQL expression.


@overload
def unallocated(amount: int, allocated: int, pending: int) -> int: ...
@overload
def unallocated(
    amount: ColumnElement[int], allocated: ColumnElement[int], pending: ColumnElement[int]
) -> ColumnElement[int]: ...
def unallocated(amount: Any, allocated: Any, pending: Any) -> Any:
    """What a payment has neither allocated nor reserved by a pending request (the contract's)."""
    return amount - allocated - pending


@overload
def amount_due(opening_due: int, applied: int) -> int: ...
@overload
def amount_due(
    opening_due: ColumnElement[int], applied: ColumnElement[int]
) -> ColumnElement[int]: ...
def amount_due(opening_due: Any, applied: Any) -> Any:
    """What an invoice has left to pay: what the ERP said was due, less what approvals applied."""
    return opening_due - applied


@overload
def open_amount(amount_due: int, pending: int) -> int: ...
@overload
def open_amount(
    amount_due: ColumnElement[int], pending: ColumnElement[int]
) -> ColumnElement[int]: ...
def open_amount(amount_due: Any, pending: Any) -> Any:
    """What a new allocation may still take from an invoice: left to pay, less what is held."""
    return amount_due - pending
