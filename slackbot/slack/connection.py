"""How Slack reaches the Bolt app: the WSGI adapter, Socket Mode, and the start-up token checks."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_bolt.adapter.socket_mode.internals import run_bolt_app, send_response
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.socket_mode.builtin import SocketModeClient
from slack_sdk.socket_mode.request import SocketModeRequest
from slack_sdk.socket_mode.response import SocketModeResponse

from slackbot.settings import Settings, SettingsError
from slackbot.slack.request_shape import describe, payload_problem

# The door's logger: start-up and per-request lines read as one, whichever door Slack used.
log = logging.getLogger("slackbot.server")

StartResponse = Callable[..., Any]
WSGIApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]
# (where, kind, user, status, outcome, started): the door's one log line per request.
RequestLog = Callable[[str, str, str, str, str, float], None]

# Slack's answers to auth.test that mean the token itself is wrong (not that Slack is down).
REFUSED_TOKEN_ERRORS = frozenset(
    {"invalid_auth", "not_authed", "token_revoked", "token_expired", "account_inactive"}
)


def bolt_wsgi(app: App, path: str) -> WSGIApp:
    """Bolt as a WSGI application answering Slack's requests on ``path``."""
    return SlackRequestHandler(app, path=path)


def refused_in_form(body: bytes) -> bool:
    """Whether Bolt's answer shows the person field errors (a submission that was refused)."""
    if b"response_action" not in body:
        return False
    try:
        answer = json.loads(body)
    except ValueError:
        return False
    return isinstance(answer, dict) and answer.get("response_action") == "errors"


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


class LoggedSocketModeHandler(SocketModeHandler):
    """Bolt's Socket Mode handler, with each payload's shape checked and one log line for each.

    Only Slack can send on this connection, but a payload Bolt cannot read would still fail in
    Bolt with a traceback and be sent again by Slack: it is acknowledged unread instead.
    """

    def __init__(
        self, app: App, app_token: str, *, web_client: WebClient, log_request: RequestLog
    ) -> None:
        super().__init__(app, app_token, web_client=web_client)
        self.log_request = log_request

    def handle(self, client: SocketModeClient, req: SocketModeRequest) -> None:  # type: ignore[override]
        started = time.monotonic()
        problem = payload_problem(req.payload)
        if problem is not None:
            log.warning("refused a Socket Mode payload Slack would not send: %s", problem)
            client.send_socket_mode_response(SocketModeResponse(envelope_id=req.envelope_id))
            self.log_request(
                f"socket {req.type}", "-", "-", "-", "refused: malformed payload", started
            )
            return
        kind, user = describe(req.payload)
        bolt_resp = run_bolt_app(self.app, req)
        send_response(client, req, bolt_resp, time.time())
        body = bolt_resp.body.encode("utf-8") if isinstance(bolt_resp.body, str) else b""
        if bolt_resp.status != 200:
            outcome = "refused" if bolt_resp.status < 500 else "failed"
        else:
            outcome = "refused" if refused_in_form(body) else "ok"
        self.log_request(f"socket {req.type}", kind, user, str(bolt_resp.status), outcome, started)


def socket_mode(app: App, settings: Settings, log_request: RequestLog) -> LoggedSocketModeHandler:
    """The Socket Mode connection for ``app`` (``SLACK_APP_TOKEN`` set), not yet connected."""
    return LoggedSocketModeHandler(
        app,
        settings.slack_app_token or "",
        web_client=WebClient(token=settings.slack_bot_token, base_url=settings.slack_api_url),
        log_request=log_request,
    )


def connect_socket_mode(handler: LoggedSocketModeHandler, stopping: threading.Event) -> None:
    """Connect to Slack over Socket Mode; an app token Slack refuses is a setting to fix.

    If Slack cannot be reached (or fails) at start, keep trying in the background with backoff:
    slack_sdk reconnects by itself only once a first connection has succeeded.
    """
    try:
        handler.connect()  # type: ignore[no-untyped-call]
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
                handler.connect()  # type: ignore[no-untyped-call]
                log.info("Socket Mode connected")
                return
            except (SlackApiError, SlackClientError, OSError) as exc:
                delay = min(60.0, delay * 2)
                log.warning("Socket Mode still cannot connect (%s); next try in %.0fs", exc, delay)

    threading.Thread(target=keep_trying, name="socket-mode-connect", daemon=True).start()
