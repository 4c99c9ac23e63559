"""Opening the allocation modal, shared by ``/payments allocate`` and the Allocate button."""

from __future__ import annotations

import logging

from slack_bolt import Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from slackbot.ledger import Ledger
from slackbot.ledger.rules import check_payment_allocatable
from slackbot.slack import views
from slackbot.slack.replies import reply_privately

log = logging.getLogger("handlers")

COULD_NOT_OPEN = (
    "Slack didn't open the allocation form just now, so nothing was started."
    " Please run `/payments allocate{suffix}` again."
)


def open_allocation_modal(
    ledger: Ledger,
    client: WebClient,
    respond: Respond,
    *,
    user_id: str,
    trigger_id: str,
    payment_id: str | None,
) -> None:
    """Open the modal with the person's allocatable payments, ``payment_id`` chosen if given.

    When there is nothing to open, or Slack would not open it, the person is told privately;
    a refusal (a payment that is not theirs, or has nothing left) propagates to the listener's
    :mod:`~slackbot.slack.refusals` decorator.
    """
    payments = ledger.payments_of(user_id, only_allocatable=True)
    if not payments and not ledger.partners_of(user_id):
        # Not linked at all: "you have no payment PAY-1" would send them looking for it.
        reply_privately(respond, views.not_linked_message())
        return
    selected = None
    if payment_id:
        selected = next((p for p in payments if p.payment_id == payment_id), None)
        if selected is None:
            # Either not theirs (NotFound, same words as a missing one) or nothing left.
            selected = ledger.payment_for(user_id, payment_id)
            check_payment_allocatable(selected)
    if not payments:
        reply_privately(
            respond, views.error_message("You have no payments with money left to allocate.")
        )
        return
    view = views.allocation_modal(payments, selected=selected)
    try:
        client.views_open(trigger_id=trigger_id, view=view)
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        log.warning("views.open failed for %s: %s", user_id, exc)
        suffix = f" {payment_id}" if payment_id else ""
        reply_privately(respond, views.error_message(COULD_NOT_OPEN.format(suffix=suffix)))
