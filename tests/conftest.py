"""Database fixtures: tests run on SQLite, and on PostgreSQL too when TEST_DATABASE_URL is set.

A PostgreSQL run creates its own throwaway database (``slackbot_test_<pid>_<n>``) from
TEST_DATABASE_URL and drops it afterwards, so parallel runs on one server never see each other.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from models.tables import Base
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.migrate import upgrade
from slackbot.settings import normalize_database_url
from tests.support.bot_harness import APPROVER_GROUP, GROUP_APPROVER, BotHarness
from tests.support.slack_stub import FakeSlack

TEST_DATABASE_URL = os.environ.get("TEST_DATABASE_URL", "").strip()
POSTGRES_SKIP_REASON = (
    "PostgreSQL tests need TEST_DATABASE_URL (e.g. postgresql://postgres@127.0.0.1:5432/test);"
    " .ci/run sets it"
)
_counter = itertools.count()


def _backends() -> list[object]:
    return [
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not TEST_DATABASE_URL, reason=POSTGRES_SKIP_REASON),
            ],
        ),
    ]


def create_postgres_database(server_url: str = "") -> tuple[str, Any]:
    """A fresh, empty PostgreSQL database; returns its URL and a function that drops it.

    ``server_url`` names the server (any database on it); TEST_DATABASE_URL by default.
    """
    admin_url = make_url(normalize_database_url(server_url or TEST_DATABASE_URL))
    name = f"slackbot_test_{os.getpid()}_{next(_counter)}_{uuid.uuid4().hex[:6]}"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = admin_url.set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def drop_orphaned_test_databases() -> None:
    """Drop test databases left by runs that were killed (their creating process is gone)."""
    admin = create_engine(
        make_url(normalize_database_url(TEST_DATABASE_URL)), isolation_level="AUTOCOMMIT"
    )
    try:
        with admin.connect() as connection:
            names = connection.scalars(
                text("SELECT datname FROM pg_database WHERE datname LIKE 'slackbot_test_%'")
            ).all()
            for name in names:
                pid = name.split("_")[2] if name.count("_") >= 3 else ""
                if pid.isdigit() and not Path(f"/proc/{pid}").exists():
                    connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        admin.dispose()


@pytest.fixture(scope="session")
def migrated_urls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """One migrated database per backend for the whole run (the migrations are tested too)."""
    urls: dict[str, str] = {}
    drops = []
    sqlite_path = Path(tmp_path_factory.mktemp("db")) / "ledger.db"
    urls["sqlite"] = f"sqlite:///{sqlite_path}"
    upgrade(urls["sqlite"])
    if TEST_DATABASE_URL:
        drop_orphaned_test_databases()
        url, drop = create_postgres_database()
        upgrade(url)
        urls["postgresql"] = url
        drops.append(drop)
    yield urls
    for drop in drops:
        drop()  # type: ignore[operator]


def wipe(db: Database) -> None:
    """Empty every table, children first, so each test starts from nothing."""
    with db.engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(table.delete())


@pytest.fixture(params=_backends())
def db(request: pytest.FixtureRequest, migrated_urls: dict[str, str]) -> Iterator[Database]:
    database = Database(migrated_urls[request.param])
    wipe(database)
    yield database
    database.dispose()


class FixedClock:
    """A clock tests can read and move."""

    def __init__(self) -> None:
        self.now = dt.datetime(2026, 11, 24, 9, 30, tzinfo=dt.UTC)

    def __call__(self) -> dt.datetime:
        self.now += dt.timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock()


@pytest.fixture
def ledger(db: Database, clock: FixedClock) -> Ledger:
    return Ledger(db, clock=clock)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    """Slack's Web API, stood in on 127.0.0.1, with a user group of approvers."""
    with FakeSlack() as stub:
        stub.set_usergroup(APPROVER_GROUP, [GROUP_APPROVER])
        yield stub


@pytest.fixture
def harness(db: Database, slack: FakeSlack) -> Iterator[BotHarness]:
    """The bot serving HTTP on 127.0.0.1 against ``slack``, on the test's database."""
    running = BotHarness(db, slack)
    yield running
    running.close()
