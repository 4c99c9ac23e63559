"""`slackbot import`, `db upgrade` and `serve`'s start-up checks, on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
import io
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from models.schemas import Actor
from models.tables import AuditEvent, Invoice, Partner, PartnerMember, Payment
from slackbot.cli import app
from slackbot.db import Database
from slackbot.erp.imports import ImportRejected, ImportResult, import_csv
from slackbot.ledger import Ledger
from tests.support.factories import snapshot

PARTNERS = "partner_id,name\nP1,Acme Corp\nP2,Globex\n"
MEMBERS = "partner_id,slack_user_id\nP1,U0AAA\nP2,U0AAA\nP2,W0BBB\n"
PAYMENTS_HEADER = "payment_id,partner_id,amount,currency,received_on,reference\n"
PAYMENTS = (
    PAYMENTS_HEADER
    + "PAY-1,P1,1250.00,USD,2026-11-01,wire 123 INV-1\n"
    + "PAY-2,P1,5000,JPY,2026-11-02,\n"
    + 'PAY-3,P2,12.345,KWD,2026-11-03,"ref, with comma"\n'
)
INVOICES_HEADER = "invoice_id,partner_id,amount,currency,issued_on,due_on,amount_due\n"
INVOICES = (
    INVOICES_HEADER
    + "INV-1,P1,1000.00,USD,2026-10-01,2026-12-01,\n"
    + "INV-2,P1,800.00,USD,2026-10-02,2026-12-02,300.00\n"
    + "INV-3,P2,20.000,KWD,2026-10-03,2026-12-03,0\n"
)
APPROVER = Actor(user_id="U0APPROVER", can_approve=True)


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Run where no stray .env can feed settings in."""
    monkeypatch.chdir(tmp_path)


def url_of(db: Database) -> str:
    return db.engine.url.render_as_string(hide_password=False)


def cli(db: Database | None, *args: str, stdin: str | bytes | None = None, **env: str) -> Result:
    environment: dict[str, str | None] = {"DATABASE_URL": url_of(db) if db else None}
    environment.update(env)
    return CliRunner().invoke(app, list(args), input=stdin, env=environment)


def import_text(db: Database, kind: str, text: str, **kwargs: int) -> ImportResult:
    return import_csv(db, kind, io.BytesIO(text.encode("utf-8")), **kwargs)  # type: ignore[arg-type]


def rejection(db: Database, kind: str, text: str, **kwargs: int) -> list[str]:
    """The bad rows an import reports, after checking that it changed nothing at all."""
    before = snapshot(db)
    with pytest.raises(ImportRejected) as caught:
        import_text(db, kind, text, **kwargs)
    assert snapshot(db) == before
    return [str(bad) for bad in caught.value.bad_rows]


def load_basics(db: Database) -> None:
    for kind, text in (("partners", PARTNERS), ("members", MEMBERS)):
        import_text(db, kind, text)


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def import_audits(db: Database) -> list[tuple[str, dict[str, object]]]:
    with db.transaction() as session:
        rows = session.execute(
            select(AuditEvent.action, AuditEvent.detail, AuditEvent.actor)
            .where(AuditEvent.action.like("import.%"))
            .order_by(AuditEvent.event_id)
        ).all()
    assert all(row.actor == "cli" for row in rows)
    return [(row.action, row.detail) for row in rows]


# ------------------------------------------------------------------------------- importing


def test_import_of_each_kind_through_the_cli_stores_every_row(db: Database, tmp_path: Path) -> None:
    for kind, text in (
        ("partners", PARTNERS),
        ("members", MEMBERS),
        ("payments", PAYMENTS),
        ("invoices", INVOICES),
    ):
        result = cli(db, "import", kind, write(tmp_path, f"{kind}.csv", text))
        assert result.exit_code == 0, result.output
        rows = text.count("\n") - 1
        assert result.stdout.strip() == (
            f"{kind}: {rows} rows read, {rows} inserted, 0 updated, 0 unchanged"
        )

    with db.transaction() as session:
        partners = session.execute(select(Partner.partner_id, Partner.name)).all()
        members = session.execute(select(PartnerMember.partner_id, PartnerMember.slack_user_id))
        payments = {p.payment_id: p for p in session.scalars(select(Payment))}
        invoices = {i.invoice_id: i for i in session.scalars(select(Invoice))}
        assert sorted(partners) == [("P1", "Acme Corp"), ("P2", "Globex")]
        assert sorted(members) == [("P1", "U0AAA"), ("P2", "U0AAA"), ("P2", "W0BBB")]
    pay1, pay2, pay3 = payments["PAY-1"], payments["PAY-2"], payments["PAY-3"]
    assert (pay1.amount, pay1.currency, pay1.exponent) == (125000, "USD", 2)
    assert (pay1.received_on, pay1.reference) == (dt.date(2026, 11, 1), "wire 123 INV-1")
    assert (pay2.amount, pay2.exponent, pay2.reference) == (5000, 0, "")
    assert (pay3.amount, pay3.exponent, pay3.reference) == (12345, 3, "ref, with comma")
    assert all(p.allocated == 0 and p.pending == 0 for p in payments.values())
    inv1, inv2, inv3 = invoices["INV-1"], invoices["INV-2"], invoices["INV-3"]
    # An empty amount_due means the whole amount is due; "0" is an invoice already paid.
    assert (inv1.amount, inv1.opening_due) == (100000, 100000)
    assert (inv2.amount, inv2.opening_due, inv2.due_on) == (80000, 30000, dt.date(2026, 12, 2))
    assert (inv3.amount, inv3.opening_due, inv3.exponent) == (20000, 0, 3)


def test_reimporting_the_same_file_changes_nothing_and_leaves_no_audit(db: Database) -> None:
    load_basics(db)
    import_text(db, "payments", PAYMENTS)
    import_text(db, "invoices", INVOICES)
    before = snapshot(db)

    again = [
        import_text(db, kind, text)
        for kind, text in (
            ("partners", PARTNERS),
            ("members", MEMBERS),
            ("payments", PAYMENTS),
            ("invoices", INVOICES),
        )
    ]

    assert snapshot(db) == before
    assert [r.summary() for r in again] == [
        "partners: 2 rows read, 0 inserted, 0 updated, 2 unchanged",
        "members: 3 rows read, 0 inserted, 0 updated, 3 unchanged",
        "payments: 3 rows read, 0 inserted, 0 updated, 3 unchanged",
        "invoices: 3 rows read, 0 inserted, 0 updated, 3 unchanged",
    ]


def test_each_import_that_changes_rows_writes_one_audit_event_with_its_counts(
    db: Database,
) -> None:
    load_basics(db)
    import_text(db, "payments", PAYMENTS)
    import_text(db, "payments", PAYMENTS.replace("wire 123", "wire 124"))

    audits = import_audits(db)
    assert [action for action, _ in audits] == [
        "import.partners",
        "import.members",
        "import.payments",
        "import.payments",
    ]
    detail = audits[-1][1]
    assert {k: detail[k] for k in ("rows_read", "inserted", "updated", "unchanged")} == {
        "rows_read": 3,
        "inserted": 0,
        "updated": 1,
        "unchanged": 2,
    }
    assert len(str(detail["sha256"])) == 64


def test_upsert_updates_only_the_changed_rows_and_inserts_new_ones(db: Database) -> None:
    load_basics(db)
    import_text(db, "payments", PAYMENTS)
    import_text(db, "invoices", INVOICES)
    changed_payments = (
        PAYMENTS.replace("1250.00,USD,2026-11-01,wire 123", "1300.50,USD,2026-11-05,wire 999")
        + "PAY-4,P2,7,USD,2026-11-04,new\n"
    )
    changed_invoices = INVOICES.replace("2026-12-02,300.00", "2026-12-09,250.00")

    pays = import_text(db, "payments", changed_payments)
    invs = import_text(db, "invoices", changed_invoices)
    names = import_text(db, "partners", PARTNERS.replace("Globex", "Globex Ltd"))

    assert pays.summary() == "payments: 4 rows read, 1 inserted, 1 updated, 2 unchanged"
    assert invs.summary() == "invoices: 3 rows read, 0 inserted, 1 updated, 2 unchanged"
    assert names.summary() == "partners: 2 rows read, 0 inserted, 1 updated, 1 unchanged"
    with db.transaction() as session:
        pay1 = session.get_one(Payment, "PAY-1")
        assert (pay1.amount, pay1.received_on, pay1.reference) == (
            130050,
            dt.date(2026, 11, 5),
            "wire 999 INV-1",
        )
        assert session.get_one(Payment, "PAY-4").amount == 700
        inv2 = session.get_one(Invoice, "INV-2")
        assert (inv2.opening_due, inv2.due_on) == (25000, dt.date(2026, 12, 9))
        assert session.get_one(Partner, "P2").name == "Globex Ltd"


def test_import_never_deletes_rows_missing_from_the_file(db: Database) -> None:
    load_basics(db)
    import_text(db, "payments", PAYMENTS)

    result = import_text(db, "payments", PAYMENTS_HEADER + "PAY-9,P1,1.00,USD,2026-11-09,\n")
    import_text(db, "members", "partner_id,slack_user_id\nP1,U0CCC\n")

    assert result.inserted == 1
    with db.transaction() as session:
        assert len(session.scalars(select(Payment)).all()) == 4
        assert len(session.scalars(select(PartnerMember)).all()) == 4


def test_import_reads_standard_input_when_the_file_is_a_dash(db: Database) -> None:
    result = cli(db, "import", "partners", "-", stdin=PARTNERS)

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == "partners: 2 rows read, 2 inserted, 0 updated, 0 unchanged"
    with db.transaction() as session:
        assert session.get_one(Partner, "P1").name == "Acme Corp"


def test_bom_surrounding_spaces_crlf_and_blank_lines_are_tolerated(db: Database) -> None:
    text = "\ufeffpartner_id , name\r\n  P1 ,  Acme Corp  \r\n\r\nP2,Globex\r\n,,\r\n"

    result = import_text(db, "partners", text)

    assert result.summary() == "partners: 2 rows read, 2 inserted, 0 updated, 0 unchanged"
    with db.transaction() as session:
        assert sorted(session.execute(select(Partner.partner_id, Partner.name)).all()) == [
            ("P1", "Acme Corp"),
            ("P2", "Globex"),
        ]


def test_a_file_larger_than_one_chunk_is_written_whole(db: Database) -> None:
    load_basics(db)
    rows = "".join(f"PAY-{n:03d},P1,{n + 1}.00,USD,2026-11-01,r{n}\n" for n in range(25))

    result = import_text(db, "payments", PAYMENTS_HEADER + rows, chunk_rows=4)

    assert result.inserted == 25
    with db.transaction() as session:
        amounts = session.scalars(select(Payment.amount).order_by(Payment.payment_id)).all()
    assert amounts == [(n + 1) * 100 for n in range(25)]


# ------------------------------------------------------------------------------- bad rows


BAD_PAYMENT_ROWS = [
    ("PAY-1,P1,12.345,USD,2026-11-01,", "amount: USD amounts have at most 2 decimals"),
    ("PAY-1,P1,100.5,JPY,2026-11-01,", "amount: JPY amounts have no decimals"),
    ("PAY-1,P1,1.0000,KWD,2026-11-01,", "amount: KWD amounts have at most 3 decimals"),
    ("PAY-1,P1,0.00,USD,2026-11-01,", "amount: The amount must be more than zero"),
    ("PAY-1,P1,-5.00,USD,2026-11-01,", "amount: The amount must be more than zero"),
    ('PAY-1,P1,"1,000.00",USD,2026-11-01,', "amount: Enter the amount as digits"),
    ("PAY-1,P1,1e9,USD,2026-11-01,", "amount: Enter the amount as digits"),
    ("PAY-1,P1,NaN,USD,2026-11-01,", "amount: Enter the amount as digits"),
    ("PAY-1,P1,١٠٠,USD,2026-11-01,", "amount: Enter the amount as digits"),
    ("PAY-1,P1,,USD,2026-11-01,", "amount is empty"),
    ("PAY-1,P1,10.00,XYZ,2026-11-01,", "currency: 'XYZ' is not an ISO 4217 currency code"),
    ("PAY-1,P1,10.00,US$,2026-11-01,", "currency: 'US$' is not an ISO 4217 currency code"),
    ("PAY-1,P1,10.00,,2026-11-01,", "currency is empty"),
    ("PAY-1,P1,10.00,USD,2026-02-30,", "received_on: 2026-02-30 is not a date"),
    ("PAY-1,P1,10.00,USD,01/11/2026,", "received_on: 01/11/2026 is not a date; write it as"),
    ("PAY-1,P1,10.00,USD,20261101,", "received_on: 20261101 is not a date"),
    (",P1,10.00,USD,2026-11-01,", "payment_id is empty"),
    ("PAY-1,,10.00,USD,2026-11-01,", "partner_id is empty"),
    ("PAY-1,NOPE,10.00,USD,2026-11-01,", "partner_id NOPE is not a known partner"),
    ("PAY-1,P1,10.00,USD,2026-11-01", "expected 6 columns (payment_id,partner_id,amount,"),
    ("PAY-1,P1,10.00,USD,2026-11-01,ref,extra", "expected 6 columns"),
    ("X" * 65 + ",P1,10.00,USD,2026-11-01,", "payment_id is longer than 64 characters"),
]


@pytest.mark.parametrize(("row", "problem"), BAD_PAYMENT_ROWS, ids=[p for _, p in BAD_PAYMENT_ROWS])
def test_a_bad_payment_row_is_named_by_line_and_nothing_is_written(
    db: Database, row: str, problem: str
) -> None:
    load_basics(db)
    before = "PAY-0,P1,1.00,USD,2026-11-01,fine\n"
    after = "PAY-8,P2,2.00,EUR,2026-11-02,also fine\n"

    bad_rows = rejection(db, "payments", PAYMENTS_HEADER + before + row + "\n" + after)

    assert len(bad_rows) == 1
    assert bad_rows[0].startswith(f"line 3: {problem}"), bad_rows[0]


BAD_INVOICE_ROWS = [
    ("INV-1,P1,100.00,USD,2026-10-05,2026-10-01,", "due_on 2026-10-01 is before issued_on"),
    ("INV-1,P1,100.00,USD,2026-10-01,2026-12-01,100.01", "amount_due 100.01 is more than the"),
    ("INV-1,P1,100.00,USD,2026-10-01,2026-12-01,-1.00", "amount_due cannot be negative"),
    ("INV-1,P1,100.00,USD,2026-10-01,2026-12-01,0.001", "amount_due: USD amounts have at most"),
    ("INV-1,P1,100,JPY,2026-10-01,2026-12-01,50.5", "amount_due: JPY amounts have no decimals"),
    ("INV-1,P1,100.00,USD,2026-10-01,2026-13-01,", "due_on: 2026-13-01 is not a date"),
    ("INV-1,P9,100.00,USD,2026-10-01,2026-12-01,", "partner_id P9 is not a known partner"),
]


@pytest.mark.parametrize(("row", "problem"), BAD_INVOICE_ROWS, ids=[p for _, p in BAD_INVOICE_ROWS])
def test_a_bad_invoice_row_is_named_by_line_and_nothing_is_written(
    db: Database, row: str, problem: str
) -> None:
    load_basics(db)

    bad_rows = rejection(db, "invoices", INVOICES_HEADER + row + "\n")

    assert len(bad_rows) == 1
    assert bad_rows[0].startswith(f"line 2: {problem}"), bad_rows[0]


def test_every_bad_row_is_listed_with_its_own_line_number(db: Database) -> None:
    load_basics(db)
    text = (
        PAYMENTS_HEADER
        + "PAY-1,P1,10.00,USD,2026-11-01,ok\n"
        + "PAY-2,P1,10.001,USD,2026-11-01,\n"
        + '"PAY-3",P1,10.00,USD,2026-11-01,"a reference\nover two lines"\n'
        + "PAY-4,GHOST,1,JPY,2026-11-31,\n"
        + "PAY-1,P1,10.00,USD,2026-11-01,again\n"
    )

    assert rejection(db, "payments", text) == [
        "line 3: amount: USD amounts have at most 2 decimals; you entered 10.001",
        "line 6: partner_id GHOST is not a known partner; import it with `slackbot import"
        " partners` first; received_on: 2026-11-31 is not a date; write it as YYYY-MM-DD,"
        " e.g. 2026-11-24",
        "line 7: payment_id PAY-1 is already on line 2 of this file",
    ]


def test_a_bad_row_in_a_later_chunk_undoes_the_chunks_already_written(db: Database) -> None:
    load_basics(db)
    rows = "".join(f"PAY-{n:03d},P1,1.00,USD,2026-11-01,\n" for n in range(10))

    bad_rows = rejection(
        db, "payments", PAYMENTS_HEADER + rows + "PAY-X,P1,1.001,USD,2026-11-01,\n", chunk_rows=3
    )

    assert bad_rows == ["line 12: amount: USD amounts have at most 2 decimals; you entered 1.001"]


@pytest.mark.parametrize(
    ("kind", "header", "expected"),
    [
        ("payments", "payment_id,partner_id,amount\n", PAYMENTS_HEADER.strip()),
        ("payments", "invoice_id,partner_id,amount,currency,issued_on,due_on\n", "payment_id,"),
        ("invoices", "invoice_id,partner_id,amount,currency,issued_on\n", "invoice_id,partner"),
        ("members", "partner_id,user\n", "partner_id,slack_user_id"),
        ("partners", "", "partner_id,name"),
    ],
)
def test_a_wrong_or_missing_header_names_the_expected_one(
    db: Database, kind: str, header: str, expected: str
) -> None:
    bad_rows = rejection(db, kind, header + "A,B,C\n" if header else "")

    assert len(bad_rows) == 1
    assert bad_rows[0].startswith("line 1: ")
    assert expected in bad_rows[0]


def test_members_need_a_known_partner_and_a_slack_user_id(db: Database) -> None:
    load_basics(db)
    text = "partner_id,slack_user_id\nP1,U0NEW\nP1,u0lower\nP1,@alice\nP7,U0AAA\nP1,U0NEW\nP1,\n"

    bad_rows = rejection(db, "members", text)

    assert [row.split(":", 1)[0] for row in bad_rows] == [
        "line 3",
        "line 4",
        "line 5",
        "line 6",
        "line 7",
    ]
    assert "u0lower does not look like a Slack user ID" in bad_rows[0]
    assert "@alice does not look like a Slack user ID" in bad_rows[1]
    assert "partner_id P7 is not a known partner" in bad_rows[2]
    assert "member U0NEW of partner P1 is already on line 2" in bad_rows[3]
    assert "slack_user_id is empty" in bad_rows[4]


def test_a_file_that_is_not_utf8_is_a_clear_error_without_traceback(
    db: Database, tmp_path: Path
) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes(("partner_id,name\nP1,Acme\nP2,Café\n").encode("latin-1"))
    before = snapshot(db)

    result = cli(db, "import", "partners", str(path))

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "line 3: this line is not UTF-8 text (byte 0xe9 at column 7); save the file as CSV"
        " UTF-8 and import it again",
        "partners: nothing imported; 1 bad row (of 1 read); fix the rows above and import the"
        " file again",
    ]
    assert "Traceback" not in result.output
    assert snapshot(db) == before


def test_a_file_that_is_not_csv_is_a_clear_error(db: Database) -> None:
    bad_rows = rejection(db, "partners", 'partner_id,name\nP1,"Acme\n')

    assert bad_rows == [
        "line 2: this is not valid CSV (unexpected end of data); check quotes and separators"
    ]


def test_a_line_that_is_not_csv_does_not_hide_the_bad_lines_after_it(db: Database) -> None:
    """A lone carriage return inside a cell (a spreadsheet's line break) is one bad line; the
    reader goes on, so a later bad line is named too (hypothesis found this one)."""
    load_basics(db)
    text = (
        PAYMENTS_HEADER
        + "X-0,P1,\r,JPY,2026-01-01,\n"
        + "PAY-G1,P1,1,JPY,2026-01-01,\n"
        + "X-2,P1,1,JPY,2026-01-01,NUL\x00\n"
    )

    with pytest.raises(ImportRejected) as caught:
        import_text(db, "payments", text)

    assert [str(bad) for bad in caught.value.bad_rows] == [
        "line 2: this is not valid CSV (new-line character seen in unquoted field - do you need"
        " to open the file in universal-newline mode?); check quotes and separators",
        "line 4: reference contains control characters",
    ]
    assert str(caught.value) == "payments: nothing imported; 2 bad rows (of 3 read)"
    assert rejection(db, "payments", text) == [str(bad) for bad in caught.value.bad_rows]


def test_a_rejected_import_exits_1_and_lists_the_bad_rows_on_stderr(
    db: Database, tmp_path: Path
) -> None:
    load_basics(db)
    before = snapshot(db)
    path = write(
        tmp_path,
        "payments.csv",
        PAYMENTS_HEADER + "PAY-1,P1,1.5,JPY,2026-11-01,\nPAY-2,P1,2,USD,2026-11-01,\n"
        "PAY-3,P1,1.00,USD,2026-11-01,\n",
    )

    result = cli(db, "import", "payments", path)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        "line 2: amount: JPY amounts have no decimals; you entered 1.5",
        "payments: nothing imported; 1 bad row (of 3 read); fix the rows above and import the"
        " file again",
    ]
    assert snapshot(db) == before


# -------------------------------------------------- re-imports that would break the books


@pytest.fixture
def allocated(db: Database, ledger: Ledger) -> Ledger:
    """PAY-1 (1250.00 USD) has 400.00 approved to INV-1 and 100.00 pending on INV-1."""
    load_basics(db)
    import_text(db, "payments", PAYMENTS)
    import_text(db, "invoices", INVOICES)
    approved = ledger.request_allocation("U0AAA", "PAY-1", "INV-1", "400.00")
    ledger.approve(approved.allocation_id, APPROVER)
    ledger.request_allocation("U0AAA", "PAY-1", "INV-1", "100.00")
    return ledger


def test_a_payment_cannot_be_reimported_below_what_is_allocated_or_pending(
    db: Database, allocated: Ledger
) -> None:
    text = PAYMENTS.replace("1250.00,USD", "499.99,USD")

    assert rejection(db, "payments", text) == [
        "line 2: amount: payment PAY-1 already has 500.00 USD allocated or awaiting approval;"
        " it cannot drop to 499.99 USD"
    ]
    assert import_text(db, "payments", PAYMENTS.replace("1250.00,USD", "500.00,USD")).updated == 1


def test_a_payment_with_allocations_cannot_change_partner_or_currency(
    db: Database, allocated: Ledger
) -> None:
    text = PAYMENTS.replace("PAY-1,P1,1250.00,USD", "PAY-1,P2,1250.000,KWD")

    assert rejection(db, "payments", text) == [
        "line 2: payment PAY-1 already has allocation requests, so its partner cannot change"
        " from P1 to P2; payment PAY-1 already has allocation requests, so its currency cannot"
        " change from USD to KWD"
    ]


def test_a_payment_without_allocations_may_change_partner_and_currency(
    db: Database, allocated: Ledger
) -> None:
    result = import_text(db, "payments", PAYMENTS.replace("PAY-2,P1,5000,JPY", "PAY-2,P2,50,EUR"))

    assert result.updated == 1
    with db.transaction() as session:
        pay2 = session.get_one(Payment, "PAY-2")
        assert (pay2.partner_id, pay2.currency, pay2.exponent, pay2.amount) == (
            "P2",
            "EUR",
            2,
            5000,
        )


def test_an_invoice_amount_due_cannot_drop_below_what_is_applied_or_pending(
    db: Database, allocated: Ledger
) -> None:
    text = INVOICES.replace("2026-12-01,\n", "2026-12-01,499.00\n")

    assert rejection(db, "invoices", text) == [
        "line 2: amount_due: invoice INV-1 already has 500.00 USD paid by approved allocations"
        " or awaiting approval; it cannot drop to 499.00 USD"
    ]


def test_an_invoice_amount_due_is_the_erps_figure_before_allocations_made_here(
    db: Database, allocated: Ledger
) -> None:
    result = import_text(db, "invoices", INVOICES.replace("2026-12-01,\n", "2026-12-01,900.00\n"))

    assert result.updated == 1
    with db.transaction() as session:
        inv1 = session.get_one(Invoice, "INV-1")
        # 900.00 due per the ERP, 400.00 of it since paid here: 500.00 left, 100.00 pending.
        assert (inv1.opening_due, inv1.applied, inv1.pending) == (90000, 40000, 10000)
        assert inv1.amount_due == 50000


def test_an_invoice_with_allocations_cannot_change_partner(db: Database, allocated: Ledger) -> None:
    text = INVOICES.replace("INV-1,P1,", "INV-1,P2,")

    assert rejection(db, "invoices", text) == [
        "line 2: invoice INV-1 already has allocation requests, so its partner cannot change"
        " from P1 to P2"
    ]


# ------------------------------------------------------------------ configuration and start-up


def test_db_upgrade_prints_one_line_and_can_run_twice(db: Database) -> None:
    first = cli(db, "db", "upgrade")
    second = cli(db, "db", "upgrade")

    assert first.exit_code == second.exit_code == 0
    assert second.stdout.count("\n") == 1
    assert "schema is up to date (revision " in second.stdout


def test_import_creates_the_schema_of_a_brand_new_sqlite_database(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    result = cli(None, "import", "partners", "-", stdin=PARTNERS, DATABASE_URL=url)

    assert result.exit_code == 0, result.output
    fresh = Database(url)
    with fresh.transaction() as session:
        assert len(session.scalars(select(Partner)).all()) == 2
    fresh.dispose()


@pytest.mark.parametrize(
    ("url", "code", "expected"),
    [
        ("mysql://db/ledger", 2, "DATABASE_URL: must be a sqlite:/// or postgresql:// URL"),
        ("sqlite:////no/such/dir/ledger.db", 1, "unable to open database file"),
        ("postgresql://postgres@127.0.0.1:1/none", 1, "Connection refused"),
    ],
)
def test_a_bad_or_unreachable_database_is_one_line_not_a_traceback(
    url: str, code: int, expected: str
) -> None:
    result = cli(None, "import", "partners", "-", stdin=PARTNERS, DATABASE_URL=url)

    assert result.exit_code == code
    assert len(result.stderr.splitlines()) == 1, result.stderr
    assert expected in result.stderr
    assert result.exception is None or isinstance(result.exception, SystemExit)


def test_a_missing_file_is_one_line(db: Database, tmp_path: Path) -> None:
    result = cli(db, "import", "payments", str(tmp_path / "nope.csv"))

    assert result.exit_code == 1
    assert result.stderr.strip().endswith("nope.csv: cannot read it (No such file or directory)")


SERVE_ENV = {
    "SLACK_BOT_TOKEN": "xoxb-test",
    "SLACK_SIGNING_SECRET": "secret",
    "BILLING_CHANNEL_ID": "C0BILLING",
    "SLACK_APP_TOKEN": "",
    "BILLING_APPROVER_IDS": "",
    "BILLING_APPROVER_GROUP_ID": "",
}


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ({"SLACK_BOT_TOKEN": ""}, "SLACK_BOT_TOKEN: required to serve"),
        ({"SLACK_BOT_TOKEN": "xoxp-user-token"}, "SLACK_BOT_TOKEN: must be a bot token"),
        (
            {"BILLING_CHANNEL_ID": "#billing"},
            "BILLING_CHANNEL_ID: '#billing' is not a Slack channel ID",
        ),
        ({"BILLING_CHANNEL_ID": ""}, "BILLING_CHANNEL_ID: required to serve"),
        ({"SLACK_SIGNING_SECRET": ""}, "SLACK_SIGNING_SECRET: required to serve over HTTP"),
        (
            {"BILLING_APPROVER_IDS": "U0OK,alice"},
            "BILLING_APPROVER_IDS: 'alice' is not a Slack user ID",
        ),
    ],
)
def test_serve_with_a_missing_or_malformed_setting_exits_2_naming_it(
    tmp_path: Path, override: dict[str, str], expected: str
) -> None:
    env = {**SERVE_ENV, **override, "DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}

    result = cli(None, "serve", **env)

    assert result.exit_code == 2
    assert result.stdout == ""
    assert len(result.stderr.splitlines()) == 1
    assert result.stderr.startswith(expected), result.stderr
    # Refused before touching the database.
    assert not (tmp_path / "x.db").exists()
