"""`python -m bench.imports`: rows/s of `slackbot import payments|invoices`, first time and again.

    python -m bench.imports                              # 100,000 rows, SQLite and PostgreSQL
    python -m bench.imports --rows 1000000 --kinds payments
    python -m bench.imports --databases sqlite --json imports.json

Each run generates the CSV files once, then for each database and kind: imports them into a
fresh, migrated ledger (the first import: every row inserted), imports the same file again (every
row unchanged: the re-import an ERP's nightly job does), then a copy where one row in ten has a
new amount (updates). Rows go through the service the CLI calls (``import_csv``), checks,
all-or-nothing transaction and audit included; start-up and the schema check are not timed.

SQLite runs in a file in a temporary folder (WAL, ``synchronous=NORMAL``, as the bot runs it).
PostgreSQL runs in a throwaway database (``slackbot_bench_imports_<pid>_<hex>``) created on
--postgres-url (``BENCH_POSTGRES_URL``, else ``TEST_DATABASE_URL``, else the local server) and
dropped afterwards, as tests/conftest.py does for the tests.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from slackbot.db import CLI_LOCK_WAIT_MS, Database  # noqa: E402
from slackbot.erp.imports import ImportResult, import_csv  # noqa: E402
from slackbot.migrate import upgrade  # noqa: E402
from slackbot.settings import normalize_database_url  # noqa: E402

# Issue 16's targets (rows per second, first import and re-import alike).
TARGETS = {"sqlite": 100_000, "postgresql": 50_000}
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
PARTNERS = 1_000
CURRENCIES = (("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3))
KINDS = ("payments", "invoices")
HEADERS = {
    "payments": ("payment_id", "partner_id", "amount", "currency", "received_on", "reference"),
    "invoices": (
        "invoice_id",
        "partner_id",
        "amount",
        "currency",
        "issued_on",
        "due_on",
        "amount_due",
    ),
}


@dataclass(frozen=True)
class Measurement:
    database: str
    kind: str
    run: str  # "first", "again", "changed"
    rows: int
    seconds: float
    inserted: int
    updated: int
    unchanged: int

    @property
    def rate(self) -> float:
        return self.rows / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        target = TARGETS.get(self.database, 0)
        verdict = ""
        if target:
            verdict = f"  {self.rate / target:.2f}x the {target:,} rows/s target"
        return (
            f"{self.database:<10} {self.kind:<8} {self.run:<8} {self.rows:>10,} rows"
            f" {self.seconds:8.2f} s {self.rate:>11,.0f} rows/s"
            f"  (+{self.inserted:,} ~{self.updated:,} ={self.unchanged:,}){verdict}"
        )


def _amount(rng: random.Random, exponent: int) -> str:
    minor = rng.randint(100, 10_000_000)
    return str(minor) if exponent == 0 else f"{minor / 10**exponent:.{exponent}f}"


def write_files(folder: Path, rows: int, seed: int = 16) -> dict[str, Path]:
    """partners.csv, and payments/invoices of ``rows`` rows each, plus ``*-changed.csv``."""
    rng = random.Random(seed)
    start = dt.date(2026, 1, 1)
    paths = {"partners": folder / "partners.csv"}
    with paths["partners"].open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["partner_id", "name"])
        writer.writerows([f"P-{n:05d}", f"Partner {n} Ltd."] for n in range(PARTNERS))
    for kind in KINDS:
        paths[kind] = folder / f"{kind}.csv"
        paths[f"{kind}-changed"] = folder / f"{kind}-changed.csv"
        prefix = "PAY" if kind == "payments" else "INV"
        with (
            paths[kind].open("w", newline="", encoding="utf-8") as same,
            paths[f"{kind}-changed"].open("w", newline="", encoding="utf-8") as changed,
        ):
            writers = csv.writer(same), csv.writer(changed)
            for writer in writers:
                writer.writerow(HEADERS[kind])
            for n in range(rows):
                currency, exponent = CURRENCIES[n % len(CURRENCIES)]
                partner = f"P-{rng.randrange(PARTNERS):05d}"
                day = start + dt.timedelta(days=rng.randrange(365))
                amount = _amount(rng, exponent)
                if kind == "payments":
                    row = [f"{prefix}-{n:08d}", partner, amount, currency, day.isoformat()]
                    row.append(f"wire {rng.randrange(10**9):09d}")
                else:
                    due = (day + dt.timedelta(days=30)).isoformat()
                    row = [f"{prefix}-{n:08d}", partner, amount, currency, day.isoformat(), due]
                    row.append(amount if n % 3 else "")
                writers[0].writerow(row)
                if n % 10 == 0:
                    row = list(row)
                    row[2] = _amount(rng, exponent)
                    if kind == "invoices":
                        row[6] = ""
                writers[1].writerow(row)
    return paths


@contextmanager
def ledger(database: str, folder: Path, postgres_url: str) -> Iterator[Database]:
    """A fresh, migrated ledger on ``database``, gone afterwards."""
    if database == "sqlite":
        path = folder / f"ledger-{time.monotonic_ns()}.db"
        db = Database(f"sqlite:///{path}", lock_wait_ms=CLI_LOCK_WAIT_MS)
        upgrade(db.engine)
        try:
            yield db
        finally:
            db.dispose()
            for leftover in folder.glob(path.name + "*"):
                leftover.unlink()
        return
    admin_url = make_url(normalize_database_url(postgres_url))
    name = f"slackbot_bench_imports_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    db = Database(
        admin_url.set(database=name).render_as_string(hide_password=False),
        lock_wait_ms=CLI_LOCK_WAIT_MS,
    )
    try:
        upgrade(db.engine)
        yield db
    finally:
        db.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def timed_import(db: Database, kind: str, path: Path) -> tuple[float, ImportResult]:
    with path.open("rb") as source:
        began = time.perf_counter()
        result = import_csv(db, kind, source, source_name=str(path))
        return time.perf_counter() - began, result


def measure(
    database: str,
    kinds: tuple[str, ...],
    paths: dict[str, Path],
    folder: Path,
    postgres_url: str,
    say: Callable[[str], None] = print,
) -> list[Measurement]:
    found: list[Measurement] = []
    for kind in kinds:
        with ledger(database, folder, postgres_url) as db:
            timed_import(db, "partners", paths["partners"])
            for run, path in (
                ("first", paths[kind]),
                ("again", paths[kind]),
                ("changed", paths[f"{kind}-changed"]),
            ):
                seconds, result = timed_import(db, kind, path)
                measurement = Measurement(
                    database,
                    kind,
                    run,
                    result.rows_read,
                    seconds,
                    result.inserted,
                    result.updated,
                    result.unchanged,
                )
                say(measurement.line())
                found.append(measurement)
    return found


def run(
    rows: int,
    databases: tuple[str, ...] = ("sqlite", "postgresql"),
    kinds: tuple[str, ...] = KINDS,
    postgres_url: str = "",
    say: Callable[[str], None] = print,
) -> list[Measurement]:
    """Every measurement, printed as it is taken; what bench/suite.py would call."""
    postgres_url = (
        postgres_url
        or os.environ.get("BENCH_POSTGRES_URL", "")
        or os.environ.get("TEST_DATABASE_URL", "")
        or DEFAULT_POSTGRES
    )
    with tempfile.TemporaryDirectory(prefix="slackbot-bench-imports-") as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        paths = write_files(folder, rows)
        size = paths[kinds[0]].stat().st_size
        say(
            f"generated {rows:,} rows per kind ({size / 1e6:.1f} MB of {kinds[0]})"
            f" in {time.perf_counter() - began:.1f} s"
        )
        found: list[Measurement] = []
        for database in databases:
            found.extend(measure(database, kinds, paths, folder, postgres_url, say))
        return found


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="rows per file (1000000: 1M)")
    parser.add_argument("--databases", default="sqlite,postgresql")
    parser.add_argument("--kinds", default=",".join(KINDS))
    parser.add_argument("--postgres-url", default="", help="server for the throwaway database")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args(argv)
    databases = tuple(name for name in args.databases.split(",") if name)
    kinds = tuple(name for name in args.kinds.split(",") if name)
    unknown = [name for name in databases if name not in TARGETS] + [
        name for name in kinds if name not in KINDS
    ]
    if unknown:
        parser.error(f"unknown database or kind: {', '.join(unknown)}")
    found = run(args.rows, databases, kinds, args.postgres_url)
    if args.json:
        args.json.write_text(
            json.dumps([{**asdict(m), "rows_per_second": round(m.rate)} for m in found], indent=2)
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
