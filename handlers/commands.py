"""The ``/payments`` slash command and its subcommands: list, allocate, history, help."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext, Respond
from slack_sdk import WebClient

from handlers.common import bot_of, guarded, refusal_text, reply_privately
from handlers.modals import open_allocation_modal
from slackbot.errors import DomainError, Unavailable
from slackbot.slack import views

COMMAND = "/payments"


def register(app: App) -> None:
    app.command(COMMAND)(payments_command)


@guarded
def payments_command(
    ack: Ack, command: dict[str, Any], context: BoltContext, client: WebClient, respond: Respond
) -> None:
    bot = bot_of(context)
    user_id = str(command.get("user_id", ""))
    words = str(command.get("text") or "").split()
    subcommand = words[0].lower() if words else "list"
    argument = words[1] if len(words) > 1 else None

    if subcommand == "help":
        ack(**views.help_message())
        return
    if subcommand not in ("list", "allocate", "history"):
        shown = subcommand[:30]
        ack(**views.error_message(f"`{shown}` is not a /payments command. Try `/payments help`."))
        return
    if subcommand == "allocate":
        # Acknowledge first: views.open may take a moment, and Slack wants the ack in 3 s.
        ack()
        open_allocation_modal(
            bot,
            client,
            user_id=user_id,
            trigger_id=str(command.get("trigger_id", "")),
            payment_id=argument,
            tell=lambda message: reply_privately(respond, message),
        )
        return
    try:
        if subcommand == "history":
            history = bot.ledger.history(user_id)
            if not history and not bot.ledger.partners_of(user_id):
                ack(**views.not_linked_message())
                return
            ack(**views.history_message(history))
            return
        if not bot.ledger.partners_of(user_id):
            ack(**views.not_linked_message())
            return
        ack(**views.payments_message(bot.ledger.payments_of(user_id)))
    except (DomainError, Unavailable) as refusal:
        ack(**views.error_message(refusal_text(refusal)))
