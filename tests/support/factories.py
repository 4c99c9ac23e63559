"""Test data written straight through the ORM, and a snapshot of every row for "nothing changed".

Each helper is one committed transaction, so what it writes is what the services will read:

    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100000, "USD", reference="INV-1")
    add_invoice(db, "INV-1", "P1", 50000, "USD", amount_due=None)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from sqlalchemy import select

from models.tables import (
    Allocation,
    AuditEvent,
    Base,
    Invoice,
    JournalEntry,
    JournalLine,
    OutboxMessage,
    Partner,
    PartnerMember,
    Payment,
)
from slackbot.db import Database
from slackbot.money import currency_exponent

RECEIVED_ON = dt.date(2026, 11, 1)
ISSUED_ON = dt.date(2026, 10, 1)
DUE_ON = dt.date(2026, 12, 1)


def add_partner(
    db: Database, partner_id: str, name: str | None = None, *, members: Iterable[str] = ()
) -> None:
    with db.transaction() as session:
        session.add(Partner(partner_id=partner_id, name=name or partner_id))
        session.flush()
        for user_id in members:
            session.add(PartnerMember(partner_id=partner_id, slack_user_id=user_id))


def add_member(db: Database, partner_id: str, user_id: str) -> None:
    with db.transaction() as session:
        session.add(PartnerMember(partner_id=partner_id, slack_user_id=user_id))


def add_payment(
    db: Database,
    payment_id: str,
    partner_id: str,
    amount: int,
    currency: str = "USD",
    *,
    reference: str = "",
    received_on: dt.date = RECEIVED_ON,
) -> None:
    with db.transaction() as session:
        session.add(
            Payment(
                payment_id=payment_id,
                partner_id=partner_id,
                currency=currency,
                exponent=currency_exponent(currency),
                amount=amount,
                allocated=0,
                pending=0,
                received_on=received_on,
                reference=reference,
            )
        )


def add_invoice(
    db: Database,
    invoice_id: str,
    partner_id: str,
    amount: int,
    currency: str = "USD",
    *,
    amount_due: int | None = None,
    issued_on: dt.date = ISSUED_ON,
    due_on: dt.date = DUE_ON,
) -> None:
    """``amount_due`` is what the ERP says is still due (defaults to ``amount``)."""
    with db.transaction() as session:
        session.add(
            Invoice(
                invoice_id=invoice_id,
                partner_id=partner_id,
                currency=currency,
                exponent=currency_exponent(currency),
                amount=amount,
                opening_due=amount if amount_due is None else amount_due,
                applied=0,
                pending=0,
                issued_on=issued_on,
                due_on=due_on,
            )
        )


def payment_row(db: Database, payment_id: str) -> Payment:
    with db.transaction() as session:
        return session.get_one(Payment, payment_id)


def invoice_row(db: Database, invoice_id: str) -> Invoice:
    with db.transaction() as session:
        return session.get_one(Invoice, invoice_id)


def allocation_row(db: Database, allocation_id: int) -> Allocation:
    with db.transaction() as session:
        return session.get_one(Allocation, allocation_id)


def journal_of(db: Database, allocation_id: int) -> list[tuple[str, str, int, int, str]]:
    """The allocation's journal as (kind, account, debit, credit, currency), in posting order."""
    with db.transaction() as session:
        rows = session.execute(
            select(
                JournalEntry.kind,
                JournalLine.account,
                JournalLine.debit,
                JournalLine.credit,
                JournalLine.currency,
            )
            .join(JournalLine, JournalLine.entry_id == JournalEntry.entry_id)
            .where(JournalEntry.allocation_id == allocation_id)
            .order_by(JournalEntry.entry_id, JournalLine.line_id)
        ).all()
    return [(r.kind, r.account, r.debit, r.credit, r.currency) for r in rows]


def outbox_of(db: Database, allocation_id: int) -> list[tuple[str, str]]:
    """The allocation's outbox as (kind, recipient), in the order written."""
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.kind, OutboxMessage.recipient)
            .where(OutboxMessage.allocation_id == allocation_id)
            .order_by(OutboxMessage.message_id)
        ).all()
    return [(r.kind, r.recipient) for r in rows]


def audit_of(db: Database, allocation_id: int) -> list[tuple[str, str]]:
    """The allocation's audit trail as (action, actor), in order."""
    with db.transaction() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.actor)
            .where(AuditEvent.subject == f"allocation:{allocation_id}")
            .order_by(AuditEvent.event_id)
        ).all()
    return [(r.action, r.actor) for r in rows]


def snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in primary-key order: equal snapshots mean nothing changed."""
    result: dict[str, list[tuple[Any, ...]]] = {}
    with db.engine.connect() as connection:
        for table in Base.metadata.sorted_tables:
            rows = connection.execute(table.select().order_by(*table.primary_key.columns)).all()
            result[table.name] = [tuple(row) for row in rows]
    return result
