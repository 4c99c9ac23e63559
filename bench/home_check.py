"""The stress run's "0 stale" for App Home: after the drain, the Home each person sees in the
stand-in Slack (their last ``views.publish``) must show what the ledger shows now.

Ages and clock times ("waiting 3 min", "Updated 14:02") move on their own, so a Home is compared
by what a change in the ledger would alter: the buttons it offers (Approve/Reject/Cancel per
request, Allocate per payment), the request numbers it names ("#12"), and every amount it
renders, each in order. A Home built before the last change that touched that person and never
replaced shows a different request, button or balance.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from tests.support.bot_harness import action_ids, text_of

# An amount as display_money writes one (1,234.56 or 1.234,56, any currency's exponent).
AMOUNT = re.compile(r"\d{1,3}(?:[,.\u00a0\u202f]\d{3})*[.,]\d{2,3}\b")
REQUEST_REF = re.compile(r"#\d+\b")
# Slack's date tokens (<!date^1796236034^…|2026-12-02 18:27 UTC>): clock times, not ledger facts.
DATE_TOKEN = re.compile(r"<!date\^[^>]*>")


def fingerprint(view: dict[str, Any] | None) -> tuple[tuple[str, ...], ...]:
    """What of a Home a ledger change alters: buttons, request numbers, amounts, in order."""
    if not view:
        return ()
    text = DATE_TOKEN.sub("", text_of({"blocks": view.get("blocks") or []}))
    return (
        tuple(action_ids(view)),
        tuple(REQUEST_REF.findall(text)),
        tuple(AMOUNT.findall(text)),
    )


def stale_homes(
    published_to: Iterable[str],
    shown: Callable[[str], dict[str, Any] | None],
    wanted: Callable[[str], dict[str, Any]],
) -> tuple[int, list[str]]:
    """(Homes checked, the people whose Home shown differs from the one wanted now).

    ``published_to``: everyone a views.publish reached; ``shown(user)``: the Home Slack shows
    them now; ``wanted(user)``: their Home built from the ledger now.
    """
    people = sorted(set(published_to))
    stale = [user for user in people if fingerprint(shown(user)) != fingerprint(wanted(user))]
    return len(people), stale
