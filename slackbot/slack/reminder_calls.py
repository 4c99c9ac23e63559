"""Delivering reminders: the billing thread's replies, the requester's chase notice, the digest.

The sender (:mod:`slackbot.slack.sender`) hands each reminder row here with its Web API call
function (paced for the billing channel, in the slot its claim took) and the requester's
notices. A reminder or chase for a request no longer pending is skipped (returns with no call):
a decision may land between the reminder being owed and being sent, and a decided request is
never reminded. Nothing here is remembered as where a message landed: a thread reply must not
replace the request's billing message that later news edits.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from models.enums import AllocationStatus, Audience, OutboxKind
from models.schemas import AllocationSummary
from slackbot.db import Database
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.ledger.reminders import owed_payload
from slackbot.outbox.queue import NoticeWay, Owed
from slackbot.slack.notices import Notices
from slackbot.slack.views.reminders import (
    chase_notice,
    daily_digest,
    escalation_reply,
    reminder_reply,
)

__all__ = ["Approvers", "Reminders", "SlackCall"]

log = logging.getLogger("slackbot.slack.sender")

# ``call(method, channel, /, **arguments)``: one Web API call, the sender's (which paces the
# billing channel), returning Slack's answer.
SlackCall = Callable[..., Any]


@dataclass(frozen=True)
class Approvers:
    """Who an escalation mentions: the approver group, else the approvers by id."""

    group_id: str | None = None
    user_ids: tuple[str, ...] = ()


class Reminders:
    """Sends the reminder kinds of outbox rows (``REMINDER_KINDS``)."""

    def __init__(
        self,
        db: Database,
        *,
        billing_channel: str,
        approvers: Approvers | None = None,
        locale: Callable[[str | None], str] = lambda _user: DEFAULT_LOCALE,
    ) -> None:
        self.db = db
        self.billing_channel = billing_channel
        self.approvers = approvers or Approvers()
        # What a person reads now (None: the billing channel), rendered at send time.
        self.locale = locale

    def send_billing(
        self,
        call: SlackCall,
        owed: Owed,
        allocation: AllocationSummary,
        landed: Mapping[Audience, tuple[str, str]],
    ) -> None:
        """The reminder or escalation as a reply in the request's billing thread.

        An escalation is also shown in the channel (``reply_broadcast``), so it is seen by
        those who do not follow the thread. A request whose billing message never landed gets
        the reply as a message of its own, naming the request.
        """
        if not self._still_waiting(owed, allocation):
            return
        age = int(owed_payload(self.db, owed.message_id).get("business_seconds") or 0)
        if owed.kind is OutboxKind.REQUEST_ESCALATED:
            message = escalation_reply(
                allocation,
                business_seconds=age,
                group_id=self.approvers.group_id,
                approver_ids=self.approvers.user_ids,
                locale=self.locale(None),
            )
            extra: dict[str, Any] = {"reply_broadcast": True}
        elif owed.kind is OutboxKind.REQUEST_REMINDED:
            message = reminder_reply(allocation, business_seconds=age, locale=self.locale(None))
            extra = {}
        else:
            raise ValueError(f"{owed.kind} is not a billing reminder")
        posted = landed.get(Audience.BILLING)
        if posted is None:
            log.warning("outbox: %s: the request has no billing message; posting apart", owed)
            call("chat_postMessage", self.billing_channel, channel=self.billing_channel, **message)
            return
        channel, ts = posted
        call("chat_postMessage", channel, channel=channel, thread_ts=ts, **message, **extra)

    def send_chase(
        self, notices: Notices, owed: Owed, allocation: AllocationSummary
    ) -> NoticeWay | None:
        """Tell the requester billing is chasing their request, by their notice route."""
        if not self._still_waiting(owed, allocation):
            return None
        age = int(owed_payload(self.db, owed.message_id).get("business_seconds") or 0)
        chase = chase_notice(
            allocation, business_seconds=age, locale=self.locale(allocation.requested_by)
        )
        _, way = notices.post(owed, allocation, chase)
        return way

    def send_digest(self, call: SlackCall, owed: Owed) -> None:
        """The day's digest as a message of its own in the billing channel."""
        digest = owed_payload(self.db, owed.message_id)
        if not int(digest.get("waiting") or 0):
            log.info("outbox: %s: nothing was waiting; no digest", owed)
            return
        call(
            "chat_postMessage",
            self.billing_channel,
            channel=self.billing_channel,
            **daily_digest(digest, locale=self.locale(None)),
        )

    def _still_waiting(self, owed: Owed, allocation: AllocationSummary) -> bool:
        if allocation.status == AllocationStatus.PENDING:
            return True
        log.info(
            "outbox: %s: request #%s is %s now; no reminder",
            owed,
            allocation.allocation_id,
            allocation.status,
        )
        return False
