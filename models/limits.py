"""Length limits and the shape of every id, defined once for the ledger, the imports and Slack."""

from __future__ import annotations

import re

# Identifiers come from the ERP; 64 characters fits every ERP key we have seen (the ID columns).
MAX_ID = 64
# What a person may write on a request, and why it was rejected or reversed.
MAX_NOTE = 1000
MAX_REASON = 1000
# A partner's name and a payment's reference, as imported (their columns' lengths).
MAX_NAME = 200
MAX_REFERENCE = 500
# The idempotency key a door may give a request (the request_key column's length).
MAX_REQUEST_KEY = 128
# allocations.allocation_id is a 32-bit INTEGER; a bigger number names nothing.
MAX_ALLOCATION_ID = 2**31 - 1
# Lines (invoices) in one allocation request; the modal and Block Kit limits are sized for it.
MAX_REQUEST_LINES = 10

# The one rule for what Slack ids look like: a type letter, then 2 to 31 capitals or digits
# (the SLACK_ID columns hold 32). W… is an Enterprise Grid user; G… an old private channel.
SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}", re.ASCII)
SLACK_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,31}", re.ASCII)
SLACK_GROUP_ID = re.compile(r"S[A-Z0-9]{2,31}", re.ASCII)


def is_slack_user_id(value: object) -> bool:
    """Is ``value`` shaped like a Slack user id (``U…`` or ``W…``)?"""
    return isinstance(value, str) and SLACK_USER_ID.fullmatch(value) is not None


def is_slack_channel_id(value: object) -> bool:
    """Is ``value`` shaped like a Slack channel id (``C…``, ``G…`` or ``D…``)?"""
    return isinstance(value, str) and SLACK_CHANNEL_ID.fullmatch(value) is not None


def is_slack_group_id(value: object) -> bool:
    """Is ``value`` shaped like a Slack user group id (``S…``)?"""
    return isinstance(value, str) and SLACK_GROUP_ID.fullmatch(value) is not None


def is_key(value: object) -> bool:
    """Could ``value`` be an id at all? (PostgreSQL refuses NUL in text, and ids are short.)"""
    return isinstance(value, str) and 0 < len(value) <= MAX_ID and value.isprintable()


def is_allocation_id(value: object) -> bool:
    """Could ``value`` name an allocation: a positive int that fits the 32-bit column?"""
    return isinstance(value, int) and not isinstance(value, bool) and 0 < value <= MAX_ALLOCATION_ID
