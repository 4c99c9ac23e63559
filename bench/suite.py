"""`python -m bench`: seed (or reuse) the ledgers, run every measurement, print the table.

    python -m bench                          # SQLite and PostgreSQL, 1,000 and 1,000,000 rows
    python -m bench --database sqlite --rows small --json bench.json
    python -m bench --quick                  # tiny counts, a few requests per path (CI)

Ledgers are kept between runs (SQLite files under --data-dir, PostgreSQL databases named
slackbot_bench_<rows> on --postgres-url) and reused when they hold what was asked for;
--fresh seeds them again. --quick always uses throwaway ledgers.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from sqlalchemy import create_engine, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bench.imports import run as import_speeds  # noqa: E402
from bench.latency import NOT_BUILT, PATHS, Requests, measure  # noqa: E402
from bench.processes import own_peak_rss_mb, start_bot, start_floor  # noqa: E402
from bench.seed import (  # noqa: E402
    BILLING_CHANNEL,
    LARGE,
    SMALL,
    SUBJECTS,
    LedgerSize,
    open_ledger,
    settle_outbox,
    top_up_pending,
)
from bench.throughput import (  # noqa: E402
    ThroughputConfig,
    measure_approvals,
    measure_drain,
)
from slackbot.db import Database  # noqa: E402
from slackbot.ledger.books import check_books  # noqa: E402
from slackbot.settings import normalize_database_url  # noqa: E402
from tests.conftest import create_postgres_database  # noqa: E402
from tests.support.slack_stub import FakeSlack  # noqa: E402

DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
QUICK_SMALL = LedgerSize(partners=4, payments=60, invoices=60, pending=40)
QUICK_LARGE = LedgerSize(partners=8, payments=600, invoices=600, pending=40)


def rows_label(size: LedgerSize) -> str:
    """1k, 1M, 600: the ledger's size as the table's ledger column shows it."""
    n = size.payments
    for unit, scale in (("M", 1_000_000), ("k", 1_000)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return str(n)


@dataclass
class BenchConfig:
    databases: tuple[str, ...] = ("sqlite", "postgresql")
    rows: tuple[str, ...] = ("small", "large")
    samples: int = 200
    warmup: int = 5
    quick: bool = False
    postgres_url: str = field(
        default_factory=lambda: os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    )
    data_dir: Path = field(default_factory=lambda: Path(tempfile.gettempdir()) / "slackbot-bench")
    json_path: Path | None = None
    fresh: bool = False
    # None: the bot's own default (1 message per second per channel, as in production).
    pace_seconds: float | None = None
    throughput: bool = True
    imports: bool = True
    approvers: int = 8
    clicks: int = 1600
    scale_out: tuple[int, ...] = (2, 4)
    drain_messages: int = 300
    drain_window: float = 10.0
    small: LedgerSize = SMALL
    large: LedgerSize = LARGE
    # --quick ledgers are thrown away after the run unless kept (in data_dir, and PostgreSQL
    # databases left for the caller to drop; their URLs are in the report).
    keep_ledgers: bool = False

    @classmethod
    def quick_config(cls, **overrides: Any) -> BenchConfig:
        base = cls(
            quick=True,
            samples=5,
            warmup=2,
            clicks=40,
            scale_out=(2,),
            drain_messages=12,
            drain_window=2.0,
            small=QUICK_SMALL,
            large=QUICK_LARGE,
        )
        return replace(base, **overrides)


@dataclass
class Ledgers:
    """Where each ledger lives, and how to drop the throwaway ones."""

    urls: dict[tuple[str, str], str] = field(default_factory=dict)
    notes: dict[tuple[str, str], str] = field(default_factory=dict)
    drops: list[Callable[[], None]] = field(default_factory=list)

    def close(self) -> None:
        for drop in self.drops:
            drop()


def _size(config: BenchConfig, rows: str) -> LedgerSize:
    return config.small if rows == "small" else config.large


def _postgres_database(config: BenchConfig, rows: str, ledgers: Ledgers) -> str:
    if config.quick:
        url, drop = create_postgres_database(config.postgres_url)
        if not config.keep_ledgers:
            ledgers.drops.append(drop)
        return url
    admin_url = make_url(normalize_database_url(config.postgres_url))
    name = f"slackbot_bench_{rows}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            if config.fresh:
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            exists = connection.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": name}
            )
            if not exists:
                connection.execute(text(f'CREATE DATABASE "{name}"'))
    finally:
        admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False)


def prepare_ledgers(config: BenchConfig, say: Callable[[str], None], workdir: Path) -> Ledgers:
    ledgers = Ledgers()
    for database in config.databases:
        for rows in config.rows:
            if database == "sqlite":
                folder = workdir if config.quick and not config.keep_ledgers else config.data_dir
                folder.mkdir(parents=True, exist_ok=True)
                path = folder / f"bench-{rows}.db"
                if config.fresh and path.exists():
                    for suffix in ("", "-wal", "-shm"):
                        Path(str(path) + suffix).unlink(missing_ok=True)
                url = f"sqlite:///{path}"
            else:
                url = _postgres_database(config, rows, ledgers)
            began = time.perf_counter()
            db, note = open_ledger(url, _size(config, rows), fresh=config.fresh)
            db.dispose()
            note = f"{note} [{time.perf_counter() - began:.1f} s]"
            say(f"{database} {rows}: {note}")
            ledgers.urls[(database, rows)] = url
            ledgers.notes[(database, rows)] = note
    return ledgers


def run_latency(
    config: BenchConfig,
    database: str,
    rows: str,
    url: str,
    slack: FakeSlack,
    floors: dict[str, Any],
    workdir: Path,
    say: Callable[[str], None],
) -> dict[str, Any]:
    size = _size(config, rows)
    db = Database(url)
    settle_outbox(db)
    needed = config.samples + config.warmup
    pending = top_up_pending(db, needed)[:needed]
    bot = start_bot(
        f"bot-{database}-{rows}",
        url,
        slack,
        billing_channel=BILLING_CHANNEL,
        approvers=SUBJECTS.approvers,
        pace_seconds=config.pace_seconds,
        workdir=workdir,
    )
    try:
        say(f"latency: {database}, {size.label()}, {config.samples} samples per path")
        requests = Requests(db, slack, SUBJECTS, run=f"lat-{database}-{rows}")
        started = time.perf_counter()
        results = measure(
            bot,
            floors,
            requests,
            db,
            pending=iter(pending),
            approver=SUBJECTS.approvers[0],
            samples=config.samples,
            warmup=config.warmup,
            progress=say,
        )
        seconds = time.perf_counter() - started
        rss, peak = bot.rss_mb(), bot.peak_rss_mb()
        cpu = (bot.cpu_seconds() or 0.0) - bot.started_cpu
    finally:
        code = bot.stop()
    problems = check_books(db)
    db.dispose()
    return {
        "database": database,
        "rows": rows,
        "ledger": size.label(),
        "label": rows_label(size),
        "paths": {
            path: {target: timings.summary() for target, timings in by_target.items()}
            for path, by_target in results.items()
        },
        "bot_rss_mb": rss,
        "bot_peak_rss_mb": peak,
        "bot_cpu_seconds": cpu,
        "wall_seconds": seconds,
        "bot_exit_code": code,
        "books_check": problems,
    }


def run(config: BenchConfig, say: Callable[[str], None] = print) -> dict[str, Any]:
    """Everything the configuration asks for; returns the report (also written as JSON)."""
    report: dict[str, Any] = {
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None,
        },
        "config": {
            "databases": list(config.databases),
            "rows": list(config.rows),
            "samples": config.samples,
            "quick": config.quick,
            "pace_seconds": config.pace_seconds,
            "sizes": {rows: _size(config, rows).label() for rows in config.rows},
        },
        "latency": [],
        "throughput": [],
        "drain": [],
        "not_built": dict(NOT_BUILT),
    }
    with tempfile.TemporaryDirectory(prefix="slackbot-bench-run-") as tmp:
        workdir = Path(tmp)
        ledgers = prepare_ledgers(config, say, workdir)
        report["ledgers"] = {f"{d} {r}": note for (d, r), note in ledgers.notes.items()}
        report["ledger_urls"] = {f"{d} {r}": url for (d, r), url in ledgers.urls.items()}
        slack = FakeSlack().start()
        floors: dict[str, Any] = {}
        try:
            floors["floor"] = start_floor("floor", slack, workdir=workdir)
            floors["floor_pbr"] = start_floor(
                "floor-pbr", slack, workdir=workdir, process_before_response=True
            )
            for database in config.databases:
                for rows in config.rows:
                    url = ledgers.urls[(database, rows)]
                    report["latency"].append(
                        run_latency(config, database, rows, url, slack, floors, workdir, say)
                    )
            if config.throughput:
                for database in config.databases:
                    rows = "large" if "large" in config.rows else config.rows[0]
                    url = ledgers.urls[(database, rows)]
                    throughput = ThroughputConfig(
                        approvers=config.approvers,
                        clicks=config.clicks,
                        processes=(1, *config.scale_out) if database == "postgresql" else (1,),
                        drain_messages=config.drain_messages,
                        drain_window=config.drain_window,
                    )
                    for processes in throughput.processes:
                        say(f"throughput: {database}, {processes} bot process(es)")
                        result = measure_approvals(
                            url, slack, throughput, processes=processes, workdir=workdir
                        )
                        result.update(database=database, rows=rows)
                        report["throughput"].append(result)
                    for pace in (1.0, 0.0):
                        say(f"drain: {database}, pace {pace:g} s")
                        result = measure_drain(url, slack, throughput, pace=pace, workdir=workdir)
                        result.update(database=database, rows=rows)
                        report["drain"].append(result)
            if config.imports:
                # Rows per second of payments and invoices imports (issue 16's disk-speed targets).
                import_rows = (
                    2_000 if config.quick else (1_000_000 if "large" in config.rows else 100_000)
                )
                report["imports"] = [
                    {**asdict(m), "rows_per_second": round(m.rate)}
                    for m in import_speeds(
                        import_rows,
                        databases=tuple(config.databases),
                        postgres_url=config.postgres_url,
                        say=say,
                    )
                ]
            for name, served in floors.items():
                report.setdefault("floor_rss_mb", {})[name] = served.rss_mb()
        finally:
            for served in floors.values():
                served.stop()
            slack.stop()
            ledgers.close()
    report["load_generator_peak_rss_mb"] = own_peak_rss_mb()
    report["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    return report


# ---------------------------------------------------------------------------- the table


def _ms(value: float) -> str:
    return f"{value:.1f}" if value < 100 else f"{value:.0f}"


def _triple(stats: dict[str, Any]) -> str:
    return f"{_ms(stats['p50_ms'])} / {_ms(stats['p95_ms'])} / {_ms(stats['p99_ms'])}"


def _ratio(top: float, bottom: float) -> str:
    return f"{top / bottom:.2f}x" if bottom > 0 else "-"


def render(report: dict[str, Any]) -> str:
    lines: list[str] = []
    runs = report["latency"]
    by_key = {(r["database"], r["rows"]): r for r in runs}
    databases = list(dict.fromkeys(r["database"] for r in runs))
    header = (
        f"{'path':<44} {'ledger':<6} {'bot p50 / p95 / p99 ms':>24} {'floor p50 / p95 / p99':>22}"
        f" {'p50÷floor':>9} {'p95÷floor':>9} {'big÷small p50':>13} {'p95':>6}"
    )
    for database in databases:
        lines.append("")
        lines.append(f"Round trips on {database} (bot beside a bare Bolt app, interleaved)")
        lines.append(header)
        lines.append("-" * len(header))
        for path, title in PATHS.items():
            shown = title
            for rows in ("small", "large"):
                run = by_key.get((database, rows))
                if run is None:
                    continue
                bot = run["paths"][path]["bot"]
                floor = run["paths"][path]["floor"]
                scale_50 = scale_95 = ""
                small = by_key.get((database, "small"))
                if rows == "large" and small is not None:
                    base = small["paths"][path]["bot"]
                    scale_50 = _ratio(bot["p50_ms"], base["p50_ms"])
                    scale_95 = _ratio(bot["p95_ms"], base["p95_ms"])
                failed = f"  ({bot['failed']} failed)" if bot["failed"] else ""
                lines.append(
                    f"{shown:<44.44}"
                    f" {run['label']:<6} {_triple(bot):>24} {_triple(floor):>22}"
                    f" {_ratio(bot['p50_ms'], floor['p50_ms']):>9}"
                    f" {_ratio(bot['p95_ms'], floor['p95_ms']):>9}"
                    f" {scale_50:>13} {scale_95:>6}{failed}"
                )
                shown = ""
        for title in NOT_BUILT.values():
            lines.append(f"{title:<44.44} {'':<6} {'not built yet':>24}")
        for rows in ("small", "large"):
            run = by_key.get((database, rows))
            if run is None:
                continue
            pbr = run["paths"]["approve"].get("floor_pbr")
            plain = run["paths"]["approve"]["floor"]
            if pbr is not None:
                lines.append(
                    f"floor, process_before_response=True vs False ({run['label']} run):"
                    f" p50 {_ms(pbr['p50_ms'])} vs {_ms(plain['p50_ms'])} ms,"
                    f" p95 {_ms(pbr['p95_ms'])} vs {_ms(plain['p95_ms'])} ms"
                )
            rss = run.get("bot_rss_mb")
            lines.append(
                f"bot process after the {run['label']} run: RSS"
                f" {rss:.0f} MB (peak {run.get('bot_peak_rss_mb') or 0:.0f} MB),"
                f" {run['bot_cpu_seconds']:.1f} s CPU over {run['wall_seconds']:.1f} s;"
                f" books {'balanced' if not run['books_check'] else 'NOT BALANCED'}"
                if rss is not None
                else f"bot RSS unavailable (no /proc) for the {run['label']} run"
            )
    if report["throughput"]:
        lines.append("")
        lines.append("Approvals per second (8 approvers clicking Approve, posting included)")
        for t in report["throughput"]:
            lines.append(
                f"  {t['database']:<10} {t['processes']} process(es):"
                f" {t['approvals_per_second']:.0f}"
                f" approvals/s ({t['approved']} of {t['clicks']} approved in {t['seconds']:.1f} s;"
                f" {t['refused']} refused, {t['http_errors']} HTTP errors)"
            )
    if report["drain"]:
        lines.append("")
        lines.append("Outbox drain (messages Slack received per second)")
        for d in report["drain"]:
            lines.append(
                f"  {d['database']:<10} pace {d['pace_seconds']:g} s:"
                f" {d['messages_per_second']:.1f}"
                f" msg/s overall, {d['billing_per_second']:.2f} msg/s to the billing channel"
                f" (pace allows {d['pace_allows']}); {d['delivered']} delivered in"
                f" {d['seconds']:.1f} s, {d['unsent_after']} still owed"
            )
    if report.get("imports"):
        lines.append("")
        lines.append("Imports (rows per second; targets: SQLite 100,000, PostgreSQL 50,000)")
        for m in report["imports"]:
            lines.append(
                f"  {m['database']:<10} {m['kind']:<8} {m['run']:<8} {m['rows']:>10,} rows:"
                f" {m['rows_per_second']:>9,} rows/s"
            )
    lines.append("")
    lines.append(
        f"load average at start {report['machine']['load_average']};"
        f" {report['machine']['cpus']} CPUs; {report['machine']['platform']}"
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__.split("\n\n")[0].strip("` ")
    )
    parser.add_argument("--database", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--rows", choices=("small", "large", "both"), default="both")
    parser.add_argument("--quick", action="store_true", help="tiny ledgers, a few requests (CI)")
    parser.add_argument("--samples", type=int, default=None, help="round trips per path")
    parser.add_argument("--json", type=Path, default=None, help="also write the report here")
    parser.add_argument("--postgres-url", default=None, help=f"server (default {DEFAULT_POSTGRES})")
    parser.add_argument("--data-dir", type=Path, default=None, help="where SQLite ledgers live")
    parser.add_argument("--fresh", action="store_true", help="seed the ledgers again")
    parser.add_argument("--pace", type=float, default=None, help="billing channel pace (s)")
    parser.add_argument("--no-throughput", action="store_true")
    parser.add_argument("--no-imports", action="store_true", help="skip the import speeds")
    parser.add_argument("--clicks", type=int, default=None, help="approvals in the throughput run")
    args = parser.parse_args(argv)
    overrides: dict[str, Any] = {
        "databases": ("sqlite", "postgresql") if args.database == "both" else (args.database,),
        "rows": ("small", "large") if args.rows == "both" else (args.rows,),
        "json_path": args.json,
        "fresh": args.fresh,
        "pace_seconds": args.pace,
        "throughput": not args.no_throughput,
        "imports": not args.no_imports,
    }
    if args.samples is not None:
        overrides["samples"] = max(1, args.samples)
    if args.clicks is not None:
        overrides["clicks"] = max(1, args.clicks)
    if args.postgres_url:
        overrides["postgres_url"] = args.postgres_url
    if args.data_dir:
        overrides["data_dir"] = args.data_dir
    config = BenchConfig.quick_config(**overrides) if args.quick else BenchConfig(**overrides)
    report = run(config, say=lambda line: print(line, file=sys.stderr, flush=True))
    print(render(report))
    if config.json_path is not None:
        config.json_path.write_text(json.dumps(report, indent=2, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
