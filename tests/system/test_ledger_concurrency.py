"""Races: many threads deciding and requesting at once leave exactly one outcome and right books.

PostgreSQL runs every race with more threads (row locks are what is under test there); SQLite
runs them smaller, since its BEGIN IMMEDIATE must serialize the same races.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import func, select

from models.schemas import Actor
from models.tables import Allocation, Invoice, JournalEntry, Payment
from slackbot.db import Database, make_engine
from slackbot.errors import AlreadyDecided, InsufficientFunds, InvalidInput
from slackbot.ledger import Ledger
from slackbot.ledger.books import check_books
from tests.conftest import FixedClock
from tests.support.factories import add_invoice, add_partner, add_payment

# A race that has not finished by then is a deadlock or a lock wait that never ends.
RACE_TIMEOUT = 30.0
# Each race that has a multi-line variant runs once with a one-line request and once with three
# lines: what holds per allocation must hold per request.
LINES = pytest.mark.parametrize("lines", [1, 3], ids=["1_line", "3_lines"])


POSTGRES_THREADS = 12


def threads_for(db: Database) -> int:
    return POSTGRES_THREADS if db.dialect == "postgresql" else 8


@pytest.fixture
def db(db: Database) -> Iterator[Database]:
    """The test ledger; on PostgreSQL through a pool holding one open connection per thread.

    A race is about row locks, not about a dozen PostgreSQL backends starting at the same
    instant on a loaded machine: under the parallel suite some missed the bot's 2 s
    connect timeout ("connection timeout expired") before taking part at all.
    """
    if db.dialect != "postgresql":
        yield db
        return
    url = db.engine.url.render_as_string(hide_password=False)
    warm = Database(make_engine(url, pool_size=POSTGRES_THREADS))
    connections = [warm.engine.connect() for _ in range(POSTGRES_THREADS)]
    for connection in connections:
        connection.close()
    yield warm
    warm.dispose()


@dataclass
class Outcomes:
    results: list[tuple[int, Any]] = field(default_factory=list)
    errors: list[tuple[int, BaseException]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def unexpected(self, allowed: tuple[type[BaseException], ...]) -> list[BaseException]:
        return [e for _, e in self.errors if not isinstance(e, allowed)]


def race(count: int, work: Callable[[int, Outcomes], None]) -> Outcomes:
    """Run ``work(thread_index, outcomes)`` on ``count`` threads released at the same moment."""
    outcomes = Outcomes()
    barrier = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=RACE_TIMEOUT)
            work(index, outcomes)
        except BaseException as error:  # the main thread reports it
            with outcomes.lock:
                outcomes.errors.append((index, error))

    threads = [threading.Thread(target=run, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=RACE_TIMEOUT)
    stuck = [t.name for t in threads if t.is_alive()]
    assert not stuck, f"threads still running after {RACE_TIMEOUT}s (deadlock?): {stuck}"
    return outcomes


def attempt(outcomes: Outcomes, index: int, call: Callable[[], Any]) -> None:
    try:
        result = call()
    except (AlreadyDecided, InsufficientFunds, InvalidInput) as refusal:
        with outcomes.lock:
            outcomes.errors.append((index, refusal))
        return
    with outcomes.lock:
        outcomes.results.append((index, result))


def entries_per_allocation(db: Database) -> dict[tuple[int, str], int]:
    with db.transaction() as session:
        rows = session.execute(
            select(JournalEntry.allocation_id, JournalEntry.kind, func.count()).group_by(
                JournalEntry.allocation_id, JournalEntry.kind
            )
        ).all()
    return {(a, k): n for a, k, n in rows}


# ------------------------------------------------------------------ decisions


def test_racing_decisions_leave_exactly_one_per_allocation(db: Database) -> None:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 1_000_000, "USD")
    add_invoice(db, "INV-1", "P1", 1_000_000, "USD")
    ledger = Ledger(db, clock=FixedClock())
    allocation_ids = [
        ledger.request_allocation("U1", "PAY-1", "INV-1", 1000 + n).allocation_id for n in range(10)
    ]
    verbs = ["approve", "reject", "cancel"]

    def decide(index: int, outcomes: Outcomes) -> None:
        verb = verbs[index % 3]
        approver = Actor(user_id=f"B{index}", can_approve=True)
        order = list(allocation_ids)
        random.Random(index).shuffle(order)
        for allocation_id in order:
            if verb == "approve":
                attempt(outcomes, index, lambda a=allocation_id: ledger.approve(a, approver))
            elif verb == "reject":
                attempt(outcomes, index, lambda a=allocation_id: ledger.reject(a, approver, "no"))
            else:
                attempt(outcomes, index, lambda a=allocation_id: ledger.cancel(a, "U1"))

    count = threads_for(db)
    outcomes = race(count, decide)

    assert outcomes.unexpected((AlreadyDecided,)) == []
    winners = Counter(summary.allocation_id for _, summary in outcomes.results)
    assert winners == dict.fromkeys(allocation_ids, 1)
    # Every other attempt lost, and was told so.
    assert len(outcomes.errors) == count * len(allocation_ids) - len(allocation_ids)
    with db.transaction() as session:
        status = dict(session.execute(select(Allocation.allocation_id, Allocation.status)).all())
        payment = session.get_one(Payment, "PAY-1")
        invoice = session.get_one(Invoice, "INV-1")
    for _, summary in outcomes.results:
        assert status[summary.allocation_id] == summary.status
    for _, loss in outcomes.errors:
        assert isinstance(loss, AlreadyDecided)
        assert loss.status == status[loss.allocation_id]
    entries = entries_per_allocation(db)
    approved = [a for a in allocation_ids if status[a] == "approved"]
    assert entries == {(a, "allocation"): 1 for a in approved}
    approved_total = sum(1000 + allocation_ids.index(a) for a in approved)
    assert (payment.allocated, payment.pending) == (approved_total, 0)
    assert (invoice.applied, invoice.pending) == (approved_total, 0)
    assert check_books(db) == []


@LINES
def test_racing_reversals_post_one_compensating_entry(db: Database, lines: int) -> None:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    for n in range(1, lines + 1):
        add_invoice(db, f"INV-{n}", "P1", 100_000, "USD")
    ledger = Ledger(db, clock=FixedClock())
    amounts = [40_000, 30_000, 20_000][:lines]
    summary = ledger.request_lines(
        "U1", "PAY-1", [(f"INV-{n}", a) for n, a in enumerate(amounts, start=1)]
    )
    line_ids = [line.allocation_id for line in summary.lines]
    ledger.approve(summary.allocation_id, Actor(user_id="B0", can_approve=True))

    def reverse(index: int, outcomes: Outcomes) -> None:
        actor = Actor(user_id=f"B{index}", can_approve=True)
        # Reversers click different lines' buttons: all name the same request.
        line_id = line_ids[index % lines]
        attempt(outcomes, index, lambda: ledger.reverse(line_id, actor, "duplicate"))

    count = threads_for(db)
    outcomes = race(count, reverse)

    assert outcomes.unexpected((AlreadyDecided,)) == []
    assert len(outcomes.results) == 1
    assert len(outcomes.errors) == count - 1
    assert {e.allocation_id for _, e in outcomes.errors} == {summary.allocation_id}
    assert entries_per_allocation(db) == {
        (a, kind): 1 for a in line_ids for kind in ("allocation", "reversal")
    }
    with db.transaction() as session:
        assert set(session.scalars(select(Allocation.status))) == {"reversed"}
        assert session.get_one(Payment, "PAY-1").allocated == 0
        assert set(session.scalars(select(Invoice.applied))) == {0}
    assert check_books(db) == []


# ------------------------------------------------------------------- requests


def test_racing_requests_never_reserve_more_than_there_is(db: Database) -> None:
    add_partner(db, "P1", "Acme", members=[f"U{i}" for i in range(16)])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    add_payment(db, "PAY-2", "P1", 60_000, "USD")
    add_invoice(db, "INV-1", "P1", 70_000, "USD")
    add_invoice(db, "INV-2", "P1", 50_000, "USD")
    ledger = Ledger(db, clock=FixedClock())
    pairs = [(p, i) for p in ("PAY-1", "PAY-2") for i in ("INV-1", "INV-2")]
    per_thread = 8

    def request(index: int, outcomes: Outcomes) -> None:
        rng = random.Random(1000 + index)
        for _ in range(per_thread):
            payment_id, invoice_id = rng.choice(pairs)
            amount = rng.randint(2_000, 15_000)
            attempt(
                outcomes,
                index,
                lambda p=payment_id, i=invoice_id, a=amount: ledger.request_allocation(
                    f"U{index}", p, i, a
                ),
            )

    count = threads_for(db)
    outcomes = race(count, request)

    # 12 x 8 requests averaging 85.00 ask for far more than the 1,200.00 the invoices owe.
    assert outcomes.unexpected((InsufficientFunds, InvalidInput)) == []
    assert outcomes.results, "no request succeeded"
    assert outcomes.errors, "the requests never exceeded what was there"
    reserved_on: Counter[str] = Counter()
    for _, summary in outcomes.results:
        reserved_on[summary.payment_id] += summary.amount
        reserved_on[summary.invoice_id] += summary.amount
    with db.transaction() as session:
        payments = {p.payment_id: p for p in session.scalars(select(Payment))}
        invoices = {i.invoice_id: i for i in session.scalars(select(Invoice))}
        stored = session.scalar(select(func.count()).select_from(Allocation))
    assert stored == len(outcomes.results)
    for payment_id, payment in payments.items():
        assert payment.pending == reserved_on[payment_id]
        assert payment.allocated + payment.pending <= payment.amount
    for invoice_id, invoice in invoices.items():
        assert invoice.pending == reserved_on[invoice_id]
        assert invoice.pending <= invoice.amount_due
    assert check_books(db) == []


@LINES
def test_racing_deliveries_of_one_request_reserve_once(db: Database, lines: int) -> None:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    for n in range(1, lines + 1):
        add_invoice(db, f"INV-{n}", "P1", 100_000, "USD")
    ledger = Ledger(db, clock=FixedClock())
    typed = [(f"INV-{n}", "250.00") for n in range(1, lines + 1)]

    def deliver(index: int, outcomes: Outcomes) -> None:
        attempt(
            outcomes,
            index,
            lambda: ledger.request_lines("U1", "PAY-1", typed, request_key="view-42"),
        )

    outcomes = race(threads_for(db), deliver)

    assert outcomes.errors == []
    assert len({summary.allocation_id for _, summary in outcomes.results}) == 1
    assert sum(not summary.replayed for _, summary in outcomes.results) == 1
    # Every delivery, the first or a replay, reads the one request with all its lines.
    for _, summary in outcomes.results:
        assert [(line.invoice_id, line.amount) for line in summary.lines] == [
            (invoice_id, 25_000) for invoice_id, _ in typed
        ]
    with db.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Allocation)) == lines
        assert session.get_one(Payment, "PAY-1").pending == 25_000 * lines
        assert set(session.scalars(select(Invoice.pending))) == {25_000}
    assert check_books(db) == []


# ---------------------------------------------------------------------- mixed


def test_mixed_requests_and_decisions_keep_the_books_right(db: Database) -> None:
    add_partner(db, "P1", "Acme", members=[f"U{i}" for i in range(16)])
    for n in range(3):
        add_payment(db, f"PAY-{n}", "P1", 50_000, "USD")
        add_invoice(db, f"INV-{n}", "P1", 40_000, "USD")
    ledger = Ledger(db, clock=FixedClock())
    rounds = 10

    def pending_ids() -> list[int]:
        with db.transaction() as session:
            return list(
                session.scalars(
                    select(Allocation.allocation_id).where(Allocation.status == "pending")
                )
            )

    count = threads_for(db)
    requesting = [(count + 1) // 2]  # the even-numbered threads request, the odd decide
    requesting_lock = threading.Lock()

    def request_rounds(rng: random.Random, index: int, outcomes: Outcomes) -> None:
        for round_no in range(rounds):
            # Every other request has three lines over the shared invoices, in its own
            # order; deciders pick any line's id, which decides the whole request.
            size = 3 if round_no % 2 else 1
            p = f"PAY-{rng.randrange(3)}"
            invoices = rng.sample(range(3), size)
            typed = [(f"INV-{i}", rng.randint(1_000, 9_000)) for i in invoices]
            attempt(
                outcomes,
                index,
                lambda p=p, t=typed: ledger.request_lines(f"U{index}", p, t),
            )

    def act(index: int, outcomes: Outcomes) -> None:
        rng = random.Random(index)
        approver = Actor(user_id=f"B{index}", can_approve=True)
        if index % 2 == 0:
            try:
                request_rounds(rng, index, outcomes)
            finally:
                with requesting_lock:
                    requesting[0] -= 1
            return
        for _round in range(rounds):
            # A decider that finds nothing pending waits while requesters are still at work
            # rather than spending its round: otherwise, when the deciders happen to start
            # first, they finish before any three-line request exists and none is decided.
            ids = pending_ids()
            while not ids and requesting[0] > 0:
                time.sleep(0.005)
                ids = pending_ids()
            if not ids:
                continue
            target = rng.choice(ids)
            if index % 4 == 1:
                attempt(outcomes, index, lambda t=target: ledger.approve(t, approver))
            else:
                attempt(outcomes, index, lambda t=target: ledger.reject(t, approver, "no"))

    outcomes = race(count, act)

    assert outcomes.unexpected((AlreadyDecided, InsufficientFunds, InvalidInput)) == []
    statuses = Counter(summary.status for _, summary in outcomes.results)
    assert statuses["pending"] > 0
    decided_ids = [s.allocation_id for _, s in outcomes.results if s.status != "pending"]
    assert len(decided_ids) == len(set(decided_ids)), "an allocation was decided twice"
    with db.transaction() as session:
        rows = session.execute(
            select(Allocation.allocation_id, Allocation.request_id, Allocation.status)
        ).all()
    status = {row.allocation_id: row.status for row in rows}
    by_request: dict[int, set[str]] = {}
    for row in rows:
        by_request.setdefault(row.request_id, set()).add(row.status)
    # A request is decided whole: its lines never disagree.
    assert all(len(statuses) == 1 for statuses in by_request.values()), by_request
    sizes = Counter(row.request_id for row in rows)
    assert {1, 3} <= set(sizes.values()), sizes
    assert any(sizes[r] == 3 and s != {"pending"} for r, s in by_request.items()), by_request
    approved = {a for a, s in status.items() if s == "approved"}
    assert entries_per_allocation(db) == {(a, "allocation"): 1 for a in approved}
    assert check_books(db) == []


# ----------------------------------------------------------- requests with several lines


def test_racing_multi_line_requests_for_the_last_money_one_wins_whole(db: Database) -> None:
    # Every thread asks for the payment's last 1,000.00 over five lines of shared invoices, in
    # its own line order: exactly one request wins with all its lines, no line of a loser stays.
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    for n in range(1, 6):
        add_invoice(db, f"INV-{n}", "P1", 50_000, "USD")
    ledger = Ledger(db, clock=FixedClock())
    amounts = [30_000, 25_000, 20_000, 15_000, 10_000]  # 1,000.00 in all

    def request(index: int, outcomes: Outcomes) -> None:
        lines = [(f"INV-{n}", amount) for n, amount in enumerate(amounts, start=1)]
        random.Random(index).shuffle(lines)
        attempt(
            outcomes,
            index,
            lambda: ledger.request_lines("U1", "PAY-1", lines),
        )

    count = threads_for(db)
    outcomes = race(count, request)

    assert outcomes.unexpected((InsufficientFunds,)) == []
    with db.transaction() as session:
        payment = session.get_one(Payment, "PAY-1")
        rows = session.execute(
            select(Allocation.request_id, Allocation.invoice_id, Allocation.amount)
        ).all()
        invoices = {i.invoice_id: i.pending for i in session.scalars(select(Invoice))}
    reserved = sum(summary.amount for _, summary in outcomes.results)
    assert payment.pending == reserved == sum(row.amount for row in rows) <= payment.amount
    # Every request that got in got in whole: its rows are its summary's lines.
    winners = {summary.allocation_id: summary for _, summary in outcomes.results}
    assert {row.request_id for row in rows} == set(winners)
    for summary in winners.values():
        assert sorted((line.invoice_id, line.amount) for line in summary.lines) == sorted(
            (row.invoice_id, row.amount) for row in rows if row.request_id == summary.allocation_id
        )
    for invoice_id, pending in invoices.items():
        assert pending == sum(row.amount for row in rows if row.invoice_id == invoice_id)
    assert len(winners) == 1 and reserved == 100_000
    assert len(outcomes.errors) == count - 1
    assert check_books(db) == []


def test_racing_approvers_on_one_request_decide_it_once(db: Database) -> None:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    for n in range(1, 8):
        add_invoice(db, f"INV-{n}", "P1", 50_000, "USD")
    ledger = Ledger(db, clock=FixedClock())
    summary = ledger.request_lines("U1", "PAY-1", [(f"INV-{n}", 10_000) for n in range(1, 8)])
    line_ids = [line.allocation_id for line in summary.lines]

    def decide(index: int, outcomes: Outcomes) -> None:
        approver = Actor(user_id=f"B{index}", can_approve=True)
        # Each approver clicks a different line's button: all name the same request.
        line_id = line_ids[index % len(line_ids)]
        if index % 2:
            attempt(outcomes, index, lambda: ledger.reject(line_id, approver, "no"))
        else:
            attempt(outcomes, index, lambda: ledger.approve(line_id, approver))

    count = threads_for(db)
    outcomes = race(count, decide)

    assert outcomes.unexpected((AlreadyDecided,)) == []
    assert len(outcomes.results) == 1
    assert len(outcomes.errors) == count - 1
    ((_, decided),) = outcomes.results
    assert all(
        isinstance(e, AlreadyDecided) and e.allocation_id == line_ids[0] for _, e in outcomes.errors
    )
    with db.transaction() as session:
        statuses = set(session.scalars(select(Allocation.status)))
        payment = session.get_one(Payment, "PAY-1")
    assert statuses == {decided.status}
    entries = entries_per_allocation(db)
    if decided.status == "approved":
        assert entries == {(a, "allocation"): 1 for a in line_ids}
        assert (payment.allocated, payment.pending) == (70_000, 0)
    else:
        assert entries == {}
        assert (payment.allocated, payment.pending) == (0, 0)
    assert check_books(db) == []
