"""Events API deliveries for the App Home tab, in the shape Slack sends ``app_home_opened``."""

from __future__ import annotations

import time
from typing import Any

from tests.support.slack_payloads import TEAM_ID, event_callback


def app_home_opened(
    user_id: str,
    *,
    tab: str = "home",
    team_id: str = TEAM_ID,
    view: dict[str, Any] | None = None,
) -> str:
    """The JSON body of ``app_home_opened``: ``user`` opened the app's ``tab`` ("home" or
    "messages"); ``view`` is the Home Slack holds, present once one was published."""
    event: dict[str, Any] = {
        "type": "app_home_opened",
        "user": user_id,
        "channel": f"D{user_id[1:]}"[:11],
        "tab": tab,
        "event_ts": f"{time.time():.6f}",
    }
    if view is not None:
        event["view"] = view
    return event_callback(event, team_id=team_id)
