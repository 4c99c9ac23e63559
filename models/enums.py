"""The ledger's closed vocabularies, defined once: statuses, decisions, journal kinds, outbox terms.

Each is a ``StrEnum``, so a member compares equal to the string stored in the database (old rows
and the contract's CSV values keep working), and the CHECK constraints are built from the members.
"""

from __future__ import annotations

from enum import StrEnum


class AllocationStatus(StrEnum):
    """Where an allocation request stands (the contract's ``status`` column)."""

    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    CANCELLED = "cancelled"
    REVERSED = "reversed"


class Decision(StrEnum):
    """What someone may do to a request: the verbs that move it out of (or past) ``approved``."""

    APPROVE = "approve"
    REJECT = "reject"
    CANCEL = "cancel"
    REVERSE = "reverse"


class EntryKind(StrEnum):
    """A journal entry posts an allocation, or reverses one (never edits it)."""

    ALLOCATION = "allocation"
    REVERSAL = "reversal"


class Audience(StrEnum):
    """Who an outbox row is for; the Slack layer maps each to a place."""

    BILLING = "billing"  # the billing channel's message for the request
    REQUESTER = "requester"  # a new DM to the person who asked
    RECEIPT = "receipt"  # the requester's receipt DM, edited in place


class OutboxKind(StrEnum):
    """What news an outbox row carries (domain terms; the Slack layer renders them)."""

    ALLOCATION_REQUESTED = "allocation_requested"
    ALLOCATION_APPROVED = "allocation_approved"
    ALLOCATION_REJECTED = "allocation_rejected"
    ALLOCATION_CANCELLED = "allocation_cancelled"
    ALLOCATION_REVERSED = "allocation_reversed"
    # No news of its own: a pending request's billing message shows balances that another
    # change moved, so it is edited to show them as they are now.
    BALANCES_CHANGED = "balances_changed"
    # Reminders (issue 13): news about waiting, never a change to the books. A thread reply on
    # the request's billing message naming its age; the same mentioning the approvers; the
    # requester told billing is chasing; the billing channel's summary at each day's opening
    # (a row of no allocation).
    REQUEST_REMINDED = "request_reminded"
    REQUEST_ESCALATED = "request_escalated"
    REQUEST_CHASED = "request_chased"
    DAILY_DIGEST = "daily_digest"


# Kinds that report waiting and move no balance: they edit no message, and owe no refresh of
# the other requests on the same payment or invoices when they are sent.
REMINDER_KINDS = frozenset(
    {
        OutboxKind.REQUEST_REMINDED,
        OutboxKind.REQUEST_ESCALATED,
        OutboxKind.REQUEST_CHASED,
        OutboxKind.DAILY_DIGEST,
    }
)
# News that moves no balance (a refresh, a reminder): sending it owes no refresh of the other
# requests, and it goes after the news of changes.
MOVES_NO_BALANCE = REMINDER_KINDS | {OutboxKind.BALANCES_CHANGED}


class ReminderStage(StrEnum):
    """How far a waiting request has been chased: reminded, then escalated."""

    REMIND = "remind"
    ESCALATE = "escalate"


def sql_in(enum: type[StrEnum]) -> str:
    """``'a', 'b', …`` for a CHECK constraint's ``IN (…)``, from the enum's members."""
    return ", ".join(f"'{member.value}'" for member in enum)


class LineChoice(StrEnum):
    """How a request's lines were chosen, as billing sees it."""

    SUGGESTED = "suggested"  # accepted as the bot suggested
    EDITED = "edited"  # started from a suggestion, then changed
    BY_HAND = "by_hand"  # no suggestion used
