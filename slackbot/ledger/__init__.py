"""The ledger: its rules, commands, queries, postings and books check (one module each)."""

from slackbot.ledger.commands import BILLING, RECEIPT, REQUESTER, Ledger
from slackbot.ledger.posting import receivable_account, unapplied_cash_account
from slackbot.ledger.rules import has_readable_text, readable_text

__all__ = [
    "BILLING",
    "RECEIPT",
    "REQUESTER",
    "Ledger",
    "has_readable_text",
    "readable_text",
    "receivable_account",
    "unapplied_cash_account",
]
