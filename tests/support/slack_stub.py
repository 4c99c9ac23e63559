"""A local stand-in for Slack's Web API and response_url endpoints, with fault injection.

Modelled on slackapi/bolt-python's ``tests/mock_web_api_server``: a real HTTP server that a real
``slack_sdk.WebClient`` talks to (point ``SLACK_API_URL`` / ``base_url`` at ``FakeSlack.api_url``),
so what passes here passes the same client code path as production. It answers in Slack's shapes,
keeps the state a person would see (posted messages, open modals), and records every call,
including the ones it was told to fail, so tests can count attempts and deliveries.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import email.parser
import email.policy
import json
import random
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlsplit

BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
TEAM_ID = "T1"
TEAM_DOMAIN = "payments-test"
APP_ID = "A1"

# Fields Slack accepts as JSON-encoded strings inside a form body (and tolerates in JSON bodies).
JSON_STRING_FIELDS = frozenset({"blocks", "attachments", "view", "metadata", "options"})

BASIC_FAULTS = ("500", "503", "timeout", "disconnect", "429")
# Slack did the work but the response never arrives: the case that makes blind retries post twice.
LOST_RESPONSE_FAULT = "timeout_after_delivery"
DEFAULT_RANDOM_FAULTS = ("500", "429", "timeout", "disconnect")

JsonDict = dict[str, Any]


@dataclass(frozen=True)
class Call:
    """One request the stub received, answered or faulted."""

    method: str
    params: JsonDict
    headers: dict[str, str]
    at: float  # time.monotonic() on arrival
    path: str = ""
    faulted: bool = False
    fault: str | None = None
    # True when the call took effect (answered ok:true, or applied before a lost response).
    delivered: bool = False
    response: JsonDict | None = None

    @property
    def channel(self) -> str | None:
        """The channel the call addressed, with a user id resolved to its DM channel."""
        raw = self.params.get("channel")
        return resolve_channel(raw) if isinstance(raw, str) and raw else None


def dm_channel_for(user_id: str) -> str:
    """The stable DM channel id the stub gives a user: 'D' + user id."""
    return "D" + user_id


def resolve_channel(channel: str) -> str:
    """chat.postMessage to a user id posts to the DM with that user, as Slack does."""
    if channel[:1] in ("U", "W"):
        return dm_channel_for(channel)
    return channel


def _is_json_text(value: str) -> bool:
    stripped = value.lstrip()
    return stripped.startswith("{") or stripped.startswith("[")


def _decode_json_fields(params: JsonDict) -> JsonDict:
    for key in JSON_STRING_FIELDS & params.keys():
        value = params[key]
        if isinstance(value, str) and _is_json_text(value):
            # Undecodable text is left as sent: the method handler reports it like Slack would.
            with contextlib.suppress(ValueError):
                params[key] = json.loads(value)
    return params


def parse_body(content_type: str, body: bytes) -> JsonDict:
    """Parse a request body the way Slack accepts it: JSON, form-encoded, or multipart."""
    mime = content_type.split(";", 1)[0].strip().lower()
    if not body:
        return {}
    if mime == "application/json":
        parsed = json.loads(body.decode("utf-8"))
        return _decode_json_fields(dict(parsed) if isinstance(parsed, dict) else {})
    if mime == "multipart/form-data":
        header = f"Content-Type: {content_type}\r\n\r\n".encode()
        message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + body)
        params: JsonDict = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True)
            raw = payload if isinstance(payload, bytes) else b""
            params[str(name)] = raw if part.get_filename() else raw.decode("utf-8")
        return _decode_json_fields(params)
    return _decode_json_fields(dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True)))


@dataclass
class _ScheduledFault:
    method: str
    kind: str
    remaining: int
    retry_after: int
    channel: str | None = None


@dataclass
class _RandomFaults:
    rate: float
    kinds: tuple[str, ...]
    rng: random.Random
    methods: frozenset[str] | None
    retry_after: int


@dataclass
class _SlowCalls:
    method: str
    seconds: float
    remaining: int
    channel: str | None


@dataclass
class _State:
    calls: list[Call] = field(default_factory=list)
    messages: dict[tuple[str, str], JsonDict] = field(default_factory=dict)
    views: dict[str, JsonDict] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    users: dict[str, JsonDict] = field(default_factory=dict)
    scheduled: list[_ScheduledFault] = field(default_factory=list)
    random_faults: _RandomFaults | None = None
    rate_limits: dict[str, int] = field(default_factory=dict)
    slow: list[_SlowCalls] = field(default_factory=list)
    ts_counter: int = 0
    view_counter: int = 0
    views_by_trigger: dict[str, JsonDict] = field(default_factory=dict)
    # user id -> the id of their Home view (views.publish), kept across publishes as Slack does.
    homes: dict[str, str] = field(default_factory=dict)
    # user id -> the error Slack answers a DM to them with (an external person, say).
    undmable: dict[str, str] = field(default_factory=dict)
    # channel -> pinned message ts, in pin order.
    pins: dict[str, list[str]] = field(default_factory=dict)
    # Ephemeral messages posted with chat.postEphemeral: (channel, user, message).
    ephemerals: list[tuple[str, str, JsonDict]] = field(default_factory=list)
    # lose_first_answers(): the methods whose first call per message loses its answer, and the
    # messages already seen (an outbox row named in metadata, else channel + thread + text).
    lose_first: frozenset[str] = frozenset()
    lost_for: set[tuple[str, ...]] = field(default_factory=set)
    lose_rate: float = 1.0
    lose_rng: random.Random = field(default_factory=random.Random)


def _check_fault_kind(kind: str) -> None:
    if kind in BASIC_FAULTS or kind == LOST_RESPONSE_FAULT:
        return
    if kind.startswith("slack_error:") and len(kind) > len("slack_error:"):
        return
    raise ValueError(
        f"unknown fault kind {kind!r}: use one of {', '.join(BASIC_FAULTS)}, "
        f"{LOST_RESPONSE_FAULT} or slack_error:<code>"
    )


class FakeSlack:
    """Slack's Web API on 127.0.0.1:<ephemeral port>; start()/stop() or use as a context manager.

    ``token``: when given, only that bearer token is accepted; otherwise any ``xox…`` token is.
    ``timeout_sleep``: how long a "timeout" fault holds the connection before dropping it; set it
    above the client's timeout. stop() wakes sleeping handlers, so it never waits for them.
    """

    def __init__(self, *, token: str | None = None, timeout_sleep: float = 3.0) -> None:
        self.token = token
        self.timeout_sleep = timeout_sleep
        # Socket Mode: what apps.connections.open hands out (a URL, or a function returning a
        # fresh one per call, e.g. FakeSocketMode.new_url); None answers as if Socket Mode were
        # off. ``app_token``, when set, is the only app-level token accepted.
        self.socket_url: str | Callable[[], str] | None = None
        self.app_token: str | None = None
        self._lock = threading.Lock()
        self._state = _State()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._methods: dict[str, Callable[[JsonDict], JsonDict]] = {
            "auth.test": self._auth_test,
            "chat.postMessage": self._chat_post_message,
            "chat.update": self._chat_update,
            "chat.delete": self._chat_delete,
            "chat.postEphemeral": self._chat_post_ephemeral,
            "chat.getPermalink": self._chat_get_permalink,
            "views.open": self._views_open,
            "views.push": self._views_push,
            "views.update": self._views_update,
            "views.publish": self._views_publish,
            "usergroups.users.list": self._usergroups_users_list,
            "conversations.open": self._conversations_open,
            "conversations.history": self._conversations_history,
            "conversations.replies": self._conversations_replies,
            "pins.add": self._pins_add,
            "users.info": self._users_info,
        }

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSlack:
        if self._server is not None:
            return self
        self._stopping.clear()
        server = _Server(("127.0.0.1", 0), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"FakeSlack:{server.server_address[1]}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        server, thread = self._server, self._thread
        if server is None:
            return
        self._stopping.set()
        server.shutdown()
        server.server_close()
        if thread is not None:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeSlack:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeSlack is not running: call start() or use it in a with block")
        return int(self._server.server_address[1])

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        """What SLACK_API_URL / WebClient(base_url=...) should be set to."""
        return f"{self.base_url}/api/"

    def response_url(self, name: str = "r1") -> str:
        """A response_url that posts back to this stub (recorded as method "response_url")."""
        return f"{self.base_url}/response/{name}"

    # -- what was called ---------------------------------------------------------------------

    @property
    def calls(self) -> list[Call]:
        with self._lock:
            return list(self._state.calls)

    def calls_to(self, method: str) -> list[Call]:
        return [call for call in self.calls if call.method == method]

    def deliveries(self, method: str) -> list[Call]:
        """Calls to ``method`` that took effect (not faulted, answered ok:true)."""
        return [call for call in self.calls_to(method) if call.delivered]

    def clear(self) -> None:
        """Forget recorded calls and pending faults; posted messages and views stay."""
        with self._lock:
            self._state.calls.clear()
            self._state.scheduled.clear()
            self._state.random_faults = None
            self._state.rate_limits.clear()
            self._state.slow.clear()
            self._state.lose_first = frozenset()
            self._state.lost_for.clear()

    def message(self, channel: str, ts: str) -> JsonDict | None:
        """The message as it reads now (after any chat.update), or None if absent/deleted."""
        with self._lock:
            found = self._state.messages.get((resolve_channel(channel), ts))
            return copy.deepcopy(found)

    def delete_message(self, channel: str, ts: str) -> bool:
        """A person deletes a message (an admin removing the bot's post): later chat.update
        calls on it answer ``message_not_found``, as Slack does. Not recorded as a call, since
        the bot made none. Returns whether there was such a message."""
        with self._lock:
            return self._state.messages.pop((resolve_channel(channel), ts), None) is not None

    def messages_in(self, channel: str) -> list[JsonDict]:
        """Messages currently in a channel (a user id means the DM with that user), oldest first."""
        wanted = resolve_channel(channel)
        with self._lock:
            found = [m for (ch, _), m in self._state.messages.items() if ch == wanted]
            return copy.deepcopy(sorted(found, key=lambda m: m["ts"]))

    def view(self, view_id: str) -> JsonDict | None:
        """The modal as it is now (after views.update), as Slack would echo it back."""
        with self._lock:
            return copy.deepcopy(self._state.views.get(view_id))

    def home_of(self, user_id: str) -> JsonDict | None:
        """The Home tab ``user_id`` sees now (the last views.publish for them), or None."""
        with self._lock:
            view_id = self._state.homes.get(user_id)
            return copy.deepcopy(self._state.views.get(view_id)) if view_id else None

    def view_opened_by(self, trigger_id: str) -> JsonDict | None:
        """The modal a views.open/push with this trigger_id opened, if one did."""
        with self._lock:
            found = self._state.views_by_trigger.get(trigger_id)
            return json.loads(json.dumps(found)) if found is not None else None

    def max_rate(self, method: str, channel: str, window: float = 1.0) -> int:
        """Most deliveries of ``method`` to ``channel`` inside any ``window``-second span."""
        wanted = resolve_channel(channel)
        times = sorted(c.at for c in self.deliveries(method) if c.channel == wanted)
        best, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= window:
                start += 1
            best = max(best, end - start + 1)
        return best

    # -- directory data ----------------------------------------------------------------------

    def set_usergroup(self, group_id: str, users: Iterable[str]) -> None:
        with self._lock:
            self._state.usergroups[group_id] = list(users)

    def set_user(self, user_id: str, **fields: Any) -> None:
        """Fields merged into users.info's answer for ``user_id`` (e.g. real_name, tz)."""
        with self._lock:
            self._state.users.setdefault(user_id, {}).update(fields)

    def set_undmable(self, user_id: str, error: str = "cannot_dm_bot") -> None:
        """The bot cannot DM ``user_id`` (an external person of a Slack Connect channel, whose
        workspace has not installed the app): chat.postMessage to their user id or DM channel,
        and conversations.open with them, answer ``error`` as Slack does."""
        with self._lock:
            self._state.undmable[user_id] = error

    def pinned_in(self, channel: str) -> list[str]:
        """The ts of each message pinned in ``channel`` (pins.add), in pin order."""
        with self._lock:
            return list(self._state.pins.get(channel, []))

    def ephemerals_for(self, user_id: str, channel: str | None = None) -> list[JsonDict]:
        """Ephemeral messages chat.postEphemeral showed ``user_id`` (in ``channel``, if given)."""
        with self._lock:
            return [
                copy.deepcopy(message)
                for (where, user, message) in self._state.ephemerals
                if user == user_id and channel in (None, where)
            ]

    # -- faults ------------------------------------------------------------------------------

    def fail(
        self,
        method: str,
        kind: str,
        *,
        times: int = 1,
        retry_after: int = 1,
        channel: str | None = None,
    ) -> None:
        """Fail the next ``times`` calls to ``method`` ("*": any, response_url too) with ``kind``
        (only calls addressing ``channel``, when given; a user id means their DM).

        Kinds: "500", "503", "timeout" (hold the connection ``timeout_sleep`` s, then drop it),
        "disconnect" (drop the connection without a response), "429" (with Retry-After),
        "slack_error:<code>" (HTTP 200, ok:false), and "timeout_after_delivery" (the call takes
        effect, then the response is lost as in "timeout").
        """
        _check_fault_kind(kind)
        if times < 1:
            raise ValueError("times must be at least 1")
        with self._lock:
            wanted = resolve_channel(channel) if channel else None
            self._state.scheduled.append(_ScheduledFault(method, kind, times, retry_after, wanted))

    def slow(
        self, method: str, seconds: float, *, times: int = 1, channel: str | None = None
    ) -> None:
        """Answer the next ``times`` calls to ``method`` (to ``channel`` only, when given; a user id
        means their DM) normally, but only after ``seconds``: Slack being slow, not failing."""
        if times < 1 or seconds < 0:
            raise ValueError("times must be at least 1 and seconds not negative")
        wanted = resolve_channel(channel) if channel else None
        with self._lock:
            self._state.slow.append(_SlowCalls(method, seconds, times, wanted))

    def _delay_for(self, method: str, params: JsonDict) -> float:
        raw = params.get("channel")
        channel = resolve_channel(raw) if isinstance(raw, str) and raw else None
        with self._lock:
            for slow in self._state.slow:
                if slow.method == method and slow.channel in (None, channel):
                    slow.remaining -= 1
                    if slow.remaining == 0:
                        self._state.slow.remove(slow)
                    return slow.seconds
        return 0.0

    def set_fault_rate(
        self,
        rate: float,
        kinds: Iterable[str] = DEFAULT_RANDOM_FAULTS,
        seed: int = 0,
        methods: Iterable[str] | None = None,
        *,
        retry_after: int = 1,
    ) -> None:
        """Fail each call (to ``methods``, or any) with probability ``rate``; 0 turns it off."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        chosen = tuple(kinds)
        for kind in chosen:
            _check_fault_kind(kind)
        with self._lock:
            self._state.random_faults = (
                _RandomFaults(
                    rate=rate,
                    kinds=chosen,
                    rng=random.Random(seed),
                    methods=frozenset(methods) if methods is not None else None,
                    retry_after=retry_after,
                )
                if rate > 0 and chosen
                else None
            )

    def enforce_rate_limit(self, method: str, per_second: int) -> None:
        """Answer 429 once ``method`` exceeds ``per_second`` deliveries to one channel per second.

        Slack's documented limit for chat.postMessage is about one message per second per channel.
        """
        if per_second < 1:
            raise ValueError("per_second must be at least 1")
        with self._lock:
            self._state.rate_limits[method] = per_second

    def lose_first_answers(
        self,
        methods: Iterable[str] = ("chat.postMessage",),
        *,
        rate: float = 1.0,
        seed: int = 0,
    ) -> None:
        """The first call that posts each message takes effect and then loses its answer
        (``timeout_after_delivery``); later calls for the same message are answered. A message
        is the outbox row its metadata names (``event_payload.outbox_message_id``) in one
        channel, else its channel, thread and text. ``rate``: the chance that a message's first
        call is the one lost (reproducible from ``seed``), to mix it among random faults.
        Empty ``methods`` turns it off."""
        if not 0.0 <= rate <= 1.0:
            raise ValueError("rate must be between 0 and 1")
        with self._lock:
            self._state.lose_first = frozenset(methods)
            self._state.lost_for.clear()
            self._state.lose_rate = rate
            self._state.lose_rng = random.Random(seed)

    def _first_of_its_message(self, method: str, params: JsonDict) -> bool:
        state = self._state
        if method not in state.lose_first:
            return False
        metadata = params.get("metadata")
        payload = metadata.get("event_payload") if isinstance(metadata, dict) else None
        row = payload.get("outbox_message_id") if isinstance(payload, dict) else None
        raw = params.get("channel")
        channel = resolve_channel(raw) if isinstance(raw, str) and raw else ""
        key: tuple[str, ...] = (
            (method, "row", str(row), channel)
            if row is not None
            else (method, channel, str(params.get("thread_ts") or ""), str(params.get("text")))
        )
        if key in state.lost_for:
            return False
        state.lost_for.add(key)
        return state.lose_rate >= 1.0 or state.lose_rng.random() < state.lose_rate

    # -- request handling (called from server threads) ---------------------------------------

    def _choose_fault(self, method: str, params: JsonDict, now: float) -> tuple[str, int] | None:
        state = self._state
        raw = params.get("channel")
        addressed = resolve_channel(raw) if isinstance(raw, str) and raw else None
        for scheduled in state.scheduled:
            if scheduled.channel is not None and scheduled.channel != addressed:
                continue
            if scheduled.remaining > 0 and scheduled.method in ("*", method):
                scheduled.remaining -= 1
                if scheduled.remaining == 0:
                    state.scheduled.remove(scheduled)
                return scheduled.kind, scheduled.retry_after
        if self._first_of_its_message(method, params):
            return LOST_RESPONSE_FAULT, 0
        limit = state.rate_limits.get(method)
        channel = params.get("channel")
        if limit is not None and isinstance(channel, str) and channel:
            wanted = resolve_channel(channel)
            recent = sum(
                1
                for c in state.calls
                if c.method == method and c.delivered and c.channel == wanted and now - c.at < 1.0
            )
            if recent >= limit:
                return "429", 1
        faults = state.random_faults
        if (
            faults is not None
            and (faults.methods is None or method in faults.methods)
            and faults.rng.random() < faults.rate
        ):
            return faults.rng.choice(faults.kinds), faults.retry_after
        return None

    def _receive(
        self, method: str, params: JsonDict, headers: dict[str, str], path: str
    ) -> tuple[str | None, int, JsonDict | None]:
        """Decide and apply one call: returns (fault kind or None, retry_after, JSON answer)."""
        now = time.monotonic()
        with self._lock:
            chosen = self._choose_fault(method, params, now)
            kind, retry_after = chosen if chosen is not None else (None, 0)
            response: JsonDict | None = None
            delivered = False
            if kind is None or kind == LOST_RESPONSE_FAULT:
                # A snapshot: the stored message/view it came from changes with later updates.
                response = copy.deepcopy(self._answer(method, params, headers))
                delivered = bool(response.get("ok"))
            elif kind.startswith("slack_error:"):
                response = {"ok": False, "error": kind.split(":", 1)[1]}
            elif kind == "429":
                response = {"ok": False, "error": "ratelimited"}
            self._state.calls.append(
                Call(
                    method=method,
                    params=params,
                    headers=headers,
                    at=now,
                    path=path,
                    faulted=kind is not None,
                    fault=kind,
                    delivered=delivered,
                    response=response,
                )
            )
            return kind, retry_after, response

    def _answer(self, method: str, params: JsonDict, headers: dict[str, str]) -> JsonDict:
        if method == "response_url":
            return {"ok": True}
        if method == "apps.connections.open":
            # The one method that takes the app-level token, and only in the Authorization header.
            return self._apps_connections_open(headers)
        auth_error = self._auth_error(params, headers)
        if auth_error is not None:
            return {"ok": False, "error": auth_error}
        handler = self._methods.get(method)
        return handler(params) if handler is not None else {"ok": True}

    def _auth_error(self, params: JsonDict, headers: dict[str, str]) -> str | None:
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        token = (
            authorization[len("Bearer ") :].strip() if authorization.startswith("Bearer ") else ""
        )
        token = token or str(params.get("token") or "")
        if not token:
            return "not_authed"  # Slack's code for a request carrying no token at all
        if (self.token is not None and token != self.token) or not token.startswith("xox"):
            return "invalid_auth"
        return None

    # -- Web API methods (called with the lock held) ------------------------------------------

    def _apps_connections_open(self, headers: dict[str, str]) -> JsonDict:
        authorization = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        bearer = authorization.startswith("Bearer ")
        token = authorization[len("Bearer ") :].strip() if bearer else ""
        if not token:
            return {"ok": False, "error": "not_authed"}
        if not token.startswith("xapp-"):
            return {"ok": False, "error": "not_allowed_token_type"}
        if self.app_token is not None and token != self.app_token:
            return {"ok": False, "error": "invalid_auth"}
        url = self.socket_url() if callable(self.socket_url) else self.socket_url
        if not url:
            # The stub's own code: the test never set socket_url.
            return {"ok": False, "error": "socket_mode_not_enabled"}
        return {"ok": True, "url": url}

    def _next_ts(self) -> str:
        # Slack's ts is its clock's time of the message (microseconds), unique per channel: the
        # wall clock here, moved on a microsecond when two messages fall in the same one.
        micros = max(int(time.time() * 1_000_000), self._state.ts_counter + 1)
        self._state.ts_counter = micros
        return f"{micros // 1_000_000}.{micros % 1_000_000:06d}"

    def _auth_test(self, params: JsonDict) -> JsonDict:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": "Payments Test",
            "user": "payments",
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _chat_post_message(self, params: JsonDict) -> JsonDict:
        raw_channel = params.get("channel")
        if not isinstance(raw_channel, str) or not raw_channel:
            return {"ok": False, "error": "channel_not_found"}
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        undmable = self._undmable_error(raw_channel)
        if undmable is not None:
            return {"ok": False, "error": undmable}
        channel = resolve_channel(raw_channel)
        ts = self._next_ts()
        message: JsonDict = {
            "type": "message",
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            "text": params.get("text") or "",
            "ts": ts,
        }
        for key in ("blocks", "attachments", "metadata", "thread_ts"):
            if params.get(key):
                message[key] = params[key]
        if message.get("thread_ts") and _truthy(params.get("reply_broadcast")):
            # Shown in the channel too: in its history as well as the thread's.
            message["subtype"] = "thread_broadcast"
        self._state.messages[(channel, ts)] = message
        return {"ok": True, "channel": channel, "ts": ts, "message": message}

    def _find_message(self, params: JsonDict) -> tuple[tuple[str, str], JsonDict] | JsonDict:
        raw_channel, ts = params.get("channel"), params.get("ts")
        if not isinstance(raw_channel, str) or not raw_channel:
            return {"ok": False, "error": "channel_not_found"}
        key = (resolve_channel(raw_channel), str(ts or ""))
        message = self._state.messages.get(key)
        if message is None:
            return {"ok": False, "error": "message_not_found"}
        return key, message

    def _chat_update(self, params: JsonDict) -> JsonDict:
        found = self._find_message(params)
        if isinstance(found, dict):
            return found
        (channel, ts), message = found
        for key in ("text", "blocks", "attachments", "metadata"):
            if key in params:
                message[key] = params[key]
        message["edited"] = {"user": BOT_USER_ID, "ts": self._next_ts()}
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": message.get("text", ""),
            "message": message,
        }

    def _chat_delete(self, params: JsonDict) -> JsonDict:
        found = self._find_message(params)
        if isinstance(found, dict):
            return found
        (channel, ts), _ = found
        del self._state.messages[(channel, ts)]
        return {"ok": True, "channel": channel, "ts": ts}

    def _chat_post_ephemeral(self, params: JsonDict) -> JsonDict:
        if not params.get("channel"):
            return {"ok": False, "error": "channel_not_found"}
        if not params.get("user"):
            return {"ok": False, "error": "user_not_in_channel"}
        if not any(params.get(k) for k in ("text", "blocks", "attachments")):
            return {"ok": False, "error": "no_text"}
        message = {k: params[k] for k in ("text", "blocks", "attachments") if params.get(k)}
        self._state.ephemerals.append((str(params["channel"]), str(params["user"]), message))
        return {"ok": True, "message_ts": self._next_ts()}

    def _undmable_error(self, channel: str) -> str | None:
        """The error a DM to this user id (or their DM channel) answers, when they are undmable."""
        user = channel[1:] if channel.startswith("D") else channel
        return self._state.undmable.get(user)

    def _pins_add(self, params: JsonDict) -> JsonDict:
        channel, ts = str(params.get("channel") or ""), str(params.get("timestamp") or "")
        if not channel:
            return {"ok": False, "error": "channel_not_found"}
        if (resolve_channel(channel), ts) not in self._state.messages:
            return {"ok": False, "error": "message_not_found"}
        pinned = self._state.pins.setdefault(channel, [])
        if ts in pinned:
            return {"ok": False, "error": "already_pinned"}
        pinned.append(ts)
        return {"ok": True}

    def _chat_get_permalink(self, params: JsonDict) -> JsonDict:
        found = self._find_message(
            {"channel": params.get("channel"), "ts": params.get("message_ts")}
        )
        if isinstance(found, dict):
            return found
        (channel, ts), _ = found
        permalink = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        return {"ok": True, "channel": channel, "permalink": permalink}

    def _new_view(self, view: JsonDict, previous: JsonDict | None) -> JsonDict:
        self._state.view_counter += 1
        view_id = f"V{self._state.view_counter:08d}"
        stored: JsonDict = {
            "team_id": TEAM_ID,
            "type": "modal",
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            "state": {"values": {}},
            "clear_on_close": False,
            "notify_on_close": False,
            "close": None,
            "submit": None,
            "previous_view_id": previous["id"] if previous else None,
            "root_view_id": previous["root_view_id"] if previous else view_id,
            "app_id": APP_ID,
            "external_id": "",
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
            **view,
            "id": view_id,
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        }
        self._state.views[view_id] = stored
        return stored

    def _view_param(self, params: JsonDict) -> JsonDict | None:
        view = params.get("view")
        return view if isinstance(view, dict) else None

    def _open_or_push(self, params: JsonDict, *, push: bool) -> JsonDict:
        if not params.get("trigger_id"):
            return {"ok": False, "error": "invalid_arguments"}
        view = self._view_param(params)
        if view is None:
            return {"ok": False, "error": "invalid_arguments"}
        external_id = view.get("external_id")
        if external_id and any(
            v.get("external_id") == external_id for v in self._state.views.values()
        ):
            return {"ok": False, "error": "duplicate_external_id"}
        previous = None
        if push:
            # A push stacks on the newest modal; the stub has no notion of which user's stack.
            previous = max(self._state.views.values(), key=lambda v: v["id"], default=None)
        opened = self._new_view(view, previous)
        self._state.views_by_trigger[str(params["trigger_id"])] = opened
        return {"ok": True, "view": opened}

    def _views_open(self, params: JsonDict) -> JsonDict:
        return self._open_or_push(params, push=False)

    def _views_push(self, params: JsonDict) -> JsonDict:
        return self._open_or_push(params, push=True)

    def _views_update(self, params: JsonDict) -> JsonDict:
        view = self._view_param(params)
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if view is None or not (view_id or external_id):
            return {"ok": False, "error": "invalid_arguments"}
        current = (
            self._state.views.get(str(view_id))
            if view_id
            else next(
                (v for v in self._state.views.values() if v.get("external_id") == external_id),
                None,
            )
        )
        if current is None:
            return {"ok": False, "error": "not_found"}
        if params.get("hash") and params["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        updated: JsonDict = {
            **current,
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            **view,
            "id": current["id"],
            "state": current["state"],
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        }
        self._state.views[current["id"]] = updated
        return {"ok": True, "view": updated}

    def _views_publish(self, params: JsonDict) -> JsonDict:
        """A person's Home: one view per user, replaced whole by each publish."""
        view, user_id = self._view_param(params), str(params.get("user_id") or "")
        if view is None or not user_id:
            return {"ok": False, "error": "invalid_arguments"}
        if view.get("type") != "home":
            return {"ok": False, "error": "invalid_arguments"}
        current = self._state.views.get(self._state.homes.get(user_id, ""))
        if current is not None and params.get("hash") and params["hash"] != current["hash"]:
            return {"ok": False, "error": "hash_conflict"}
        if current is None:
            current = self._new_view(view, None)
            self._state.homes[user_id] = current["id"]
        published: JsonDict = {
            **current,
            "blocks": [],
            "private_metadata": "",
            "callback_id": "",
            **view,
            "id": current["id"],
            "hash": f"{int(time.time())}.{uuid.uuid4().hex[:8]}",
        }
        self._state.views[current["id"]] = published
        return {"ok": True, "view": published}

    def _usergroups_users_list(self, params: JsonDict) -> JsonDict:
        users = self._state.usergroups.get(str(params.get("usergroup") or ""))
        if users is None:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(users)}

    def _conversations_open(self, params: JsonDict) -> JsonDict:
        if params.get("channel"):
            return {"ok": True, "channel": {"id": resolve_channel(str(params["channel"]))}}
        users = [u for u in str(params.get("users") or "").split(",") if u]
        if not users:
            return {"ok": False, "error": "users_list_not_supplied"}
        undmable = next((e for u in users if (e := self._state.undmable.get(u))), None)
        if undmable is not None:
            return {"ok": False, "error": undmable}
        channel_id = dm_channel_for(users[0]) if len(users) == 1 else "G" + "".join(users)
        return {"ok": True, "no_op": True, "already_open": True, "channel": {"id": channel_id}}

    def _conversations_history(self, params: JsonDict) -> JsonDict:
        """The channel's messages newest first, thread replies left out (but for those also
        sent to the channel), between ``oldest`` and ``latest`` as Slack reads them."""
        raw = params.get("channel")
        if not isinstance(raw, str) or not raw or raw[:1] in ("U", "W"):
            return {"ok": False, "error": "channel_not_found"}
        channel = resolve_channel(raw)
        found = [
            m
            for (where, _), m in self._state.messages.items()
            if where == channel
            and (m.get("thread_ts") in (None, m["ts"]) or m.get("subtype") == "thread_broadcast")
        ]
        return _page(found, params, newest_first=True)

    def _conversations_replies(self, params: JsonDict) -> JsonDict:
        """A thread: its parent, then its replies, oldest first."""
        raw, parent = params.get("channel"), str(params.get("ts") or "")
        if not isinstance(raw, str) or not raw:
            return {"ok": False, "error": "channel_not_found"}
        channel = resolve_channel(raw)
        if not parent:
            return {"ok": False, "error": "invalid_arguments"}
        if (channel, parent) not in self._state.messages:
            return {"ok": False, "error": "thread_not_found"}
        found = [
            m
            for (where, ts), m in self._state.messages.items()
            if where == channel and (ts == parent or m.get("thread_ts") == parent)
        ]
        return _page(found, params, newest_first=False)

    def _users_info(self, params: JsonDict) -> JsonDict:
        user_id = str(params.get("user") or "")
        if not re.fullmatch(r"[UW][A-Z0-9]+", user_id):
            return {"ok": False, "error": "user_not_found"}
        name = user_id.lower()
        user: JsonDict = {
            "id": user_id,
            "team_id": TEAM_ID,
            "name": name,
            "deleted": False,
            "real_name": name,
            "tz": "UTC",
            "is_bot": False,
            "profile": {"real_name": name, "display_name": name},
        }
        user.update(self._state.users.get(user_id, {}))
        return {"ok": True, "user": user}


def _truthy(value: Any) -> bool:
    return value is True or str(value).lower() in ("true", "1")


def _ts_of(value: Any, default: float) -> float | None:
    if value in (None, ""):
        return default
    try:
        return float(str(value))
    except ValueError:
        return None


def _page(found: list[JsonDict], params: JsonDict, *, newest_first: bool) -> JsonDict:
    """One page of ``found`` as conversations.history/replies answer it: ``oldest``/``latest``
    exclusive unless ``inclusive``; ``limit`` (default 100, at most 999); ``cursor`` from the
    previous page's ``response_metadata.next_cursor``; ``metadata`` only with
    ``include_all_metadata``."""
    oldest = _ts_of(params.get("oldest"), 0.0)
    latest = _ts_of(params.get("latest"), float("inf"))
    if oldest is None or latest is None:
        return {
            "ok": False,
            "error": "invalid_ts_oldest" if oldest is None else "invalid_ts_latest",
        }
    inclusive = _truthy(params.get("inclusive"))
    try:
        limit = int(params.get("limit") or 100)
    except ValueError:
        return {"ok": False, "error": "invalid_limit"}
    limit = max(1, min(limit, 999))
    chosen = sorted(
        (
            m
            for m in found
            if (oldest <= float(m["ts"]) if inclusive else oldest < float(m["ts"]))
            and (float(m["ts"]) <= latest if inclusive else float(m["ts"]) < latest)
        ),
        key=lambda m: float(m["ts"]),
        reverse=newest_first,
    )
    cursor = params.get("cursor")
    if cursor:
        try:
            start = base64.b64decode(str(cursor), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return {"ok": False, "error": "invalid_cursor"}
        if not start.startswith("next_ts:"):
            return {"ok": False, "error": "invalid_cursor"}
        try:
            at = float(start[len("next_ts:") :])
        except ValueError:
            return {"ok": False, "error": "invalid_cursor"}
        # The page starts at the message the cursor names (or where it was, if deleted since).
        if newest_first:
            chosen = [m for m in chosen if float(m["ts"]) <= at]
        else:
            chosen = [m for m in chosen if float(m["ts"]) >= at]
    page, rest = chosen[:limit], chosen[limit:]
    metadata = _truthy(params.get("include_all_metadata"))
    messages = []
    for message in page:
        shown = copy.deepcopy(message)
        if not metadata:
            shown.pop("metadata", None)
        messages.append(shown)
    next_cursor = base64.b64encode(f"next_ts:{rest[0]['ts']}".encode()).decode() if rest else ""
    return {
        "ok": True,
        "messages": messages,
        "has_more": bool(rest),
        "pin_count": 0,
        "response_metadata": {"next_cursor": next_cursor},
    }


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # stop() must not wait for handlers sleeping in a "timeout" fault
    fake: FakeSlack


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_POST(self) -> None:
        self._handle()

    def do_GET(self) -> None:
        self._handle()

    def _handle(self) -> None:
        fake = self.server.fake
        split = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        try:
            params = parse_body(self.headers.get("Content-Type", ""), body)
        except ValueError:
            self._send(400, {"ok": False, "error": "invalid_json"})
            return
        query = dict(parse_qsl(split.query, keep_blank_values=True))
        params = {**_decode_json_fields(query), **params}
        if split.path.startswith("/api/") and len(split.path) > len("/api/"):
            method = split.path[len("/api/") :]
        elif split.path.startswith("/response/"):
            method = "response_url"
        else:
            self._send(404, {"ok": False, "error": "unknown_path"})
            return
        headers = {k: v for k, v in self.headers.items()}
        delay = fake._delay_for(method, params)
        if delay:
            fake._stopping.wait(delay)
        kind, retry_after, response = fake._receive(method, params, headers, split.path)
        if kind is None or kind.startswith("slack_error:"):
            self._send(200, response or {"ok": True})
        elif kind == "429":
            self._send(429, response or {}, {"Retry-After": str(retry_after)})
        elif kind in ("500", "503"):
            text = "Internal Server Error" if kind == "500" else "Service Unavailable"
            self._send_text(int(kind), text)
        elif kind in ("timeout", LOST_RESPONSE_FAULT):
            fake._stopping.wait(fake.timeout_sleep)
            self.close_connection = True
        else:  # disconnect: the body was read, so the client sees the connection close mid-wait
            self.close_connection = True

    def _send(self, status: int, payload: JsonDict, headers: dict[str, str] | None = None) -> None:
        data = json.dumps(payload).encode("utf-8")
        self._write(status, "application/json; charset=utf-8", data, headers or {})

    def _send_text(self, status: int, text: str) -> None:
        self._write(status, "text/plain; charset=utf-8", text.encode("utf-8"), {})

    def _write(self, status: int, content_type: str, data: bytes, headers: dict[str, str]) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (its own timeout); nothing left to tell it
