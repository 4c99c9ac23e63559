"""Which bot token a call is made with: one token, or the app's installation in each workspace.

Two modes (``slackbot.settings``): a single bot token (``SLACK_BOT_TOKEN``; every call uses it),
or OAuth installations in many workspaces (``SLACK_CLIENT_ID`` and friends), where the vendor's
own workspace (the billing channel's) has one installation and each partner workspace that
installed the app has its own. What is sent outside a person's request (the outbox sender's
posts, DMs and edits) asks a ``BotTokens`` for the client to use; requests Slack sends carry
their own workspace, and Bolt authorizes them itself.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol

from slack_sdk import WebClient
from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.token_rotation.rotator import TokenRotator

from slackbot.db import Database
from slackbot.outbox import channels
from slackbot.slack.installations import EncryptedInstallationStore

__all__ = ["BotTokens", "CurrentTokenClient", "InstalledTokens", "SingleToken", "person_client"]

log = logging.getLogger(__name__)

# How long a looked-up token is reused: a rotated or revoked token is dropped within this.
TOKEN_CACHE_SECONDS = 60.0
# Bolt's default: a token expiring within two hours is refreshed before use.
ROTATION_MINUTES = 120


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


ClientFactory = Callable[[str | None], WebClient]


class InstalledTokens:
    """The OAuth mode: each workspace's (or org's) installation, looked up in the store.

    A token is reused for :data:`TOKEN_CACHE_SECONDS` at most, then looked up again (and
    refreshed when it expires soon, as Bolt does for requests): a token rotated by another
    process, or revoked, is not used for long. ``forget()`` drops them at once (uninstall).
    """

    def __init__(
        self,
        store: EncryptedInstallationStore,
        *,
        billing_team_id: str,
        client_factory: ClientFactory,
        rotator: TokenRotator | None = None,
        cache_seconds: float = TOKEN_CACHE_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        self.billing_team_id = billing_team_id
        self.client_factory = client_factory
        self.rotator = rotator
        self.cache_seconds = cache_seconds
        self.clock = clock
        self._lock = threading.Lock()
        self._cached: dict[tuple[str | None, str | None], tuple[float, WebClient | None]] = {}

    def billing(self) -> WebClient:
        client = self._billing_client()
        if client is None:
            # Calls fail as not_authed and the sender retries them until the vendor installs.
            log.warning(
                "the billing workspace BILLING_TEAM_ID=%s has not installed the app yet:"
                " open /slack/install from it",
                self.billing_team_id,
            )
            return self.client_factory(None)
        return client

    def _billing_client(self) -> WebClient | None:
        if self.billing_team_id.startswith("E"):
            return self.for_team(None, self.billing_team_id)
        return self.for_team(self.billing_team_id, None)

    def billing_token(self) -> str | None:
        client = self._billing_client()
        return client.token if client is not None else None

    def for_team(self, team_id: str | None, enterprise_id: str | None) -> WebClient | None:
        key = (team_id, enterprise_id)
        now = self.clock()
        with self._lock:
            cached = self._cached.get(key)
            if cached is not None and cached[0] > now:
                return cached[1]
        client = self._look_up(team_id, enterprise_id)
        with self._lock:
            if len(self._cached) > 10_000:
                self._cached.clear()
            self._cached[key] = (now + self.cache_seconds, client)
        return client

    def forget(self) -> None:
        """Drop every cached token (an installation was removed or its tokens revoked)."""
        with self._lock:
            self._cached.clear()

    def _look_up(self, team_id: str | None, enterprise_id: str | None) -> WebClient | None:
        installation = self.store.find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=team_id is None and enterprise_id is not None,
        )
        if installation is None or not installation.bot_token:
            return None
        token = installation.bot_token
        if self.rotator is not None and installation.bot_refresh_token:
            try:
                refreshed = self.rotator.perform_token_rotation(
                    installation=installation, minutes_before_expiration=ROTATION_MINUTES
                )
            except SlackTokenRotationError as exc:
                log.error(
                    "could not refresh the bot token of %s: %s", team_id or enterprise_id, exc
                )
                return None
            if refreshed is not None:
                self.store.save(refreshed)
                token = refreshed.bot_token or token
        return self.client_factory(token)


class CurrentTokenClient(WebClient):
    """A WebClient whose token is looked up on each call (so rotations and reinstalls show).

    For code that keeps one client for the process (the approver directory): in the OAuth mode
    the billing workspace's token changes under it.
    """

    def __init__(self, token_source: Callable[[], str | None], **kwargs: Any) -> None:
        self._token_source = token_source
        super().__init__(**kwargs)

    @property
    def token(self) -> str | None:
        return self._token_source()

    @token.setter
    def token(self, value: str | None) -> None:
        pass  # WebClient's own __init__ sets it; the source decides


def person_client(tokens: BotTokens, db: Database) -> Callable[[str], WebClient | None]:
    """For a person, the client of the workspace they were last seen in (signed payloads
    only, ``slack_people``), else the vendor's: what the bot uses to publish their Home."""

    def client_for(user_id: str) -> WebClient | None:
        with db.transaction(read_only=True) as session:
            seen = channels.person(session, user_id)
        client = tokens.for_team(seen.team_id, seen.enterprise_id) if seen else None
        return client or tokens.billing()

    return client_for
