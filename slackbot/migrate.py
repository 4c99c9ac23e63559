"""Bringing the schema up to date with the Alembic migrations shipped inside the package."""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from slackbot.db import make_engine

# Any constant shared by every instance: PostgreSQL serializes migrations on this advisory lock.
MIGRATION_LOCK_ID = 0x5107B07


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", "slackbot:migrations")
    config.attributes["engine"] = engine
    return config


def upgrade(url_or_engine: str | Engine, revision: str = "head") -> None:
    """Apply every pending migration. Safe to run again, and from several processes at once."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    try:
        command.upgrade(alembic_config(engine), revision)
    finally:
        if isinstance(url_or_engine, str):
            engine.dispose()


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()
