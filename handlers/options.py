"""Options loads: the invoice type-ahead of each line of the allocation modal."""

from __future__ import annotations

from typing import Any

from slack_bolt import Ack, App

from slackbot.i18n import DEFAULT_LOCALE
from slackbot.ledger import Ledger
from slackbot.slack import refusals, views
from slackbot.slack.ids import BlockId, any_line


def register(app: App) -> None:
    # Every line's invoice select (``invoice``, ``invoice_2`` … ``invoice_10``) loads the same way.
    app.options(any_line(BlockId.INVOICE))(invoice_options)


@refusals.answer_with_no_options
def invoice_options(
    ack: Ack,
    body: dict[str, Any],
    ledger: Ledger,
    user_id: str,
    form: dict[str, str],
    locale: str = DEFAULT_LOCALE,
) -> None:
    """Open invoices of the chosen payment's partner and currency, narrowed by what was typed."""
    payment_id = form.get(BlockId.PAYMENT, "")
    typed = str(body.get("value") or "")[:64]
    if not payment_id:
        ack(options=[])
        return
    invoices = ledger.search_open_invoices(user_id, payment_id, typed)
    ack(options=views.invoice_options(invoices, locale=locale)["options"])
