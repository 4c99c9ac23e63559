"""The whole journey in two languages: a French partner (Slack locale fr-FR) and an English
approver (en-US), through the real HTTP app, at the billing channel's real 1 s pace.

Each person reads their own language: the partner's list, modal, refusals, receipt and decisions
in French with France's amounts (``1 250,50 $US``), typed the French way; the billing channel
in ``BILLING_LOCALE`` (here the default, en-US), as the approver reads it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import func, select

from models.tables import Allocation
from slackbot.db import Database
from slackbot.ledger.books import check_books
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import (
    APPROVER,
    BILLING_CHANNEL,
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
    payment_row,
)
from tests.support.slack_stub import FakeSlack

JULIE = "U0JULIE"  # Dupont SARL, reads Slack in French
SAM = "U0SAM"  # Dupont SARL too, reads Slack in American English
NNBSP, NBSP = "\u202f", "\u00a0"  # France's thousands separator; the space before a currency


def fr(amount: str) -> str:
    """An amount as France writes it, spaces as CLDR has them: fr('1 250,50 $US')."""
    whole, _, rest = amount.partition(",")
    decimals, _, currency = rest.partition(" ")
    return f"{whole.replace(' ', NNBSP)},{decimals}{NBSP}{currency}"


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-DUPONT", "Dupont SARL", members=[JULIE, SAM])
    add_payment(db, "PAY-FR", "P-DUPONT", 200000, "USD", reference="Virement 8812")
    add_invoice(db, "INV-FR-1", "P-DUPONT", 150000, "USD")
    add_invoice(db, "INV-FR-2", "P-DUPONT", 30000, "USD")
    return db


@pytest.fixture
def people(slack: FakeSlack) -> FakeSlack:
    slack.set_user(JULIE, locale="fr-FR", tz="Europe/Paris")
    slack.set_user(APPROVER, locale="en-US", tz="America/New_York")
    slack.set_user(SAM, locale="en-US", tz="America/Chicago")
    return slack


@pytest.fixture
def bot(books: Database, people: FakeSlack) -> Iterator[BotHarness]:
    """The bot with the production pace (1 s between billing posts), not the tests' 0."""
    running = BotHarness(books, people, BILLING_CHANNEL_PACE_SECONDS=1.0)
    yield running
    running.close()


def _open_modal(h: BotHarness) -> dict[str, Any]:
    before = len(h.opened_views())
    status, reply, _ = h.slash(JULIE, "allocate PAY-FR")
    assert status == 200, reply
    return h.wait_view(before + 1)


def _values(invoice: str, amount: str, note: str = "") -> dict[str, Any]:
    return {
        "payment": {"payment": payloads.static_select_value("PAY-FR", "PAY-FR")},
        "invoice": {"invoice": payloads.external_select_value(invoice, invoice)},
        "amount": {"amount": payloads.text_value(amount)},
        "note": {"note": payloads.text_value(note or None)},
    }


def _newest_allocation(db: Database) -> int:
    with db.transaction(read_only=True) as session:
        return int(session.scalar(select(func.max(Allocation.allocation_id))) or 0)


def _billing_message(h: BotHarness, allocation_id: int) -> dict[str, Any]:
    found = [m for m in h.billing_messages() if f"#{allocation_id}" in text_of(m)]
    assert found, f"no billing message for #{allocation_id}"
    return found[-1]


def _deliver_all(h: BotHarness, db: Database) -> None:
    """Send everything owed, at the real pace (a billing post waits for its 1 s slot)."""
    wait_for(lambda: h.deliver() == 0 and h.deliver() == 0, timeout=15, what="the outbox drained")


def test_a_french_partner_and_an_english_approver_each_read_their_own_language(
    bot: BotHarness, books: Database
) -> None:
    h = bot
    # /payments: the list in French, the amount as France writes it.
    status, reply, _ = h.slash(JULIE, "list")
    assert status == 200
    shown = text_of(reply)
    assert "Vos paiements avec un montant restant à affecter" in shown
    assert fr("2 000,00 $US") in shown and "2,000.00 USD" not in shown
    assert "Affecter" in shown

    # The modal in French; an amount typed the ambiguous way is refused in French, nothing held.
    view = _open_modal(h)
    assert "Affecter un paiement" in text_of(view) or "Affecter" in view["title"]["text"]
    status, refused = h.submit(JULIE, view, _values("INV-FR-1", "1,250"))
    assert status == 200 and refused["response_action"] == "errors", refused
    (message,) = refused["errors"].values()
    assert "peut se lire de deux façons" in message, message
    assert payment_row(books, "PAY-FR").pending == 0
    assert _newest_allocation(books) == 0

    # Typed as a French person writes it: accepted, and the exact amount is reserved.
    status, sent = h.submit(JULIE, view, _values("INV-FR-1", "1 250,50", note="Facture d’octobre"))
    assert status == 200 and sent["response_action"] == "update", sent
    assert fr("1 250,50 $US") in text_of(sent["view"])
    first = _newest_allocation(books)
    assert payment_row(books, "PAY-FR").pending == 125050
    assert invoice_row(books, "INV-FR-1").pending == 125050

    _deliver_all(h, books)
    # The billing channel reads English (BILLING_LOCALE defaults to DEFAULT_LOCALE, en-US).
    billing = _billing_message(h, first)
    shown = text_of(billing)
    assert f"Allocation request #{first}" in shown
    assert "1,250.50 USD" in shown and NNBSP not in shown
    assert "Facture d’octobre" in shown  # what the partner wrote stays as written
    # The partner's receipt is French.
    (receipt,) = h.slack.messages_in(JULIE)
    assert fr("1 250,50 $US") in text_of(receipt)
    assert "Annuler" in text_of(receipt)

    # The approver approves in English; the ledger posts it; the partner reads it in French.
    status, _reply, _ = h.click(APPROVER, f"approve_allocation:{first}", message=billing)
    assert status == 200
    wait_for(lambda: allocation_row(books, first).status == "approved", what="the approval")
    assert invoice_row(books, "INV-FR-1").amount_due == 150000 - 125050
    _deliver_all(h, books)
    billing = _billing_message(h, first)
    assert f"Approved by <@{APPROVER}>" in text_of(billing) and action_ids(billing) == []
    (receipt,) = h.slack.messages_in(JULIE)
    assert "Approuvée par" in text_of(receipt) and f"<@{APPROVER}>" in text_of(receipt)
    assert "approved" not in text_of(receipt).lower()

    # A second request is rejected with a reason: the partner reads the decision in French.
    view = _open_modal(h)
    status, sent = h.submit(JULIE, view, _values("INV-FR-2", "300,00"))
    assert status == 200 and sent["response_action"] == "update", sent
    second = _newest_allocation(books)
    _deliver_all(h, books)
    billing = _billing_message(h, second)
    assert "300.00 USD" in text_of(billing)
    h.click(APPROVER, f"reject_allocation:{second}", message=billing)
    modal = wait_for(
        lambda: next((v for v in h.opened_views() if v["callback_id"] == "reject_modal"), None),
        what="the reject modal",
    )
    assert "Reject" in text_of(modal)  # the approver's own language
    reason = {"reason": {"reason": payloads.text_value("Already paid by card")}}
    status, _reply = h.submit(APPROVER, modal, reason)
    assert status == 200
    wait_for(lambda: allocation_row(books, second).status == "rejected", what="the rejection")
    _deliver_all(h, books)
    decision = text_of(h.slack.messages_in(JULIE)[-1])
    assert "Refusée par" in decision and "Already paid by card" in decision
    assert "Rejected" not in decision
    assert text_of(_billing_message(h, second)).count("Rejected by") == 1

    # /payments history in French, with both decisions.
    _status, reply, _ = h.slash(JULIE, "history")
    shown = text_of(reply)
    assert "Approuvée" in shown and "Refusée" in shown
    assert check_books(books) == []
    assert BILLING_CHANNEL in {c.channel for c in h.slack.deliveries("chat.postMessage")}


def _amount_element(view: dict[str, Any]) -> dict[str, Any]:
    (element,) = [
        b["element"]
        for b in view["blocks"]
        if b.get("block_id", "").startswith("amount") and b.get("type") == "input"
    ]
    return element


def test_a_french_partner_who_keeps_the_prefilled_amount_is_not_refused(
    bot: BotHarness, books: Database
) -> None:
    # The amount starts at what the payment has left, written as the reader types it; once the
    # invoice is chosen it becomes the lesser of both. A French partner who submits it untouched
    # must not be told to write it another way.
    view = _open_modal(bot)
    assert _amount_element(view)["initial_value"] == "2000,00"
    assert "virgule" in text_of(view) and "point décimal" not in text_of(view)
    state = _values("INV-FR-1", "2000,00")
    view = bot.act_in_modal(JULIE, view["id"], "invoice", "INV-FR-1", state=state)
    typed = _amount_element(view)["initial_value"]
    assert typed == "1500,00"
    status, sent = bot.submit(JULIE, view, {**_values("INV-FR-1", typed)})
    assert status == 200 and sent["response_action"] == "update", sent
    assert payment_row(books, "PAY-FR").pending == 150000


def test_an_american_types_thousands_with_commas(bot: BotHarness, books: Database) -> None:
    # Same partner, same payment: the American's "1,250.50" is the French "1 250,50".
    before = len(bot.opened_views())
    bot.slash(SAM, "allocate PAY-FR")
    view = bot.wait_view(before + 1)
    assert _amount_element(view)["initial_value"] == "2000.00"
    status, sent = bot.submit(SAM, view, _values("INV-FR-1", "1,250.50"))
    assert status == 200 and sent["response_action"] == "update", sent
    assert "1,250.50 USD" in text_of(sent["view"])
    assert payment_row(books, "PAY-FR").pending == 125050
    status, refused = bot.submit(SAM, view, _values("INV-FR-2", "1.250"))
    assert refused["response_action"] == "errors", refused
    assert "can be read two ways" in next(iter(refused["errors"].values()))
