"""Database outages: every person is told to try again, nothing is half-applied, the bot recovers.

PostgreSQL is reached through a :class:`~tests.support.tcp_proxy.TcpProxy` that the tests cut
and restore (the machine's shared server is never stopped). On SQLite the outage is another
process holding the write lock, as an operator's ``sqlite3`` shell or a backup would.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.engine import make_url

from models.tables import Allocation, OutboxMessage
from slackbot.db import Database, make_engine
from slackbot.ledger import Ledger
from slackbot.ledger.books import check_books
from slackbot.migrate import upgrade
from slackbot.settings import normalize_database_url
from slackbot.slack.refusals import UNAVAILABLE_TEXT
from tests.conftest import POSTGRES_SKIP_REASON, TEST_DATABASE_URL, create_postgres_database
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import APPROVER, BILLING_CHANNEL, BotHarness, text_of, wait_for
from tests.support.factories import (
    add_invoice,
    add_partner,
    add_payment,
    allocation_row,
    journal_of,
    outbox_of,
    snapshot,
)
from tests.support.slack_stub import FakeSlack
from tests.support.tcp_proxy import TcpProxy

ALICE = "U0ALICE"
# The outage answer, told apart from the catch-all "something went wrong" that also says retry.
TRY_AGAIN = UNAVAILABLE_TEXT
# How long the bot's SQLite connections wait for a lock here (the shipped wait is 2 s, inside
# Slack's 3 s; shorter keeps these tests quick).
SQLITE_TEST_BUSY_MS = 300

REQUESTED = [("allocation_requested", "billing"), ("allocation_requested", "requester")]
# One DM per decision: the receipt, edited to show it.
APPROVED = [
    ("allocation_approved", "billing"),
    ("allocation_approved", "receipt"),
]


@dataclass
class Outage:
    """A ledger the bot uses (``bot_db``), the same ledger seen directly (``books``), and a switch.

    ``books`` never goes through the outage, so tests can seed and inspect while the bot cannot.
    """

    backend: str
    bot_db: Database
    books: Database
    begin: Callable[[], None]
    end: Callable[[], None]

    @property
    def reads_work(self) -> bool:
        """On SQLite the outage is another writer holding the lock (an import, a backup, an
        operator's shell): in WAL mode reads still answer, only writes must be refused."""
        return self.backend == "sqlite"


def _postgres_outage() -> Iterator[Outage]:
    if not TEST_DATABASE_URL:
        pytest.skip(POSTGRES_SKIP_REASON)
    url, drop = create_postgres_database()
    upgrade(url)
    direct = make_url(normalize_database_url(url))
    proxy = TcpProxy(direct.host or "127.0.0.1", direct.port or 5432)
    proxied = direct.set(port=proxy.port).render_as_string(hide_password=False)
    bot_db, books = Database(proxied), Database(url)
    try:
        yield Outage("postgresql", bot_db, books, proxy.cut, proxy.restore)
    finally:
        proxy.close()
        bot_db.dispose()
        books.dispose()
        drop()


def _sqlite_outage(path: Path) -> Iterator[Outage]:
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)

    @event.listens_for(engine, "connect")
    def _short_busy_wait(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.execute(f"PRAGMA busy_timeout = {SQLITE_TEST_BUSY_MS}")

    bot_db, books = Database(engine), Database(url)
    holder: list[sqlite3.Connection] = []

    def hold_write_lock() -> None:
        connection = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        connection.execute("BEGIN EXCLUSIVE")
        holder.append(connection)

    def release_write_lock() -> None:
        while holder:
            connection = holder.pop()
            connection.rollback()
            connection.close()

    try:
        yield Outage("sqlite", bot_db, books, hold_write_lock, release_write_lock)
    finally:
        release_write_lock()
        bot_db.dispose()
        books.dispose()


@pytest.fixture(
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=[
                pytest.mark.postgres,
                pytest.mark.skipif(not TEST_DATABASE_URL, reason=POSTGRES_SKIP_REASON),
            ],
        ),
    ]
)
def outage(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Outage]:
    if request.param == "postgresql":
        yield from _postgres_outage()
    else:
        yield from _sqlite_outage(tmp_path / "ledger.db")


@pytest.fixture
def postgres_outage() -> Iterator[Outage]:
    yield from _postgres_outage()


@pytest.fixture
def bot(outage: Outage, slack: FakeSlack) -> Iterator[BotHarness]:
    running = BotHarness(outage.bot_db, slack)
    yield running
    running.close()


def _seed(books: Database, invoices: int = 3) -> None:
    add_partner(books, "P-ACME", "Acme Corp", members=[ALICE])
    add_payment(books, "PAY-1", "P-ACME", 10_000_000, "USD", reference="Wire")
    for n in range(1, invoices + 1):
        add_invoice(books, f"INV-{n}", "P-ACME", 10_000, "USD")


def _healthz(base_url: str) -> tuple[int, dict[str, Any]]:
    try:
        with urllib.request.urlopen(base_url + "/healthz", timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


def _click_body(
    h: BotHarness, user: str, action: str, allocation_id: int, channel: str = BILLING_CHANNEL
) -> tuple[str, str]:
    """A click on a button carrying ``allocation_id``; returns the body and its response_url."""
    response_url = h.new_response_url()
    body = payloads.block_actions(
        user,
        f"{action}:{allocation_id}",
        str(allocation_id),
        channel_id=channel,
        response_url=response_url,
    )
    return body, response_url


def _told(h: BotHarness, response_url: str) -> str:
    said = h.wait_response(response_url)
    assert said.get("response_type") == "ephemeral", said
    assert said.get("replace_original") is not True, said
    return text_of(said)


def _unsent(books: Database) -> int:
    with books.transaction() as session:
        return int(
            session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(OutboxMessage.sent_at.is_(None))
            )
            or 0
        )


# ---------------------------------------------------------------------------- health


def test_healthz_is_503_during_an_outage_and_200_again_after_it(
    outage: Outage, bot: BotHarness
) -> None:
    assert _healthz(bot.base_url)[0] == 200
    outage.begin()
    started = time.monotonic()
    status, body = _healthz(bot.base_url)
    if outage.reads_work:
        # The database answers; a writer holding the lock is not an outage to a load balancer.
        assert (status, body) == (200, {"ok": True, "database": "ok"})
    else:
        assert (status, body) == (503, {"ok": False, "database": "unreachable"})
    # A load balancer's probe must get its answer well inside its own timeout.
    assert time.monotonic() - started < 3
    outage.end()
    assert _healthz(bot.base_url) == (200, {"ok": True, "database": "ok"})


# --------------------------------------------------------- every door during an outage


def test_every_request_during_an_outage_says_try_again_and_changes_nothing(
    outage: Outage, bot: BotHarness
) -> None:
    _seed(outage.books)
    ledger = Ledger(outage.books)
    pending = ledger.request_allocation(ALICE, "PAY-1", "INV-1", "50.00").allocation_id
    # Modals opened before the outage, submitted during it.
    _status, _reply, _url = bot.slash(ALICE, "allocate PAY-1")
    allocation_modal = bot.wait_view(1)
    reject_trigger = payloads.new_trigger_id()
    bot.post(
        payloads.block_actions(
            APPROVER,
            f"reject_allocation:{pending}",
            str(pending),
            channel_id=BILLING_CHANNEL,
            response_url=bot.new_response_url(),
            trigger_id=reject_trigger,
        )
    )
    reject_modal = wait_for(lambda: bot.slack.view_opened_by(reject_trigger), what="reject modal")
    views_before = len(bot.opened_views())
    before = snapshot(outage.books)

    outage.begin()
    # Slash commands answered in the acknowledgement itself (they only read).
    for text in ("list", "history", ""):
        status, reply, _url = bot.slash(ALICE, text)
        assert status == 200, (text, reply)
        assert reply["response_type"] == "ephemeral"
        if outage.reads_work:
            assert TRY_AGAIN not in text_of(reply) and "PAY-1" in text_of(reply), reply
        else:
            assert TRY_AGAIN in text_of(reply), (text, reply)
    if not outage.reads_work:
        # Opening the allocation modal only reads: on SQLite it simply opens.
        status, _reply, url = bot.slash(ALICE, "allocate PAY-1")
        assert status == 200 and TRY_AGAIN in _told(bot, url)
    writes = ((APPROVER, "approve_allocation"), (ALICE, "cancel_allocation"))
    reads = ((ALICE, "open_allocation"), (APPROVER, "reject_allocation"))
    for user, action in writes if outage.reads_work else reads + writes:
        value = "PAY-1" if action == "open_allocation" else str(pending)
        url = bot.new_response_url()
        status, _reply = bot.post(
            payloads.block_actions(
                user,
                f"{action}:{value}",
                value,
                channel_id=BILLING_CHANNEL if user == APPROVER else "C_PARTNER",
                response_url=url,
            )
        )
        assert status == 200, action
        assert TRY_AGAIN in _told(bot, url), action
    # Modal submissions answer under a field, so the modal stays open with what was typed.
    status, reply = bot.submit(
        ALICE,
        allocation_modal,
        {
            "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
            "invoice": {"invoice": payloads.external_select_value("INV-2", "INV-2")},
            "amount": {"amount": payloads.text_value("10.00")},
            "note": {"note": payloads.text_value(None)},
        },
    )
    assert status == 200 and reply["response_action"] == "errors", reply
    assert list(reply["errors"]) == ["payment"] and TRY_AGAIN in reply["errors"]["payment"]
    status, reply = bot.submit(
        APPROVER, reject_modal, {"reason": {"reason": payloads.text_value("Paid by card")}}
    )
    assert status == 200 and reply["response_action"] == "errors", reply
    assert list(reply["errors"]) == ["reason"] and TRY_AGAIN in reply["errors"]["reason"]
    # The invoice type-ahead offers nothing rather than failing the modal (it reads: on
    # SQLite it keeps working).
    status, reply = bot.suggest(
        ALICE,
        allocation_modal,
        "",
        {"payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")}},
    )
    if outage.reads_work:
        assert status == 200 and {"INV-2", "INV-3"} <= {o["value"] for o in reply["options"]}
    else:
        assert (status, reply) == (200, {"options": []})
    outage.end()

    assert snapshot(outage.books) == before
    assert check_books(outage.books) == []
    if not outage.reads_work:
        assert len(bot.opened_views()) == views_before  # no empty modal was opened


def test_sqlite_lock_held_elsewhere_is_answered_within_slacks_three_seconds(
    tmp_path: Path, slack: FakeSlack
) -> None:
    """With the shipped settings (no shortened wait): Slack gives up on an answer after 3 s."""
    path = tmp_path / "ledger.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    db = Database(url)
    _seed(db)
    h = BotHarness(db, slack)
    holder = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        holder.execute("BEGIN EXCLUSIVE")  # an operator's sqlite3 shell, a backup, a migration
        # Reading does not wait for the writer at all.
        started = time.monotonic()
        status, reply = h.post(
            payloads.slash_command(ALICE, "list", response_url=h.new_response_url()), timeout=10
        )
        assert time.monotonic() - started < 1
        assert status == 200 and "PAY-1" in text_of(reply), reply
        assert _healthz(h.base_url)[0] == 200
        # Writing waits for the lock only so long that the person still hears back in time.
        started = time.monotonic()
        status, reply = h.post(
            payloads.view_submission(
                ALICE,
                {"id": "V0LOCKED", "callback_id": "allocation_modal", "blocks": []},
                {
                    "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
                    "invoice": {"invoice": payloads.external_select_value("INV-2", "INV-2")},
                    "amount": {"amount": payloads.text_value("10.00")},
                },
            ),
            timeout=10,
        )
        waited = time.monotonic() - started
        # Past 3 s Bolt stops waiting for the acknowledgement and answers 404 itself.
        assert waited < 3, f"the person waited {waited:.1f}s for {status} {reply}"
        assert status == 200 and TRY_AGAIN in reply["errors"]["payment"], reply
        holder.rollback()
        assert Ledger(db).history(ALICE) == []  # the refused submission recorded nothing
    finally:
        holder.rollback()
        holder.close()
        h.close()
        db.dispose()


# ----------------------------------------------------------------------- recovery


def test_bot_recovers_without_a_restart_and_sends_what_was_owed(
    outage: Outage, bot: BotHarness
) -> None:
    _seed(outage.books)
    allocation_id = (
        Ledger(outage.books).request_allocation(ALICE, "PAY-1", "INV-1", "50.00").allocation_id
    )
    outage.begin()
    # The sender starts during the outage: it must keep trying, not die.
    bot.bot.delivery.start()
    status, reply, _url = bot.slash(ALICE, "list")
    assert status == 200
    assert (TRY_AGAIN not in text_of(reply)) if outage.reads_work else (TRY_AGAIN in text_of(reply))
    time.sleep(1.2)  # at least one of the sender's polls fails
    assert bot.slack.deliveries("chat.postMessage") == []
    outage.end()

    assert _healthz(bot.base_url)[0] == 200
    status, reply, _url = bot.slash(ALICE, "list")
    assert status == 200 and "PAY-1" in text_of(reply) and TRY_AGAIN not in text_of(reply)
    wait_for(lambda: _unsent(outage.books) == 0, timeout=8, what="the owed messages")
    assert len(bot.billing_messages()) == 1
    assert len(bot.slack.messages_in(ALICE)) == 1  # the receipt

    body, url = _click_body(bot, APPROVER, "approve_allocation", allocation_id)
    assert bot.post(body)[0] == 200
    wait_for(
        lambda: allocation_row(outage.books, allocation_id).status == "approved",
        what="the approval after recovery",
    )
    wait_for(lambda: _unsent(outage.books) == 0, timeout=8, what="the decision messages")
    assert bot.responses_to(url) == []
    # One DM per decision: the receipt, edited to show the approval.
    (receipt,) = bot.slack.messages_in(ALICE)
    assert "approved" in receipt["text"].lower()
    assert len(bot.billing_messages()) == 1
    assert check_books(outage.books) == []


# ------------------------------------------------------------ cuts in the middle of work


def test_cuts_during_approvals_leave_each_allocation_whole_or_untouched(
    postgres_outage: Outage, slack: FakeSlack
) -> None:
    outage = postgres_outage
    count = 30
    # Every third request has three lines (one approval posts all three in one transaction),
    # the others one: a cut must leave each request whole or untouched, never some lines.
    sizes = [3 if k % 3 == 2 else 1 for k in range(count)]
    _seed(outage.books, invoices=sum(sizes))
    ledger = Ledger(outage.books)
    lines_of: dict[int, list[int]] = {}
    invoice_numbers = iter(range(1, sum(sizes) + 1))
    for size in sizes:
        typed = [(f"INV-{next(invoice_numbers)}", "10.00") for _ in range(size)]
        summary = ledger.request_lines(ALICE, "PAY-1", typed)
        lines_of[summary.allocation_id] = [line.allocation_id for line in summary.lines]
    ids = list(lines_of)
    h = BotHarness(outage.bot_db, slack)
    try:
        bodies = {aid: _click_body(h, APPROVER, "approve_allocation", aid) for aid in ids}
        told: dict[int, str] = {}
        failures: list[BaseException] = []

        def settled(aid: int) -> bool:
            return allocation_row(outage.books, aid).status != "pending" or bool(
                h.responses_to(bodies[aid][1])
            )

        def hammer(share: list[int]) -> None:
            try:
                for aid in share:
                    body, url = bodies[aid]
                    status, _ = h.post(body)
                    assert status == 200, status
                    wait_for(lambda aid=aid: settled(aid), timeout=10, what=f"click on {aid}")
                    replies = h.responses_to(url)
                    if replies:
                        told[aid] = text_of(replies[-1])
                    time.sleep(0.05)
            except BaseException as exc:
                failures.append(exc)

        workers = [
            threading.Thread(target=hammer, args=(ids[i::3],), daemon=True) for i in range(3)
        ]
        flapper = threading.Thread(target=_flap, args=(outage, 3), daemon=True)
        for worker in workers:
            worker.start()
        flapper.start()  # cut and restore while the clicks are being decided
        for worker in [*workers, flapper]:
            worker.join(30)
            assert not worker.is_alive()
        assert failures == []
        outage.end()

        def statuses_of(aid: int) -> set[str]:
            return {allocation_row(outage.books, line).status for line in lines_of[aid]}

        approved = [aid for aid in ids if statuses_of(aid) == {"approved"}]
        untouched = [aid for aid in ids if statuses_of(aid) == {"pending"}]
        assert sorted(approved + untouched) == ids
        for aid in approved:
            for line in lines_of[aid]:
                assert [row[0] for row in journal_of(outage.books, line)] == ["allocation"] * 2
            assert outbox_of(outage.books, aid) == REQUESTED + APPROVED
        for aid in untouched:
            assert all(journal_of(outage.books, line) == [] for line in lines_of[aid])
            assert outbox_of(outage.books, aid) == REQUESTED
            # Nobody left silent: a click that changed nothing said so.
            assert TRY_AGAIN in told.get(aid, ""), (aid, told.get(aid))
        assert check_books(outage.books) == []
        # The cuts really landed in the middle of the work, and work went on between them.
        assert untouched and approved, (approved, untouched)

        # Clicking again after the outage finishes the job.
        for aid in untouched:
            body, _url = _click_body(h, APPROVER, "approve_allocation", aid)
            assert h.post(body)[0] == 200
        wait_for(
            lambda: all(statuses_of(a) == {"approved"} for a in ids),
            what="every approval after the outage",
        )
        with outage.books.transaction() as session:
            statuses = session.scalars(select(Allocation.status)).all()
        assert statuses == ["approved"] * sum(sizes)
        assert all(outbox_of(outage.books, aid) == REQUESTED + APPROVED for aid in ids)
        assert check_books(outage.books) == []
    finally:
        outage.end()
        h.close()


@pytest.mark.parametrize("lines", [1, 3], ids=["1_line", "3_lines"])
def test_cut_at_the_commit_of_an_approval_rolls_it_back_and_says_try_again(
    postgres_outage: Outage, slack: FakeSlack, lines: int
) -> None:
    outage = postgres_outage
    _seed(outage.books)
    summary = Ledger(outage.books).request_lines(
        ALICE, "PAY-1", [(f"INV-{n}", "50.00") for n in range(1, lines + 1)]
    )
    allocation_id = summary.allocation_id
    line_ids = [line.allocation_id for line in summary.lines]
    before = snapshot(outage.books)
    h = BotHarness(outage.bot_db, slack)
    cuts: list[str] = []

    @event.listens_for(outage.bot_db.engine, "commit")
    def _cut_before_commit(_connection: Any) -> None:
        # Every row of the decision (every line's) is written; the database goes away before
        # COMMIT lands.
        if not cuts:
            cuts.append("cut")
            outage.begin()

    try:
        body, url = _click_body(h, APPROVER, "approve_allocation", allocation_id)
        assert h.post(body)[0] == 200
        assert TRY_AGAIN in _told(h, url)
        assert cuts == ["cut"]
        outage.end()
        assert snapshot(outage.books) == before

        body, url = _click_body(h, APPROVER, "approve_allocation", allocation_id)
        assert h.post(body)[0] == 200
        wait_for(
            lambda: allocation_row(outage.books, allocation_id).status == "approved",
            what="the approval clicked again",
        )
        assert outbox_of(outage.books, allocation_id) == REQUESTED + APPROVED
        for line in line_ids:
            assert allocation_row(outage.books, line).status == "approved"
            assert len(journal_of(outage.books, line)) == 2
        assert check_books(outage.books) == []
    finally:
        event.remove(outage.bot_db.engine, "commit", _cut_before_commit)
        outage.end()
        h.close()


def _flap(outage: Outage, cuts: int) -> None:
    for _ in range(cuts):
        time.sleep(0.2)
        outage.begin()
        time.sleep(0.12)
        outage.end()
