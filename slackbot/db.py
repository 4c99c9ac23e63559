"""Engines and transactions: one unit of work per ``with db.transaction()``, SQLite or PostgreSQL.

SQLite serializes writers with ``BEGIN IMMEDIATE`` (every transaction takes the write lock when it
starts, so two requests cannot both read a balance and then both spend it); PostgreSQL uses row
locks (``SELECT … FOR UPDATE``) taken by the services in a fixed order.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError, OperationalError
from sqlalchemy.orm import Session, sessionmaker

from slackbot.errors import Unavailable
from slackbot.settings import normalize_database_url


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, **kwargs: Any) -> Engine:
    url = normalize_database_url(url)
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        connect_args = {"timeout": 30, "check_same_thread": False}
        engine = create_engine(url, connect_args=connect_args, **kwargs)
        _configure_sqlite(engine, in_memory=parsed.database in (None, "", ":memory:"))
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    # A database that does not answer must fail fast, so the person is told to retry within
    # Slack's 3 seconds instead of the request hanging.
    kwargs.setdefault("connect_args", {"connect_timeout": 2})
    return create_engine(url, **kwargs)


def _configure_sqlite(engine: Engine, *, in_memory: bool) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Hand transaction control to SQLAlchemy's "begin" event below (pysqlite's own
        # implicit BEGIN is DEFERRED, which lets two writers read the same balance).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.execute("PRAGMA busy_timeout = 30000")
        if not in_memory:
            cursor.execute("PRAGMA journal_mode = WAL")
            cursor.execute("PRAGMA synchronous = NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


class Database:
    """The ledger's database: an engine and the transactions the services run in."""

    def __init__(self, url_or_engine: str | Engine) -> None:
        self.engine = (
            make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
        )
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Session]:
        """One unit of work: commits on success, rolls back on any error, maps outages."""
        try:
            with self._sessions.begin() as session:
                yield session
        except OperationalError as exc:
            if _is_outage(exc):
                raise Unavailable(str(exc.orig)) from exc
            raise
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise Unavailable(str(exc.orig)) from exc
            raise

    def ping(self) -> bool:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    def dispose(self) -> None:
        self.engine.dispose()


def _is_outage(exc: OperationalError) -> bool:
    message = str(exc.orig).lower()
    if "database is locked" in message:
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
