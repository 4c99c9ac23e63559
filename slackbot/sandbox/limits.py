"""Slack's Block Kit limits, checked on every payload the sandbox shows: what Slack would refuse.

The same limits tests/slack/test_views_limits.py enforces on the view builders, but collecting
every problem (``path: what is wrong``) instead of stopping at the first, so the page can show
them all beside the surface they belong to. Lengths count UTF-16 code units, as Slack does.
A block or element type this checker does not know is itself a problem: it is shown, never
passed over silently.
"""

from __future__ import annotations

import unicodedata
from typing import Any

MESSAGE_BLOCKS = 50
VIEW_BLOCKS = 100
_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_VIEW_KEYS = {
    "type",
    "callback_id",
    "title",
    "submit",
    "close",
    "private_metadata",
    "blocks",
    "external_id",
    "clear_on_close",
    "notify_on_close",
}


def units(text: str) -> int:
    """Slack's length of ``text``: UTF-16 code units (an emoji counts two)."""
    return len(text.encode("utf-16-le")) // 2


class _Checker:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def need(self, condition: bool, path: str, problem: str) -> bool:
        if not condition:
            self.problems.append(f"{path}: {problem}")
        return condition

    def length(self, value: Any, limit: int, path: str, *, allow_empty: bool = False) -> None:
        if not self.need(isinstance(value, str), path, f"expected text, got {_kind(value)}"):
            return
        self.need(allow_empty or value != "", path, "is empty")
        self.need(units(value) <= limit, path, f"is {units(value)} long; Slack allows {limit}")

    def keys(self, obj: dict[str, Any], allowed: set[str], path: str) -> None:
        unknown = sorted(set(obj) - allowed)
        self.need(not unknown, path, f"has keys Slack does not know here: {unknown}")

    def text(self, obj: Any, path: str, limit: int = 3000, *, plain_only: bool = False) -> None:
        if not self.need(isinstance(obj, dict), path, "a text object must be an object"):
            return
        kind = obj.get("type")
        if not self.need(kind in ("plain_text", "mrkdwn"), path, f"unknown text type {kind!r}"):
            return
        self.need(not (plain_only and kind != "plain_text"), path, "must be plain_text")
        allowed = (
            {"type", "text", "emoji"} if kind == "plain_text" else {"type", "text", "verbatim"}
        )
        self.keys(obj, allowed, path)
        value = obj.get("text")
        self.length(value, limit, f"{path}.text")
        if isinstance(value, str):
            bad = next(
                (c for c in value if c in _BIDI or (c != "\n" and unicodedata.category(c) == "Cc")),
                None,
            )
            self.need(bad is None, f"{path}.text", f"contains control U+{ord(bad or ' '):04X}")

    def option(self, option: Any, path: str) -> None:
        if not self.need(isinstance(option, dict), path, "an option must be an object"):
            return
        self.keys(option, {"text", "value", "description", "url"}, path)
        self.text(option.get("text"), f"{path}.text", 75, plain_only=True)
        self.length(option.get("value"), 150, f"{path}.value")
        if "description" in option:
            self.text(option["description"], f"{path}.description", 75, plain_only=True)

    def options(self, options: Any, path: str) -> list[Any]:
        if not self.need(isinstance(options, list), path, "options must be a list"):
            return []
        self.need(len(options) <= 100, path, f"has {len(options)} options; Slack allows 100")
        for i, option in enumerate(options):
            self.option(option, f"{path}[{i}]")
        values = [o.get("value") for o in options if isinstance(o, dict)]
        self.need(len(values) == len(set(values)), path, "option values repeat")
        return list(options)

    def confirm(self, confirm: Any, path: str) -> None:
        if not self.need(isinstance(confirm, dict), path, "a confirm dialog must be an object"):
            return
        self.keys(confirm, {"title", "text", "confirm", "deny", "style"}, path)
        self.text(confirm.get("title"), f"{path}.title", 100, plain_only=True)
        self.text(confirm.get("text"), f"{path}.text", 300)
        self.text(confirm.get("confirm"), f"{path}.confirm", 30, plain_only=True)
        self.text(confirm.get("deny"), f"{path}.deny", 30, plain_only=True)

    def element(self, element: Any, path: str, action_ids: set[str]) -> None:
        if not self.need(isinstance(element, dict), path, "an element must be an object"):
            return
        kind = element.get("type")
        action_id = element.get("action_id")
        if action_id is not None:
            self.length(action_id, 255, f"{path}.action_id")
            self.need(action_id not in action_ids, f"{path}.action_id", f"{action_id!r} repeats")
            action_ids.add(str(action_id))
        if "placeholder" in element:
            self.text(element["placeholder"], f"{path}.placeholder", 150, plain_only=True)
        if "confirm" in element:
            self.confirm(element["confirm"], f"{path}.confirm")
        if kind == "button":
            self.keys(
                element,
                {
                    "type",
                    "text",
                    "action_id",
                    "value",
                    "style",
                    "confirm",
                    "url",
                    "accessibility_label",
                },
                path,
            )
            self.text(element.get("text"), f"{path}.text", 75, plain_only=True)
            if "value" in element:
                self.length(element["value"], 2000, f"{path}.value")
            self.need(
                element.get("style") in (None, "primary", "danger"), f"{path}.style", "unknown"
            )
        elif kind == "static_select":
            self.keys(
                element,
                {
                    "type",
                    "action_id",
                    "placeholder",
                    "options",
                    "option_groups",
                    "initial_option",
                    "confirm",
                    "focus_on_load",
                },
                path,
            )
            self.need(
                ("options" in element) != ("option_groups" in element),
                path,
                "needs exactly one of options and option_groups",
            )
            offered = list(self.options(element.get("options", []), f"{path}.options"))
            self.need("option_groups" in element or bool(offered), f"{path}.options", "is empty")
            for g, group in enumerate(element.get("option_groups") or []):
                gpath = f"{path}.option_groups[{g}]"
                if isinstance(group, dict):
                    self.text(group.get("label"), f"{gpath}.label", 75, plain_only=True)
                    offered += self.options(group.get("options", []), f"{gpath}.options")
            self.need(len(offered) <= 100, path, f"offers {len(offered)} options; Slack allows 100")
            if "initial_option" in element:
                self.option(element["initial_option"], f"{path}.initial_option")
                self.need(
                    element["initial_option"] in offered,
                    f"{path}.initial_option",
                    "is not exactly one of the options",
                )
        elif kind == "external_select":
            self.keys(
                element,
                {
                    "type",
                    "action_id",
                    "placeholder",
                    "min_query_length",
                    "initial_option",
                    "confirm",
                    "focus_on_load",
                },
                path,
            )
            minimum = element.get("min_query_length", 0)
            self.need(isinstance(minimum, int) and minimum >= 0, path, "min_query_length")
            if "initial_option" in element:
                self.option(element["initial_option"], f"{path}.initial_option")
        elif kind == "plain_text_input":
            self.keys(
                element,
                {
                    "type",
                    "action_id",
                    "placeholder",
                    "initial_value",
                    "multiline",
                    "min_length",
                    "max_length",
                    "dispatch_action_config",
                    "focus_on_load",
                },
                path,
            )
            max_length = element.get("max_length", 3000)
            self.need(
                isinstance(max_length, int) and 1 <= max_length <= 3000, path, "max_length 1..3000"
            )
            if "initial_value" in element and isinstance(max_length, int):
                self.length(
                    element["initial_value"],
                    min(3000, max_length),
                    f"{path}.initial_value",
                    allow_empty=True,
                )
            config = element.get("dispatch_action_config")
            if config is not None:
                triggers = config.get("trigger_actions_on") if isinstance(config, dict) else None
                self.need(
                    isinstance(triggers, list)
                    and bool(triggers)
                    and set(triggers) <= {"on_enter_pressed", "on_character_entered"},
                    f"{path}.dispatch_action_config",
                    "trigger_actions_on must list on_enter_pressed and/or on_character_entered",
                )
        else:
            self.problems.append(f"{path}: element type {kind!r} is not one the sandbox knows")

    def block(self, block: Any, path: str, block_ids: set[str], *, in_modal: bool) -> None:
        if not self.need(isinstance(block, dict), path, "a block must be an object"):
            return
        kind = block.get("type")
        if "block_id" in block:
            block_id = block["block_id"]
            self.length(block_id, 255, f"{path}.block_id")
            self.need(block_id not in block_ids, f"{path}.block_id", f"{block_id!r} repeats")
            block_ids.add(str(block_id))
        action_ids: set[str] = set()
        if kind == "section":
            self.keys(block, {"type", "block_id", "text", "fields", "accessory"}, path)
            self.need("text" in block or "fields" in block, path, "a section needs text or fields")
            if "text" in block:
                self.text(block["text"], f"{path}.text", 3000)
            fields = block.get("fields")
            if fields is not None and self.need(
                isinstance(fields, list), f"{path}.fields", "must be a list"
            ):
                self.need(
                    1 <= len(fields) <= 10,
                    f"{path}.fields",
                    f"has {len(fields)} fields; Slack allows 1 to 10",
                )
                for i, field in enumerate(fields):
                    self.text(field, f"{path}.fields[{i}]", 2000)
            if "accessory" in block:
                self.element(block["accessory"], f"{path}.accessory", action_ids)
        elif kind == "header":
            self.keys(block, {"type", "block_id", "text"}, path)
            self.text(block.get("text"), f"{path}.text", 150, plain_only=True)
        elif kind == "context":
            self.keys(block, {"type", "block_id", "elements"}, path)
            elements = block.get("elements") or []
            self.need(1 <= len(elements) <= 10, f"{path}.elements", f"has {len(elements)} elements")
            for i, element in enumerate(elements):
                self.text(element, f"{path}.elements[{i}]", 3000)
        elif kind == "actions":
            self.keys(block, {"type", "block_id", "elements"}, path)
            elements = block.get("elements") or []
            self.need(1 <= len(elements) <= 25, f"{path}.elements", f"has {len(elements)} elements")
            for i, element in enumerate(elements):
                self.element(element, f"{path}.elements[{i}]", action_ids)
        elif kind == "input":
            self.need(in_modal, path, "an input block belongs in a modal or Home, not a message")
            self.keys(
                block,
                {"type", "block_id", "label", "element", "hint", "optional", "dispatch_action"},
                path,
            )
            self.text(block.get("label"), f"{path}.label", 2000, plain_only=True)
            if "hint" in block:
                self.text(block["hint"], f"{path}.hint", 2000, plain_only=True)
            self.element(block.get("element"), f"{path}.element", action_ids)
        elif kind == "divider":
            self.keys(block, {"type", "block_id"}, path)
        else:
            self.problems.append(f"{path}: block type {kind!r} is not one the sandbox knows")

    def blocks(self, blocks: Any, limit: int, path: str, *, in_modal: bool) -> None:
        if not self.need(isinstance(blocks, list), path, "blocks must be a list"):
            return
        self.need(len(blocks) <= limit, path, f"has {len(blocks)} blocks; Slack allows {limit}")
        block_ids: set[str] = set()
        for i, block in enumerate(blocks):
            self.block(block, f"{path}[{i}]", block_ids, in_modal=in_modal)


def _kind(value: Any) -> str:
    return "nothing" if value is None else type(value).__name__


def message_problems(message: Any, path: str = "message") -> list[str]:
    """What Slack would refuse in a message (chat.postMessage/update, a reply, a response_url)."""
    checker = _Checker()
    if not checker.need(isinstance(message, dict), path, "a message must be an object"):
        return checker.problems
    text, blocks = message.get("text"), message.get("blocks")
    if text is not None:
        checker.length(text, 40000, f"{path}.text", allow_empty=True)
    checker.need(bool(text) or bool(blocks), path, "has neither text nor blocks (no_text)")
    if blocks and not text:
        # Slack accepts it, but warns: notifications and screen readers then show nothing.
        checker.problems.append(f"{path}.text: missing; Slack wants a text fallback with blocks")
    if blocks is not None:
        checker.blocks(blocks, MESSAGE_BLOCKS, f"{path}.blocks", in_modal=False)
    return checker.problems


def view_problems(view: Any, path: str = "view") -> list[str]:
    """What Slack would refuse in a modal or Home view (views.open/push/update/publish)."""
    checker = _Checker()
    if not checker.need(isinstance(view, dict), path, "a view must be an object"):
        return checker.problems
    kind = view.get("type")
    checker.need(kind in ("modal", "home"), f"{path}.type", f"{kind!r}: must be modal or home")
    checker.keys(view, _VIEW_KEYS | {"id", "hash", "state"}, path)
    if kind == "modal":
        checker.text(view.get("title"), f"{path}.title", 24, plain_only=True)
        for key in ("submit", "close"):
            if view.get(key) is not None:
                checker.text(view[key], f"{path}.{key}", 24, plain_only=True)
    if "callback_id" in view:
        checker.length(view["callback_id"], 255, f"{path}.callback_id", allow_empty=True)
    if "private_metadata" in view:
        checker.length(view["private_metadata"], 3000, f"{path}.private_metadata", allow_empty=True)
    blocks = view.get("blocks")
    checker.blocks(blocks, VIEW_BLOCKS, f"{path}.blocks", in_modal=True)
    if kind == "modal" and isinstance(blocks, list):
        has_input = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        checker.need(
            not has_input or bool(view.get("submit")), path, "a modal with inputs needs submit"
        )
    return checker.problems


def options_problems(answer: Any, path: str = "options") -> list[str]:
    """What Slack would refuse in an options load's answer (at most 100 options)."""
    checker = _Checker()
    if not checker.need(isinstance(answer, dict), path, "the answer must be an object"):
        return checker.problems
    if "option_groups" in answer:
        for g, group in enumerate(answer.get("option_groups") or []):
            checker.options((group or {}).get("options", []), f"{path}.option_groups[{g}]")
    else:
        checker.options(answer.get("options", []), f"{path}.options")
    return checker.problems
