"""The ledger: its rules, commands, queries, postings and books check (one module each)."""

from slackbot.ledger.commands import Ledger
from slackbot.ledger.rules import has_readable_text, readable_text

__all__ = ["Ledger", "has_readable_text", "readable_text"]
