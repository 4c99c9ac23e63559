"""Payments and invoices imported set-based: checked rows staged, compared and upserted in SQL.

An import of a money file streams its checked rows into a temporary table of the import's own
transaction (``COPY`` on PostgreSQL, the driver's ``executemany`` on SQLite: no ORM, no
per-row statements), then asks the database, one statement each, how many rows exist, which
would change (locked on PostgreSQL until commit, so no allocation slips in between the check
and the write), which of those might break what allocations hold (the few candidates the ledger's
rules in :mod:`slackbot.ledger.rules` then judge in Python), and finally writes the new and
changed rows: a plain ``INSERT ... SELECT`` of the new ones, an ``INSERT ... SELECT ... ON CONFLICT
DO UPDATE`` of the changed ones. Unchanged rows are never written, nor locked, so a re-import of
the same file is a read. The temporary table lives and dies
with the transaction: a rejected file leaves nothing behind.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from slackbot.erp.temp_table import TempTable, run_sql

# The stage's name; one import runs per transaction, so one name is enough.
STAGE = "import_stage"
# What the ERP has booked of each invoice from allocations made here: the allocations it
# acknowledged (``slackbot import applied``) less those whose reversal it acknowledged too.
BOOKED_BY_INVOICE = (
    "SELECT a.invoice_id AS invoice_id, SUM(a.amount) AS booked"
    " FROM erp_allocations e JOIN allocations a ON a.allocation_id = e.allocation_id"
    " WHERE e.acknowledged_at IS NOT NULL AND e.reversal_acknowledged_at IS NULL"
    " GROUP BY a.invoice_id"
)


@dataclass(frozen=True)
class MoneyTable:
    """What staging needs to know of ``payments`` or ``invoices``."""

    table: str
    key: str
    # The columns the file controls, in stage order (the key first, then partner_id, currency).
    columns: tuple[str, ...]
    # SQL types of ``columns`` in the stage (PostgreSQL; SQLite stores what it is given).
    types: tuple[str, ...]
    # Balances kept here, starting at 0 on insert: (settled, pending).
    held: tuple[str, str]
    # The column the held balances must fit in.
    limit: str

    @property
    def compared(self) -> tuple[str, ...]:
        return self.columns[1:]


PAYMENTS = MoneyTable(
    table="payments",
    key="payment_id",
    columns=(
        "payment_id",
        "partner_id",
        "currency",
        "exponent",
        "amount",
        "received_on",
        "reference",
    ),
    types=("text", "text", "text", "integer", "bigint", "date", "text"),
    held=("allocated", "pending"),
    limit="amount",
)
INVOICES = MoneyTable(
    table="invoices",
    key="invoice_id",
    columns=(
        "invoice_id",
        "partner_id",
        "currency",
        "exponent",
        "amount",
        "opening_due",
        "issued_on",
        "due_on",
    ),
    types=("text", "text", "text", "integer", "bigint", "bigint", "date", "date"),
    held=("applied", "pending"),
    limit="opening_due",
)


@dataclass(frozen=True)
class Candidate:
    """A staged row that may break what allocations hold: its line, the file's and the stored."""

    line: int
    new: dict[str, Any]
    old: dict[str, Any]


class Stage:
    """The temporary table of one import's checked rows, and the set-based steps over it.

    Rows are tuples ``(line, *MoneyTable.columns)``, dates as ISO strings.
    """

    # SQLite's page cache for the import's transaction (KiB, as PRAGMA cache_size takes it
    # negative): a million rows' table and indexes stay in memory while they are compared.
    SQLITE_CACHE_KIB = 256 * 1024

    def __init__(self, connection: Connection, money: MoneyTable) -> None:
        self.connection = connection
        self.money = money
        self.postgres = connection.dialect.name == "postgresql"
        self.driver: Any = connection.connection.driver_connection
        self._old_cache: int | None = None
        if not self.postgres:
            self._old_cache = int(self._scalar("PRAGMA cache_size"))
            self._execute(f"PRAGMA cache_size = -{self.SQLITE_CACHE_KIB}")
        columns = [("line", "integer NOT NULL"), *zip(money.columns, money.types, strict=True)]
        self.table = TempTable(connection, STAGE, columns)

    @property
    def rows(self) -> int:
        """How many rows were staged."""
        return self.table.rows

    def _execute(self, sql: str) -> None:
        run_sql(self.driver, sql)

    def _scalar(self, sql: str) -> Any:
        return self._all(sql)[0][0]

    def _all(self, sql: str) -> list[tuple[Any, ...]]:
        cursor = self.driver.cursor()
        try:
            cursor.execute(sql)
            return list(cursor.fetchall())
        finally:
            cursor.close()

    def write(self, rows: Sequence[tuple[Any, ...]]) -> None:
        """Add checked rows to the stage (COPY on PostgreSQL, executemany on SQLite)."""
        self.table.write(rows)

    def _changed(self, stored: str = "t", staged: str = "s") -> str:
        return " OR ".join(f"{stored}.{name} <> {staged}.{name}" for name in self.money.compared)

    def compare(self) -> tuple[int, list[Any]]:
        """How many staged rows are stored already, and the keys of those the file changes.

        On PostgreSQL the rows to change are locked until the import commits.
        """
        money = self.money
        if self.postgres:
            self._execute(f"ANALYZE {STAGE}")
        join = f"FROM temp.{STAGE} s JOIN {money.table} t ON t.{money.key} = s.{money.key}"
        if self.postgres:
            join = join.replace("temp.", "")
        existing = int(self._scalar(f"SELECT count(*) {join}"))
        if not existing:
            return 0, []
        lock = f" ORDER BY t.{money.key} FOR UPDATE OF t" if self.postgres else ""
        changed = [
            row[0]
            for row in self._all(f"SELECT t.{money.key} {join} WHERE {self._changed()}{lock}")
        ]
        return existing, changed

    def fold_booked(self) -> list[tuple[Any, ...]]:
        """An invoices file whose amount_due already counts what the ERP booked of this bot's
        allocations: each staged opening_due becomes amount_due + booked, so the allocations
        are counted once. Returns the rows it cannot fold, as ``(line, invoice_id, currency,
        exponent, amount, amount_due, booked)``: amount_due + booked over the invoice's amount
        (the ERP's figure then counts something else); nothing is changed when there are any."""
        stage = STAGE if self.postgres else f"temp.{STAGE}"
        booked = f"JOIN ({BOOKED_BY_INVOICE}) b ON b.invoice_id = s.invoice_id"
        over = self._all(
            "SELECT s.line, s.invoice_id, s.currency, s.exponent, s.amount, s.opening_due,"
            f" b.booked FROM {stage} s {booked} WHERE s.opening_due + b.booked > s.amount"
            " ORDER BY s.line"
        )
        if not over:
            self._execute(
                f"UPDATE {stage} SET opening_due = opening_due + b.booked"
                f" FROM ({BOOKED_BY_INVOICE}) b WHERE b.invoice_id = {STAGE}.invoice_id"
            )
        return over

    def candidates(self, *, exported_amount_due: bool) -> list[Candidate]:
        """Staged rows over stored ones that might break what allocations hold: a new partner or
        currency, a limit below what is held, or (an exported invoices file) a new amount due
        over one that allocations here have paid part of."""
        money = self.money
        settled, pending = money.held
        stored: tuple[str, ...] = (money.key, "partner_id", "currency", settled, pending)
        if money.table == "invoices":
            stored = (*stored, "opening_due")
        new = ("partner_id", "currency", money.limit)
        conditions = [
            "t.partner_id <> s.partner_id",
            "t.currency <> s.currency",
            f"s.{money.limit} < t.{settled} + t.{pending}",
        ]
        if exported_amount_due:
            conditions.append(f"(t.{settled} > 0 AND s.opening_due <> t.opening_due)")
        selected = ", ".join(
            ["s.line", *(f"s.{name}" for name in new), *(f"t.{name}" for name in stored)]
        )
        stage = STAGE if self.postgres else f"temp.{STAGE}"
        rows = self._all(
            f"SELECT {selected} FROM {stage} s JOIN {money.table} t"
            f" ON t.{money.key} = s.{money.key} WHERE {' OR '.join(conditions)} ORDER BY s.line"
        )
        found = []
        for row in rows:
            found.append(
                Candidate(
                    line=row[0],
                    new=dict(zip(new, row[1:4], strict=True)),
                    old=dict(zip(stored, row[4:], strict=True)),
                )
            )
        return found

    def upsert(self, *, new: bool, changed: bool) -> None:
        """Write the ``new`` rows (a plain insert: no speculative one per row), then the
        ``changed`` ones; unchanged rows are neither written nor locked."""
        money = self.money
        names = ", ".join(money.columns)
        staged = ", ".join(f"s.{name}" for name in money.columns)
        settled, pending = money.held
        stage = STAGE if self.postgres else f"temp.{STAGE}"
        into = f"INSERT INTO {money.table} ({names}, {settled}, {pending}) SELECT {staged}, 0, 0"
        if new:
            self._execute(
                f"{into} FROM {stage} s WHERE NOT EXISTS"
                f" (SELECT 1 FROM {money.table} t WHERE t.{money.key} = s.{money.key})"
            )
        if changed:
            assigned = ", ".join(f"{name} = excluded.{name}" for name in money.compared)
            self._execute(
                f"{into} FROM {stage} s JOIN {money.table} t ON t.{money.key} = s.{money.key}"
                f" WHERE {self._changed()} ON CONFLICT ({money.key}) DO UPDATE SET {assigned}"
            )

    def close(self) -> None:
        """Drop the stage (PostgreSQL drops it at commit) and give SQLite its cache size back."""
        if self.postgres:
            return
        self.table.close()
        if self._old_cache is not None:
            self._execute(f"PRAGMA cache_size = {self._old_cache}")
