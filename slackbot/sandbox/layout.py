"""The sandbox page's HTML: the person picker, the panes (Home, DM, #billing, Web API calls),
the composer, and the modal on top, drawn from what the stand-in Web API holds.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from urllib.parse import urlencode

from slackbot.sandbox import render
from slackbot.sandbox.example_data import BILLING_CHANNEL, PEOPLE
from slackbot.sandbox.render import Surface, esc
from slackbot.sandbox.webapi import Workspace, dm_channel

PANES = {"dm": "Messages with Payments", "billing": "#billing", "home": "Home", "calls": "Web API"}


def names(workspace: Workspace) -> dict[str, str]:
    shown = {user: str(info.get("name") or user) for user, info in workspace.users.items()}
    shown.update({group: "billing-approvers" for group in workspace.groups})
    return shown


def channel_of(pane: str, user: str) -> str:
    return BILLING_CHANNEL if pane == "billing" else dm_channel(user)


def _order(ts_or_key: str) -> int:
    digits = ts_or_key.rpartition(".")[2] if "." in ts_or_key else ts_or_key[1:]
    return int(digits) if digits.isdigit() else 0


def _when(ts: str) -> str:
    try:
        return dt.datetime.fromtimestamp(float(ts)).strftime("%H:%M:%S")
    except ValueError:
        return ""


def channel_html(workspace: Workspace, user: str, pane: str) -> str:
    """A channel's messages and the ephemeral replies only ``user`` sees there, in order."""
    channel = channel_of(pane, user)
    shown_names = names(workspace)
    items: list[tuple[int, str]] = []
    with workspace.lock:
        messages = [dict(m) for m in workspace.messages.get(channel, [])]
        replies = [e for e in workspace.ephemerals if e.user == user and e.channel == channel]
    for message in messages:
        surface = Surface(
            {"as": user, "pane": pane, "surface": "msg", "channel": channel, "ts": message["ts"]},
            shown_names,
        )
        items.append(
            (
                _order(message["ts"]),
                render.message_html(
                    message, surface, author="Payments (bot)", when=_when(message["ts"])
                ),
            )
        )
    for reply in replies:
        surface = Surface(
            {"as": user, "pane": pane, "surface": "eph", "channel": channel, "key": reply.key},
            shown_names,
        )
        drawn = render.message_html(
            {**reply.message, "_problems": reply.problems}, surface, author="Payments (bot)"
        )
        items.append(
            (
                _order(reply.key),
                f'<div class="ephemeral" data-key="{esc(reply.key)}">'
                f'<div class="eph-note">Only visible to you</div>{drawn}</div>',
            )
        )
    if not items:
        return '<p class="empty">No messages here yet.</p>'
    return "".join(html for _, html in sorted(items))


def home_html(workspace: Workspace, user: str) -> str:
    with workspace.lock:
        home = dict(workspace.homes.get(user) or {})
    if not home:
        return (
            '<p class="empty">The bot has not published a Home for you yet (opening it asks).</p>'
        )
    surface = Surface({"as": user, "pane": "home", "surface": "home"}, names(workspace))
    return render.problems_html(list(home.get("_problems") or [])) + render.blocks_html(
        home.get("blocks"), surface
    )


def calls_html(workspace: Workspace) -> str:
    with workspace.lock:
        calls = list(workspace.calls)[-200:]
    rows = []
    for call in reversed(calls):
        params = {k: v for k, v in call.params.items() if k not in ("token", "_token")}
        problems = render.problems_html(call.problems)
        status = "ok" if call.ok else f"error: {call.error}"
        rows.append(
            f'<details class="call{"" if call.ok else " call-failed"}"><summary>'
            f"{esc(dt.datetime.fromtimestamp(call.at).strftime('%H:%M:%S'))}"
            f" <code>{esc(call.method)}</code> {esc(status)}"
            f"{' ⚠' if call.problems else ''}</summary>{problems}"
            f"<pre>{esc(json.dumps(params, indent=1)[:20000])}</pre></details>"
        )
    return "".join(rows) or '<p class="empty">No calls yet.</p>'


def main_html(workspace: Workspace, user: str, pane: str) -> str:
    if pane == "home":
        return home_html(workspace, user)
    if pane == "calls":
        return calls_html(workspace)
    return channel_html(workspace, user, pane)


def modal_part(workspace: Workspace, user: str, pane: str) -> tuple[str, str]:
    """The top modal's HTML and a key that changes whenever the bot changes it."""
    view = workspace.top_view(user)
    if view is None:
        return "", ""
    surface = Surface({"as": user, "pane": pane}, names(workspace), modal=view)
    key = f"{view['id']}:{view.get('hash')}:{json.dumps(view.get('_errors'), sort_keys=True)}"
    return render.modal_html(view, surface), key


def page_html(workspace: Workspace, user: str, pane: str, *, version: int, notice: str = "") -> str:
    person = next((p for p in PEOPLE if p.user_id == user), PEOPLE[0])
    picker = "".join(
        f'<option value="{esc(p.user_id)}"{" selected" if p.user_id == user else ""}>'
        f"{esc(p.name)}: {esc(p.role)}</option>"
        for p in PEOPLE
    )
    nav = "".join(
        f'<a id="pane-{key}" class="pane{" current" if key == pane else ""}"'
        f' href="/?{urlencode({"as": user, "pane": key})}">{esc(label)}</a>'
        for key, label in PANES.items()
    )
    composer = ""
    if pane in ("dm", "billing"):
        composer = (
            '<form class="composer" method="post" action="/slash">'
            f'<input type="hidden" name="as" value="{esc(user)}">'
            f'<input type="hidden" name="pane" value="{esc(pane)}">'
            '<input id="composer" name="text" autocomplete="off"'
            f' placeholder="Type /payments, /payments allocate, /payments history, /payments help'
            f' in {esc(PANES[pane])}"><button type="submit" class="bk-button">Send</button></form>'
        )
    modal, modal_key = modal_part(workspace, user, pane)
    shown_notice = f'<div class="notice" role="status">{esc(notice)}</div>' if notice else ""
    state = json.dumps({"as": user, "pane": pane, "version": version, "modal": modal_key})
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Payments sandbox: {esc(person.name)}</title>
<link rel="stylesheet" href="/static/page.css"></head>
<body data-state="{esc(state)}">
<header><b>Payments sandbox</b> <span class="banner">Not Slack: a local stand-in. Every message
below was sent by the real bot, through signed requests and Slack's Web API methods.</span>
<form method="get" action="/" class="who"><label for="who">You are</label>
<select id="who" name="as">{picker}</select><input type="hidden" name="pane" value="{esc(pane)}">
<noscript><button>Switch</button></noscript></form></header>
<div class="layout"><nav>{nav}</nav>
<section class="pane-body"><h1 id="pane-title">{esc(PANES[pane])}</h1>{shown_notice}
<div id="main">{main_html(workspace, user, pane)}</div>{composer}</section></div>
<div id="modal" data-key="{esc(modal_key)}">{modal}</div>
<dialog id="confirm-dialog"><h2 id="confirm-title"></h2><p id="confirm-text"></p>
<div class="modal-foot"><button id="confirm-deny" class="bk-button" type="button"></button>
<button id="confirm-ok" class="bk-button bk-primary" type="button"></button></div></dialog>
<script src="/static/page.js"></script></body></html>"""


def part_json(workspace: Workspace, user: str, pane: str, version: int) -> str:
    modal, modal_key = modal_part(workspace, user, pane)
    return json.dumps(
        {
            "version": version,
            "main": main_html(workspace, user, pane),
            "modal": modal,
            "modal_key": modal_key,
        }
    )


def known_person(user: str | None, people: Mapping[str, object]) -> str:
    return user if user is not None and user in people else PEOPLE[0].user_id
