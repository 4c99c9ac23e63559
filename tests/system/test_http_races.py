"""Racing clicks through the HTTP app: one decision per allocation, and every loser told who won.

Requests are fired together from threads behind a ``threading.Barrier``. PostgreSQL decides the
races with row locks, SQLite with its single writer; both must end the same way.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import select

from models.enums import OutboxKind
from models.tables import Allocation, Invoice
from slackbot.db import Database
from slackbot.ledger.books import check_books
from tests.slack.test_remittance_flow import _slots, _state
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import (
    APPROVER,
    BILLING_CHANNEL,
    SECOND_APPROVER,
    BotHarness,
    action_ids,
    text_of,
    wait_for,
)
from tests.support.factories import (
    add_invoice,
    add_partner,
    add_payment,
    allocation_row,
    audit_of,
    journal_of,
    outbox_of,
    payment_row,
)
from tests.support.slack_stub import dm_channel_for

BALANCES_CHANGED = OutboxKind.BALANCES_CHANGED

ALICE = "U0ALICE"
DECISIONS = {"allocation.approved", "allocation.rejected", "allocation.cancelled"}
REQUESTED = [("allocation_requested", "billing"), ("allocation_requested", "requester")]
OWED_FOR = {
    "approved": [
        ("allocation_approved", "billing"),
        ("allocation_approved", "receipt"),
    ],
    "rejected": [
        ("allocation_rejected", "billing"),
        ("allocation_rejected", "receipt"),
    ],
    "cancelled": [("allocation_cancelled", "billing"), ("allocation_cancelled", "receipt")],
}
# Long enough for a listener that lost a race to have answered, had it wrongly answered twice.
SETTLE_SECONDS = 0.3


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE])
    add_payment(db, "PAY-1", "P-ACME", 10_000_000, "USD", reference="Wire")
    for n in range(1, 9):
        add_invoice(db, f"INV-{n}", "P-ACME", 100_000, "USD")
    return db


def _requested(h: BotHarness, count: int) -> list[int]:
    """``count`` pending requests of 100.00 each, their billing posts and receipts delivered."""
    ids = [
        h.bot.ledger.request_allocation(ALICE, "PAY-1", f"INV-{n}", "100.00").allocation_id
        for n in range(1, count + 1)
    ]
    h.deliver()
    return ids


def _billing_message(h: BotHarness, allocation_id: int) -> dict[str, Any]:
    for message in h.billing_messages():
        if f"approve_allocation:{allocation_id}" in action_ids(message):
            return message
    raise AssertionError(f"no billing message with buttons for #{allocation_id}")


def _receipt(h: BotHarness, allocation_id: int) -> dict[str, Any]:
    for message in h.slack.messages_in(ALICE):
        if f"cancel_allocation:{allocation_id}" in action_ids(message):
            return message
    raise AssertionError(f"no receipt with a Cancel button for #{allocation_id}")


@dataclass
class Click:
    """One signed request body, the person behind it, and where the bot answers them."""

    user: str
    verb: str  # approved / rejected / cancelled: what the person wanted
    body: str
    response_url: str | None  # None for a modal submission (answered in the HTTP response)
    headers: dict[str, str] = field(default_factory=dict)


def _approve(h: BotHarness, user: str, allocation_id: int) -> Click:
    url = h.new_response_url()
    body = payloads.block_actions(
        user,
        f"approve_allocation:{allocation_id}",
        None,
        message=_billing_message(h, allocation_id),
        channel_id=BILLING_CHANNEL,
        response_url=url,
    )
    return Click(user, "approved", body, url)


def _cancel(h: BotHarness, allocation_id: int) -> Click:
    url = h.new_response_url()
    body = payloads.block_actions(
        ALICE,
        f"cancel_allocation:{allocation_id}",
        None,
        message=_receipt(h, allocation_id),
        channel_id=dm_channel_for(ALICE),
        response_url=url,
    )
    return Click(ALICE, "cancelled", body, url)


def _reject_submission(h: BotHarness, user: str, allocation_id: int, reason: str) -> Click:
    """Clicks Reject (the modal opens), and returns the modal's submission, not yet sent."""
    trigger = payloads.new_trigger_id()
    status, _reply = h.post(
        payloads.block_actions(
            user,
            f"reject_allocation:{allocation_id}",
            None,
            message=_billing_message(h, allocation_id),
            channel_id=BILLING_CHANNEL,
            response_url=h.new_response_url(),
            trigger_id=trigger,
        )
    )
    assert status == 200
    modal = wait_for(lambda: h.slack.view_opened_by(trigger), what="the reject modal")
    body = payloads.view_submission(
        user, modal, {"reason": {"reason": payloads.text_value(reason)}}
    )
    return Click(user, "rejected", body, None)


def _fire(h: BotHarness, clicks: list[Click]) -> list[tuple[int, Any]]:
    """Send every click at the same moment, one thread each; returns (status, reply) in order."""
    barrier = threading.Barrier(len(clicks))
    results: list[tuple[int, Any] | None] = [None] * len(clicks)
    failures: list[BaseException] = []

    def send(index: int, click: Click) -> None:
        try:
            barrier.wait(timeout=10)
            results[index] = h.post(click.body, extra_headers=click.headers)
        except BaseException as exc:
            failures.append(exc)

    threads = [
        threading.Thread(target=send, args=(i, click), daemon=True)
        for i, click in enumerate(clicks)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == [] and all(r is not None for r in results), failures
    return [r for r in results if r is not None]


def _decided(db: Database, allocation_id: int) -> tuple[str, str]:
    row = wait_for(
        lambda: (r := allocation_row(db, allocation_id)).status != "pending" and r,
        what=f"a decision on #{allocation_id}",
    )
    assert row.decided_by is not None
    return row.status, row.decided_by


def _assert_decided_once(db: Database, allocation_id: int, status: str) -> None:
    """One decision, its postings and its messages owed, nothing twice."""
    decisions = [action for action, _ in audit_of(db, allocation_id) if action in DECISIONS]
    assert decisions == [f"allocation.{status}"]
    journal = journal_of(db, allocation_id)
    assert len(journal) == (2 if status == "approved" else 0), journal
    # Edits that only bring a pending message's balances up to date (its neighbours were
    # decided meanwhile) are not news; everything else is owed exactly once.
    news = [row for row in outbox_of(db, allocation_id) if row[0] != BALANCES_CHANGED]
    assert news == REQUESTED + OWED_FOR[status]


def _assert_losers_told(
    h: BotHarness,
    clicks: list[Click],
    results: list[tuple[int, Any]],
    status: str,
    winner: str,
) -> None:
    """Exactly one click won; every other one was told it was already decided, and by whom.

    Clicks sharing a response_url (one body delivered twice) share its replies.
    """
    assert all(code == 200 for code, _ in results), results
    winners = 0
    by_url: dict[str, list[Click]] = {}
    for click, (_code, reply) in zip(clicks, results, strict=True):
        if click.response_url is None:
            if reply:
                assert reply["response_action"] == "errors", reply
                said = reply["errors"]["reason"]
                assert f"Already {status}" in said and "Nothing changed" in said, said
            else:
                assert (click.verb, click.user) == (status, winner)
                winners += 1
        else:
            by_url.setdefault(click.response_url, []).append(click)
    expected_replies: dict[str, int] = {}
    for url, sharing in by_url.items():
        won_here = any((c.verb, c.user) == (status, winner) for c in sharing)
        winners += 1 if won_here else 0
        expected_replies[url] = len(sharing) - (1 if won_here else 0)
        if expected_replies[url]:
            wait_for(
                lambda url=url: len(h.responses_to(url)) >= expected_replies[url],
                what="the loser's reply",
            )
    assert winners == 1
    time.sleep(SETTLE_SECONDS)
    for url, expected in expected_replies.items():
        replies = h.responses_to(url)
        assert len(replies) == expected, (url, replies)
        for reply in replies:
            said = text_of(reply)
            assert reply["response_type"] == "ephemeral" and reply["replace_original"] is False
            assert f"Already {status}" in said and f"<@{winner}>" in said, said


def _race(h: BotHarness, db: Database, allocation_id: int, clicks: list[Click]) -> str:
    results = _fire(h, clicks)
    status, winner = _decided(db, allocation_id)
    _assert_losers_told(h, clicks, results, status, winner)
    _assert_decided_once(db, allocation_id, status)
    assert check_books(db) == []
    return status


# ------------------------------------------------------------- one body, delivered twice


def test_same_click_delivered_twice_at_once_approves_once(
    harness: BotHarness, books: Database
) -> None:
    (allocation_id,) = _requested(harness, 1)
    click = _approve(harness, APPROVER, allocation_id)
    assert _race(harness, books, allocation_id, [click, click]) == "approved"
    assert payment_row(books, "PAY-1").allocated == 10_000


def test_same_click_delivered_again_later_approves_once(
    harness: BotHarness, books: Database
) -> None:
    (allocation_id,) = _requested(harness, 1)
    click = _approve(harness, APPROVER, allocation_id)
    first = harness.post(click.body)
    assert _decided(books, allocation_id) == ("approved", APPROVER)
    second = harness.post(click.body)
    _assert_losers_told(harness, [click, click], [first, second], "approved", APPROVER)
    _assert_decided_once(books, allocation_id, "approved")
    assert payment_row(books, "PAY-1").allocated == 10_000
    assert check_books(books) == []


def test_slack_retry_of_a_click_in_flight_approves_once(
    harness: BotHarness, books: Database
) -> None:
    (allocation_id,) = _requested(harness, 1)
    original = _approve(harness, APPROVER, allocation_id)
    retry = Click(
        original.user,
        original.verb,
        original.body,
        original.response_url,
        headers={"X-Slack-Retry-Num": "1", "X-Slack-Retry-Reason": "http_timeout"},
    )
    assert _race(harness, books, allocation_id, [original, retry]) == "approved"
    assert payment_row(books, "PAY-1").allocated == 10_000


# ---------------------------------------------------------------- people racing people


def test_two_approvers_at_once_one_approves_and_the_other_is_told_who(
    harness: BotHarness, books: Database
) -> None:
    (allocation_id,) = _requested(harness, 1)
    clicks = [
        _approve(harness, APPROVER, allocation_id),
        _approve(harness, SECOND_APPROVER, allocation_id),
    ]
    assert _race(harness, books, allocation_id, clicks) == "approved"
    assert payment_row(books, "PAY-1").allocated == 10_000


def test_approve_and_reject_at_once_decide_once_and_the_loser_is_told(
    harness: BotHarness, books: Database
) -> None:
    (allocation_id,) = _requested(harness, 1)
    clicks = [
        _approve(harness, APPROVER, allocation_id),
        _reject_submission(harness, SECOND_APPROVER, allocation_id, "Paid by card"),
    ]
    status = _race(harness, books, allocation_id, clicks)
    assert payment_row(books, "PAY-1").allocated == (10_000 if status == "approved" else 0)
    assert payment_row(books, "PAY-1").pending == 0


def test_partner_cancel_and_approver_approve_at_once_decide_once_and_the_loser_is_told(
    harness: BotHarness, books: Database
) -> None:
    (allocation_id,) = _requested(harness, 1)
    clicks = [_cancel(harness, allocation_id), _approve(harness, APPROVER, allocation_id)]
    status = _race(harness, books, allocation_id, clicks)
    assert payment_row(books, "PAY-1").allocated == (10_000 if status == "approved" else 0)
    assert payment_row(books, "PAY-1").pending == 0


def test_many_threads_racing_over_several_allocations_decide_each_once(
    harness: BotHarness, books: Database
) -> None:
    ids = _requested(harness, 6)
    plans: dict[int, list[Click]] = {}
    for allocation_id in ids:
        duplicate = _approve(harness, APPROVER, allocation_id)
        plans[allocation_id] = [
            duplicate,
            duplicate,
            _approve(harness, SECOND_APPROVER, allocation_id),
            _reject_submission(harness, SECOND_APPROVER, allocation_id, "Wrong invoice"),
            _cancel(harness, allocation_id),
        ]
    everything = [click for clicks in plans.values() for click in clicks]
    assert len(everything) == 30  # thirty threads released by one barrier
    results = _fire(harness, everything)
    by_allocation: dict[int, list[tuple[int, Any]]] = {}
    position = 0
    for allocation_id, clicks in plans.items():
        by_allocation[allocation_id] = results[position : position + len(clicks)]
        position += len(clicks)

    outcomes: dict[int, str] = {}
    for allocation_id, clicks in plans.items():
        status, winner = _decided(books, allocation_id)
        outcomes[allocation_id] = status
        _assert_losers_told(harness, clicks, by_allocation[allocation_id], status, winner)
        _assert_decided_once(books, allocation_id, status)
    approved = sum(1 for status in outcomes.values() if status == "approved")
    payment = payment_row(books, "PAY-1")
    assert (payment.allocated, payment.pending) == (approved * 10_000, 0)
    assert check_books(books) == []

    # What the outbox owed reaches Slack once: one billing post per allocation, edited once.
    harness.deliver()
    for allocation_id, status in outcomes.items():
        billing = [m for m in harness.billing_messages() if f"#{allocation_id}" in text_of(m)]
        assert len(billing) == 1 and action_ids(billing[0]) == []
        assert status[:6] in text_of(billing[0]).lower()


# ------------------------------------------------------ requests of several lines, racing


def _three_line_modal(h: BotHarness, invoice_ids: list[str]) -> tuple[dict[str, Any], str]:
    """A modal of PAY-1 with three lines typed in (1,000.00 each); returns it and its body."""
    before = len(h.opened_views())
    assert h.slash(ALICE, "allocate PAY-1")[0] == 200
    view = h.wait_view(before + 1)
    typed: dict[int, tuple[str | None, str | None]] = {}
    for line, invoice_id in enumerate(invoice_ids, start=1):
        if line > 1:
            view = h.act_in_modal(
                ALICE, view["id"], "add_invoice_line", state=_state(view, "PAY-1", typed)
            )
        typed[line] = (invoice_id, "1000.00")
    assert sorted(_slots(view)) == [1, 2, 3]
    return view, payloads.view_submission(ALICE, view, _state(view, "PAY-1", typed))


def test_two_multi_line_submissions_over_a_shared_invoice_reserve_one_request_whole(
    harness: BotHarness, books: Database
) -> None:
    # Both requests want all of INV-3's 1,000.00: one gets every line, the other none.
    plans = [["INV-1", "INV-2", "INV-3"], ["INV-3", "INV-4", "INV-5"]]
    modals = [_three_line_modal(harness, plan) for plan in plans]
    results = _fire(harness, [Click(ALICE, "requested", body, None) for _, body in modals])

    assert all(code == 200 for code, _ in results), results
    actions = [reply["response_action"] for _, reply in results]
    assert sorted(actions) == ["errors", "update"], results
    won, lost = (0, 1) if actions[0] == "update" else (1, 0)
    # The loser is told under its line naming INV-3 (line 3 of one, line 1 of the other).
    lost_view, _ = modals[lost]
    errors = results[lost][1]["errors"]
    assert set(errors) <= set(_slots(lost_view)[plans[lost].index("INV-3") + 1].values()), errors
    assert "INV-3" in " ".join(errors.values()), errors

    with books.transaction() as session:
        rows = session.execute(
            select(Allocation.invoice_id, Allocation.amount, Allocation.status).order_by(
                Allocation.line_no
            )
        ).all()
        pending = dict(session.execute(select(Invoice.invoice_id, Invoice.pending)).all())
    assert [tuple(row) for row in rows] == [(i, 100_000, "pending") for i in plans[won]]
    assert pending == {f"INV-{n}": 100_000 if f"INV-{n}" in plans[won] else 0 for n in range(1, 9)}
    assert (payment_row(books, "PAY-1").pending, payment_row(books, "PAY-1").allocated) == (
        300_000,
        0,
    )
    assert check_books(books) == []
