"""Handing allocations to the ERP once: numbered export batches of new allocations and reversals.

``slackbot export allocations --new`` records, in one transaction, a batch of every approved
allocation never handed over nor acknowledged, and every reversal of an allocation the ERP may
hold (handed over or acknowledged) whose reversal was not handed over yet; then prints it.
``--batch N`` prints batch N again, the same rows (a lost file or a broken pipe loses nothing).
Two exports at once never hand an allocation twice: the rows are claimed by primary key (``ON
CONFLICT DO NOTHING``) and by ``UPDATE ... WHERE reversal_batch_id IS NULL``.

A batch's rows carry the contract's allocations columns, then ``batch_id``, ``kind``
(``allocation`` or ``reversal``), ``reverses_allocation_id`` (a reversal's allocation, else
empty), ``signed_amount`` (the amount, negative for a reversal), ``reversed_at`` and
``reversal_reason``. A reversal row keeps the allocation's own ``allocation_id``, payment,
invoice and positive ``amount`` (what the ERP booked and must now unapply, found by the key it
booked it under); ``kind`` says which way, and ``signed_amount`` serves an ERP that only sums.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, TextIO

from sqlalchemy import select, text

from models.enums import AllocationStatus
from models.erp_sync import ErpAllocation, ErpBatch
from models.tables import Allocation, Payment
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.erp.exports import (
    COLUMNS,
    ExportFormat,
    ExportKind,
    Record,
    _stream,
    _utc_iso,
    _write_csv,
    _write_json,
)
from slackbot.errors import InvalidInput
from slackbot.money import to_decimal_string

ADDED_COLUMNS = (
    "batch_id",
    "kind",
    "reverses_allocation_id",
    "signed_amount",
    "reversed_at",
    "reversal_reason",
)
BATCH_COLUMNS = (*COLUMNS[ExportKind.ALLOCATIONS], *ADDED_COLUMNS)

_HAND_OVER = text(
    "INSERT INTO erp_allocations (allocation_id, batch_id)"
    " SELECT a.allocation_id, :batch FROM allocations a WHERE a.status = :approved"
    " AND NOT EXISTS (SELECT 1 FROM erp_allocations e WHERE e.allocation_id = a.allocation_id)"
    " ON CONFLICT (allocation_id) DO NOTHING"
)
_HAND_OVER_REVERSALS = text(
    "UPDATE erp_allocations SET reversal_batch_id = :batch"
    " WHERE reversal_batch_id IS NULL AND reversal_acknowledged_at IS NULL"
    " AND allocation_id IN (SELECT allocation_id FROM allocations WHERE status = :reversed)"
)


class _NothingNew(Exception):
    """No allocation or reversal to hand over: the batch is rolled back, never numbered."""


def new_batch(db: Database, *, actor: str, clock: Clock = system_clock) -> ErpBatch | None:
    """Record a batch of what the ERP has not been handed yet; None when there is nothing."""
    try:
        with db.transaction() as session:
            batch = ErpBatch(created_at=clock(), created_by=actor, allocations=0, reversals=0)
            session.add(batch)
            session.flush()
            values = {
                "batch": batch.batch_id,
                "approved": AllocationStatus.APPROVED.value,
                "reversed": AllocationStatus.REVERSED.value,
            }
            batch.allocations = _count(session.execute(_HAND_OVER, values))
            batch.reversals = _count(session.execute(_HAND_OVER_REVERSALS, values))
            if not batch.allocations and not batch.reversals:
                raise _NothingNew
    except _NothingNew:
        return None
    return batch


def _count(result: Any) -> int:
    return int(result.rowcount)


def batch_of(db: Database, batch_id: int) -> ErpBatch:
    """Batch ``batch_id``, or a message saying which batches exist."""
    with db.transaction(read_only=True) as session:
        batch = session.get(ErpBatch, batch_id)
        if batch is not None:
            return batch
        last = session.scalar(select(ErpBatch.batch_id).order_by(ErpBatch.batch_id.desc()))
    known = f"batches are 1 to {last}" if last else "no batch has been exported yet"
    raise InvalidInput("batch", f"there is no batch {batch_id} ({known})")


def export_batch(
    db: Database,
    batch_id: int,
    out: TextIO,
    export_format: ExportFormat | str = ExportFormat.CSV,
    *,
    raw: bool = False,
) -> int:
    """Write batch ``batch_id``'s rows to ``out``; returns how many were written."""
    records = batch_records(db, batch_id)
    if ExportFormat(export_format) is ExportFormat.CSV:
        return _write_csv(BATCH_COLUMNS, records, out, raw=raw)
    return _write_json(records, out)


def batch_records(db: Database, batch_id: int) -> Iterator[Record]:
    """The batch's rows in allocation id order; each as it was handed over (an allocation row
    says ``approved`` even if it has been reversed since: its reversal is a later batch's row)."""
    stmt = (
        select(
            Allocation,
            Payment.exponent,
            ErpAllocation.batch_id,
            ErpAllocation.reversal_batch_id,
        )
        .join(ErpAllocation, ErpAllocation.allocation_id == Allocation.allocation_id)
        .join(Payment, Payment.payment_id == Allocation.payment_id)
        .where((ErpAllocation.batch_id == batch_id) | (ErpAllocation.reversal_batch_id == batch_id))
        .order_by(Allocation.allocation_id)
    )
    for row in _stream(db, stmt):
        allocation: Allocation = row[0]
        amount = to_decimal_string(allocation.amount, allocation.currency, row.exponent)
        if row.batch_id == batch_id:
            yield _record(allocation, amount, batch_id, reversal=False)
        if row.reversal_batch_id == batch_id:
            yield _record(allocation, amount, batch_id, reversal=True)


def _record(allocation: Allocation, amount: str, batch_id: int, *, reversal: bool) -> Record:
    status = AllocationStatus.REVERSED if reversal else AllocationStatus.APPROVED
    return {
        "allocation_id": allocation.allocation_id,
        "payment_id": allocation.payment_id,
        "invoice_id": allocation.invoice_id,
        "currency": allocation.currency,
        "amount": amount,
        "status": status.value,
        "requested_by": allocation.requested_by,
        "decided_by": allocation.decided_by,
        "decided_at": _utc_iso(allocation.decided_at),
        "reason": allocation.reason,
        "requested_at": _utc_iso(allocation.requested_at),
        "partner_id": allocation.partner_id,
        "note": allocation.note,
        "cancelled_by": None,
        "request_id": allocation.request_id,
        "batch_id": batch_id,
        "kind": "reversal" if reversal else "allocation",
        "reverses_allocation_id": allocation.allocation_id if reversal else None,
        "signed_amount": f"-{amount}" if reversal else amount,
        "reversed_at": _utc_iso(allocation.reversed_at) if reversal else None,
        "reversal_reason": allocation.reversal_reason if reversal else None,
    }


def handed_line(batch: ErpBatch, *, again: bool = False) -> str:
    """What the operator reads on stderr after a batch is printed."""
    reversals = f" and {batch.reversals} reversal{'s' if batch.reversals != 1 else ''}"
    told = "was handed" if again else "handed"
    return (
        f"batch {batch.batch_id}: {batch.allocations} allocation"
        f"{'s' if batch.allocations != 1 else ''}{reversals} {told} to the ERP on"
        f" {batch.created_at.isoformat(timespec='seconds')};"
        f" `slackbot export allocations --batch {batch.batch_id}` prints it again"
    )


def print_batch(
    db: Database,
    out: TextIO,
    export_format: ExportFormat | str,
    *,
    new: bool,
    batch_id: int | None,
    actor: str,
    raw: bool = False,
) -> str:
    """``export allocations --new`` (record a batch, then print it) or ``--batch N`` (print it
    again); returns the line the operator reads on stderr once the rows are out."""
    batch = new_batch(db, actor=actor) if new else batch_of(db, batch_id or 0)
    export_batch(db, batch.batch_id if batch else 0, out, export_format, raw=raw)
    if batch is None:
        return "nothing new to hand to the ERP; no batch was made"
    return handed_line(batch, again=not new)
