"""The ledger's tables (SQLAlchemy 2.0 typed ORM) and the pydantic shapes that cross layers."""

from models.tables import (
    ALLOCATION_STATUSES,
    Allocation,
    AuditEvent,
    Base,
    ChannelPace,
    Invoice,
    JournalEntry,
    JournalLine,
    OutboxMessage,
    Partner,
    PartnerMember,
    Payment,
    SlackMessageRef,
)

__all__ = [
    "ALLOCATION_STATUSES",
    "Allocation",
    "AuditEvent",
    "Base",
    "ChannelPace",
    "Invoice",
    "JournalEntry",
    "JournalLine",
    "OutboxMessage",
    "Partner",
    "PartnerMember",
    "Payment",
    "SlackMessageRef",
]
