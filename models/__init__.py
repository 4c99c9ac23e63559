"""The ledger's tables (SQLAlchemy 2.0 typed ORM) and the pydantic shapes that cross layers."""

from models.enums import AllocationStatus, Audience, Decision, EntryKind, OutboxKind
from models.erp_sync import ErpAllocation, ErpBatch  # noqa: F401 - the ERP round trip's tables
from models.home_refresh import HomeRefresh
from models.reminders import DailyDigest, RequestReminder
from models.tables import (
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
from models.workspaces import PartnerChannel, PartnerTeam, SlackPerson

__all__ = [
    "Allocation",
    "AllocationStatus",
    "Audience",
    "AuditEvent",
    "Base",
    "ChannelPace",
    "DailyDigest",
    "Decision",
    "EntryKind",
    "HomeRefresh",
    "Invoice",
    "JournalEntry",
    "JournalLine",
    "OutboxKind",
    "OutboxMessage",
    "Partner",
    "PartnerChannel",
    "PartnerMember",
    "PartnerTeam",
    "Payment",
    "RequestReminder",
    "SlackMessageRef",
    "SlackPerson",
]
