"""Engines and transactions: one unit of work per ``with db.transaction()``, SQLite or PostgreSQL.

SQLite serializes writers with ``BEGIN IMMEDIATE`` (every transaction takes the write lock when it
starts, so two requests cannot both read a balance and then both spend it); PostgreSQL uses row
locks (``SELECT … FOR UPDATE``) taken by the services in a fixed order.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from slackbot.errors import Unavailable
from slackbot.settings import normalize_database_url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


# How long a bot request waits for SQLite's write lock (held by another request or an import)
# before the person is told to try again: Slack gives up on us after 3 seconds.
BOT_LOCK_WAIT_MS = 2000
# The command line has no such deadline: an import may wait for the bot, and the bot for it.
CLI_LOCK_WAIT_MS = 30000


def make_engine(
    url: str,
    *,
    lock_wait_ms: int = BOT_LOCK_WAIT_MS,
    statement_timeout_ms: int | None = None,
    **kwargs: Any,
) -> Engine:
    """An engine for the ledger.

    ``lock_wait_ms``: SQLite's busy timeout. ``statement_timeout_ms``: PostgreSQL's, for the bot
    (one slow statement must not hold a person past Slack's deadline); None for the CLI, whose
    imports and exports may legitimately run long.
    """
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        sqlite_args = {"timeout": lock_wait_ms / 1000, "check_same_thread": False}
        engine = create_engine(url, connect_args=sqlite_args, **kwargs)
        _configure_sqlite(
            engine, in_memory=parsed.database in (None, "", ":memory:"), lock_wait_ms=lock_wait_ms
        )
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    connect_args: dict[str, Any] = {
        # A database that does not answer must fail fast, so the person is told to retry
        # within Slack's 3 seconds instead of the request hanging...
        "connect_timeout": 2,
        # ...and so must one that vanishes mid-conversation without a reset (a partition):
        # TCP keepalives and a user timeout notice a silent peer in seconds, not hours.
        "keepalives": 1,
        "keepalives_idle": 5,
        "keepalives_interval": 2,
        "keepalives_count": 2,
        "tcp_user_timeout": 5000,
    }
    if statement_timeout_ms is not None:
        connect_args["options"] = f"-c statement_timeout={int(statement_timeout_ms)}"
    kwargs.setdefault("connect_args", connect_args)
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, *, in_memory: bool, lock_wait_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below (pysqlite's own
        # implicit BEGIN is DEFERRED, which lets two writers read the same balance).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute(f"PRAGMA busy_timeout = {int(lock_wait_ms)}")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # A read-only unit of work reads a WAL snapshot and never waits for a writer; every
        # other one takes the write lock first, so nothing reads a balance it then spends.
        if connection.get_execution_options().get(READ_ONLY):
            connection.exec_driver_sql("BEGIN")
        else:
            connection.exec_driver_sql("BEGIN IMMEDIATE")


READ_ONLY = "ledger_read_only"


class Database:
    """The ledger's database: an engine and the transactions the services run in."""

    def __init__(self, url_or_engine: str | Engine, **engine_options: Any) -> None:
        self._lock_wait_seconds = engine_options.get("lock_wait_ms", BOT_LOCK_WAIT_MS) / 1000
        # SQLite's busy handler is not fair: a writer backs off with growing sleeps while newer
        # writers take the lock in between, so under load one request could wait past Slack's
        # deadline although each transaction holds the lock for milliseconds. Writers of this
        # process queue here instead (first come, first served by the OS); SQLite's busy
        # timeout then only arbitrates between processes.
        self._sqlite_writers = threading.RLock()
        self.engine = (
            make_engine(url_or_engine, **engine_options)
            if isinstance(url_or_engine, str)
            else url_or_engine
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._read_sessions = sessionmaker(
            self.engine.execution_options(**{READ_ONLY: True}), expire_on_commit=False
        )

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self, *, read_only: bool = False) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error, maps outages.

        ``read_only`` promises no writes; on SQLite it then does not wait for the write lock.
        """
        sessions = self._read_sessions if read_only else self._sessions
        queued = not read_only and self.dialect == "sqlite"
        if queued and not self._sqlite_writers.acquire(timeout=self._lock_wait_seconds):
            raise Unavailable(
                f"database is locked: waited {self._lock_wait_seconds:g} s behind this"
                " process's other writers"
            )
        try:
            with sessions.begin() as session:
                yield session
        except OperationalError as exc:
            if _is_outage(exc):
                raise Unavailable(str(exc.orig)) from exc
            raise
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise Unavailable(str(exc.orig)) from exc
            raise
        finally:
            if queued:
                self._sqlite_writers.release()

    def ping(self) -> bool:
        try:
            with self.engine.execution_options(**{READ_ONLY: True}).connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def is_locking_protocol(exc: BaseException) -> bool:
    """SQLite's SQLITE_PROTOCOL: a WAL lock lost a race many times over; the statement did nothing.

    SQLite returns it when a connection could not take a WAL index lock after about a hundred
    tries (some ten seconds of back-off), which a machine whose cores are all busy can cause.
    The transaction was not committed, so trying the whole unit of work again is safe.
    """
    orig = getattr(exc, "orig", exc)
    return isinstance(orig, sqlite3.OperationalError) and "locking protocol" in str(orig)


T = TypeVar("T")


def retrying_locking_protocol(work: Callable[[], T], *, attempts: int, backoff: float) -> T:
    """``work()``, run again (up to ``attempts`` in all, ``backoff`` x n seconds apart) while
    SQLite refuses it with "locking protocol"; any other error, or the last refusal, propagates.

    ``work`` must be one whole unit of work: the refused try committed nothing.
    """
    for attempt in range(1, attempts):
        try:
            return work()
        except OperationalError as exc:
            if not is_locking_protocol(exc):
                raise
            time.sleep(backoff * attempt)
    return work()


def _is_outage(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    if "database is locked" in message or is_locking_protocol(exc):
        return True
    return exc.connection_invalidated or any(
        marker in message
        for marker in (
            "connection",
            "could not connect",
            "server closed",
            "terminating",
            "shutting down",
            "timeout",
            "the database system is",
        )
    )
