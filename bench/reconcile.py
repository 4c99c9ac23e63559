"""How fast `slackbot reconcile` compares the ERP's files with the ledger, SQLite and PostgreSQL.

    .venv/bin/python -m bench.reconcile                       # 100,000 and 1,000,000 rows
    .venv/bin/python -m bench.reconcile --rows 20000
    TEST_DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test .venv/bin/python -m bench.reconcile

ROWS is the two files together: half payments, half invoices. The ledger is loaded with the
same rows by the import (not timed); the ERP's files then differ on one row in a thousand (an
amount, a missing row, an extra one), and the timed part is the service the CLI calls
(``slackbot.erp.reconcile.reconcile``), the report written to /dev/null. PostgreSQL runs when
TEST_DATABASE_URL names a server: a scratch database is created on it and dropped after.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from slackbot.db import Database
from slackbot.erp.imports import import_csv
from slackbot.erp.reconcile import Report, reconcile
from slackbot.migrate import upgrade
from slackbot.settings import normalize_database_url

PARTNERS = ("ACME", "GLOBEX", "INITECH")
PAYMENT_HEADER = "payment_id,partner_id,amount,currency,received_on,reference\n"
INVOICE_HEADER = "invoice_id,partner_id,amount,currency,issued_on,due_on,amount_due\n"


def write_files(folder: Path, rows: int) -> tuple[Path, Path, Path, Path]:
    """The ledger's files, and the ERP's: the same but for one row in a thousand."""
    rng = random.Random(7)
    half = rows // 2
    paths = [folder / name for name in ("p.csv", "i.csv", "erp_p.csv", "erp_i.csv")]
    with (
        paths[0].open("w") as pay,
        paths[1].open("w") as inv,
        paths[2].open("w") as erp_pay,
        paths[3].open("w") as erp_inv,
    ):
        for handle, header in zip(
            (pay, erp_pay, inv, erp_inv), (PAYMENT_HEADER,) * 2 + (INVOICE_HEADER,) * 2, strict=True
        ):
            handle.write(header)
        for n in range(half):
            cents = rng.randint(100, 10_000_000)
            partner = PARTNERS[n % 3]
            line = f"PAY-{n:08d},{partner},{cents / 100:.2f},USD,2026-11-01,wire {n}\n"
            pay.write(line)
            odd = n % 1000
            if odd == 1:
                line = line.replace(f",{cents / 100:.2f},", f",{(cents + 1) / 100:.2f},")
            if odd != 2:
                erp_pay.write(line)
            if odd == 3:
                erp_pay.write(f"PAY-X{n:08d},{partner},1.00,USD,2026-11-01,extra\n")
            due = rng.randint(1, cents)
            dates = "2026-10-01,2026-12-01"
            line = f"INV-{n:08d},{partner},{cents / 100:.2f},USD,{dates},{due / 100:.2f}\n"
            inv.write(line)
            if odd == 4:
                line = line.rsplit(",", 1)[0] + f",{(due - 1) / 100 if due > 1 else 0.01:.2f}\n"
            if odd != 5:
                erp_inv.write(line)
    return paths[0], paths[1], paths[2], paths[3]


@contextmanager
def postgres() -> Iterator[str | None]:
    server = os.environ.get("TEST_DATABASE_URL", "").strip()
    if not server:
        yield None
        return
    admin_url = make_url(normalize_database_url(server))
    name = f"bench_reconcile_{uuid.uuid4().hex[:8]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield admin_url.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def measure(label: str, url: str, rows: int, folder: Path) -> None:
    upgrade(url)
    db = Database(url, lock_wait_ms=30_000)
    pay, inv, erp_pay, erp_inv = write_files(folder, rows)
    import_csv(db, "partners", iter(["partner_id,name\n", *(f"{p},{p}\n" for p in PARTNERS)]))
    started = time.perf_counter()
    for kind, path in (("payments", pay), ("invoices", inv)):
        with path.open("rb") as source:
            import_csv(db, kind, source)
    loaded = time.perf_counter() - started
    with open(os.devnull, "w") as out, erp_pay.open("rb") as p, erp_inv.open("rb") as i:
        report = Report(out)
        started = time.perf_counter()
        summary = reconcile(db, report, payments=p, invoices=i)
        seconds = time.perf_counter() - started
    db.dispose()
    print(
        f"{label:10} {rows:>9,} rows: reconcile {seconds:6.2f} s = {rows / seconds:>9,.0f} rows/s"
        f" ({summary.count:,} differences; the import of the same rows took {loaded:.1f} s)",
        flush=True,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, action="append", help="rows (both files); repeatable")
    args = parser.parse_args()
    sizes = args.rows or [100_000, 1_000_000]
    for rows in sizes:
        with tempfile.TemporaryDirectory() as folder:
            measure("sqlite", f"sqlite:///{folder}/bench.db", rows, Path(folder))
        with postgres() as url, tempfile.TemporaryDirectory() as folder:
            if url is not None:
                measure("postgresql", url, rows, Path(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
