"""The sandbox page, a WSGI app: what a person does on it becomes the request Slack would send.

A typed ``/payments …`` is a signed slash command; a click a signed ``block_actions`` (from a
message, an ephemeral reply with its response_url, a modal or the Home tab); a modal's submit
a ``view_submission`` whose ``response_action`` the page applies (errors inline, update, push,
clear); typing in an external select a ``block_suggestion``; opening Home ``app_home_opened``.
What the bot answers or calls back lands in the stand-in Web API, which the page draws.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlencode

from slackbot.sandbox import layout, limits, signed
from slackbot.sandbox.example_data import PEOPLE
from slackbot.sandbox.signed import BotDoor
from slackbot.sandbox.webapi import ResponseTarget, Workspace

JsonDict = dict[str, Any]
StartResponse = Callable[..., Any]
STATIC = Path(__file__).with_name("static")
_STATIC_TYPES = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
# After a click, how long the page waits for the bot's calls before drawing the result.
SETTLE_SECONDS = 1.5
REQUIRED = "Please complete this required field."


class SandboxPage:
    """The page's routes, over one workspace (the stand-in's state) and the bot's door."""

    def __init__(self, workspace: Workspace, bot: BotDoor, api_base: str) -> None:
        self.workspace = workspace
        self.bot = bot
        self.api_base = api_base
        self.people = {p.user_id: p for p in PEOPLE}
        self._notices: dict[str, str] = {}

    # -- WSGI ---------------------------------------------------------------------------------

    def __call__(self, environ: JsonDict, start_response: StartResponse) -> Iterable[bytes]:
        method, path = environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", "/")
        query = {k: v[0] for k, v in parse_qs(environ.get("QUERY_STRING", "")).items()}
        try:
            if method == "GET" and path == "/":
                return self._page(query, start_response)
            if method == "GET" and path == "/part":
                return self._part(query, start_response)
            if method == "GET" and path == "/poll":
                return self._poll(query, start_response)
            if method == "GET" and path.startswith("/static/"):
                return self._static(path.removeprefix("/static/"), start_response)
            if method == "POST" and path in ("/slash", "/act", "/view", "/options"):
                form = _read_form(environ)
                user = layout.known_person(form.get("as"), self.people)
                if path == "/options":
                    return _send(
                        start_response,
                        "200 OK",
                        "application/json",
                        json.dumps(self.options(user, form)),
                    )
                action = {"/slash": self.slash, "/act": self.act, "/view": self.submit_view}[path]
                before = self.workspace.version
                notice = action(user, form)
                if notice:
                    self._notices[user] = notice
                self._settle(before)
                target = "/?" + urlencode({"as": user, "pane": form.get("pane") or "dm"})
                start_response("303 See Other", [("Location", target), ("Content-Length", "0")])
                return [b""]
        except (ValueError, KeyError, TypeError) as error:
            return _send(start_response, "400 Bad Request", "text/plain", f"bad request: {error}")
        return _send(start_response, "404 Not Found", "text/plain", "not found")

    def _settle(self, before: int) -> None:
        """Wait for the bot's calls a click causes (listeners run after their ack), briefly."""
        deadline = time.monotonic() + SETTLE_SECONDS
        seen = self.workspace.wait_for_change(before, SETTLE_SECONDS)
        # A click often causes several calls (views.open, then an update): wait for a lull.
        while time.monotonic() < deadline:
            later = self.workspace.wait_for_change(seen, 0.15)
            if later == seen:
                return
            seen = later

    def _page(self, query: dict[str, str], start_response: StartResponse) -> Iterable[bytes]:
        user = layout.known_person(query.get("as"), self.people)
        pane = query.get("pane") if query.get("pane") in layout.PANES else "dm"
        assert pane is not None
        if pane == "home":
            # Opening the tab is what makes Slack send app_home_opened.
            threading.Thread(
                target=self.bot.event, args=(signed.app_home_opened(user),), daemon=True
            ).start()
        notice = self._notices.pop(user, "")
        text = layout.page_html(
            self.workspace, user, pane, version=self.workspace.version, notice=notice
        )
        return _send(start_response, "200 OK", "text/html", text)

    def _part(self, query: dict[str, str], start_response: StartResponse) -> Iterable[bytes]:
        user = layout.known_person(query.get("as"), self.people)
        pane = query.get("pane") if query.get("pane") in layout.PANES else "dm"
        assert pane is not None
        text = layout.part_json(self.workspace, user, pane, self.workspace.version)
        return _send(start_response, "200 OK", "application/json", text)

    def _poll(self, query: dict[str, str], start_response: StartResponse) -> Iterable[bytes]:
        since = int(query.get("since") or 0)
        version = self.workspace.wait_for_change(since, 10.0)
        return _send(start_response, "200 OK", "application/json", json.dumps({"version": version}))

    def _static(self, name: str, start_response: StartResponse) -> Iterable[bytes]:
        path = STATIC / name
        if "/" in name or path.suffix not in _STATIC_TYPES or not path.is_file():
            return _send(start_response, "404 Not Found", "text/plain", "not found")
        return _send(start_response, "200 OK", _STATIC_TYPES[path.suffix], path.read_text())

    # -- what a person does -------------------------------------------------------------------

    def _system_reply(self, user: str, channel: str, text: str) -> None:
        self.workspace.add_ephemeral(user, channel, {"text": f"*Sandbox:* {text}"})

    def slash(self, user: str, form: dict[str, str]) -> str:
        typed = form.get("text", "").strip()
        pane = form.get("pane") or "dm"
        channel = layout.channel_of(pane, user)
        if not typed:
            return ""
        command, _, text = typed.partition(" ")
        if command != "/payments":
            self._system_reply(
                user,
                channel,
                f"`{command[:40]}` is not a command here; the bot offers `/payments`.",
            )
            return ""
        response_url = self.workspace.new_response_url(self.api_base, ResponseTarget(user, channel))
        fields = signed.slash_command(
            user,
            text.strip(),
            channel=channel,
            response_url=response_url,
            trigger_id=self.workspace.new_trigger(user),
        )
        status, answer = self.bot.form(fields)
        self._show_ack(user, channel, status, answer)
        return ""

    def _show_ack(self, user: str, channel: str, status: int, answer: Any) -> None:
        if status != 200:
            self._system_reply(
                user,
                channel,
                f"the bot answered HTTP {status}: {str(answer)[:300]}"
                " (Slack would show “/payments failed”)",
            )
        elif isinstance(answer, dict) and (answer.get("text") or answer.get("blocks")):
            if answer.get("response_type") == "in_channel":
                self.workspace.answer(
                    "chat.postMessage",
                    {**answer, "channel": channel},
                    "Bearer " + self.workspace.token,
                )
            else:
                self.workspace.add_ephemeral(user, channel, answer)

    def act(self, user: str, form: dict[str, str]) -> str:
        intent = json.loads(form["intent"])
        surface = form.get("surface", "")
        trigger = self.workspace.new_trigger(user)
        if surface == "home":
            with self.workspace.lock:
                home = dict(self.workspace.homes.get(user) or {})
            if not home:
                return "That Home is gone."
            action = self._action(intent, form, home)
            status, answer = self.bot.interactive(
                signed.view_action(user, action, view=home, trigger_id=trigger)
            )
            return _failure(status, answer)
        channel = form["channel"]
        message, reply = None, None
        target = ResponseTarget(user, channel)
        if surface == "eph":
            reply = self.workspace.ephemeral(form.get("key", ""))
            if reply is None:
                return "That reply is gone."
            target.ephemeral_key = reply.key
        else:
            message = self.workspace.message(channel, form.get("ts", ""))
            if message is None:
                return "That message was deleted."
            target.message_ts = message["ts"]
        shown = message if message is not None else reply.message if reply else None
        payload = signed.message_action(
            user,
            self._action(intent, form, shown),
            channel=channel,
            message=message,
            ephemeral_ts=None,
            response_url=self.workspace.new_response_url(self.api_base, target),
            trigger_id=trigger,
        )
        status, answer = self.bot.interactive(payload)
        return _failure(status, answer)

    def _action(
        self, intent: JsonDict, form: dict[str, str], view: JsonDict | None = None
    ) -> JsonDict:
        """The ``actions[0]`` Slack sends for a click, a choice or an Enter."""
        kind = str(intent.get("type") or "button")
        action: JsonDict = {
            "action_id": str(intent.get("action_id", "")),
            "block_id": str(intent.get("block_id", "")),
            "type": kind,
            "action_ts": f"{time.time():.6f}",
        }
        if kind == "button":
            element = _element(view, action["block_id"], action["action_id"]) if view else None
            action["text"] = (element or {}).get("text") or {"type": "plain_text", "text": ""}
            if intent.get("value") is not None:
                action["value"] = intent["value"]
        elif kind in ("static_select", "external_select"):
            value = str(intent.get("value") or form.get(f"in|{action['block_id']}", ""))
            text = form.get(f"t|{action['block_id']}") or value
            if view is not None:
                found = _element(view, action["block_id"], action["action_id"])
                option = next((o for o in _options(found) if str(o.get("value")) == value), None)
                text = render_text(option) or text
            action["selected_option"] = _option(text, value)
        elif kind == "plain_text_input":
            action["value"] = str(intent.get("value") or form.get(f"in|{action['block_id']}", ""))
        return action

    # -- modals -------------------------------------------------------------------------------

    def _state(self, view: JsonDict, form: dict[str, str]) -> tuple[JsonDict, dict[str, str]]:
        """``state.values`` from the form, and the required inputs left empty."""
        values: JsonDict = {}
        missing: dict[str, str] = {}
        for index, block in enumerate(view.get("blocks") or []):
            if not isinstance(block, dict) or block.get("type") != "input":
                continue
            block_id = str(block.get("block_id") or f"#{index}")
            element = block.get("element") or {}
            kind, action_id = element.get("type"), str(element.get("action_id") or "")
            raw = form.get(f"in|{block_id}", "")
            if kind == "plain_text_input":
                state: JsonDict = {"type": kind, "value": raw or None}
            elif kind in ("static_select", "external_select"):
                text = form.get(f"t|{block_id}") or raw
                option = next((o for o in _options(element) if str(o.get("value")) == raw), None)
                chosen = _option(render_text(option) or text, raw) if raw else None
                state = {"type": kind, "selected_option": chosen}
            else:
                continue
            values[block_id] = {action_id: state}
            if not raw.strip() and not block.get("optional"):
                missing[block_id] = REQUIRED
        return values, missing

    def submit_view(self, user: str, form: dict[str, str]) -> str:
        view_id = form.get("view_id", "")
        view = self.workspace.view(view_id)
        if view is None or view.get("_user") != user:
            return "That modal is closed."
        values, missing = self._state(view, form)
        intent = form.get("intent", "submit")
        if intent == "close":
            self.workspace.close_views(user)
            return ""
        view["state"] = {"values": values}
        if intent != "submit":
            self.workspace.set_view_state(view_id, values, {})
            action = self._action(json.loads(intent), form, view)
            status, answer = self.bot.interactive(
                signed.view_action(
                    user, action, view=view, trigger_id=self.workspace.new_trigger(user)
                )
            )
            return _failure(status, answer)
        if missing:
            # Slack checks required inputs itself and never sends the submission.
            self.workspace.set_view_state(view_id, values, missing)
            return ""
        self.workspace.set_view_state(view_id, values, {})
        status, answer = self.bot.interactive(
            signed.view_submission(user, view, trigger_id=self.workspace.new_trigger(user))
        )
        if status != 200:
            self.workspace.set_view_state(
                view_id,
                values,
                {"": f"We had some trouble connecting (the bot answered {status})."},
            )
            return f"The bot answered HTTP {status} to the submission; Slack would keep the modal."
        return self._apply_response(user, view, values, answer)

    def _apply_response(self, user: str, view: JsonDict, values: JsonDict, answer: Any) -> str:
        action = answer.get("response_action") if isinstance(answer, dict) else None
        view_id = str(view["id"])
        if action == "errors":
            errors = {str(k): str(v) for k, v in (answer.get("errors") or {}).items()}
            inputs = {bid for bid in values}
            unknown = sorted(set(errors) - inputs)
            if unknown:
                errors[""] = f"response_action errors names blocks that are not inputs: {unknown}"
            self.workspace.set_view_state(view_id, values, errors)
            return ""
        if action in ("update", "push"):
            new = answer.get("view")
            if not isinstance(new, dict):
                return "The bot answered response_action without a view; Slack refuses that."
            self.workspace.replace_view(user, view_id, new, push=action == "push")
            return ""
        if action == "clear":
            self.workspace.close_views(user, all_of_them=True)
            return ""
        self.workspace.close_views(user)
        return ""

    def options(self, user: str, form: dict[str, str]) -> JsonDict:
        """An external select's options load: a signed block_suggestion, its answer, checked."""
        view = self.workspace.view(form.get("view_id", ""))
        if view is None or view.get("_user") != user:
            return {"options": [], "problems": ["that modal is closed"]}
        values, _missing = self._state(view, form)
        view["state"] = {"values": values}
        block_id = form.get("block_id", "")
        element = _element(view, block_id, None) or {}
        payload = signed.block_suggestion(
            user,
            view=view,
            block_id=block_id,
            action_id=str(element.get("action_id") or ""),
            typed=form.get("typed", "")[:500],
        )
        status, answer = self.bot.interactive(payload)
        if status != 200 or not isinstance(answer, dict):
            return {"options": [], "problems": [f"the options load answered HTTP {status}"]}
        problems = limits.options_problems(answer)
        options = list(answer.get("options") or [])
        for group in answer.get("option_groups") or []:
            options += list((group or {}).get("options") or [])
        shown = [{"text": render_text(o), "value": str(o.get("value", ""))} for o in options]
        return {"options": shown, "problems": problems}


def render_text(option: Any) -> str:
    if not isinstance(option, dict):
        return ""
    text = option.get("text")
    return str(text.get("text", "")) if isinstance(text, dict) else ""


def _option(text: str, value: str) -> JsonDict:
    return {"text": {"type": "plain_text", "text": text, "emoji": True}, "value": value}


def _options(element: Any) -> list[JsonDict]:
    if not isinstance(element, dict):
        return []
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found += list((group or {}).get("options") or [])
    return found


def _element(view: JsonDict | None, block_id: str, action_id: str | None) -> JsonDict | None:
    for index, block in enumerate((view or {}).get("blocks") or []):
        if not isinstance(block, dict) or str(block.get("block_id") or f"#{index}") != block_id:
            continue
        candidates = list(block.get("elements") or [])
        candidates += [block[k] for k in ("element", "accessory") if isinstance(block.get(k), dict)]
        for element in candidates:
            if isinstance(element, dict) and action_id in (None, element.get("action_id")):
                return element
    return None


def _failure(status: int, answer: Any) -> str:
    if status == 200:
        return ""
    return f"The bot answered HTTP {status}: {str(answer)[:300]}"


def _read_form(environ: JsonDict) -> dict[str, str]:
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > 1_000_000:
        raise ValueError("the form is too large")
    body = environ["wsgi.input"].read(length).decode("utf-8") if length > 0 else ""
    return {k: v[0] for k, v in parse_qs(body, keep_blank_values=True).items()}


def _send(start_response: StartResponse, status: str, kind: str, text: str) -> list[bytes]:
    data = text.encode("utf-8")
    content_type = kind if "charset" in kind else f"{kind}; charset=utf-8"
    start_response(
        status,
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(data))),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    return [data]
