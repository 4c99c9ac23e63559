"""Imports and member removals read the bot's one clock: their audit events and the messages
they owe carry the time it gives, never the wall clock's."""

from __future__ import annotations

import datetime as dt
import io

from sqlalchemy import select, update

from models.enums import OutboxKind
from models.tables import AuditEvent, OutboxMessage
from slackbot.db import Database
from slackbot.erp.imports import import_csv
from slackbot.erp.members import remove_member
from slackbot.ledger import Ledger

FROZEN = dt.datetime(2031, 1, 2, 3, 4, 5, tzinfo=dt.UTC)
PARTNERS = "partner_id,name\nP1,Acme Corp\n"
MEMBERS = "partner_id,slack_user_id\nP1,U0AAA\nP1,U0BBB\n"
PAYMENTS = (
    "payment_id,partner_id,amount,currency,received_on,reference\n"
    "PAY-1,P1,1250.00,USD,2026-11-01,wire\n"
)
INVOICES = (
    "invoice_id,partner_id,amount,currency,issued_on,due_on\n"
    "INV-1,P1,1000.00,USD,2026-10-01,2026-12-01\n"
)


def frozen() -> dt.datetime:
    return FROZEN


def load(db: Database, kind: str, text: str, **options: object) -> None:
    import_csv(db, kind, io.BytesIO(text.encode()), clock=frozen, **options)  # type: ignore[arg-type]


def test_an_import_stamps_its_audit_event_with_the_clock(db: Database) -> None:
    load(db, "partners", PARTNERS)

    with db.transaction() as session:
        stamps = session.scalars(
            select(AuditEvent.at).where(AuditEvent.action == "import.partners")
        ).all()
    assert stamps == [FROZEN]


def test_a_reimport_owes_its_balance_refreshes_at_the_clocks_time(
    db: Database, ledger: Ledger
) -> None:
    for kind, text in (
        ("partners", PARTNERS),
        ("members", MEMBERS),
        ("payments", PAYMENTS),
        ("invoices", INVOICES),
    ):
        load(db, kind, text)
    pending = ledger.request_allocation("U0AAA", "PAY-1", "INV-1", "100.00")
    with db.transaction() as session:
        # The request's billing message went out, so a change to its figures owes an edit.
        session.execute(update(OutboxMessage).values(sent_at=FROZEN - dt.timedelta(hours=1)))

    load(db, "payments", PAYMENTS.replace("1250.00", "1300.00"))

    with db.transaction() as session:
        refreshes = session.execute(
            select(OutboxMessage.created_at, OutboxMessage.next_attempt_at).where(
                OutboxMessage.kind == OutboxKind.BALANCES_CHANGED,
                OutboxMessage.allocation_id == pending.allocation_id,
            )
        ).all()
        audit = session.scalars(
            select(AuditEvent.at).where(AuditEvent.action == "import.payments")
        ).all()
    assert [tuple(row) for row in refreshes] == [(FROZEN, FROZEN)]
    assert audit == [FROZEN, FROZEN]


def test_removals_are_audited_at_the_clocks_time(db: Database) -> None:
    load(db, "partners", PARTNERS)
    load(db, "members", MEMBERS)

    load(db, "members", "partner_id,slack_user_id\nP1,U0AAA\n", replace=True)
    later = FROZEN + dt.timedelta(days=1)
    remove_member(db, "P1", "U0AAA", actor="test", clock=lambda: later)

    with db.transaction() as session:
        removals = session.execute(
            select(AuditEvent.at, AuditEvent.detail)
            .where(AuditEvent.action == "member.removed")
            .order_by(AuditEvent.event_id)
        ).all()
    assert [(at, detail["slack_user_id"], detail["via"]) for at, detail in removals] == [
        (FROZEN, "U0BBB", "import --replace"),
        (later, "U0AAA", "cli"),
    ]
