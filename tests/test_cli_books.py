"""`slackbot books check` and `slackbot reverse`, through the CLI runner, on both databases."""

from __future__ import annotations

import getpass
from pathlib import Path

import pytest
from sqlalchemy import select, text, update
from typer.testing import CliRunner, Result

from models.enums import Audience
from models.schemas import Actor
from models.tables import Allocation, AuditEvent, JournalEntry, OutboxMessage
from slackbot.cli import app
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.ledger.books import check_books
from tests.ledger.journal_guards import unguarded_sql
from tests.support.factories import add_invoice, add_partner, add_payment, snapshot

APPROVER = Actor(user_id="B1", can_approve=True)
OPERATOR = f"cli:{getpass.getuser()}"[:32]


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100_000, "USD")
    add_payment(db, "PAY-2", "P1", 5_000, "JPY")
    add_invoice(db, "INV-1", "P1", 50_000, "USD")
    add_invoice(db, "INV-2", "P1", 5_000, "JPY")
    return db


@pytest.fixture
def approved(books: Database, ledger: Ledger) -> int:
    allocation_id = ledger.request_allocation("U1", "PAY-1", "INV-1", "150.00").allocation_id
    ledger.approve(allocation_id, APPROVER)
    _all_sent(books)
    return allocation_id


def cli(db: Database, *args: str) -> Result:
    url = db.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(app, list(args), env={"DATABASE_URL": url})


def _all_sent(db: Database) -> None:
    with db.transaction() as session:
        session.execute(
            update(OutboxMessage)
            .where(OutboxMessage.sent_at.is_(None))
            .values(sent_at=OutboxMessage.created_at)
        )


def _unsent(db: Database) -> list[tuple[str, str]]:
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.kind, OutboxMessage.recipient)
            .where(OutboxMessage.sent_at.is_(None))
            .order_by(OutboxMessage.message_id)
        ).all()
    return [(row.kind, row.recipient) for row in rows]


# -------------------------------------------------------------------------------- books check


def test_books_check_prints_the_summary_and_exits_0_when_balanced(
    books: Database, ledger: Ledger, approved: int
) -> None:
    yen = ledger.request_allocation("U1", "PAY-2", "INV-2", "300").allocation_id
    ledger.approve(yen, APPROVER)
    ledger.request_allocation("U1", "PAY-1", "INV-1", "10.00")

    result = cli(books, "books", "check")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "the books balance: 2 payments, 2 invoices, 3 allocations (2 approved, 1 pending),"
        " 2 journal entries of 4 lines; debits equal credits (300 JPY, 150.00 USD)"
    ]
    assert result.stderr == ""


def test_books_check_on_empty_books(books: Database) -> None:
    result = cli(books, "books", "check")

    assert result.exit_code == 0, result.output
    assert "0 allocations (none)" in result.stdout
    assert "(nothing posted)" in result.stdout


def test_books_check_lists_each_violation_one_line_each_and_exits_1(
    books: Database, approved: int
) -> None:
    with books.transaction() as session:
        session.execute(text("UPDATE payments SET allocated = allocated + 1"))
    unguarded_sql(books, "UPDATE journal_lines SET currency = 'EUR' WHERE credit > 0")
    expected = check_books(books)

    result = cli(books, "books", "check")

    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines == expected and len(lines) >= 2
    assert any("payment PAY-1: allocated is 15001" in line for line in lines)
    assert any("posts EUR" in line for line in lines)
    assert result.stderr.splitlines() == [
        f"the books do not balance: {len(lines)} problems listed above"
    ]


def test_books_check_without_a_ledger_says_so(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'none.db'}"
    result = CliRunner().invoke(app, ["books", "check"], env={"DATABASE_URL": url})

    assert result.exit_code == 1
    assert "holds no ledger yet" in result.stderr
    assert "Traceback" not in result.output


def test_books_check_with_the_database_down_is_one_line(books: Database) -> None:
    result = CliRunner().invoke(
        app,
        ["books", "check"],
        env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"},
    )

    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert "Traceback" not in result.output


# ------------------------------------------------------------------------------------ reverse


def test_reverse_posts_the_mirror_entry_audits_the_operator_and_owes_the_messages(
    books: Database, approved: int
) -> None:
    result = cli(books, "reverse", str(approved), "--reason", "paid twice")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        f"reversed allocation {approved}: 150.00 USD from PAY-1 is off INV-1 again (INV-1 has"
        " 500.00 USD left to pay, PAY-1 has 1,000.00 USD left to allocate); billing and the"
        " requester are told in Slack"
    ]
    with books.transaction() as session:
        allocation = session.get_one(Allocation, approved)
        assert (allocation.status, allocation.reversed_by, allocation.reversal_reason) == (
            "reversed",
            OPERATOR,
            "paid twice",
        )
        entries = session.execute(
            select(JournalEntry.kind, JournalEntry.posted_by).order_by(JournalEntry.entry_id)
        ).all()
        assert [tuple(e) for e in entries] == [("allocation", "B1"), ("reversal", OPERATOR)]
        audit = session.execute(
            select(AuditEvent.actor, AuditEvent.detail).where(
                AuditEvent.action == "allocation.reversed"
            )
        ).one()
        assert audit.actor == OPERATOR
        assert audit.detail["reason"] == "paid twice"
    # What a reversal from Slack owes: the billing message edited, the receipt DM edited.
    assert _unsent(books) == [
        ("allocation_reversed", Audience.BILLING),
        ("allocation_reversed", Audience.RECEIPT),
    ]
    assert check_books(books) == []


def test_reverse_twice_is_refused_in_one_line_and_changes_nothing(
    books: Database, approved: int
) -> None:
    assert cli(books, "reverse", str(approved), "--reason", "paid twice").exit_code == 0
    before = snapshot(books)

    result = cli(books, "reverse", str(approved), "--reason", "again")

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [
        f"Request {approved} was already reversed by {OPERATOR} at "
        + result.stderr.split(" at ", 1)[1].strip()
    ]
    assert "nothing changed" in result.stderr
    assert snapshot(books) == before


@pytest.mark.parametrize(
    ("reason", "words"),
    [
        ("", "Say why the allocation is being reversed."),
        ("\u200b\u200b", "only invisible or control characters"),
        ("x" * 1001, "Keep the reason under 1000 characters."),
    ],
)
def test_reverse_needs_a_readable_reason(
    books: Database, approved: int, reason: str, words: str
) -> None:
    before = snapshot(books)

    result = cli(books, "reverse", str(approved), "--reason", reason)

    assert result.exit_code == 1
    assert len(result.stderr.splitlines()) == 1
    assert words in result.stderr
    assert snapshot(books) == before


def test_reverse_of_a_pending_or_missing_allocation_is_refused(
    books: Database, ledger: Ledger
) -> None:
    pending = ledger.request_allocation("U1", "PAY-1", "INV-1", "10.00").allocation_id
    before = snapshot(books)

    waiting = cli(books, "reverse", str(pending), "--reason", "r")
    missing = cli(books, "reverse", "999999", "--reason", "r")

    assert waiting.exit_code == missing.exit_code == 1
    assert waiting.stderr.splitlines() == [
        f"Request {pending} is still waiting for a decision; only an approved allocation can"
        " be reversed."
    ]
    assert missing.stderr.splitlines() == ["There is no allocation request 999999."]
    assert snapshot(books) == before


def test_reverse_by_the_requester_is_refused(books: Database, ledger: Ledger) -> None:
    """Segregation of duties holds at this door too: the operator did not request it."""
    with books.transaction() as session:
        session.execute(
            text(
                "INSERT INTO partner_members (partner_id, slack_user_id)"
                f" VALUES ('P1', '{OPERATOR}')"
            )
        )
    mine = ledger.request_allocation(OPERATOR, "PAY-1", "INV-1", "10.00").allocation_id
    ledger.approve(mine, APPROVER)
    before = snapshot(books)

    result = cli(books, "reverse", str(mine), "--reason", "mine")

    assert result.exit_code == 1
    assert result.stderr.splitlines() == [
        "You made this request, so another approver has to reverse it."
    ]
    assert snapshot(books) == before


@pytest.mark.parametrize("typed", ["abc", "0", "1.5", "٣", "99999999999", "1e3", "", "7\n"])
def test_reverse_with_a_malformed_id_exits_2(books: Database, approved: int, typed: str) -> None:
    before = snapshot(books)

    result = cli(books, "reverse", typed, "--reason", "r")

    assert result.exit_code == 2
    assert "is not an allocation id" in result.stderr
    assert len(result.stderr.splitlines()) == 1
    assert snapshot(books) == before


def test_reverse_without_a_reason_or_with_a_negative_id_is_a_usage_error(
    books: Database, approved: int
) -> None:
    before = snapshot(books)
    no_reason = cli(books, "reverse", str(approved))
    negative = cli(books, "reverse", "-1", "--reason", "r")

    assert no_reason.exit_code == negative.exit_code == 2
    assert "--reason" in no_reason.output
    assert "Traceback" not in no_reason.output + negative.output
    assert snapshot(books) == before
