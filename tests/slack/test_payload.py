"""Reading payloads and the middleware that hands listeners the actor and the flat form."""

from __future__ import annotations

from typing import Any

import pytest
from slack_bolt import BoltContext

from slackbot.slack.middleware import actor_middleware, form_middleware
from slackbot.slack.payload import (
    acting_user_id,
    action_value,
    allocation_id_from,
    allocation_in_metadata,
    amount_entry,
    form_values,
)


@pytest.mark.parametrize(
    ("body", "actor"),
    [
        ({"user_id": "U0ALICE"}, "U0ALICE"),  # a slash command
        ({"user": {"id": "W0123ABC"}}, "W0123ABC"),  # an interaction, Enterprise Grid user
        ({"user": {"id": "u0alice"}}, ""),
        ({"user": {"id": "U1"}}, ""),  # too short for the one rule (models.limits)
        ({"user": {"id": "U0ALICE' OR 1=1"}}, ""),
        ({"user": {"id": "U" + "A" * 40}}, ""),
        ({"user": {"id": 7}}, ""),
        ({"user": "U0ALICE"}, ""),  # not the shape Slack sends
        ({"user_id": "<!channel>"}, ""),
        ({}, ""),
    ],
)
def test_the_actor_is_a_slack_user_id_or_nobody(body: dict[str, Any], actor: str) -> None:
    assert acting_user_id(body) == actor


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("42", 42),
        (" 7 ", 7),
        ("2147483647", 2147483647),
        ("2147483648", None),
        ("0", None),
        ("-1", None),
        ("4.2", None),
        ("٤٢", None),  # digits, but not ASCII ones
        ("", None),
        ("12345678901", None),
    ],
)
def test_an_allocation_id_is_a_positive_32_bit_number(text: str, expected: int | None) -> None:
    assert allocation_id_from(text) == expected


def test_a_button_value_or_a_selected_option_is_the_action_value() -> None:
    assert action_value({"actions": [{"value": "PAY-1"}]}) == "PAY-1"
    assert action_value({"actions": [{"selected_option": {"value": "INV-2"}}]}) == "INV-2"
    assert action_value({"actions": "nope"}) == ""
    assert action_value({}) == ""


def _view(values: dict[str, Any], blocks: list[str] | None = None) -> dict[str, Any]:
    return {
        "state": {"values": values},
        "blocks": [{"type": "input", "block_id": block_id} for block_id in blocks or []],
    }


def test_the_form_is_flat_and_skips_what_is_not_an_input() -> None:
    view = _view(
        {
            "payment": {"payment": {"type": "static_select", "selected_option": {"value": "P-1"}}},
            "amount": {"amount": {"type": "plain_text_input", "value": "12.50"}},
            "note": {"note": {"type": "plain_text_input", "value": None}},
            "junk": "not an input",
        }
    )
    assert form_values(view) == {"payment": "P-1", "amount": "12.50"}
    assert form_values({"state": "broken"}) == {}


def test_the_amount_is_read_from_the_block_the_view_shows_after_a_redraw() -> None:
    typed = {"amount:PAY-1:INV-2": {"amount": {"value": "9.99"}}}
    view = _view(typed, blocks=["payment", "amount:PAY-1:INV-2", "note"])
    assert amount_entry(view, form_values(view)) == ("amount:PAY-1:INV-2", "9.99")
    empty = _view({}, blocks=["amount"])
    assert amount_entry(empty, {}) == ("amount", "")


def test_a_reject_modal_names_its_allocation_in_the_metadata_or_nothing() -> None:
    assert allocation_in_metadata({"private_metadata": '{"allocation_id": 42}'}) == 42
    assert allocation_in_metadata({"private_metadata": '{"allocation_id": "x"}'}) is None
    assert allocation_in_metadata({"private_metadata": "[42]"}) is None
    assert allocation_in_metadata({"private_metadata": "{"}) is None
    assert allocation_in_metadata({}) is None


def test_the_middleware_gives_listeners_the_checked_actor_and_the_form() -> None:
    calls: list[str] = []
    context = BoltContext()
    body = {
        "type": "view_submission",
        "user": {"id": "U0ALICE"},
        "view": _view({"note": {"note": {"value": "thanks"}}}),
    }
    actor_middleware(body, context, lambda: calls.append("actor"))
    form_middleware(body, context, lambda: calls.append("form"))
    assert calls == ["actor", "form"]
    assert context["user_id"] == "U0ALICE"
    assert context["form"] == {"note": "thanks"}

    hostile = BoltContext()
    actor_middleware({"user": {"id": "u0'; drop"}, "view": "x"}, hostile, lambda: None)
    form_middleware({"user": {"id": "u0'; drop"}, "view": "x"}, hostile, lambda: None)
    assert hostile["user_id"] == "" and hostile["form"] == {}
