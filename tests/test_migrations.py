"""Alembic migrations: idempotent, equal to the models, and safe when instances start at once."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import IntegrityError

from models.tables import Base
from slackbot.db import make_engine
from slackbot.migrate import alembic_config, current_revision, upgrade
from tests.conftest import POSTGRES_SKIP_REASON, TEST_DATABASE_URL, create_postgres_database

REPO = Path(__file__).resolve().parents[1]
needs_postgres = pytest.mark.skipif(not TEST_DATABASE_URL, reason=POSTGRES_SKIP_REASON)


@pytest.fixture(
    params=["sqlite", pytest.param("postgresql", marks=[pytest.mark.postgres, needs_postgres])]
)
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an empty database that nothing has migrated yet."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'fresh.db'}"
        return
    url, drop = create_postgres_database()
    yield url
    drop()  # type: ignore[operator]


@pytest.fixture
def fresh_engine(fresh_url: str) -> Iterator[Engine]:
    engine = make_engine(fresh_url)
    yield engine
    engine.dispose()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()


def schema_of(engine: Engine) -> dict[str, Any]:
    """Everything a migration could change, in a comparable form."""
    inspector = inspect(engine)
    schema: dict[str, Any] = {}
    for table in sorted(inspector.get_table_names()):
        schema[table] = {
            "columns": [
                (c["name"], str(c["type"]), c["nullable"]) for c in inspector.get_columns(table)
            ],
            "pk": inspector.get_pk_constraint(table)["constrained_columns"],
            "fks": sorted(
                (fk["name"] or "", tuple(fk["constrained_columns"]), fk["referred_table"])
                for fk in inspector.get_foreign_keys(table)
            ),
            "indexes": sorted(
                (i["name"] or "", tuple(str(c) for c in i["column_names"]))
                for i in inspector.get_indexes(table)
            ),
            "uniques": sorted(
                (u["name"] or "", tuple(u["column_names"]))
                for u in inspector.get_unique_constraints(table)
            ),
            "checks": sorted(
                (c["name"] or "", c["sqltext"]) for c in inspector.get_check_constraints(table)
            ),
        }
    return schema


def version_rows(engine: Engine) -> list[str]:
    with engine.connect() as connection:
        return [
            row[0] for row in connection.execute(text("SELECT version_num FROM alembic_version"))
        ]


def test_upgrade_brings_an_empty_database_to_head(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)

    assert current_revision(fresh_engine) == head_revision(fresh_engine)
    assert set(Base.metadata.tables) <= set(inspect(fresh_engine).get_table_names())


def test_upgrade_twice_changes_nothing(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    schema = schema_of(fresh_engine)
    versions = version_rows(fresh_engine)

    upgrade(fresh_engine)

    assert schema_of(fresh_engine) == schema
    assert version_rows(fresh_engine) == versions == [head_revision(fresh_engine)]


def test_upgrade_keeps_the_rows_already_there(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)
    with fresh_engine.begin() as connection:
        connection.execute(text("INSERT INTO partners (partner_id, name) VALUES ('P1', 'Acme')"))

    upgrade(fresh_engine)

    with fresh_engine.connect() as connection:
        assert connection.execute(text("SELECT partner_id, name FROM partners")).all() == [
            ("P1", "Acme")
        ]


def test_migrated_schema_matches_the_models(fresh_engine: Engine) -> None:
    upgrade(fresh_engine)

    with fresh_engine.connect() as connection:
        context = MigrationContext.configure(
            connection, opts={"compare_type": True, "compare_server_default": True}
        )
        differences = compare_metadata(context, Base.metadata)

    assert differences == []


def test_migrated_schema_has_every_check_constraint_of_the_models(fresh_engine: Engine) -> None:
    # compare_metadata does not compare CHECK constraints, and they are what keeps money right.
    upgrade(fresh_engine)
    inspector = inspect(fresh_engine)

    for table in Base.metadata.sorted_tables:
        modelled = {
            constraint.name
            for constraint in table.constraints
            if constraint.__class__.__name__ == "CheckConstraint"
        }
        stored = {c["name"] for c in inspector.get_check_constraints(table.name)}
        assert modelled <= stored, (table.name, modelled - stored)


def _start_upgrades(url: str, count: int) -> list[subprocess.Popen[str]]:
    # Every process imports first and then waits for the same instant, so the upgrades
    # themselves collide instead of the first finishing while the others still import.
    start_at = time.time() + 2.5
    script = (
        "import sys, time\n"
        "from slackbot.migrate import upgrade\n"
        "time.sleep(max(0.0, float(sys.argv[2]) - time.time()))\n"
        "upgrade(sys.argv[1])\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return [
        subprocess.Popen(
            [sys.executable, "-c", script, url, repr(start_at)],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


def _wait_all(processes: list[subprocess.Popen[str]]) -> list[tuple[int, str]]:
    finished = []
    for process in processes:
        try:
            _, stderr = process.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            _, stderr = process.communicate()
        finished.append((process.returncode, stderr[-2000:]))
    return finished


def test_instances_upgrading_a_fresh_database_at_once_all_succeed(fresh_url: str) -> None:
    instances = 3
    results = _wait_all(_start_upgrades(fresh_url, instances))

    assert [code for code, _ in results] == [0] * instances, results
    engine = make_engine(fresh_url)
    try:
        assert version_rows(engine) == [head_revision(engine)]
        assert set(Base.metadata.tables) <= set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def test_upgrade_to_request_lines_makes_each_allocation_a_request_of_one_line(
    fresh_engine: Engine,
) -> None:
    # Rows written before 0004, with every table that references an allocation filled, so the
    # SQLite rebuild of allocations must keep the ids those rows point at.
    upgrade(fresh_engine, "0003")
    now = "2026-01-05 10:00:00+00:00"
    with fresh_engine.begin() as connection:
        for statement in (
            "INSERT INTO partners (partner_id, name) VALUES ('P1', 'Acme')",
            "INSERT INTO payments (payment_id, partner_id, currency, exponent, amount, allocated,"
            " pending, received_on, reference) VALUES"
            " ('PAY-1', 'P1', 'USD', 2, 10000, 3000, 2000, '2026-01-02', '')",
            "INSERT INTO invoices (invoice_id, partner_id, currency, exponent, amount, opening_due,"
            " applied, pending, issued_on, due_on) VALUES"
            " ('INV-1', 'P1', 'USD', 2, 5000, 5000, 3000, 0, '2026-01-01', '2026-02-01'),"
            " ('INV-2', 'P1', 'USD', 2, 5000, 5000, 0, 2000, '2026-01-01', '2026-02-01')",
            "INSERT INTO allocations (allocation_id, payment_id, invoice_id, partner_id, currency,"
            " amount, status, requested_by, requested_at, decided_by, decided_at, request_key)"
            f" VALUES (7, 'PAY-1', 'INV-1', 'P1', 'USD', 3000, 'approved', 'U1', '{now}', 'U2',"
            f" '{now}', 'view-7'),"
            f" (9, 'PAY-1', 'INV-2', 'P1', 'USD', 2000, 'pending', 'U1', '{now}', NULL, NULL,"
            " NULL)",
            "INSERT INTO journal_entries (entry_id, allocation_id, kind, posted_at, posted_by,"
            f" line_count) VALUES (1, 7, 'allocation', '{now}', 'U2', 2)",
            "INSERT INTO journal_lines (entry_id, account, debit, credit, currency) VALUES"
            " (1, 'unapplied_cash:P1', 3000, 0, 'USD'), (1, 'receivable:P1:INV-1', 0, 3000, 'USD')",
            "INSERT INTO outbox (kind, allocation_id, recipient, payload, created_at, attempts,"
            f" next_attempt_at) VALUES ('allocation_requested', 9, 'billing', '{{}}', '{now}', 0,"
            f" '{now}')",
            "INSERT INTO slack_messages (allocation_id, role, channel, ts) VALUES"
            " (7, 'billing', 'C1', '1.2')",
        ):
            connection.execute(text(statement))

    upgrade(fresh_engine)

    with fresh_engine.connect() as connection:
        assert connection.execute(
            text(
                "SELECT allocation_id, request_id, line_no, chosen, request_key, status, amount"
                " FROM allocations ORDER BY allocation_id"
            )
        ).all() == [
            (7, 7, 1, None, "view-7", "approved", 3000),
            (9, 9, 1, None, None, "pending", 2000),
        ]
        assert connection.execute(text("SELECT allocation_id FROM journal_entries")).all() == [(7,)]
        assert connection.execute(text("SELECT allocation_id FROM outbox")).all() == [(9,)]
        assert connection.execute(text("SELECT allocation_id FROM slack_messages")).all() == [(7,)]
        if connection.dialect.name == "sqlite":
            assert connection.execute(text("PRAGMA foreign_key_check")).all() == []
    # The rebuilt table still refuses what the models refuse: a second line 1 of request 7.
    with pytest.raises(IntegrityError), fresh_engine.begin() as connection:
        connection.execute(
            text(
                "INSERT INTO allocations (allocation_id, request_id, line_no, payment_id,"
                " invoice_id, partner_id, currency, amount, status, requested_by, requested_at)"
                f" VALUES (10, 7, 1, 'PAY-1', 'INV-2', 'P1', 'USD', 1, 'pending', 'U1', '{now}')"
            )
        )


def test_sqlites_locking_protocol_is_retried_and_other_errors_are_not(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SQLITE_PROTOCOL (another connection resetting the WAL index at that instant) is
    transient: the upgrade tries again and reaches head. Any other error stops it at once."""
    import sqlite3

    from alembic import command
    from sqlalchemy.exc import OperationalError

    from slackbot import db as slackbot_db
    from slackbot import migrate

    real = command.upgrade
    failures = {"left": 2}

    def flaky(config: Any, revision: str) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise OperationalError("COMMIT", {}, sqlite3.OperationalError(failures["error"]))
        real(config, revision)

    monkeypatch.setattr(migrate.command, "upgrade", flaky)
    monkeypatch.setattr(slackbot_db.time, "sleep", lambda _seconds: None)
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    failures["error"] = "locking protocol"  # type: ignore[assignment]
    upgrade(engine)
    assert current_revision(engine) == head_revision(engine)

    other = make_engine(f"sqlite:///{tmp_path / 'b.db'}")
    failures.update(left=1, error="disk I/O error")  # type: ignore[arg-type]
    with pytest.raises(OperationalError, match="disk I/O error"):
        upgrade(other)
    assert current_revision(other) is None
    engine.dispose()
    other.dispose()
