"""Opening the allocation modal, shared by ``/payments allocate`` and the Allocate button."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers.common import refusal_text
from slackbot.app import Bot
from slackbot.errors import DomainError, NotFound, Unavailable
from slackbot.slack import views

log = logging.getLogger("handlers")

COULD_NOT_OPEN = (
    "Slack didn't open the allocation form just now, so nothing was started."
    " Please run `/payments allocate{suffix}` again."
)


def open_allocation_modal(
    bot: Bot,
    client: WebClient,
    *,
    user_id: str,
    trigger_id: str,
    payment_id: str | None,
    tell: Callable[[dict[str, Any]], object],
) -> None:
    """Open the modal with the person's allocatable payments, ``payment_id`` chosen if given.

    ``tell`` sends the person an ephemeral message (a ``views`` message dict) when there is
    nothing to open or Slack would not open it.
    """
    try:
        payments = bot.ledger.payments_of(user_id, only_allocatable=True)
        if not payments and not bot.ledger.partners_of(user_id):
            # Not linked at all: "you have no payment PAY-1" would send them looking for it.
            tell(views.not_linked_message())
            return
        selected = None
        if payment_id:
            selected = next((p for p in payments if p.payment_id == payment_id), None)
            if selected is None:
                # Either not theirs (NotFound, same words as a missing one) or nothing left.
                payment = bot.ledger.payment_for(user_id, payment_id)
                raise NotFound(
                    "payment",
                    f"{payment.payment_id} has nothing left to allocate"
                    + (" (the rest is held by pending requests)." if payment.pending else "."),
                )
        if not payments:
            tell(views.error_message("You have no payments with money left to allocate."))
            return
    except (DomainError, Unavailable) as refusal:
        tell(views.error_message(refusal_text(refusal)))
        return
    view = views.allocation_modal(payments, selected=selected)
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        log.warning("views.open failed for %s: %s", user_id, exc)
        suffix = f" {payment_id}" if payment_id else ""
        tell(views.error_message(COULD_NOT_OPEN.format(suffix=suffix)))
