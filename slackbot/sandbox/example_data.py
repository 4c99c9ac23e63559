"""The sandbox's people and books: partners, members, payments in four currencies, invoices,
and requests waiting or decided, loaded through the real import and ledger services.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

from models.schemas import Actor
from slackbot.db import Database
from slackbot.erp.imports import ImportKind, import_csv
from slackbot.ledger import Ledger

BILLING_CHANNEL = "CSANDBILLING"
APPROVER_GROUP = "SSANDAPPROVE"


@dataclass(frozen=True)
class Person:
    user_id: str
    name: str
    role: str  # what the picker says about them


ADA = Person("USANDADA", "Ada Lovelace", "Acme Corp (USD, JPY)")
BRUNO = Person("USANDBRUNO", "Bruno Diaz", "Globex (EUR, KWD) and Initech (USD)")
CLARA = Person("USANDCLARA", "Clara Oswald", "billing approver")
DEV = Person("USANDDEV", "Dev Patel", "billing approver (through the approvers group)")
EVE = Person("USANDEVE", "Eve Moneypenny", "not linked to any partner")
PEOPLE = (ADA, BRUNO, CLARA, DEV, EVE)
APPROVER_IDS = (CLARA.user_id,)
GROUP_MEMBERS = (DEV.user_id,)

PARTNERS = """partner_id,name
ACME,Acme Corp
GLOBEX,"Globex, Ltd"
INITECH,Initech
"""
MEMBERS = f"""partner_id,slack_user_id
ACME,{ADA.user_id}
GLOBEX,{BRUNO.user_id}
INITECH,{BRUNO.user_id}
"""
PAYMENTS = """payment_id,partner_id,amount,currency,received_on,reference
PAY-1001,ACME,1250.00,USD,2026-11-01,wire 884213 INV-7
PAY-1002,ACME,500000,JPY,2026-11-02,furikomi 7781
PAY-1003,GLOBEX,12.345,KWD,2026-11-03,"transfer, partial"
PAY-1004,GLOBEX,4200.00,EUR,2026-11-04,SEPA INV-21 INV-22
PAY-1005,INITECH,980.50,USD,2026-11-05,check 1142
PAY-1006,ACME,300.00,USD,2026-11-06,card settlement
"""
INVOICES = """invoice_id,partner_id,amount,currency,issued_on,due_on,amount_due
INV-7,ACME,1250.00,USD,2026-10-01,2026-11-30,
INV-8,ACME,800.00,USD,2026-10-05,2026-12-05,300.00
INV-9,ACME,450.00,USD,2026-10-09,2026-12-09,
INV-10,ACME,320000,JPY,2026-10-10,2026-12-10,
INV-11,ACME,180000,JPY,2026-10-12,2026-12-12,
INV-20,GLOBEX,20.000,KWD,2026-10-03,2026-12-03,8.500
INV-21,GLOBEX,2500.00,EUR,2026-10-04,2026-12-04,
INV-22,GLOBEX,1700.00,EUR,2026-10-06,2026-12-06,
INV-30,INITECH,980.50,USD,2026-10-07,2026-12-07,
INV-31,INITECH,125.00,USD,2026-10-08,2026-12-08,
"""


def load(db: Database) -> list[str]:
    """Import the books and make a few requests; returns the lines to print about it."""
    said = []
    for kind, text in (
        (ImportKind.PARTNERS, PARTNERS),
        (ImportKind.MEMBERS, MEMBERS),
        (ImportKind.PAYMENTS, PAYMENTS),
        (ImportKind.INVOICES, INVOICES),
    ):
        result = import_csv(
            db, kind, io.StringIO(text), source_name=f"sandbox {kind}", actor="sandbox"
        )
        said.append(result.summary())
    ledger = Ledger(db)
    clara = Actor(user_id=CLARA.user_id, can_approve=True)
    approved = ledger.request_allocation(
        BRUNO.user_id, "PAY-1004", "INV-21", "2500.00", note="SEPA batch of 4 Nov"
    )
    ledger.approve(approved.allocation_id, clara)
    rejected = ledger.request_allocation(ADA.user_id, "PAY-1002", "INV-11", "150000")
    ledger.reject(
        rejected.allocation_id,
        clara,
        "PAY-1002 is for INV-10 (see its reference); please allocate it there",
    )
    ledger.request_allocation(BRUNO.user_id, "PAY-1003", "INV-20", "8.500", note="KWD part")
    ledger.request_allocation(BRUNO.user_id, "PAY-1005", "INV-31", "125.00")
    said.append("requests: 1 approved, 1 rejected, 2 waiting for billing")
    return said
