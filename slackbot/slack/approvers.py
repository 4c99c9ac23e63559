"""The approver directory: the configured user IDs and the Slack user group's members.

Who may decide is the ledger's rule (:func:`slackbot.ledger.rules.may_approve`); this module only
finds out what that rule reads, asking the Web API for the group's members.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError

from models.schemas import Actor
from slackbot.errors import ApproverCheckFailed
from slackbot.ledger.rules import may_approve

log = logging.getLogger(__name__)


class ApproverDirectory:
    """Resolves an :class:`Actor` for a Slack user.

    Group membership is fetched with ``usergroups.users.list`` and cached for ``ttl`` seconds, so
    a click costs no Web API call most of the time. If Slack cannot be reached, the last known
    membership is used; with none known, :class:`ApproverCheckFailed` says so (nothing changes,
    and the person can click again) — never a wrong approval, nor a wrong "you are not one".
    """

    def __init__(
        self,
        approver_ids: tuple[str, ...],
        group_id: str | None,
        client: WebClient | None,
        *,
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ids = frozenset(approver_ids)
        self._group_id = group_id
        self._client = client
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._members: frozenset[str] | None = None
        self._fetched_at = float("-inf")

    def actor(self, user_id: str) -> Actor:
        return Actor(user_id=user_id, can_approve=self.is_approver(user_id))

    def is_approver(self, user_id: str) -> bool:
        if may_approve(user_id, self._ids, None):
            return True  # No need to ask Slack about the group.
        if self._group_id is None or self._client is None:
            return False
        return may_approve(user_id, self._ids, self._group_members(self._group_id, self._client))

    def _group_members(self, group_id: str, client: WebClient) -> frozenset[str]:
        with self._lock:
            if self._members is not None and self._clock() - self._fetched_at < self._ttl:
                return self._members
            try:
                response = client.usergroups_users_list(usergroup=group_id)
                users = response.get("users") or []
                self._members = frozenset(str(user) for user in users)
                self._fetched_at = self._clock()
            except (SlackApiError, SlackClientError, OSError) as exc:
                log.warning("could not read approver group %s: %s", group_id, exc)
                if self._members is None:
                    # Not knowing is not the same as "not an approver": say so, and let them
                    # click again, rather than refuse a real approver.
                    raise ApproverCheckFailed(
                        "allocation",
                        "Slack didn't tell me who is in the billing approvers group just now,"
                        " so nothing changed. Please click again in a moment.",
                    ) from exc
            return self._members
