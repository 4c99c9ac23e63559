"""Every Slack message, modal and options list the bot shows, as pure Block Kit builders.

Data in (the snapshots of :mod:`models.schemas`), plain dicts out: no Slack SDK, no database, no
clock. One module per surface (:mod:`.partner`, :mod:`.modal`, :mod:`.billing`,
:mod:`.requester`, :mod:`.launcher`), built from :mod:`.blocks` and made safe by :mod:`.text`.
Three rules hold everywhere so that no data an ERP or a person typed can break a payload:

- text from outside (partner names, references, notes, reasons, ids) placed in ``mrkdwn`` is
  escaped (``&``, ``<``, ``>``), so nobody can smuggle ``<!channel>`` or a fake link into a
  billing message;
- every text is clipped to Slack's limit with "…" (counted in UTF-16 code units, the stricter
  of the ways a length can be counted, so an emoji never tips a field over);
- lists are cut to Slack's block and option counts, and the person is told what was left out.

Every builder takes ``locale=`` (the reader's, default ``en-US``) and reads its words from the
catalogs (``texts(locale).gettext``; see :mod:`slackbot.i18n.catalog`). Amounts reach people only
through :func:`slackbot.i18n.numbers.display_money` (``1,250.00 USD`` in English, CLDR's
``1 250,00 $US`` in French; the amount field's initial value through
:func:`slackbot.money.to_decimal_string`). Interaction ids come from :mod:`slackbot.slack.ids`.

Callers use the package (``from slackbot.slack import views; views.billing_message(...)``); it
re-exports each surface's builders.
"""

from __future__ import annotations

from slackbot.slack.ids import amount_block_id, is_amount_block
from slackbot.slack.views.billing import billing_message, invoice_url
from slackbot.slack.views.forms import invoice_options, notice_modal, reject_modal
from slackbot.slack.views.launcher import launcher_message, launcher_modal
from slackbot.slack.views.modal import allocation_modal, amount_hint
from slackbot.slack.views.partner import (
    error_message,
    help_message,
    history_message,
    not_linked_message,
    payments_message,
)
from slackbot.slack.views.requester import (
    already_decided_text,
    decision_message,
    receipt_message,
    request_sent_text,
)
from slackbot.slack.views.text import Mrkdwn

__all__ = [
    "Mrkdwn",
    "allocation_modal",
    "already_decided_text",
    "amount_block_id",
    "amount_hint",
    "billing_message",
    "decision_message",
    "error_message",
    "help_message",
    "history_message",
    "invoice_options",
    "invoice_url",
    "is_amount_block",
    "launcher_message",
    "launcher_modal",
    "not_linked_message",
    "notice_modal",
    "payments_message",
    "receipt_message",
    "reject_modal",
    "request_sent_text",
]
