"""A real `slackbot serve` in Socket Mode, Slack's WebSocket side stood in on 127.0.0.1.

The process gets an app-level token and no signing secret, fetches its WebSocket URL from the
stand-in Web API (``apps.connections.open``), and is then driven only through envelopes on the
socket: what a person sees is the payload the app acknowledges with, and what the outbox owes
reaches the Web API stand-in. SIGTERM must stop it cleanly. The stand-ins are checked first, with
slack_sdk's own client and with a raw socket, so a pass here means what it says.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.client import BaseSocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse
from sqlalchemy import select

from models.tables import OutboxMessage
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.migrate import upgrade
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import (
    APPROVER,
    BILLING_CHANNEL,
    action_ids,
    assert_owed_delivered_once_in_order,
    text_of,
    wait_for,
)
from tests.support.factories import add_invoice, add_partner, add_payment, allocation_row
from tests.support.slack_stub import FakeSlack
from tests.support.socket_mode_stub import (
    OPCODE_CLOSE,
    OPCODE_TEXT,
    FakeSocketMode,
    accept_key,
    encode_frame,
)

ALICE = "U0ALICE"  # Acme
BOB = "U0BOB"  # Globex
STRANGER = "U0NOBODY"
APP_TOKEN = "xapp-1-A1-1234567890-socketmodetesttoken"
BOT_TOKEN = "xoxb-socket-mode-test"
START_SECONDS = 20.0
STOP_SECONDS = 8.0
# Slack gives up on an envelope that is not acknowledged within 3 seconds.
ACK_SECONDS = 3.0


@dataclass
class Serve:
    """One ``slackbot serve`` process in Socket Mode."""

    process: subprocess.Popen[bytes]
    base_url: str
    log: Path

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _environment(database_url: str, slack: FakeSlack) -> dict[str, str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SLACK_", "BILLING_")) and key != "DATABASE_URL"
    }
    # No SLACK_SIGNING_SECRET: Socket Mode does not need one.
    env.update(
        DATABASE_URL=database_url,
        SLACK_BOT_TOKEN=BOT_TOKEN,
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_API_URL=slack.api_url,
        BILLING_CHANNEL_ID=BILLING_CHANNEL,
        BILLING_APPROVER_IDS=APPROVER,
        BILLING_CHANNEL_PACE_SECONDS="0",
        PYTHONUNBUFFERED="1",
    )
    return env


def _healthy(serve: Serve) -> bool:
    if serve.process.poll() is not None:
        raise AssertionError(f"serve exited with {serve.process.returncode}:\n{serve.output()}")
    try:
        with urllib.request.urlopen(serve.base_url + "/healthz", timeout=2) as response:
            return response.status == 200 and json.loads(response.read())["ok"] is True
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


@pytest.fixture
def socket_mode(slack: FakeSlack) -> Iterator[FakeSocketMode]:
    with FakeSocketMode() as stub:
        slack.socket_url = stub.new_url
        slack.app_token = APP_TOKEN
        yield stub
        assert stub.protocol_errors == []
        assert stub.unexpected_messages == []


@pytest.fixture
def books(tmp_path: Path) -> Iterator[Database]:
    """A file SQLite ledger the test and the process share, with two partners' money in it."""
    url = f"sqlite:///{tmp_path / 'ledger.db'}"
    upgrade(url)
    db = Database(url)
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE])
    add_partner(db, "P-GLOBEX", "Globex", members=[BOB])
    add_payment(db, "PAY-A", "P-ACME", 100_000, "USD", reference="Acme wire")
    add_payment(db, "PAY-B", "P-GLOBEX", 70_000, "USD", reference="Globex wire")
    add_invoice(db, "INV-A1", "P-ACME", 40_000, "USD")
    yield db
    db.dispose()


@contextlib.contextmanager
def serving(
    books: Database, slack: FakeSlack, socket_mode: FakeSocketMode, tmp_path: Path
) -> Iterator[Serve]:
    """The process, once /healthz answers 200 and its WebSocket client has connected."""
    port = _free_port()
    log = tmp_path / "serve.log"
    script = Path(sys.executable).parent / "slackbot"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(script), "serve", "--port", str(port)],
            env=_environment(books.engine.url.render_as_string(hide_password=False), slack),
            cwd=tmp_path,  # no stray .env file is read
            stdout=sink,
            stderr=subprocess.STDOUT,
        )
    running = Serve(process, f"http://127.0.0.1:{port}", log)
    try:
        wait_for(lambda: _healthy(running), timeout=START_SECONDS, what="/healthz 200")
        socket_mode.wait_connected(timeout=START_SECONDS)
        yield running
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)


@pytest.fixture
def serve(
    books: Database, slack: FakeSlack, socket_mode: FakeSocketMode, tmp_path: Path
) -> Iterator[Serve]:
    with serving(books, slack, socket_mode, tmp_path) as running:
        yield running


def _slash(socket_mode: FakeSocketMode, slack: FakeSlack, user_id: str, text: str) -> str:
    """``/payments text`` typed by ``user_id``: Socket Mode carries the command's fields as JSON."""
    body = payloads.slash_command(
        user_id, text, response_url=slack.response_url(f"slash-{user_id}")
    )
    command = {key: values[0] for key, values in parse_qs(body, keep_blank_values=True).items()}
    return socket_mode.send_envelope("slash_commands", command)


def _nothing_owed(books: Database) -> bool:
    with books.transaction() as session:
        unsent = session.scalars(
            select(OutboxMessage.message_id).where(OutboxMessage.sent_at.is_(None))
        ).all()
    return not unsent


def _billing_message_naming(slack: FakeSlack, allocation_id: int) -> dict[str, Any] | None:
    return next(
        (m for m in slack.messages_in(BILLING_CHANNEL) if f"#{allocation_id}" in text_of(m)),
        None,
    )


# ------------------------------------------------------------------------- the stand-ins


def test_apps_connections_open_takes_only_the_app_level_token(
    slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    client = WebClient(base_url=slack.api_url)
    with pytest.raises(SlackApiError) as refused:
        client.apps_connections_open(app_token=BOT_TOKEN)
    assert refused.value.response["error"] == "not_allowed_token_type"

    first = client.apps_connections_open(app_token=APP_TOKEN)["url"]
    second = client.apps_connections_open(app_token=APP_TOKEN)["url"]

    assert first.startswith(f"ws://127.0.0.1:{socket_mode.port}/link/?ticket=")
    assert first != second  # each call hands out a fresh one-time URL, as Slack's do


def test_sdk_client_gets_hello_acks_a_large_envelope_and_reconnects_when_asked(
    slack: FakeSlack, socket_mode: FakeSocketMode
) -> None:
    client = SocketModeClient(
        app_token=APP_TOKEN, web_client=WebClient(token=BOT_TOKEN, base_url=slack.api_url)
    )
    seen: list[dict[str, Any]] = []

    def answer(client: BaseSocketModeClient, request: SocketModeRequest) -> None:
        size = len(request.payload["blob"])
        client.send_socket_mode_response(
            SocketModeResponse(envelope_id=request.envelope_id, payload={"size": size})
        )

    client.message_listeners.append(lambda _client, message, _raw: seen.append(message))
    client.socket_mode_request_listeners.append(answer)
    try:
        client.connect()
        first = socket_mode.wait_connected()
        wait_for(lambda: any(m.get("type") == "hello" for m in seen), what="hello")
        # Over 64 KiB: the frame carries a 64-bit length.
        big = socket_mode.send_envelope("events_api", {"blob": "x" * 100_000})
        assert socket_mode.wait_ack(big) == {"size": 100_000}
        session = client.current_session
        assert session is not None
        wait_for(lambda: session.last_ping_pong_time is not None, what="a pong to the ping")

        socket_mode.disconnect("refresh_requested")

        assert first.ended.wait(5), "the client kept the connection Slack asked it to leave"
        second = socket_mode.wait_connected()
        assert second.ticket != first.ticket
        again = socket_mode.send_envelope("events_api", {"blob": "yy"})
        assert socket_mode.wait_ack(again) == {"size": 2}
        assert len(slack.deliveries("apps.connections.open")) == 2
    finally:
        client.close()


def _read_server_frame(stream: Any) -> tuple[int, bytes]:
    first, second = stream.read(2)
    assert not second & 0x80, "a server frame must not be masked"
    size = second & 0x7F
    assert size != 127, "the frames read here are under 64 KiB"
    if size == 126:
        size = int.from_bytes(stream.read(2), "big")
    return first & 0x0F, stream.read(size)


def test_stub_answers_the_rfc_handshake_and_closes_1002_on_an_unmasked_client_frame(
    socket_mode: FakeSocketMode,
) -> None:
    # The worked example of RFC 6455 section 1.3.
    assert accept_key("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
    url = urlsplit(socket_mode.new_url())
    key = base64.b64encode(os.urandom(16)).decode("ascii")
    with socket.create_connection(("127.0.0.1", socket_mode.port), timeout=5) as sock:
        sock.sendall(
            (
                f"GET {url.path}?{url.query} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"
            ).encode("ascii")
        )
        stream = sock.makefile("rb")
        lines = []
        while (line := stream.readline().decode("ascii").strip()) != "":
            lines.append(line)
        assert lines[0] == "HTTP/1.1 101 Switching Protocols"
        assert f"Sec-WebSocket-Accept: {accept_key(key)}" in lines
        opcode, hello = _read_server_frame(stream)
        assert opcode == OPCODE_TEXT and json.loads(hello)["type"] == "hello"

        sock.sendall(encode_frame(OPCODE_TEXT, b"{}"))  # unmasked: only servers may do that

        opcode, reason = _read_server_frame(stream)
    assert (opcode, reason) == (OPCODE_CLOSE, (1002).to_bytes(2, "big"))
    assert socket_mode.protocol_errors == ["an unmasked frame from the client"]
    socket_mode.protocol_errors.clear()  # seen and expected; the fixture checks for others


# ----------------------------------------------------------------- the bot in Socket Mode


def test_socket_mode_list_is_the_ack_payload_with_only_the_partners_own_payments(
    serve: Serve, socket_mode: FakeSocketMode, slack: FakeSlack
) -> None:
    envelope_id = _slash(socket_mode, slack, ALICE, "list")

    reply = socket_mode.wait_ack(envelope_id, timeout=ACK_SECONDS)

    shown = text_of(reply)
    assert reply["response_type"] == "ephemeral", reply
    assert "PAY-A" in shown and "1,000.00 USD" in shown
    assert "PAY-B" not in shown and "Globex" not in shown
    assert "open_allocation:PAY-A" in action_ids(reply)
    assert socket_mode.ack_count(envelope_id) == 1


def test_socket_mode_unlinked_user_is_told_how_to_get_linked(
    serve: Serve, socket_mode: FakeSocketMode, slack: FakeSlack
) -> None:
    envelope_id = _slash(socket_mode, slack, STRANGER, "")

    reply = socket_mode.wait_ack(envelope_id, timeout=ACK_SECONDS)

    assert reply["response_type"] == "ephemeral", reply
    assert "not linked" in text_of(reply).lower()
    assert "PAY-" not in text_of(reply)


def test_socket_mode_approve_click_approves_and_the_outbox_tells_billing_and_requester(
    books: Database, slack: FakeSlack, socket_mode: FakeSocketMode, tmp_path: Path
) -> None:
    allocation_id = (
        Ledger(books).request_allocation(ALICE, "PAY-A", "INV-A1", "400.00").allocation_id
    )
    # The process starts with the request's billing post and receipt owed.
    with serving(books, slack, socket_mode, tmp_path):
        billing = wait_for(
            lambda: _billing_message_naming(slack, allocation_id),
            timeout=10,
            what="the billing post of the pending request",
        )
        assert action_ids(billing) == [
            f"approve_allocation:{allocation_id}",
            f"reject_allocation:{allocation_id}",
        ]
        click = payloads.decode_payload(
            payloads.block_actions(
                APPROVER,
                f"approve_allocation:{allocation_id}",
                None,
                message=billing,
                channel_id=BILLING_CHANNEL,
                response_url=slack.response_url("approve"),
            )
        )

        envelope_id = socket_mode.send_envelope(
            "interactive", click, accepts_response_payload=False
        )

        assert socket_mode.wait_ack(envelope_id, timeout=ACK_SECONDS) == {}
        wait_for(
            lambda: allocation_row(books, allocation_id).status == "approved",
            timeout=10,
            what="the allocation to be approved",
        )
        assert allocation_row(books, allocation_id).decided_by == APPROVER
        wait_for(
            lambda: "Approved by" in text_of(_billing_message_naming(slack, allocation_id)),
            timeout=10,
            what="the billing post to show the decision",
        )
        billing = _billing_message_naming(slack, allocation_id)
        assert f"Approved by <@{APPROVER}>" in text_of(billing)
        assert action_ids(billing) == []
        wait_for(lambda: _nothing_owed(books), timeout=10, what="the outbox to drain")
        dms = slack.messages_in(ALICE)
        # One DM per decision: the receipt is edited to say it, and loses its Cancel button.
        assert len(dms) == 1, dms
        assert "approved" in text_of(dms[0]).lower()
        assert action_ids(dms[0]) == []
        assert_owed_delivered_once_in_order(books, slack)
        assert slack.calls_to("response_url") == []  # nothing went wrong to tell the approver


def test_socket_mode_serve_uses_the_app_token_without_a_signing_secret_and_stops_on_sigterm(
    serve: Serve, socket_mode: FakeSocketMode, slack: FakeSlack
) -> None:
    opened = slack.deliveries("apps.connections.open")
    assert len(opened) == 1, "one WebSocket URL fetched, one connection made"
    headers = {name.lower(): value for name, value in opened[0].headers.items()}
    assert headers["authorization"] == f"Bearer {APP_TOKEN}"
    connection = socket_mode.wait_connected()
    assert connection.path.startswith("/link/?ticket=")

    started = time.monotonic()
    serve.process.send_signal(signal.SIGTERM)

    try:
        code = serve.process.wait(STOP_SECONDS)
    except subprocess.TimeoutExpired:
        pytest.fail(f"serve ignored SIGTERM for {STOP_SECONDS} s:\n{serve.output()}")
    assert code == 0, serve.output()
    assert time.monotonic() - started < STOP_SECONDS
    assert connection.ended.wait(2), "the WebSocket stayed open after the process stopped"
    assert "Traceback" not in serve.output(), serve.output()


def test_socket_mode_refuses_every_http_request_to_slack_events_and_changes_nothing(
    serve: Serve, books: Database
) -> None:
    allocation_id = (
        Ledger(books).request_allocation(ALICE, "PAY-A", "INV-A1", "400.00").allocation_id
    )
    click = payloads.block_actions(
        APPROVER, f"approve_allocation:{allocation_id}", str(allocation_id), channel_id="C0X"
    )

    # With no signing secret there is nothing to check a signature against, whatever it says.
    statuses = {
        payloads.post_signed(serve.base_url, click, secret=secret)[0]
        for secret in ("any-secret", "x")
    }

    assert statuses <= {401, 404}, statuses
    assert allocation_row(books, allocation_id).status == "pending"


def test_serve_with_an_app_token_slack_refuses_exits_2_with_one_line_naming_it(
    books: Database, slack: FakeSlack, socket_mode: FakeSocketMode, tmp_path: Path
) -> None:
    env = _environment(books.engine.url.render_as_string(hide_password=False), slack)
    env["SLACK_APP_TOKEN"] = "xapp-1-A1-1234567890-revoked"

    result = subprocess.run(
        [str(Path(sys.executable).parent / "slackbot"), "serve", "--port", str(_free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        timeout=START_SECONDS,
    )

    stderr = result.stderr.decode(errors="replace")
    assert result.returncode == 2, stderr[-3000:]
    assert "Traceback" not in stderr and "SlackApiError" not in stderr, stderr[-3000:]
    last = stderr.strip().splitlines()[-1]
    assert last.startswith("SLACK_APP_TOKEN:") and "invalid_auth" in last, last
    assert socket_mode.connections == []


# ------------------------------------------------------------------- what serve logs


def test_socket_mode_serve_logs_one_line_per_request_and_says_its_mode_at_start(
    serve: Serve, socket_mode: FakeSocketMode, slack: FakeSlack
) -> None:
    envelope = _slash(socket_mode, slack, ALICE, "help")
    socket_mode.wait_ack(envelope, timeout=ACK_SECONDS)

    wait_for(lambda: f"user={ALICE} -> " in serve.log.read_text(errors="replace"), what="a line")
    output = serve.log.read_text(errors="replace")
    (line,) = [row for row in output.splitlines() if f"user={ALICE} -> " in row]
    assert "socket slash_commands command /payments user=U0ALICE -> 200 ok in " in line, line
    (start,) = [row for row in output.splitlines() if "serving over" in row]
    assert "serving over Socket Mode" in start and "/healthz" in start, start
    assert "will be unused" not in output, output
    assert BOT_TOKEN not in output and APP_TOKEN not in output


def test_socket_mode_acknowledges_a_payload_bolt_cannot_read_in_one_line_and_keeps_serving(
    serve: Serve, socket_mode: FakeSocketMode, slack: FakeSlack, books: Database
) -> None:
    allocation_id = (
        Ledger(books).request_allocation(ALICE, "PAY-A", "INV-A1", "400.00").allocation_id
    )
    unreadable = {
        "type": "block_actions",
        "user": 5,
        "actions": [{"action_id": f"approve_allocation:{allocation_id}", "value": 7}],
    }

    bad = socket_mode.send_envelope("interactive", unreadable)

    # Acknowledged, so Slack does not send it again, and nothing decided.
    assert socket_mode.wait_ack(bad, timeout=ACK_SECONDS) == {}
    wait_for(
        lambda: "refused a Socket Mode payload" in serve.log.read_text(errors="replace"),
        what="the warning",
    )
    assert allocation_row(books, allocation_id).status == "pending"
    good = _slash(socket_mode, slack, ALICE, "help")
    socket_mode.wait_ack(good, timeout=ACK_SECONDS)
    output = serve.log.read_text(errors="replace")
    assert "Traceback" not in output and " ERROR " not in output, output
    refused = [row for row in output.splitlines() if "refused: malformed payload" in row]
    assert len(refused) == 1 and "socket interactive" in refused[0], output
