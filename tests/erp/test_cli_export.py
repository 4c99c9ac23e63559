"""`slackbot export`: contract columns, amounts per currency, the books after decisions."""

from __future__ import annotations

import csv
import io
import json
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from models.schemas import Actor
from slackbot.cli import app
from slackbot.db import Database
from slackbot.erp import exports
from slackbot.erp.exports import COLUMNS, export
from slackbot.erp.imports import import_csv
from slackbot.ledger import Ledger

PARTNERS = "partner_id,name\nP1,Acme Corp\nP2,Globex\n"
MEMBERS = "partner_id,slack_user_id\nP1,U0AAA\nP2,U0BBB\n"
PAYMENTS = (
    "payment_id,partner_id,amount,currency,received_on,reference\n"
    "PAY-1,P1,1250.00,USD,2026-11-01,wire\n"
    "PAY-2,P1,5000,JPY,2026-11-02,\n"
    "PAY-3,P2,12.345,KWD,2026-11-03,\n"
)
INVOICES = (
    "invoice_id,partner_id,amount,currency,issued_on,due_on,amount_due\n"
    "INV-1,P1,1000.00,USD,2026-10-01,2026-12-01,\n"
    "INV-2,P1,8000,JPY,2026-10-02,2026-12-02,3000\n"
    "INV-3,P2,20.000,KWD,2026-10-03,2026-12-03,10.500\n"
)
APPROVER = Actor(user_id="U0APPROVER", can_approve=True)


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def books(db: Database) -> Database:
    for kind, text in (
        ("partners", PARTNERS),
        ("members", MEMBERS),
        ("payments", PAYMENTS),
        ("invoices", INVOICES),
    ):
        import_csv(db, kind, io.BytesIO(text.encode()))
    return db


def run_export(db: Database, kind: str, *options: str) -> str:
    url = db.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["export", kind, *options], env={"DATABASE_URL": url})
    assert result.exit_code == 0, result.output
    assert result.stderr == ""
    return result.stdout


def csv_rows(text: str) -> tuple[list[str], list[dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    rows = list(reader)
    return list(reader.fieldnames or []), rows


def by_key(rows: list[dict[str, Any]], key: str) -> dict[str, dict[str, Any]]:
    return {str(row[key]): row for row in rows}


def test_payments_export_has_the_contract_columns_and_each_currencys_decimals(
    books: Database,
) -> None:
    header, rows = csv_rows(run_export(books, "payments"))

    assert header == [
        "payment_id",
        "partner_id",
        "currency",
        "amount",
        "allocated",
        "pending",
        "unallocated",
        # Added by issue 9, after the contract's columns.
        "received_on",
        "reference",
    ]
    assert rows == [
        {
            "payment_id": "PAY-1",
            "partner_id": "P1",
            "currency": "USD",
            "amount": "1250.00",
            "allocated": "0.00",
            "pending": "0.00",
            "unallocated": "1250.00",
            "received_on": "2026-11-01",
            "reference": "wire",
        },
        {
            "payment_id": "PAY-2",
            "partner_id": "P1",
            "currency": "JPY",
            "amount": "5000",
            "allocated": "0",
            "pending": "0",
            "unallocated": "5000",
            "received_on": "2026-11-02",
            "reference": "",
        },
        {
            "payment_id": "PAY-3",
            "partner_id": "P2",
            "currency": "KWD",
            "amount": "12.345",
            "allocated": "0.000",
            "pending": "0.000",
            "unallocated": "12.345",
            "received_on": "2026-11-03",
            "reference": "",
        },
    ]


def test_invoices_export_shows_amount_due_as_imported(books: Database) -> None:
    header, rows = csv_rows(run_export(books, "invoices", "--format", "csv"))

    assert header == [
        *("invoice_id", "partner_id", "currency", "amount", "amount_due", "pending"),
        *("issued_on", "due_on"),  # added by issue 9, after the contract's columns
    ]
    assert [(r["invoice_id"], r["amount"], r["amount_due"], r["pending"]) for r in rows] == [
        ("INV-1", "1000.00", "1000.00", "0.00"),
        ("INV-2", "8000", "3000", "0"),
        ("INV-3", "20.000", "10.500", "0.000"),
    ]


@pytest.mark.parametrize("kind", ["payments", "invoices"])
def test_json_export_is_one_array_with_the_same_keys_and_values_as_csv(
    books: Database, kind: str
) -> None:
    _, from_csv = csv_rows(run_export(books, kind))
    from_json = json.loads(run_export(books, kind, "--format", "json"))

    assert isinstance(from_json, list)
    assert [list(obj) for obj in from_json] == [list(COLUMNS[exports.ExportKind(kind)])] * 3
    assert from_json == from_csv


def test_json_export_of_an_empty_table_is_an_empty_array(db: Database) -> None:
    assert json.loads(run_export(db, "allocations", "--format", "json")) == []
    assert (
        run_export(db, "journal")
        == "entry_id,allocation_id,account,debit,credit,currency,posted_at\n"
    )


@pytest.fixture
def decided(books: Database, ledger: Ledger) -> dict[str, int]:
    """On PAY-1 (1250.00 USD): 400.00 approved to INV-1, 100.00 pending, 50.00 rejected.
    On PAY-3 (12.345 KWD): 2.500 approved to INV-3, then reversed."""
    approved = ledger.request_allocation("U0AAA", "PAY-1", "INV-1", "400.00")
    ledger.approve(approved.allocation_id, APPROVER)
    pending = ledger.request_allocation("U0AAA", "PAY-1", "INV-1", "100.00")
    rejected = ledger.request_allocation("U0AAA", "PAY-1", "INV-1", "50.00")
    ledger.reject(rejected.allocation_id, APPROVER, "wrong invoice")
    reversed_ = ledger.request_allocation("U0BBB", "PAY-3", "INV-3", "2.500")
    ledger.approve(reversed_.allocation_id, APPROVER)
    ledger.reverse(reversed_.allocation_id, APPROVER, "posted twice in the ERP")
    return {
        "approved": approved.allocation_id,
        "pending": pending.allocation_id,
        "rejected": rejected.allocation_id,
        "reversed": reversed_.allocation_id,
    }


def test_payments_and_invoices_after_decisions_show_allocated_pending_unallocated(
    books: Database, decided: dict[str, int]
) -> None:
    payments = by_key(csv_rows(run_export(books, "payments"))[1], "payment_id")
    invoices = by_key(json.loads(run_export(books, "invoices", "-f", "json")), "invoice_id")

    pay1, pay3 = payments["PAY-1"], payments["PAY-3"]
    assert (pay1["allocated"], pay1["pending"], pay1["unallocated"]) == (
        "400.00",
        "100.00",
        "750.00",
    )
    assert (pay3["allocated"], pay3["pending"], pay3["unallocated"]) == ("0.000", "0.000", "12.345")
    inv1, inv3 = invoices["INV-1"], invoices["INV-3"]
    assert (inv1["amount_due"], inv1["pending"]) == ("600.00", "100.00")
    assert (inv3["amount_due"], inv3["pending"]) == ("10.500", "0.000")


def test_allocations_export_lists_every_request_with_its_decision(
    books: Database, decided: dict[str, int]
) -> None:
    header, rows = csv_rows(run_export(books, "allocations"))

    assert header == list(COLUMNS[exports.ExportKind.ALLOCATIONS])
    assert [int(r["allocation_id"]) for r in rows] == sorted(decided.values())
    allocations = by_key(rows, "allocation_id")
    approved = allocations[str(decided["approved"])]
    assert (approved["amount"], approved["status"], approved["decided_by"]) == (
        "400.00",
        "approved",
        "U0APPROVER",
    )
    assert approved["decided_at"].startswith("2026-11-24T09:")
    assert approved["decided_at"].endswith("+00:00")
    pending = allocations[str(decided["pending"])]
    assert (pending["status"], pending["decided_by"], pending["decided_at"]) == ("pending", "", "")
    rejected = allocations[str(decided["rejected"])]
    assert (rejected["status"], rejected["reason"]) == ("rejected", "wrong invoice")
    reversed_ = allocations[str(decided["reversed"])]
    assert (reversed_["amount"], reversed_["currency"], reversed_["status"]) == (
        "2.500",
        "KWD",
        "reversed",
    )

    as_json = by_key(json.loads(run_export(books, "allocations", "-f", "json")), "allocation_id")
    assert as_json[str(decided["pending"])]["decided_at"] is None
    assert as_json[str(decided["approved"])]["allocation_id"] == decided["approved"]


def test_journal_export_balances_for_every_allocation(
    books: Database, decided: dict[str, int]
) -> None:
    header, lines = csv_rows(run_export(books, "journal"))

    assert header == list(COLUMNS[exports.ExportKind.JOURNAL])
    assert [
        (line["allocation_id"], line["account"], line["debit"], line["credit"]) for line in lines
    ] == [
        (str(decided["approved"]), "unapplied_cash:P1", "400.00", "0.00"),
        (str(decided["approved"]), "receivable:P1:INV-1", "0.00", "400.00"),
        (str(decided["reversed"]), "unapplied_cash:P2", "2.500", "0.000"),
        (str(decided["reversed"]), "receivable:P2:INV-3", "0.000", "2.500"),
        (str(decided["reversed"]), "receivable:P2:INV-3", "2.500", "0.000"),
        (str(decided["reversed"]), "unapplied_cash:P2", "0.000", "2.500"),
    ]
    debits: dict[str, Decimal] = defaultdict(Decimal)
    credits: dict[str, Decimal] = defaultdict(Decimal)
    for line in lines:
        debits[line["allocation_id"]] += Decimal(line["debit"])
        credits[line["allocation_id"]] += Decimal(line["credit"])
    assert debits == credits
    assert all(line["posted_at"].endswith("+00:00") for line in lines)
    assert len({line["entry_id"] for line in lines}) == 3


def test_export_pages_through_every_row_once_in_id_order(
    books: Database, decided: dict[str, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = {kind: run_export(books, kind) for kind in ("payments", "allocations", "journal")}
    monkeypatch.setattr(exports, "PAGE_ROWS", 2)

    for kind, text in whole.items():
        out = io.StringIO()
        export(books, kind, out)
        assert out.getvalue() == text


def test_export_of_a_database_without_the_schema_says_to_upgrade(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'empty.db'}"

    result = CliRunner().invoke(app, ["export", "payments"], env={"DATABASE_URL": url})

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.strip().endswith(
        "holds no ledger yet; run `slackbot db upgrade` or import a file first"
    )
