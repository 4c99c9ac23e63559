"""Alembic's entry point: runs migrations on the engine ``slackbot.migrate`` hands it."""

from __future__ import annotations

from alembic import context
from sqlalchemy import text

from models import Base
from slackbot.migrate import MIGRATION_LOCK_ID

config = context.config
engine = config.attributes["engine"]

with engine.connect() as connection:
    sqlite = connection.dialect.name == "sqlite"
    if sqlite:
        # A batch rebuild (copy, drop, rename) of a table others reference would break their
        # foreign keys while SQLite enforces them, and the pragma cannot change inside a
        # transaction: so off before it begins, checked before it commits, on again after.
        connection.connection.driver_connection.execute("PRAGMA foreign_keys = OFF")
    try:
        with connection.begin():
            if connection.dialect.name == "postgresql":
                # Two instances starting at once: the second waits here, then finds nothing to do.
                connection.execute(
                    text("SELECT pg_advisory_xact_lock(:id)"), {"id": MIGRATION_LOCK_ID}
                )
            # On SQLite the BEGIN IMMEDIATE of slackbot.db serializes the same way.
            context.configure(
                connection=connection,
                target_metadata=Base.metadata,
                render_as_batch=sqlite,
                compare_type=True,
            )
            context.run_migrations()
            if sqlite:
                broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
                if broken:
                    raise RuntimeError(f"a migration left references to nothing: {broken[:5]}")
    finally:
        if sqlite:
            connection.connection.driver_connection.execute("PRAGMA foreign_keys = ON")
