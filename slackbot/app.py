"""Assembling the bot: the Bolt app, the services it calls, and the outbox sender beside it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
)

from handlers import register_all
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.settings import Settings
from slackbot.slack.approvers import ApproverDirectory
from slackbot.slack.middleware import use_middleware
from slackbot.slack.sender import Delivery, RetryPolicy

log = logging.getLogger(__name__)

# Calls made while a person waits (views.open with a trigger_id that expires in 3 s) get one
# quick retry on a dropped connection and nothing more; the outbox sender retries on its own
# schedule with a client that has no retry handlers.
INTERACTIVE_TIMEOUT = 2.5
DELIVERY_TIMEOUT = 10.0


@dataclass
class Bot:
    """Everything a running bot process holds."""

    settings: Settings
    db: Database
    ledger: Ledger
    approvers: ApproverDirectory
    delivery: Delivery
    app: App

    def close(self) -> None:
        self.delivery.stop()
        self.db.dispose()


def build_bot(
    settings: Settings,
    *,
    db: Database | None = None,
    retry: RetryPolicy | None = None,
    verify_token: bool = True,
    delivery_timeout: float = DELIVERY_TIMEOUT,
) -> Bot:
    """Wire settings to services to listeners. Starts nothing: call ``bot.delivery.start()``."""
    database = db or Database(settings.database_url, statement_timeout_ms=5000)
    ledger = Ledger(database)
    token = settings.slack_bot_token or ""
    sender = WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=max(1, int(delivery_timeout)),
        retry_handlers=[],
    )
    directory_client = WebClient(
        token=token,
        base_url=settings.slack_api_url,
        timeout=int(INTERACTIVE_TIMEOUT + 0.5),
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    approvers = ApproverDirectory(
        settings.billing_approver_ids, settings.billing_approver_group_id, directory_client
    )
    delivery = Delivery(
        database,
        ledger,
        sender,
        billing_channel=settings.billing_channel_id or "",
        pace_seconds=settings.billing_channel_pace_seconds,
        retry=retry,
        invoice_url_template=settings.invoice_url_template,
    )
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
    bot = Bot(
        settings=settings,
        db=database,
        ledger=ledger,
        approvers=approvers,
        delivery=delivery,
        app=app,
    )
    # Listeners take these by parameter name (slackbot.slack.middleware), never the Bot itself.
    use_middleware(app, ledger=ledger, approvers=approvers, outbox=delivery)
    register_all(app)
    return bot
