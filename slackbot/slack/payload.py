"""Reading Slack's payloads: who acts, what a button or select carried, a modal's flat form.

Every reader takes whatever Slack (or anybody who can sign a request) sent and never fails: a
missing or mistyped field reads as empty, and the listener then refuses in the person's words.
"""

from __future__ import annotations

import json
from typing import Any

from models.limits import (
    MAX_ALLOCATION_ID,
    MAX_ID,
    is_allocation_id,
    is_slack_channel_id,
    is_slack_user_id,
)
from slackbot.ledger.membership import (
    NOBODY,
    Person,
    is_slack_enterprise_id,
    is_slack_team_id,
)
from slackbot.slack.ids import BlockId, is_amount_block, line_of_block


def acting_user_id(body: dict[str, Any]) -> str:
    """The acting user, from a slash command (``user_id``) or an interaction (``user.id``).

    Anything not shaped like a Slack user id (``models.limits``) is nobody, ``""``: it never
    reaches the ledger, whose answer for nobody is that they belong to no partner.
    """
    user = body.get("user")
    found = user.get("id") if isinstance(user, dict) else body.get("user_id")
    return found if isinstance(found, str) and is_slack_user_id(found) else ""


def acting_person(body: dict[str, Any]) -> Person:
    """Who is acting and from where, read only from fields Slack itself fills in the signed body.

    Which field names the *person's* team, not the installation's (they differ in Slack
    Connect channels, where people of several organizations use one installation):

    - slash command: ``team_id`` and ``enterprise_id`` are the workspace and org the command
      was typed in. Slack offers a command only to people whose own workspace (or org) has the
      app installed (an external person in a Slack Connect channel is told "not a valid
      command"), so they are the person's own. No field names a team of the user apart.
    - interactivity (``block_actions``, ``view_submission``, ``block_suggestion``, shortcuts):
      ``user.team_id`` is the person's home workspace, or their org (``E…``) under Enterprise
      Grid. ``team`` is where the interaction happened, which in a Slack Connect channel is
      the installation's workspace (the vendor's), as are ``view.team_id`` and
      ``view.app_installed_team_id``. ``enterprise`` (and ``team.enterprise_id``) is that
      workspace's org, so it is the person's org only when ``team.id`` is their own
      workspace, or when ``user.team_id`` is itself the org.
    - events: ``event.user`` with ``event.user_team`` (or ``event.team``, the author's team);
      the outer ``team_id`` / ``enterprise_id`` and ``authorizations[]`` name the installation
      the event was delivered for, so they name the person only outside shared channels.

    Never read: ``is_enterprise_install`` and ``authorizations`` (installation facts),
    ``message.team`` / ``message.user_team`` (the author of the message clicked, not the
    clicker), ``private_metadata``, ``state.values``, button values, the query string and
    headers (all carry what the app, or the person, chose). A field of the wrong shape reads
    as unknown (``None``), never as an error.
    """
    if body.get("type") == "event_callback":
        return _event_person(body)
    user_id = acting_user_id(body)
    if not user_id:
        return NOBODY
    if isinstance(body.get("user"), dict):
        team_id, enterprise_id, domain = _interaction_teams(body)
    else:
        team_id = _team_id(body.get("team_id"))
        enterprise_id = _enterprise_id(body.get("enterprise_id"))
        domain = _domain(body.get("team_domain")) if team_id else ""
    return Person(user_id, team_id, enterprise_id, _channel_id(body), domain)


def _interaction_teams(body: dict[str, Any]) -> tuple[str | None, str | None, str]:
    """The person's (team, org, team domain) in an interaction payload (see acting_person)."""
    user = body["user"]
    home = user.get("team_id")
    team = _object(body.get("team"))
    enterprise = _object(body.get("enterprise"))
    where = _team_id(team.get("id"))
    where_org = _enterprise_id(enterprise.get("id")) or _enterprise_id(team.get("enterprise_id"))
    if is_slack_enterprise_id(home):
        # An org user: the workspace they acted in is theirs when it belongs to their org.
        inside = where if where is not None and where_org == home else None
        return inside, home, _domain(team.get("domain")) if inside else ""
    if is_slack_team_id(home):
        if where == home:
            return home, where_org, _domain(team.get("domain"))
        return home, None, ""
    return None, None, ""


def _event_person(body: dict[str, Any]) -> Person:
    event = body.get("event")
    if not isinstance(event, dict):
        return NOBODY
    user_id = event.get("user")
    if not isinstance(user_id, str) or not is_slack_user_id(user_id):
        return NOBODY
    teams = [event.get("user_team"), event.get("team")]
    if body.get("is_ext_shared_channel") is not True:
        teams += [body.get("team_id"), body.get("enterprise_id")]
    found = next((t for t in teams if isinstance(t, str) and t), None)
    team_id, enterprise_id = _team_id(found), _enterprise_id(found)
    if team_id and not enterprise_id and found == body.get("team_id"):
        enterprise_id = _enterprise_id(body.get("enterprise_id"))
    channel = event.get("channel")
    shown_in = channel if is_slack_channel_id(channel) else None
    return Person(user_id, team_id, enterprise_id, shown_in)


def _object(value: object) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _team_id(value: object) -> str | None:
    return value if isinstance(value, str) and is_slack_team_id(value) else None


def _enterprise_id(value: object) -> str | None:
    return value if isinstance(value, str) and is_slack_enterprise_id(value) else None


def _domain(value: object) -> str:
    """A workspace's domain as shown to its people: Slack's domains are ``[a-z0-9-]``, 1-21."""
    shaped = isinstance(value, str) and 0 < len(value) <= 21 and value.isascii()
    if shaped and all(ch.isalnum() or ch == "-" for ch in str(value)):
        return str(value).lower()
    return ""


def _channel_id(body: dict[str, Any]) -> str | None:
    """The channel the person acted in: a command's ``channel_id``, a click's ``channel``."""
    channel = body.get("channel")
    found = channel.get("id") if isinstance(channel, dict) else body.get("channel_id")
    if found is None and isinstance(body.get("container"), dict):
        found = body["container"].get("channel_id")
    return found if is_slack_channel_id(found) else None


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
