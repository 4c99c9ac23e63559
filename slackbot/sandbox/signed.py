"""The requests Slack would send the bot, built and signed (v0 HMAC) the way Slack does.

Slash commands (a form), interactivity (``payload=`` JSON in a form: block_actions,
view_submission, block_suggestion) and Events API deliveries (JSON), POSTed to the bot's
``/slack/events`` with ``X-Slack-Signature`` over ``v0:{timestamp}:{body}``.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import secrets
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlencode

from slackbot.sandbox.webapi import APP_ID, BOT_USER_ID, TEAM_DOMAIN, TEAM_ID

JsonDict = dict[str, Any]


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack adds: the request timestamp and its v0 signature."""
    stamp = str(timestamp if timestamp is not None else int(time.time()))
    digest = hmac.new(secret.encode(), f"v0:{stamp}:{body}".encode(), hashlib.sha256).hexdigest()
    return {"X-Slack-Request-Timestamp": stamp, "X-Slack-Signature": f"v0={digest}"}


class BotDoor:
    """The bot's ``/slack/events``, and the signing secret Slack and it share."""

    def __init__(self, events_url: str, secret: str) -> None:
        self.events_url = events_url
        self.secret = secret

    def post(self, body: str, content_type: str, timeout: float = 10.0) -> tuple[int, Any]:
        """POST a signed body; returns the status and the answer (JSON when it is JSON)."""
        headers = {"Content-Type": content_type, **sign(body, self.secret)}
        request = urllib.request.Request(
            self.events_url, data=body.encode("utf-8"), headers=headers, method="POST"
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                status, text = response.status, response.read().decode("utf-8")
        except urllib.error.HTTPError as error:
            with error:
                status, text = error.code, error.read().decode("utf-8", "replace")
        except OSError as error:
            return 0, f"the bot did not answer: {error}"
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def form(self, fields: dict[str, str]) -> tuple[int, Any]:
        return self.post(urlencode(fields), "application/x-www-form-urlencoded")

    def interactive(self, payload: JsonDict) -> tuple[int, Any]:
        return self.form({"payload": json.dumps(payload)})

    def event(self, event: JsonDict) -> tuple[int, Any]:
        body = {
            "token": "sandbox-verification",
            "team_id": TEAM_ID,
            "api_app_id": APP_ID,
            "event": event,
            "type": "event_callback",
            "event_id": "Ev" + secrets.token_hex(5).upper(),
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "team_id": TEAM_ID,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return self.post(json.dumps(body), "application/json")


def _user(user_id: str) -> JsonDict:
    return {"id": user_id, "username": user_id.lower(), "name": user_id.lower(), "team_id": TEAM_ID}


def _base(kind: str, user_id: str, trigger_id: str | None) -> JsonDict:
    payload: JsonDict = {
        "type": kind,
        "team": {"id": TEAM_ID, "domain": TEAM_DOMAIN},
        "user": _user(user_id),
        "api_app_id": APP_ID,
        "token": "sandbox-verification",
        "is_enterprise_install": False,
    }
    if trigger_id:
        payload["trigger_id"] = trigger_id
    return payload


def slash_command(
    user_id: str, text: str, *, channel: str, response_url: str, trigger_id: str
) -> dict[str, str]:
    """The form Slack POSTs when ``user_id`` types ``/payments text`` in ``channel``."""
    return {
        "token": "sandbox-verification",
        "team_id": TEAM_ID,
        "team_domain": TEAM_DOMAIN,
        "channel_id": channel,
        "channel_name": "directmessage" if channel.startswith("D") else channel.lower(),
        "user_id": user_id,
        "user_name": user_id.lower(),
        "command": "/payments",
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "false",
        "response_url": response_url,
        "trigger_id": trigger_id,
    }


def echoed_view(view: JsonDict) -> JsonDict:
    """A view as Slack echoes it in a payload: without the sandbox's own ``_`` keys."""
    return {k: copy.deepcopy(v) for k, v in view.items() if not k.startswith("_")}


def message_action(
    user_id: str,
    action: JsonDict,
    *,
    channel: str,
    message: JsonDict | None,
    ephemeral_ts: str | None,
    response_url: str,
    trigger_id: str,
) -> JsonDict:
    """block_actions for a click in a message (``message`` None: an ephemeral reply)."""
    payload = _base("block_actions", user_id, trigger_id)
    ts = message["ts"] if message else ephemeral_ts or f"{int(time.time())}.000001"
    payload["container"] = {
        "type": "message",
        "message_ts": ts,
        "channel_id": channel,
        "is_ephemeral": message is None,
    }
    payload["channel"] = {"id": channel, "name": channel.lower()}
    if message is not None:
        payload["message"] = {k: v for k, v in message.items() if not k.startswith("_")}
    payload["state"] = {"values": {}}
    payload["response_url"] = response_url
    payload["actions"] = [action]
    return payload


def view_action(user_id: str, action: JsonDict, *, view: JsonDict, trigger_id: str) -> JsonDict:
    """block_actions for a click or a dispatched input in a modal or Home tab."""
    payload = _base("block_actions", user_id, trigger_id)
    payload["container"] = {"type": "view", "view_id": view.get("id")}
    payload["view"] = echoed_view(view)
    payload["actions"] = [action]
    return payload


def view_submission(user_id: str, view: JsonDict, *, trigger_id: str) -> JsonDict:
    payload = _base("view_submission", user_id, trigger_id)
    payload["view"] = echoed_view(view)
    payload["response_urls"] = []
    return payload


def block_suggestion(
    user_id: str, *, view: JsonDict, block_id: str, action_id: str, typed: str
) -> JsonDict:
    payload = _base("block_suggestion", user_id, None)
    payload["container"] = {"type": "view", "view_id": view.get("id")}
    payload["view"] = echoed_view(view)
    payload.update(block_id=block_id, action_id=action_id, value=typed)
    return payload


def app_home_opened(user_id: str) -> JsonDict:
    return {
        "type": "app_home_opened",
        "user": user_id,
        "channel": "D" + user_id[1:],
        "tab": "home",
        "event_ts": f"{time.time():.6f}",
    }
