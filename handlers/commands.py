"""The ``/payments`` slash command and its subcommands: list, allocate, history, help.

What ``list`` and ``history`` answer is built by :func:`payments_reply` and
:func:`history_reply`, which the launcher's buttons (:mod:`handlers.launcher`) answer with too.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers.modals import open_allocation_modal
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import texts
from slackbot.ledger import Ledger
from slackbot.ledger.membership import NOBODY, Person
from slackbot.slack import refusals, views

COMMAND = "/payments"


def register(app: App) -> None:
    app.command(COMMAND)(payments_command)


@refusals.answer_privately
def payments_command(
    ack: Ack,
    command: dict[str, Any],
    client: WebClient,
    respond: Respond,
    ledger: Ledger,
    user_id: str,
    person: Person,
    locale: str = DEFAULT_LOCALE,
) -> None:
    words = str(command.get("text") or "").split()
    subcommand = words[0].lower() if words else "list"
    argument = words[1] if len(words) > 1 else None

    if subcommand == "help":
        ack(**views.help_message(locale=locale))
        return
    if subcommand not in ("list", "allocate", "history"):
        shown = subcommand[:30]
        ack(
            **views.error_message(
                texts(locale)
                .gettext("`{command}` is not a /payments command. Try `/payments help`.")
                .format(command=shown),
                locale=locale,
            )
        )
        return
    if subcommand == "allocate":
        # Acknowledge first: views.open may take a moment, and Slack wants the ack in 3 s.
        ack()
        open_modal_for(ledger, client, respond, command, user_id, person, locale, argument)
        return
    if subcommand == "history":
        ack(**history_reply(ledger, user_id, person, locale=locale))
        return
    ack(**payments_reply(ledger, user_id, person, locale=locale))


def open_modal_for(
    ledger: Ledger,
    client: WebClient,
    respond: Respond,
    payload: dict[str, Any],
    user_id: str,
    person: Person,
    locale: str,
    payment_id: str | None,
    *,
    as_suggested: bool = False,
    answer: Callable[[dict[str, Any]], None] | None = None,
) -> None:
    """The allocation modal, opened with the trigger of ``payload`` (the command or click):
    what ``/payments allocate``, the launcher's Allocate and a payment's buttons open.
    ``answer``: how to tell the person why nothing opened, when not through ``respond``."""
    open_allocation_modal(
        ledger,
        client,
        respond,
        user_id=user_id,
        trigger_id=str(payload.get("trigger_id", "")),
        payment_id=payment_id,
        as_suggested=as_suggested,
        person=person,
        locale=locale,
        answer=answer,
    )


def payments_reply(
    ledger: Ledger, user_id: str, person: Person = NOBODY, *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """``/payments list``'s answer: the person's payments (with suggestions), or how to get
    linked when they belong to no partner."""
    if not ledger.partners_of(user_id):
        return refusals.not_linked_message(person, locale=locale)
    payments = ledger.payments_of(user_id)
    suggestions = ledger.best_suggestions(user_id, payments)
    return views.payments_message(payments, suggestions=suggestions, locale=locale)


def history_reply(
    ledger: Ledger, user_id: str, person: Person = NOBODY, *, locale: str = DEFAULT_LOCALE
) -> dict[str, Any]:
    """``/payments history``'s answer: their requests, or how to get linked."""
    history = ledger.history(user_id)
    if not history and not ledger.partners_of(user_id):
        return refusals.not_linked_message(person, locale=locale)
    return views.history_message(history, locale=locale)
