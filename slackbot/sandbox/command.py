"""``slackbot sandbox``: the real bot, example books, the stand-in Web API and the page, at once.

One process tree on the operator's machine, no Slack workspace and no network: ``slackbot
serve`` runs as a child in HTTP mode on its own SQLite file, with a generated token and signing
secret and SLACK_API_URL pointing at the stand-in; the page on http://HOST:PORT/ sends it the
signed requests Slack would. Ctrl-C (SIGINT) or SIGTERM stops the child and the servers.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from types import FrameType
from typing import Annotated, Any

import typer
from waitress.server import create_server

from slackbot.db import Database
from slackbot.migrate import upgrade
from slackbot.sandbox import example_data
from slackbot.sandbox.page import SandboxPage
from slackbot.sandbox.signed import BotDoor
from slackbot.sandbox.webapi import WebApiServer, Workspace

DEFAULT_PORT = 3210
BOT_START_SECONDS = 60.0
# Settings that would take the child out of plain HTTP mode, or point it elsewhere.
_CLEARED = (
    "SLACK_APP_TOKEN",
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "SLACK_SCOPES",
    "SLACK_REDIRECT_URI",
    "TOKEN_ENCRYPTION_KEY",
    "BILLING_TEAM_ID",
    "INVOICE_URL_TEMPLATE",
)


class SandboxError(Exception):
    """The sandbox cannot start: one line saying why."""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Sandbox:
    """The running sandbox: start() brings everything up, stop() takes it all down."""

    def __init__(self, *, port: int, host: str, data_dir: Path | None) -> None:
        self.port, self.host = port, host
        self._own_dir = data_dir is None
        self.data_dir = Path(data_dir or tempfile.mkdtemp(prefix="slackbot-sandbox-"))
        self.token = "xoxb-sandbox-" + secrets.token_hex(12)
        self.secret = secrets.token_hex(16)
        self.bot_port = _free_port()
        self.bot: subprocess.Popen[bytes] | None = None
        self.api: WebApiServer | None = None
        self.page_server: Any = None
        self._page_thread: threading.Thread | None = None
        self.loaded: list[str] = []

    @property
    def url(self) -> str:
        shown = "127.0.0.1" if self.host in ("127.0.0.1", "localhost") else self.host
        return f"http://{shown}:{self.port}/"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "bot.log"

    def start(self) -> Sandbox:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        db_path = self.data_dir / "sandbox.db"
        fresh = not db_path.exists()
        database_url = f"sqlite:///{db_path}"
        db = Database(database_url)
        try:
            upgrade(db.engine)
            if fresh:
                self.loaded = example_data.load(db)
        finally:
            db.engine.dispose()
        users = {p.user_id: {"name": p.name} for p in example_data.PEOPLE}
        workspace = Workspace(
            self.token, users, {example_data.APPROVER_GROUP: list(example_data.GROUP_MEMBERS)}
        )
        self.api = WebApiServer(workspace).start()
        try:
            self.page_server = create_server(
                SandboxPage(
                    workspace,
                    BotDoor(f"http://127.0.0.1:{self.bot_port}/slack/events", self.secret),
                    self.api.base_url,
                ),
                host=self.host,
                port=self.port,
                threads=8,
                ident="slackbot-sandbox",
            )
        except OSError as error:
            raise SandboxError(
                f"cannot listen on {self.host}:{self.port} ({error.strerror or error});"
                " choose another with --port"
            ) from None
        self.port = int(self.page_server.effective_port)
        self._start_bot(database_url)
        self._page_thread = threading.Thread(
            target=self._serve_page, name="sandbox-page", daemon=True
        )
        self._page_thread.start()

    def _start_bot(self, database_url: str) -> None:
        assert self.api is not None
        env = {k: v for k, v in os.environ.items() if k not in _CLEARED}
        env.update(
            DATABASE_URL=database_url,
            SLACK_BOT_TOKEN=self.token,
            SLACK_SIGNING_SECRET=self.secret,
            SLACK_API_URL=self.api.base_url + "/api/",
            BILLING_CHANNEL_ID=example_data.BILLING_CHANNEL,
            BILLING_APPROVER_IDS=",".join(example_data.APPROVER_IDS),
            BILLING_APPROVER_GROUP_ID=example_data.APPROVER_GROUP,
        )
        log = self.log_path.open("ab")
        # cwd: the data folder, so an operator's own .env never reaches the sandbox's bot.
        self.bot = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "slackbot",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.bot_port),
            ],
            cwd=self.data_dir,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        deadline = time.monotonic() + BOT_START_SECONDS
        while time.monotonic() < deadline:
            if self.bot.poll() is not None:
                tail = self.log_path.read_text(errors="replace").strip().splitlines()[-1:]
                raise SandboxError(
                    f"the bot stopped at start (exit {self.bot.returncode}): "
                    f"{tail[0] if tail else 'no output'}; see {self.log_path}"
                )
            try:
                url = f"http://127.0.0.1:{self.bot_port}/healthz"
                with urllib.request.urlopen(url, timeout=1) as answer:
                    if answer.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.2)
        raise SandboxError(
            f"the bot did not answer within {BOT_START_SECONDS:.0f} s; see {self.log_path}"
        )

    def _serve_page(self) -> None:
        # stop() closes the socket under it: that is how it stops.
        with contextlib.suppress(OSError):
            self.page_server.run()

    def stop(self) -> None:
        """Terminate the bot (then kill it if it lingers), close the servers, tidy up."""
        if self.bot is not None and self.bot.poll() is None:
            self.bot.terminate()
            try:
                self.bot.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.bot.kill()
                self.bot.wait(timeout=5)
        if self.page_server is not None:
            self.page_server.close()
            self.page_server = None
        if self.api is not None:
            self.api.shutdown()
            self.api.server_close()
            self.api = None
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)


def sandbox(
    port: Annotated[int, typer.Option(help="Port of the page.")] = DEFAULT_PORT,
    host: Annotated[
        str, typer.Option(help="Address of the page; only this machine unless you change it.")
    ] = "127.0.0.1",
    data_dir: Annotated[
        Path | None,
        typer.Option(
            help="Keep the sandbox's database and bot log here (default: a temporary"
            " folder, removed on exit)."
        ),
    ] = None,
) -> None:
    """Try the bot without Slack: a local page that plays Slack, talking to the real bot."""
    stopping = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    running = Sandbox(port=port, host=host, data_dir=data_dir)
    try:
        print("Starting the bot with example data…", flush=True)
        try:
            running.start()
        except SandboxError as error:
            print(f"slackbot sandbox: {error}", file=sys.stderr, flush=True)
            raise SystemExit(1) from None
        for line in running.loaded:
            print(f"  {line}")
        print(f"Sandbox ready: {running.url}  (Ctrl-C stops it)", flush=True)
        pid = running.bot.pid if running.bot is not None else "?"
        print(f"  bot: slackbot serve, pid {pid}, log {running.log_path}", flush=True)
        while not stopping.wait(0.5):
            if running.bot is not None and running.bot.poll() is not None:
                print(
                    f"slackbot sandbox: the bot stopped (exit {running.bot.returncode});"
                    f" see {running.log_path}",
                    file=sys.stderr,
                    flush=True,
                )
                raise SystemExit(1)
        print("Stopping…", flush=True)
    finally:
        running.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
