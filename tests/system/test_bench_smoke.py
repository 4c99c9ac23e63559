"""A tiny run of `python -m bench` in CI: that every measurement runs and reports, not how fast."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from bench.latency import NOT_BUILT, PATHS
from bench.suite import BenchConfig, render, run
from slackbot.db import Database
from slackbot.ledger.books import check_books
from slackbot.settings import normalize_database_url
from tests.conftest import POSTGRES_SKIP_REASON, TEST_DATABASE_URL

BACKENDS = [
    "sqlite",
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres,
            pytest.mark.skipif(not TEST_DATABASE_URL, reason=POSTGRES_SKIP_REASON),
        ],
    ),
]


def _drop_postgres(url: str) -> None:
    name = make_url(normalize_database_url(url)).database
    admin = create_engine(normalize_database_url(TEST_DATABASE_URL), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_quick_benchmark_reports_every_row_and_leaves_the_books_balanced(
    backend: str, tmp_path: Path
) -> None:
    report_path = tmp_path / "bench.json"
    config = BenchConfig.quick_config(
        databases=(backend,),
        postgres_url=TEST_DATABASE_URL,
        data_dir=tmp_path / "ledgers",
        json_path=report_path,
        keep_ledgers=True,
    )
    report = run(config, say=lambda _line: None)
    report_path.write_text(json.dumps(report, default=str))
    try:
        table = render(report)
        for title in [*PATHS.values(), *NOT_BUILT.values()]:
            assert title in table
        assert table.count("not built yet") == len(NOT_BUILT)
        assert "Approvals per second" in table and "Outbox drain" in table
        assert "Imports (rows per second" in table
        assert {(m["database"], m["kind"], m["run"]) for m in report["imports"]} >= {
            (database, kind, "first")
            for database in config.databases
            for kind in ("payments", "invoices")
        }
        assert all(m["rows_per_second"] > 0 for m in report["imports"])

        parsed = json.loads(report_path.read_text())
        assert [(r["database"], r["rows"]) for r in parsed["latency"]] == [
            (backend, "small"),
            (backend, "large"),
        ]
        for latency in parsed["latency"]:
            for path in PATHS:
                for target in ("bot", "floor", "floor_pbr"):
                    stats = latency["paths"][path][target]
                    assert stats["n"] == config.samples
                    assert stats["failed"] == 0, (path, target, stats["failures"])
                    assert 0 < stats["p50_ms"] <= stats["p95_ms"] <= stats["p99_ms"]
            assert latency["bot_rss_mb"] > 0
            assert latency["books_check"] == []
        processes = [t["processes"] for t in parsed["throughput"]]
        assert processes == ([1, 2] if backend == "postgresql" else [1])
        for throughput in parsed["throughput"]:
            assert throughput["approved"] == throughput["clicks"] == config.clicks
            assert throughput["approvals_per_second"] > 0
            assert throughput["refused"] == 0 and throughput["http_errors"] == 0
            assert throughput["books_check"] == []
        paces = {d["pace_seconds"]: d for d in parsed["drain"]}
        assert set(paces) == {1.0, 0.0}
        assert paces[0.0]["unsent_after"] == 0
        assert paces[0.0]["messages_per_second"] > 0
        # At Slack's pace of one message a second the billing channel never goes faster.
        assert 0 < paces[1.0]["billing_per_second"] <= 1.2

        # The ledgers the run used, checked again from outside.
        for url in parsed["ledger_urls"].values():
            db = Database(url)
            try:
                assert check_books(db) == []
            finally:
                db.dispose()
    finally:
        if backend == "postgresql":
            for url in report.get("ledger_urls", {}).values():
                _drop_postgres(url)


def test_seeding_refused_by_sqlites_locking_protocol_starts_again_from_an_empty_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sqlite3

    from sqlalchemy.exc import OperationalError

    from bench import seed as seeding
    from slackbot import db as slackbot_db

    real = seeding.seed
    calls: list[int] = []

    def refused_once(db: Database, size: seeding.LedgerSize) -> seeding.SeedReport:
        calls.append(1)
        if len(calls) == 1:
            # As SQLite does at the seeding's commit: refused, nothing written.
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError("locking protocol"))
        return real(db, size)

    monkeypatch.setattr(seeding, "seed", refused_once)
    monkeypatch.setattr(slackbot_db.time, "sleep", lambda _seconds: None)
    db, note = seeding.open_ledger(f"sqlite:///{tmp_path / 'ledger.db'}", seeding.TINY)
    try:
        assert len(calls) == 2 and note.startswith("seeded")
        assert seeding.seeded_size(db) == seeding.TINY
        assert check_books(db) == []
    finally:
        db.dispose()

    other = tmp_path / "other.db"

    def broken(db: Database, size: seeding.LedgerSize) -> seeding.SeedReport:
        raise OperationalError("COMMIT", {}, sqlite3.OperationalError("disk I/O error"))

    monkeypatch.setattr(seeding, "seed", broken)
    with pytest.raises(OperationalError, match="disk I/O error"):
        seeding.open_ledger(f"sqlite:///{other}", seeding.TINY)
