"""The sample CSV files in examples/: they import cleanly, in order, into a fresh database."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from slackbot.cli import app
from slackbot.db import Database

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "examples"
# The order the README gives: members, payments and invoices name partners.
ORDER = ("partners", "members", "payments", "invoices")


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def test_examples_hold_one_file_per_kind_and_nothing_else() -> None:
    assert sorted(path.name for path in EXAMPLES.glob("*.csv")) == sorted(
        f"{kind}.csv" for kind in ORDER
    )


def test_every_example_imports_cleanly_into_a_fresh_database(db: Database) -> None:
    url = db.engine.url.render_as_string(hide_password=False)
    summaries = []
    for kind in ORDER:
        result = CliRunner().invoke(
            app, ["import", kind, str(EXAMPLES / f"{kind}.csv")], env={"DATABASE_URL": url}
        )
        assert result.exit_code == 0, result.output
        assert result.stderr == ""
        summaries.append(result.stdout.strip())

    assert summaries == [
        "partners: 2 rows read, 2 inserted, 0 updated, 0 unchanged",
        "members: 3 rows read, 3 inserted, 0 updated, 0 unchanged",
        "payments: 3 rows read, 3 inserted, 0 updated, 0 unchanged",
        "invoices: 3 rows read, 3 inserted, 0 updated, 0 unchanged",
    ]
    exported = CliRunner().invoke(app, ["export", "payments"], env={"DATABASE_URL": url})
    assert exported.stdout.splitlines()[1:] == [
        "PAY-1001,ACME,USD,1250.00,0.00,0.00,1250.00,2026-11-01,wire 884213 INV-7",
        "PAY-1002,ACME,JPY,500000,0,0,500000,2026-11-02,",
        'PAY-1003,GLOBEX,KWD,12.345,0.000,0.000,12.345,2026-11-03,"transfer, partial"',
    ]


def test_the_readmes_csv_samples_are_the_example_files() -> None:
    """Wherever the README shows a sample with an example file's header, it is that file."""
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    samples = re.findall(r"```csv\n(.*?)```", readme, flags=re.S)
    files = {
        path.read_text(encoding="utf-8").splitlines()[0]: path for path in EXAMPLES.glob("*.csv")
    }

    for sample in samples:
        header = sample.splitlines()[0]
        if header in files:
            assert sample == files[header].read_text(encoding="utf-8"), files[header].name
