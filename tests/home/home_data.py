"""Shared data for the Home tests: two partners, their members, payments, invoices, requests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert

from models.enums import AllocationStatus
from models.tables import Allocation, Invoice, Partner, Payment
from slackbot.db import Database
from tests.support.factories import add_invoice, add_partner, add_payment

ACME_MEMBER = "U0ACME1"
ACME_OTHER = "U0ACME2"
GLOBEX_MEMBER = "U0GLOBEX1"
BOTH_MEMBER = "U0BOTH1"
STRANGER = "U0STRANGER"


def two_partners(db: Database) -> None:
    """Acme (ACME_MEMBER, ACME_OTHER, BOTH_MEMBER) and Globex (GLOBEX_MEMBER, BOTH_MEMBER)."""
    add_partner(db, "ACME", "Acme Corp", members=[ACME_MEMBER, ACME_OTHER, BOTH_MEMBER])
    add_partner(db, "GLOBEX", "Globex", members=[GLOBEX_MEMBER, BOTH_MEMBER])
    add_payment(db, "PAY-A1", "ACME", 100_000, "USD", reference="INV-A1")
    add_payment(db, "PAY-A2", "ACME", 50_000, "EUR", received_on=dt.date(2026, 11, 2))
    add_payment(db, "PAY-G1", "GLOBEX", 70_000, "USD")
    add_invoice(db, "INV-A1", "ACME", 100_000, "USD")
    add_invoice(db, "INV-A2", "ACME", 30_000, "USD")
    add_invoice(db, "INV-AE", "ACME", 20_000, "EUR")
    add_invoice(db, "INV-G1", "GLOBEX", 70_000, "USD")


def many_pending(db: Database, requests: int, *, partners: int = 50) -> None:
    """``requests`` one-line pending requests spread over ``partners`` partners, inserted in
    bulk (the balances the requests hold are set on each payment and invoice)."""
    base = dt.datetime(2026, 11, 1, tzinfo=dt.UTC)
    per = -(-requests // partners)
    with db.transaction() as session:
        session.execute(
            insert(Partner),
            [{"partner_id": f"P{p:03d}", "name": f"Partner {p:03d}"} for p in range(partners)],
        )
        session.execute(
            insert(Payment),
            [
                {
                    "payment_id": f"PAY-{p:03d}",
                    "partner_id": f"P{p:03d}",
                    "currency": "USD",
                    "exponent": 2,
                    "amount": per * 1000,
                    "allocated": 0,
                    "pending": per * 1000,
                    "received_on": dt.date(2026, 10, 1),
                    "reference": "",
                }
                for p in range(partners)
            ],
        )
        session.execute(
            insert(Invoice),
            [
                {
                    "invoice_id": f"INV-{n:06d}",
                    "partner_id": f"P{n % partners:03d}",
                    "currency": "USD",
                    "exponent": 2,
                    "amount": 1000,
                    "opening_due": 1000,
                    "applied": 0,
                    "pending": 1000,
                    "issued_on": dt.date(2026, 10, 1),
                    "due_on": dt.date(2026, 12, 1),
                }
                for n in range(requests)
            ],
        )
        session.execute(
            insert(Allocation),
            [
                {
                    "allocation_id": n + 1,
                    "request_id": n + 1,
                    "line_no": 1,
                    "payment_id": f"PAY-{n % partners:03d}",
                    "invoice_id": f"INV-{n:06d}",
                    "partner_id": f"P{n % partners:03d}",
                    "currency": "USD",
                    "amount": 1000,
                    "status": AllocationStatus.PENDING.value,
                    "requested_by": f"U0REQ{n % partners:03d}",
                    "requested_at": base + dt.timedelta(minutes=n),
                }
                for n in range(requests)
            ],
        )
