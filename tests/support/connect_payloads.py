"""Signed-request bodies for Slack Connect entry points: shortcuts, and clicks by external people.

Shapes follow Slack's interaction payload reference: a global shortcut (``type: shortcut``)
carries the person, their team and a ``trigger_id``; a message shortcut (``type:
message_action``) adds the channel, the message and a ``response_url``. In a Slack Connect
channel, ``team`` is the workspace the app is installed in (the vendor's), while ``user.team_id``
is the person's own workspace.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlencode

from tests.support.slack_payloads import (
    APP_ID,
    TEAM_DOMAIN,
    TEAM_ID,
    VERIFICATION_TOKEN,
    new_trigger_id,
)

JsonDict = dict[str, Any]

# The partner's own workspace: people from it meet the vendor in a shared channel.
PARTNER_TEAM = "T0PARTNER"


def _form(payload: JsonDict) -> str:
    return urlencode({"payload": json.dumps(payload)})


def _user(user_id: str, user_team_id: str) -> JsonDict:
    name = user_id.lower()
    return {"id": user_id, "username": name, "name": name, "team_id": user_team_id}


def global_shortcut(
    user_id: str,
    callback_id: str,
    *,
    team_id: str = TEAM_ID,
    user_team_id: str | None = None,
    trigger_id: str | None = None,
) -> str:
    """The form body Slack POSTs when ``user_id`` picks the app's global shortcut."""
    return _form(
        {
            "type": "shortcut",
            "token": VERIFICATION_TOKEN,
            "action_ts": "1700000000.000100",
            "team": {"id": team_id, "domain": TEAM_DOMAIN},
            "user": _user(user_id, user_team_id or team_id),
            "api_app_id": APP_ID,
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": trigger_id or new_trigger_id(),
        }
    )


def message_shortcut(
    user_id: str,
    callback_id: str,
    *,
    channel_id: str,
    message: JsonDict,
    response_url: str,
    team_id: str = TEAM_ID,
    user_team_id: str | None = None,
    trigger_id: str | None = None,
) -> str:
    """The form body Slack POSTs when ``user_id`` picks the app's shortcut on ``message``."""
    return _form(
        {
            "type": "message_action",
            "token": VERIFICATION_TOKEN,
            "action_ts": "1700000000.000200",
            "team": {"id": team_id, "domain": TEAM_DOMAIN},
            "user": _user(user_id, user_team_id or team_id),
            "channel": {"id": channel_id, "name": channel_id.lower()},
            "is_enterprise_install": False,
            "enterprise": None,
            "callback_id": callback_id,
            "trigger_id": trigger_id or new_trigger_id(),
            "response_url": response_url,
            "message_ts": message.get("ts"),
            "message": message,
        }
    )
