"""Bringing the schema up to date with the Alembic migrations shipped inside the package."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from slackbot.db import make_engine, retrying_locking_protocol

# Any constant shared by every instance: PostgreSQL serializes migrations on this advisory lock.
MIGRATION_LOCK_ID = 0x5107B07
# Attempts at a migration that SQLite refused with "locking protocol" (a transient condition).
PROTOCOL_RETRIES = 5


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "slackbot:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Apply every pending migration. Safe to run again, and from several processes at once.

    SQLite's "locking protocol" (SQLITE_PROTOCOL: another connection was resetting the WAL
    index at that instant) is retried a few times: the failed migration's transaction was
    rolled back, and the next attempt starts from the revision actually recorded.
    """
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        retrying_locking_protocol(
            lambda: command.upgrade(alembic_config(engine), revision),
            attempts=PROTOCOL_RETRIES,
            backoff=0.1,
        )
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
