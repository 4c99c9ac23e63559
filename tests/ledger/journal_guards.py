"""Writing past the journal's balance triggers, as someone editing the database by hand would.

The books check must still catch what such a person leaves behind; these helpers let a test
store that damage. PostgreSQL disables the constraint trigger for the transaction's statements;
SQLite (which cannot disable a trigger) drops and recreates them inside the same transaction.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import text
from sqlalchemy.orm import Session

from slackbot.db import Database

PG_TRIGGERS = (
    ("journal_lines", "journal_lines_balanced"),
    ("journal_entries", "journal_entries_balanced"),
)


@contextmanager
def without_journal_guards(session: Session) -> Iterator[None]:
    """Inside a transaction: statements run in the block are not checked for balance."""
    if session.get_bind().dialect.name == "sqlite":
        triggers = session.execute(
            text(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger'"
                " AND tbl_name IN ('journal_lines', 'journal_entries')"
            )
        ).all()
        for name, _ in triggers:
            session.execute(text(f"DROP TRIGGER {name}"))
        yield
        for _, sql in triggers:
            session.execute(text(sql))
        return
    for table, name in PG_TRIGGERS:
        session.execute(text(f"ALTER TABLE {table} DISABLE TRIGGER {name}"))
    yield
    for table, name in PG_TRIGGERS:
        session.execute(text(f"ALTER TABLE {table} ENABLE TRIGGER {name}"))


def unguarded_sql(db: Database, statement: str) -> None:
    """Run ``statement`` in its own transaction with the journal's triggers out of the way."""
    with db.transaction() as session, without_journal_guards(session):
        session.execute(text(statement))
