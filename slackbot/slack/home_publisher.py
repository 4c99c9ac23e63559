"""Keeps every App Home current: a worker that republishes the Homes marked stale, coalesced.

Changes mark people in ``home_refresh`` (``slackbot.outbox.home_queue``) in their own
transaction. This worker leases due rows, builds each person's Home
(``slackbot.ledger.home`` read, ``views.home_view`` rendered) and calls ``views.publish``; a
publish that fails (Slack down, a 429, a lost connection) puts the row back with a growing
backoff, so an outage delays Homes and loses none. The row of "every approver"
(:data:`~models.home_refresh.EVERY_APPROVER`) is expanded here, where the approvers are known.

It sleeps until :meth:`HomePublisher.wake` (a change in this process), the next due row, or
``idle_poll`` seconds (marks made by another process, such as a CLI import): an idle publisher
makes one small query per ``idle_poll``, never a busy loop.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from slack_sdk import WebClient

from models.home_refresh import EVERY_APPROVER
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.ledger.home import HomeQueries
from slackbot.outbox.home_queue import HOME_SPACING_SECONDS, Claimed, HomeQueue
from slackbot.outbox.queue import RetryPolicy
from slackbot.slack.views.home import home_view

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 5.0
# After an error reaching the database, wait this long before looking again.
DATABASE_PAUSE_SECONDS = 1.0


class HomePublisher:
    """Publishes Homes: at once for a person who opens theirs, and whenever a change marks one.

    ``client_for(user_id)``: the Web API client that may publish that person's Home (the one
    bot token; per workspace in the OAuth mode). ``is_approver(user_id)``: the approver
    directory's answer (a failure to answer counts as "not an approver" for this publish only).
    ``approver_ids()``: the approvers to republish when a request is made or decided, beyond
    those who already have a Home (the configured ids; group members are found among the
    people with a Home).
    """

    def __init__(
        self,
        db: Database,
        client_for: Callable[[str], WebClient | None],
        *,
        is_approver: Callable[[str], bool] = lambda _user: False,
        approver_ids: Callable[[], Iterable[str]] = tuple,
        clock: Clock = system_clock,
        day_tz: dt.tzinfo = dt.UTC,
        retry: RetryPolicy | None = None,
        idle_poll: float = IDLE_POLL_SECONDS,
        lease_seconds: float = 30.0,
        spacing_seconds: float = HOME_SPACING_SECONDS,
        locale_for: Callable[[str], str] = lambda _user: DEFAULT_LOCALE,
    ) -> None:
        self.db = db
        # What each person reads (their Slack locale, their partner's, the default).
        self.locale_for = locale_for
        self.homes = HomeQueries(db, clock=clock, day_tz=day_tz)
        self.queue = HomeQueue(
            db,
            clock=clock,
            retry=retry,
            lease_seconds=lease_seconds,
            spacing_seconds=spacing_seconds,
        )
        self.client_for = client_for
        self.is_approver = is_approver
        self.approver_ids = approver_ids
        self.idle_poll = idle_poll
        self.worker_id = f"home-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------- building

    def view_for(self, user_id: str, locale: str | None = None) -> dict[str, Any]:
        """The person's Home as ``views.publish`` takes it, in ``locale`` (default: theirs)."""
        home = self.homes.home_of(user_id, approver=self._approver(user_id))
        return home_view(home, locale=locale or self.locale_for(user_id))

    def _approver(self, user_id: str) -> bool:
        try:
            return bool(self.is_approver(user_id))
        except Exception as exc:
            # The directory could not say (Slack unreachable, nothing cached): show the partner
            # side now; the next change republishes with the queue.
            log.warning("could not tell whether %s approves: %s", user_id, exc)
            return False

    def publish_now(
        self, user_id: str, client: WebClient | None = None, *, locale: str | None = None
    ) -> bool:
        """Build and publish ``user_id``'s Home at once (they opened it); True when published.

        On failure the person is marked, so the worker publishes it once Slack answers again.
        """
        try:
            view = self.view_for(user_id, locale)
            target = client or self.client_for(user_id)
            if target is None:
                raise RuntimeError("no Slack client can publish this person's Home")
            target.views_publish(user_id=user_id, view=view)
        except Exception as exc:
            log.warning("publishing %s's Home failed; it will be retried: %s", user_id, exc)
            try:
                self.queue.mark([user_id])
                self.wake()
            except Exception:
                log.warning("could not mark %s's Home for a retry", user_id, exc_info=True)
            return False
        return True

    # ------------------------------------------------------------- the worker

    def run_once(self) -> int:
        """Claim due rows and publish each; returns how many rows were handled."""
        claimed = self.queue.claim(self.worker_id)
        for row in claimed:
            if row.user_id == EVERY_APPROVER:
                self._expand_approvers(row)
            else:
                self._publish(row)
        return len(claimed)

    def _expand_approvers(self, row: Claimed) -> None:
        try:
            people = set(self.approver_ids())
            people |= {u for u in self.queue.people_with_a_home() if self._approver(u)}
            self.queue.mark(people)
        except Exception as exc:
            self.queue.failed(row, self.worker_id, f"approvers: {exc}")
            return
        self.queue.done(row, self.worker_id)

    def _publish(self, row: Claimed) -> None:
        try:
            view = self.view_for(row.user_id)
            client = self.client_for(row.user_id)
            if client is None:
                raise RuntimeError("no Slack client can publish this person's Home")
            client.views_publish(user_id=row.user_id, view=view)
        except Exception as exc:
            delay = self.queue.failed(row, self.worker_id, str(exc) or type(exc).__name__)
            log.warning(
                "Home of %s not published (try %d, next in %.1f s): %s",
                row.user_id,
                row.attempts + 1,
                delay,
                exc,
            )
            return
        self.queue.done(row, self.worker_id)

    def drain(self, timeout: float = 10.0) -> int:
        """Publish everything due now (tests, shutdown); returns how many rows were handled."""
        handled = 0
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            done = self.run_once()
            handled += done
            if not done:
                wait = self.queue.next_due_in()
                if wait is None or wait > 0:
                    break
        return handled

    # ------------------------------------------------------------- the thread

    def wake(self) -> None:
        """Something was marked in this process: look now."""
        self._wake.set()

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="home-publisher", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                if self.run_once():
                    continue
                wait = self.queue.next_due_in()
            except Exception:
                log.warning("Home publisher could not read its queue", exc_info=True)
                wait = DATABASE_PAUSE_SECONDS
            timeout = self.idle_poll if wait is None else min(wait, self.idle_poll)
            self._wake.wait(max(0.0, timeout))
