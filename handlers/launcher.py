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
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from handlers import modals
from handlers.commands import history_reply, open_modal_for, payments_reply
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import N_, texts
from slackbot.ledger import Ledger
from slackbot.ledger.membership import Person
from slackbot.slack import refusals, views
from slackbot.slack.replies import reply_privately
from slackbot.slack.views.launcher import LAUNCHER_BLOCK, LauncherAction, Shortcut

__all__ = ["Click", "answers_click", "in_modal", "modal_client", "register"]

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


@dataclass(frozen=True)
class Click:
    """A button click answered privately: who clicked, where, and the ways to answer them."""

    body: dict[str, Any]
    client: WebClient
    respond: Respond
    ledger: Ledger
    user_id: str
    person: Person
    locale: str

    def answer(self, reply: dict[str, Any]) -> None:
        """``reply`` where the person clicked: ephemeral in the channel, or in the modal."""
        _answer(self.client, self.body, self.respond, reply, self.locale)

    def open_modal(self, payment_id: str | None, *, as_suggested: bool = False) -> None:
        """The allocation modal, stacked onto the open modal when clicked inside one."""
        client = modal_client(self.client, self.body)
        open_modal_for(
            self.ledger,
            client,
            self.respond,
            self.body,
            self.user_id,
            self.person,
            self.locale,
            payment_id,
            as_suggested=as_suggested,
            answer=self.answer if in_modal(self.body) else None,
        )


def answers_click(act: Callable[[Click], None]) -> Callable[..., None]:
    """The listener for a button ``act`` answers: acknowledged first, refusals answered
    privately. Each such button is wired the same way, so only its answer is written."""

    def listener(
        ack: Ack,
        body: dict[str, Any],
        client: WebClient,
        respond: Respond,
        ledger: Ledger,
        user_id: str,
        person: Person,
        locale: str = DEFAULT_LOCALE,
    ) -> None:
        ack()
        act(Click(body, client, respond, ledger, user_id, person, locale))

    # Named as ``act`` (logs, refusals), but Bolt must read the listener's own parameters:
    # no ``__wrapped__`` pointing at ``act``.
    for attribute in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(listener, attribute, getattr(act, attribute))
    return refusals.answer_privately(listener)


@answers_click
def launcher_list(click: Click) -> None:
    """Show my payments: what ``/payments list`` answers."""
    click.answer(payments_reply(click.ledger, click.user_id, click.person, locale=click.locale))


@answers_click
def launcher_history(click: Click) -> None:
    """History: what ``/payments history`` answers."""
    click.answer(history_reply(click.ledger, click.user_id, click.person, locale=click.locale))


@answers_click
def launcher_allocate(click: Click) -> None:
    """Allocate: the allocation modal, as ``/payments allocate`` opens it."""
    click.open_modal(None)


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
