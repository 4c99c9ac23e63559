"""`slackbot serve` as an operator runs it: one line per problem and exit 2, or a line saying what
it serves; never a traceback. Every test runs the real command in a fresh directory."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from tests.support import slack_payloads as payloads
from tests.support.bot_harness import wait_for
from tests.support.slack_stub import FakeSlack

SLACKBOT = str(Path(sys.executable).parent / "slackbot")
README = Path(__file__).resolve().parents[1] / "README.md"
SECRET = "startup-test-signing-secret"
TIMEOUT = 60


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(tmp_path: Path, **values: str) -> dict[str, str]:
    """The test's environment without any setting of ours, plus ``values``."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "BILLING_")) and key not in ("DATABASE_URL",)
    }
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'ledger.db'}"
    env["PYTHONUNBUFFERED"] = "1"
    env.update(values)
    return env


def _servable(slack_api_url: str = "http://127.0.0.1:9/api/") -> dict[str, str]:
    return {
        "SLACK_BOT_TOKEN": "xoxb-startup-test",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack_api_url,
        "BILLING_CHANNEL_ID": "C0BILLING",
        "BILLING_APPROVER_IDS": "U0APPROVER",
    }


def _run(tmp_path: Path, env: dict[str, str], *args: str) -> tuple[int, list[str]]:
    result = subprocess.run(
        [SLACKBOT, *args], env=env, cwd=tmp_path, capture_output=True, timeout=TIMEOUT
    )
    stderr = result.stderr.decode("utf-8", errors="replace")
    assert "Traceback" not in stderr, stderr[-3000:]
    return result.returncode, stderr.strip().splitlines()


def test_serve_on_a_port_in_use_is_one_line_naming_the_port(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        code, lines = _run(
            tmp_path, _environment(tmp_path, **_servable()), "serve", "--port", str(port)
        )

    assert code == 2, lines
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"--port {port}: ") and "already in use" in lines[0], lines


@pytest.mark.parametrize(
    ("args", "named"),
    [
        (["--host", "203.0.113.7"], "--host 203.0.113.7"),
        (["--port", "70000"], "--port 70000"),
    ],
)
def test_serve_that_cannot_listen_is_one_line_naming_the_option(
    tmp_path: Path, args: list[str], named: str
) -> None:
    code, lines = _run(tmp_path, _environment(tmp_path, **_servable()), "serve", *args)
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith(f"{named}: "), lines


def _readme_env_block() -> str:
    """The .env the README's set-up section shows, as a reader would copy it."""
    text = README.read_text(encoding="utf-8")
    start = text.index("SLACK_BOT_TOKEN=xoxb-…")
    block = text[start : text.index("```", start)]
    return "\n".join(line.strip() for line in block.splitlines()) + "\n"


def test_serve_with_the_readmes_env_copied_as_is_names_each_placeholder(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(_readme_env_block(), encoding="utf-8")

    code, lines = _run(tmp_path, _environment(tmp_path), "serve")

    assert code == 2, lines
    named = [line.split(":", 1)[0] for line in lines]
    assert named[:2] == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET"], lines
    assert len(named) == len(set(named)), lines
    assert all("looks like the placeholder from the README" in line for line in lines), lines
    assert not any("UnicodeEncodeError" in line for line in lines)


def test_serve_with_nothing_set_names_every_missing_setting_at_once(tmp_path: Path) -> None:
    code, lines = _run(tmp_path, _environment(tmp_path), "serve")
    assert code == 2, lines
    assert [line.split(":", 1)[0] for line in lines] == [
        "SLACK_BOT_TOKEN",
        "BILLING_CHANNEL_ID",
        "SLACK_SIGNING_SECRET",
    ]


def test_import_works_beside_a_half_filled_env_that_serve_refuses(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(_readme_env_block(), encoding="utf-8")
    (tmp_path / "partners.csv").write_text("partner_id,name\nP-ACME,Acme Corp\n", encoding="utf-8")
    # Malformed, not only a placeholder: import does not read it, so it must not refuse it.
    env = _environment(tmp_path, BILLING_CHANNEL_ID="#billing", BILLING_CHANNEL_PACE_SECONDS="x")

    result = subprocess.run(
        [SLACKBOT, "import", "partners", "partners.csv"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=TIMEOUT,
    )

    assert result.returncode == 0, result.stderr.decode(errors="replace")
    code, lines = _run(tmp_path, env, "db", "upgrade")
    assert code == 0, lines


def test_import_still_refuses_a_malformed_database_url_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "partners.csv").write_text("partner_id,name\nP-ACME,Acme Corp\n", encoding="utf-8")
    env = _environment(tmp_path, DATABASE_URL="mysql://…")
    code, lines = _run(tmp_path, env, "import", "partners", "partners.csv")
    assert code == 2
    assert len(lines) == 1 and lines[0].startswith("DATABASE_URL: "), lines


# ----------------------------------------------------------------- a serve that starts


def test_serve_says_what_it_uses_logs_each_request_and_bolt_does_not_warn(
    tmp_path: Path, slack: FakeSlack
) -> None:
    port = _free_port()
    log = tmp_path / "serve.log"
    # SLACK_BOT_TOKEN in the environment is what made Bolt warn "`token` will be unused".
    env = _environment(tmp_path, **_servable(slack.api_url))
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [SLACKBOT, "serve", "--port", str(port)],
            env=env,
            cwd=tmp_path,
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        assert process.poll() is None, log.read_text(errors="replace")
        try:
            with urllib.request.urlopen(base_url + "/healthz", timeout=2) as response:
                return bool(json.loads(response.read())["ok"])
        except OSError:
            return False

    try:
        wait_for(healthy, timeout=TIMEOUT, what="/healthz")
        body = payloads.slash_command("U0ALICE", "help", response_url=slack.response_url("r1"))
        status, _headers, _text = payloads.post_signed(base_url, body, secret=SECRET)
        assert status == 200
        status, _headers, _text = payloads.post_signed(base_url, body, secret="wrong")
        assert status == 401
        wait_for(lambda: "bad signature" in log.read_text(errors="replace"), what="the log line")
        process.send_signal(signal.SIGTERM)
        assert process.wait(15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)

    output = log.read_text(errors="replace")
    assert "Traceback" not in output, output
    assert "will be unused" not in output, output
    (start,) = [line for line in output.splitlines() if "serving over" in line]
    assert f"serving over HTTP: Slack requests on http://127.0.0.1:{port}/slack/events" in start
    assert f"database sqlite:///{tmp_path / 'ledger.db'}" in start
    assert "billing channel C0BILLING" in start
    requests = [line for line in output.splitlines() if " user=" in line and " -> " in line]
    assert len(requests) == 2, output
    assert "POST /slack/events command /payments user=U0ALICE -> 200 ok in " in requests[0]
    assert "-> 401 refused: bad signature in " in requests[1]
    warned = [line for line in output.splitlines() if "SLACK_SIGNING_SECRET" in line]
    assert len(warned) == 1 and " WARNING " in warned[0], output
    for secret in ("xoxb-startup-test", SECRET):
        assert secret not in output
