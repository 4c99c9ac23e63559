"""Running the bot: HTTP on waitress (a production WSGI server) or Socket Mode; health; shutdown."""

from __future__ import annotations

import errno
import hashlib
import hmac
import io
import json
import logging
import re
import signal
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from types import FrameType
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from waitress.server import create_server

from slackbot.app import Bot, build_bot
from slackbot.settings import Settings, SettingsError
from slackbot.slack.connection import (
    StartResponse,
    WSGIApp,
    bolt_wsgi,
    check_slack_token,
    connect_socket_mode,
    refused_in_form,
    socket_mode,
)
from slackbot.slack.installations import answer_install_route
from slackbot.slack.request_shape import describe, read_payload

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Slack sends small payloads; anything bigger than this is not Slack and is refused unread.
MAX_BODY_BYTES = 1_000_000


# A request whose signature headers are well formed but whose signature is wrong is most often
# our own misconfiguration (the secret of another app); said once a minute, not per request.
SIGNATURE_WARNING_SECONDS = 60.0
# Slack refuses a request older than five minutes; so do we (replays).
SIGNATURE_MAX_AGE_SECONDS = 300
_TIMESTAMP = re.compile(r"[0-9]{1,12}", re.ASCII)
_SIGNATURE = re.compile(r"v0=[0-9a-f]{64}", re.ASCII)
_SHOWN_PATH = re.compile(r"[!-~]{1,80}", re.ASCII)


class RateLimitedWarning:
    """One WARNING per ``interval`` for each kind of problem, with a count of those held back."""

    def __init__(self, interval: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self.clock = clock
        self._lock = threading.Lock()
        self._last: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def warn(self, key: str, message: str) -> None:
        now = self.clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self.interval:
                self._held[key] = self._held.get(key, 0) + 1
                return
            held = self._held.pop(key, 0)
            self._last[key] = now
        if held:
            message += f" ({held} more like it since the last warning)"
        log.warning("%s", message)


@dataclass
class RequestSeen:
    """What the per-request log line says about one request."""

    kind: str = "-"
    user: str = "-"
    outcome: str | None = None


def make_wsgi_app(bot: Bot, *, clock: Callable[[], float] = time.monotonic) -> WSGIApp:
    """``POST /slack/events`` to Bolt, ``GET /healthz``, else 404; one INFO line per request.

    Before Bolt reads a request, the signature is verified and the payload's shape checked
    (``slackbot.request_shape``): Bolt would answer a malformed payload with a 500, and a
    malformed payload is the sender's fault, so it gets a 400. Unsigned requests, and requests
    whose signature headers are missing or malformed (scanners), get a 401 without their body
    being parsed at all, and nothing but the request's own log line.
    """
    slack = bolt_wsgi(bot.app, EVENTS_PATH)
    secret = bot.settings.slack_signing_secret
    # Socket Mode runs without a signing secret; then nothing may be accepted over HTTP (a
    # placeholder secret would be one anybody could sign with).
    key = secret.encode("utf-8") if secret else None
    warnings = RateLimitedWarning(SIGNATURE_WARNING_SECONDS, clock)

    def signature_refusal(environ: dict[str, Any], raw: bytes) -> str | None:
        """Why the request is not Slack's (for the log), or None when it is signed by Slack."""
        if key is None:
            return "no signing secret: Socket Mode takes nothing over HTTP"
        timestamp = environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP") or ""
        signature = environ.get("HTTP_X_SLACK_SIGNATURE") or ""
        if not timestamp and not signature:
            return "unsigned"
        if not _TIMESTAMP.fullmatch(timestamp) or not _SIGNATURE.fullmatch(signature):
            return "malformed signature headers"
        age = time.time() - int(timestamp)
        if abs(age) > SIGNATURE_MAX_AGE_SECONDS:
            when = f"{age:.0f} s ago" if age > 0 else f"{-age:.0f} s in the future"
            warnings.warn(
                "stale",
                f"refused a request signed {when} (Slack's limit is"
                f" {SIGNATURE_MAX_AGE_SECONDS} s): a replay, or this machine's clock is off",
            )
            return "stale timestamp"
        # The signature covers the raw bytes (slack_sdk's SignatureVerifier would first decode
        # them, and fail on a body that is not UTF-8).
        signed = b"v0:" + timestamp.encode("ascii") + b":" + raw
        expected = "v0=" + hmac.new(key, signed, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, signature):
            warnings.warn(
                "signature",
                "refused a request with a wrong signature: if Slack sent it, check"
                " SLACK_SIGNING_SECRET (the app's Basic Information page)",
            )
            return "bad signature"
        return None

    def to_bolt(
        environ: dict[str, Any], start_response: StartResponse, raw: bytes, seen: RequestSeen
    ) -> Iterable[bytes]:
        refusal = signature_refusal(environ, raw)
        if refusal is not None:
            seen.outcome = f"refused: {refusal}"
            return _json(start_response, "401 Unauthorized", {"ok": False})
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            seen.outcome = "refused: body is not UTF-8"
            return _json(start_response, "400 Bad Request", {"ok": False})
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip() or None
        payload, problem = read_payload(text, content_type)
        if problem is not None:
            log.warning("refused a signed request Slack would not send: %s", problem)
            seen.outcome = "refused: malformed payload"
            return _json(start_response, "400 Bad Request", {"ok": False})
        seen.kind, seen.user = describe(payload)
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))

        def bolt_start_response(status: str, headers: list[Any], *rest: Any) -> Any:
            if status.startswith("5"):
                # Listeners answer every failure themselves (slackbot.slack.refusals.guarded); a 5xx
                # from Bolt means it could not read the request at all.
                log.error("Bolt could not handle a request (%s); answering 400", status)
                status = "400 Bad Request"
                seen.outcome = "failed"
            elif status.startswith("404"):
                seen.outcome = "unhandled"  # nothing here listens for it
            return start_response(status, headers, *rest)

        try:
            body = b"".join(slack(environ, bolt_start_response))
        except Exception:
            log.exception("Bolt raised on a signed request; answering 400")
            seen.outcome = "failed"
            return _json(start_response, "400 Bad Request", {"ok": False})
        if seen.outcome is None and refused_in_form(body):
            seen.outcome = "refused"
        return [body]

    def route(
        environ: dict[str, Any], start_response: StartResponse, seen: RequestSeen
    ) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            healthy = bot.db.ping()
            seen.kind = "health"
            seen.outcome = "ok" if healthy else "database unreachable"
            return _json(
                start_response,
                "200 OK" if healthy else "503 Service Unavailable",
                {"ok": healthy, "database": "ok" if healthy else "unreachable"},
            )
        flow = bot.app.oauth_flow
        if flow is not None and path in (flow.install_path, flow.redirect_uri_path):
            seen.kind = "install" if path == flow.install_path else "oauth_redirect"
            if method not in ("GET", "HEAD"):
                seen.outcome = "refused: only GET"
                return _json(
                    start_response, "405 Method Not Allowed", {"ok": False}, [("Allow", "GET")]
                )
            status, headers, body, outcome = answer_install_route(flow, path, environ)
            seen.outcome = outcome
            start_response(status, headers)
            return [] if method == "HEAD" else [body]
        if path == EVENTS_PATH:
            if method != "POST":
                seen.outcome = "refused: only POST"
                return _json(
                    start_response, "405 Method Not Allowed", {"ok": False}, [("Allow", "POST")]
                )
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY_BYTES:
                seen.outcome = "refused: body too large"
                return _json(start_response, "413 Payload Too Large", {"ok": False})
            raw = environ["wsgi.input"].read(length) if length else b""
            return to_bolt(environ, start_response, raw, seen)
        seen.outcome = "refused: no such path"
        return _json(start_response, "404 Not Found", {"ok": False})

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        started = time.monotonic()
        seen = RequestSeen()
        statuses: list[str] = []

        def recording_start_response(status: str, headers: list[Any], *rest: Any) -> Any:
            statuses.append(status)
            return start_response(status, headers, *rest)

        body = route(environ, recording_start_response, seen)
        status = statuses[-1].split(" ", 1)[0] if statuses else "-"
        log_request(
            f"{_shown_method(environ)} {_shown_path(environ)}",
            seen.kind,
            seen.user,
            status,
            seen.outcome or ("ok" if status.startswith("2") else "refused"),
            started,
            # Load balancers ask for /healthz every few seconds; only a failing answer is news.
            quiet=seen.kind == "health" and status == "200",
        )
        return body

    return application


def _shown_method(environ: dict[str, Any]) -> str:
    method = str(environ.get("REQUEST_METHOD") or "-")
    return method if method.isascii() and method.isalpha() and len(method) <= 10 else "?"


def _shown_path(environ: dict[str, Any]) -> str:
    # A scanner's path can hold anything, newlines included: it must not forge log lines.
    path = str(environ.get("PATH_INFO") or "/")
    return path if _SHOWN_PATH.fullmatch(path) else ascii(path[:80])


def _json(
    start_response: StartResponse,
    status: str,
    body: dict[str, Any],
    extra_headers: list[tuple[str, str]] | None = None,
) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status,
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            *(extra_headers or []),
        ],
    )
    return [payload]


def listen_problem(host: str, port: int, exc: BaseException) -> str:
    """One line naming the option to change when the server cannot listen."""
    code = getattr(exc, "errno", None)
    if isinstance(exc, OverflowError) or not 1 <= port <= 65535:
        return f"--port {port}: must be a port number from 1 to 65535"
    if code == errno.EADDRINUSE:
        return (
            f"--port {port}: {host}:{port} is already in use (another slackbot serve?);"
            " stop it or choose another --port"
        )
    if code == errno.EACCES:
        return f"--port {port}: not allowed to listen on {host}:{port} (below 1024 needs root)"
    reason = getattr(exc, "strerror", None) or str(exc).rstrip(".") or type(exc).__name__
    return f"--host {host}: cannot listen on {host}:{port} ({reason})"


def start_line(settings: Settings, host: str, port: int) -> str:
    """What ``serve`` says it uses when it starts: mode, address, database, billing channel."""
    if settings.slack_app_token:
        mode = f"Socket Mode (over HTTP only http://{host}:{port}{HEALTH_PATH})"
    else:
        mode = f"HTTP: Slack requests on http://{host}:{port}{EVENTS_PATH}"
    if settings.oauth_mode:
        mode += (
            f"; installations in many workspaces (OAuth): install at"
            f" http://{host}:{port}/slack/install, billing workspace {settings.billing_team_id}"
        )
    approvers = [f"{len(settings.billing_approver_ids)} approver IDs"]
    if settings.billing_approver_group_id:
        approvers.append(f"group {settings.billing_approver_group_id}")
    return (
        f"serving over {mode}; database {shown_database_url(settings.database_url)};"
        f" billing channel {settings.billing_channel_id}; {' and '.join(approvers)};"
        f" Slack API {settings.slack_api_url}"
    )


def say_installations(bot: Bot, settings: Settings) -> None:
    """The OAuth mode's start: which workspaces have installed the app, and whether the
    billing workspace has (until it does, the billing channel's messages wait in the outbox)."""
    assert bot.installations is not None
    try:
        teams = bot.installations.installed_teams()
    except Exception as exc:  # the database is checked by its own health route
        log.warning("could not read the installations (%s)", type(exc).__name__)
        return
    log.info("installed in %d workspaces or orgs", len(teams))
    if settings.billing_team_id not in teams:
        log.warning(
            "the billing workspace BILLING_TEAM_ID=%s has not installed the app: open"
            " /slack/install from it; billing messages wait in the outbox until then",
            settings.billing_team_id,
        )


def shown_database_url(url: str) -> str:
    """The database URL with its password hidden."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "(DATABASE_URL, unreadable)"


def log_request(
    where: str,
    kind: str,
    user: str,
    status: str,
    outcome: str,
    started: float,
    *,
    quiet: bool = False,
) -> None:
    """The per-request line: where it came, what it was, who, the answer, how long it took."""
    log.log(
        logging.DEBUG if quiet else logging.INFO,
        "%s %s user=%s -> %s %s in %.0f ms",
        where,
        kind,
        user,
        status,
        outcome,
        (time.monotonic() - started) * 1000,
    )


def run(settings: Settings, *, host: str = "127.0.0.1", port: int = 3000) -> None:
    """Serve until SIGTERM or Ctrl-C, then finish in-flight requests and the message in hand.

    Raises :class:`SettingsError` (one line naming the option or variable) when it cannot listen
    on ``host:port`` or when Slack refuses the bot or app token.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if not 1 <= port <= 65535:
        # waitress would quietly listen on the port modulo 65536.
        raise SettingsError(listen_problem(host, port, OverflowError()))
    bot = build_bot(settings, verify_token=False)
    try:
        server = create_server(
            make_wsgi_app(bot), host=host, port=port, threads=8, ident="slackbot"
        )
    except (OSError, OverflowError, ValueError) as exc:
        # ValueError: waitress's word for a host it cannot resolve or a port out of range.
        bot.close()
        raise SettingsError(listen_problem(host, port, exc)) from None
    try:
        if bot.installations is None:
            check_slack_token(settings)
        else:
            say_installations(bot, settings)
    except SettingsError:
        server.close()
        bot.close()
        raise
    if not settings.billing_approver_ids and not settings.billing_approver_group_id:
        # Allowed by the contract (both are optional), but then no request can be decided.
        log.warning(
            "neither BILLING_APPROVER_IDS nor BILLING_APPROVER_GROUP_ID is set:"
            " requests will be recorded, but nobody can approve or reject them"
        )
    log.info("%s", start_line(settings, host, port))
    bot.start()
    stopping = threading.Event()
    connection = None
    if settings.slack_app_token:
        connection = socket_mode(bot.app, settings, log_request)
        try:
            connect_socket_mode(connection, stopping)
        except SettingsError:
            server.close()
            bot.close()
            raise

    def stop(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: shutting down", signum)
        # waitress leaves its loop on KeyboardInterrupt and drains its worker threads.
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        stopping.set()
        signal.signal(signal.SIGTERM, previous)
        if connection is not None:
            connection.close()  # type: ignore[no-untyped-call]
        server.close()
        closing = threading.Thread(target=bot.close, daemon=True)
        closing.start()
        closing.join(20)
        log.info("stopped")
