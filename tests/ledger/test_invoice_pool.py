"""What the suggestions read from the ledger: the pool in the matcher's own order, and the few
invoices a filled-in modal shows, read by id with the options' membership checks."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import insert

from models.tables import Invoice
from slackbot.db import Database
from slackbot.errors import NotFound
from slackbot.ledger import Ledger
from slackbot.ledger.matching import OpenInvoice, PaymentFacts, invoice_pool, suggest_allocations
from slackbot.ledger.queries import open_invoice_pool
from tests.support.factories import add_invoice, add_partner, add_payment

DAY = dt.date(2026, 11, 1)
# Ids whose code-point order differs from a language collation's (case, accents, digits and
# punctuation), so an order taken from the database's locale would show.
IDS = ("inv-b", "INV-a", "Inv-\u00c4", "INV-10", "INV-9", "inv_2", "\u00e9-1", "Z-1", "a-1", "_x")


def test_the_pool_read_from_the_ledger_is_the_matchers_own_order(db: Database) -> None:
    rng = random.Random(7)
    add_partner(db, "P1", "Acme")
    add_partner(db, "P2", "Other")
    rows = []
    for n in range(120):
        invoice_id = f"{rng.choice(IDS)}-{n % 7}-{n}" if n % 3 else rng.choice(IDS) + f"#{n}"
        amount = rng.randrange(100, 9000)
        held = rng.choice((0, 0, amount, amount // 3))  # some fully held: not open
        rows.append(
            {
                "invoice_id": invoice_id,
                "partner_id": rng.choice(("P1", "P1", "P2")),
                "currency": rng.choice(("USD", "USD", "EUR")),
                "exponent": 2,
                "amount": amount,
                "opening_due": amount,
                "applied": 0,
                "pending": held,
                # Few dates, so most ties are broken by the issue date and then the id.
                "issued_on": DAY + dt.timedelta(days=rng.randrange(0, 2)),
                "due_on": DAY + dt.timedelta(days=rng.randrange(0, 3)),
            }
        )
    with db.transaction() as session:
        session.execute(insert(Invoice), rows)
    snapshots = [
        OpenInvoice(
            str(r["invoice_id"]),
            str(r["partner_id"]),
            str(r["currency"]),
            int(r["opening_due"]) - int(r["pending"]),  # type: ignore[call-overload]
            r["due_on"],  # type: ignore[arg-type]
            r["issued_on"],  # type: ignore[arg-type]
        )
        for r in rows
    ]

    with db.transaction(read_only=True) as session:
        read = open_invoice_pool(session, "P1", "USD")
    expected = invoice_pool("P1", "USD", snapshots)

    assert read.ids == expected.ids
    assert read.amounts == expected.amounts
    assert len(read.ids) > 20  # the seed gave a real pool
    # The same suggestion either way (the reference names one, the amount is an exact pair).
    payment = PaymentFacts(
        "PAY-1", "P1", "USD", read.amounts[3] + read.amounts[8], f"for {read.ids[5]}"
    )
    assert suggest_allocations(payment, read) == suggest_allocations(payment, snapshots)


def test_a_pool_of_another_partner_or_currency_matches_nothing_and_says_why() -> None:
    pool = invoice_pool("P1", "USD", [OpenInvoice("INV-1", "P1", "USD", 500, DAY, DAY)])
    for partner, currency in (("P2", "USD"), ("P1", "EUR")):
        with pytest.raises(ValueError, match="cannot match payment PAY-1"):
            suggest_allocations(PaymentFacts("PAY-1", partner, currency, 500), pool)
    found = suggest_allocations(PaymentFacts("PAY-1", "P1", "USD", 500), pool)
    assert [(line.invoice_id, line.amount) for line in found[0].lines] == [("INV-1", 500)]


def test_a_suggestions_invoices_are_read_by_id_within_what_the_payment_may_pay(
    db: Database, ledger: Ledger
) -> None:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_partner(db, "P2", "Other", members=["U2"])
    add_payment(db, "PAY-1", "P1", 10_000, "USD")
    add_invoice(db, "INV-1", "P1", 5000, "USD")
    add_invoice(db, "INV-2", "P1", 7000, "USD", amount_due=0)  # paid: nothing open
    add_invoice(db, "INV-EUR", "P1", 5000, "EUR")
    add_invoice(db, "INV-P2", "P2", 5000, "USD")
    for n in range(150):  # beyond a page of the options, so no page is read to find them
        add_invoice(db, f"OLD-{n:03d}", "P1", 100, "USD", due_on=DAY)

    found = ledger.open_invoices_among(
        "U1", "PAY-1", ["INV-1", "INV-2", "INV-EUR", "INV-P2", "NOPE", "", "OLD-149", "x" * 500]
    )

    assert sorted(found) == ["INV-1", "OLD-149"]
    assert found["INV-1"].amount_due == 5000
    assert found["OLD-149"].due_on == DAY
    # Another partner's member reads nothing of this payment.
    with pytest.raises(NotFound):
        ledger.open_invoices_among("U2", "PAY-1", ["INV-1"])
    assert ledger.open_invoices_among("U1", "PAY-1", []) == {}
