"""Running the bot: HTTP on waitress (a production WSGI server) or Socket Mode; health; shutdown."""

from __future__ import annotations

import json
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Any

from slack_bolt.adapter.wsgi import SlackRequestHandler
from waitress.server import create_server

from slackbot.app import Bot, build_bot
from slackbot.settings import Settings

log = logging.getLogger(__name__)

EVENTS_PATH = "/slack/events"
HEALTH_PATH = "/healthz"
# Slack sends small payloads; anything bigger than this is not Slack and is refused unread.
MAX_BODY_BYTES = 1_000_000

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


def make_wsgi_app(bot: Bot) -> WSGIApp:
    """``POST /slack/events`` to Bolt (which verifies the signature), ``GET /healthz``, else 404."""
    slack = SlackRequestHandler(bot.app, path=EVENTS_PATH)

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
            return slack(environ, start_response)
        return _json(start_response, "404 Not Found", {"ok": False})

    return application


def _json(start_response: StartResponse, status: str, body: dict[str, Any]) -> list[bytes]:
    payload = json.dumps(body).encode()
    start_response(
        status, [("Content-Type", "application/json"), ("Content-Length", str(len(payload)))]
    )
    return [payload]


def run(settings: Settings, *, host: str = "127.0.0.1", port: int = 3000) -> None:
    """Serve until SIGTERM or Ctrl-C, then finish in-flight requests and the message in hand."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    bot = build_bot(settings)
    bot.delivery.start()
    server = create_server(make_wsgi_app(bot), host=host, port=port, threads=8, ident="slackbot")
    socket_mode = None
    if settings.slack_app_token:
        from slack_bolt.adapter.socket_mode import SocketModeHandler
        from slack_sdk import WebClient

        socket_mode = SocketModeHandler(
            bot.app,
            settings.slack_app_token,
            web_client=WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url),
        )
        socket_mode.connect()  # type: ignore[no-untyped-call]
        log.info("Socket Mode connected; health check on http://%s:%s%s", host, port, HEALTH_PATH)
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
        signal.signal(signal.SIGTERM, previous)
        if socket_mode is not None:
            socket_mode.close()  # type: ignore[no-untyped-call]
        server.close()
        closing = threading.Thread(target=bot.close, daemon=True)
        closing.start()
        closing.join(20)
        log.info("stopped")
