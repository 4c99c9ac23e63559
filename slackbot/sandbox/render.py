"""Block Kit to HTML, as Slack draws it: blocks, elements, mrkdwn, and the problems found in them.

Pure functions of the payload the bot sent (data in, escaped HTML out). A message's or Home's
buttons and selects become small forms posting to the page's ``/act``; a modal is one form
posting to ``/view`` whose inputs are named by their block, so a submission can rebuild
Slack's ``state.values``. A block or element type this renderer does not know is drawn as a
visible "unknown" box holding its JSON, never dropped.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Mapping
from typing import Any

JsonDict = dict[str, Any]

_CONTROL = re.compile(r"<([^<>]*)>")
_BOLD = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]+?)(?<=\S)\*(?![\w*])")
_ITALIC = re.compile(r"(?<![\w_])_(?=\S)([^_\n]+?)(?<=\S)_(?![\w_])")
_STRIKE = re.compile(r"(?<![\w~])~(?=\S)([^~\n]+?)(?<=\S)~(?![\w~])")
_CODE = re.compile(r"`([^`\n]+)`")


def esc(text: Any) -> str:
    return html.escape(str(text), quote=True)


def _slack_unescape(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _styled(text: str) -> str:
    """Slack-escaped plain text (no control sequences) to HTML with mrkdwn's styles."""
    shown = esc(_slack_unescape(text))
    shown = _CODE.sub(r"<code>\1</code>", shown)
    shown = _BOLD.sub(r"<b>\1</b>", shown)
    shown = _ITALIC.sub(r"<i>\1</i>", shown)
    return _STRIKE.sub(r"<s>\1</s>", shown)


def _control(inner: str, names: Mapping[str, str]) -> str:
    target, _, label = inner.partition("|")
    if target.startswith("@"):
        who = target[1:]
        return f'<span class="bk-mention">@{esc(names.get(who, who))}</span>'
    if target.startswith("#"):
        return f'<span class="bk-mention">#{esc(label or target[1:])}</span>'
    if target.startswith("!subteam^"):
        group = target.removeprefix("!subteam^")
        return f'<span class="bk-mention">@{esc(label or names.get(group, group))}</span>'
    if target.startswith("!date^"):
        return esc(_slack_unescape(label or target))
    if target.startswith("!"):
        return f'<span class="bk-mention">@{esc(target[1:])}</span>'
    url = _slack_unescape(target)
    shown = _slack_unescape(label) if label else url
    if not url.startswith(("http://", "https://", "mailto:")):
        return esc(f"<{inner}>")
    return f'<a href="{esc(url)}" rel="noreferrer" target="_blank">{esc(shown)}</a>'


def _line(line: str, names: Mapping[str, str]) -> str:
    """One line of mrkdwn; control sequences become placeholders first, so ``*bold <@U1>*``
    styles across them."""
    drawn: list[str] = []

    def hold(match: re.Match[str]) -> str:
        drawn.append(_control(match.group(1), names))
        return f"\x00{len(drawn) - 1}\x00"

    def put_back(match: re.Match[str]) -> str:
        index = int(match.group(1))
        return drawn[index] if index < len(drawn) else ""

    return re.sub("\x00(\\d+)\x00", put_back, _styled(_CONTROL.sub(hold, line)))


def mrkdwn(text: str, names: Mapping[str, str]) -> str:
    """Slack's mrkdwn (escaped as Slack wants it) to HTML: styles, links, mentions, quotes."""
    lines = []
    for line in str(text).split("\n"):
        quoted = line.startswith("&gt;") or line.startswith(">")
        if quoted:
            line = line.removeprefix("&gt;").removeprefix(">").lstrip()
        joined = _line(line, names)
        lines.append(f'<span class="bk-quote">{joined}</span>' if quoted else joined)
    return "<br>".join(lines)


def text_object(obj: Any, names: Mapping[str, str]) -> str:
    if not isinstance(obj, dict):
        return '<span class="bk-unknown">(no text)</span>'
    if obj.get("type") == "mrkdwn":
        return mrkdwn(str(obj.get("text", "")), names)
    return esc(obj.get("text", "")).replace("\n", "<br>")


def plain(obj: Any) -> str:
    return str(obj.get("text", "")) if isinstance(obj, dict) else ""


def _unknown(what: str, kind: Any, payload: Any) -> str:
    return (
        f'<div class="bk-unknown"><b>Unknown {esc(what)} type {esc(repr(kind))}</b>: the sandbox'
        f" does not draw it; Slack may not either.<pre>{esc(json.dumps(payload, indent=1))}</pre>"
        "</div>"
    )


class Surface:
    """Where blocks are drawn: the hidden fields a click there sends, and people's names."""

    def __init__(
        self,
        hidden: Mapping[str, str],
        names: Mapping[str, str],
        *,
        modal: JsonDict | None = None,
    ) -> None:
        self.hidden = dict(hidden)
        self.names = names
        self.modal = modal
        self.values: JsonDict = (modal or {}).get("state", {}).get("values", {}) if modal else {}
        self.errors: Mapping[str, str] = (modal or {}).get("_errors") or {}

    def fields(self) -> str:
        return "".join(
            f'<input type="hidden" name="{esc(k)}" value="{esc(v)}">'
            for k, v in self.hidden.items()
        )


def _intent(block_id: str, element: JsonDict, value: Any = None) -> str:
    return json.dumps(
        {
            "block_id": block_id,
            "action_id": element.get("action_id", ""),
            "type": element.get("type"),
            "value": element.get("value") if value is None else value,
        }
    )


def _confirm_attr(element: JsonDict) -> str:
    confirm = element.get("confirm")
    if not isinstance(confirm, dict):
        return ""
    shown = {
        "title": plain(confirm.get("title")),
        "text": plain(confirm.get("text")),
        "confirm": plain(confirm.get("confirm")) or "Yes",
        "deny": plain(confirm.get("deny")) or "Cancel",
        "style": confirm.get("style") or "",
    }
    return f' data-confirm="{esc(json.dumps(shown))}"'


def _option_label(option: Any) -> str:
    return plain((option or {}).get("text")) if isinstance(option, dict) else ""


def _options_of(element: JsonDict) -> list[JsonDict]:
    if "option_groups" in element:
        return [o for g in element.get("option_groups") or [] for o in g.get("options") or []]
    return list(element.get("options") or [])


def element_html(element: Any, block_id: str, surface: Surface, *, in_input: bool = False) -> str:
    if not isinstance(element, dict):
        return _unknown("element", type(element).__name__, element)
    kind = element.get("type")
    if kind == "button":
        style = element.get("style") or "default"
        label = esc(plain(element.get("text")))
        if element.get("url"):
            return f'<a class="bk-button bk-{esc(style)}" href="{esc(element["url"])}">{label}</a>'
        button = (
            f'<button type="submit" class="bk-button bk-{esc(style)}" name="intent"'
            f' value="{esc(_intent(block_id, element))}"{_confirm_attr(element)}'
            f' data-action-id="{esc(element.get("action_id", ""))}">{label}</button>'
        )
        if surface.modal is not None:
            return button
        return (
            f'<form method="post" action="/act" class="bk-inline">{surface.fields()}{button}</form>'
        )
    if kind in ("static_select", "external_select"):
        return _select(element, block_id, surface, in_input=in_input)
    if kind == "plain_text_input":
        return _text_input(element, block_id, surface)
    return _unknown("element", kind, element)


def _current(surface: Surface, block_id: str, element: JsonDict) -> JsonDict | None:
    return (surface.values.get(block_id) or {}).get(str(element.get("action_id", "")))


def _select(element: JsonDict, block_id: str, surface: Surface, *, in_input: bool) -> str:
    state = _current(surface, block_id, element)
    chosen = state.get("selected_option") if state is not None else element.get("initial_option")
    chosen_value = str((chosen or {}).get("value", "")) if chosen else ""
    placeholder = esc(plain(element.get("placeholder")) or "Choose an option")
    name = f"in|{block_id}"
    dispatch = "" if in_input else ' data-dispatch="1"'
    intent_base = esc(_intent(block_id, element, ""))
    if element.get("type") == "external_select":
        label = _option_label(chosen)
        minimum = int(element.get("min_query_length", 3) or 0)
        return (
            f'<div class="bk-external" data-block-id="{esc(block_id)}"'
            f' data-action-id="{esc(element.get("action_id", ""))}" data-min="{minimum}"'
            f' data-intent="{intent_base}"{dispatch}>'
            f'<input type="text" class="bk-external-query" name="q|{esc(block_id)}"'
            f' placeholder="{placeholder}" value="{esc(label)}" autocomplete="off">'
            f'<input type="hidden" name="{esc(name)}" value="{esc(chosen_value)}">'
            f'<input type="hidden" name="t|{esc(block_id)}" value="{esc(label)}">'
            '<div class="bk-options" role="listbox"></div></div>'
        )
    options = "".join(
        f'<option value="{esc(o.get("value", ""))}"'
        f"{' selected' if str(o.get('value', '')) == chosen_value else ''}>"
        f"{esc(_option_label(o))}</option>"
        for o in _options_of(element)
    )
    select = (
        f'<select class="bk-select" name="{esc(name)}" data-intent="{intent_base}"{dispatch}>'
        f'<option value="">{placeholder}</option>{options}</select>'
    )
    if surface.modal is not None:
        return select
    return f'<form method="post" action="/act" class="bk-inline">{surface.fields()}{select}</form>'


def _text_input(element: JsonDict, block_id: str, surface: Surface) -> str:
    state = _current(surface, block_id, element)
    value = state.get("value") if state is not None else element.get("initial_value")
    placeholder = esc(plain(element.get("placeholder")))
    name = esc(f"in|{block_id}")
    triggers = (element.get("dispatch_action_config") or {}).get("trigger_actions_on") or []
    enter = ' data-dispatch-enter="1"' if "on_enter_pressed" in triggers else ""
    intent = esc(_intent(block_id, element, ""))
    if element.get("multiline"):
        return (
            f'<textarea class="bk-text" name="{name}" placeholder="{placeholder}"'
            f' data-intent="{intent}">{esc(value or "")}</textarea>'
        )
    return (
        f'<input type="text" class="bk-text" name="{name}" placeholder="{placeholder}"'
        f' value="{esc(value or "")}" data-intent="{intent}"{enter}>'
    )


def block_html(block: Any, index: int, surface: Surface) -> str:
    if not isinstance(block, dict):
        return _unknown("block", type(block).__name__, block)
    kind = block.get("type")
    block_id = str(block.get("block_id") or f"#{index}")
    names = surface.names
    if kind == "section":
        parts = []
        if "text" in block:
            parts.append(f'<div class="bk-text-body">{text_object(block["text"], names)}</div>')
        if block.get("fields"):
            cells = "".join(
                f'<div class="bk-field">{text_object(f, names)}</div>' for f in block["fields"]
            )
            parts.append(f'<div class="bk-fields">{cells}</div>')
        body = f'<div class="bk-section-body">{"".join(parts)}</div>'
        accessory = ""
        if "accessory" in block:
            accessory = (
                '<div class="bk-accessory">'
                f"{element_html(block['accessory'], block_id, surface)}</div>"
            )
        return f'<div class="bk-block bk-section">{body}{accessory}</div>'
    if kind == "header":
        return f'<div class="bk-block bk-header">{text_object(block.get("text"), names)}</div>'
    if kind == "divider":
        return '<hr class="bk-block bk-divider">'
    if kind == "context":
        items = "".join(
            f'<span class="bk-context-item">{text_object(e, names)}</span>'
            if isinstance(e, dict) and e.get("type") in ("mrkdwn", "plain_text")
            else _unknown("context element", (e or {}).get("type"), e)
            for e in block.get("elements") or []
        )
        return f'<div class="bk-block bk-context">{items}</div>'
    if kind == "actions":
        items = "".join(element_html(e, block_id, surface) for e in block.get("elements") or [])
        return f'<div class="bk-block bk-actions">{items}</div>'
    if kind == "input":
        optional = ' <span class="bk-optional">(optional)</span>' if block.get("optional") else ""
        hint = (
            f'<div class="bk-hint">{text_object(block["hint"], names)}</div>'
            if "hint" in block
            else ""
        )
        error = surface.errors.get(block_id)
        shown_error = f'<div class="bk-error" role="alert">{esc(error)}</div>' if error else ""
        element = block.get("element")
        dispatch = bool(block.get("dispatch_action"))
        inner = element_html(element, block_id, surface, in_input=not dispatch)
        return (
            f'<div class="bk-block bk-input{" bk-has-error" if error else ""}"'
            f' data-block-id="{esc(block_id)}"><label class="bk-label">'
            f"{esc(plain(block.get('label')))}{optional}</label>{inner}{shown_error}{hint}</div>"
        )
    return _unknown("block", kind, block)


def blocks_html(blocks: Any, surface: Surface) -> str:
    if not isinstance(blocks, list):
        return _unknown("blocks", type(blocks).__name__, blocks)
    return "".join(block_html(block, i, surface) for i, block in enumerate(blocks))


def problems_html(problems: list[str]) -> str:
    """The visible warning: what Slack would refuse in the payload just drawn."""
    if not problems:
        return ""
    items = "".join(f"<li><code>{esc(p)}</code></li>" for p in problems)
    return (
        '<div class="bk-warning" role="alert"><b>Slack would refuse or mangle this payload'
        f" ({len(problems)} problem{'s' if len(problems) != 1 else ''}):</b><ul>{items}</ul></div>"
    )


def message_html(message: JsonDict, surface: Surface, *, author: str, when: str = "") -> str:
    """One message: its author, its blocks (or its text when it has none), its warnings."""
    blocks = message.get("blocks")
    text = mrkdwn(str(message.get("text", "")), surface.names)
    body = blocks_html(blocks, surface) if blocks else f'<div class="bk-text-body">{text}</div>'
    edited = ' <span class="bk-edited">(edited)</span>' if message.get("edited") else ""
    thread = ' <span class="bk-edited">(in thread)</span>' if message.get("thread_ts") else ""
    problems = problems_html(list(message.get("_problems") or []))
    return (
        f'<div class="msg" data-ts="{esc(message.get("ts", ""))}"><div class="msg-head">'
        f'<b>{esc(author)}</b> <span class="msg-when">{esc(when)}</span>{edited}{thread}</div>'
        f"{problems}{body}</div>"
    )


def modal_html(view: JsonDict, surface: Surface) -> str:
    """The modal on top of a person's stack, as one form posting to ``/view``."""
    submit = plain(view.get("submit")) if view.get("submit") else ""
    close = plain(view.get("close")) or "Cancel"
    problems = problems_html(list(view.get("_problems") or []))
    general = surface.errors.get("")
    top_error = f'<div class="bk-error" role="alert">{esc(general)}</div>' if general else ""
    buttons = (
        f'<button type="submit" name="intent" value="close" class="bk-button">{esc(close)}</button>'
    )
    if submit:
        buttons += (
            f'<button type="submit" name="intent" value="submit" class="bk-button bk-primary"'
            f' id="modal-submit">{esc(submit)}</button>'
        )
    return (
        f'<div class="modal-backdrop"><form class="modal" id="modal-form" method="post"'
        f' action="/view" data-view-id="{esc(view.get("id", ""))}">{surface.fields()}'
        f'<input type="hidden" name="view_id" value="{esc(view.get("id", ""))}">'
        f'<div class="modal-title">{esc(plain(view.get("title")))}</div>{problems}{top_error}'
        f'<div class="modal-body">{blocks_html(view.get("blocks"), surface)}</div>'
        f'<div class="modal-foot">{buttons}</div></form></div>'
    )
