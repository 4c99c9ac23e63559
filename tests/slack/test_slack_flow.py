"""The whole Slack flow through the real HTTP app: partner, second partner, approvers, strangers."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from sqlalchemy import func, select

from models.tables import Allocation, JournalLine
from slackbot.db import Database
from slackbot.ledger.books import check_books
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import (
    APPROVER,
    BILLING_CHANNEL,
    GROUP_APPROVER,
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
    invoice_row,
    journal_of,
    payment_row,
)

ALICE = "U0ALICE"  # Acme
BOB = "U0BOB"  # Globex
BOTH = "U0BOTH"  # Acme and Globex
STRANGER = "U0NOBODY"


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE, BOTH, SECOND_APPROVER])
    add_partner(db, "P-GLOBEX", "Globex", members=[BOB, BOTH])
    add_payment(db, "PAY-1", "P-ACME", 100000, "USD", reference="Wire for INV-2")
    add_payment(db, "PAY-JPY", "P-ACME", 50000, "JPY", reference="Furikomi")
    add_invoice(db, "INV-1", "P-ACME", 60000, "USD")
    add_invoice(db, "INV-2", "P-ACME", 40000, "USD")
    add_invoice(db, "INV-EUR", "P-ACME", 10000, "EUR")
    add_invoice(db, "INV-JPY", "P-ACME", 30000, "JPY")
    add_payment(db, "PAY-B", "P-GLOBEX", 50000, "USD", reference="Globex wire")
    add_invoice(db, "INV-B1", "P-GLOBEX", 50000, "USD")
    return db


def _allocation_count(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.count()).select_from(Allocation)) or 0)


def _balances(db: Database) -> dict[str, tuple[int, int]]:
    return {
        **{
            p: (payment_row(db, p).allocated, payment_row(db, p).pending)
            for p in ("PAY-1", "PAY-B")
        },
        **{i: (invoice_row(db, i).applied, invoice_row(db, i).pending) for i in ("INV-1", "INV-2")},
    }


def _open_modal(h: BotHarness, user: str, payment_id: str = "PAY-1") -> dict[str, Any]:
    before = len(h.opened_views())
    status, _reply, _ = h.slash(user, f"allocate {payment_id}")
    assert status == 200
    return h.wait_view(before + 1)


def _values(payment: str, invoice: str, amount: str, note: str = "") -> dict[str, Any]:
    return {
        "payment": {"payment": payloads.static_select_value(payment, payment)},
        "invoice": {"invoice": payloads.external_select_value(invoice, invoice)},
        "amount": {"amount": payloads.text_value(amount)},
        "note": {"note": payloads.text_value(note or None)},
    }


def _request(h: BotHarness, user: str, payment: str, invoice: str, amount: str) -> int:
    """A partner requests an allocation through the modal; returns the new allocation id."""
    view = _open_modal(h, user, payment)
    status, reply = h.submit(user, view, _values(payment, invoice, amount, note="Per our call"))
    assert status == 200, reply
    assert reply["response_action"] == "update", reply
    with h.bot.db.transaction() as session:
        return int(session.scalar(select(func.max(Allocation.allocation_id))) or 0)


def _billing_message(h: BotHarness, allocation_id: int) -> dict[str, Any]:
    for message in h.billing_messages():
        if f"#{allocation_id}" in text_of(message):
            return message
    raise AssertionError(f"no billing message for #{allocation_id}: {h.billing_messages()}")


# ------------------------------------------------------------------ partner: reading


def test_unlinked_user_is_told_how_to_get_linked(harness: BotHarness, books: Database) -> None:
    status, reply, _ = harness.slash(STRANGER)
    assert status == 200
    assert reply["response_type"] == "ephemeral"
    assert "not linked" in text_of(reply).lower() or "isn't linked" in text_of(reply).lower()
    assert "PAY-" not in text_of(reply)


def test_list_shows_own_payments_formatted_for_their_currency(
    harness: BotHarness, books: Database
) -> None:
    status, reply, _ = harness.slash(ALICE, "list")
    shown = text_of(reply)
    assert status == 200 and reply["response_type"] == "ephemeral"
    assert "PAY-1" in shown and "1,000.00 USD" in shown
    assert "PAY-JPY" in shown and "50,000 JPY" in shown and "50,000.00 JPY" not in shown
    assert "PAY-B" not in shown and "Globex" not in shown
    assert "open_allocation:PAY-1" in action_ids(reply)


def test_second_partner_sees_only_theirs(harness: BotHarness, books: Database) -> None:
    _status, reply, _ = harness.slash(BOB)
    shown = text_of(reply)
    assert "PAY-B" in shown and "PAY-1" not in shown and "PAY-JPY" not in shown


def test_member_of_two_partners_sees_both_grouped_by_partner(
    harness: BotHarness, books: Database
) -> None:
    _status, reply, _ = harness.slash(BOTH)
    shown = text_of(reply)
    assert "Acme Corp" in shown and "Globex" in shown
    assert shown.index("Acme Corp") < shown.index("PAY-1") < shown.index("Globex")
    assert shown.index("Globex") < shown.index("PAY-B")


def test_help_and_unknown_subcommand(harness: BotHarness, books: Database) -> None:
    _status, reply, _ = harness.slash(ALICE, "help")
    assert all(word in text_of(reply) for word in ("allocate", "history", "list"))
    _status, reply, _ = harness.slash(ALICE, "refund everything")
    assert "not a /payments command" in text_of(reply)


# ----------------------------------------------------------------- partner: the modal


def test_allocate_opens_modal_with_payment_chosen_and_amount_prefilled(
    harness: BotHarness, books: Database
) -> None:
    view = _open_modal(harness, ALICE, "PAY-1")
    assert view["callback_id"] == "allocation_modal"
    blocks = {block.get("block_id"): block for block in view["blocks"]}
    payment = blocks["payment"]["element"]
    assert payment["action_id"] == "payment"
    assert payment["initial_option"]["value"] == "PAY-1"
    assert {option["value"] for option in payment["options"]} == {"PAY-1", "PAY-JPY"}
    assert blocks["invoice"]["element"]["type"] == "external_select"
    assert blocks["amount"]["element"]["initial_value"] == "1000.00"
    assert blocks["note"]["optional"] is True


def test_allocate_button_on_the_list_opens_the_modal(harness: BotHarness, books: Database) -> None:
    _status, listing, _ = harness.slash(ALICE)
    status, _reply, _ = harness.click(
        ALICE, "open_allocation:PAY-JPY", message=listing, channel_id="C_PARTNER", ephemeral=True
    )
    assert status == 200
    view = harness.wait_view()
    payment = next(b for b in view["blocks"] if b.get("block_id") == "payment")["element"]
    assert payment["initial_option"]["value"] == "PAY-JPY"


def test_allocate_for_another_partners_payment_is_refused(
    harness: BotHarness, books: Database
) -> None:
    _status, _reply, response_url = harness.slash(ALICE, "allocate PAY-B")
    said = harness.wait_response(response_url)
    assert "You have no payment PAY-B" in text_of(said)
    assert harness.opened_views() == []


def test_invoice_typeahead_offers_own_open_invoices_best_first(
    harness: BotHarness, books: Database
) -> None:
    view = _open_modal(harness, ALICE, "PAY-1")
    state = {"payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")}}
    status, reply = harness.suggest(ALICE, view, "", state)
    assert status == 200
    values = [option["value"] for option in reply["options"]]
    # INV-2 is named in the payment's reference; EUR, JPY and Globex invoices never show.
    assert values == ["INV-2", "INV-1"]
    _status, reply = harness.suggest(ALICE, view, "inv-1", state)
    assert [option["value"] for option in reply["options"]] == ["INV-1"]


def test_typeahead_with_a_forged_payment_offers_nothing(
    harness: BotHarness, books: Database
) -> None:
    view = _open_modal(harness, ALICE, "PAY-1")
    forged = {"payment": {"payment": payloads.static_select_value("PAY-B", "PAY-B")}}
    _status, reply = harness.suggest(ALICE, view, "", forged)
    assert reply["options"] == []


@pytest.mark.parametrize(
    ("payment", "invoice", "amount", "block", "words"),
    [
        ("PAY-1", "INV-1", "abc", "amount", "Write the amount like 1,250.50 or 1250.50"),
        ("PAY-1", "INV-1", "0", "amount", "more than zero"),
        ("PAY-1", "INV-1", "-5", "amount", "more than zero"),
        ("PAY-1", "INV-1", "1.234", "amount", "can be read two ways"),
        # An American writes thousands with commas (issue 15): read, then over what is open.
        ("PAY-1", "INV-1", "1,000.00", "amount", "600.00 USD left to pay"),
        ("PAY-1", "INV-1", "NaN", "amount", "Write the amount like"),
        ("PAY-1", "INV-1", "2000.00", "amount", "1,000.00 USD left"),
        ("PAY-1", "INV-1", "700.00", "amount", "600.00 USD left to pay"),
        ("PAY-1", "INV-B1", "10.00", "invoice", "not an open invoice"),
        ("PAY-1", "INV-EUR", "10.00", "invoice", "EUR"),
        ("PAY-1", "INV-404", "10.00", "invoice", "not an open invoice"),
        ("PAY-B", "INV-B1", "10.00", "payment", "no payment PAY-B"),
        ("PAY-JPY", "INV-JPY", "100.5", "amount", "no decimals"),
    ],
)
def test_refused_submission_answers_under_the_field_and_changes_nothing(
    harness: BotHarness,
    books: Database,
    payment: str,
    invoice: str,
    amount: str,
    block: str,
    words: str,
) -> None:
    view = _open_modal(harness, ALICE, "PAY-1")
    before = _balances(books)
    status, reply = harness.submit(ALICE, view, _values(payment, invoice, amount))
    assert status == 200
    assert reply["response_action"] == "errors"
    assert list(reply["errors"]) == [block]
    assert words in reply["errors"][block]
    assert _balances(books) == before
    assert _allocation_count(books) == 0
    assert harness.deliver() == 0


# ------------------------------------------------------------------ the whole journey


def test_full_allocation_is_approved_and_everyone_sees_it(
    harness: BotHarness, books: Database
) -> None:
    allocation_id = _request(harness, ALICE, "PAY-1", "INV-2", "400.00")
    # Reserved at once: nobody can spend the same money while billing decides.
    assert payment_row(books, "PAY-1").pending == 40000
    assert invoice_row(books, "INV-2").pending == 40000

    harness.deliver()
    billing = _billing_message(harness, allocation_id)
    shown = text_of(billing)
    assert "Acme Corp" in shown and f"<@{ALICE}>" in shown
    assert "PAY-1" in shown and "INV-2" in shown and "400.00 USD" in shown
    assert "Per our call" in shown
    assert action_ids(billing) == [
        f"approve_allocation:{allocation_id}",
        f"reject_allocation:{allocation_id}",
    ]
    receipt = harness.slack.messages_in(ALICE)[0]
    assert f"cancel_allocation:{allocation_id}" in action_ids(receipt)
    assert "400.00 USD" in text_of(receipt)

    status, _reply, _ = harness.click(
        APPROVER, f"approve_allocation:{allocation_id}", message=billing
    )
    assert status == 200
    wait_for(lambda: allocation_row(books, allocation_id).status == "approved", what="approval")
    assert invoice_row(books, "INV-2").amount_due == 0
    assert payment_row(books, "PAY-1").allocated == 40000
    assert payment_row(books, "PAY-1").pending == 0
    assert journal_of(books, allocation_id) == [
        ("allocation", "unapplied_cash:P-ACME", 40000, 0, "USD"),
        ("allocation", "receivable:P-ACME:INV-2", 0, 40000, "USD"),
    ]

    harness.deliver()
    billing = _billing_message(harness, allocation_id)
    assert action_ids(billing) == []
    assert f"Approved by <@{APPROVER}>" in text_of(billing)
    # One DM per decision: the receipt is edited in place to say what became of the request.
    dms = harness.slack.messages_in(ALICE)
    assert len(dms) == 1
    assert "approved" in text_of(dms[0]).lower()
    assert f"<@{APPROVER}>" in text_of(dms[0])
    assert action_ids(dms[0]) == []  # the receipt lost its Cancel button
    assert check_books(books) == []


def test_partial_allocation_leaves_the_rest_to_allocate(
    harness: BotHarness, books: Database
) -> None:
    allocation_id = _request(harness, ALICE, "PAY-1", "INV-1", "250.00")
    harness.deliver()
    harness.click(
        APPROVER,
        f"approve_allocation:{allocation_id}",
        message=_billing_message(harness, allocation_id),
    )
    wait_for(lambda: allocation_row(books, allocation_id).status == "approved", what="approval")
    assert invoice_row(books, "INV-1").amount_due == 35000
    _status, listing, _ = harness.slash(ALICE)
    assert "750.00 USD" in text_of(listing)
    harness.deliver()
    assert "350.00 USD" in text_of(_billing_message(harness, allocation_id))


def test_pending_billing_messages_follow_the_balances_other_decisions_move(
    harness: BotHarness, books: Database
) -> None:
    first = _request(harness, ALICE, "PAY-1", "INV-1", "600.00")
    second = _request(harness, BOTH, "PAY-1", "INV-2", "300.00")
    harness.deliver()
    waiting = _billing_message(harness, second)
    assert "*100.00 USD* left to allocate, 900.00 USD pending approval" in text_of(waiting)

    harness.click(APPROVER, f"approve_allocation:{first}", message=_billing_message(harness, first))
    wait_for(lambda: allocation_row(books, first).status == "approved", what="approval")
    harness.deliver()
    # The approval moved 600.00 of PAY-1 from pending to allocated: the request still waiting
    # on PAY-1 says so, and keeps its buttons (and its place: the same message, edited).
    waiting = _billing_message(harness, second)
    shown = text_of(waiting)
    assert "*100.00 USD* left to allocate, 300.00 USD pending approval" in shown
    assert "Balances now" in shown
    assert action_ids(waiting) == [f"approve_allocation:{second}", f"reject_allocation:{second}"]
    assert [text_of(m) for m in harness.billing_messages()].count(shown) == 1

    # Rejecting the second frees its 300.00; the decided first request is left alone.
    approved_before = text_of(_billing_message(harness, first))
    harness.bot.ledger.reject(second, harness.bot.approvers.actor(APPROVER), "Wrong invoice")
    harness.deliver()
    assert text_of(_billing_message(harness, first)) == approved_before
    assert "Rejected by" in text_of(_billing_message(harness, second))


def test_rejection_asks_for_a_reason_and_the_requester_reads_it(
    harness: BotHarness, books: Database
) -> None:
    allocation_id = _request(harness, ALICE, "PAY-1", "INV-1", "100.00")
    harness.deliver()
    billing = _billing_message(harness, allocation_id)
    harness.click(APPROVER, f"reject_allocation:{allocation_id}", message=billing)
    modal = harness.wait_view(2)
    assert modal["callback_id"] == "reject_modal"
    assert json.loads(modal["private_metadata"]) == {"allocation_id": allocation_id}

    blank = {"reason": {"reason": payloads.text_value("   ")}}
    _status, reply = harness.submit(APPROVER, modal, blank)
    assert reply["response_action"] == "errors" and "reason" in reply["errors"]
    assert allocation_row(books, allocation_id).status == "pending"

    given = {"reason": {"reason": payloads.text_value("That invoice was paid by card")}}
    status, reply = harness.submit(APPROVER, modal, given)
    assert status == 200 and not reply
    row = allocation_row(books, allocation_id)
    assert (row.status, row.decided_by, row.reason) == (
        "rejected",
        APPROVER,
        "That invoice was paid by card",
    )
    assert payment_row(books, "PAY-1").pending == 0 and invoice_row(books, "INV-1").pending == 0
    assert journal_of(books, allocation_id) == []

    harness.deliver()
    billing = _billing_message(harness, allocation_id)
    assert "That invoice was paid by card" in text_of(billing) and action_ids(billing) == []
    decision = harness.slack.messages_in(ALICE)[-1]
    assert "That invoice was paid by card" in text_of(decision)


def test_requester_cancels_from_the_receipt(harness: BotHarness, books: Database) -> None:
    allocation_id = _request(harness, ALICE, "PAY-1", "INV-1", "100.00")
    harness.deliver()
    receipt = harness.slack.messages_in(ALICE)[0]
    harness.click(
        ALICE,
        f"cancel_allocation:{allocation_id}",
        message=receipt,
        channel_id=receipt_channel(harness),
    )
    wait_for(lambda: allocation_row(books, allocation_id).status == "cancelled", what="cancel")
    assert payment_row(books, "PAY-1").pending == 0
    harness.deliver()
    assert action_ids(_billing_message(harness, allocation_id)) == []
    assert "cancel" in text_of(_billing_message(harness, allocation_id)).lower()


def receipt_channel(h: BotHarness) -> str:
    return str(h.slack.deliveries("chat.postMessage")[-1].response["channel"])  # type: ignore[index]


def test_history_shows_decisions_and_reasons(harness: BotHarness, books: Database) -> None:
    first = _request(harness, ALICE, "PAY-1", "INV-1", "100.00")
    harness.bot.ledger.reject(first, harness.bot.approvers.actor(APPROVER), "Wrong invoice")
    _status, reply, _ = harness.slash(ALICE, "history")
    shown = text_of(reply)
    assert "INV-1" in shown and "Wrong invoice" in shown and "reject" in shown.lower()
    _status, reply, _ = harness.slash(BOB, "history")
    assert "INV-1" not in text_of(reply)


# --------------------------------------------------------------------- billing: who decides


def test_non_approver_is_told_and_nothing_changes(harness: BotHarness, books: Database) -> None:
    allocation_id = _request(harness, ALICE, "PAY-1", "INV-1", "100.00")
    harness.deliver()
    billing = _billing_message(harness, allocation_id)
    for action in ("approve_allocation", "reject_allocation"):
        _status, _reply, response_url = harness.click(
            BOB, f"{action}:{allocation_id}", message=billing
        )
        said = harness.wait_response(response_url)
        assert said["response_type"] == "ephemeral" and said.get("replace_original") is False
        assert "Only billing approvers" in text_of(said)
    assert allocation_row(books, allocation_id).status == "pending"
    assert len(harness.opened_views()) == 1  # only the partner's allocation modal


def test_approver_cannot_decide_their_own_request(harness: BotHarness, books: Database) -> None:
    allocation_id = _request(harness, SECOND_APPROVER, "PAY-1", "INV-1", "100.00")
    harness.deliver()
    _status, _reply, response_url = harness.click(
        SECOND_APPROVER,
        f"approve_allocation:{allocation_id}",
        message=_billing_message(harness, allocation_id),
    )
    assert "another approver" in text_of(harness.wait_response(response_url))
    assert allocation_row(books, allocation_id).status == "pending"


def test_approver_who_is_a_member_of_the_partner_cannot_decide_its_requests(
    harness: BotHarness, books: Database
) -> None:
    # SECOND_APPROVER belongs to Acme; ALICE, a colleague, made the request.
    allocation_id = _request(harness, ALICE, "PAY-1", "INV-1", "100.00")
    harness.deliver()
    billing = _billing_message(harness, allocation_id)
    for verb in ("approve", "reject"):
        _status, _reply, response_url = harness.click(
            SECOND_APPROVER, f"{verb}_allocation:{allocation_id}", message=billing
        )
        said = harness.wait_response(response_url)
        assert said["response_type"] == "ephemeral"
        assert (
            f"You are a member of Acme Corp, so you cannot {verb} its requests;"
            " another approver must."
        ) in text_of(said)
    assert allocation_row(books, allocation_id).status == "pending"
    assert len(harness.opened_views()) == 1  # no reject form was opened for them
    assert journal_of(books, allocation_id) == []


def test_member_of_the_approver_group_may_approve(harness: BotHarness, books: Database) -> None:
    allocation_id = _request(harness, ALICE, "PAY-1", "INV-1", "100.00")
    harness.deliver()
    harness.click(
        GROUP_APPROVER,
        f"approve_allocation:{allocation_id}",
        message=_billing_message(harness, allocation_id),
    )
    wait_for(lambda: allocation_row(books, allocation_id).status == "approved", what="approval")
    assert allocation_row(books, allocation_id).decided_by == GROUP_APPROVER


def test_second_click_is_told_who_decided_first(harness: BotHarness, books: Database) -> None:
    allocation_id = _request(harness, ALICE, "PAY-1", "INV-1", "100.00")
    harness.deliver()
    billing = _billing_message(harness, allocation_id)
    harness.click(APPROVER, f"approve_allocation:{allocation_id}", message=billing)
    wait_for(lambda: allocation_row(books, allocation_id).status == "approved", what="approval")
    _status, _reply, response_url = harness.click(
        SECOND_APPROVER, f"approve_allocation:{allocation_id}", message=billing
    )
    said = text_of(harness.wait_response(response_url))
    assert f"<@{APPROVER}>" in said and "approved" in said.lower()
    assert allocation_row(books, allocation_id).decided_by == APPROVER
    assert len(journal_of(books, allocation_id)) == 2


# ------------------------------------------------------------------------ HTTP edges


def test_bad_signature_and_stale_timestamp_are_refused(
    harness: BotHarness, books: Database
) -> None:
    body = payloads.slash_command(ALICE, "list", response_url=harness.new_response_url())
    status, _headers, _text = payloads.post_signed(harness.base_url, body, secret="wrong-secret")
    assert status == 401
    from tests.support.bot_harness import SECRET

    stale = int(time.time()) - 600
    status, _headers, _text = payloads.post_signed(
        harness.base_url, body, secret=SECRET, timestamp=stale
    )
    assert status == 401


def test_forged_approval_with_bad_signature_changes_nothing(
    harness: BotHarness, books: Database
) -> None:
    allocation_id = _request(harness, ALICE, "PAY-1", "INV-1", "100.00")
    body = payloads.block_actions(
        APPROVER,
        f"approve_allocation:{allocation_id}",
        str(allocation_id),
        channel_id=BILLING_CHANNEL,
        response_url=harness.new_response_url(),
    )
    status, _headers, _text = payloads.post_signed(harness.base_url, body, secret="forged")
    assert status == 401
    time.sleep(0.2)
    assert allocation_row(books, allocation_id).status == "pending"


def test_healthz_answers_200_when_the_database_answers(harness: BotHarness) -> None:
    import urllib.request

    with urllib.request.urlopen(harness.base_url + "/healthz", timeout=5) as response:
        assert response.status == 200
        assert json.loads(response.read())["database"] == "ok"


def test_journal_balances_after_the_flow(harness: BotHarness, books: Database) -> None:
    first = _request(harness, ALICE, "PAY-1", "INV-1", "100.00")
    second = _request(harness, ALICE, "PAY-1", "INV-2", "50.00")
    harness.bot.ledger.approve(first, harness.bot.approvers.actor(APPROVER))
    harness.bot.ledger.approve(second, harness.bot.approvers.actor(APPROVER))
    with books.transaction() as session:
        debits, credits = session.execute(
            select(func.sum(JournalLine.debit), func.sum(JournalLine.credit))
        ).one()
    assert debits == credits == 15000
    assert check_books(books) == []
