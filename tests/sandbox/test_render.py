"""The sandbox page's Block Kit drawing and limit warnings, without a browser (fast).

Each block and element type is drawn from a payload and checked for what a person would see;
an unknown type is shown as such; each Block Kit limit the project enforces produces a visible
warning naming the path at fault; and the bot's real views draw with no warning at all.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any

from slackbot.sandbox import limits, render
from slackbot.sandbox.page import SandboxPage
from slackbot.sandbox.render import Surface
from slackbot.sandbox.signed import BotDoor, sign
from slackbot.sandbox.webapi import ResponseTarget, Workspace
from slackbot.slack import views

NAMES = {"U1": "Ann Example"}


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text}


def md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def draw(blocks: list[dict[str, Any]], *, modal: dict[str, Any] | None = None) -> str:
    surface = Surface({"as": "U1", "surface": "msg"}, NAMES, modal=modal)
    return render.blocks_html(blocks, surface)


def test_a_section_draws_its_mrkdwn_fields_and_accessory_button() -> None:
    drawn = draw(
        [
            {
                "type": "section",
                "block_id": "b1",
                "text": md("*PAY-1* for <@U1> &amp; co"),
                "fields": [md("*Amount*\n12.00 USD"), plain("due 2026-12-01")],
                "accessory": {
                    "type": "button",
                    "action_id": "open_allocation:PAY-1",
                    "text": plain("Allocate"),
                    "value": "PAY-1",
                    "style": "primary",
                },
            }
        ]
    )
    assert "<b>PAY-1</b> for" in drawn
    assert '<span class="bk-mention">@Ann Example</span> &amp; co' in drawn
    assert '<div class="bk-field"><b>Amount</b><br>12.00 USD</div>' in drawn
    assert 'class="bk-button bk-primary"' in drawn and ">Allocate</button>" in drawn
    intent = json.loads(
        drawn.split('name="intent" value="')[1].split('"')[0].replace("&quot;", '"')
    )
    assert intent == {
        "block_id": "b1",
        "action_id": "open_allocation:PAY-1",
        "type": "button",
        "value": "PAY-1",
    }


def test_header_divider_and_context_draw() -> None:
    drawn = draw(
        [
            {"type": "header", "text": plain("Allocation request #7")},
            {"type": "divider"},
            {"type": "context", "elements": [md("requested _today_"), plain("Acme")]},
        ]
    )
    assert '<div class="bk-block bk-header">Allocation request #7</div>' in drawn
    assert '<hr class="bk-block bk-divider">' in drawn
    assert "requested <i>today</i>" in drawn and ">Acme</span>" in drawn


def test_a_button_with_a_confirm_dialog_carries_its_words() -> None:
    drawn = draw(
        [
            {
                "type": "actions",
                "block_id": "approve_allocation",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "approve_allocation",
                        "text": plain("Approve"),
                        "value": "7",
                        "confirm": {
                            "title": plain("Approve #7?"),
                            "text": md("Posts 12.00 USD"),
                            "confirm": plain("Approve"),
                            "deny": plain("Not yet"),
                        },
                    }
                ],
            }
        ]
    )
    confirm = drawn.split('data-confirm="')[1].split('"')[0].replace("&quot;", '"')
    assert json.loads(confirm) == {
        "title": "Approve #7?",
        "text": "Posts 12.00 USD",
        "confirm": "Approve",
        "deny": "Not yet",
        "style": "",
    }


def test_modal_inputs_draw_with_their_state_and_inline_errors() -> None:
    modal = {
        "id": "V1",
        "state": {
            "values": {
                "amount": {"amount": {"type": "plain_text_input", "value": "999.00"}},
            }
        },
        "_errors": {"amount": "INV-9 has 450.00 USD left to pay; you entered 999.00 USD."},
    }
    drawn = draw(
        [
            {
                "type": "input",
                "block_id": "payment",
                "dispatch_action": True,
                "label": plain("Payment"),
                "element": {
                    "type": "static_select",
                    "action_id": "payment",
                    "options": [
                        {"text": plain("PAY-1 · 12.00 USD"), "value": "PAY-1"},
                        {"text": plain("PAY-2 · 5 JPY"), "value": "PAY-2"},
                    ],
                    "initial_option": {"text": plain("PAY-2 · 5 JPY"), "value": "PAY-2"},
                },
            },
            {
                "type": "input",
                "block_id": "invoice",
                "label": plain("Invoice"),
                "element": {
                    "type": "external_select",
                    "action_id": "invoice",
                    "min_query_length": 0,
                },
            },
            {
                "type": "input",
                "block_id": "amount",
                "label": plain("Amount"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": "amount",
                    "initial_value": "1",
                },
            },
            {
                "type": "input",
                "block_id": "note",
                "optional": True,
                "label": plain("Note"),
                "element": {"type": "plain_text_input", "action_id": "note", "multiline": True},
            },
        ],
        modal=modal,
    )
    assert '<option value="PAY-2" selected>PAY-2 · 5 JPY</option>' in drawn
    assert 'name="in|payment" data-intent=' in drawn and "data-dispatch" in drawn
    assert 'class="bk-external" data-block-id="invoice"' in drawn and 'data-min="0"' in drawn
    # What was typed stays (the state), not the initial value, and the refusal sits under it.
    assert 'name="in|amount" placeholder="" value="999.00"' in drawn
    assert (
        '<div class="bk-error" role="alert">INV-9 has 450.00 USD left to pay; you entered'
        " 999.00 USD.</div>" in drawn
    )
    assert "<textarea" in drawn and "(optional)" in drawn


def test_an_unknown_block_or_element_is_shown_not_dropped() -> None:
    drawn = draw(
        [
            {"type": "rich_text", "elements": []},
            {"type": "actions", "elements": [{"type": "datepicker", "action_id": "d"}]},
        ]
    )
    assert "Unknown block type &#x27;rich_text&#x27;" in drawn
    assert "Unknown element type &#x27;datepicker&#x27;" in drawn
    assert "&quot;type&quot;: &quot;rich_text&quot;" in drawn  # its JSON, for the developer


def test_text_from_the_bot_cannot_inject_html() -> None:
    drawn = draw(
        [
            {
                "type": "section",
                "text": md("&lt;script&gt;x&lt;/script&gt; <javascript:alert(1)|y>"),
            },
            {"type": "header", "text": plain("<img src=x onerror=alert(1)>")},
        ]
    )
    assert "<script" not in drawn and "<img" not in drawn
    assert "&lt;script&gt;x&lt;/script&gt;" in drawn
    assert "<a " not in drawn  # a javascript: link is shown as text, never as a link


# ----------------------------------------------------------------------------- limits


def test_the_bots_real_views_raise_no_warning() -> None:
    assert limits.message_problems(views.help_message()) == []
    assert limits.message_problems(views.payments_message([])) == []


def test_each_limit_slack_enforces_is_a_named_problem() -> None:
    button = {
        "type": "button",
        "action_id": "a" * 256,
        "text": plain("x" * 76),
        "value": "v" * 2001,
    }
    select = {
        "type": "static_select",
        "action_id": "s",
        "options": [{"text": plain(f"o{i}"), "value": str(i)} for i in range(101)],
    }
    message = {
        "text": "fallback",
        "blocks": [{"type": "actions", "elements": [button, select]}] + [{"type": "divider"}] * 50,
    }
    problems = limits.message_problems(message)
    assert "message.blocks: has 51 blocks; Slack allows 50" in problems
    assert "message.blocks[0].elements[0].action_id: is 256 long; Slack allows 255" in problems
    assert "message.blocks[0].elements[0].text.text: is 76 long; Slack allows 75" in problems
    assert "message.blocks[0].elements[0].value: is 2001 long; Slack allows 2000" in problems
    assert "message.blocks[0].elements[1].options: has 101 options; Slack allows 100" in problems


def test_modal_limits_and_an_unknown_block_are_problems() -> None:
    view = {
        "type": "modal",
        "title": plain("A title longer than twenty-four"),
        "blocks": [
            {"type": "input", "label": plain("x"), "element": {"type": "plain_text_input"}},
            {"type": "video"},
        ],
    }
    problems = limits.view_problems(view)
    assert "view.title.text: is 31 long; Slack allows 24" in problems
    assert "view.blocks[1]: block type 'video' is not one the sandbox knows" in problems
    assert "view: a modal with inputs needs submit" in problems
    # Counted in UTF-16 units, as Slack counts: an emoji is two.
    assert limits.units("💡") == 2


def test_the_warning_is_visible_and_lists_each_problem() -> None:
    shown = render.problems_html(["view.title.text: is 31 long; Slack allows 24"])
    assert 'class="bk-warning" role="alert"' in shown
    assert "Slack would refuse or mangle this payload (1 problem)" in shown
    assert "<code>view.title.text: is 31 long; Slack allows 24</code>" in shown
    assert render.problems_html([]) == ""


# -------------------------------------------------------------- the stand-in and the page


def test_the_stand_in_refuses_a_wrong_token_and_an_unknown_trigger() -> None:
    workspace = Workspace("xoxb-right", {"U1": {"name": "Ann"}}, {})
    assert workspace.answer("auth.test", {}, "Bearer xoxb-wrong")["error"] == "invalid_auth"
    assert workspace.answer("auth.test", {}, "")["error"] == "not_authed"
    opened = workspace.answer(
        "views.open",
        {"trigger_id": "made-up", "view": {"type": "modal", "title": plain("x"), "blocks": []}},
        "Bearer xoxb-right",
    )
    assert opened == {"ok": False, "error": "invalid_trigger_id"}
    trigger = workspace.new_trigger("U1")
    view = {"type": "modal", "title": plain("x"), "blocks": []}
    assert workspace.answer(
        "views.open", {"trigger_id": trigger, "view": view}, "Bearer xoxb-right"
    )["ok"]
    # A trigger opens one view.
    again = workspace.answer(
        "views.open", {"trigger_id": trigger, "view": view}, "Bearer xoxb-right"
    )
    assert again["error"] == "invalid_trigger_id"
    assert workspace.top_view("U1") is not None


def test_a_response_url_replaces_the_ephemeral_reply_it_came_from() -> None:
    workspace = Workspace("xoxb-right", {"U1": {"name": "Ann"}}, {})
    reply = workspace.add_ephemeral("U1", "DU1", {"text": "first"})
    url = workspace.new_response_url("http://x", ResponseTarget("U1", "DU1", reply.key))
    token = url.rsplit("/", 1)[1]
    answer = workspace.answer(
        "response_url", {"_token": token, "text": "second", "replace_original": "true"}, ""
    )
    assert answer == {"ok": True}
    assert [e.message for e in workspace.ephemerals] == [{"text": "second"}]


def test_a_slash_command_when_the_bot_is_down_says_so_on_the_page() -> None:
    workspace = Workspace("xoxb-right", {"USANDADA": {"name": "Ada"}}, {})
    page = SandboxPage(workspace, BotDoor("http://127.0.0.1:9/slack/events", "s"), "http://x")
    body = b"as=USANDADA&pane=dm&text=%2Fpayments"
    statuses: list[str] = []
    page(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/slash",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        },
        lambda status, headers: statuses.append(status),
    )
    assert statuses == ["303 See Other"]
    assert "the bot answered HTTP 0" in workspace.ephemerals[0].message["text"]


def test_a_junk_post_is_a_400_not_a_traceback() -> None:
    page = SandboxPage(Workspace("xoxb-x", {}, {}), BotDoor("http://127.0.0.1:9/", "s"), "x")
    body = b"as=USANDADA&surface=msg&intent=not-json"
    statuses: list[str] = []
    page(
        {
            "REQUEST_METHOD": "POST",
            "PATH_INFO": "/act",
            "CONTENT_LENGTH": str(len(body)),
            "wsgi.input": io.BytesIO(body),
        },
        lambda status, headers: statuses.append(status),
    )
    assert statuses == ["400 Bad Request"]


def test_signatures_are_the_ones_slacks_own_verifier_accepts() -> None:
    from slack_sdk.signature import SignatureVerifier

    now = int(time.time())
    headers = sign("a=1&b=%7B%7D", "sandbox-secret", timestamp=now)
    verifier = SignatureVerifier("sandbox-secret")
    assert verifier.is_valid("a=1&b=%7B%7D", str(now), headers["X-Slack-Signature"])
    assert not verifier.is_valid("a=2&b=%7B%7D", str(now), headers["X-Slack-Signature"])
