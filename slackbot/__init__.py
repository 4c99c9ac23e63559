"""Apply unallocated payments to invoices from Slack: the ledger and the bot around it."""

__version__ = "0.1.0"
