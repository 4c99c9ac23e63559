"""The sandbox's stand-in for Slack's Web API: a strict local server that keeps what people see.

It answers the methods the bot calls (chat.postMessage/update/postEphemeral/delete, pins.add,
views.open/push/update/publish, conversations.open, users.info, usergroups.users.list,
auth.test) and response_url posts, in Slack's shapes, accepting only the sandbox's bot token.
It keeps each channel's messages, each person's ephemeral replies, modal stack and Home, and
records every call with the Block Kit problems found in it (slackbot.sandbox.limits). Adapted
from tests/support/slack_stub.py without its fault injection: the sandbox shows the product.
"""

from __future__ import annotations

import contextlib
import copy
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from slackbot.sandbox import limits

JsonDict = dict[str, Any]
BOT_USER_ID = "UBOTSANDBOX"
BOT_ID = "BSANDBOX"
TEAM_ID = "TSANDBOX"
TEAM_DOMAIN = "sandbox"
APP_ID = "ASANDBOX"
# Slack's trigger_id expires after 3 seconds and can open one view.
TRIGGER_SECONDS = 3.0
_JSON_FIELDS = ("blocks", "attachments", "view", "metadata")


@dataclass
class Call:
    """One request the stand-in answered."""

    method: str
    params: JsonDict
    ok: bool
    error: str | None
    problems: list[str]
    at: float


@dataclass
class Ephemeral:
    """A reply only ``user`` sees, in ``channel``; ``key`` names it on the page."""

    key: str
    user: str
    channel: str
    message: JsonDict
    problems: list[str] = field(default_factory=list)


@dataclass
class ResponseTarget:
    """Where a response_url's posts go: the person, the channel, the message it came from."""

    user: str
    channel: str
    ephemeral_key: str | None = None
    message_ts: str | None = None
    uses: int = 0


def dm_channel(user_id: str) -> str:
    """The DM channel of ``user_id`` with the bot."""
    return "D" + user_id[1:]


class Workspace:
    """Everything people in the sandbox can see, behind one lock, with a change counter."""

    def __init__(self, token: str, users: dict[str, JsonDict], groups: dict[str, list[str]]):
        self.token = token
        self.users = users
        self.groups = groups
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)
        self.version = 0
        self.calls: list[Call] = []
        self.messages: dict[str, list[JsonDict]] = {}
        self.ephemerals: list[Ephemeral] = []
        self.views: dict[str, JsonDict] = {}
        self.stacks: dict[str, list[str]] = {}
        self.homes: dict[str, JsonDict] = {}
        self.pins: dict[str, list[str]] = {}
        self._triggers: dict[str, tuple[str, float]] = {}
        self._responses: dict[str, ResponseTarget] = {}
        self._counter = 0

    # -- what the page asks -------------------------------------------------------------------

    def bump(self) -> None:
        with self.changed:
            self.version += 1
            self.changed.notify_all()

    def wait_for_change(self, since: int, timeout: float) -> int:
        """Block until the version passes ``since`` (or ``timeout``); returns the version."""
        with self.changed:
            self.changed.wait_for(lambda: self.version > since, timeout=timeout)
            return self.version

    def new_trigger(self, user: str) -> str:
        trigger = f"{int(time.time())}.{secrets.token_hex(6)}"
        with self.lock:
            self._triggers[trigger] = (user, time.monotonic())
        return trigger

    def new_response_url(self, base: str, target: ResponseTarget) -> str:
        token = secrets.token_hex(8)
        with self.lock:
            self._responses[token] = target
        return f"{base}/response/{token}"

    def add_ephemeral(self, user: str, channel: str, message: JsonDict) -> Ephemeral:
        with self.lock:
            reply = Ephemeral(
                self._next("E"), user, channel, message, limits.message_problems(message)
            )
            self.ephemerals.append(reply)
        self.bump()
        return reply

    def ephemeral(self, key: str) -> Ephemeral | None:
        with self.lock:
            return next((e for e in self.ephemerals if e.key == key), None)

    def top_view(self, user: str) -> JsonDict | None:
        with self.lock:
            stack = self.stacks.get(user) or []
            return copy.deepcopy(self.views[stack[-1]]) if stack else None

    def view(self, view_id: str) -> JsonDict | None:
        with self.lock:
            found = self.views.get(view_id)
            return copy.deepcopy(found) if found else None

    def set_view_state(self, view_id: str, values: JsonDict, errors: dict[str, str]) -> None:
        with self.lock:
            view = self.views.get(view_id)
            if view is not None:
                view["state"] = {"values": copy.deepcopy(values)}
                view["_errors"] = dict(errors)
        self.bump()

    def replace_view(self, user: str, view_id: str, new: JsonDict | None, *, push: bool) -> None:
        """A submission's response_action: update (``new``), push (``new``), or close."""
        with self.lock:
            stack = self.stacks.setdefault(user, [])
            if new is None:
                if view_id in stack:
                    del stack[stack.index(view_id) :]
            elif push:
                stack.append(self._store_view(user, new, previous=view_id)["id"])
            else:
                self._update_stored(view_id, new)
        self.bump()

    def close_views(self, user: str, *, all_of_them: bool = False) -> None:
        with self.lock:
            stack = self.stacks.setdefault(user, [])
            if all_of_them:
                stack.clear()
            elif stack:
                stack.pop()
        self.bump()

    def message(self, channel: str, ts: str) -> JsonDict | None:
        with self.lock:
            found = next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)
            return copy.deepcopy(found) if found else None

    # -- Web API ------------------------------------------------------------------------------

    def answer(self, method: str, params: JsonDict, authorization: str) -> JsonDict:
        with self.lock:
            problems: list[str] = []
            if method == "response_url":
                answer = self._response_url(params.pop("_token", ""), params, problems)
            else:
                token = authorization.removeprefix("Bearer ").strip() or str(
                    params.get("token") or ""
                )
                if not token:
                    answer = {"ok": False, "error": "not_authed"}
                elif token != self.token:
                    answer = {"ok": False, "error": "invalid_auth"}
                else:
                    handler = getattr(self, "_" + method.replace(".", "_"), None)
                    answer = (
                        handler(params, problems)
                        if handler is not None
                        else {"ok": False, "error": "unknown_method"}
                    )
            self.calls.append(
                Call(
                    method,
                    params,
                    bool(answer.get("ok")),
                    answer.get("error"),
                    problems,
                    time.time(),
                )
            )
        self.bump()
        return answer

    def _next(self, prefix: str) -> str:
        self._counter += 1
        return f"{prefix}{self._counter:08d}"

    def _next_ts(self) -> str:
        self._counter += 1
        return f"{int(time.time())}.{self._counter:06d}"

    def _channel(self, raw: Any) -> str | None:
        if not isinstance(raw, str) or not raw:
            return None
        if raw[:1] in ("U", "W"):
            return dm_channel(raw) if raw in self.users else None
        return raw

    def _auth_test(self, params: JsonDict, problems: list[str]) -> JsonDict:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Sandbox",
            "user": "payments",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_postMessage(self, params: JsonDict, problems: list[str]) -> JsonDict:
        channel = self._channel(params.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        problems += limits.message_problems(params)
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        message: JsonDict = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": params.get("text") or "",
            "ts": self._next_ts(),
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if params.get(key):
                message[key] = params[key]
        message["_problems"] = list(problems)
        self.messages.setdefault(channel, []).append(message)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": _shown(message)}

    def _find(self, params: JsonDict, ts_key: str = "ts") -> tuple[str, JsonDict] | JsonDict:
        channel = self._channel(params.get("channel"))
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        ts = str(params.get(ts_key) or "")
        found = next((m for m in self.messages.get(channel, []) if m["ts"] == ts), None)
        if found is None:
            return {"ok": False, "error": "message_not_found"}
        return channel, found

    def _chat_update(self, params: JsonDict, problems: list[str]) -> JsonDict:
        found = self._find(params)
        if isinstance(found, dict):
            return found
        channel, message = found
        problems += limits.message_problems({**_shown(message), **params})
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        message["_problems"] = list(problems)
        return {"ok": True, "channel": channel, "ts": message["ts"], "message": _shown(message)}

    def _chat_delete(self, params: JsonDict, problems: list[str]) -> JsonDict:
        found = self._find(params)
        if isinstance(found, dict):
            return found
        channel, message = found
        self.messages[channel].remove(message)
        return {"ok": True, "channel": channel, "ts": message["ts"]}

    def _chat_postEphemeral(self, params: JsonDict, problems: list[str]) -> JsonDict:
        channel = self._channel(params.get("channel"))
        user = str(params.get("user") or "")
        if channel is None:
            return {"ok": False, "error": "channel_not_found"}
        if user not in self.users:
            return {"ok": False, "error": "user_not_in_channel"}
        message = {k: params[k] for k in ("text", "blocks", "attachments") if params.get(k)}
        problems += limits.message_problems(message)
        if not message:
            return {"ok": False, "error": "no_text"}
        self.ephemerals.append(Ephemeral(self._next("E"), user, channel, message, list(problems)))
        return {"ok": True, "message_ts": self._next_ts()}

    def _pins_add(self, params: JsonDict, problems: list[str]) -> JsonDict:
        found = self._find(params, "timestamp")
        if isinstance(found, dict):
            return found
        channel, message = found
        pinned = self.pins.setdefault(channel, [])
        if message["ts"] in pinned:
            return {"ok": False, "error": "already_pinned"}
        pinned.append(message["ts"])
        return {"ok": True}

    def _chat_getPermalink(self, params: JsonDict, problems: list[str]) -> JsonDict:
        found = self._find(params, "message_ts")
        if isinstance(found, dict):
            return found
        channel, message = found
        link = (
            f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{message['ts'].replace('.', '')}"
        )
        return {"ok": True, "channel": channel, "permalink": link}

    def _store_view(self, user: str, view: JsonDict, previous: str | None = None) -> JsonDict:
        view_id = self._next("V")
        stored: JsonDict = {
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "close": None,
            "submit": None,
            "clear_on_close": False,
            "notify_on_close": False,
            "external_id": "",
            **copy.deepcopy(view),
            "id": view_id,
            "team_id": TEAM_ID,
            "app_id": APP_ID,
            "bot_id": BOT_ID,
            "app_installed_team_id": TEAM_ID,
            "previous_view_id": previous,
            "root_view_id": self.views[previous]["root_view_id"] if previous else view_id,
            "state": {"values": {}},
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "_user": user,
            "_problems": limits.view_problems(view),
            "_errors": {},
        }
        self.views[view_id] = stored
        return stored

    def _update_stored(self, view_id: str, view: JsonDict) -> JsonDict:
        current = self.views[view_id]
        updated: JsonDict = {
            **current,
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "submit": None,
            "close": None,
            **copy.deepcopy(view),
            "id": view_id,
            "state": current["state"],
            "hash": f"{int(time.time())}.{secrets.token_hex(4)}",
            "_problems": limits.view_problems(view),
            "_errors": {},
        }
        self.views[view_id] = updated
        return updated

    def _open_or_push(self, params: JsonDict, problems: list[str], *, push: bool) -> JsonDict:
        view = params.get("view")
        if not isinstance(view, dict):
            return {"ok": False, "error": "invalid_arguments"}
        problems += limits.view_problems(view)
        trigger = str(params.get("trigger_id") or "")
        if trigger not in self._triggers:
            return {"ok": False, "error": "invalid_trigger_id"}
        user, issued = self._triggers.pop(trigger)
        if time.monotonic() - issued > TRIGGER_SECONDS:
            return {"ok": False, "error": "expired_trigger_id"}
        stack = self.stacks.setdefault(user, [])
        if push and not stack:
            return {"ok": False, "error": "not_found"}
        if push and len(stack) >= 3:
            return {"ok": False, "error": "push_limit_reached"}
        if not push:
            stack.clear()
        stored = self._store_view(user, view, previous=stack[-1] if stack else None)
        stack.append(stored["id"])
        return {"ok": True, "view": _shown(stored)}

    def _views_open(self, params: JsonDict, problems: list[str]) -> JsonDict:
        return self._open_or_push(params, problems, push=False)

    def _views_push(self, params: JsonDict, problems: list[str]) -> JsonDict:
        return self._open_or_push(params, problems, push=True)

    def _views_update(self, params: JsonDict, problems: list[str]) -> JsonDict:
        view = params.get("view")
        view_id = str(params.get("view_id") or "")
        if not isinstance(view, dict) or not view_id:
            return {"ok": False, "error": "invalid_arguments"}
        problems += limits.view_problems(view)
        current = self.views.get(view_id)
        if current is None:
            return {"ok": False, "error": "not_found"}
        if params.get("hash") and params["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        return {"ok": True, "view": _shown(self._update_stored(view_id, view))}

    def _views_publish(self, params: JsonDict, problems: list[str]) -> JsonDict:
        view = params.get("view")
        user = str(params.get("user_id") or "")
        if not isinstance(view, dict) or view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        if user not in self.users:
            return {"ok": False, "error": "user_not_found"}
        problems += limits.view_problems(view)
        home = {**copy.deepcopy(view), "id": self._next("V"), "_problems": list(problems)}
        self.homes[user] = home
        return {"ok": True, "view": _shown(home)}

    def _usergroups_users_list(self, params: JsonDict, problems: list[str]) -> JsonDict:
        members = self.groups.get(str(params.get("usergroup") or ""))
        if members is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(members)}

    def _conversations_open(self, params: JsonDict, problems: list[str]) -> JsonDict:
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if len(users) != 1 or users[0] not in self.users:
            return {"ok": False, "error": "user_not_found"}
        return {"ok": True, "channel": {"id": dm_channel(users[0])}}

    def _users_info(self, params: JsonDict, problems: list[str]) -> JsonDict:
        user_id = str(params.get("user") or "")
        known = self.users.get(user_id)
        if known is None:
            return {"ok": False, "error": "user_not_found"}
        name = str(known.get("name") or user_id)
        return {
            "ok": True,
            "user": {
                "id": user_id,
                "team_id": TEAM_ID,
                "name": name.split()[0].lower(),
                "deleted": False,
                "real_name": name,
                "tz": "Europe/Paris",
                "is_bot": False,
                "profile": {"real_name": name, "display_name": name},
            },
        }

    def _response_url(self, token: str, params: JsonDict, problems: list[str]) -> JsonDict:
        target = self._responses.get(token)
        if target is None:
            return {"ok": False, "error": "no_such_response_url"}
        # Slack allows five posts per response_url within 30 minutes.
        target.uses += 1
        if target.uses > 5:
            return {"ok": False, "error": "used_too_many_times"}
        problems += [] if params.get("delete_original") else limits.message_problems(params)
        message = {k: params[k] for k in ("text", "blocks", "attachments") if params.get(k)}
        replace = str(params.get("replace_original")).lower() == "true"
        delete = str(params.get("delete_original")).lower() == "true"
        reply = self.ephemeral(target.ephemeral_key) if target.ephemeral_key else None
        if reply is not None and (replace or delete):
            if delete:
                self.ephemerals.remove(reply)
            else:
                reply.message, reply.problems = message, list(problems)
            return {"ok": True}
        if target.message_ts is not None and (replace or delete):
            found = self._find({"channel": target.channel, "ts": target.message_ts})
            if isinstance(found, dict):
                return found
            channel, original = found
            if delete:
                self.messages[channel].remove(original)
            else:
                original.update(message)
                original["_problems"] = list(problems)
            return {"ok": True}
        if params.get("response_type") == "in_channel":
            self._chat_postMessage({**message, "channel": target.channel}, [])
        else:
            self.ephemerals.append(
                Ephemeral(self._next("E"), target.user, target.channel, message, list(problems))
            )
        return {"ok": True}


def _shown(stored: JsonDict) -> JsonDict:
    """A stored message or view as Slack returns it: without the sandbox's own ``_`` keys."""
    return {k: copy.deepcopy(v) for k, v in stored.items() if not k.startswith("_")}


def parse_params(content_type: str, body: bytes, query: str) -> JsonDict:
    """A Web API call's arguments: a JSON or form body plus the query string."""
    params: JsonDict = dict(parse_qsl(query, keep_blank_values=True))
    if body:
        if content_type.split(";")[0].strip().lower() == "application/json":
            parsed = json.loads(body.decode("utf-8"))
            params.update(parsed if isinstance(parsed, dict) else {})
        else:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    for key in _JSON_FIELDS:
        value = params.get(key)
        if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
            with contextlib.suppress(ValueError):  # left as sent: the checks report it
                params[key] = json.loads(value)
    return params


class _Handler(BaseHTTPRequestHandler):
    server: WebApiServer

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the page shows every call; the terminal stays quiet

    def do_POST(self) -> None:
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        try:
            params = parse_params(self.headers.get("Content-Type", ""), body, split.query)
        except (ValueError, UnicodeDecodeError):
            self._send(200, {"ok": False, "error": "invalid_json"})
            return
        if split.path.startswith("/response/"):
            params["_token"] = split.path.removeprefix("/response/")
            method = "response_url"
        elif split.path.startswith("/api/") and len(split.path) > 5:
            method = split.path.removeprefix("/api/")
        else:
            self._send(404, {"ok": False, "error": "unknown_path"})
            return
        answer = self.server.workspace.answer(method, params, self.headers.get("Authorization", ""))
        self._send(200, answer)

    do_GET = do_POST

    def _send(self, status: int, payload: JsonDict) -> None:
        data = json.dumps(payload).encode("utf-8")
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass


class WebApiServer(ThreadingHTTPServer):
    """The stand-in on ``host:port`` (port 0 picks one), serving ``workspace``."""

    daemon_threads = True

    def __init__(self, workspace: Workspace, host: str = "127.0.0.1", port: int = 0) -> None:
        super().__init__((host, port), _Handler)
        self.workspace = workspace

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def start(self) -> WebApiServer:
        threading.Thread(target=self.serve_forever, name="sandbox-webapi", daemon=True).start()
        return self
