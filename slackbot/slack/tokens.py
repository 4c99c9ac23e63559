"""Which bot token a call is made with: one token, or the app's installation in each workspace.

Two modes (``slackbot.settings``): a single bot token (``SLACK_BOT_TOKEN``; every call uses it),
or OAuth installations in many workspaces (``SLACK_CLIENT_ID`` and friends), where the vendor's
own workspace (the billing channel's) has one installation and each partner workspace that
installed the app has its own. What is sent outside a person's request (the outbox sender's
posts, DMs and edits) asks a ``BotTokens`` for the client to use; requests Slack sends carry
their own workspace, and Bolt authorizes them itself.
"""

from __future__ import annotations

from typing import Protocol

from slack_sdk import WebClient

__all__ = ["BotTokens", "SingleToken"]


class BotTokens(Protocol):
    """Web API clients for the bot's own calls, per workspace."""

    def billing(self) -> WebClient:
        """The client of the vendor's workspace: the billing channel, the vendor's people."""
        ...

    def for_team(self, team_id: str | None, enterprise_id: str | None) -> WebClient | None:
        """The client of the app's installation in that workspace or Enterprise Grid org.

        None when the app is not installed there (a partner meeting the vendor in a Slack
        Connect channel): such a person is reached through the vendor's workspace instead.
        """
        ...


class SingleToken:
    """The single-token mode: one client for every call, whatever the workspace."""

    def __init__(self, client: WebClient) -> None:
        self.client = client

    def billing(self) -> WebClient:
        return self.client

    def for_team(self, team_id: str | None, enterprise_id: str | None) -> WebClient | None:
        return self.client
