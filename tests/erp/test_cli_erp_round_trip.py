"""The ERP round trip through the real CLI (issue 14): `export allocations --new/--batch`,
`import applied`, `import invoices --amount-due-includes-applied`; a bad file is named by line
and changes nothing; the same acknowledgements twice change nothing."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner, Result

from models.erp_sync import ErpAllocation, ErpBatch
from slackbot.cli import app
from slackbot.db import Database
from tests.erp.test_erp_roundtrip import INVOICES, amount_due, approve, load

# The ERP applied 30.00 to INV-1: its next invoices file says 50.00 is due there.
FOLDED = INVOICES.replace("2026-12-01,80.00", "2026-12-01,50.00")


@pytest.fixture
def books(db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Database:
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    monkeypatch.setenv("DATABASE_URL", db.engine.url.render_as_string(hide_password=False))
    load(db)
    return db


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def write(path: Path, body: str) -> str:
    path.write_text(body, encoding="utf-8")
    return str(path)


def acknowledged(db: Database) -> list[tuple[int, str | None]]:
    with db.transaction(read_only=True) as session:
        return [
            (row.allocation_id, row.erp_reference)
            for row in session.scalars(
                select(ErpAllocation).where(ErpAllocation.acknowledged_at.is_not(None))
            )
        ]


def batches(db: Database) -> int:
    with db.transaction(read_only=True) as session:
        return int(session.scalar(select(func.count()).select_from(ErpBatch)) or 0)


def test_export_new_then_import_applied_twice_then_folded_invoices_count_it_once(
    books: Database, tmp_path: Path
) -> None:
    first = approve(books, "INV-1", "30.00")

    handed = run("export", "allocations", "--new")
    assert handed.exit_code == 0, handed.output
    rows = list(csv.DictReader(io.StringIO(handed.stdout)))
    # The batch's number comes from the database's sequence (PostgreSQL's does not restart
    # when a test empties the tables), so it is read, then checked to be the same everywhere.
    batch = rows[0]["batch_id"] if rows else "?"
    assert batch.isdigit() and int(batch) >= 1
    assert [(r["allocation_id"], r["kind"], r["amount"], r["batch_id"]) for r in rows] == [
        (str(first), "allocation", "30.00", batch)
    ]
    assert handed.stderr.startswith(
        f"batch {batch}: 1 allocation and 0 reversals handed to the ERP"
    )
    again = run("export", "allocations", "--new")
    assert again.exit_code == 0, again.output
    assert len(again.stdout.splitlines()) == 1  # the header only
    assert "nothing new to hand to the ERP" in again.stderr and batches(books) == 1
    reprinted = run("export", "allocations", "--batch", batch)
    assert (reprinted.exit_code, reprinted.stdout) == (0, handed.stdout)

    # What the ERP booked of the batch, in the acknowledgements file's own columns.
    booked = write(
        tmp_path / "booked.csv",
        "allocation_id,erp_reference\n" + "".join(f"{r['allocation_id']},ERP-77\n" for r in rows),
    )
    result = run("import", "applied", booked)
    assert result.exit_code == 0, result.output
    assert result.stdout == "applied: 1 row read, 1 inserted, 0 updated, 0 unchanged\n"
    assert acknowledged(books) == [(first, "ERP-77")]
    # The same file again (an operator's retry) changes nothing.
    result = run("import", "applied", booked)
    assert result.exit_code == 0, result.output
    assert result.stdout == "applied: 1 row read, 0 inserted, 0 updated, 1 unchanged\n"
    assert acknowledged(books) == [(first, "ERP-77")]

    folded = write(tmp_path / "invoices.csv", FOLDED)
    result = run("import", "invoices", folded, "--amount-due-includes-applied")
    assert result.exit_code == 0, result.output
    assert amount_due(books, "INV-1") == 5000  # 50.00, not 20.00: counted once
    clean = run("reconcile", "--invoices", folded, "--amount-due-includes-applied")
    assert clean.exit_code == 0, clean.output


def test_bad_files_are_named_by_line_exit_non_zero_and_change_nothing(
    books: Database, tmp_path: Path
) -> None:
    first = approve(books, "INV-1", "30.00")
    # Line 3: an allocation that does not exist; line 4: not a number.
    bad = write(tmp_path / "booked.csv", f"allocation_id\n{first}\n{first + 1000}\nlots\n")
    result = run("import", "applied", bad)
    assert result.exit_code == 1, result.output
    assert "line 3:" in result.stderr and "line 4:" in result.stderr, result.stderr
    assert "Traceback" not in result.output
    assert acknowledged(books) == []  # not even line 2

    # A folded amount due above what the invoice still owes: the file is not what the flag says.
    run("import", "applied", write(tmp_path / "ok.csv", f"allocation_id\n{first}\n"))
    # INV-1 (line 2): 80.00 due plus the 30.00 the ERP booked is more than its amount.
    too_much = write(tmp_path / "i.csv", INVOICES.replace("2026-12-02,50.00", "2026-12-02,40.00"))
    result = run("import", "invoices", too_much, "--amount-due-includes-applied")
    assert result.exit_code == 1, result.output
    assert "line 2:" in result.stderr and "line 3:" not in result.stderr, result.stderr
    assert (amount_due(books, "INV-1"), amount_due(books, "INV-2")) == (5000, 5000)

    # The new flags only where they apply; a batch that does not exist.
    wrong = run("import", "payments", bad, "--amount-due-includes-applied")
    assert wrong.exit_code == 2 and "applies to invoices files only" in wrong.stderr
    wrong = run("export", "payments", "--new")
    assert wrong.exit_code == 2 and "applies to allocations only" in wrong.stderr
    missing = run("export", "allocations", "--batch", "9")
    assert missing.exit_code == 2
    assert "there is no batch 9 (no batch has been exported yet)" in missing.stderr
    assert batches(books) == 0
