"""Putting up the launcher in a partner's channel: post it and pin it, or say why Slack would not.

``slackbot channel link`` calls :func:`post_launcher` with the vendor's (billing workspace's)
client before it records the link, so a refusal changes nothing; each refusal Slack can give
is turned into one line saying what the operator should do.
"""

from __future__ import annotations

import logging

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from slackbot.i18n import DEFAULT_LOCALE
from slackbot.slack import views

__all__ = ["LauncherRefused", "post_launcher", "remove_launcher"]

log = logging.getLogger(__name__)

# What the operator does about each answer Slack gives (``{channel}`` is the channel's id).
WHAT_TO_DO = {
    "not_in_channel": "the bot is not in {channel}: invite it there (/invite @payments)"
    " and run this again",
    "channel_not_found": "the bot cannot see {channel}: check the id (the channel's details,"
    " About tab) and invite the bot there (/invite @payments)",
    "is_archived": "{channel} is archived: unarchive it or link another channel",
    "restricted_action": "the workspace does not let the bot post in {channel}: ask an admin"
    " to allow it",
    "missing_scope": "the app lacks a scope it needs (chat:write, pins:write): add them as"
    " manifest.yml lists and reinstall the app",
    "invalid_auth": "SLACK_BOT_TOKEN was refused (invalid_auth): set the bot token of the"
    " vendor's workspace",
    "not_authed": "SLACK_BOT_TOKEN is not set: set the bot token of the vendor's workspace",
    "token_revoked": "SLACK_BOT_TOKEN was revoked: reinstall the app and set the new token",
    "account_inactive": "SLACK_BOT_TOKEN belongs to a deactivated app or workspace",
}


class LauncherRefused(Exception):
    """Slack would not post or pin the launcher; the message says what to do."""


def _refusal(exc: SlackApiError, channel_id: str, doing: str) -> LauncherRefused:
    error = str(exc.response.get("error") or f"http_{exc.response.status_code}")
    what = WHAT_TO_DO.get(error)
    if what is None:
        return LauncherRefused(f"Slack refused to {doing} in {channel_id} ({error})")
    return LauncherRefused(f"Slack refused to {doing} ({error}): {what.format(channel=channel_id)}")


def post_launcher(
    client: WebClient, channel_id: str, partner_name: str, *, locale: str = DEFAULT_LOCALE
) -> str:
    """Post the launcher in ``channel_id`` and pin it; returns its ts.

    ``locale``: the channel's readers' (the partner's locale, else DEFAULT_LOCALE).
    If the pin is refused, the post is taken down again, so a refusal leaves nothing behind.
    """
    try:
        response = client.chat_postMessage(
            channel=channel_id, **views.launcher_message(partner_name, locale=locale)
        )
    except SlackApiError as exc:
        raise _refusal(exc, channel_id, "post the launcher") from None
    except (SlackClientError, OSError, TimeoutError) as exc:
        raise LauncherRefused(f"Slack did not answer ({type(exc).__name__}); try again") from None
    ts = str(response["ts"])
    try:
        client.pins_add(channel=channel_id, timestamp=ts)
    except SlackApiError as exc:
        if exc.response.get("error") == "already_pinned":
            return ts
        remove_launcher(client, channel_id, ts)
        raise _refusal(exc, channel_id, "pin the launcher") from None
    except (SlackClientError, OSError, TimeoutError) as exc:
        remove_launcher(client, channel_id, ts)
        raise LauncherRefused(f"Slack did not answer ({type(exc).__name__}); try again") from None
    return ts


def remove_launcher(client: WebClient, channel_id: str, ts: str) -> str | None:
    """Take a launcher down (its message deleted); returns Slack's error, None when done."""
    try:
        client.chat_delete(channel=channel_id, ts=ts)
    except SlackApiError as exc:
        return str(exc.response.get("error") or "slack_error")
    except (SlackClientError, OSError, TimeoutError) as exc:
        return type(exc).__name__
    return None
