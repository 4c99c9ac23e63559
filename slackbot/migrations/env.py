"""Alembic's entry point: runs migrations on the engine ``slackbot.migrate`` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from models import Base
from slackbot.migrate import MIGRATION_LOCK_ID

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection, connection.begin():
    if connection.dialect.name == "postgresql":
        # Two instances starting at once: the second waits here, then finds nothing to do.
        connection.execute(text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID})
    # On SQLite the BEGIN IMMEDIATE of slackbot.db serializes the same way.
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    context.run_migrations()
