"""Hostile CSV imports: all rows land exactly as given, or nothing changes and bad lines are named.

Files mix rows that are certainly good (ids ``PAY-G…``/``INV-G…``, plain amounts, ISO dates) with
hostile rows (odd amounts, bad dates, unicode, NULs, huge fields, wrong column counts), written
with BOMs, CRLF line ends and quoting. Whatever the importer decides, it must be one of two
things: every row stored exactly as the file says, or an ``ImportRejected`` naming line numbers,
with every table row for row what it was.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from sqlalchemy import select
from typer.testing import CliRunner

from models.tables import Invoice, Payment
from slackbot.cli import app
from slackbot.db import Database
from slackbot.erp.imports import ImportRejected, import_csv
from tests.support.factories import add_partner, snapshot

FUZZ = settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

EXPONENTS = {"USD": 2, "JPY": 0, "KWD": 3}
BAD_AMOUNTS = [
    "1e9",
    "NaN",
    "Infinity",
    "1,000.00",
    "١٠٠",
    "１２",
    "-0",
    "0",
    "0.000",
    "12.",
    ".5",
    "9" * 40,
    "-5",
    "+5",
    "$12",
    "12 USD",
    "1.2345",
    "12\x00",
    "",
]
BAD_DATES = [
    "2026-02-30",
    "2026-13-01",
    "24/11/2026",
    "2026-1-5",
    "",
    "2026-11-24T00:00",
    "٢٠٢٦-١١-٢٤",
]
ODD_TEXT = [
    "\u202eevil",
    "zero\u200bwidth",
    "🙂",
    "👩‍👩‍👧",
    "NUL\x00",
    'quote"inside',
    "comma,inside",
    "ℌ",
    "x" * 100_000,
    "=cmd|' /C calc'!A0",
    "  padded  ",
]

HEADER = {
    "payments": ["payment_id", "partner_id", "amount", "currency", "received_on", "reference"],
    "invoices": ["invoice_id", "partner_id", "amount", "currency", "issued_on", "due_on"],
}


@dataclass
class Row:
    values: list[str]
    good: bool  # certainly valid, and its id is unique in the file
    certainly_bad: bool  # the importer must name this row


def _good_row(kind: str, index: int, draw: Any) -> Row:
    currency = draw(st.sampled_from(sorted(EXPONENTS)))
    exponent = EXPONENTS[currency]
    whole = draw(st.integers(min_value=1, max_value=10**9))
    frac = draw(st.integers(min_value=0, max_value=10**exponent - 1)) if exponent else 0
    amount = f"{whole}.{frac:0{exponent}d}" if exponent else str(whole)
    day = dt.date(2026, 1, 1) + dt.timedelta(days=draw(st.integers(0, 300)))
    partner = draw(st.sampled_from(["P1", "P2"]))
    if kind == "payments":
        reference = draw(st.sampled_from(["", "wire 1", "Überweisung", "ref, with comma", "🙂"]))
        return Row(
            [f"PAY-G{index}", partner, amount, currency, day.isoformat(), reference], True, False
        )
    due = day + dt.timedelta(days=30)
    return Row(
        [f"INV-G{index}", partner, amount, currency, day.isoformat(), due.isoformat()], True, False
    )


@st.composite
def hostile_rows(draw: Any, kind: str, index: int) -> Row:
    row = _good_row(kind, index, draw)
    values = list(row.values)
    values[0] = draw(st.sampled_from([f"X-{index}", f" X-{index} ", f"X-{index}\u200b"]))
    bad = False
    column = draw(st.sampled_from(["amount", "date", "text", "partner", "columns", "currency"]))
    if column == "amount":
        values[2] = draw(st.one_of(st.sampled_from(BAD_AMOUNTS), st.text(max_size=12)))
        bad = values[2] in BAD_AMOUNTS
    elif column == "date":
        values[4] = draw(st.one_of(st.sampled_from(BAD_DATES), st.text(max_size=12)))
        bad = values[4] in BAD_DATES
    elif column == "text":
        where = 5 if kind == "payments" else 0
        values[where] = draw(st.sampled_from(ODD_TEXT))
        bad = "\x00" in values[where] or len(values[where]) > 500
    elif column == "partner":
        values[1] = draw(st.sampled_from(["P-UNKNOWN", "", "p1", "P1\x00"]))
        bad = True
    elif column == "currency":
        values[3] = draw(st.sampled_from(["usd", "XXX1", "", "€", "US", "USDD"]))
        bad = values[3] != "usd"
    else:
        count = draw(st.sampled_from([1, 5, 7, 20]))
        values = (values + ["extra"] * 20)[:count]
        bad = True
    return Row(values, False, bad)


@st.composite
def csv_files(draw: Any, kind: str) -> tuple[bytes, list[tuple[int, Row]]]:
    rows: list[Row] = []
    for index in range(draw(st.integers(min_value=1, max_value=8))):
        hostile = draw(st.booleans())
        rows.append(draw(hostile_rows(kind, index)) if hostile else _good_row(kind, index, draw))
    newline = draw(st.sampled_from(["\n", "\r\n"]))
    quoting = draw(st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL]))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator=newline, quoting=quoting)
    writer.writerow(HEADER[kind])
    numbered: list[tuple[int, Row]] = []
    for row in rows:
        line = out.getvalue().count("\n") + 1
        writer.writerow(row.values)
        numbered.append((line, row))
    bom = draw(st.sampled_from(["", "\ufeff"]))
    return (bom + out.getvalue()).encode("utf-8"), numbered


@pytest.fixture
def partners(db: Database) -> Database:
    add_partner(db, "P1", "Acme", members=["U0ALICE"])
    add_partner(db, "P2", "Globex")
    return db


def _stored(db: Database, kind: str) -> dict[str, Any]:
    table = Payment if kind == "payments" else Invoice
    key = "payment_id" if kind == "payments" else "invoice_id"
    with db.transaction() as session:
        return {getattr(row, key): row for row in session.scalars(select(table))}


def _check_stored_exactly(db: Database, kind: str, rows: list[tuple[int, Row]]) -> None:
    stored = _stored(db, kind)
    assert len(stored) == len(rows)
    for _line, row in rows:
        key, partner, amount, currency, first, second = (v.strip() for v in row.values)
        record = stored[key]
        code = currency.upper()
        assert re.fullmatch(r"[0-9]+(\.[0-9]+)?", amount, re.ASCII), f"took amount {amount!r}"
        assert (record.partner_id, record.currency) == (partner, code)
        assert record.amount == int(Decimal(amount) * 10 ** EXPONENTS[code])
        if kind == "payments":
            assert record.received_on == dt.date.fromisoformat(first)
            assert record.reference == second
        else:
            assert (record.issued_on, record.due_on) == (
                dt.date.fromisoformat(first),
                dt.date.fromisoformat(second),
            )
            assert record.opening_due == record.amount


def _import_or_reject(db: Database, kind: str, data: bytes, rows: list[tuple[int, Row]]) -> None:
    before = snapshot(db)
    try:
        result = import_csv(db, kind, io.BytesIO(data))
    except ImportRejected as rejected:
        event("rejected")
        assert snapshot(db) == before, "a rejected import changed the database"
        named = {bad.line for bad in rejected.bad_rows}
        assert named, "rejected without naming a line"
        good_lines = {line for line, row in rows if row.good}
        assert not named & good_lines, f"good lines named as bad: {rejected.bad_rows}"
        must = {line for line, row in rows if row.certainly_bad}
        assert must <= named, f"bad lines {must - named} not named: {rejected.bad_rows}"
        assert all(bad.problem.strip() for bad in rejected.bad_rows)
        assert any(not row.good for _, row in rows), "a file of good rows was rejected"
        return
    event("imported")
    assert not any(row.certainly_bad for _, row in rows), f"accepted bad rows: {result}"
    assert result.rows_read == len(rows)
    _check_stored_exactly(db, kind, rows)


@FUZZ
@given(file=csv_files("payments"))
def test_payment_import_is_all_or_nothing_and_names_bad_lines(
    partners: Database, file: tuple[bytes, list[tuple[int, Row]]]
) -> None:
    data, rows = file
    with partners.engine.begin() as connection:
        connection.execute(Payment.__table__.delete())
    _import_or_reject(partners, "payments", data, rows)


@FUZZ
@given(file=csv_files("invoices"))
def test_invoice_import_is_all_or_nothing_and_names_bad_lines(
    partners: Database, file: tuple[bytes, list[tuple[int, Row]]]
) -> None:
    data, rows = file
    with partners.engine.begin() as connection:
        connection.execute(Invoice.__table__.delete())
    _import_or_reject(partners, "invoices", data, rows)


@settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.binary(max_size=400), header=st.booleans())
def test_random_bytes_are_rejected_by_line_or_imported_never_crash(
    partners: Database, data: bytes, header: bool
) -> None:
    body = b"payment_id,partner_id,amount,currency,received_on,reference\n" if header else b""
    before = snapshot(partners)
    try:
        import_csv(partners, "payments", io.BytesIO(body + data))
    except ImportRejected as rejected:
        assert snapshot(partners) == before
        assert rejected.bad_rows and all(bad.line >= 1 for bad in rejected.bad_rows)


@settings(
    max_examples=8,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(file=csv_files("payments"))
def test_cli_import_of_hostile_file_exits_cleanly_with_line_numbers(
    partners: Database,
    tmp_path_factory: pytest.TempPathFactory,
    file: tuple[bytes, list[tuple[int, Row]]],
) -> None:
    data, rows = file
    with partners.engine.begin() as connection:
        connection.execute(Payment.__table__.delete())
    path = Path(tmp_path_factory.mktemp("csv")) / "payments.csv"
    path.write_bytes(data)
    before = snapshot(partners)
    url = partners.engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(app, ["import", "payments", str(path)], env={"DATABASE_URL": url})
    output = result.output
    assert "Traceback" not in output, output
    assert result.exception is None or isinstance(result.exception, SystemExit), output
    if any(row.certainly_bad for _, row in rows):
        assert result.exit_code == 1, output
    if result.exit_code == 1:
        assert snapshot(partners) == before
        assert re.search(r"^line \d+: ", output, re.MULTILINE), output
    else:
        assert result.exit_code == 0, output
        _check_stored_exactly(partners, "payments", rows)
