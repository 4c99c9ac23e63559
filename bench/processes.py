"""The processes the benchmark measures: `slackbot serve` and the floor, each on its own port.

Each runs in a subprocess, so its memory and CPU time (read from /proc) are its own and not the
load generator's.
"""

from __future__ import annotations

import http.client
import os
import resource
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from tests.support.slack_stub import FakeSlack

ROOT = Path(__file__).resolve().parents[1]
SIGNING_SECRET = "bench-signing-secret-0123456789"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass
class Served:
    """A server process and where it listens."""

    name: str
    process: subprocess.Popen[bytes]
    base_url: str
    log: Path
    started_cpu: float = field(default=0.0)

    @property
    def pid(self) -> int:
        return self.process.pid

    def output(self, tail: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-tail:]
        except OSError:
            return ""

    def rss_mb(self) -> float | None:
        """Resident memory now, from /proc/<pid>/status (None where there is no /proc)."""
        return _status_kb(self.pid, "VmRSS")

    def peak_rss_mb(self) -> float | None:
        return _status_kb(self.pid, "VmHWM")

    def cpu_seconds(self) -> float | None:
        """User + system CPU time the process has used so far."""
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        return self.process.returncode


def _status_kb(pid: int, key: str) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def own_peak_rss_mb() -> float:
    """The load generator's own peak memory (to show it is not what was measured)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _base_environment() -> dict[str, str]:
    # Nothing of the caller's Slack or ledger configuration (or a .env) may leak into the run.
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "BILLING_")) and key not in ("DATABASE_URL",)
    }
    env["PYTHONUNBUFFERED"] = "1"
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")]))
    return env


def serve_command(port: int) -> list[str]:
    """The installed console script (the production entry point), else the CLI module."""
    script = Path(sys.executable).with_name("slackbot")
    if script.exists():
        return [str(script), "serve", "--host", "127.0.0.1", "--port", str(port)]
    return [sys.executable, "-m", "slackbot", "serve", "--host", "127.0.0.1", "--port", str(port)]


def start_bot(
    name: str,
    database_url: str,
    slack: FakeSlack,
    *,
    billing_channel: str,
    approvers: tuple[str, ...],
    pace_seconds: float | None,
    workdir: Path,
) -> Served:
    """`slackbot serve` as an operator runs it: the production server, threads and sender."""
    port = free_port()
    env = _base_environment()
    env.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN="xoxb-bench",
        SLACK_SIGNING_SECRET=SIGNING_SECRET,
        SLACK_API_URL=slack.api_url,
        BILLING_CHANNEL_ID=billing_channel,
        BILLING_APPROVER_IDS=",".join(approvers),
    )
    if pace_seconds is not None:
        env["BILLING_CHANNEL_PACE_SECONDS"] = str(pace_seconds)
    log = workdir / f"{name}.log"
    # The working directory holds no .env, so only the variables above configure the bot.
    with log.open("wb") as sink:
        process = subprocess.Popen(
            serve_command(port), env=env, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT
        )
    served = Served(name, process, f"http://127.0.0.1:{port}", log)
    _wait_ready(served, "/healthz", expect=200)
    served.started_cpu = served.cpu_seconds() or 0.0
    return served


def start_floor(
    name: str, slack: FakeSlack, *, workdir: Path, process_before_response: bool = False
) -> Served:
    port = free_port()
    env = _base_environment()
    env.update(SLACK_SIGNING_SECRET=SIGNING_SECRET, SLACK_API_URL=slack.api_url)
    command = [sys.executable, str(ROOT / "bench" / "floor.py"), "--port", str(port)]
    if process_before_response:
        command.append("--process-before-response")
    log = workdir / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, cwd=workdir, stdout=sink, stderr=subprocess.STDOUT
        )
    served = Served(name, process, f"http://127.0.0.1:{port}", log)
    # Bolt's WSGI adapter answers 404 for any other path: that it answers is enough.
    _wait_ready(served, "/ready", expect=404)
    served.started_cpu = served.cpu_seconds() or 0.0
    return served


def _wait_ready(served: Served, path: str, *, expect: int, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    host, port = served.base_url.rsplit("/", 1)[-1].split(":")
    while time.monotonic() < deadline:
        if served.process.poll() is not None:
            raise RuntimeError(f"{served.name} exited at start:\n{served.output()}")
        try:
            connection = http.client.HTTPConnection(host, int(port), timeout=2)
            connection.request("GET", path)
            status = connection.getresponse().status
            connection.close()
            if status == expect:
                return
        except OSError:
            pass
        time.sleep(0.1)
    served.stop()
    raise RuntimeError(f"{served.name} did not become ready in {timeout:.0f} s:\n{served.output()}")
