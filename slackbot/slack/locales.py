"""Whose language each text is in: the person's Slack locale, their partner's, the default.

:class:`Readers` backs :class:`~slackbot.i18n.choice.LocaleChooser` with Slack's
``users.info(include_locale=True)`` and the partners CSV's ``locale`` column:

- a request's person: the Slack locale (asked with the request's own bot token, never holding
  the answer past the chooser's 0.3 s deadline), else the locale of the first partner they act
  for that has one (read at most once a minute per person), else ``DEFAULT_LOCALE``
  (:meth:`Readers.for_person`);
- the outbox, at send time, reads the same for the requester (the token they were last seen
  with, else the billing workspace's), and ``BILLING_LOCALE`` for the billing channel.

The users.info call has a 2-second time-out: the chooser's pool threads are not daemons, so a
hung call must not keep the process from exiting for long.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from slack_sdk import WebClient
from sqlalchemy import select

from models.tables import Partner
from slackbot.db import Database
from slackbot.i18n.choice import LocaleChooser
from slackbot.i18n.numbers import normalize_locale
from slackbot.ledger.membership import acting_for

__all__ = ["LOOKUP_TIMEOUT", "Readers", "partner_locale_of"]

log = logging.getLogger(__name__)

LOOKUP_TIMEOUT = 2
# How long a person's Slack locale is trusted (they may change their Slack language).
LOCALE_TTL_SECONDS = 3600.0
MAX_PEOPLE = 10_000
# How long a person's partner locale is trusted: it changes only with a partners import, and
# without this every request of someone whose Slack locale is unknown read it again.
PARTNER_LOCALE_TTL_SECONDS = 60.0


def partner_locale_of(db: Database, user_id: str) -> str | None:
    """The locale of the first partner ``user_id`` acts for that has one (by name, then id)."""
    if not user_id:
        return None
    with db.transaction(read_only=True) as session:
        return session.execute(
            select(Partner.locale)
            .where(acting_for(user_id, Partner.partner_id), Partner.locale.is_not(None))
            .order_by(Partner.name, Partner.partner_id)
            .limit(1)
        ).scalar_one_or_none()


class Readers:
    """The locale each person reads, and the billing channel's."""

    def __init__(
        self,
        db: Database,
        *,
        default_locale: str,
        billing_locale: str | None = None,
        client: Callable[[], WebClient | None] = lambda: None,
        chooser: LocaleChooser | None = None,
        partner_locale: Callable[[str], str | None] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db = db
        self.default_locale = default_locale
        self.billing_locale = billing_locale or default_locale
        # The client to ask with for someone never seen in a request (the billing workspace's).
        self._fallback_client = client
        self._partner_locale = partner_locale or (lambda user: partner_locale_of(db, user))
        self._lock = threading.Lock()
        self._monotonic = monotonic
        # user id -> (when read, their partner's locale), at most MAX_PEOPLE, oldest dropped.
        self._partner_read: OrderedDict[str, tuple[float, str | None]] = OrderedDict()
        # user id -> (token, base_url) of the request they were last seen in: users.info must
        # be asked in their own workspace (the OAuth mode has one token per workspace).
        self._asked_with: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.chooser = chooser or LocaleChooser(
            self._slack_locale,
            ttl_seconds=LOCALE_TTL_SECONDS,
            max_entries=MAX_PEOPLE,
            default=default_locale,
        )

    def for_person(self, user_id: str | None, client: WebClient | None = None) -> str:
        """What ``user_id`` reads; ``client``: the request's (its token asks users.info)."""
        if not user_id:
            return self.default_locale
        if client is not None and client.token:
            self._remember(user_id, client)
        known = self.chooser.cached(user_id)
        if known:
            return normalize_locale(known)
        return normalize_locale(self.chooser.locale_for(user_id, self._partner_of(user_id)))

    def _partner_of(self, user_id: str) -> str | None:
        """Their partner's locale, read at most once per PARTNER_LOCALE_TTL_SECONDS."""
        now = self._monotonic()
        with self._lock:
            read = self._partner_read.get(user_id)
        if read is not None and now - read[0] < PARTNER_LOCALE_TTL_SECONDS:
            return read[1]
        try:
            partner = self._partner_locale(user_id)
        except Exception as exc:
            log.warning("could not read the partner locale of %s: %s", user_id, exc)
            return None  # not remembered: the next request reads it again
        with self._lock:
            self._partner_read[user_id] = (now, partner)
            self._partner_read.move_to_end(user_id)
            while len(self._partner_read) > MAX_PEOPLE:
                self._partner_read.popitem(last=False)
        return partner

    def forget(self, user_id: str) -> None:
        self.chooser.forget(user_id)
        with self._lock:
            self._partner_read.pop(user_id, None)

    def close(self) -> None:
        self.chooser.close()

    def _remember(self, user_id: str, client: WebClient) -> None:
        with self._lock:
            self._asked_with[user_id] = (str(client.token), client.base_url)
            self._asked_with.move_to_end(user_id)
            while len(self._asked_with) > MAX_PEOPLE:
                self._asked_with.popitem(last=False)

    def _client_for(self, user_id: str) -> WebClient | None:
        with self._lock:
            asked = self._asked_with.get(user_id)
        if asked is not None:
            token, base_url = asked
            return WebClient(token=token, base_url=base_url, timeout=LOOKUP_TIMEOUT)
        fallback = self._fallback_client()
        if fallback is None or not fallback.token:
            return None
        return WebClient(token=fallback.token, base_url=fallback.base_url, timeout=LOOKUP_TIMEOUT)

    def _slack_locale(self, user_id: str) -> str | None:
        """users.info(include_locale): runs on the chooser's pool, never while a person waits."""
        client = self._client_for(user_id)
        if client is None:
            return None
        answer: Any = client.users_info(user=user_id, include_locale=True)
        user = answer.get("user") if answer is not None else None
        locale = user.get("locale") if isinstance(user, dict) else None
        return locale if isinstance(locale, str) and locale.strip() else None
