"""Revoking access: `slackbot members remove` and `import members --replace`, on both databases.

A person removed from a partner is refused on their very next request, the removal is audited
with the operator's name, and requests they left pending are still billing's to decide.
"""

from __future__ import annotations

import getpass
import io
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner, Result

from models.schemas import Actor
from models.tables import AuditEvent, PartnerMember
from slackbot.cli import app
from slackbot.db import Database
from slackbot.erp.imports import ImportRejected, import_csv
from slackbot.erp.members import operator_actor, remove_member
from slackbot.errors import NotAllowed, NotFound
from slackbot.ledger import Ledger
from tests.support.factories import snapshot

PARTNERS = "partner_id,name\nP-ACME,Acme Corp\nP-GLOBEX,Globex\nP-INITECH,Initech\n"
MEMBERS = (
    "partner_id,slack_user_id\n"
    "P-ACME,U0ALICE\n"
    "P-ACME,U0BOB\n"
    "P-GLOBEX,U0BOB\n"
    "P-GLOBEX,U0CAROL\n"
    "P-INITECH,U0DAVE\n"
)
PAYMENTS = (
    "payment_id,partner_id,amount,currency,received_on,reference\n"
    "PAY-1,P-ACME,1000.00,USD,2026-11-01,\n"
    "PAY-2,P-GLOBEX,500.00,USD,2026-11-01,\n"
)
INVOICES = (
    "invoice_id,partner_id,amount,currency,issued_on,due_on\n"
    "INV-1,P-ACME,800.00,USD,2026-10-01,2026-12-01\n"
    "INV-2,P-GLOBEX,500.00,USD,2026-10-01,2026-12-01\n"
)
APPROVER = Actor(user_id="U0APPROVER", can_approve=True)
OPERATOR = f"cli:{getpass.getuser()}"


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
        import_csv(db, kind, io.StringIO(text))
    return db


def cli(db: Database, *args: str, stdin: str | None = None) -> Result:
    url = db.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(app, list(args), input=stdin, env={"DATABASE_URL": url})


def members_of(db: Database) -> list[tuple[str, str]]:
    with db.transaction() as session:
        rows = session.execute(
            select(PartnerMember.partner_id, PartnerMember.slack_user_id).order_by(
                PartnerMember.partner_id, PartnerMember.slack_user_id
            )
        ).all()
    return [(row[0], row[1]) for row in rows]


def removal_audits(db: Database) -> list[tuple[str, str, dict[str, object]]]:
    with db.transaction() as session:
        rows = session.execute(
            select(AuditEvent.actor, AuditEvent.subject, AuditEvent.detail, AuditEvent.at)
            .where(AuditEvent.action == "member.removed")
            .order_by(AuditEvent.event_id)
        ).all()
    assert all(row.at is not None for row in rows)
    return [(row.actor, row.subject, row.detail) for row in rows]


def assert_refused_everywhere(
    ledger: Ledger, user_id: str, payment_id: str, invoice_id: str
) -> None:
    """Every door /payments opens is shut for ``user_id`` on ``payment_id``.

    (``Ledger.invoice_for`` was one until issue 10 deleted it: no door called it.)
    """
    assert payment_id not in {p.payment_id for p in ledger.payments_of(user_id)}
    with pytest.raises(NotFound, match=f"You have no payment {payment_id}"):
        ledger.payment_for(user_id, payment_id)
    with pytest.raises(NotFound, match=f"You have no payment {payment_id}"):
        ledger.search_open_invoices(user_id, payment_id)
    with pytest.raises(NotFound, match=f"You have no payment {payment_id}"):
        ledger.request_allocation(user_id, payment_id, invoice_id, "10.00")


# -------------------------------------------------------------------------- members remove


def test_members_remove_prints_one_line_and_unlinks_only_that_pair(books: Database) -> None:
    result = cli(books, "members", "remove", "P-ACME", "U0BOB")

    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        "removed U0BOB from partner P-ACME (Acme Corp); they can no longer see or allocate its"
        " payments"
    ]
    assert result.stderr == ""
    assert ("P-ACME", "U0BOB") not in members_of(books)
    assert ("P-GLOBEX", "U0BOB") in members_of(books)  # their other partner keeps them
    assert len(members_of(books)) == 4


def test_members_remove_is_audited_with_the_operator_and_what_was_removed(books: Database) -> None:
    cli(books, "members", "remove", "P-ACME", "U0BOB")

    assert removal_audits(books) == [
        (
            OPERATOR,
            "partner:P-ACME",
            {
                "partner_id": "P-ACME",
                "slack_user_id": "U0BOB",
                "via": "cli",
                "pending_requests": 0,
            },
        )
    ]


def test_a_removed_member_is_refused_on_the_next_request(books: Database, ledger: Ledger) -> None:
    # Before: Bob sees and can request on Acme's payment.
    assert "PAY-1" in {p.payment_id for p in ledger.payments_of("U0BOB")}
    assert [p.partner_id for p in ledger.partners_of("U0BOB")] == ["P-ACME", "P-GLOBEX"]
    ledger.request_allocation("U0BOB", "PAY-1", "INV-1", "10.00", request_key="before")

    assert cli(books, "members", "remove", "P-ACME", "U0BOB").exit_code == 0

    assert [p.partner_id for p in ledger.partners_of("U0BOB")] == ["P-GLOBEX"]
    assert_refused_everywhere(ledger, "U0BOB", "PAY-1", "INV-1")
    # Their other partner's money is still theirs to allocate, and Alice keeps Acme's.
    assert ledger.request_allocation("U0BOB", "PAY-2", "INV-2", "5.00").status == "pending"
    assert ledger.request_allocation("U0ALICE", "PAY-1", "INV-1", "5.00").status == "pending"


@pytest.mark.parametrize("decision", ["approve", "reject"])
def test_a_removed_members_pending_request_is_still_billings_to_decide(
    books: Database, ledger: Ledger, decision: str
) -> None:
    pending = ledger.request_allocation("U0BOB", "PAY-1", "INV-1", "300.00")

    result = cli(books, "members", "remove", "P-ACME", "U0BOB")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(
        "; 1 pending request of theirs stays for billing to approve or reject"
    )
    assert ledger.allocation(pending.allocation_id).status == "pending"
    assert removal_audits(books)[0][2]["pending_requests"] == 1
    if decision == "approve":
        decided = ledger.approve(pending.allocation_id, APPROVER)
        assert decided.status == "approved"
        assert ledger.payment_for("U0ALICE", "PAY-1").allocated == 30000
    else:
        decided = ledger.reject(pending.allocation_id, APPROVER, "Bob has left Acme")
        assert decided.status == "rejected"
        assert ledger.payment_for("U0ALICE", "PAY-1").unallocated == 100000


def test_a_removed_member_can_no_longer_cancel_or_see_that_partners_requests(
    books: Database, ledger: Ledger
) -> None:
    acme = ledger.request_allocation("U0BOB", "PAY-1", "INV-1", "300.00")
    globex = ledger.request_allocation("U0BOB", "PAY-2", "INV-2", "5.00")
    assert {a.allocation_id for a in ledger.history("U0BOB")} == {
        acme.allocation_id,
        globex.allocation_id,
    }

    assert cli(books, "members", "remove", "P-ACME", "U0BOB").exit_code == 0

    with pytest.raises(NotAllowed, match="no longer act for this partner"):
        ledger.cancel(acme.allocation_id, "U0BOB")
    assert ledger.allocation(acme.allocation_id).status == "pending"
    assert ledger.payment_for("U0ALICE", "PAY-1").pending == 30000
    assert [a.allocation_id for a in ledger.history("U0BOB")] == [globex.allocation_id]
    # Their request on the partner they still act for is still theirs to withdraw.
    assert ledger.cancel(globex.allocation_id, "U0BOB").status == "cancelled"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("P-NOPE", "U0BOB"),
            "partner P-NOPE is not a known partner; nothing was changed",
        ),
        (
            ("p-acme", "U0BOB"),
            "partner p-acme is not a known partner; did you mean P-ACME?; nothing was changed",
        ),
        (
            ("P-ACME", "U0CAROL"),
            "U0CAROL is not a member of partner P-ACME (Acme Corp); nothing was changed",
        ),
    ],
)
def test_members_remove_of_something_unknown_exits_1_naming_it_and_changes_nothing(
    books: Database, args: tuple[str, str], message: str
) -> None:
    before = snapshot(books)

    result = cli(books, "members", "remove", *args)

    assert result.exit_code == 1
    assert result.stdout == ""
    assert result.stderr.splitlines() == [message]
    assert snapshot(books) == before


def test_members_remove_of_a_malformed_user_id_is_a_usage_error(books: Database) -> None:
    before = snapshot(books)

    result = cli(books, "members", "remove", "P-ACME", "bob@example.com")

    assert result.exit_code == 2
    assert "does not look like a Slack user ID" in result.stderr
    assert "nothing was changed" in result.stderr
    assert "Traceback" not in result.output
    assert snapshot(books) == before


def test_removing_twice_says_the_second_time_that_they_are_not_a_member(books: Database) -> None:
    assert cli(books, "members", "remove", "P-ACME", "U0BOB").exit_code == 0

    again = cli(books, "members", "remove", "P-ACME", "U0BOB")

    assert again.exit_code == 1
    assert "U0BOB is not a member of partner P-ACME" in again.stderr
    assert len(removal_audits(books)) == 1


def test_operator_actor_names_the_os_user(monkeypatch: pytest.MonkeyPatch) -> None:
    assert operator_actor() == OPERATOR

    def no_user() -> str:
        raise OSError("no login name")

    monkeypatch.setattr(getpass, "getuser", no_user)
    assert operator_actor() == "cli:unknown"


def test_remove_member_service_refuses_an_unknown_partner_by_name(books: Database) -> None:
    with pytest.raises(NotFound, match="partner P-NOPE is not a known partner"):
        remove_member(books, "P-NOPE", "U0BOB", actor="test")


# ------------------------------------------------------------------ import members --replace


def test_replace_import_keeps_exactly_the_listed_members_of_the_partners_it_names(
    books: Database, tmp_path: Path
) -> None:
    path = tmp_path / "members.csv"
    # Acme now has Alice and a newcomer (Bob left); Globex keeps only Carol; Initech is not named.
    path.write_text("partner_id,slack_user_id\nP-ACME,U0ALICE\nP-ACME,U0ERIN\nP-GLOBEX,U0CAROL\n")

    result = cli(books, "import", "members", str(path), "--replace")

    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == (
        "members: 3 rows read, 1 inserted, 0 updated, 2 unchanged, 2 removed"
    )
    assert members_of(books) == [
        ("P-ACME", "U0ALICE"),
        ("P-ACME", "U0ERIN"),
        ("P-GLOBEX", "U0CAROL"),
        ("P-INITECH", "U0DAVE"),
    ]
    audits = removal_audits(books)
    assert [(actor, subject, detail["slack_user_id"]) for actor, subject, detail in audits] == [
        (OPERATOR, "partner:P-ACME", "U0BOB"),
        (OPERATOR, "partner:P-GLOBEX", "U0BOB"),
    ]
    assert all(detail["via"] == "import --replace" for _, _, detail in audits)
    assert all(detail["source"] == str(path) for _, _, detail in audits)
    with books.transaction() as session:
        summary = session.execute(
            select(AuditEvent.actor, AuditEvent.detail).where(AuditEvent.action == "import.members")
        ).all()[-1]
    assert summary.actor == OPERATOR
    assert (summary.detail["replace"], summary.detail["removed"]) == (True, 2)


def test_after_a_replace_import_the_removed_member_is_refused(
    books: Database, ledger: Ledger
) -> None:
    pending = ledger.request_allocation("U0BOB", "PAY-1", "INV-1", "100.00")

    result = import_csv(
        books,
        "members",
        io.StringIO("partner_id,slack_user_id\nP-ACME,U0ALICE\n"),
        replace=True,
    )

    assert result.removed == 1
    assert_refused_everywhere(ledger, "U0BOB", "PAY-1", "INV-1")
    assert ledger.approve(pending.allocation_id, APPROVER).status == "approved"


def test_a_replace_import_with_a_bad_row_removes_nobody(books: Database) -> None:
    before = snapshot(books)

    with pytest.raises(ImportRejected) as caught:
        import_csv(
            books,
            "members",
            io.StringIO("partner_id,slack_user_id\nP-ACME,U0ALICE\nP-ACME,not-an-id\n"),
            replace=True,
        )

    assert [bad.line for bad in caught.value.bad_rows] == [3]
    assert snapshot(books) == before


def test_the_same_replace_import_twice_removes_nothing_the_second_time(books: Database) -> None:
    text = "partner_id,slack_user_id\nP-ACME,U0ALICE\n"
    first = import_csv(books, "members", io.StringIO(text), replace=True)
    after_first = snapshot(books)

    second = import_csv(books, "members", io.StringIO(text), replace=True)

    assert (first.removed, second.removed) == (1, 0)
    assert second.summary() == "members: 1 row read, 0 inserted, 0 updated, 1 unchanged, 0 removed"
    assert snapshot(books) == after_first  # not even an audit event


def test_a_plain_members_import_still_never_removes_anyone(books: Database) -> None:
    result = import_csv(books, "members", io.StringIO("partner_id,slack_user_id\nP-ACME,U0ALICE\n"))

    assert result.removed is None
    assert result.summary() == "members: 1 row read, 0 inserted, 0 updated, 1 unchanged"
    assert len(members_of(books)) == 5


@pytest.mark.parametrize("kind", ["partners", "payments", "invoices"])
def test_replace_is_refused_for_other_kinds_of_file(
    books: Database, tmp_path: Path, kind: str
) -> None:
    path = tmp_path / "file.csv"
    path.write_text(PARTNERS)
    before = snapshot(books)

    result = cli(books, "import", kind, str(path), "--replace")

    assert result.exit_code == 2
    assert result.stderr.splitlines() == [
        f"--replace applies to members files only, not to {kind}; nothing was changed"
    ]
    assert snapshot(books) == before
