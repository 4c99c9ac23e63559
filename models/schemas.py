"""The shapes the services hand out: plain, immutable snapshots that carry no database session."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, ConfigDict

from models import balances
from models.enums import LineChoice


class Snapshot(BaseModel):
    model_config = ConfigDict(frozen=True)


class Actor(Snapshot):
    """Who is acting. ``can_approve`` is resolved at the edge (settings, Slack user group)."""

    user_id: str
    can_approve: bool = False


class PartnerRef(Snapshot):
    partner_id: str
    name: str


class PaymentSummary(Snapshot):
    payment_id: str
    partner_id: str
    partner_name: str
    currency: str
    amount: int
    allocated: int
    pending: int
    received_on: dt.date
    reference: str

    @property
    def unallocated(self) -> int:
        return balances.unallocated(self.amount, self.allocated, self.pending)


class InvoiceSummary(Snapshot):
    invoice_id: str
    partner_id: str
    currency: str
    amount: int
    amount_due: int
    pending: int
    issued_on: dt.date
    due_on: dt.date

    @property
    def open_amount(self) -> int:
        return balances.open_amount(self.amount_due, self.pending)


class AllocationLine(Snapshot):
    """One line of a request: an invoice and what the request applies to it."""

    allocation_id: int
    invoice_id: str
    amount: int
    # The invoice as it stands after this change: what is left to pay, what pending requests
    # hold, its total and due date (what an approver checks line by line).
    invoice_amount_due: int
    invoice_pending: int
    invoice_amount: int
    invoice_due_on: dt.date


class AllocationSummary(Snapshot):
    """A request: one payment, one or more lines, decided together.

    ``allocation_id`` is the request's first line, which is also its ``request_id`` (old,
    single-line requests are requests of one line). The top-level ``invoice_*`` fields and
    ``amount``'s invoice are line 1's; ``amount`` is the request's total over ``lines``.
    """

    allocation_id: int
    payment_id: str
    invoice_id: str
    partner_id: str
    partner_name: str
    currency: str
    amount: int
    status: str
    note: str | None
    requested_by: str
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    reason: str | None
    reversed_by: str | None
    reversed_at: dt.datetime | None
    reversal_reason: str | None
    # Balances right after this change, for the messages that report it.
    payment_unallocated: int
    payment_pending: int
    invoice_amount_due: int
    invoice_pending: int
    # True when this call found the request already recorded under the same key.
    replayed: bool = False
    # What an approver checks before deciding: the payment's reference and date, the invoice's
    # total and due date. ``as_of`` is the day the snapshot was read ("overdue" is judged then).
    payment_reference: str = ""
    payment_received_on: dt.date | None = None
    invoice_amount: int | None = None
    invoice_due_on: dt.date | None = None
    as_of: dt.date | None = None
    # The request's lines, in the order the partner entered them (one for a single-line
    # request); empty only in snapshots built before requests had lines.
    request_id: int | None = None
    lines: tuple[AllocationLine, ...] = ()
    # How the lines were chosen: accepted as suggested, edited from a suggestion, or by hand.
    chosen: LineChoice | None = None

    @property
    def line_count(self) -> int:
        return max(1, len(self.lines))
