"""How fast `slackbot import payments` loads a large file, against the 20,000 rows/second target.

    .venv/bin/python bench/import_speed.py                 # 100,000 rows into a fresh SQLite
    .venv/bin/python bench/import_speed.py --rows 20000 --cli
    .venv/bin/python bench/import_speed.py --database-url postgresql://postgres@127.0.0.1:5432/x

The rows go through the same service the CLI calls (``slackbot.erp.imports.import_csv``); ``--cli``
also times the real command in a subprocess, start-up and schema check included. A PostgreSQL
URL must name an empty scratch database: the benchmark creates tables and rows in it.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from slackbot.db import Database
from slackbot.erp.imports import import_csv
from slackbot.migrate import upgrade

TARGET_ROWS_PER_SECOND = 20_000
PARTNERS = ("ACME", "GLOBEX", "INITECH", "UMBRELLA", "HOOLI")
CURRENCIES = (("USD", 2), ("EUR", 2), ("JPY", 0), ("KWD", 3))


def write_payments(path: Path, rows: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    start = dt.date(2026, 1, 1)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["payment_id", "partner_id", "amount", "currency", "received_on", "reference"]
        )
        for n in range(rows):
            currency, exponent = rng.choice(CURRENCIES)
            minor = rng.randint(1, 10_000_000)
            amount = str(minor) if exponent == 0 else f"{minor / 10**exponent:.{exponent}f}"
            writer.writerow(
                [
                    f"PAY-{n:08d}",
                    rng.choice(PARTNERS),
                    amount,
                    currency,
                    (start + dt.timedelta(days=rng.randrange(365))).isoformat(),
                    f"wire {rng.randrange(10**9):09d} INV-{rng.randrange(10**6):06d}",
                ]
            )


def write_partners(path: Path) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["partner_id", "name"])
        writer.writerows([partner, partner.title() + " Inc."] for partner in PARTNERS)


def report(label: str, rows: int, seconds: float) -> None:
    rate = rows / seconds
    print(
        f"{label}: {rows} rows in {seconds:.2f} s = {rate:,.0f} rows/s"
        f" ({rate / TARGET_ROWS_PER_SECOND:.2f}x the {TARGET_ROWS_PER_SECOND:,} rows/s target)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--cli", action="store_true", help="also time the CLI in a subprocess")
    parser.add_argument("--database-url", help="an empty scratch database (default: temp SQLite)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="slackbot-bench-") as tmp:
        folder = Path(tmp)
        partners, payments = folder / "partners.csv", folder / "payments.csv"
        write_partners(partners)
        write_payments(payments, args.rows)
        size = payments.stat().st_size
        print(f"generated {args.rows} payments rows ({size / 1e6:.1f} MB) in {payments}")

        url = args.database_url or f"sqlite:///{folder / 'service.db'}"
        db = Database(url)
        upgrade(db.engine)
        with partners.open("rb") as source:
            import_csv(db, "partners", source)
        with payments.open("rb") as source:
            began = time.perf_counter()
            result = import_csv(db, "payments", source, source_name=str(payments))
            seconds = time.perf_counter() - began
        print(result.summary())
        report(f"service ({db.dialect}, first import)", result.rows_read, seconds)

        with payments.open("rb") as source:
            began = time.perf_counter()
            again = import_csv(db, "payments", source)
            seconds = time.perf_counter() - began
        print(again.summary())
        report(f"service ({db.dialect}, same file again)", again.rows_read, seconds)
        db.dispose()

        if args.cli:
            cli_url = f"sqlite:///{folder / 'cli.db'}"
            env = {**os.environ, "DATABASE_URL": cli_url}
            slackbot = [sys.executable, "-c", "from slackbot.cli import main; main()"]
            subprocess.run([*slackbot, "import", "partners", str(partners)], env=env, check=True)
            began = time.perf_counter()
            subprocess.run(
                [*slackbot, "import", "payments", str(payments)], env=env, check=True, cwd=tmp
            )
            report(
                "cli (sqlite, subprocess incl. start-up)", args.rows, time.perf_counter() - began
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
