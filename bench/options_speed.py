"""Options load and Approve cost: statements, query plans and wall time at 5,000 open invoices.

    python -m bench.options_speed [--database sqlite|postgresql|both] [--invoices 5000]
        [--runs 300] [--approvals 60] [--explain] [--reference TEXT] [--no-approve]
        [--postgres-url URL]

Seeds a throwaway ledger (a SQLite file in a temporary directory, a PostgreSQL database created
on --postgres-url and dropped afterwards) with one partner holding ``--invoices`` open USD
invoices, a second partner holding as many (so the partner's index range matters), and a
payment whose reference names two of them and whose amount equals three invoices' open amount.
Then it measures:

- ``search_open_invoices`` as the options load calls it (nothing typed; a typed id fragment;
  a typed amount): the median, p95 and statements per call;
- ``--explain``: each SELECT the empty-query load issues, under EXPLAIN (ANALYZE, BUFFERS) on
  PostgreSQL (its execution time, the median of 50 runs) and EXPLAIN QUERY PLAN on SQLite;
- Approve of one-line and of three-line requests: statements per call (a
  ``before_cursor_execute`` listener on the engine) and the median wall time.
"""

from __future__ import annotations

import argparse
import datetime as dt
import functools
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, event, insert  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from models.schemas import Actor  # noqa: E402
from models.tables import Invoice, Partner, PartnerMember, Payment  # noqa: E402
from slackbot.db import Database  # noqa: E402
from slackbot.ledger import Ledger  # noqa: E402
from slackbot.migrate import upgrade  # noqa: E402
from slackbot.settings import normalize_database_url  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DAY = dt.date(2026, 11, 24)
APPROVER = Actor(user_id="B1", can_approve=True)
# The payment the options load is for: 1,234.56 left, and its reference names two invoices.
EXACT = 123_456
NAMED = ("INV-00042", "INV-04711")


# ------------------------------------------------------------------------------------ ledgers


@contextmanager
def throwaway(database: str, postgres_url: str) -> Iterator[Database]:
    """A migrated, empty ledger that is removed afterwards."""
    if database == "sqlite":
        with tempfile.TemporaryDirectory(prefix="options-speed-") as folder:
            url = f"sqlite:///{folder}/ledger.db"
            upgrade(url)
            db = Database(url)
            try:
                yield db
            finally:
                db.dispose()
        return
    url, drop = _postgres_database(postgres_url)
    try:
        upgrade(url)
        db = Database(url)
        try:
            yield db
        finally:
            db.dispose()
    finally:
        drop()


def _postgres_database(server_url: str) -> tuple[str, Callable[[], None]]:
    """A new, empty database on the server and the function that drops it."""
    admin_url = make_url(normalize_database_url(server_url))
    name = f"slackbot_options_speed_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')

    def drop() -> None:
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def seed(db: Database, invoices: int, rng: random.Random, reference: str = "") -> None:
    """P1 (member U1) and P2 with ``invoices`` open USD invoices each; PAY-1 and PAY-BIG of P1."""
    with db.transaction() as session:
        session.execute(insert(Partner), [{"partner_id": p, "name": p} for p in ("P1", "P2")])
        session.execute(insert(PartnerMember), [{"partner_id": "P1", "slack_user_id": "U1"}])
        session.execute(
            insert(Payment),
            [
                _payment("PAY-1", EXACT, reference or "Remittance for " + " and ".join(NAMED)),
                _payment("PAY-BIG", 10**12, "bulk"),
            ],
        )
        for partner, prefix in (("P1", "INV"), ("P2", "P2-INV")):
            rows = []
            for k in range(1, invoices + 1):
                amount = EXACT if k in (100, 2500, 4000) else rng.randrange(10_000, 5_000_000)
                issued = DAY - dt.timedelta(days=rng.randrange(0, 400))
                rows.append(
                    {
                        "invoice_id": f"{prefix}-{k:05d}",
                        "partner_id": partner,
                        "currency": "USD",
                        "exponent": 2,
                        "amount": amount,
                        "opening_due": amount,
                        "applied": 0,
                        "pending": 0,
                        "issued_on": issued,
                        "due_on": issued + dt.timedelta(days=30),
                    }
                )
            session.execute(insert(Invoice), rows)
    if db.dialect == "postgresql":
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")
            connection.commit()
    else:
        with db.engine.connect() as connection:
            connection.exec_driver_sql("ANALYZE")


def _payment(payment_id: str, amount: int, reference: str) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "partner_id": "P1",
        "currency": "USD",
        "exponent": 2,
        "amount": amount,
        "allocated": 0,
        "pending": 0,
        "received_on": DAY,
        "reference": reference,
    }


# --------------------------------------------------------------------------------- measuring


class StatementLog:
    """Every statement the engine sends while ``recording`` (SQL text and parameters)."""

    def __init__(self, db: Database) -> None:
        self.statements: list[tuple[str, Any]] = []
        self.recording = False
        event.listen(db.engine, "before_cursor_execute", self._seen)

    def _seen(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if self.recording:
            self.statements.append((statement, parameters))

    @contextmanager
    def record(self) -> Iterator[list[tuple[str, Any]]]:
        self.statements = []
        self.recording = True
        try:
            yield self.statements
        finally:
            self.recording = False


def timed(call: Callable[[], object], runs: int, warmup: int = 5) -> list[float]:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        call()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def shown(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.95))]
    return f"median {statistics.median(ordered):.2f} ms, p95 {p95:.2f} ms (n={len(ordered)})"


def measure_search(db: Database, log: StatementLog, runs: int, explain: bool) -> list[str]:
    ledger = Ledger(db)
    out: list[str] = []
    typings = (("nothing typed", ""), ("typed '4711'", "4711"), ("typed amount", "1234.56"))
    for label, typed in typings:
        with log.record() as statements:
            found = ledger.search_open_invoices("U1", "PAY-1", typed)
        count = len(statements)
        samples = timed(functools.partial(ledger.search_open_invoices, "U1", "PAY-1", typed), runs)
        first = [i.invoice_id for i in found[:6]]
        out.append(f"search ({label}): {shown(samples)}, {count} statements, first {first}")
    if explain:
        with log.record() as statements:
            ledger.search_open_invoices("U1", "PAY-1", "")
        selects = [(s, p) for s, p in statements if "FROM invoices" in s]
        for statement, parameters in selects:
            out.extend(explain_one(db, statement, parameters))
    return out


def explain_one(db: Database, statement: str, parameters: Any) -> list[str]:
    one_line = " ".join(statement.split())
    out = [f"  SQL: {one_line[:400]}"]
    with db.engine.connect() as connection:
        if db.dialect == "sqlite":
            rows = connection.exec_driver_sql("EXPLAIN QUERY PLAN " + statement, parameters).all()
            out.extend(f"    {row[-1]}" for row in rows)
            return out
        plan = connection.exec_driver_sql(
            "EXPLAIN (ANALYZE, BUFFERS) " + statement, parameters
        ).all()
        out.extend(f"    {row[0]}" for row in plan)
        times = []
        for _ in range(50):
            rows = connection.exec_driver_sql("EXPLAIN (ANALYZE) " + statement, parameters).all()
            last = rows[-1][0]  # "Execution Time: 0.123 ms"
            times.append(float(last.split(":")[1].split()[0]))
        out.append(f"    execution time, median of 50: {statistics.median(times):.3f} ms")
        connection.rollback()
    return out


def measure_approve(db: Database, log: StatementLog, approvals: int) -> list[str]:
    ledger = Ledger(db)
    out: list[str] = []
    for lines in (1, 3):
        requests = []
        for k in range(approvals + 5):
            base = 200 + (k * lines) + (0 if lines == 1 else 1000)
            invoice_ids = [f"INV-{base + j:05d}" for j in range(lines)]
            requested = ledger.request_lines("U1", "PAY-BIG", [(i, 100) for i in invoice_ids])
            requests.append(requested.allocation_id)
        for allocation_id in requests[:5]:
            ledger.approve(allocation_id, APPROVER)  # warm-up
        counts: list[int] = []
        samples: list[float] = []
        for allocation_id in requests[5:]:
            with log.record() as statements:
                start = time.perf_counter()
                ledger.approve(allocation_id, APPROVER)
                samples.append((time.perf_counter() - start) * 1000)
            counts.append(len(statements))
        kinds = " ".join(sorted({s.split()[0].upper() for s, _ in statements}))
        out.append(
            f"approve ({lines}-line request): {shown(samples)},"
            f" statements {min(counts)}-{max(counts)} ({kinds})"
        )
        if lines == 1:
            out.extend(f"    {' '.join(s.split())[:160]}" for s, _ in statements)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--invoices", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--approvals", type=int, default=60)
    parser.add_argument("--explain", action="store_true")
    parser.add_argument(
        "--reference", default="", help="PAY-1's reference (default: names INV-00042, INV-04711)"
    )
    parser.add_argument("--no-approve", action="store_true", help="time the options load only")
    parser.add_argument(
        "--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    args = parser.parse_args(argv)
    databases = ("sqlite", "postgresql") if args.database == "both" else (args.database,)
    for database in databases:
        with throwaway(database, args.postgres_url) as db:
            seed(db, args.invoices, random.Random(16), args.reference)
            log = StatementLog(db)
            print(f"== {database}, {args.invoices} open invoices of the partner")
            for line in measure_search(db, log, args.runs, args.explain):
                print(line)
            if not args.no_approve:
                for line in measure_approve(db, log, args.approvals):
                    print(line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
