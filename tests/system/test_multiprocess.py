"""Two real `slackbot serve` processes on one PostgreSQL ledger: nothing decided or sent twice.

Both start at once (both run the migrations), requests alternate between them, double clicks land
on both at the same moment, both outbox senders race for the same rows, and SIGTERM stops each
one cleanly.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from models.tables import Allocation, OutboxMessage
from slackbot.db import Database
from slackbot.ledger.books import check_books
from slackbot.migrate import current_revision
from tests.conftest import POSTGRES_SKIP_REASON, TEST_DATABASE_URL, create_postgres_database
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import (
    APPROVER,
    BILLING_CHANNEL,
    SECOND_APPROVER,
    SECRET,
    action_ids,
    assert_owed_delivered_once_in_order,
    delivered_calls,
    text_of,
    wait_for,
)
from tests.support.factories import add_invoice, add_partner, add_payment, allocation_row, audit_of
from tests.support.slack_stub import FakeSlack, dm_channel_for

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.skipif(not TEST_DATABASE_URL, reason=POSTGRES_SKIP_REASON),
]

ALICE = "U0ALICE"  # Acme
BOB = "U0BOB"  # Globex
REQUESTS = 8
STOP_SECONDS = 8.0


@dataclass
class Serve:
    """One ``slackbot serve`` process and where it listens."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _serve_command(port: int) -> list[str]:
    """The installed console script; ``slackbot/cli.py`` has no ``__main__`` block for ``-m``."""
    script = Path(sys.executable).with_name("slackbot")
    if script.exists():
        return [str(script), "serve", "--port", str(port)]
    return [
        sys.executable,
        "-c",
        "from slackbot.cli import main; main()",
        "serve",
        "--port",
        str(port),
    ]


def _environment(database_url: str, slack: FakeSlack) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "BILLING_")) and key != "DATABASE_URL"
    }
    env.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-test",
        SLACK_SIGNING_SECRET=SECRET,
        SLACK_API_URL=slack.api_url,
        BILLING_CHANNEL_ID=BILLING_CHANNEL,
        BILLING_APPROVER_IDS=f"{APPROVER},{SECOND_APPROVER}",
        BILLING_CHANNEL_PACE_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    return env


@pytest.fixture
def ledger_url() -> Iterator[str]:
    url, drop = create_postgres_database()
    yield url
    drop()


@pytest.fixture
def servers(ledger_url: str, slack: FakeSlack, tmp_path: Path) -> Iterator[list[Serve]]:
    """Two processes started at the same moment on a database with no schema yet."""
    env = _environment(ledger_url, slack)
    started: list[Serve] = []
    try:
        for n in range(2):
            port = _free_port()
            log = tmp_path / f"serve-{n}.log"
            with log.open("wb") as sink:
                process = subprocess.Popen(
                    _serve_command(port),
                    env=env,
                    cwd=tmp_path,  # no stray .env file is read
                    stdout=sink,
                    stderr=subprocess.STDOUT,
                )
            started.append(Serve(process, f"http://127.0.0.1:{port}", log))
        for serve in started:
            wait_for(lambda serve=serve: _healthy(serve), timeout=30, what="/healthz 200")
        yield started
    finally:
        for serve in started:
            if serve.process.poll() is None:
                serve.process.kill()
                serve.process.wait(5)


def _healthy(serve: Serve) -> bool:
    if serve.process.poll() is not None:
        raise AssertionError(f"serve exited with {serve.process.returncode}:\n{serve.output()}")
    try:
        with urllib.request.urlopen(serve.base_url + "/healthz", timeout=2) as response:
            return response.status == 200 and json.loads(response.read())["ok"] is True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def _post(serve: Serve, body: str) -> tuple[int, Any]:
    status, _headers, text = payloads.post_signed(serve.base_url, body, secret=SECRET)
    return status, json.loads(text) if text else None


def _seed(db: Database) -> None:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE])
    add_partner(db, "P-GLOBEX", "Globex", members=[BOB])
    add_payment(db, "PAY-A", "P-ACME", 1_000_000, "USD", reference="Acme wire")
    add_payment(db, "PAY-B", "P-GLOBEX", 1_000_000, "USD", reference="Globex wire")
    for n in range(1, REQUESTS // 2 + 1):
        add_invoice(db, f"INV-A{n}", "P-ACME", 50_000, "USD")
        add_invoice(db, f"INV-B{n}", "P-GLOBEX", 50_000, "USD")


def _request(
    slack: FakeSlack, db: Database, opener: Serve, submitter: Serve, n: int
) -> tuple[int, str]:
    """``/payments allocate`` on one process, the modal submitted to the other; returns the id."""
    user, side = (ALICE, "A") if n % 2 == 0 else (BOB, "B")
    payment, invoice = f"PAY-{side}", f"INV-{side}{n // 2 + 1}"
    trigger = payloads.new_trigger_id()
    body = payloads.slash_command(
        user,
        f"allocate {payment}",
        response_url=slack.response_url(f"slash-{n}"),
        trigger_id=trigger,
    )
    assert _post(opener, body)[0] == 200
    view = wait_for(lambda: slack.view_opened_by(trigger), what="the allocation modal")
    values = {
        "payment": {"payment": payloads.static_select_value(payment, payment)},
        "invoice": {"invoice": payloads.external_select_value(invoice, invoice)},
        "amount": {"amount": payloads.text_value("125.00")},
        "note": {"note": payloads.text_value(f"request {n}")},
    }
    status, reply = _post(submitter, payloads.view_submission(user, view, values))
    assert status == 200 and reply["response_action"] == "update", reply
    with db.transaction() as session:
        allocation_id = session.scalar(
            select(Allocation.allocation_id).where(Allocation.request_key == f"view:{view['id']}")
        )
    assert allocation_id is not None
    return int(allocation_id), user


def _billing_post(slack: FakeSlack, allocation_id: int) -> dict[str, Any]:
    def find() -> dict[str, Any] | None:
        for message in slack.messages_in(BILLING_CHANNEL):
            if f"approve_allocation:{allocation_id}" in action_ids(message):
                return message
        return None

    return wait_for(find, timeout=10, what=f"the billing post of #{allocation_id}")


def _approve_body(slack: FakeSlack, user: str, allocation_id: int, tag: str) -> str:
    return payloads.block_actions(
        user,
        f"approve_allocation:{allocation_id}",
        None,
        message=_billing_post(slack, allocation_id),
        channel_id=BILLING_CHANNEL,
        response_url=slack.response_url(tag),
    )


def _at_once(sends: list[tuple[Serve, str]]) -> list[int]:
    barrier = threading.Barrier(len(sends))
    statuses: list[int] = [0] * len(sends)

    def send(index: int, serve: Serve, body: str) -> None:
        barrier.wait(timeout=10)
        statuses[index] = _post(serve, body)[0]

    threads = [
        threading.Thread(target=send, args=(i, serve, body), daemon=True)
        for i, (serve, body) in enumerate(sends)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return statuses


def _unsent(db: Database) -> int:
    with db.transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
            or 0
        )


def test_two_serve_processes_share_the_work_without_doing_anything_twice(
    servers: list[Serve], slack: FakeSlack, ledger_url: str
) -> None:
    first, second = servers
    db = Database(ledger_url)
    try:
        # Both ran the migrations at once; the schema is whole and at one revision.
        assert current_revision(db.engine) is not None
        _seed(db)

        requested: dict[int, str] = {}
        for n in range(REQUESTS):
            opener, submitter = (first, second) if n % 2 == 0 else (second, first)
            allocation_id, user = _request(slack, db, opener, submitter, n)
            requested[allocation_id] = user
        ids = sorted(requested)
        to_approve, left_pending = ids[: REQUESTS // 2], ids[REQUESTS // 2 :]

        # One approver double-clicks: the same body reaches both processes at the same moment.
        same = _approve_body(slack, APPROVER, to_approve[0], "double-same")
        assert _at_once([(first, same), (second, same)]) == [200, 200]
        # Two approvers click at once, each through a different process.
        assert _at_once(
            [
                (first, _approve_body(slack, APPROVER, to_approve[1], "race-1")),
                (second, _approve_body(slack, SECOND_APPROVER, to_approve[1], "race-2")),
            ]
        ) == [200, 200]
        for i, allocation_id in enumerate(to_approve[2:]):
            serve = servers[i % 2]
            body = _approve_body(slack, APPROVER, allocation_id, f"single-{allocation_id}")
            assert _post(serve, body)[0] == 200

        for allocation_id in to_approve:
            wait_for(
                lambda a=allocation_id: allocation_row(db, a).status == "approved",
                what=f"the approval of #{allocation_id}",
            )
        wait_for(lambda: _unsent(db) == 0, timeout=20, what="an empty outbox")
        # The losers of both double clicks were told, once each.
        loser_urls = ("double-same", "race-1", "race-2")
        wait_for(
            lambda: sum(len(_replies(slack, tag)) for tag in loser_urls) == 2,
            what="the double clicks' losers told",
        )

        for allocation_id in ids:
            row = allocation_row(db, allocation_id)
            expected = "approved" if allocation_id in to_approve else "pending"
            assert row.status == expected
            decisions = [a for a, _ in audit_of(db, allocation_id) if a != "allocation.requested"]
            assert decisions == (["allocation.approved"] if expected == "approved" else [])
        for tag in loser_urls:
            for reply in _replies(slack, tag):
                assert "Already approved by <@" in text_of(reply)
        assert check_books(db) == []

        # Every message owed went out exactly once, whichever process's sender took it.
        assert_owed_delivered_once_in_order(db, slack)
        delivered = delivered_calls(slack)
        for allocation_id, user in requested.items():
            calls = [(c.method, c.channel) for c in delivered[allocation_id]]
            approved = allocation_id in to_approve
            dm = dm_channel_for(user)
            assert calls.count(("chat.postMessage", BILLING_CHANNEL)) == 1
            # Approved: edited at least once (a request pending beside others is also edited
            # when their decisions move the balances it shows); what it shows last is checked
            # against the ledger by assert_owed_delivered_once_in_order.
            assert calls.count(("chat.update", BILLING_CHANNEL)) >= (1 if approved else 0)
            # One DM per request: the receipt, edited once to show the approval.
            assert calls.count(("chat.postMessage", dm)) == 1
            assert calls.count(("chat.update", dm)) == (1 if approved else 0)
        assert set(left_pending) <= set(delivered)

        # SIGTERM: each process finishes what it holds and exits 0, promptly.
        for serve in servers:
            serve.process.send_signal(signal.SIGTERM)
        started = time.monotonic()
        for serve in servers:
            try:
                code = serve.process.wait(
                    timeout=max(0.1, STOP_SECONDS - (time.monotonic() - started))
                )
            except subprocess.TimeoutExpired:
                pytest.fail(f"serve did not stop within {STOP_SECONDS}s:\n{serve.output()}")
            assert code == 0, serve.output()
        with db.transaction() as session:
            unsent = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
            leased = session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.claimed_by.is_not(None))
            )
        # Nothing owed is left behind, and no lease would hold a row back from the next start.
        assert (unsent, leased) == (0, 0)
        assert "Traceback" not in first.output() + second.output()
    finally:
        db.dispose()


def _replies(slack: FakeSlack, tag: str) -> list[dict[str, Any]]:
    return [call.params for call in slack.calls_to("response_url") if call.path.endswith(f"/{tag}")]
