"""The ERP round trip (issue 14): export new allocations once, the ERP acknowledges them, its
invoices come back with them folded in, and the invoice's amount due is counted once; reversals
after the ERP booked them go out as reversal rows; a bad acknowledgements file changes nothing."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import func, select

from models.erp_sync import ErpAllocation, ErpBatch
from models.schemas import Actor
from models.tables import Invoice
from slackbot.db import Database
from slackbot.erp.applied import import_applied
from slackbot.erp.batches import BATCH_COLUMNS, export_batch, new_batch
from slackbot.erp.exports import COLUMNS, ExportKind
from slackbot.erp.imports import ImportRejected, import_csv
from slackbot.erp.reconcile import Difference, reconcile
from slackbot.ledger import Ledger

APPROVER = Actor(user_id="U0APPROVER", can_approve=True)
PARTNERS = "partner_id,name\nP1,One Ltd\n"
MEMBERS = "partner_id,slack_user_id\nP1,U0ONE\n"
PAYMENTS = (
    "payment_id,partner_id,amount,currency,received_on,reference\n"
    "PAY-1,P1,100.00,USD,2026-11-01,wire\n"
)
# The ERP's first invoices file: nothing of this bot's applied yet.
INVOICES = (
    "invoice_id,partner_id,amount,currency,issued_on,due_on,amount_due\n"
    "INV-1,P1,80.00,USD,2026-10-01,2026-12-01,80.00\n"
    "INV-2,P1,50.00,USD,2026-10-02,2026-12-02,50.00\n"
)


def load(db: Database) -> None:
    for kind, body in (("partners", PARTNERS), ("members", MEMBERS), ("payments", PAYMENTS)):
        import_csv(db, kind, io.StringIO(body))
    import_csv(db, "invoices", io.StringIO(INVOICES))


def approve(db: Database, invoice: str, amount: str) -> int:
    ledger = Ledger(db)
    made = ledger.request_allocation("U0ONE", "PAY-1", invoice, amount)
    ledger.approve(made.allocation_id, APPROVER)
    return made.allocation_id


def amount_due(db: Database, invoice: str) -> int:
    with db.transaction(read_only=True) as session:
        return int(session.scalar(select(Invoice.amount_due).where(Invoice.invoice_id == invoice)))


def batch_rows(db: Database, batch_id: int) -> list[dict[str, str]]:
    out = io.StringIO()
    export_batch(db, batch_id, out)
    return list(csv.DictReader(io.StringIO(out.getvalue())))


def differences(db: Database, **files: str) -> list[Difference]:
    found: list[Difference] = []
    reconcile(
        db,
        found.append,
        **{k: io.StringIO(v) for k, v in files.items() if k in ("payments", "invoices")},
        amount_due_includes_applied="folded" in files,
    )
    return found


def test_full_round_trip_counts_the_invoice_amount_due_once(db: Database) -> None:
    load(db)
    first = approve(db, "INV-1", "30.00")
    assert amount_due(db, "INV-1") == 5000

    batch = new_batch(db, actor="ops")
    assert batch is not None and (batch.allocations, batch.reversals) == (1, 0)
    rows = batch_rows(db, batch.batch_id)
    assert [(r["allocation_id"], r["kind"], r["amount"], r["batch_id"]) for r in rows] == [
        (str(first), "allocation", "30.00", str(batch.batch_id))
    ]
    # Handed over once: the next batch has nothing.
    assert new_batch(db, actor="ops") is None
    # Before the ERP says so, reconcile says it has not booked it.
    kinds = [d.kind for d in differences(db, payments=PAYMENTS, invoices=INVOICES)]
    assert kinds == ["allocation_not_booked"]

    result = import_applied(db, io.StringIO(f"allocation_id,erp_reference\n{first},ERP-77\n"))
    assert (result.rows_read, result.inserted) == (1, 1)
    # The ERP applied it: its invoices file now says 50.00 is due on INV-1.
    folded = INVOICES.replace("USD,2026-10-01,2026-12-01,80.00", "USD,2026-10-01,2026-12-01,50.00")
    assert folded != INVOICES
    import_csv(db, "invoices", io.StringIO(folded), amount_due_includes_applied=True)
    assert amount_due(db, "INV-1") == 5000  # counted once, not 20.00

    # The same file in the contract's mode would count it twice: the two modes differ.
    assert differences(db, payments=PAYMENTS, invoices=folded, folded="") == []
    plain = differences(db, payments=PAYMENTS, invoices=folded)
    assert [(d.kind, d.id, d.erp, d.ledger) for d in plain] == [
        ("invoice_amount_due", "INV-1", "50.00", "80.00")
    ]
    # And the contract's file (amount due before this bot's allocations) is clean too.
    assert differences(db, payments=PAYMENTS, invoices=INVOICES) == []


def test_contract_mode_reimport_keeps_the_amount_due(db: Database) -> None:
    load(db)
    approve(db, "INV-1", "30.00")
    import_csv(db, "invoices", io.StringIO(INVOICES))
    assert amount_due(db, "INV-1") == 5000


def test_folded_amount_due_over_the_amount_is_refused_and_changes_nothing(db: Database) -> None:
    load(db)
    first = approve(db, "INV-1", "30.00")
    import_applied(db, io.StringIO(f"allocation_id\n{first}\n"))
    with pytest.raises(ImportRejected) as caught:
        import_csv(db, "invoices", io.StringIO(INVOICES), amount_due_includes_applied=True)
    assert [bad.line for bad in caught.value.bad_rows] == [2]
    assert "plus the 30.00 the ERP booked" in caught.value.bad_rows[0].problem
    assert amount_due(db, "INV-1") == 5000


def test_reversal_after_acknowledgement_is_the_next_batch_as_a_reversal_row(db: Database) -> None:
    load(db)
    first = approve(db, "INV-1", "30.00")
    handed = new_batch(db, actor="ops")
    assert handed is not None
    import_applied(db, io.StringIO(f"allocation_id,erp_reference\n{first},ERP-1\n"))
    Ledger(db).reverse(first, APPROVER, "wrong invoice")

    kinds = [d.kind for d in differences(db, payments=PAYMENTS, invoices=INVOICES)]
    assert kinds == ["allocation_reversed_but_booked"]
    batch = new_batch(db, actor="ops")
    assert batch is not None and (batch.allocations, batch.reversals) == (0, 1)
    (row,) = batch_rows(db, batch.batch_id)
    assert row["kind"] == "reversal"
    assert row["reverses_allocation_id"] == row["allocation_id"] == str(first)
    assert (row["amount"], row["signed_amount"], row["status"]) == ("30.00", "-30.00", "reversed")
    assert row["reversal_reason"] == "wrong invoice"
    assert list(row)[: len(COLUMNS[ExportKind.ALLOCATIONS])] == list(
        COLUMNS[ExportKind.ALLOCATIONS]
    )
    assert list(row) == list(BATCH_COLUMNS)
    # The first batch prints the same as before: the allocation as it was handed over.
    assert [r["kind"] for r in batch_rows(db, handed.batch_id)] == ["allocation"]
    assert new_batch(db, actor="ops") is None

    # The ERP unapplies it and says so: nothing is booked any more, nothing differs.
    import_applied(db, io.StringIO(f"allocation_id,erp_reference,kind\n{first},ERP-1R,reversal\n"))
    assert differences(db, payments=PAYMENTS, invoices=INVOICES) == []
    assert differences(db, payments=PAYMENTS, invoices=INVOICES, folded="") == []


def test_a_reversal_before_hand_over_is_never_handed_over(db: Database) -> None:
    load(db)
    first = approve(db, "INV-1", "30.00")
    Ledger(db).reverse(first, APPROVER, "typo")
    assert new_batch(db, actor="ops") is None


def test_bad_applied_file_changes_nothing_and_names_each_row(db: Database) -> None:
    load(db)
    booked = approve(db, "INV-1", "10.00")
    other = approve(db, "INV-1", "5.00")
    import_applied(db, io.StringIO(f"allocation_id,erp_reference\n{booked},ERP-1\n{other},ERP-2\n"))
    ledger = Ledger(db)
    pending = ledger.request_allocation("U0ONE", "PAY-1", "INV-2", "5.00").allocation_id
    body = (
        "allocation_id,erp_reference,kind\n"
        "999999,ERP-9,allocation\n"  # unknown
        f"{pending},ERP-2,allocation\n"  # not approved
        f"{other},ERP-OTHER,allocation\n"  # acknowledged with another reference
        f"{booked},ERP-1R,reversal\n"  # not reversed
        "abc,ERP-3,\n"  # not a number
        f"{booked},ERP-1,allocation\n"  # fine on its own, but...
        f"{booked},ERP-1,allocation\n"  # ...twice in the file
    )
    with db.transaction(read_only=True) as session:
        before = session.execute(
            select(ErpAllocation.allocation_id, ErpAllocation.erp_reference)
        ).all()
    with pytest.raises(ImportRejected) as caught:
        import_applied(db, io.StringIO(body))
    problems = {bad.line: bad.problem for bad in caught.value.bad_rows}
    assert set(problems) == {2, 3, 4, 5, 6, 8}
    assert "not an allocation of this ledger" in problems[2]
    assert "is pending, not approved" in problems[3]
    assert "ERP reference 'ERP-2'" in problems[4]
    assert "not reversed" in problems[5]
    assert "not an allocation id" in problems[6]
    assert "already on line 7" in problems[8]
    with db.transaction(read_only=True) as session:
        after = session.execute(
            select(ErpAllocation.allocation_id, ErpAllocation.erp_reference)
        ).all()
        assert session.scalar(select(func.count()).select_from(ErpBatch)) == 0
    assert after == before


def test_applied_file_twice_changes_nothing(db: Database) -> None:
    load(db)
    first = approve(db, "INV-1", "10.00")
    body = f"allocation_id,erp_reference\n{first},ERP-1\n"
    assert import_applied(db, io.StringIO(body)).inserted == 1
    again = import_applied(db, io.StringIO(body))
    assert (again.inserted, again.unchanged) == (0, 1)


def test_applied_header_must_name_the_columns(db: Database) -> None:
    load(db)
    with pytest.raises(ImportRejected) as caught:
        import_applied(db, io.StringIO("id;ref\n1;X\n"))
    assert "the header must be allocation_id[,erp_reference[,kind]]" in str(
        caught.value.bad_rows[0]
    )
