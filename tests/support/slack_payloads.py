"""Signed requests from Slack in the shapes Slack really sends, to drive the app without Slack.

Bolt routes on these keys (``command``, ``type``, ``actions[].action_id``, ``view.callback_id``,
``action_id`` of a block_suggestion), so a builder that drifted from Slack's payloads would let
tests pass against an app that fails in production. Shapes follow Slack's interaction payload
reference (block_actions, view_submission, block_suggestion) and slash command request docs.
"""

from __future__ import annotations

import copy
import itertools
import json
import secrets
import time
import urllib.error
import urllib.request
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode

from slack_sdk.signature import SignatureVerifier

if TYPE_CHECKING:
    from slack_bolt.request import BoltRequest

TEAM_ID = "T1"
TEAM_DOMAIN = "payments-test"
APP_ID = "A1"
BOT_USER_ID = "UBOT"
BOT_ID = "BBOT"
# The legacy verification token Slack still puts in every payload; Bolt ignores it.
VERIFICATION_TOKEN = "verification-token-unused"
# Connection refused at once: a handler that answers through an unset response_url fails fast and
# loudly instead of reaching for the internet.
UNSET_RESPONSE_URL = "http://127.0.0.1:9/response/unset"

JsonDict = dict[str, Any]

_sequence = itertools.count(1)

# Action element types and the key Slack reports their chosen value under.
_OPTION_TYPES = frozenset({"static_select", "external_select", "overflow", "radio_buttons"})
_SELECTED_KEYS = {
    "users_select": "selected_user",
    "conversations_select": "selected_conversation",
    "channels_select": "selected_channel",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
}
_VALUE_TYPES = frozenset({"button", "plain_text_input", "number_input", "email_text_input"})


def new_trigger_id() -> str:
    """A fresh trigger_id in Slack's format (digits.digits.hex)."""
    n = next(_sequence)
    return f"{1_000_000_000_000 + n}.{1_000_000 + n}.{secrets.token_hex(16)}"


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _user(user_id: str, team_id: str | None) -> JsonDict:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": team_id}


def _team(team_id: str | None, enterprise_id: str | None = None) -> JsonDict | None:
    """The payload's ``team``: where the interaction happened (None: some org-wide installs)."""
    if team_id is None:
        return None
    team: JsonDict = {"id": team_id, "domain": TEAM_DOMAIN}
    if enterprise_id is not None:
        team["enterprise_id"] = enterprise_id
        team["enterprise_name"] = f"Org {enterprise_id}"
    return team


def _enterprise(enterprise_id: str | None) -> JsonDict | None:
    return None if enterprise_id is None else {"id": enterprise_id, "name": f"Org {enterprise_id}"}


def _who(
    payload: JsonDict,
    user_id: str,
    *,
    team_id: str | None,
    user_team_id: str | None,
    enterprise_id: str | None,
    is_enterprise_install: bool,
) -> JsonDict:
    """``user``, ``team``, ``enterprise`` and ``is_enterprise_install`` of an interaction.

    ``team_id`` is where the interaction happened (in a Slack Connect channel, the workspace
    whose installation posted the message); ``user_team_id`` the person's own workspace or org
    (default: the same team).
    """
    payload["user"] = _user(user_id, team_id if user_team_id is None else user_team_id)
    payload["team"] = _team(team_id, enterprise_id)
    payload["enterprise"] = _enterprise(enterprise_id)
    payload["is_enterprise_install"] = is_enterprise_install
    return payload


def _plain_text(text: str) -> JsonDict:
    return {"type": "plain_text", "text": text, "emoji": True}


def _option(value: str, text: str | None) -> JsonDict:
    return {"text": _plain_text(text if text is not None else value), "value": value}


def _form(payload: JsonDict) -> str:
    return urlencode({"payload": json.dumps(payload)})


# -- state.values entries ------------------------------------------------------------------


def text_value(value: str | None) -> JsonDict:
    """A plain_text_input's state value; None is what Slack sends for an empty optional input."""
    return {"type": "plain_text_input", "value": value}


def static_select_value(value: str | None, text: str | None = None) -> JsonDict:
    """A static_select's state value; None means nothing chosen."""
    selected = _option(value, text) if value is not None else None
    return {"type": "static_select", "selected_option": selected}


def external_select_value(value: str | None, text: str | None = None) -> JsonDict:
    """An external_select's state value; None means nothing chosen."""
    selected = _option(value, text) if value is not None else None
    return {"type": "external_select", "selected_option": selected}


# -- signing and sending -------------------------------------------------------------------


def content_type_for(body: str) -> str:
    """Slack sends interactivity and commands form-encoded, the Events API as JSON."""
    return (
        "application/json" if body.lstrip().startswith("{") else "application/x-www-form-urlencoded"
    )


def sign(body: str, secret: str, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends with ``body``: timestamp, v0 HMAC-SHA256 signature, content type."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    signature = SignatureVerifier(secret).generate_signature(timestamp=ts, body=body)
    assert signature is not None  # only None when the timestamp is None
    return {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature,
        "Content-Type": content_type_for(body),
    }


def post_signed(
    base_url: str,
    body: str,
    *,
    secret: str,
    timestamp: int | None = None,
    extra_headers: dict[str, str] | None = None,
    path: str = "/slack/events",
    timeout: float = 10,
) -> tuple[int, dict[str, str], str]:
    """POST a signed body to a running server; returns (status, headers, body text).

    A stale request is ``timestamp=int(time.time()) - 600``; a forged one is a wrong ``secret``.
    """
    headers = {**sign(body, secret, timestamp), **(extra_headers or {})}
    request = urllib.request.Request(
        base_url.rstrip("/") + path, data=body.encode("utf-8"), headers=headers, method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return (
                response.status,
                dict(response.headers.items()),
                response.read().decode("utf-8"),
            )
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers.items()), error.read().decode("utf-8")


def bolt_request(body: str, *, secret: str, timestamp: int | None = None) -> BoltRequest:
    """A signed BoltRequest for ``App.dispatch``: the real app, without an HTTP server."""
    from slack_bolt.request import BoltRequest

    return BoltRequest(body=body, headers=dict(sign(body, secret, timestamp)))


# -- slash commands ------------------------------------------------------------------------


def slash_command(
    user_id: str,
    text: str = "",
    *,
    command: str = "/payments",
    team_id: str = TEAM_ID,
    team_domain: str = TEAM_DOMAIN,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
    channel_id: str = "C_PARTNER",
    channel_name: str | None = None,
    user_name: str | None = None,
    response_url: str,
    trigger_id: str | None = None,
) -> str:
    """The form body Slack POSTs when ``user_id`` types ``command text``.

    ``team_id`` (and ``enterprise_id`` under Enterprise Grid) is the workspace the command was
    typed in: the person's own, since Slack offers a command only where the app is installed.
    """
    fields = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "team_domain": team_domain,
        "channel_id": channel_id,
        "channel_name": channel_name or _channel_name(channel_id),
        "user_id": user_id,
        "user_name": user_name or user_id.lower(),
        "command": command,
        "text": text,
        "api_app_id": APP_ID,
        "is_enterprise_install": "true" if is_enterprise_install else "false",
        "response_url": response_url,
        "trigger_id": trigger_id or new_trigger_id(),
    }
    if enterprise_id is not None:
        fields["enterprise_id"] = enterprise_id
        fields["enterprise_name"] = f"Org {enterprise_id}"
    return urlencode(fields)


def _channel_name(channel_id: str) -> str:
    return "directmessage" if channel_id.startswith("D") else channel_id.lower()


# -- interactivity -------------------------------------------------------------------------


def find_element(blocks: list[JsonDict], action_id: str) -> tuple[JsonDict, JsonDict] | None:
    """The (block, element) carrying ``action_id``, wherever Block Kit allows it to sit."""
    for block in blocks:
        candidates = list(block.get("elements") or [])
        for key in ("accessory", "element"):
            if isinstance(block.get(key), dict):
                candidates.append(block[key])
        for element in candidates:
            if isinstance(element, dict) and element.get("action_id") == action_id:
                return block, element
    return None


def _default_block_id(action_id: str) -> str:
    # The contract: a block and its action share a name; an action id may add ":suffix".
    return action_id.split(":", 1)[0]


def _echo_view(
    view: JsonDict,
    *,
    view_id: str,
    team_id: str,
    state_values: dict[str, dict[str, JsonDict]] | None,
    private_metadata: str | None = None,
) -> JsonDict:
    """The view as Slack echoes it in a payload: what the app sent, plus Slack's own fields."""
    sent = copy.deepcopy(view)
    echoed: JsonDict = {
        "type": "modal",
        "blocks": [],
        "private_metadata": "",
        "callback_id": "",
        "title": _plain_text("Payments"),
        "close": None,
        "submit": None,
        "clear_on_close": False,
        "notify_on_close": False,
        "previous_view_id": None,
        "root_view_id": view_id,
        "app_id": APP_ID,
        "external_id": "",
        "app_installed_team_id": team_id,
        "bot_id": BOT_ID,
        **sent,
    }
    echoed["id"] = view_id
    echoed["team_id"] = team_id
    echoed["hash"] = sent.get("hash") or f"{int(time.time())}.{secrets.token_hex(4)}"
    echoed["state"] = {"values": copy.deepcopy(state_values or {})}
    if private_metadata is not None:
        echoed["private_metadata"] = private_metadata
    return echoed


def _action(
    action_id: str,
    value: str | None,
    *,
    block_id: str,
    action_type: str,
    element: JsonDict | None,
    option_text: str | None,
) -> JsonDict:
    action: JsonDict = {
        "action_id": action_id,
        "block_id": block_id,
        "type": action_type,
        "action_ts": _action_ts(),
    }
    if action_type in _OPTION_TYPES:
        if value is None:
            raise ValueError(f"a {action_type} action needs the chosen option's value")
        if option_text is None and element is not None:
            option_text = next(
                (
                    o["text"]["text"]
                    for o in element.get("options") or []
                    if o.get("value") == value
                ),
                None,
            )
        action["selected_option"] = _option(value, option_text)
    elif action_type in _SELECTED_KEYS:
        action[_SELECTED_KEYS[action_type]] = value
    elif action_type in _VALUE_TYPES:
        if action_type == "button":
            text = element.get("text") if element else None
            action["text"] = text or _plain_text(value or action_id)
            if element and element.get("style"):
                action["style"] = element["style"]
        action["value"] = value
    else:
        raise ValueError(f"block_actions builder does not know action type {action_type!r}")
    return action


def block_actions(
    user_id: str,
    action_id: str,
    value: str | None,
    *,
    block_id: str | None = None,
    action_type: str | None = None,
    container: str = "message",
    message: JsonDict | None = None,
    view: JsonDict | None = None,
    channel_id: str | None = None,
    response_url: str | None = None,
    trigger_id: str | None = None,
    option_text: str | None = None,
    state_values: dict[str, dict[str, JsonDict]] | None = None,
    team_id: str | None = TEAM_ID,
    user_team_id: str | None = None,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
    ephemeral: bool = False,
) -> str:
    """The form body Slack POSTs when ``user_id`` uses a button or menu in a message or modal.

    ``ephemeral=True`` is a click in an ephemeral message (a slash command's reply): Slack sends
    ``container.is_ephemeral`` and a ``message_ts`` but not the message itself.

    When the message/view is given and holds the element, its block_id, type, text, style and
    (if ``value`` is None) value are taken from it, as Slack would. For selects, ``value`` is the
    chosen option's value. ``response_url`` defaults to a dead local address (messages only).
    """
    if container not in ("message", "view"):
        raise ValueError("container is 'message' or 'view'")
    if container == "view" and view is None:
        raise ValueError("a view action needs the view it happened in")
    if container == "message" and channel_id is None:
        raise ValueError("a message action needs the channel_id the message is in")

    blocks = (message or {}).get("blocks") if container == "message" else (view or {}).get("blocks")
    found = find_element(list(blocks or []), action_id)
    block, element = found if found is not None else (None, None)
    if block_id is None:
        block_id = (block or {}).get("block_id") or _default_block_id(action_id)
    if action_type is None:
        action_type = (element or {}).get("type") or "button"
    if value is None and element is not None and action_type in _VALUE_TYPES:
        value = element.get("value")

    payload: JsonDict = {
        "type": "block_actions",
        "user": None,
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "container": {},
        "trigger_id": trigger_id or new_trigger_id(),
    }
    _who(
        payload,
        user_id,
        team_id=team_id,
        user_team_id=user_team_id,
        enterprise_id=enterprise_id,
        is_enterprise_install=is_enterprise_install,
    )
    shown_team = team_id or TEAM_ID
    if container == "message":
        assert channel_id is not None
        shown = copy.deepcopy(message) if message is not None else _default_message(shown_team)
        if ephemeral:
            shown.setdefault("ts", _action_ts())
        if not shown.get("ts"):
            raise ValueError("the message needs the ts Slack gave it")
        payload["container"] = {
            "type": "message",
            "message_ts": shown["ts"],
            "channel_id": channel_id,
            "is_ephemeral": ephemeral,
        }
        payload["channel"] = {"id": channel_id, "name": _channel_name(channel_id)}
        if not ephemeral:
            payload["message"] = shown
        payload["state"] = {"values": copy.deepcopy(state_values or {})}
        payload["response_url"] = response_url or UNSET_RESPONSE_URL
    else:
        assert view is not None
        view_id = str(view.get("id") or "V1")
        payload["container"] = {"type": "view", "view_id": view_id}
        payload["view"] = _echo_view(
            view, view_id=view_id, team_id=shown_team, state_values=state_values
        )
    payload["actions"] = [
        _action(
            action_id,
            value,
            block_id=block_id,
            action_type=action_type,
            element=element,
            option_text=option_text,
        )
    ]
    return _form(payload)


def _default_message(team_id: str) -> JsonDict:
    n = next(_sequence)
    return {
        "type": "message",
        "user": BOT_USER_ID,
        "bot_id": BOT_ID,
        "app_id": APP_ID,
        "team": team_id,
        "text": "",
        "ts": f"1700000000.{n:06d}",
        "blocks": [],
    }


def view_submission(
    user_id: str,
    view: JsonDict,
    values: dict[str, dict[str, JsonDict]],
    *,
    view_id: str | None = None,
    private_metadata: str | None = None,
    trigger_id: str | None = None,
    team_id: str | None = TEAM_ID,
    user_team_id: str | None = None,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> str:
    """The form body Slack POSTs when ``user_id`` submits the modal ``view`` with ``values``.

    ``view`` is what the app opened (e.g. FakeSlack.view(id) or the views.open call's view);
    ``values`` is state.values: {block_id: {action_id: text_value(...) | ...select_value(...)}}.
    ``view_id`` defaults to the view's own id, else "V1".
    """
    resolved_id = view_id or str(view.get("id") or "V1")
    payload: JsonDict = {
        "type": "view_submission",
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "trigger_id": trigger_id or new_trigger_id(),
        "view": _echo_view(
            view,
            view_id=resolved_id,
            team_id=team_id or TEAM_ID,
            state_values=values,
            private_metadata=private_metadata,
        ),
        "response_urls": [],
    }
    _who(
        payload,
        user_id,
        team_id=team_id,
        user_team_id=user_team_id,
        enterprise_id=enterprise_id,
        is_enterprise_install=is_enterprise_install,
    )
    return _form(payload)


def block_suggestion(
    user_id: str,
    action_id: str,
    value: str,
    *,
    block_id: str | None = None,
    view: JsonDict,
    state_values: dict[str, dict[str, JsonDict]] | None = None,
    team_id: str | None = TEAM_ID,
    user_team_id: str | None = None,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> str:
    """The form body Slack POSTs to load an external_select's options as ``user_id`` types.

    ``state_values`` is what the modal's other inputs hold at that moment (Slack includes it).
    """
    if block_id is None:
        found = find_element(list(view.get("blocks") or []), action_id)
        block_id = (found[0].get("block_id") if found else None) or _default_block_id(action_id)
    view_id = str(view.get("id") or "V1")
    payload: JsonDict = {
        "type": "block_suggestion",
        "container": {"type": "view", "view_id": view_id},
        "api_app_id": APP_ID,
        "token": VERIFICATION_TOKEN,
        "action_id": action_id,
        "block_id": block_id,
        "value": value,
        "view": _echo_view(
            view, view_id=view_id, team_id=team_id or TEAM_ID, state_values=state_values
        ),
    }
    _who(
        payload,
        user_id,
        team_id=team_id,
        user_team_id=user_team_id,
        enterprise_id=enterprise_id,
        is_enterprise_install=is_enterprise_install,
    )
    return _form(payload)


# -- events ----------------------------------------------------------------------------------


def event_callback(
    event: JsonDict,
    *,
    team_id: str = TEAM_ID,
    enterprise_id: str | None = None,
    authorizations: list[JsonDict] | None = None,
    is_ext_shared_channel: bool = False,
) -> str:
    """The JSON body of an Events API delivery of ``event``.

    ``team_id`` / ``enterprise_id`` and ``authorizations`` name the installation the event is
    delivered for (default: one bot authorization of ``team_id``); in a shared channel the
    person's team is only in ``event.user_team`` / ``event.team``.
    """
    if authorizations is None:
        authorizations = [
            {
                "enterprise_id": enterprise_id,
                "team_id": team_id,
                "user_id": BOT_USER_ID,
                "is_bot": True,
                "is_enterprise_install": False,
            }
        ]
    body: JsonDict = {
        "token": VERIFICATION_TOKEN,
        "team_id": team_id,
        "enterprise_id": enterprise_id,
        "api_app_id": APP_ID,
        "event": event,
        "type": "event_callback",
        "event_id": f"Ev{next(_sequence):08d}",
        "event_time": int(time.time()),
        "authorizations": authorizations,
        "is_ext_shared_channel": is_ext_shared_channel,
        "event_context": f"4-{secrets.token_hex(8)}",
    }
    return json.dumps(body)


def decode_payload(body: str) -> JsonDict:
    """The JSON payload inside a ``payload=...`` form body (for asserting on what was built)."""
    return json.loads(parse_qs(body)["payload"][0])  # type: ignore[no-any-return]
