"""Running the bot: HTTP on waitress (a production WSGI server) or Socket Mode; health; shutdown."""

from __future__ import annotations

import io
import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.signature import SignatureVerifier
from waitress.server import create_server

from slackbot.app import Bot, build_bot
from slackbot.request_shape import shape_problem
from slackbot.settings import Settings, SettingsError

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Slack sends small payloads; anything bigger than this is not Slack and is refused unread.
MAX_BODY_BYTES = 1_000_000

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_wsgi_app(bot: Bot) -> WSGIApp:
    """``POST /slack/events`` to Bolt, ``GET /healthz``, else 404.

    Before Bolt reads a request, the signature is verified and the payload's shape checked
    (``slackbot.request_shape``): Bolt would answer a malformed payload with a 500, and a
    malformed payload is the sender's fault, so it gets a 400. Unsigned requests get a 401
    without their body being parsed at all.
    """
    slack = SlackRequestHandler(bot.app, path=EVENTS_PATH)
    secret = bot.settings.slack_signing_secret
    # Socket Mode runs without a signing secret; then nothing may be accepted over HTTP (a
    # placeholder secret would be one anybody could sign with).
    verifier = SignatureVerifier(secret) if secret else None

    def to_bolt(
        environ: dict[str, Any], start_response: StartResponse, raw: bytes
    ) -> Iterable[bytes]:
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            return _json(start_response, "400 Bad Request", {"ok": False})
        headers = {
            "x-slack-request-timestamp": environ.get("HTTP_X_SLACK_REQUEST_TIMESTAMP", ""),
            "x-slack-signature": environ.get("HTTP_X_SLACK_SIGNATURE", ""),
        }
        if verifier is None or not verifier.is_valid_request(text, headers):
            return _json(start_response, "401 Unauthorized", {"ok": False})
        content_type = (environ.get("CONTENT_TYPE") or "").split(";")[0].strip() or None
        problem = shape_problem(text, content_type)
        if problem is not None:
            log.warning("refused a signed request Slack would not send: %s", problem)
            return _json(start_response, "400 Bad Request", {"ok": False})
        environ["wsgi.input"] = io.BytesIO(raw)
        environ["CONTENT_LENGTH"] = str(len(raw))

        def bolt_start_response(status: str, headers: list[Any], *rest: Any) -> Any:
            if status.startswith("5"):
                # Listeners answer every failure themselves (handlers.common.guarded); a 5xx
                # from Bolt means it could not read the request at all.
                log.error("Bolt could not handle a request (%s); answering 400", status)
                status = "400 Bad Request"
            return start_response(status, headers, *rest)

        try:
            return slack(environ, bolt_start_response)
        except Exception:
            log.exception("Bolt raised on a signed request; answering 400")
            return _json(start_response, "400 Bad Request", {"ok": False})

    def application(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == HEALTH_PATH and method in ("GET", "HEAD"):
            healthy = bot.db.ping()
            return _json(
                start_response,
                "200 OK" if healthy else "503 Service Unavailable",
                {"ok": healthy, "database": "ok" if healthy else "unreachable"},
            )
        if path == EVENTS_PATH:
            if method != "POST":
                return _json(start_response, "405 Method Not Allowed", {"ok": False})
            try:
                length = int(environ.get("CONTENT_LENGTH") or 0)
            except ValueError:
                length = -1
            if length < 0 or length > MAX_BODY_BYTES:
                return _json(start_response, "413 Payload Too Large", {"ok": False})
            raw = environ["wsgi.input"].read(length) if length else b""
            return to_bolt(environ, start_response, raw)
        return _json(start_response, "404 Not Found", {"ok": False})

    return application


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


# Slack's answers to auth.test that mean the token itself is wrong (not that Slack is down).
REFUSED_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)


def check_slack_token(settings: Settings) -> None:
    """Refuse to start with a token Slack refuses; start anyway when Slack cannot be reached.

    A bot that cannot reach Slack still records requests and owes its messages to the outbox,
    so a Slack outage during a restart must not keep it down.
    """
    client = WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url, timeout=5)
    try:
        client.auth_test()
    except SlackApiError as exc:
        code = str(exc.response.get("error") or "")
        if code in REFUSED_TOKEN_ERRORS:
            raise SettingsError(f"SLACK_BOT_TOKEN: Slack refused it ({code})") from None
        log.warning("Slack answered auth.test with %s; starting anyway", code or exc)
    except (SlackClientError, OSError) as exc:
        log.warning(
            "could not reach Slack at %s to check the token (%s); starting anyway",
            settings.slack_api_url,
            exc,
        )


def connect_socket_mode(handler: Any, stopping: threading.Event) -> None:
    """Connect to Slack over Socket Mode; an app token Slack refuses is a setting to fix.

    If Slack cannot be reached (or fails) at start, keep trying in the background with backoff:
    slack_sdk reconnects by itself only once a first connection has succeeded.
    """
    try:
        handler.connect()
        log.info("Socket Mode connected")
        return
    except SlackApiError as exc:
        code = str(exc.response.get("error") or "")
        if code in REFUSED_TOKEN_ERRORS | {"not_allowed_token_type"}:
            raise SettingsError(f"SLACK_APP_TOKEN: Slack refused it ({code})") from None
        first_error: Exception = exc
    except (SlackClientError, OSError) as exc:
        first_error = exc
    log.warning("Socket Mode could not connect (%s); retrying in the background", first_error)

    def keep_trying() -> None:
        delay = 1.0
        while not stopping.wait(delay):
            try:
                handler.connect()
                log.info("Socket Mode connected")
                return
            except (SlackApiError, SlackClientError, OSError) as exc:
                delay = min(60.0, delay * 2)
                log.warning("Socket Mode still cannot connect (%s); next try in %.0fs", exc, delay)

    threading.Thread(target=keep_trying, name="socket-mode-connect", daemon=True).start()


def run(settings: Settings, *, host: str = "127.0.0.1", port: int = 3000) -> None:
    """Serve until SIGTERM or Ctrl-C, then finish in-flight requests and the message in hand.

    Raises :class:`SettingsError` when Slack refuses the bot token.
    """
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    check_slack_token(settings)
    if not settings.billing_approver_ids and not settings.billing_approver_group_id:
        # Allowed by the contract (both are optional), but then no request can be decided.
        log.warning(
            "neither BILLING_APPROVER_IDS nor BILLING_APPROVER_GROUP_ID is set:"
            " requests will be recorded, but nobody can approve or reject them"
        )
    bot = build_bot(settings, verify_token=False)
    bot.delivery.start()
    stopping = threading.Event()
    server = create_server(make_wsgi_app(bot), host=host, port=port, threads=8, ident="slackbot")
    socket_mode = None
    if settings.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler

        socket_mode = SocketModeHandler(
            bot.app,
            settings.slack_app_token,
            web_client=WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url),
        )
        try:
            connect_socket_mode(socket_mode, stopping)
        except SettingsError:
            server.close()
            bot.close()
            raise
        log.info("Socket Mode started; health check on http://%s:%s%s", host, port, HEALTH_PATH)
    else:
        log.info("listening on http://%s:%s%s", host, port, EVENTS_PATH)

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
        if socket_mode is not None:
            socket_mode.close()  # type: ignore[no-untyped-call]
        server.close()
        closing = threading.Thread(target=bot.close, daemon=True)
        closing.start()
        closing.join(20)
        log.info("stopped")
