"""The Bolt app and the Web API clients, pointed at our endpoint with our time-outs and retries."""

from __future__ import annotations

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from slackbot.settings import Settings

__all__ = ["INTERACTIVE_TIMEOUT", "App", "bolt_app", "delivery_client", "directory_client"]

# Calls made while a person waits (views.open with a trigger_id that expires in 3 s) get one
# quick retry on a dropped connection and nothing more; the outbox sender retries on its own
# schedule with a client that has no retry handlers.
INTERACTIVE_TIMEOUT = 2.5


def delivery_client(settings: Settings, *, timeout: float) -> WebClient:
    """The outbox sender's client: no retry handlers (the outbox retries on its own schedule)."""
    return WebClient(
        token=settings.slack_bot_token or "",
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
