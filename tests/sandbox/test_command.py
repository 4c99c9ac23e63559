"""``python -m slackbot.sandbox``: starts the bot and the page, prints the URL, stops on SIGINT.

Run as an operator would, in its own process: the page answers on the printed URL and
127.0.0.1 only; Ctrl-C (SIGINT) ends it with exit 0 and no bot process left behind.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _read_until(process: subprocess.Popen[str], pattern: str, timeout: float) -> re.Match[str]:
    assert process.stdout is not None
    deadline = time.monotonic() + timeout
    seen = []
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        seen.append(line)
        found = re.search(pattern, line)
        if found:
            return found
    raise AssertionError(f"no line matching {pattern!r}; output so far: {''.join(seen)}")


def test_the_sandbox_serves_the_page_and_stops_cleanly_on_ctrl_c(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "slackbot.sandbox", "--port", "0", "--data-dir", str(tmp_path)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        url = _read_until(process, r"Sandbox ready: (http://127\.0\.0\.1:\d+/)", 60).group(1)
        pid = int(_read_until(process, r"pid (\d+)", 5).group(1))
        with urllib.request.urlopen(url + "?as=USANDCLARA&pane=billing", timeout=10) as page:
            assert page.status == 200
            assert "Payments sandbox" in page.read().decode()
        os.kill(pid, 0)  # the bot runs
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=20) == 0
    finally:
        if process.poll() is None:
            process.kill()
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        pass
    else:
        raise AssertionError(f"the bot (pid {pid}) outlived the sandbox")
    # The given data folder keeps the books and the bot's log.
    assert (tmp_path / "sandbox.db").exists() and (tmp_path / "bot.log").exists()


def test_a_port_in_use_is_one_line_and_exit_1(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "slackbot.sandbox",
                "--port",
                str(port),
                "--data-dir",
                str(tmp_path),
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in done.stderr
    assert "Traceback" not in done.stderr
