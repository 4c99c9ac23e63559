"""Deciding reminders once: due at the right business time, owed once, never when decided."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from sqlalchemy import delete, select, update

from models.enums import Audience, OutboxKind, ReminderStage
from models.home_refresh import EVERY_APPROVER, HomeRefresh
from models.reminders import DailyDigest, RequestReminder
from models.tables import OutboxMessage
from slackbot.business_time import ReminderRules, reminder_rules
from slackbot.clock import FrozenClock
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.ledger.reminders import RemindersRun, next_due, run_reminders
from tests.reminders.support import (
    APPROVER,
    MONDAY_10,
    RULES,
    paris,
    reminder_rows,
    request_at,
)


def payload_of(db: Database, kind: OutboxKind) -> dict[str, object]:
    with db.transaction(read_only=True) as session:
        (payload,) = session.scalars(
            select(OutboxMessage.payload).where(OutboxMessage.kind == kind)
        ).all()
        return dict(payload)


def look(db: Database, moment: dt.datetime, rules: ReminderRules = RULES) -> RemindersRun:
    return run_reminders(db, FrozenClock(moment), rules)


# --------------------------------------------------------------------------------- reminding


def forget_marked_homes(db: Database) -> None:
    with db.transaction() as session:
        session.execute(delete(HomeRefresh))


def test_a_request_is_reminded_once_when_it_has_waited_four_business_hours(books: Database) -> None:
    request = request_at(books, MONDAY_10)
    forget_marked_homes(books)  # the request's own marks: this test reads the reminder's

    run = look(books, paris(2026, 11, 23, 13, 59, 59))
    assert reminder_rows(books) == [] and not run.reminded

    run = look(books, paris(2026, 11, 23, 14))
    assert run.reminded == (request,)
    assert reminder_rows(books) == [(OutboxKind.REQUEST_REMINDED, request, Audience.BILLING)]
    assert payload_of(books, OutboxKind.REQUEST_REMINDED) == {
        "requested_by": "U1",
        "stage": "remind",
        "business_seconds": 4 * 3600,
    }

    with books.transaction(read_only=True) as session:
        stale = set(session.scalars(select(HomeRefresh.slack_user_id)))
    assert stale == {EVERY_APPROVER}  # "U1" is no Slack id: no Home to publish
    alice = request_at(books, MONDAY_10, "INV-2", user="U0ALICE")
    forget_marked_homes(books)
    assert look(books, paris(2026, 11, 23, 14, 30)).reminded == (alice,)
    with books.transaction(read_only=True) as session:
        stale = set(session.scalars(select(HomeRefresh.slack_user_id)))
    assert stale == {EVERY_APPROVER, "U0ALICE"}  # their Homes show the reminder

    for later in (paris(2026, 11, 23, 14), paris(2026, 11, 23, 17), paris(2026, 11, 24, 10)):
        look(books, later)
    assert len(reminder_rows(books)) == 2


def test_after_twenty_four_business_hours_billing_is_escalated_and_the_partner_told(
    books: Database,
) -> None:
    request = request_at(books, MONDAY_10)
    look(books, paris(2026, 11, 23, 14))
    # Monday 8h, Tuesday 9h, Wednesday 7h: Wednesday 16:00.
    look(books, paris(2026, 11, 25, 15, 59))
    assert len(reminder_rows(books)) == 1

    run = look(books, paris(2026, 11, 25, 16))

    assert run.escalated == (request,) and run.reminded == ()
    assert reminder_rows(books) == [
        (OutboxKind.REQUEST_REMINDED, request, Audience.BILLING),
        (OutboxKind.REQUEST_ESCALATED, request, Audience.BILLING),
        (OutboxKind.REQUEST_CHASED, request, Audience.REQUESTER),
    ]
    look(books, paris(2026, 12, 10, 12))
    assert len(reminder_rows(books)) == 3


def test_a_request_first_seen_past_escalation_is_escalated_not_also_reminded(
    books: Database,
) -> None:
    request = request_at(books, MONDAY_10)

    look(books, paris(2026, 12, 1, 12))

    assert [kind for kind, _, _ in reminder_rows(books)] == [
        OutboxKind.REQUEST_ESCALATED,
        OutboxKind.REQUEST_CHASED,
    ]
    with books.transaction(read_only=True) as session:
        stages = {
            (row.stage, row.owed)
            for row in session.scalars(
                select(RequestReminder).where(RequestReminder.request_id == request)
            )
        }
    assert stages == {(ReminderStage.REMIND, False), (ReminderStage.ESCALATE, True)}


def test_a_request_made_at_night_counts_from_the_opening(books: Database) -> None:
    request_at(books, paris(2026, 11, 27, 22))  # Friday night
    look(books, paris(2026, 11, 30, 12, 59))  # Monday
    assert reminder_rows(books) == []
    look(books, paris(2026, 11, 30, 13))
    assert len(reminder_rows(books)) == 1


def test_a_request_of_several_lines_is_reminded_once(books: Database) -> None:
    ledger = Ledger(books, clock=FrozenClock(MONDAY_10))
    summary = ledger.request_lines("U1", "PAY-1", [("INV-1", "10.00"), ("INV-2", "20.00")])
    look(books, paris(2026, 11, 23, 15))
    assert reminder_rows(books) == [
        (OutboxKind.REQUEST_REMINDED, summary.allocation_id, Audience.BILLING)
    ]


@pytest.mark.parametrize("decision", ["approve", "reject", "cancel"])
def test_a_decided_request_is_never_reminded(books: Database, decision: str) -> None:
    request = request_at(books, MONDAY_10)
    ledger = Ledger(books, clock=FrozenClock(paris(2026, 11, 23, 13)))
    if decision == "approve":
        ledger.approve(request, APPROVER)
    elif decision == "reject":
        ledger.reject(request, APPROVER, "wrong invoice")
    else:
        ledger.cancel(request, "U1")

    for moment in (paris(2026, 11, 23, 14), paris(2026, 12, 20, 12)):
        run = look(books, moment)
        assert not run.reminded and not run.escalated
    assert reminder_rows(books) == []


def test_a_stage_that_is_off_is_never_decided(books: Database) -> None:
    request_at(books, MONDAY_10)
    look(books, paris(2026, 12, 20, 12), reminder_rules(escalate_after="off"))
    assert [kind for kind, _, _ in reminder_rows(books)] == [OutboxKind.REQUEST_REMINDED]


def test_a_backlog_is_worked_off_a_batch_per_look(books: Database) -> None:
    requests = [request_at(books, MONDAY_10, f"INV-{n}") for n in range(1, 6)]
    first = run_reminders(books, FrozenClock(paris(2026, 11, 23, 15)), RULES, batch=2)
    assert first.reminded == tuple(requests[:2]) and first.more
    run_reminders(books, FrozenClock(paris(2026, 11, 23, 15)), RULES, batch=2)
    last = run_reminders(books, FrozenClock(paris(2026, 11, 23, 15)), RULES, batch=2)
    assert last.reminded == tuple(requests[4:]) and not last.more
    assert sorted(a for _, a, _ in reminder_rows(books)) == requests


def test_next_due_names_the_next_reminder_or_opening(books: Database) -> None:
    # Nothing waits: the next opening (the digest's moment).
    assert next_due(books, RULES, paris(2026, 11, 27, 19)) == paris(2026, 11, 30, 9)
    request_at(books, MONDAY_10)
    # Monday 09:30 with today's digest not decided: now.
    assert next_due(books, RULES, paris(2026, 11, 23, 10, 30)) == paris(2026, 11, 23, 10, 30)
    look(books, paris(2026, 11, 23, 10, 30))  # decides today's digest
    assert next_due(books, RULES, paris(2026, 11, 23, 10, 30)) == paris(2026, 11, 23, 14)
    look(books, paris(2026, 11, 23, 14))
    assert next_due(books, RULES, paris(2026, 11, 23, 14)) == paris(2026, 11, 24, 9)
    look(books, paris(2026, 11, 24, 9))
    # Wednesday's digest comes before the escalation at 16:00.
    assert next_due(books, RULES, paris(2026, 11, 24, 9)) == paris(2026, 11, 25, 9)
    look(books, paris(2026, 11, 25, 9))
    assert next_due(books, RULES, paris(2026, 11, 25, 9)) == paris(2026, 11, 25, 16)


# ------------------------------------------------------------------------------- the digest


def test_the_digest_is_owed_once_per_business_day_at_opening(books: Database) -> None:
    first = request_at(books, paris(2026, 11, 20, 11))  # Friday
    request_at(books, paris(2026, 11, 20, 15), "INV-B", user="U2")
    request_at(books, paris(2026, 11, 20, 16), "INV-2")

    assert look(books, paris(2026, 11, 21, 9)).digest is None
    assert look(books, paris(2026, 11, 23, 8, 59)).digest is None
    run = look(books, paris(2026, 11, 23, 9))
    assert run.digest == dt.date(2026, 11, 23)
    for moment in (paris(2026, 11, 23, 9), paris(2026, 11, 23, 12), paris(2026, 11, 23, 17)):
        assert look(books, moment).digest is None
    assert look(books, paris(2026, 11, 24, 9, 0, 5)).digest == dt.date(2026, 11, 24)

    digests = [
        row for row in reminder_rows(books, digests=True) if row[0] == OutboxKind.DAILY_DIGEST
    ]
    assert digests == [(OutboxKind.DAILY_DIGEST, None, Audience.BILLING)] * 2
    with books.transaction(read_only=True) as session:
        (monday, _) = session.scalars(
            select(OutboxMessage.payload)
            .where(OutboxMessage.kind == OutboxKind.DAILY_DIGEST)
            .order_by(OutboxMessage.message_id)
        ).all()
    assert monday["waiting"] == 3
    assert monday["oldest"]["request_id"] == first
    assert monday["oldest"]["business_seconds"] == 7 * 3600  # Friday 11:00 to 18:00
    assert [(p["partner_id"], p["waiting"]) for p in monday["partners"]] == [("P1", 2), ("P2", 1)]
    assert monday["partners"][0]["totals"] == [{"currency": "EUR", "amount": 20000}]


def test_a_day_with_nothing_waiting_posts_no_digest(books: Database) -> None:
    run = look(books, paris(2026, 11, 23, 9))
    assert run.digest is None
    with books.transaction(read_only=True) as session:
        (day,) = session.scalars(select(DailyDigest)).all()
    assert day.business_date == dt.date(2026, 11, 23) and day.waiting == 0
    # A request made later that day does not bring the day's digest back.
    request_at(books, paris(2026, 11, 23, 10))
    assert look(books, paris(2026, 11, 23, 11)).digest is None
    assert reminder_rows(books) == []


# --------------------------------------------------------------------- many processes at once


def test_processes_racing_owe_each_reminder_once(books: Database) -> None:
    requests = [request_at(books, MONDAY_10, f"INV-{n}") for n in range(1, 6)]
    requests.append(request_at(books, MONDAY_10, "INV-B", user="U2"))
    url = books.engine.url.render_as_string(hide_password=False)
    processes = [Database(url) for _ in range(4)]
    moments = [paris(2026, 11, 23, 14), paris(2026, 11, 25, 16), paris(2026, 11, 26, 9)]
    errors: list[BaseException] = []
    try:
        for moment in moments:
            start = threading.Barrier(len(processes))

            def race(
                database: Database, moment: dt.datetime = moment, start: threading.Barrier = start
            ) -> None:
                try:
                    start.wait(timeout=10)
                    for _ in range(5):
                        run_reminders(database, FrozenClock(moment), RULES, batch=2)
                except BaseException as exc:  # collected, so the test names it
                    errors.append(exc)

            threads = [threading.Thread(target=race, args=(p,)) for p in processes]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=60)
    finally:
        for database in processes:
            database.dispose()

    assert errors == []
    rows = reminder_rows(books, digests=True)
    for request in requests:
        mine = sorted(kind for kind, allocation, _ in rows if allocation == request)
        assert mine == sorted(
            [OutboxKind.REQUEST_REMINDED, OutboxKind.REQUEST_ESCALATED, OutboxKind.REQUEST_CHASED]
        ), request
    digests = [row for row in rows if row[0] == OutboxKind.DAILY_DIGEST]
    # Monday, Wednesday, Thursday: one each.
    assert len(digests) == 3


def _remind_in_a_process(url: str, moment: dt.datetime, start: object, looks: int) -> None:
    """One bot process's reminder looks (run in a process of its own by the test below)."""
    database = Database(url)
    try:
        start.wait(timeout=30)  # type: ignore[attr-defined]
        for _ in range(looks):
            run_reminders(database, FrozenClock(moment), RULES, batch=2)
    finally:
        database.dispose()


def test_two_bot_processes_at_the_same_frozen_moment_owe_each_reminder_once(
    books: Database,
) -> None:
    # Two real OS processes (not threads sharing one interpreter), each with its own engine,
    # look at the same business moments at once, as two `slackbot serve` would.
    import multiprocessing

    requests = [request_at(books, MONDAY_10, f"INV-{n}") for n in range(1, 4)]
    url = books.engine.url.render_as_string(hide_password=False)
    spawn = multiprocessing.get_context("spawn")
    for moment in (paris(2026, 11, 23, 14), paris(2026, 11, 25, 16)):
        start = spawn.Barrier(2)
        workers = [
            spawn.Process(target=_remind_in_a_process, args=(url, moment, start, 3))
            for _ in range(2)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(timeout=120)
        assert [worker.exitcode for worker in workers] == [0, 0]

    rows = reminder_rows(books, digests=True)
    for request in requests:
        mine = sorted(kind for kind, allocation, _ in rows if allocation == request)
        assert mine == sorted(
            [OutboxKind.REQUEST_REMINDED, OutboxKind.REQUEST_ESCALATED, OutboxKind.REQUEST_CHASED]
        ), request
    # Monday's and Wednesday's openings had passed: one digest each, not one per process.
    assert len([row for row in rows if row[0] == OutboxKind.DAILY_DIGEST]) == 2


def test_a_waiting_reminder_does_not_stand_in_for_a_balance_edit(books: Database) -> None:
    # Found by the stress run: a request with an unsent reminder (a reply in its billing
    # thread) was owed no edit when another decision moved the balances its message shows,
    # because "an unsent billing row renders the balances when it goes out". A reply renders
    # no balances: the edit is owed all the same.
    from slackbot.outbox.owed import owe_balance_refreshes

    request = request_at(books, MONDAY_10)
    with books.transaction() as session:  # the request's own billing post went out
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.kind == OutboxKind.ALLOCATION_REQUESTED)
            .values(sent_at=MONDAY_10)
        )
    assert look(books, paris(2026, 11, 23, 14)).reminded == (request,)
    assert [kind for kind, _, _ in reminder_rows(books)] == [OutboxKind.REQUEST_REMINDED]

    with books.transaction() as session:
        added = owe_balance_refreshes(session, [(request, "U1")], paris(2026, 11, 23, 15))

    assert added == 1
    with books.transaction(read_only=True) as session:
        edits = session.scalars(
            select(OutboxMessage.allocation_id).where(
                OutboxMessage.kind == OutboxKind.BALANCES_CHANGED
            )
        ).all()
    assert edits == [request]
