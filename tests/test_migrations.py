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
