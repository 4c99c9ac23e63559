"""The App Home tab: ``app_home_opened`` publishes the person's Home at once."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import App, BoltContext
from slack_sdk import WebClient

from models.limits import is_slack_user_id
from slackbot.slack import refusals

log = logging.getLogger("handlers")


def register(app: App) -> None:
    app.event("app_home_opened")(home_opened)


@refusals.guarded
def home_opened(event: dict[str, Any], client: WebClient, context: BoltContext) -> None:
    # The Home is in the person's locale (context["locale"]: their Slack locale, their
    # partner's, else the default), as the publisher would draw it.
    """Bolt has acknowledged the event already; this builds and publishes with the request's
    client (the token of the workspace the event came for). The Messages tab is not ours."""
    if not isinstance(event, dict) or event.get("tab") != "home":
        return
    user_id = event.get("user")
    if not is_slack_user_id(user_id):
        return
    publisher = context.get("home")
    if publisher is None:
        log.warning("app_home_opened: no Home publisher is wired; nothing published")
        return
    publisher.publish_now(str(user_id), client, locale=context.get("locale"))
