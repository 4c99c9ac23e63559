"""The launcher: the pinned message in a partner's linked channel, and the shortcuts' modal.

Three buttons open what ``/payments list``, ``/payments allocate`` and ``/payments history``
open, for people who cannot use the slash command (external people in a Slack Connect channel
whose workspace has not installed the app). Whoever clicks acts for their own partners; the
answers are ephemeral, so nobody else in the channel reads them.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import FALLBACK_TEXT, texts
from slackbot.slack.views.blocks import button, context_block, plain_text, section
from slackbot.slack.views.text import fallback, md_line

__all__ = [
    "LAUNCHER_BLOCK",
    "LAUNCHER_MODAL",
    "LauncherAction",
    "Shortcut",
    "launcher_message",
    "launcher_modal",
]

# The launcher's actions block (a block id, as the contract has one per actions block).
LAUNCHER_BLOCK = "launcher"
# The modal a shortcut opens (no submit: its buttons do the work).
LAUNCHER_MODAL = "launcher_modal"


class LauncherAction(StrEnum):
    """The launcher's buttons (public ids: pinned messages keep them for years)."""

    LIST = "launcher_list"
    ALLOCATE = "launcher_allocate"
    HISTORY = "launcher_history"


class Shortcut(StrEnum):
    """Callback ids of the shortcuts in manifest.yml."""

    GLOBAL = "payments_shortcut"
    MESSAGE = "payments_message_shortcut"


def _buttons(locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    t = texts(locale)
    return {
        "type": "actions",
        "block_id": LAUNCHER_BLOCK,
        "elements": [
            button(t.gettext("Show my payments"), LauncherAction.LIST, "list", style="primary"),
            button(t.gettext("Allocate"), LauncherAction.ALLOCATE, "allocate"),
            button(t.gettext("History"), LauncherAction.HISTORY, "history"),
        ],
    }


def launcher_message(partner_name: str, *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """The message pinned in a channel linked to a partner."""
    t = texts(locale)
    name = md_line(partner_name, 120)
    text = t.gettext(
        "*Payments for {partner}*: see your payments that still have money left to allocate,"
        " ask our billing team to apply one to your invoices, and follow your requests."
    ).format(partner=name)
    short = t.gettext("Payments for {partner}: Show my payments, Allocate, History")
    return {
        "text": fallback(short.format(partner=name), locale=locale),
        "blocks": [
            section(text),
            _buttons(locale),
            context_block(
                t.gettext(
                    "Only you see what these buttons show. Receipts and decisions come by direct"
                    " message, or here naming you when a direct message cannot reach you."
                )
            ),
        ],
    }


def launcher_modal(*, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """What a shortcut opens: the launcher's choices."""
    t = texts(locale)
    return {
        "type": "modal",
        "callback_id": LAUNCHER_MODAL,
        "title": plain_text(t.gettext(FALLBACK_TEXT), 24),
        "close": plain_text(t.gettext("Close"), 24),
        "blocks": [
            section(t.gettext("What would you like to do?")),
            _buttons(locale),
        ],
    }
