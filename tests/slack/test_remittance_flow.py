"""A remittance in one request, through the real HTTP app with signed requests (issue 11).

A partner turns one payment into a request of several invoices in one modal (adding, choosing,
typing, removing lines), or accepts the bot's suggestion from ``/payments``; billing approves
the whole request with one click; refusals land under the exact line at fault and change nothing.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from models.enums import AllocationStatus, LineChoice
from models.tables import Allocation
from slackbot.db import Database
from slackbot.slack.ids import line_of_block
from tests.slack.test_views_limits import check_message, check_view
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import APPROVER, BotHarness, action_ids, text_of, wait_for
from tests.support.factories import add_invoice, add_partner, add_payment, payment_row
from tests.support.slack_stub import dm_channel_for

ALICE = "U0ALICE"
# What the bot sends of a view (Slack's copy adds its own fields: id, hash, state, …).
SENT_VIEW_KEYS = ("type", "callback_id", "title", "submit", "close", "private_metadata", "blocks")
# Seven invoices that take the whole 10,000.00 of PAY-1, and one more the reference names.
INVOICES = {
    "INV-1": 200_000,
    "INV-2": 150_000,
    "INV-3": 100_000,
    "INV-4": 175_000,
    "INV-5": 125_000,
    "INV-6": 90_000,
    "INV-7": 160_000,
}


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE])
    add_partner(db, "P-GLOBEX", "Globex", members=["U0BOB"])
    add_payment(db, "PAY-1", "P-ACME", 1_000_000, "USD", reference="wire 884213")
    add_payment(db, "PAY-S", "P-ACME", 130_000, "USD", reference="Remittance for INV-8 and INV-9")
    for n, (invoice_id, amount) in enumerate(INVOICES.items(), start=1):
        add_invoice(db, invoice_id, "P-ACME", amount, "USD", due_on=dt.date(2026, 1, n))
    add_invoice(db, "INV-8", "P-ACME", 80_000, "USD", due_on=dt.date(2026, 3, 1))
    add_invoice(db, "INV-9", "P-ACME", 50_000, "USD", due_on=dt.date(2026, 3, 2))
    add_invoice(db, "INV-EUR", "P-ACME", 10_000, "EUR")
    add_invoice(db, "INV-B1", "P-GLOBEX", 50_000, "USD")
    return db


# ------------------------------------------------------------------------ acting in the modal


def _open(h: BotHarness, payment_id: str = "PAY-1") -> dict[str, Any]:
    before = len(h.opened_views())
    status, _reply, _ = h.slash(ALICE, f"allocate {payment_id}")
    assert status == 200
    return h.wait_view(before + 1)


def _slots(view: dict[str, Any]) -> dict[int, dict[str, str]]:
    """Per line slot, the block ids the modal now gives its invoice and amount."""
    found: dict[int, dict[str, str]] = {}
    for block in view["blocks"]:
        place = line_of_block(str(block.get("block_id", "")))
        if place is not None and block.get("type") == "input":
            found.setdefault(place[1], {})[place[0]] = block["block_id"]
    return found


def _state(
    view: dict[str, Any], payment_id: str, typed: dict[int, tuple[str | None, str | None]]
) -> dict[str, dict[str, Any]]:
    """``view.state.values`` as Slack sends it: what each line holds (an untouched amount holds
    its initial value, as Slack reports it)."""
    state: dict[str, dict[str, Any]] = {
        "payment": {"payment": payloads.static_select_value(payment_id, payment_id)}
    }
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    for slot, ids in _slots(view).items():
        invoice_id, amount = typed.get(slot, (None, None))
        invoice_block = ids["invoice"]
        if invoice_id is None:
            chosen = blocks[invoice_block]["element"].get("initial_option")
            invoice_id = chosen["value"] if chosen else None
        action = blocks[invoice_block]["element"]["action_id"]
        state[invoice_block] = {action: payloads.external_select_value(invoice_id, invoice_id)}
        amount_block = ids["amount"]
        element = blocks[amount_block]["element"]
        if amount is None:
            amount = element.get("initial_value")
        state[amount_block] = {element["action_id"]: payloads.text_value(amount)}
    state["note"] = {"note": payloads.text_value("Remittance 884213")}
    return state


def _allocations(db: Database) -> list[Allocation]:
    with db.transaction() as session:
        rows = session.scalars(select(Allocation).order_by(Allocation.allocation_id)).all()
        session.expunge_all()
        return list(rows)


def _billing_for(h: BotHarness, allocation_id: int) -> dict[str, Any]:
    return next(m for m in h.billing_messages() if f"#{allocation_id}" in str(m.get("text")))


# ----------------------------------------------------------------------------- the remittance


def test_a_partner_turns_a_payment_of_10000_into_a_7_invoice_request_in_one_modal(
    harness: BotHarness, books: Database
) -> None:
    h = harness
    view = _open(h)
    view_id = view["id"]
    typed: dict[int, tuple[str | None, str | None]] = {}
    # Line 1: choose INV-1; its amount follows (the lesser of both: 2,000.00).
    view = h.act_in_modal(
        ALICE, view_id, "invoice", "INV-1", state=_state(view, "PAY-1", {1: ("INV-1", None)})
    )
    assert _slots(view)[1]["amount"] == "amount:PAY-1:INV-1"
    typed[1] = ("INV-1", "2000.00")
    for n, invoice_id in enumerate(list(INVOICES)[1:], start=2):
        view = h.act_in_modal(
            ALICE, view_id, "add_invoice_line", state=_state(view, "PAY-1", typed)
        )
        assert n in _slots(view), f"line {n} was not added"
        # What was typed in the earlier lines is still there.
        blocks = {b.get("block_id"): b for b in view["blocks"]}
        for slot, (chosen, amount) in typed.items():
            ids = _slots(view)[slot]
            assert blocks[ids["invoice"]]["element"]["initial_option"]["value"] == chosen
            assert blocks[ids["amount"]]["element"]["initial_value"] == amount
        if n == 5:
            # The type-ahead of line 5 offers Acme's open USD invoices, as line 1's does.
            status, options = h.post(
                payloads.block_suggestion(
                    ALICE,
                    "invoice_5",
                    "",
                    view=view,
                    state_values=_state(view, "PAY-1", typed),
                )
            )
            assert status == 200
            offered = [o["value"] for o in options["options"]]
            assert "INV-5" in offered and "INV-9" in offered
            assert "INV-EUR" not in offered and "INV-B1" not in offered
        view = h.act_in_modal(
            ALICE,
            view_id,
            f"invoice_{n}",
            invoice_id,
            state=_state(view, "PAY-1", {**typed, n: (invoice_id, None)}),
        )
        amount = f"{INVOICES[invoice_id] // 100}.00"
        typed[n] = (invoice_id, amount)
    assert "*Total 10,000.00 USD* in 7 lines" in text_of(h.slack.view(view_id))

    status, reply = h.submit(ALICE, view, _state(view, "PAY-1", typed))
    assert status == 200 and reply["response_action"] == "update", reply
    assert "*10,000.00 USD* from *PAY-1* to *7 invoices*" in text_of(reply["view"])

    # The ledger: one request of 7 lines, in the order entered, all reserved.
    rows = _allocations(books)
    assert [(r.invoice_id, r.amount, r.status) for r in rows] == [
        (invoice_id, amount, AllocationStatus.PENDING) for invoice_id, amount in INVOICES.items()
    ]
    request_id = rows[0].allocation_id
    assert {r.request_id for r in rows} == {request_id}
    assert [r.line_no for r in rows] == list(range(1, 8))
    assert {r.chosen for r in rows} == {LineChoice.BY_HAND}
    assert payment_row(books, "PAY-1").pending == 1_000_000

    # Billing: one message listing the 7 lines and the total, one Approve and one Reject.
    h.deliver()
    billing = _billing_for(h, request_id)
    check_message({k: billing[k] for k in ("text", "blocks")})
    shown = text_of(billing)
    assert all(invoice_id in shown for invoice_id in INVOICES)
    assert "10,000.00 USD" in shown and "7 invoices" in shown
    assert "by hand" in shown and "Remittance 884213" in shown
    assert action_ids(billing) == [
        f"approve_allocation:{request_id}",
        f"reject_allocation:{request_id}",
    ]

    # One approval posts every line.
    status, _reply, _ = h.click(APPROVER, f"approve_allocation:{request_id}", message=billing)
    assert status == 200
    wait_for(
        lambda: all(r.status == AllocationStatus.APPROVED for r in _allocations(books)),
        what="every line approved",
    )
    assert payment_row(books, "PAY-1").allocated == 1_000_000
    h.deliver()
    billing = _billing_for(h, request_id)
    assert f"Approved by <@{APPROVER}>" in text_of(billing)
    assert action_ids(billing) == []
    dm = " ".join(text_of(m) for m in h.slack.messages_in(dm_channel_for(ALICE)))
    assert "approved" in dm.lower()
    assert all(invoice_id in dm for invoice_id in INVOICES)
    assert "now paid in full" in dm


def test_a_suggestion_offered_in_payments_is_accepted_as_suggested(
    harness: BotHarness, books: Database
) -> None:
    h = harness
    _status, listing, _ = h.slash(ALICE)
    shown = text_of(listing)
    # PAY-S's reference names INV-8 and INV-9, whose 800.00 + 500.00 take its 1,300.00.
    assert "INV-8" in shown and "INV-9" in shown and "Suggested" in shown
    assert "allocate_suggested:PAY-S" in action_ids(listing)
    status, _reply, _ = h.click(
        ALICE, "allocate_suggested:PAY-S", message=listing, channel_id="C_PARTNER", ephemeral=True
    )
    assert status == 200
    view = h.wait_view()
    slots = _slots(view)
    assert sorted(slots) == [1, 2]
    status, reply = h.submit(ALICE, view, _state(view, "PAY-S", {}))
    assert status == 200 and reply["response_action"] == "update", reply
    rows = _allocations(books)
    assert [(r.invoice_id, r.amount) for r in rows] == [("INV-8", 80_000), ("INV-9", 50_000)]
    assert {r.chosen for r in rows} == {LineChoice.SUGGESTED}
    h.deliver()
    assert "as suggested by the bot" in text_of(_billing_for(h, rows[0].allocation_id))


def test_a_suggestion_changed_before_sending_is_recorded_as_edited(
    harness: BotHarness, books: Database
) -> None:
    h = harness
    _status, listing, _ = h.slash(ALICE)
    h.click(
        ALICE, "allocate_suggested:PAY-S", message=listing, channel_id="C_PARTNER", ephemeral=True
    )
    view = h.wait_view()
    status, reply = h.submit(ALICE, view, _state(view, "PAY-S", {2: ("INV-9", "400.00")}))
    assert status == 200 and reply["response_action"] == "update", reply
    assert {r.chosen for r in _allocations(books)} == {LineChoice.EDITED}


def test_the_modal_opened_plain_offers_the_suggestion_and_fills_itself_in(
    harness: BotHarness, books: Database
) -> None:
    h = harness
    view = _open(h, "PAY-S")
    assert sorted(_slots(view)) == [1]  # the single-line modal, as before
    assert "allocate_suggested:PAY-S" in action_ids(view)
    view = h.act_in_modal(ALICE, view["id"], "allocate_suggested:PAY-S")
    assert sorted(_slots(view)) == [1, 2]
    assert "allocate_suggested:PAY-S" not in action_ids(view)


def test_an_error_lands_under_the_exact_line_and_changes_nothing(
    harness: BotHarness, books: Database
) -> None:
    h = harness
    view = _open(h)
    typed: dict[int, tuple[str | None, str | None]] = {1: ("INV-1", "100.00")}
    for n in (2, 3, 4):
        view = h.act_in_modal(
            ALICE, view["id"], "add_invoice_line", state=_state(view, "PAY-1", typed)
        )
        typed[n] = (f"INV-{n}", "100.00")
    # Line 4's invoice (INV-4) has 1,750.00 open: 1,800.00 is more than it has left.
    typed[4] = ("INV-4", "1800.00")
    before = payment_row(books, "PAY-1")
    status, reply = h.submit(ALICE, view, _state(view, "PAY-1", typed))
    assert status == 200 and reply["response_action"] == "errors", reply
    assert list(reply["errors"]) == [_slots(view)[4]["amount"]]
    assert "INV-4" in next(iter(reply["errors"].values()))
    assert _allocations(books) == []
    assert payment_row(books, "PAY-1").pending == before.pending

    # The same invoice on two lines is refused under the second one.
    typed[4] = ("INV-2", "100.00")
    status, reply = h.submit(ALICE, view, _state(view, "PAY-1", typed))
    assert reply["response_action"] == "errors", reply
    assert list(reply["errors"]) == [_slots(view)[4]["invoice"]]
    # A half-filled line is refused under its empty block, before the ledger is asked.
    typed[3] = ("INV-3", "")
    status, reply = h.submit(ALICE, view, _state(view, "PAY-1", typed))
    assert reply["response_action"] == "errors", reply
    assert _slots(view)[3]["amount"] in reply["errors"]
    with books.transaction() as session:
        assert session.scalar(select(func.count()).select_from(Allocation)) == 0


def test_removing_a_line_keeps_the_others_as_typed(harness: BotHarness, books: Database) -> None:
    h = harness
    view = _open(h)
    typed: dict[int, tuple[str | None, str | None]] = {1: ("INV-1", "100.00")}
    for n in (2, 3):
        view = h.act_in_modal(
            ALICE, view["id"], "add_invoice_line", state=_state(view, "PAY-1", typed)
        )
        typed[n] = (f"INV-{n}", f"{n}00.00")
    view = h.act_in_modal(
        ALICE, view["id"], "remove_invoice_line:2", state=_state(view, "PAY-1", typed)
    )
    del typed[2]
    assert sorted(_slots(view)) == [1, 3]
    blocks = {b.get("block_id"): b for b in view["blocks"]}
    assert blocks["invoice_3"]["element"]["initial_option"]["value"] == "INV-3"
    assert blocks["invoice_3"]["label"]["text"] == "Invoice 2"
    assert blocks[_slots(view)[3]["amount"]]["element"]["initial_value"] == "300.00"
    # A line added now takes the free slot again, empty.
    view = h.act_in_modal(ALICE, view["id"], "add_invoice_line", state=_state(view, "PAY-1", typed))
    assert sorted(_slots(view)) == [1, 2, 3]
    fresh = {b.get("block_id"): b for b in view["blocks"]}["invoice_2"]["element"]
    assert "initial_option" not in fresh
    view = h.act_in_modal(
        ALICE, view["id"], "remove_invoice_line:2", state=_state(view, "PAY-1", typed)
    )
    status, reply = h.submit(ALICE, view, _state(view, "PAY-1", typed))
    assert status == 200 and reply["response_action"] == "update", reply
    assert [(r.invoice_id, r.amount, r.line_no) for r in _allocations(books)] == [
        ("INV-1", 10_000, 1),
        ("INV-3", 30_000, 2),
    ]


def test_at_ten_lines_there_is_no_add_button_and_a_forged_add_changes_nothing(
    harness: BotHarness, books: Database
) -> None:
    h = harness
    view = _open(h)
    for _ in range(9):
        view = h.act_in_modal(
            ALICE, view["id"], "add_invoice_line", state=_state(view, "PAY-1", {})
        )
    assert sorted(_slots(view)) == list(range(1, 11))
    assert "add_invoice_line" not in action_ids(view)
    check_view({k: view[k] for k in SENT_VIEW_KEYS if k in view})
    updates = len(h.slack.deliveries("views.update"))
    status, _ = h.post(
        payloads.block_actions(
            ALICE, "add_invoice_line", "add", container="view", view=h.slack.view(view["id"])
        )
    )
    assert status == 200
    h.bot.delivery.drain(timeout=1)
    assert len(h.slack.deliveries("views.update")) == updates
