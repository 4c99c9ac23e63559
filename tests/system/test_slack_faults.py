"""Slack failing on each Web API call the bot makes: nothing lost, doubled or half-written."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk import WebClient
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from sqlalchemy import func, select

from handlers.modals import COULD_NOT_OPEN
from models.enums import Audience
from models.tables import Allocation, Invoice, OutboxMessage, Payment, SlackMessageRef
from slackbot.db import Database
from slackbot.ledger.books import check_books
from slackbot.slack import views
from slackbot.slack.approvers import ApproverDirectory
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import (
    APPROVER,
    APPROVER_GROUP,
    BILLING_CHANNEL,
    GROUP_APPROVER,
    SECOND_APPROVER,
    BotHarness,
    action_ids,
    allocation_named_by,
    assert_owed_delivered_once_in_order,
    text_of,
    wait_for,
)
from tests.support.factories import add_invoice, add_partner, add_payment, allocation_row, snapshot
from tests.support.slack_stub import Call, FakeSlack, dm_channel_for

ALICE = "U0ALICE"
ALICE_DM = dm_channel_for(ALICE)
FAULTS = ("500", "timeout", "disconnect", "429")
# Short enough to keep the suite fast, long enough to tell a waited-out retry from an eager one.
RETRY_AFTER = 1
# The stub holds a "timeout" connection longer than every client here waits.
CLIENT_TIMEOUT = 1
STUB_TIMEOUT_SLEEP = 2
REJECT_COULD_NOT_OPEN = (
    "Slack didn't open the rejection form just now, so nothing changed. Please click Reject again."
)


# ------------------------------------------------------------------------------ fixtures


@pytest.fixture
def slow_slack() -> Iterator[FakeSlack]:
    with FakeSlack(timeout_sleep=STUB_TIMEOUT_SLEEP) as stub:
        stub.set_usergroup(APPROVER_GROUP, [GROUP_APPROVER])
        yield stub


def _directory(slack: FakeSlack, **kwargs: Any) -> ApproverDirectory:
    """The approver directory as build_bot wires it, with a client that gives up after 1 s."""
    client = WebClient(
        token="xoxb-test-token",
        base_url=slack.api_url,
        timeout=CLIENT_TIMEOUT,
        retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)],
    )
    return ApproverDirectory((APPROVER, SECOND_APPROVER), APPROVER_GROUP, client, **kwargs)


@pytest.fixture
def faulty(db: Database, slow_slack: FakeSlack) -> Iterator[BotHarness]:
    """The bot with every Web API client giving up after 1 s, so a "timeout" is a real one."""
    running = BotHarness(db, slow_slack)
    running.bot.delivery.client = WebClient(
        token="xoxb-test-token",
        base_url=slow_slack.api_url,
        timeout=CLIENT_TIMEOUT,
        retry_handlers=[],
    )
    # Bolt builds each request's client from the app's, copying its timeout and retry handlers.
    running.bot.app.client.timeout = CLIENT_TIMEOUT
    running.bot.approvers = _directory(slow_slack)
    # One row per pass, so a test can aim a fault at exactly the next message.
    running.bot.delivery.batch_size = 1
    yield running
    running.close()


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE])
    add_payment(db, "PAY-1", "P-ACME", 100000, "USD")
    add_payment(db, "PAY-2", "P-ACME", 100000, "USD")
    for n in range(1, 5):
        add_invoice(db, f"INV-{n}", "P-ACME", 50000, "USD")
    return db


# ------------------------------------------------------------------------------- helpers


def _fail(slack: FakeSlack, method: str, kind: str, *, retries: int = 0) -> None:
    """Fail the next call to ``method``, and the ``retries`` the calling client makes itself."""
    slack.fail(method, kind, times=1 + retries, retry_after=RETRY_AFTER)


def _open_modal(h: BotHarness, user: str, payment_id: str) -> dict[str, Any]:
    before = len(h.opened_views())
    status, _reply, _ = h.slash(user, f"allocate {payment_id}")
    assert status == 200
    return h.wait_view(before + 1)


def _values(payment: str, invoice: str, amount: str) -> dict[str, Any]:
    return {
        "payment": {"payment": payloads.static_select_value(payment, payment)},
        "invoice": {"invoice": payloads.external_select_value(invoice, invoice)},
        "amount": {"amount": payloads.text_value(amount)},
        "note": {"note": payloads.text_value(None)},
    }


def _request(h: BotHarness, payment: str, invoice: str, amount: str) -> int:
    """Alice requests an allocation through the modal; returns its id."""
    view = _open_modal(h, ALICE, payment)
    status, reply = h.submit(ALICE, view, _values(payment, invoice, amount))
    assert status == 200 and reply["response_action"] == "update", reply
    with h.bot.db.transaction() as session:
        return int(session.scalar(select(func.max(Allocation.allocation_id))) or 0)


def _click_decision(h: BotHarness, user: str, action: str, allocation_id: int) -> str:
    """A click on a decision button; returns the response_url the bot answers on."""
    _status, _reply, response_url = h.click(
        user, f"{action}:{allocation_id}", value=str(allocation_id)
    )
    return response_url


def _approve(h: BotHarness, allocation_id: int, approver: str = APPROVER) -> None:
    _click_decision(h, approver, "approve_allocation", allocation_id)
    wait_for(lambda: allocation_row(h.bot.db, allocation_id).status == "approved", what="approval")


def _shown(slack: FakeSlack, db: Database, allocation_id: int, role: Audience) -> dict[str, Any]:
    with db.transaction() as session:
        ref = session.get_one(SlackMessageRef, (allocation_id, role))
        channel, ts = ref.channel, ref.ts
    message = slack.message(channel, ts)
    assert message is not None, f"the {role} message of #{allocation_id} is gone"
    return message


def assert_messages_show_final_state(h: BotHarness, allocation_id: int) -> None:
    """The billing message and the receipt read as the allocation stands now.

    Compared: the text (status, amount, ids), the buttons, and the status line. Not the "after
    this change" balances, which are as of the message's last edit: a later request on the same
    payment owes this message nothing.
    """
    final = h.bot.ledger.allocation(allocation_id)
    for role, render in (
        (Audience.BILLING, views.billing_message),
        (Audience.RECEIPT, views.receipt_message),
    ):
        shown = _shown(h.slack, h.bot.db, allocation_id, role)
        expected = render(final)
        assert shown["text"] == expected["text"], f"#{allocation_id} {role}"
        assert action_ids(shown) == action_ids(expected), f"#{allocation_id} {role}"
        assert shown["blocks"][-1] == expected["blocks"][-1], f"#{allocation_id} {role}"


def assert_books_match_decisions(db: Database) -> None:
    """The audit is clean, and every balance is what the allocations' statuses say it is."""
    assert check_books(db) == []
    with db.transaction() as session:
        allocations = session.scalars(select(Allocation)).all()
        payments = {
            p.payment_id: (p.allocated, p.pending) for p in session.scalars(select(Payment))
        }
        invoices = {i.invoice_id: (i.applied, i.pending) for i in session.scalars(select(Invoice))}
    want_payments = {payment_id: (0, 0) for payment_id in payments}
    want_invoices = {invoice_id: (0, 0) for invoice_id in invoices}
    for a in allocations:
        approved = a.amount if a.status == "approved" else 0
        pending = a.amount if a.status == "pending" else 0
        allocated, held = want_payments[a.payment_id]
        want_payments[a.payment_id] = (allocated + approved, held + pending)
        applied, held = want_invoices[a.invoice_id]
        want_invoices[a.invoice_id] = (applied + approved, held + pending)
    assert payments == want_payments
    assert invoices == want_invoices


def _faulted(slack: FakeSlack) -> list[Call]:
    return [call for call in slack.calls if call.faulted]


def _retry_of(slack: FakeSlack, failed: Call) -> Call:
    """The next call after ``failed`` that carried the same message."""
    return next(
        call
        for call in slack.calls
        if call.at > failed.at
        and call.method == failed.method
        and call.channel == failed.channel
        and allocation_named_by(call) == allocation_named_by(failed)
    )


# ------------------------------------------------------------ outbox: posts, edits, DMs

OUTBOX_TARGETS = {
    # target: (method, channel) the injected fault must hit
    "billing_post": ("chat.postMessage", BILLING_CHANNEL),
    "receipt_dm": ("chat.postMessage", ALICE_DM),
    "billing_update": ("chat.update", BILLING_CHANNEL),
    # The decision reaches the requester as an edit of their receipt (one DM per request).
    "receipt_update": ("chat.update", ALICE_DM),
}


@pytest.mark.parametrize("fault", FAULTS)
@pytest.mark.parametrize("target", list(OUTBOX_TARGETS))
def test_outbox_message_hit_by_fault_is_delivered_once_in_order_after_recovery(
    faulty: BotHarness, books: Database, target: str, fault: str
) -> None:
    h, slack = faulty, faulty.slack
    method, channel = OUTBOX_TARGETS[target]
    allocation_id = _request(h, "PAY-1", "INV-1", "100.00")
    # With one row per pass (see ``faulty``) a single run_once sends exactly the next message
    # (the billing lane's and the requester lane's each in the order written); that is how a
    # fault is aimed at one message.
    if target == "billing_post":
        _fail(slack, method, fault)
    elif target == "receipt_dm":
        assert h.bot.delivery.run_once() == 1
        _fail(slack, method, fault)
    h.deliver()
    if target in ("billing_update", "receipt_update"):
        _approve(h, allocation_id)
        if target == "receipt_update":
            assert h.bot.delivery.run_once() == 1  # billing update
        _fail(slack, method, fault)
        h.deliver()

    (failed,) = _faulted(slack)
    assert (failed.method, failed.channel, allocation_named_by(failed)) == (
        method,
        channel,
        allocation_id,
    )
    assert_owed_delivered_once_in_order(books, slack)
    assert_messages_show_final_state(h, allocation_id)
    if fault == "429":
        assert _retry_of(slack, failed).at - failed.at >= RETRY_AFTER
    assert_books_match_decisions(books)


# ------------------------------------------------------------ views.open while a person waits


def _persisting(kind: str) -> int:
    """Retries the interactive client makes on its own: one more on a dropped connection."""
    return 1 if kind == "disconnect" else 0


@pytest.mark.parametrize("fault", FAULTS)
def test_views_open_failing_on_slash_command_says_run_it_again_and_changes_nothing(
    faulty: BotHarness, books: Database, fault: str
) -> None:
    before = snapshot(books)
    _fail(faulty.slack, "views.open", fault, retries=_persisting(fault))
    status, _reply, response_url = faulty.slash(ALICE, "allocate PAY-1")
    assert status == 200
    said = faulty.wait_response(response_url)
    assert said["response_type"] == "ephemeral"
    assert COULD_NOT_OPEN.format(suffix=" PAY-1") in text_of(said)
    assert faulty.opened_views() == []
    assert snapshot(books) == before
    # Slack is back: doing what the message says opens the form.
    view = _open_modal(faulty, ALICE, "PAY-1")
    assert view["callback_id"] == "allocation_modal"


@pytest.mark.parametrize("fault", FAULTS)
def test_views_open_failing_on_allocate_button_says_how_to_retry_and_changes_nothing(
    faulty: BotHarness, books: Database, fault: str
) -> None:
    _status, listing, _ = faulty.slash(ALICE)
    before = snapshot(books)
    _fail(faulty.slack, "views.open", fault, retries=_persisting(fault))
    status, _reply, response_url = faulty.click(
        ALICE, "open_allocation:PAY-2", message=listing, channel_id="C_PARTNER", ephemeral=True
    )
    assert status == 200
    said = faulty.wait_response(response_url)
    assert said["response_type"] == "ephemeral" and said.get("replace_original") is False
    assert COULD_NOT_OPEN.format(suffix=" PAY-2") in text_of(said)
    assert faulty.opened_views() == []
    assert snapshot(books) == before


@pytest.mark.parametrize("fault", FAULTS)
def test_views_open_failing_on_reject_button_says_click_again_and_changes_nothing(
    faulty: BotHarness, books: Database, fault: str
) -> None:
    allocation = faulty.bot.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "100.00")
    allocation_id = allocation.allocation_id
    faulty.deliver()
    before = snapshot(books)
    _fail(faulty.slack, "views.open", fault, retries=_persisting(fault))
    response_url = _click_decision(faulty, APPROVER, "reject_allocation", allocation_id)
    said = faulty.wait_response(response_url)
    assert said["response_type"] == "ephemeral" and said.get("replace_original") is False
    assert REJECT_COULD_NOT_OPEN in text_of(said)
    assert faulty.opened_views() == []
    assert snapshot(books) == before

    _click_decision(faulty, APPROVER, "reject_allocation", allocation_id)
    modal = faulty.wait_view(1)
    reason = {"reason": {"reason": payloads.text_value("Paid by card")}}
    status, reply = faulty.submit(APPROVER, modal, reason)
    assert status == 200 and not reply
    assert allocation_row(books, allocation_id).status == "rejected"
    faulty.deliver()
    assert_owed_delivered_once_in_order(books, faulty.slack)
    assert_messages_show_final_state(faulty, allocation_id)
    assert_books_match_decisions(books)


# ------------------------------------------------------- views.update after choosing a payment


@pytest.mark.parametrize("fault", FAULTS)
def test_views_update_failing_after_payment_choice_leaves_a_modal_that_still_submits_once(
    faulty: BotHarness, books: Database, fault: str
) -> None:
    view = _open_modal(faulty, ALICE, "PAY-1")
    before = snapshot(books)
    # views.update goes through the interactive client, which retries a dropped connection once.
    attempts = 1 + _persisting(fault)
    _fail(faulty.slack, "views.update", fault, retries=_persisting(fault))
    status, _reply, _ = faulty.click(ALICE, "payment", view=view, value="PAY-2")
    assert status == 200
    wait_for(lambda: len(faulty.slack.calls_to("views.update")) == attempts, what="views.update")
    time.sleep(CLIENT_TIMEOUT + 0.2 if fault == "timeout" else 0.2)  # let the listener finish
    assert faulty.slack.deliveries("views.update") == []
    assert faulty.slack.view(view["id"]) == view  # the modal reads as it did
    assert snapshot(books) == before

    status, reply = faulty.submit(ALICE, view, _values("PAY-2", "INV-2", "25.00"))
    assert status == 200 and reply["response_action"] == "update", reply
    with books.transaction() as session:
        rows = session.scalars(select(Allocation)).all()
    assert [(a.payment_id, a.invoice_id, a.amount, a.status) for a in rows] == [
        ("PAY-2", "INV-2", 2500, "pending")
    ]
    assert_books_match_decisions(books)


# --------------------------------------------------------------- usergroups.users.list


@pytest.mark.parametrize("fault", ("500", "timeout", "disconnect"))
def test_group_approver_is_refused_and_nothing_changes_when_group_cannot_be_read(
    faulty: BotHarness, books: Database, fault: str
) -> None:
    allocation_id = faulty.bot.ledger.request_allocation(
        ALICE, "PAY-1", "INV-1", "100.00"
    ).allocation_id
    faulty.deliver()
    before = snapshot(books)
    _fail(faulty.slack, "usergroups.users.list", fault)
    response_url = _click_decision(faulty, GROUP_APPROVER, "approve_allocation", allocation_id)
    said = faulty.wait_response(response_url)
    assert said["response_type"] == "ephemeral" and said.get("replace_original") is False
    assert "approve" in text_of(said)
    assert snapshot(books) == before

    # Slack answers again: the same click goes through, once.
    _approve(faulty, allocation_id, GROUP_APPROVER)
    assert allocation_row(books, allocation_id).decided_by == GROUP_APPROVER
    faulty.deliver()
    assert_owed_delivered_once_in_order(books, faulty.slack)
    assert_books_match_decisions(books)


def test_group_approver_refused_because_slack_failed_is_told_to_try_again(
    faulty: BotHarness, books: Database
) -> None:
    # A group member whom Slack could not confirm is not "not an approver": the reply should
    # say the check failed and that clicking again will work, not that they may not approve.
    allocation_id = faulty.bot.ledger.request_allocation(
        ALICE, "PAY-1", "INV-1", "100.00"
    ).allocation_id
    _fail(faulty.slack, "usergroups.users.list", "500")
    response_url = _click_decision(faulty, GROUP_APPROVER, "approve_allocation", allocation_id)
    said = text_of(faulty.wait_response(response_url))
    assert "again" in said.lower(), said
    assert "Only billing approvers" not in said


def test_group_lookup_rate_limited_once_waits_retry_after_then_approves(
    faulty: BotHarness, books: Database
) -> None:
    allocation_id = faulty.bot.ledger.request_allocation(
        ALICE, "PAY-1", "INV-1", "100.00"
    ).allocation_id
    _fail(faulty.slack, "usergroups.users.list", "429")
    _approve(faulty, allocation_id, GROUP_APPROVER)
    limited, retried = faulty.slack.calls_to("usergroups.users.list")
    assert limited.fault == "429" and retried.delivered
    assert retried.at - limited.at >= RETRY_AFTER
    faulty.deliver()
    assert_owed_delivered_once_in_order(books, faulty.slack)
    assert_books_match_decisions(books)


@pytest.mark.parametrize("fault", FAULTS)
def test_group_approver_known_from_before_may_still_approve_while_group_lookup_fails(
    faulty: BotHarness, books: Database, fault: str
) -> None:
    now = [0.0]
    faulty.bot.approvers = _directory(faulty.slack, ttl=60.0, clock=lambda: now[0])
    first = faulty.bot.ledger.request_allocation(ALICE, "PAY-1", "INV-1", "100.00")
    second = faulty.bot.ledger.request_allocation(ALICE, "PAY-1", "INV-2", "50.00")
    _approve(faulty, first.allocation_id, GROUP_APPROVER)  # membership read and remembered
    now[0] += 61.0  # the remembered membership is stale, so the next click asks Slack again
    _fail(faulty.slack, "usergroups.users.list", fault, retries=1 if fault == "429" else 0)
    _approve(faulty, second.allocation_id, GROUP_APPROVER)
    assert [c.fault for c in faulty.slack.calls_to("usergroups.users.list")][1:] == [fault] * (
        2 if fault == "429" else 1
    )
    faulty.deliver()
    assert_owed_delivered_once_in_order(books, faulty.slack)
    assert_books_match_decisions(books)


# ----------------------------------------------------------------------- response_url


@pytest.mark.parametrize(
    ("fault", "replies_shown"),
    [
        # A server error or a 429 is retried once (after Retry-After): the refusal is read once.
        ("500", 1),
        ("429", 1),
        # A dropped connection (a "timeout" here ends as one) is retried once by the webhook
        # client, so the person reads the refusal once.
        ("disconnect", 1),
        ("timeout", 1),
    ],
)
def test_response_url_failing_never_doubles_a_reply_or_changes_the_ledger(
    faulty: BotHarness, books: Database, fault: str, replies_shown: int
) -> None:
    allocation_id = faulty.bot.ledger.request_allocation(
        ALICE, "PAY-1", "INV-1", "100.00"
    ).allocation_id
    faulty.deliver()
    before = snapshot(books)
    _fail(faulty.slack, "response_url", fault)
    # Alice is no approver: the refusal she is owed goes out through response_url.
    response_url = _click_decision(faulty, ALICE, "approve_allocation", allocation_id)

    def delivered() -> list[Call]:
        return [c for c in faulty.slack.deliveries("response_url") if response_url.endswith(c.path)]

    if replies_shown:
        wait_for(delivered, timeout=STUB_TIMEOUT_SLEEP + 3, what="the retried reply")
    wait_for(lambda: faulty.slack.calls_to("response_url"), what="the reply attempt")
    time.sleep(0.3)  # a second copy would be on its way by now
    assert len(delivered()) == replies_shown
    for reply in delivered():
        assert "Only billing approvers" in text_of(reply.params)
    assert snapshot(books) == before

    # The next click is answered as usual.
    response_url = _click_decision(faulty, ALICE, "approve_allocation", allocation_id)
    assert "Only billing approvers" in text_of(faulty.wait_response(response_url))
    assert allocation_row(books, allocation_id).status == "pending"


# --------------------------------------------------------- a lost response: found, not re-posted


@pytest.mark.parametrize("target", ["billing_post", "receipt_dm"])
def test_post_applied_but_response_lost_is_found_and_not_posted_again(
    faulty: BotHarness, books: Database, target: str
) -> None:
    """chat.postMessage has no idempotency key: when Slack applies a post and the answer is
    lost, the sender looks for the message by its metadata in the channel's history (the DM's
    for a receipt) and adopts it, so billing sees the request once and later edits change it."""
    h, slack = faulty, faulty.slack
    method, channel = OUTBOX_TARGETS[target]
    allocation_id = _request(h, "PAY-1", "INV-1", "100.00")
    if target == "receipt_dm":
        assert h.bot.delivery.run_once() == 1
    _fail(slack, method, "timeout_after_delivery")
    h.deliver()

    shown = [m for m in slack.messages_in(channel) if f"#{allocation_id}" in text_of(m)]
    assert len(shown) == 1
    posts = [c for c in slack.calls_to("chat.postMessage") if c.channel == channel]
    assert [(c.fault, c.delivered) for c in posts] == [("timeout_after_delivery", True)]
    looks = slack.calls_to("conversations.history")
    assert [c.params["channel"] for c in looks] == [channel]
    with books.transaction() as session:
        row = session.scalars(
            select(OutboxMessage).where(
                OutboxMessage.allocation_id == allocation_id,
                OutboxMessage.recipient
                == (Audience.BILLING if target == "billing_post" else Audience.REQUESTER),
            )
        ).one()
        assert (row.sent_at is not None, row.attempts) == (True, 2)
    role = Audience.BILLING if target == "billing_post" else Audience.RECEIPT
    assert _shown(slack, books, allocation_id, role)["ts"] == shown[0]["ts"]

    _approve(h, allocation_id)
    h.deliver()
    assert_owed_delivered_once_in_order(books, slack)
    assert_messages_show_final_state(h, allocation_id)
    assert_books_match_decisions(books)


# ------------------------------------------------------------------ restart while Slack is down


def test_messages_owed_while_slack_was_down_are_sent_once_by_the_next_process(
    db: Database, slow_slack: FakeSlack, books: Database
) -> None:
    first = BotHarness(db, slow_slack)
    ledger = first.bot.ledger
    approved = ledger.request_allocation(ALICE, "PAY-1", "INV-1", "100.00").allocation_id
    rejected = ledger.request_allocation(ALICE, "PAY-1", "INV-2", "30.00").allocation_id
    cancelled = ledger.request_allocation(ALICE, "PAY-2", "INV-3", "20.00").allocation_id
    waiting = ledger.request_allocation(ALICE, "PAY-2", "INV-4", "10.00").allocation_id
    first.deliver()  # everything lands; the decisions below are owed while Slack is down
    slow_slack.set_fault_rate(1.0, kinds=("500",), methods=("chat.postMessage", "chat.update"))
    _approve(first, approved)
    first.bot.ledger.reject(rejected, first.bot.approvers.actor(APPROVER), "Wrong invoice")
    _status, _reply, _ = first.click(
        ALICE, f"cancel_allocation:{cancelled}", value=str(cancelled), channel_id=ALICE_DM
    )
    wait_for(lambda: allocation_row(db, cancelled).status == "cancelled", what="cancel")
    later = ledger.request_allocation(ALICE, "PAY-1", "INV-4", "5.00").allocation_id
    first.bot.delivery.drain(timeout=1.0)
    # Each decision owes the billing edit and the receipt edit; the new request its post and
    # its receipt.
    assert first.bot.delivery.pending_count() == 8
    first.close()  # the process dies with messages owed

    slow_slack.set_fault_rate(0)
    second = BotHarness(db, slow_slack)
    try:
        second.deliver()
        assert_owed_delivered_once_in_order(db, slow_slack)
        for allocation_id in (approved, rejected, cancelled, waiting, later):
            assert_messages_show_final_state(second, allocation_id)
        assert_books_match_decisions(db)
    finally:
        second.close()


# ----------------------------------------------------------------- random faults, many requests


def test_random_faults_over_many_requests_lose_and_double_nothing(
    faulty: BotHarness, books: Database
) -> None:
    h, slack = faulty, faulty.slack
    rng = random.Random(4)
    slack.set_fault_rate(
        0.2,
        kinds=("500", "429", "timeout", "disconnect"),
        seed=11,
        methods=("chat.postMessage", "chat.update", "views.open"),
        retry_after=0,
    )
    # Among them, a post applied and its answer lost: the one a blind retry would double.
    slack.lose_first_answers(("chat.postMessage",), rate=0.2, seed=12)
    ids: list[int] = []
    for n in range(20):
        payment = "PAY-1" if n % 2 else "PAY-2"
        invoice = f"INV-{1 + n % 4}"
        ids.append(
            h.bot.ledger.request_allocation(ALICE, payment, invoice, f"{10 + n}.00").allocation_id
        )
        if n % 3 == 0:
            h.bot.delivery.run_once()
    outcome: dict[int, str] = {}
    for allocation_id in ids:
        choice = rng.choice(("approve", "reject", "cancel", "wait"))
        if choice == "approve":
            _approve(h, allocation_id)
        elif choice == "reject":
            # A person whose form did not open clicks Reject again, as the reply tells them.
            for _ in range(5):
                opened = len(h.opened_views())
                url = _click_decision(h, APPROVER, "reject_allocation", allocation_id)
                wait_for(
                    lambda n=opened, u=url: h.opened_views()[n:] or h.responses_to(u),
                    timeout=CLIENT_TIMEOUT + 3,
                    what="the reject form or a reply",
                )
                if h.opened_views()[opened:]:
                    modal = h.opened_views()[opened]
                    break
            else:
                pytest.fail("the reject form never opened")
            reason = {"reason": {"reason": payloads.text_value(f"No #{allocation_id}")}}
            status, reply = h.submit(APPROVER, modal, reason)
            assert status == 200 and not reply
        elif choice == "cancel":
            h.click(
                ALICE,
                f"cancel_allocation:{allocation_id}",
                value=str(allocation_id),
                channel_id=ALICE_DM,
            )
            wait_for(
                lambda a=allocation_id: allocation_row(books, a).status == "cancelled",
                what="cancel",
            )
        outcome[allocation_id] = {"approve": "approved", "reject": "rejected"}.get(
            choice, "cancelled" if choice == "cancel" else "pending"
        )
        h.bot.delivery.run_once()

    deadline = time.monotonic() + 20
    while h.bot.delivery.pending_count() and time.monotonic() < deadline:
        h.bot.delivery.drain(timeout=max(0.1, deadline - time.monotonic()))
    assert h.bot.delivery.pending_count() == 0
    assert sum(1 for c in slack.calls if c.faulted) > 0
    assert any(c.fault == "timeout_after_delivery" for c in slack.calls)
    assert {a: allocation_row(books, a).status for a in ids} == outcome
    assert_owed_delivered_once_in_order(books, slack)
    for allocation_id in ids:
        assert_messages_show_final_state(h, allocation_id)
    assert_books_match_decisions(books)
