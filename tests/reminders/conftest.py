"""The reminders' books: two partners, payments and invoices to make requests against."""

from __future__ import annotations

import pytest

from slackbot.db import Database
from tests.support.factories import add_invoice, add_partner, add_payment


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P1", "Acme", members=["U1", "U0ALICE"])
    add_partner(db, "P2", "Beta", members=["U2"])
    add_payment(db, "PAY-1", "P1", 10_000_000, "EUR")
    add_payment(db, "PAY-2", "P2", 10_000_000, "USD")
    for n in range(1, 6):
        add_invoice(db, f"INV-{n}", "P1", 1_000_000, "EUR")
    add_invoice(db, "INV-B", "P2", 1_000_000, "USD")
    return db
