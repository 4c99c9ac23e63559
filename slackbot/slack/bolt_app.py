"""The Bolt app and the Web API clients, pointed at our endpoint with our time-outs and retries."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from slack_bolt import App
from slack_bolt.oauth import OAuthFlow
from slack_bolt.oauth.oauth_settings import OAuthSettings
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)
from slack_sdk.oauth import OAuthStateUtils
from slack_sdk.oauth.token_rotation.rotator import TokenRotator
from sqlalchemy.engine import Engine

from slackbot.settings import Settings
from slackbot.slack.installations import (
    STATE_EXPIRATION_SECONDS,
    EncryptedInstallationStore,
    InstallationTarget,
    SignedPayloadAuthorize,
    TokenCipher,
    install_pages,
    installation_target,
    state_store,
    target_middleware,
)
from slackbot.slack.tokens import (
    ROTATION_MINUTES,
    BotTokens,
    CurrentTokenClient,
    InstalledTokens,
    SingleToken,
)

__all__ = [
    "INTERACTIVE_TIMEOUT",
    "NOT_INSTALLED",
    "App",
    "bolt_app",
    "delivery_client",
    "directory_client",
    "installation_store",
    "oauth_bolt_app",
    "token_rotator",
    "wire_slack",
]

log = logging.getLogger(__name__)

# What a person reads when their request reaches a workspace whose installation is gone.
NOT_INSTALLED = (
    "The payments bot is not installed in this workspace (or was removed from it)."
    " Ask a Slack admin here to install it again; nothing was changed."
)

# Calls made while a person waits (views.open with a trigger_id that expires in 3 s) get one
# quick retry on a dropped connection and nothing more; the outbox sender retries on its own
# schedule with a client that has no retry handlers.
INTERACTIVE_TIMEOUT = 2.5


def delivery_client(settings: Settings, *, timeout: float, token: str | None = None) -> WebClient:
    """The outbox sender's client: no retry handlers (the outbox retries on its own schedule).

    ``token``: an installation's (the OAuth mode); default ``SLACK_BOT_TOKEN``.
    """
    return WebClient(
        token=token or settings.slack_bot_token or "",
        base_url=settings.slack_api_url,
        timeout=max(1, int(timeout)),
        retry_handlers=[],
    )


def directory_client(settings: Settings) -> WebClient:
    """The approver directory's client: asked while a person waits, so quick, one 429 retry."""
    return WebClient(
        token=settings.slack_bot_token or "",
        base_url=settings.slack_api_url,
        timeout=int(INTERACTIVE_TIMEOUT + 0.5),
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )


def bolt_app(settings: Settings, *, verify_token: bool = True) -> App:
    """The Bolt app, with no listeners yet; ``verify_token`` checks the token with auth.test."""
    token = settings.slack_bot_token or ""
    # Bolt gets the token and builds its own client. Handed a ready client instead, it still
    # looks for SLACK_BOT_TOKEN in the environment on its own and, finding it, warns that
    # "`token` will be unused". Its client then gets our endpoint, and, for the calls listeners
    # make while a person waits (views.open), the interactive time-out and one retry; the client
    # of each request copies them. Bolt's own start-up auth.test would go to its default
    # endpoint, so the token is checked here instead, once the client is configured.
    app = App(
        token=token or None,
        signing_secret=settings.slack_signing_secret or "",
        token_verification_enabled=False,
        # Requests Slack sends that we do not handle are answered 404, not with an error page.
        raise_error_for_unhandled_request=False,
    )
    app.client.base_url = settings.slack_api_url
    app.client.timeout = int(INTERACTIVE_TIMEOUT + 0.5)
    app.client.retry_handlers = [ConnectionErrorRetryHandler(max_retry_count=1)]
    if verify_token:
        app.client.auth_test()
    return app


# ----------------------------------------------------------------- the OAuth mode


def installation_store(settings: Settings, engine: Engine) -> EncryptedInstallationStore:
    """The installations on the bot's database, tokens encrypted with TOKEN_ENCRYPTION_KEY."""
    return EncryptedInstallationStore(
        client_id=settings.slack_client_id or "",
        engine=engine,
        cipher=TokenCipher(settings.token_encryption_key),
    )


def token_rotator(settings: Settings) -> TokenRotator:
    """Refreshes expiring tokens (oauth.v2.access, grant_type=refresh_token) at our endpoint."""
    return TokenRotator(
        client_id=settings.slack_client_id or "",
        client_secret=settings.slack_client_secret or "",
        client=WebClient(
            base_url=settings.slack_api_url,
            timeout=5,
            retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
        ),
    )


def oauth_bolt_app(
    settings: Settings,
    store: EncryptedInstallationStore,
    engine: Engine,
    *,
    on_uninstall: Callable[[], None] = lambda: None,
) -> App:
    """The Bolt app of the OAuth mode: /slack/install, /slack/oauth_redirect, and each request
    authorized with the installation its signed payload was meant for."""
    client = WebClient(
        base_url=settings.slack_api_url,
        timeout=int(INTERACTIVE_TIMEOUT + 0.5),
        retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
    )
    client_id = settings.slack_client_id or ""
    client_secret = settings.slack_client_secret or ""
    state_utils = OAuthStateUtils(expiration_seconds=STATE_EXPIRATION_SECONDS)
    oauth_settings = OAuthSettings(
        client_id=client_id,
        client_secret=client_secret,
        scopes=list(settings.bot_scopes),
        user_scopes=[],
        redirect_uri=settings.slack_redirect_uri,
        installation_store=store,
        token_rotation_expiration_minutes=ROTATION_MINUTES,
        state_store=state_store(engine),
        state_expiration_seconds=STATE_EXPIRATION_SECONDS,
        callback_options=install_pages("/slack/install", state_utils),
        logger=log,
    )
    authorize = SignedPayloadAuthorize(
        logger=log,
        installation_store=store,
        client_id=client_id,
        client_secret=client_secret,
        token_rotation_expiration_minutes=ROTATION_MINUTES,
        client=token_rotator(settings).client,
    )
    app = App(
        signing_secret=settings.slack_signing_secret or "",
        client=client,
        oauth_flow=OAuthFlow(client=client, logger=log, settings=oauth_settings),
        installation_store=store,
        # Bolt takes an Authorize instance as is (its hint names only plain functions).
        authorize=authorize,  # type: ignore[arg-type]
        before_authorize=target_middleware,
        user_facing_authorize_error_message=NOT_INSTALLED,
        raise_error_for_unhandled_request=False,
    )
    _listen_for_uninstalls(app, store, on_uninstall)
    return app


def _event_target(body: dict[str, Any]) -> InstallationTarget:
    target = installation_target(body)
    if target is not None:
        return target
    team, org = body.get("team_id"), body.get("enterprise_id")
    return InstallationTarget(
        org if isinstance(org, str) else None, team if isinstance(team, str) else None, False
    )


def _listen_for_uninstalls(
    app: App, store: EncryptedInstallationStore, on_uninstall: Callable[[], None]
) -> None:
    """app_uninstalled and tokens_revoked: the installation's rows go, the ledger stays."""

    def app_uninstalled(body: dict[str, Any]) -> None:
        target = _event_target(body)
        team = None if target.is_enterprise_install else target.team_id
        store.delete_all(enterprise_id=target.enterprise_id, team_id=team)
        on_uninstall()
        log.info(
            "app uninstalled from %s: its installation and tokens are deleted; the ledger"
            " keeps its history",
            f"org {target.enterprise_id}" if team is None else f"workspace {team}",
        )

    def tokens_revoked(body: dict[str, Any], event: dict[str, Any]) -> None:
        target = _event_target(body)
        team = None if target.is_enterprise_install else target.team_id
        raw = event.get("tokens")
        tokens: dict[str, Any] = raw if isinstance(raw, dict) else {}
        bots: list[Any] = tokens["bot"] if isinstance(tokens.get("bot"), list) else []
        users: list[Any] = tokens["oauth"] if isinstance(tokens.get("oauth"), list) else []
        if bots:
            store.forget_bot(enterprise_id=target.enterprise_id, team_id=team)
        for user_id in users:
            if isinstance(user_id, str):
                store.forget_user_tokens(
                    enterprise_id=target.enterprise_id, team_id=team, user_id=user_id
                )
        on_uninstall()
        log.info(
            "tokens revoked in %s: %d bot and %d user tokens deleted; the ledger is unchanged",
            team or target.enterprise_id,
            len(bots),
            len(users),
        )

    app.event("app_uninstalled")(app_uninstalled)
    app.event("tokens_revoked")(tokens_revoked)


# ----------------------------------------------------------------- either mode


@dataclass
class SlackWiring:
    """What the composition root gets from the Slack side, in either mode."""

    app: App
    tokens: BotTokens
    # The approver directory's client (it keeps one for the process).
    directory: WebClient
    installations: EncryptedInstallationStore | None


def installed_tokens(
    settings: Settings, store: EncryptedInstallationStore, *, delivery_timeout: float
) -> InstalledTokens:
    """The OAuth mode's per-workspace clients for the bot's own calls (the sender, the CLI)."""
    return InstalledTokens(
        store,
        billing_team_id=settings.billing_team_id or "",
        client_factory=lambda token: delivery_client(
            settings, timeout=delivery_timeout, token=token
        ),
        rotator=token_rotator(settings),
    )


def wire_slack(
    settings: Settings, engine: Engine, *, delivery_timeout: float, verify_token: bool = True
) -> SlackWiring:
    """The single-token mode (``SLACK_BOT_TOKEN``) or the OAuth mode (``SLACK_CLIENT_ID``…)."""
    if not settings.oauth_mode:
        return SlackWiring(
            app=bolt_app(settings, verify_token=verify_token),
            tokens=SingleToken(delivery_client(settings, timeout=delivery_timeout)),
            directory=directory_client(settings),
            installations=None,
        )
    store = installation_store(settings, engine)
    tokens = installed_tokens(settings, store, delivery_timeout=delivery_timeout)
    return SlackWiring(
        app=oauth_bolt_app(settings, store, engine, on_uninstall=tokens.forget),
        tokens=tokens,
        directory=CurrentTokenClient(
            tokens.billing_token,
            base_url=settings.slack_api_url,
            timeout=int(INTERACTIVE_TIMEOUT + 0.5),
            retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
        ),
        installations=store,
    )
