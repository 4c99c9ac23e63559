"""A temporary table of one transaction: the import's stage (:mod:`slackbot.erp.staging`) and the
files ``import applied`` and ``reconcile`` compare.

Rows go in by ``COPY`` on PostgreSQL and the driver's ``executemany`` on SQLite (no ORM, no
per-row statement); the table lives in the transaction (``ON COMMIT DROP`` on PostgreSQL,
dropped by :meth:`TempTable.close` on SQLite) and is named without a schema, which both
databases resolve to the temporary one first. The acknowledgements import and ``reconcile``
compare files with the ledger through it, in SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection


def run_sql(driver: Any, sql: str) -> None:
    """One statement on the raw driver connection (the import's own transaction)."""
    cursor = driver.cursor()
    try:
        cursor.execute(sql)
    finally:
        cursor.close()


class TempTable:
    """``name (columns...)``: each column ``(name, PostgreSQL type)``; SQLite takes any value."""

    def __init__(
        self, connection: Connection, name: str, columns: Sequence[tuple[str, str]]
    ) -> None:
        self.name = name
        self.postgres = connection.dialect.name == "postgresql"
        self.driver: Any = connection.connection.driver_connection
        self.rows = 0
        if self.postgres:
            spec = ", ".join(f"{column} {kind}" for column, kind in columns)
            self.execute(f"CREATE TEMP TABLE {name} ({spec}) ON COMMIT DROP")
        else:
            self.execute(f"DROP TABLE IF EXISTS temp.{name}")
            spec = ", ".join(column for column, _ in columns)
            self.execute(f"CREATE TEMP TABLE {name} ({spec})")
        self._insert = f"INSERT INTO temp.{name} VALUES ({', '.join('?' * len(columns))})"

    def execute(self, sql: str) -> None:
        run_sql(self.driver, sql)

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Add rows, each a tuple in the columns' order."""
        if not rows:
            return
        self.rows += len(rows)
        if not self.postgres:
            self.driver.executemany(self._insert, rows)
            return
        with (
            self.driver.cursor() as cursor,
            cursor.copy(f"COPY {self.name} FROM STDIN") as copy,
        ):
            write_row = copy.write_row
            for row in rows:
                write_row(row)

    def index(self, *columns: str) -> None:
        """An index for the comparisons to come (and fresh statistics on PostgreSQL)."""
        listed = ", ".join(columns)
        self.execute(f"CREATE INDEX {self.name}_{'_'.join(columns)} ON {self.name} ({listed})")
        if self.postgres:
            self.execute(f"ANALYZE {self.name}")

    def close(self) -> None:
        if not self.postgres:
            self.execute(f"DROP TABLE IF EXISTS temp.{self.name}")
