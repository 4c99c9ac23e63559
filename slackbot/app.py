"""Assembling the bot: the Bolt app, the services it calls, and the outbox sender beside it."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from handlers import register_all
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.outbox.reminder_loop import ReminderLoop
from slackbot.settings import Settings
from slackbot.slack.approvers import ApproverDirectory
from slackbot.slack.bolt_app import App, wire_slack
from slackbot.slack.home_publisher import HomePublisher
from slackbot.slack.installations import EncryptedInstallationStore
from slackbot.slack.locales import Readers
from slackbot.slack.middleware import use_middleware
from slackbot.slack.reminder_calls import Approvers
from slackbot.slack.sender import Delivery, RetryPolicy
from slackbot.slack.tokens import BotTokens, person_client

log = logging.getLogger(__name__)

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
    # Which token each of the bot's own calls uses: the one token, or each installation's.
    tokens: BotTokens
    # The OAuth mode's installations (None in the single-token mode).
    installations: EncryptedInstallationStore | None = None
    # Publishes each person's App Home when something on it changed (start with delivery).
    home: HomePublisher | None = None
    # Reminds, escalates and digests requests nobody decides (each decided once, any process).
    reminders: ReminderLoop | None = None
    # Whose language: each person's, and the billing channel's (slackbot.slack.locales).
    readers: Readers | None = None

    def start(self) -> None:
        """Start the background workers: the outbox's senders and the Home publisher."""
        self.delivery.start()
        if self.home is not None:
            self.home.start()
        if self.reminders is not None:
            self.reminders.start()

    def close(self) -> None:
        if self.reminders is not None:
            self.reminders.stop()
        if self.home is not None:
            self.home.stop()
        self.delivery.stop()
        if self.readers is not None:
            self.readers.close()
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
    slack = wire_slack(
        settings, database.engine, delivery_timeout=delivery_timeout, verify_token=verify_token
    )
    app, tokens, store = slack.app, slack.tokens, slack.installations
    readers = Readers(
        database,
        default_locale=settings.default_locale,
        billing_locale=settings.billing_locale,
        # Someone never seen in a request is asked about in the billing workspace.
        client=tokens.billing,
    )
    approvers = ApproverDirectory(
        settings.billing_approver_ids, settings.billing_approver_group_id, slack.directory
    )
    delivery = Delivery(
        database,
        ledger,
        tokens.billing(),
        billing_channel=settings.billing_channel_id or "",
        pace_seconds=settings.billing_channel_pace_seconds,
        retry=retry,
        invoice_url_template=settings.invoice_url_template,
        # One clock for the ledger and the outbox: a test that freezes one freezes both.
        clock=ledger.clock,
        # The single-token mode's one client is ``client`` itself (a test may swap it).
        tokens=tokens if settings.oauth_mode else None,
        approvers=Approvers(settings.billing_approver_group_id, settings.billing_approver_ids),
        readers=readers,
    )
    reminders = ReminderLoop(
        database, settings.reminder_rules(), clock=ledger.clock, wake=delivery.wake
    )
    home = HomePublisher(
        database,
        person_client(tokens, database),
        is_approver=approvers.is_approver,
        approver_ids=lambda: settings.billing_approver_ids,
        clock=ledger.clock,
        retry=retry,
        # "What they decided today": the business day, in BUSINESS_TZ.
        day_tz=settings.reminder_rules().calendar.tz,
        locale_for=readers.for_person,
    )
    bot = Bot(
        settings=settings,
        db=database,
        ledger=ledger,
        approvers=approvers,
        delivery=delivery,
        app=app,
        tokens=tokens,
        installations=store,
        home=home,
        reminders=reminders,
        readers=readers,
    )
    # Listeners take the services by parameter name (slackbot.slack.middleware), never the Bot.
    use_middleware(app, bot)
    register_all(app)
    return bot
