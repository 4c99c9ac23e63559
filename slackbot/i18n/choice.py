"""Whose language a text is in: the person's Slack locale, else their partner's, else the default.

The person's locale comes from a ``lookup(user_id)`` the composition root backs with Slack's
``users.info(include_locale=True)``. Slack has 3 seconds for an answer, so the lookup never
holds one up: it runs on a small thread pool, and a person whose locale is not known within
``deadline_seconds`` reads the fallback now and their own language from the next message on.
Answers are kept for ``ttl_seconds`` (a person may change their Slack language), at most
``max_entries`` of them (the least recently used go first); a failed lookup is remembered for
``negative_ttl_seconds`` so an unreachable Slack is not asked again on every click.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import CancelledError, Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass

log = logging.getLogger(__name__)

Lookup = Callable[[str], "str | None"]


@dataclass(frozen=True)
class _Known:
    locale: str | None  # None: the lookup failed or found none (a negative entry)
    expires_at: float


class LocaleChooser:
    """``locale_for(user_id, partner_locale)``: thread-safe, never slower than the deadline."""

    def __init__(
        self,
        lookup: Lookup,
        *,
        ttl_seconds: float = 3600,
        max_entries: int = 10_000,
        deadline_seconds: float = 0.3,
        default: str = "en-US",
        negative_ttl_seconds: float = 60,
        workers: int = 4,
        max_pending: int = 256,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be at least 1")
        self._lookup = lookup
        self._ttl = ttl_seconds
        self._negative_ttl = negative_ttl_seconds
        self._max_entries = max_entries
        self._deadline = deadline_seconds
        self._max_pending = max_pending
        self.default = default
        self._clock = clock
        self._lock = threading.Lock()
        self._known: OrderedDict[str, _Known] = OrderedDict()
        self._pending: dict[str, Future[str | None]] = {}
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="locale-lookup")

    def locale_for(self, user_id: str | None, partner_locale: str | None = None) -> str:
        """The locale ``user_id`` reads: theirs if known in time, else ``partner_locale``, else
        the default."""
        fallback = partner_locale or self.default
        if not user_id:
            return fallback
        with self._lock:
            known = self._fresh(user_id)
            if known is not None:
                return known.locale or fallback
            future = self._pending.get(user_id)
            if future is None:
                if len(self._pending) >= self._max_pending:
                    # Slack is slow for everyone: queueing more would only grow memory.
                    return fallback
                future = self._pool.submit(self._ask, user_id)
                self._pending[user_id] = future
        try:
            found = future.result(timeout=self._deadline)
        except (FutureTimeout, CancelledError):
            return fallback
        return found or fallback

    def cached(self, user_id: str) -> str | None:
        """The locale known for ``user_id`` now, without asking Slack (None if unknown)."""
        with self._lock:
            known = self._fresh(user_id)
            return known.locale if known is not None else None

    def forget(self, user_id: str) -> None:
        """Drops what is known of ``user_id`` (e.g. on a ``user_change`` event)."""
        with self._lock:
            self._known.pop(user_id, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._known)

    def close(self) -> None:
        """Stops the lookups' threads; lookups under way finish on their own."""
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _fresh(self, user_id: str) -> _Known | None:
        known = self._known.get(user_id)
        if known is None:
            return None
        if known.expires_at <= self._clock():
            del self._known[user_id]
            return None
        self._known.move_to_end(user_id)
        return known

    def _ask(self, user_id: str) -> str | None:
        # Runs on the pool and remembers the answer itself (not in a done-callback, which would
        # run in the caller's thread, under the lock, when the lookup was already done).
        try:
            found = self._lookup(user_id)
        except Exception as exc:
            log.warning("locale lookup for %s failed: %s", user_id, exc)
            found = None
        locale = found if isinstance(found, str) and found.strip() else None
        lifetime = self._ttl if locale else self._negative_ttl
        with self._lock:
            self._pending.pop(user_id, None)
            self._known[user_id] = _Known(locale, self._clock() + lifetime)
            self._known.move_to_end(user_id)
            while len(self._known) > self._max_entries:
                self._known.popitem(last=False)
        return locale
