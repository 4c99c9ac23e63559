"""`slackbot reconcile` (issue 14): every planted difference in a generated ERP file is reported,
once each, with totals per currency; a clean file reports none; exit codes 0, 1 and 2."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from typer.testing import CliRunner

from models.schemas import Actor
from slackbot.cli import app
from slackbot.db import Database
from slackbot.erp.applied import import_applied
from slackbot.erp.imports import import_csv
from slackbot.erp.reconcile import Difference, reconcile
from slackbot.ledger import Ledger

APPROVER = Actor(user_id="U0APPROVER", can_approve=True)
PAYMENT_HEADER = "payment_id,partner_id,amount,currency,received_on,reference"
INVOICE_HEADER = "invoice_id,partner_id,amount,currency,issued_on,due_on,amount_due"
N = 40


def payment(i: int, partner: str = "P1", amount: str = "100.00", currency: str = "USD") -> str:
    return f"PAY-{i},{partner},{amount},{currency},2026-11-01,wire {i}"


def invoice(i: int, partner: str = "P1", amount: str = "80.00", due: str = "80.00") -> str:
    return f"INV-{i},{partner},{amount},USD,2026-10-01,2026-12-01,{due}"


def books(db: Database) -> tuple[list[str], list[str]]:
    """A ledger of N payments and N invoices, two allocations the ERP booked (one reversed and
    unapplied since), and the ERP's clean files for it (amount due before allocations here)."""
    import_csv(db, "partners", io.StringIO("partner_id,name\nP1,One\nP2,Two\n"))
    import_csv(db, "members", io.StringIO("partner_id,slack_user_id\nP1,U0ONE\n"))
    payments = [payment(i) for i in range(1, N + 1)]
    invoices = [invoice(i) for i in range(1, N + 1)]
    import_csv(db, "payments", io.StringIO("\n".join([PAYMENT_HEADER, *payments]) + "\n"))
    import_csv(db, "invoices", io.StringIO("\n".join([INVOICE_HEADER, *invoices]) + "\n"))
    ledger = Ledger(db)
    ids = []
    for invoice_id in ("INV-1", "INV-2"):
        made = ledger.request_allocation("U0ONE", "PAY-1", invoice_id, "10.00")
        ledger.approve(made.allocation_id, APPROVER)
        ids.append(made.allocation_id)
    import_applied(db, io.StringIO("allocation_id\n" + "".join(f"{i}\n" for i in ids)))
    ledger.reverse(ids[1], APPROVER, "wrong")
    import_applied(db, io.StringIO(f"allocation_id,erp_reference,kind\n{ids[1]},,reversal\n"))
    return payments, invoices


def run(db: Database, payments: list[str], invoices: list[str]) -> list[Difference]:
    found: list[Difference] = []
    reconcile(
        db,
        found.append,
        payments=io.StringIO("\n".join([PAYMENT_HEADER, *payments]) + "\n"),
        invoices=io.StringIO("\n".join([INVOICE_HEADER, *invoices]) + "\n"),
    )
    return found


def test_clean_files_have_no_difference(db: Database) -> None:
    payments, invoices = books(db)
    assert run(db, payments, invoices) == []


def test_every_planted_difference_is_reported_once(db: Database) -> None:
    payments, invoices = books(db)
    ledger = Ledger(db)
    # Approved here, never acknowledged; and booked, then reversed here without the ERP knowing.
    unbooked = ledger.request_allocation("U0ONE", "PAY-3", "INV-3", "7.00")
    ledger.approve(unbooked.allocation_id, APPROVER)
    booked = ledger.request_allocation("U0ONE", "PAY-4", "INV-4", "6.00")
    ledger.approve(booked.allocation_id, APPROVER)
    import_applied(db, io.StringIO(f"allocation_id\n{booked.allocation_id}\n"))
    ledger.reverse(booked.allocation_id, APPROVER, "oops")

    payments[4] = payment(5, amount="99.00")
    payments[5] = payment(6, partner="P2")
    payments[6] = payment(7, currency="EUR")
    del payments[7]  # PAY-8 missing in the ERP
    payments.append(payment(900))  # missing in the ledger
    payments.append(payment(10))  # twice in the ERP
    invoices[4] = invoice(5, amount="81.00")
    invoices[5] = invoice(6, partner="P2")
    invoices[6] = invoice(7, due="70.00")
    del invoices[7]  # INV-8
    invoices.append(invoice(900))
    invoices.append(invoice(10))

    found = run(db, payments, invoices)
    got = sorted((d.kind, d.id) for d in found)
    assert got == sorted(
        [
            ("payment_amount", "PAY-5"),
            ("payment_partner", "PAY-6"),
            ("payment_currency", "PAY-7"),
            ("payment_missing_in_erp", "PAY-8"),
            ("payment_missing_in_ledger", "PAY-900"),
            ("payment_twice_in_erp", "PAY-10"),
            ("invoice_amount", "INV-5"),
            ("invoice_partner", "INV-6"),
            ("invoice_amount_due", "INV-7"),
            ("invoice_missing_in_erp", "INV-8"),
            ("invoice_missing_in_ledger", "INV-900"),
            ("invoice_twice_in_erp", "INV-10"),
            ("allocation_not_booked", str(unbooked.allocation_id)),
            ("allocation_reversed_but_booked", str(booked.allocation_id)),
        ]
    )
    by_kind = {d.kind: d for d in found}
    assert (by_kind["payment_amount"].erp, by_kind["payment_amount"].ledger) == ("99.00", "100.00")
    assert (by_kind["invoice_amount_due"].erp, by_kind["invoice_amount_due"].ledger) == (
        "70.00",
        "80.00",
    )
    assert by_kind["payment_missing_in_ledger"].line == len(payments)  # the file's line


def write(path: Path, header: str, rows: list[str]) -> str:
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return str(path)


@pytest.fixture
def env(db: Database, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    return db


def test_cli_exit_codes_and_totals(env: Database, tmp_path: Path) -> None:
    payments, invoices = books(env)
    clean = [
        "reconcile",
        "--payments",
        write(tmp_path / "p.csv", PAYMENT_HEADER, payments),
        "--invoices",
        write(tmp_path / "i.csv", INVOICE_HEADER, invoices),
    ]
    result = CliRunner().invoke(app, clean)
    assert result.exit_code == 0, result.output
    assert "total payments_amount USD erp=4000.00 ledger=4000.00" in result.stdout
    assert "total differences USD erp=- ledger=-: 0 found" in result.stdout

    payments[0] = payment(1, amount="1.00")
    changed = [*clean[:2], write(tmp_path / "p.csv", PAYMENT_HEADER, payments), *clean[3:]]
    result = CliRunner().invoke(app, [*changed, "--format", "csv"])
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert lines[0] == "kind,id,currency,erp,ledger,line,detail"
    assert lines[1] == "payment_amount,PAY-1,USD,1.00,100.00,2,amount"

    assert CliRunner().invoke(app, ["reconcile"]).exit_code == 2
    bad = write(tmp_path / "bad.csv", PAYMENT_HEADER, ["PAY-1,P1,lots,USD,2026-11-01,x"])
    result = CliRunner().invoke(app, ["reconcile", "--payments", bad])
    assert result.exit_code == 2
    assert "line 2:" in result.stderr
