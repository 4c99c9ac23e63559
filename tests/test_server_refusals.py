"""What the internet sends to /slack/events: refused with a 4xx and one log line, never a 5xx.

Every request goes over a raw socket to the real app on the real waitress server, so header
bytes no HTTP client would send (non-ASCII, a 5,000-digit timestamp) reach it exactly as a
scanner sends them. Each must answer a short JSON refusal, log nothing at ERROR or with a
traceback, and log exactly one line for the request itself.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from waitress.server import create_server

from slackbot import server as slack_server
from slackbot.server import make_wsgi_app
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import SECRET, BotHarness

ALICE = "U0ALICE"


def raw_request(base_url: str, request: bytes, timeout: float = 10) -> tuple[int, bytes]:
    """Send ``request`` as is; return the status and the response body."""
    host, port = base_url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=timeout) as connection:
        connection.sendall(request)
        connection.shutdown(socket.SHUT_WR)
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    head, _, body = received.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    return status, body


def http(
    method: str,
    path: str = "/slack/events",
    headers: dict[str, bytes | str] | None = None,
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1".encode("latin-1"), b"Host: 127.0.0.1"]
    for name, value in (headers or {}).items():
        lines.append(
            name.encode() + b": " + (value if isinstance(value, bytes) else value.encode())
        )
    if body or method in ("POST", "PUT"):
        lines.append(f"Content-Length: {len(body)}".encode())
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def signature(body: bytes, timestamp: str, secret: str = SECRET) -> str:
    signed = b"v0:" + timestamp.encode() + b":" + body
    return "v0=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()


NOW = str(int(time.time()))
FORM = b"command=%2Fpayments&user_id=U0ALICE&text=list"
VALID_LOOKING = signature(FORM, NOW, secret="not-the-secret")

# (name, request, the status it must get)
JUNK = [
    ("no headers at all", http("POST", body=FORM), 401),
    ("empty body, no headers", http("POST"), 401),
    (
        "timestamp abc",
        http("POST", headers={"X-Slack-Request-Timestamp": "abc", "X-Slack-Signature": "v0=1"}),
        401,
    ),
    ("signature alone", http("POST", headers={"X-Slack-Signature": VALID_LOOKING}, body=FORM), 401),
    ("timestamp alone", http("POST", headers={"X-Slack-Request-Timestamp": NOW}, body=FORM), 401),
    (
        "empty body with a signature",
        http("POST", headers={"X-Slack-Request-Timestamp": NOW, "X-Slack-Signature": "v0=abc"}),
        401,
    ),
    (
        "5,000-digit timestamp",
        http(
            "POST",
            headers={"X-Slack-Request-Timestamp": "9" * 5000, "X-Slack-Signature": VALID_LOOKING},
            body=FORM,
        ),
        401,
    ),
    (
        "12-digit timestamp far in the future",
        http(
            "POST",
            headers={
                "X-Slack-Request-Timestamp": "999999999999",
                "X-Slack-Signature": signature(FORM, "999999999999"),
            },
            body=FORM,
        ),
        401,
    ),
    (
        "negative timestamp",
        http(
            "POST",
            headers={"X-Slack-Request-Timestamp": "-1", "X-Slack-Signature": VALID_LOOKING},
            body=FORM,
        ),
        401,
    ),
    (
        "float timestamp",
        http(
            "POST",
            headers={"X-Slack-Request-Timestamp": "1.7e9", "X-Slack-Signature": VALID_LOOKING},
            body=FORM,
        ),
        401,
    ),
    (
        # int() accepts these digits; our check must not.
        "Arabic-Indic digits in the timestamp",
        http(
            "POST",
            headers={
                "X-Slack-Request-Timestamp": "١٧٠٠٠٠٠٠٠٠".encode(),
                "X-Slack-Signature": VALID_LOOKING,
            },
            body=FORM,
        ),
        401,
    ),
    (
        # hmac.compare_digest raises TypeError on non-ASCII text.
        "non-ASCII signature",
        http(
            "POST",
            headers={
                "X-Slack-Request-Timestamp": NOW,
                "X-Slack-Signature": ("v0=" + "é" * 64).encode(),
            },
            body=FORM,
        ),
        401,
    ),
    (
        "non-UTF-8 body with a signature",
        http(
            "POST",
            headers={"X-Slack-Request-Timestamp": NOW, "X-Slack-Signature": VALID_LOOKING},
            body=b"\xff\xfe\x00payload",
        ),
        401,
    ),
    (
        "JSON body, wrong content type, unsigned",
        http("POST", headers={"Content-Type": "text/plain"}, body=b'{"type": "event_callback"}'),
        401,
    ),
    (
        "multipart body, unsigned",
        http(
            "POST",
            headers={"Content-Type": "multipart/form-data; boundary=x"},
            body=b"--x\r\nContent-Disposition: form-data; name=a\r\n\r\n1\r\n--x--\r\n",
        ),
        401,
    ),
    ("GET /slack/events", http("GET"), 405),
    ("HEAD /slack/events", http("HEAD"), 405),
    ("PUT /slack/events", http("PUT", body=FORM), 405),
    ("DELETE /slack/events", http("DELETE"), 405),
    ("OPTIONS /slack/events", http("OPTIONS"), 405),
    ("GET /", http("GET", "/"), 404),
    ("GET /wp-login.php", http("GET", "/wp-login.php"), 404),
    ("POST /slack/events/", http("POST", "/slack/events/", body=FORM), 404),
    ("path with an encoded newline", http("GET", "/x%0aINFO%20forged%20line"), 404),
    ("POST /healthz", http("POST", "/healthz", body=FORM), 404),
]


def _problems(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{r.name} {r.levelname} {r.getMessage()}"
        for r in caplog.records
        if r.levelno >= logging.ERROR or r.exc_info is not None
    ]


def _request_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == "slackbot.server" and " -> " in r.getMessage()
    ]


@pytest.mark.parametrize(
    ("request_bytes", "expected"), [(r, s) for _n, r, s in JUNK], ids=[n for n, _r, _s in JUNK]
)
def test_junk_requests_are_refused_without_a_traceback_and_logged_in_one_line(
    harness: BotHarness, caplog: pytest.LogCaptureFixture, request_bytes: bytes, expected: int
) -> None:
    caplog.set_level(logging.INFO)

    status, body = raw_request(harness.base_url, request_bytes)

    assert status == expected, body[:300]
    assert b"Traceback" not in body and b"Error" not in body, body[:300]
    if not request_bytes.startswith(b"HEAD"):
        assert json.loads(body) == {"ok": False}
    assert _problems(caplog) == []
    lines = _request_lines(caplog)
    assert len(lines) == 1, lines
    assert "\n" not in lines[0] and f"-> {expected} refused" in lines[0], lines[0]
    # Scanners are not news: only a wrong signature or a stale one is worth a warning.
    # (waitress may warn "Task queue depth is 1" on a busy machine: that is not about them.)
    warnings = [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("slackbot")
    ]
    assert all("SLACK_SIGNING_SECRET" in w or "clock" in w for w in warnings), warnings


def test_a_forged_newline_in_the_path_stays_on_one_log_line(
    harness: BotHarness, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    raw_request(harness.base_url, http("GET", "/x%0aINFO%20forged%20line"))
    (line,) = _request_lines(caplog)
    assert "\n" not in line and "\\n" in line, line


# ------------------------------------------------------- a wrong secret: one warning a minute


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clocked(harness: BotHarness) -> Iterator[tuple[str, Clock]]:
    """The harness's bot behind a second server whose warning clock the test moves."""
    clock = Clock()
    server: Any = create_server(
        make_wsgi_app(harness.bot, clock=clock), host="127.0.0.1", port=0, threads=2
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.effective_port}", clock
    finally:
        server.close()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name.startswith("slackbot")
    ]


def test_a_wrong_signing_secret_warns_once_a_minute_naming_the_setting(
    clocked: tuple[str, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    base_url, clock = clocked
    caplog.set_level(logging.INFO)
    body = payloads.slash_command(ALICE, "list", response_url="http://127.0.0.1:9/never")

    statuses = [
        payloads.post_signed(base_url, body, secret="other-apps-secret")[0] for _ in range(5)
    ]

    assert statuses == [401] * 5
    warned = _warnings(caplog)
    assert len(warned) == 1, warned
    assert "SLACK_SIGNING_SECRET" in warned[0] and "\n" not in warned[0]
    assert _problems(caplog) == []
    assert len([line for line in _request_lines(caplog) if "bad signature" in line]) == 5

    clock.now += slack_server.SIGNATURE_WARNING_SECONDS + 1
    payloads.post_signed(base_url, body, secret="other-apps-secret")

    warned = _warnings(caplog)
    assert len(warned) == 2, warned
    assert "SLACK_SIGNING_SECRET" in warned[1] and "4 more like it" in warned[1], warned[1]


def test_a_stale_signature_warns_about_the_clock_once_a_minute(
    clocked: tuple[str, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    base_url, _clock = clocked
    caplog.set_level(logging.INFO)
    body = payloads.slash_command(ALICE, "list", response_url="http://127.0.0.1:9/never")
    stale = int(time.time()) - 600

    statuses = [
        payloads.post_signed(base_url, body, secret=SECRET, timestamp=stale)[0] for _ in range(3)
    ]

    assert statuses == [401] * 3
    warned = _warnings(caplog)
    assert len(warned) == 1 and "clock" in warned[0], warned
    assert re.search(r"signed 60\d s ago", warned[0]), warned
    assert _problems(caplog) == []


def test_a_burst_of_scanner_traffic_warns_at_most_once_per_kind(
    clocked: tuple[str, Clock], caplog: pytest.LogCaptureFixture
) -> None:
    base_url, _clock = clocked
    caplog.set_level(logging.INFO)
    for _name, request, _status in JUNK:
        raw_request(base_url, request)
    warned = [w for w in _warnings(caplog) if "SLACK_SIGNING_SECRET" in w or "clock" in w]
    # Only the requests whose headers are well formed could be ours with a wrong secret.
    assert len(warned) <= 2, warned
    assert _problems(caplog) == []
