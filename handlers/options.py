"""Options loads: the invoice type-ahead of the allocation modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App, BoltContext

from handlers.common import bot_of, form_values, guarded, user_id_of
from slackbot.errors import DomainError, Unavailable
from slackbot.slack import views


def register(app: App) -> None:
    app.options("invoice")(invoice_options)


@guarded
def invoice_options(ack: Ack, body: dict[str, Any], context: BoltContext) -> None:
    """Open invoices of the chosen payment's partner and currency, narrowed by what was typed."""
    bot = bot_of(context)
    payment_id = form_values(body.get("view") or {}).get("payment", "")
    typed = str(body.get("value") or "")[:64]
    if not payment_id:
        ack(options=[])
        return
    try:
        invoices = bot.ledger.search_open_invoices(user_id_of(body), payment_id, typed)
    except (DomainError, Unavailable):
        ack(options=[])
        return
    ack(options=views.invoice_options(invoices)["options"])
