"""Imports a person can read at scale: bad rows grouped, hints for the usual mistakes, progress."""

from __future__ import annotations

import io
import os
import pty
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from slackbot.cli import app, rows_and_rate
from slackbot.db import Database
from slackbot.erp.imports import ImportRejected, import_csv
from tests.support.factories import snapshot

PARTNERS = "partner_id,name\nP-ACME,Acme Corp\nP-GLOBEX,Globex\n"
PAYMENTS_HEADER = "payment_id,partner_id,amount,currency,received_on,reference\n"


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def partners(db: Database) -> Database:
    import_csv(db, "partners", io.StringIO(PARTNERS))
    return db


def cli(db: Database, *args: str) -> Result:
    url = db.engine.url.render_as_string(hide_password=False)
    return CliRunner().invoke(app, list(args), env={"DATABASE_URL": url})


def write(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_many_bad_rows_print_the_first_50_of_each_problem_and_count_the_rest(
    partners: Database, tmp_path: Path
) -> None:
    unknown = "".join(f"PAY-{n},GHOST-{n % 7},1.00,USD,2026-11-01,\n" for n in range(20_000))
    decimals = "".join(f"PAY-X{n},P-ACME,1.001,USD,2026-11-01,\n" for n in range(60))
    good = "PAY-OK,P-ACME,1.00,USD,2026-11-01,\n"
    path = write(tmp_path, "payments.csv", PAYMENTS_HEADER + unknown + good + decimals)
    before = snapshot(partners)

    result = cli(partners, "import", "payments", path)

    assert result.exit_code == 1
    lines = result.stderr.splitlines()
    assert len(lines) == 50 + 50 + 2 + 1
    assert all("is not a known partner" in line for line in lines[:50])
    assert lines[0] == (
        "line 2: partner_id GHOST-0 is not a known partner; import it with `slackbot import"
        " partners` first"
    )
    assert lines[49].startswith("line 51: ")
    assert all("USD amounts have at most 2 decimals" in line for line in lines[50:100])
    assert lines[50].startswith("line 20003: ")
    assert lines[100:102] == [
        "... and 19,950 more rows with the same problem as line 2"
        " (partner_id is not a known partner)",
        "... and 10 more rows with the same problem as line 20003 (amount is not a valid amount)",
    ]
    assert lines[102] == (
        "payments: nothing imported; 20,060 bad rows (of 20,061 read); fix the rows above and"
        " import the file again"
    )
    assert snapshot(partners) == before


def test_rows_with_two_problems_are_a_kind_of_their_own(partners: Database) -> None:
    text = PAYMENTS_HEADER + "".join(
        f"PAY-{n},GHOST,1.00,USD,2026-11-{'31' if n % 2 else '01'},\n" for n in range(120)
    )

    with pytest.raises(ImportRejected) as caught:
        import_csv(partners, "payments", io.StringIO(text))

    shown, more = caught.value.grouped()
    assert len(shown) == 100
    assert more == [
        "... and 10 more rows with the same problem as line 2 (partner_id is not a known partner)",
        "... and 10 more rows with the same problem as line 3 (partner_id is not a known"
        " partner + received_on is not a date)",
    ]
    assert len(caught.value.bad_rows) == 120  # the service still names every one


@pytest.mark.parametrize(
    ("separator", "name"),
    [(";", "semicolons"), ("\t", "tabs")],
)
def test_a_semicolon_or_tab_separated_file_gets_a_hint_about_the_delimiter(
    partners: Database, tmp_path: Path, separator: str, name: str
) -> None:
    text = f"partner_id{separator}slack_user_id\nP-ACME{separator}U0ALICE\n"
    before = snapshot(partners)

    result = cli(partners, "import", "members", write(tmp_path, "members.csv", text))

    assert result.exit_code == 1
    first = result.stderr.splitlines()[0]
    assert first.startswith("line 1: the header must be partner_id,slack_user_id")
    assert first.endswith(
        f"(the values look separated by {name}; columns must be separated by commas: save the"
        " file as CSV UTF-8, comma-delimited)"
    )
    assert snapshot(partners) == before


def test_a_row_split_by_semicolons_under_a_good_header_gets_the_hint_too(
    partners: Database,
) -> None:
    text = "partner_id,name\nP-NEW;New Corp\n"

    with pytest.raises(ImportRejected) as caught:
        import_csv(partners, "partners", io.StringIO(text))

    assert [str(bad) for bad in caught.value.bad_rows] == [
        "line 2: expected 2 columns (partner_id,name), found 1 (the values look separated by"
        " semicolons; columns must be separated by commas: save the file as CSV UTF-8,"
        " comma-delimited)"
    ]


@pytest.mark.parametrize("typed", ["p-acme", "P-Acme", "P-ACMe"])
def test_a_partner_id_that_differs_only_by_case_gets_did_you_mean(
    partners: Database, typed: str
) -> None:
    text = f"partner_id,slack_user_id\n{typed},U0ALICE\nP-NOBODY,U0BOB\n"

    with pytest.raises(ImportRejected) as caught:
        import_csv(partners, "members", io.StringIO(text))

    assert [str(bad) for bad in caught.value.bad_rows] == [
        f"line 2: partner_id {typed} is not a known partner; did you mean P-ACME? (partner ids"
        " are case-sensitive)",
        "line 3: partner_id P-NOBODY is not a known partner; import it with `slackbot import"
        " partners` first",
    ]


def test_rows_and_rate_reads_as_a_person_would_say_it() -> None:
    assert rows_and_rate(12_000, 0.5) == "12,000 rows, 24,000 rows/s"
    assert rows_and_rate(0, 0.0) == "0 rows, 0 rows/s"


def test_the_progress_bar_on_a_terminal_shows_rows_read_and_rows_per_second(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    partners = write(tmp_path, "partners.csv", PARTNERS)
    rows = "".join(f"PAY-{n},P-ACME,1.00,USD,2026-11-01,ref {n}\n" for n in range(5000))
    payments = write(tmp_path, "payments.csv", PAYMENTS_HEADER + rows)
    env = {**os.environ, "DATABASE_URL": url, "COLUMNS": "120"}
    command = [sys.executable, "-m", "slackbot", "import"]
    subprocess.run([*command, "partners", partners], env=env, check=True, capture_output=True)

    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [*command, "payments", payments],
        env=env,
        stdout=subprocess.PIPE,
        stderr=follower,
        cwd=tmp_path,
    )
    os.close(follower)
    seen = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready, _, _ = select.select([leader], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(leader, 4096)
            except OSError:  # the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
        elif process.poll() is not None:
            break
    stdout, _ = process.communicate(timeout=60)
    os.close(leader)

    assert process.returncode == 0, seen
    assert stdout.decode().strip() == (
        "payments: 5000 rows read, 5000 inserted, 0 updated, 0 unchanged"
    )
    shown = seen.decode(errors="replace")
    assert "importing" in shown
    assert re.search(r"\b5,000 rows, [\d,]+ rows/s", shown), shown
