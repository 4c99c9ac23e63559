"""The shapes of a person's App Home: what a partner's member and an approver see, read once.

Plain, immutable snapshots (see :mod:`models.schemas`): the Home views render them, and each
list says how many more there were than it holds, so a view can say what it left out.
"""

from __future__ import annotations

import datetime as dt

from pydantic import Field

from models.schemas import AllocationSummary, PaymentSummary, Snapshot


class CurrencyTotal(Snapshot):
    """Money with something left, in one currency: free to allocate, and held by requests."""

    currency: str
    unallocated: int
    pending: int
    payments: int


class HomeSuggestion(Snapshot):
    """The matcher's best suggestion for a payment (``slackbot.ledger.matching``)."""

    summary: str
    total: int
    lines: int


class PartnerHome(Snapshot):
    """One partner the person acts for: its payments with money left, their requests, decisions."""

    partner_id: str
    name: str
    totals: tuple[CurrencyTotal, ...] = ()
    # Oldest first; ``payments_more`` is how many more have money left than ``payments`` holds.
    payments: tuple[PaymentSummary, ...] = ()
    payments_more: int = 0
    # payment_id -> the best suggestion, for the first few payments with money to allocate.
    suggestions: dict[str, HomeSuggestion] = Field(default_factory=dict)
    # Of the payments with money to allocate, how many had no suggestion looked up (cost).
    suggestions_skipped: int = 0
    # The person's own pending requests for this partner, oldest first.
    waiting: tuple[AllocationSummary, ...] = ()
    waiting_more: int = 0
    # The person's own last decided requests for this partner, newest first.
    decisions: tuple[AllocationSummary, ...] = ()


class PartnerCount(Snapshot):
    partner_id: str
    name: str
    pending: int


class ApproverHome(Snapshot):
    """The queue of pending requests across all partners, oldest first, and today's decisions."""

    pending_count: int = 0
    oldest_requested_at: dt.datetime | None = None
    by_partner: tuple[PartnerCount, ...] = ()
    by_partner_more: int = 0
    queue: tuple[AllocationSummary, ...] = ()
    queue_more: int = 0
    decided_today: tuple[AllocationSummary, ...] = ()
    decided_today_count: int = 0


class Home(Snapshot):
    """Everything one person's Home tab shows, read at ``as_of``."""

    user_id: str
    as_of: dt.datetime
    totals: tuple[CurrencyTotal, ...] = ()
    partners: tuple[PartnerHome, ...] = ()
    partners_more: int = 0
    approver: ApproverHome | None = None

    @property
    def linked(self) -> bool:
        return bool(self.partners) or self.partners_more > 0
