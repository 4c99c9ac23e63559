"""Reading Slack's payloads: who acts, what a button or select carried, a modal's flat form.

Every reader takes whatever Slack (or anybody who can sign a request) sent and never fails: a
missing or mistyped field reads as empty, and the listener then refuses in the person's words.
"""

from __future__ import annotations

import json
from typing import Any

from models.limits import MAX_ALLOCATION_ID, MAX_ID, is_allocation_id, is_slack_user_id
from slackbot.slack.ids import BlockId, is_amount_block, line_of_block


def acting_user_id(body: dict[str, Any]) -> str:
    """The acting user, from a slash command (``user_id``) or an interaction (``user.id``).

    Anything not shaped like a Slack user id (``models.limits``) is nobody, ``""``: it never
    reaches the ledger, whose answer for nobody is that they belong to no partner.
    """
    user = body.get("user")
    found = user.get("id") if isinstance(user, dict) else body.get("user_id")
    return found if isinstance(found, str) and is_slack_user_id(found) else ""


def first_action(body: dict[str, Any]) -> dict[str, Any]:
    """The clicked button or changed select of a ``block_actions`` payload (``{}`` if none)."""
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return actions[0]
    return {}


def action_value(body: dict[str, Any]) -> str:
    """The value a button carried, or a select's chosen value."""
    action = first_action(body)
    value = action.get("value")
    if isinstance(value, str):
        return value
    selected = action.get("selected_option")
    if isinstance(selected, dict) and isinstance(selected.get("value"), str):
        return str(selected["value"])
    return ""


def allocation_id_from(text: str) -> int | None:
    """A button value or metadata that should name an allocation; None for anything else."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > len(str(MAX_ALLOCATION_ID)):
        return None
    number = int(text)
    return number if is_allocation_id(number) else None


def form_values(view: dict[str, Any]) -> dict[str, str]:
    """``view.state.values`` flattened to {block_id: value} (Dispatch's modal_submit_middleware)."""
    values: dict[str, str] = {}
    state = view.get("state") if isinstance(view, dict) else None
    blocks = state.get("values") if isinstance(state, dict) else None
    if not isinstance(blocks, dict):
        return values
    for block_id, inputs in blocks.items():
        if not isinstance(inputs, dict):
            continue
        for element in inputs.values():
            if not isinstance(element, dict):
                continue
            value: Any = element.get("value")
            selected = element.get("selected_option")
            if isinstance(selected, dict):
                value = selected.get("value")
            if isinstance(value, str):
                values[str(block_id)] = value
    return values


def amount_entry(view: dict[str, Any], form: dict[str, str]) -> tuple[str, str]:
    """The modal's amount input as ``(block_id, typed text)``, whichever version it is.

    The first render names the block ``amount`` (the contract); a redraw after a new payment or
    invoice names it ``amount:PAY:INV`` so Slack shows the new suggestion. The block the view
    itself holds is the one errors must be keyed by.
    """
    blocks = view.get("blocks") if isinstance(view, dict) else None
    shown = [
        str(block["block_id"])
        for block in (blocks if isinstance(blocks, list) else [])
        if isinstance(block, dict)
        and isinstance(block.get("block_id"), str)
        and is_amount_block(block["block_id"])
    ]
    typed = sorted(block_id for block_id in form if is_amount_block(block_id))
    for block_id in [*shown, BlockId.AMOUNT, *typed]:
        if block_id in form:
            return (shown[0] if shown else block_id), form[block_id]
    return (shown[0] if shown else BlockId.AMOUNT), ""


def allocation_in_metadata(view: dict[str, Any]) -> int | None:
    """The allocation a modal's ``private_metadata`` names (``{"allocation_id": 42}``), or None."""
    try:
        metadata = json.loads(str(view.get("private_metadata") or ""))
    except ValueError:
        return None
    if not isinstance(metadata, dict):
        return None
    return allocation_id_from(str(metadata.get("allocation_id", "")))


def is_ephemeral_click(body: dict[str, Any]) -> bool:
    """The click came from an ephemeral message (a ``/payments`` answer), not a real one."""
    container = body.get("container")
    return isinstance(container, dict) and container.get("is_ephemeral") is True


def view_state(view: dict[str, Any]) -> dict[str, Any]:
    """``view.state.values`` as sent (``{}`` when missing or mistyped)."""
    state = view.get("state") if isinstance(view, dict) else None
    values = state.get("values") if isinstance(state, dict) else None
    return values if isinstance(values, dict) else {}


def chosen_option(view: dict[str, Any], block_id: str) -> tuple[str, str] | None:
    """The option a select in ``block_id`` holds, as ``(value, text shown)``, or None."""
    inputs = view_state(view).get(block_id)
    for element in inputs.values() if isinstance(inputs, dict) else ():
        selected = element.get("selected_option") if isinstance(element, dict) else None
        if isinstance(selected, dict) and isinstance(selected.get("value"), str):
            text = selected.get("text")
            shown = text.get("text") if isinstance(text, dict) else None
            value = str(selected["value"])[:MAX_ID]
            return value, str(shown)[:200] if isinstance(shown, str) else value
    return None


def typed_text(view: dict[str, Any], block_id: str) -> str | None:
    """What a text input in ``block_id`` holds (None when the block holds nothing typed)."""
    inputs = view_state(view).get(block_id)
    for element in inputs.values() if isinstance(inputs, dict) else ():
        value = element.get("value") if isinstance(element, dict) else None
        if isinstance(value, str):
            return value[:200]
    return None


def line_amount_block_in(view: dict[str, Any], slot: int) -> str | None:
    """The block id line ``slot``'s amount has in ``view`` (``amount_3`` or a redraw's version)."""
    blocks = view.get("blocks") if isinstance(view, dict) else None
    for block in blocks if isinstance(blocks, list) else ():
        block_id = block.get("block_id") if isinstance(block, dict) else None
        if isinstance(block_id, str) and line_of_block(block_id) == ("amount", slot):
            return block_id
    return None
