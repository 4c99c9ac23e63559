"""Always current, coalesced: marks in the change's transaction, one publish per person per
burst, nothing lost while Slack fails, no busy polling, one publish across two publishers."""

from __future__ import annotations

import datetime as dt
import itertools
import threading
import time
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient
from sqlalchemy import event, select

from models.home_refresh import EVERY_APPROVER, HomeRefresh
from slackbot.clock import FrozenClock, system_clock
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.outbox.home_queue import (
    HOME_SPACING_SECONDS,
    HomeQueue,
    mark_for_partners,
    mark_stale,
)
from slackbot.outbox.queue import RetryPolicy
from slackbot.slack.home_publisher import HomePublisher
from tests.home.home_data import ACME_MEMBER, ACME_OTHER, BOTH_MEMBER, GLOBEX_MEMBER, two_partners
from tests.support.bot_harness import APPROVER, SECOND_APPROVER, wait_for
from tests.support.slack_stub import FakeSlack

FAST = RetryPolicy(base_seconds=0.05, cap_seconds=0.3, configuration_cap_seconds=0.3)
APPROVERS = (APPROVER, SECOND_APPROVER)


def publisher_for(db: Database, slack: FakeSlack, **options: object) -> HomePublisher:
    client = WebClient(token="xoxb-test-token", base_url=slack.api_url, retry_handlers=[])
    return HomePublisher(
        db,
        lambda _user: client,
        is_approver=lambda user: user in APPROVERS,
        approver_ids=lambda: APPROVERS,
        retry=FAST,
        **options,  # type: ignore[arg-type]
    )


@pytest.fixture
def publisher(db: Database, slack: FakeSlack) -> Iterator[HomePublisher]:
    two_partners(db)
    running = publisher_for(db, slack)
    yield running
    running.stop()


def published_to(slack: FakeSlack) -> dict[str, int]:
    counts: dict[str, int] = {}
    for call in slack.deliveries("views.publish"):
        user = str(call.params.get("user_id"))
        counts[user] = counts.get(user, 0) + 1
    return counts


def last_view_text(slack: FakeSlack, user: str) -> str:
    calls = [c for c in slack.deliveries("views.publish") if c.params.get("user_id") == user]
    return str(calls[-1].params.get("view"))


def row(db: Database, user: str) -> HomeRefresh | None:
    with db.transaction() as session:
        return session.get(HomeRefresh, user)


def test_a_burst_of_50_changes_is_one_publish_per_person(
    db: Database, publisher: HomePublisher, ledger: Ledger, slack: FakeSlack
) -> None:
    # Each request marks the Homes it changes itself (Ledger._owe, in the request's transaction).
    for _ in range(50):
        ledger.request_allocation(ACME_MEMBER, "PAY-A1", "INV-A1", "1.00")
    assert publisher.drain() > 0
    assert published_to(slack) == {
        ACME_MEMBER: 1,
        ACME_OTHER: 1,
        BOTH_MEMBER: 1,
        APPROVER: 1,
        SECOND_APPROVER: 1,
    }
    assert "(50)" in last_view_text(slack, ACME_MEMBER)  # every request, in the one publish
    assert "50 requests waiting" in last_view_text(slack, APPROVER)
    assert publisher.queue.due_count() == 0
    # Nothing more is owed: a second drain publishes nothing.
    assert publisher.drain() == 0 and len(slack.deliveries("views.publish")) == 5


def test_a_mark_rolled_back_with_its_change_marks_nobody(db: Database) -> None:
    two_partners(db)
    with pytest.raises(RuntimeError), db.transaction() as session:
        mark_stale(session, [ACME_MEMBER], at=system_clock())
        raise RuntimeError("the change failed")
    assert row(db, ACME_MEMBER) is None


def test_an_import_marks_the_partners_members_and_the_approvers(db: Database) -> None:
    two_partners(db)
    with db.transaction() as session:
        assert mark_for_partners(session, ["GLOBEX"], at=system_clock()) == 3
    with db.transaction() as session:
        marked = set(session.scalars(select(HomeRefresh.slack_user_id)))
    assert marked == {GLOBEX_MEMBER, BOTH_MEMBER, EVERY_APPROVER}


def test_junk_ids_are_never_marked(db: Database) -> None:
    with db.transaction() as session:
        assert mark_stale(session, ["", "x" * 100, "U1'--", "<@U123>"], at=system_clock()) == 0


def test_a_slack_outage_loses_nothing_the_home_is_published_once_it_answers(
    db: Database, publisher: HomePublisher, slack: FakeSlack
) -> None:
    slack.fail("views.publish", "500", times=2)
    publisher.queue.mark([ACME_MEMBER])
    publisher.start()
    publisher.wake()
    wait_for(lambda: slack.deliveries("views.publish"), what="views.publish after the outage")
    assert len(slack.calls_to("views.publish")) == 3  # two 500s, then the publish
    assert published_to(slack) == {ACME_MEMBER: 1}
    current = wait_for(lambda: (r := row(db, ACME_MEMBER)) is not None and r.due_at is None)
    assert current
    time.sleep(0.4)  # past every backoff: nothing is published again
    assert published_to(slack) == {ACME_MEMBER: 1}


def test_a_failed_publish_records_its_error_and_backs_off(
    db: Database, publisher: HomePublisher, slack: FakeSlack
) -> None:
    slack.fail("views.publish", "slack_error:user_not_found")
    publisher.queue.mark([ACME_MEMBER])
    assert publisher.run_once() == 1
    failed = row(db, ACME_MEMBER)
    assert failed is not None and failed.attempts == 1 and failed.due_at is not None
    assert "user_not_found" in (failed.last_error or "")
    assert failed.claimed_by is None
    assert publisher.run_once() == 0  # not before its backoff


def test_a_change_during_a_publish_is_published_after_it(
    db: Database, publisher: HomePublisher, ledger: Ledger, slack: FakeSlack
) -> None:
    slack.slow("views.publish", 0.6)
    publisher.queue.mark([ACME_MEMBER])
    publisher.start()
    publisher.wake()
    wait_for(lambda: slack.calls_to("views.publish"), what="the slow publish to start")
    ledger.request_allocation(ACME_MEMBER, "PAY-A1", "INV-A1", "7.00")
    publisher.queue.mark([ACME_MEMBER])
    publisher.wake()

    # The request also changes the approvers' queue: count this member's publishes alone.
    def members() -> list[float]:
        return [
            c.at
            for c in slack.deliveries("views.publish")
            if c.params.get("user_id") == ACME_MEMBER
        ]

    # The production spacing: the second publish waits it out after the first.
    wait_for(lambda: len(members()) == 2, HOME_SPACING_SECONDS + 5, what="the second publish")
    first, second = members()
    assert second - first >= HOME_SPACING_SECONDS - 0.7  # the first's 0.6 s answer counted
    assert "7.00" in last_view_text(slack, ACME_MEMBER)


def test_a_burst_of_changes_is_one_publish_per_person_per_spacing(db: Database) -> None:
    """Thirty changes to one Home over twelve seconds: published when first marked, then once
    per spacing with every change since, never sooner; the clock is the queue's own."""
    clock = FrozenClock(dt.datetime(2026, 12, 3, 9, 0, tzinfo=dt.UTC))
    queue = HomeQueue(db, clock=clock)
    published: list[dt.datetime] = []
    for _ in range(30):
        clock.advance(dt.timedelta(seconds=0.4))
        queue.mark([ACME_MEMBER])
        for claimed in queue.claim("w1"):
            assert queue.done(claimed, "w1")
            published.append(clock())
    gaps = [(b - a).total_seconds() for a, b in itertools.pairwise(published)]
    assert len(published) == 3 and all(gap >= HOME_SPACING_SECONDS for gap in gaps), published
    # The changes since the last publish wait, due once the spacing has passed, and not before.
    wait = queue.next_due_in()
    assert wait is not None and 0 < wait <= HOME_SPACING_SECONDS
    clock.advance(dt.timedelta(seconds=wait - 0.1))
    assert queue.claim("w1") == []
    clock.advance(dt.timedelta(seconds=0.1))
    assert [c.user_id for c in queue.claim("w1")] == [ACME_MEMBER]


def test_an_idle_publisher_makes_no_queries(db: Database, publisher: HomePublisher) -> None:
    statements: list[str] = []

    def count(*args: object) -> None:
        statements.append(str(args[2]))

    publisher.start()
    time.sleep(0.3)  # its first look
    event.listen(db.engine, "before_cursor_execute", count)
    try:
        time.sleep(1.2)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert statements == []


def test_a_wake_is_answered_at_once_not_at_the_next_poll(
    db: Database, publisher: HomePublisher, slack: FakeSlack
) -> None:
    publisher.start()
    time.sleep(0.2)
    started = time.monotonic()
    publisher.queue.mark([GLOBEX_MEMBER])
    publisher.wake()
    wait_for(lambda: slack.deliveries("views.publish"), what="the publish after wake")
    assert time.monotonic() - started < 2.0  # the idle poll is 5 s


def test_a_dead_publishers_lease_runs_out_and_another_publishes(
    db: Database, slack: FakeSlack
) -> None:
    two_partners(db)
    queue = HomeQueue(db, lease_seconds=0.2)
    queue.mark([ACME_MEMBER])
    assert [c.user_id for c in queue.claim("dead-worker")] == [ACME_MEMBER]
    other = publisher_for(db, slack, lease_seconds=5)
    assert other.run_once() == 0  # leased to the dead one
    time.sleep(0.3)
    assert other.run_once() == 1
    assert published_to(slack) == {ACME_MEMBER: 1}


def test_two_publishers_publish_each_home_once(db: Database, slack: FakeSlack) -> None:
    two_partners(db)
    people = [f"U0PERSON{n:03d}" for n in range(40)]
    HomeQueue(db).mark(people)
    first, second = publisher_for(db, slack), publisher_for(db, slack)
    threads = [threading.Thread(target=p.drain) for p in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert published_to(slack) == dict.fromkeys(people, 1)


def test_opening_the_home_publishes_at_once_and_a_failure_is_retried_later(
    db: Database, publisher: HomePublisher, slack: FakeSlack
) -> None:
    slack.fail("views.publish", "503")
    assert publisher.publish_now(ACME_MEMBER) is False
    due = row(db, ACME_MEMBER)
    assert due is not None and due.due_at is not None
    assert publisher.drain() == 1
    assert published_to(slack) == {ACME_MEMBER: 1}


def test_an_import_that_changes_a_partners_invoices_marks_its_members_and_the_approvers(
    db: Database, publisher: HomePublisher, slack: FakeSlack
) -> None:
    import io

    from slackbot.erp.imports import import_csv

    unchanged = import_csv(db, "partners", io.StringIO("partner_id,name\nACME,Acme Corp\n"))
    assert (unchanged.inserted, unchanged.updated) == (0, 0)
    assert publisher.drain() == 0  # an import that changed nothing marks nobody

    import_csv(
        db,
        "invoices",
        io.StringIO(
            "invoice_id,partner_id,amount,currency,issued_on,due_on\n"
            "INV-NEW,ACME,80.00,USD,2026-11-20,2026-12-20\n"
        ),
    )
    publisher.drain()

    assert set(published_to(slack)) == {ACME_MEMBER, ACME_OTHER, BOTH_MEMBER, *APPROVERS}
    assert GLOBEX_MEMBER not in published_to(slack)
