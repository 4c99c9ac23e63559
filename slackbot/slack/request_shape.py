"""What a signed request from Slack must look like before Bolt reads it; anything else is a 400.

Bolt assumes Slack's payload shapes: it reads ``user.id``, ``team.id``, ``actions[0].action_id``,
``view.callback_id`` and more without checking their types, and a string where it expects an
object makes it fail with a 500 before any listener runs. A signed request can still be
malformed (a buggy proxy, a replayed and edited body with a leaked secret, our own fuzzing), so
the server checks the shape of every field Bolt reads and answers 400 for anything else.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qsl

from models.limits import is_slack_user_id
from slackbot.slack.ids import unsuffixed

# Fields Bolt or our listeners read as text (or absent / null).
_TEXT_FIELDS = (
    "type",
    "token",
    "action_id",
    "block_id",
    "callback_id",
    "command",
    "text",
    "user_id",
    "user_name",
    "team_id",
    "team_domain",
    "channel_id",
    "channel_name",
    "enterprise_id",
    "trigger_id",
    "response_url",
    "value",
    "api_app_id",
    "thread_ts",
    "function_execution_id",
    "bot_access_token",
)
# Fields that are an object with an ``id`` (or, in some payloads, the id itself as text).
_ID_OBJECTS = ("user", "team", "enterprise", "channel")
_NESTED = ("event", "message", "previous_message", "item", "assistant_thread", "function_data")


def parse_like_bolt(raw_body: str, content_type: str | None) -> Any:
    """Parse a body the way ``slack_bolt.request.internals.parse_body`` does."""
    if content_type == "application/json" or raw_body.startswith("{"):
        return json.loads(raw_body)
    params = dict(parse_qsl(raw_body, keep_blank_values=True))
    if "payload" in params:
        return json.loads(params["payload"])
    return params


def shape_problem(raw_body: str, content_type: str | None) -> str | None:
    """None when Bolt can read ``raw_body`` safely; else what is wrong, for the log."""
    return read_payload(raw_body, content_type)[1]


def read_payload(raw_body: str, content_type: str | None) -> tuple[dict[str, Any], str | None]:
    """The payload as Bolt will see it, and what is wrong with its shape (None: nothing)."""
    try:
        payload = parse_like_bolt(raw_body, content_type)
    except ValueError as exc:
        return {}, f"body is not JSON or a form: {exc}"
    problem = payload_problem(payload)
    return (payload if isinstance(payload, dict) else {}), problem


def payload_problem(payload: Any) -> str | None:
    """None when Bolt can read an already parsed payload (HTTP or Socket Mode) safely."""
    if not isinstance(payload, dict):
        return "payload is not an object"
    return _check_payload(payload, "payload", depth=0)


# What a request is, for the log: ids are shown only when they look like ids, never payload text.
_SHOWN_NAME = re.compile(r"[A-Za-z0-9_./-]{1,64}", re.ASCII)


def describe(payload: dict[str, Any]) -> tuple[str, str]:
    """``(kind, user)`` of a payload whose shape passed :func:`payload_problem`.

    kind is ``command /payments``, ``block_actions approve_allocation`` (an action id's suffix
    after a colon is left out), ``view_submission allocation_modal``, ``block_suggestion
    invoice``, ``event app_mention``…; user is the Slack user id, or ``-``.
    """
    user: Any = payload.get("user_id") or payload.get("user")
    if isinstance(user, dict):
        user = user.get("id")
    event = payload.get("event") if isinstance(payload.get("event"), dict) else None
    if command := payload.get("command"):
        kind, name = "command", command
    elif payload.get("type") == "event_callback" and event is not None:
        kind, name = "event", event.get("type")
        user = user or event.get("user")
    elif payload.get("type") in ("view_submission", "view_closed"):
        view = payload.get("view") or {}
        kind, name = str(payload["type"]), view.get("callback_id")
    elif payload.get("type") in ("block_actions", "block_suggestion"):
        actions = payload.get("actions") or []
        action = actions[0] if actions else payload
        kind, name = str(payload["type"]), action.get("action_id")
    else:
        kind, name = _shown(payload.get("type"), _SHOWN_NAME) or "unknown", None
    name = unsuffixed(name) if isinstance(name, str) else name
    shown = _shown(name, _SHOWN_NAME)
    return (f"{kind} {shown}" if shown else kind), (user if is_slack_user_id(user) else "-")


def _shown(value: Any, pattern: re.Pattern[str]) -> str | None:
    return value if isinstance(value, str) and pattern.fullmatch(value) else None


def _check_payload(payload: dict[str, Any], where: str, *, depth: int) -> str | None:
    if depth > 4:
        return f"{where} is nested too deeply"
    for name in _TEXT_FIELDS:
        if not _is_text_or_none(payload.get(name)):
            return f"{where}.{name} is not text"
    for name in _ID_OBJECTS:
        problem = _check_id_object(payload.get(name), f"{where}.{name}")
        if problem:
            return problem
    for name in ("is_enterprise_install", "is_ext_shared_channel"):
        if not isinstance(payload.get(name), bool | str | None):
            return f"{where}.{name} is not a flag"
    for name in _NESTED:
        value = payload.get(name)
        if value is not None:
            if not isinstance(value, dict):
                return f"{where}.{name} is not an object"
            problem = _check_payload(value, f"{where}.{name}", depth=depth + 1)
            if problem:
                return problem
    authorizations = payload.get("authorizations")
    if authorizations is not None:
        if not isinstance(authorizations, list) or not all(
            isinstance(item, dict) for item in authorizations
        ):
            return f"{where}.authorizations is not a list of objects"
        for n, item in enumerate(authorizations[:1]):
            problem = _check_payload(item, f"{where}.authorizations[{n}]", depth=depth + 1)
            if problem:
                return problem
    for name in ("container", "state"):
        if not isinstance(payload.get(name), dict | None):
            return f"{where}.{name} is not an object"
    problem = _check_actions(payload.get("actions"), f"{where}.actions")
    if problem:
        return problem
    return _check_view(payload.get("view"), f"{where}.view")


def _check_id_object(value: Any, where: str) -> str | None:
    if value is None or isinstance(value, str):
        return None
    if not isinstance(value, dict):
        return f"{where} is neither an object nor an id"
    for key in ("id", "team_id", "enterprise_id", "name", "username", "domain"):
        if not _is_text_or_none(value.get(key)):
            return f"{where}.{key} is not text"
    return None


def _check_actions(actions: Any, where: str) -> str | None:
    if actions is None:
        return None
    if not isinstance(actions, list):
        return f"{where} is not a list"
    for n, action in enumerate(actions):
        if not isinstance(action, dict):
            return f"{where}[{n}] is not an object"
        for key in ("action_id", "block_id", "type", "value", "action_ts"):
            if not _is_text_or_none(action.get(key)):
                return f"{where}[{n}].{key} is not text"
        selected = action.get("selected_option")
        if selected is not None and (
            not isinstance(selected, dict) or not _is_text_or_none(selected.get("value"))
        ):
            return f"{where}[{n}].selected_option is not an option"
    return None


def _check_view(view: Any, where: str) -> str | None:
    if view is None:
        return None
    if not isinstance(view, dict):
        return f"{where} is not an object"
    for key in (
        "id",
        "type",
        "callback_id",
        "private_metadata",
        "hash",
        "team_id",
        "app_installed_team_id",
        "external_id",
        "root_view_id",
        "previous_view_id",
    ):
        if not _is_text_or_none(view.get(key)):
            return f"{where}.{key} is not text"
    state = view.get("state")
    if state is None:
        return None
    if not isinstance(state, dict):
        return f"{where}.state is not an object"
    values = state.get("values")
    if values is None:
        return None
    if not isinstance(values, dict) or not all(
        isinstance(inputs, dict) and all(isinstance(element, dict) for element in inputs.values())
        for inputs in values.values()
    ):
        return f"{where}.state.values is not a map of inputs"
    return None


def _is_text_or_none(value: Any) -> bool:
    return value is None or isinstance(value, str)
