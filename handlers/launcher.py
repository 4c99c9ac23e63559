"""The launcher's buttons (Show my payments, Allocate, History) and the two shortcuts.

The launcher is pinned in a partner's linked channel (``slackbot channel link``), for people who
cannot use ``/payments`` there (external people of a Slack Connect channel). Each button answers
what the matching ``/payments`` subcommand answers, through the same functions: in a channel,
as an ephemeral reply to the person who clicked (the click's ``response_url``); in the
shortcuts' modal, by drawing the answer into the modal. Allocate opens the allocation modal
(pushed onto the shortcuts' modal when clicked there). Whoever clicks acts for their own
partners: the ledger checks membership, whichever channel the launcher is in.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers import modals
from handlers.commands import history_reply, payments_reply
from handlers.modals import open_allocation_modal
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import N_, texts
from slackbot.ledger import Ledger
from slackbot.ledger.membership import Person
from slackbot.slack import refusals, views
from slackbot.slack.replies import reply_privately
from slackbot.slack.views.launcher import LAUNCHER_BLOCK, LauncherAction, Shortcut

__all__ = ["in_modal", "modal_client", "register"]

log = logging.getLogger("handlers")

COULD_NOT_OPEN = N_("Slack didn't open Payments just now. Please try the shortcut again.")


def register(app: App) -> None:
    app.action(LauncherAction.LIST)(launcher_list)
    app.action(LauncherAction.ALLOCATE)(launcher_allocate)
    app.action(LauncherAction.HISTORY)(launcher_history)
    app.shortcut(Shortcut.GLOBAL)(payments_shortcut)
    app.shortcut(Shortcut.MESSAGE)(payments_shortcut)


def in_modal(body: dict[str, Any]) -> bool:
    """The click happened inside a modal (the shortcuts' one), not in a message."""
    container = body.get("container")
    return isinstance(container, dict) and container.get("type") == "view"


class _PushingClient:
    """A client whose ``views_open`` pushes onto the open modal: a button inside a modal must
    stack its modal (``views.push``), where one in a message opens it."""

    def __init__(self, client: WebClient) -> None:
        self._client = client

    def views_open(self, **kwargs: Any) -> Any:
        return self._client.views_push(**kwargs)


def modal_client(client: WebClient, body: dict[str, Any]) -> WebClient:
    """The client to open a modal with for this click: pushing when clicked inside a modal."""
    return cast(WebClient, _PushingClient(client)) if in_modal(body) else client


def _answer(
    client: WebClient,
    body: dict[str, Any],
    respond: Respond,
    reply: dict[str, Any],
    locale: str = DEFAULT_LOCALE,
) -> None:
    """The answer where the person clicked: ephemeral in the channel, or drawn in the modal."""
    view = body.get("view")
    if in_modal(body) and isinstance(view, dict):
        blocks = [b for b in reply.get("blocks") or [] if b.get("block_id") != LAUNCHER_BLOCK]
        launcher = views.launcher_modal(locale=locale)
        launcher["blocks"] = [*launcher["blocks"], {"type": "divider"}, *blocks][:100]
        modals.update(client, view, launcher)
        return
    reply_privately(respond, reply)


@refusals.answer_privately
def launcher_list(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    ledger: Ledger,
    user_id: str,
    person: Person,
    locale: str = DEFAULT_LOCALE,
) -> None:
    """Show my payments: what ``/payments list`` answers."""
    ack()
    _answer(client, body, respond, payments_reply(ledger, user_id, person, locale=locale), locale)


@refusals.answer_privately
def launcher_history(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    ledger: Ledger,
    user_id: str,
    person: Person,
    locale: str = DEFAULT_LOCALE,
) -> None:
    """History: what ``/payments history`` answers."""
    ack()
    _answer(client, body, respond, history_reply(ledger, user_id, person, locale=locale), locale)


@refusals.answer_privately
def launcher_allocate(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    ledger: Ledger,
    user_id: str,
    person: Person,
    locale: str = DEFAULT_LOCALE,
) -> None:
    """Allocate: the allocation modal, as ``/payments allocate`` opens it."""
    ack()
    open_allocation_modal(
        ledger,
        modal_client(client, body),
        respond,
        user_id=user_id,
        trigger_id=str(body.get("trigger_id", "")),
        payment_id=None,
        person=person,
        locale=locale,
    )


@refusals.answer_privately
def payments_shortcut(
    ack: Ack,
    body: dict[str, Any],
    client: WebClient,
    respond: Respond,
    user_id: str,
    locale: str = DEFAULT_LOCALE,
) -> None:
    """The global and message shortcuts: a modal with the launcher's three choices."""
    ack()
    try:
        client.views_open(
            trigger_id=str(body.get("trigger_id", "")), view=views.launcher_modal(locale=locale)
        )
    except (SlackApiError, SlackClientError, OSError, TimeoutError) as exc:
        log.warning("views.open for the payments shortcut failed for %s: %s", user_id, exc)
        reply_privately(
            respond, views.error_message(texts(locale).gettext(COULD_NOT_OPEN), locale=locale)
        )
