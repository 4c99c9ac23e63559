"""A running bot for tests: the real app on the real HTTP server, Slack's Web API stood in."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, Future
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select
from waitress.server import create_server

from models.enums import Audience, OutboxKind
from models.tables import Allocation, OutboxMessage
from slackbot.app import Bot, build_bot
from slackbot.db import Database
from slackbot.ledger import Ledger
from slackbot.server import make_wsgi_app
from slackbot.settings import Settings
from slackbot.slack import views
from slackbot.slack.sender import RetryPolicy
from tests.support import slack_payloads as payloads
from tests.support.slack_stub import Call, FakeSlack, dm_channel_for

BILLING, RECEIPT, REQUESTER = Audience.BILLING, Audience.RECEIPT, Audience.REQUESTER

SECRET = "test-signing-secret-0123456789"
BILLING_CHANNEL = "C0BILLING"
APPROVER = "U0APPROVER"
SECOND_APPROVER = "U0APPROVER2"
GROUP_APPROVER = "U0GROUPAPPR"
APPROVER_GROUP = "S0APPROVERS"

T = TypeVar("T")

FAST_RETRY = RetryPolicy(base_seconds=0.05, cap_seconds=0.3, configuration_cap_seconds=0.3)


def wait_for(predicate: Callable[[], T], timeout: float = 5.0, what: str = "condition") -> T:
    """Poll until ``predicate`` returns something truthy (listeners finish after their ack)."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class BotHarness:
    """The bot serving HTTP on 127.0.0.1, with helpers that act as Slack would for a person."""

    def __init__(self, db: Database, slack: FakeSlack, **overrides: Any) -> None:
        self.slack = slack
        values: dict[str, Any] = {
            "DATABASE_URL": "sqlite://",  # unused: the test's Database is passed in
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": SECRET,
            "SLACK_API_URL": slack.api_url,
            "BILLING_CHANNEL_ID": BILLING_CHANNEL,
            "BILLING_APPROVER_IDS": f"{APPROVER},{SECOND_APPROVER}",
            "BILLING_APPROVER_GROUP_ID": APPROVER_GROUP,
            "BILLING_CHANNEL_PACE_SECONDS": 0,
        }
        values.update(overrides)
        self.settings = Settings(**values)
        self.bot: Bot = build_bot(self.settings, db=db, retry=FAST_RETRY)
        self.server = create_server(
            make_wsgi_app(self.bot), host="127.0.0.1", port=0, threads=8, ident="test"
        )
        self.base_url = f"http://127.0.0.1:{self.server.effective_port}"  # type: ignore[union-attr]
        self._closing = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()
        self._responses = 0

    def _serve(self) -> None:
        try:
            self.server.run()
        except OSError:
            # close() from the test thread pulls the socket out from under select(); that is
            # how this test server stops, not a failure.
            if not self._closing:
                raise

    def close(self) -> None:
        self._closing = True
        self.server.close()
        self.bot.delivery.stop()

    # ------------------------------------------------------------ requests

    def post(self, body: str, **kwargs: Any) -> tuple[int, Any]:
        status, _headers, text = payloads.post_signed(self.base_url, body, secret=SECRET, **kwargs)
        try:
            return status, json.loads(text) if text else None
        except ValueError:
            return status, text

    def new_response_url(self) -> str:
        self._responses += 1
        return self.slack.response_url(f"r{self._responses}")

    def slash(self, user_id: str, text: str = "") -> tuple[int, Any, str]:
        """``/payments text``; returns status, the immediate reply, and the response_url."""
        response_url = self.new_response_url()
        status, body = self.post(payloads.slash_command(user_id, text, response_url=response_url))
        return status, body, response_url

    def click(
        self,
        user_id: str,
        action_id: str,
        *,
        message: dict[str, Any] | None = None,
        channel_id: str | None = None,
        value: str | None = None,
        view: dict[str, Any] | None = None,
        ephemeral: bool = False,
    ) -> tuple[int, Any, str]:
        response_url = self.new_response_url()
        if view is not None:
            body = payloads.block_actions(user_id, action_id, value, container="view", view=view)
        else:
            body = payloads.block_actions(
                user_id,
                action_id,
                value,
                message=message,
                channel_id=channel_id or BILLING_CHANNEL,
                response_url=response_url,
                ephemeral=ephemeral,
            )
        status, reply = self.post(body)
        return status, reply, response_url

    def submit(
        self, user_id: str, view: dict[str, Any], values: dict[str, dict[str, Any]]
    ) -> tuple[int, Any]:
        return self.post(payloads.view_submission(user_id, view, values))

    def suggest(
        self, user_id: str, view: dict[str, Any], typed: str, state: dict[str, Any]
    ) -> tuple[int, Any]:
        return self.post(
            payloads.block_suggestion(user_id, "invoice", typed, view=view, state_values=state)
        )

    def act_in_modal(
        self,
        user_id: str,
        view_id: str,
        action_id: str,
        value: str | None = None,
        *,
        state: dict[str, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        """Use a button or select inside the open modal ``view_id`` (Slack sending ``state``,
        what its inputs hold); returns the modal as Slack shows it after the bot's views.update.
        """
        current = self.slack.view(view_id)
        assert current is not None, f"no open view {view_id}"
        updates = len(self.slack.deliveries("views.update"))
        status, _ = self.post(
            payloads.block_actions(
                user_id, action_id, value, container="view", view=current, state_values=state
            )
        )
        assert status == 200
        wait_for(
            lambda: len(self.slack.deliveries("views.update")) > updates,
            what=f"views.update after {action_id}",
        )
        shown = self.slack.view(view_id)
        assert shown is not None
        return shown

    # ------------------------------------------------------------- reading

    def responses_to(self, response_url: str) -> list[dict[str, Any]]:
        path = response_url.split("127.0.0.1", 1)[-1].split("/", 1)[-1]
        return [
            call.params
            for call in self.slack.calls_to("response_url")
            if call.path.strip("/").endswith(path.strip("/"))
        ]

    def wait_response(self, response_url: str) -> dict[str, Any]:
        return wait_for(lambda: self.responses_to(response_url), what="response_url reply")[-1]

    def opened_views(self) -> list[dict[str, Any]]:
        """Views opened with views.open, as Slack holds them (with their ids)."""
        opened = []
        for call in self.slack.deliveries("views.open"):
            response = call.response or {}
            view = response.get("view")
            if isinstance(view, dict):
                opened.append(view)
        return opened

    def wait_view(self, count: int = 1) -> dict[str, Any]:
        return wait_for(
            lambda: self.opened_views()[count - 1] if len(self.opened_views()) >= count else None,
            what=f"views.open #{count}",
        )

    def deliver(self) -> int:
        """Send everything the outbox owes (the sender thread's work, done now)."""
        return self.bot.delivery.drain(timeout=10)

    def billing_messages(self) -> list[dict[str, Any]]:
        return self.slack.messages_in(BILLING_CHANNEL)


def text_of(message: dict[str, Any] | None) -> str:
    """Everything a person reads in a message or view: fallback text and every block's text."""
    if not message:
        return ""
    parts: list[str] = [str(message.get("text") or "")]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "text" and isinstance(value, str):
                    parts.append(value)
                else:
                    walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(message.get("blocks") or [])
    if "title" in message:
        walk(message.get("title"))
    return "\n".join(parts)


def action_ids(message: dict[str, Any] | None) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("action_id"), str):
                found.append(node["action_id"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk((message or {}).get("blocks") or [])
    return found


# ------------------------------------------------- what the outbox owed vs what Slack got

# Every message the bot sends about an allocation names it as "#<id>" in its fallback text.
_ALLOCATION_IN_TEXT = re.compile(r"#(\d+)\b")
OUTBOX_METHODS = ("chat.postMessage", "chat.update")


def allocation_named_by(call: Call) -> int | None:
    """The allocation a chat.postMessage/chat.update is about, read from its text."""
    found = _ALLOCATION_IN_TEXT.search(str(call.params.get("text") or ""))
    return int(found.group(1)) if found else None


def owed_calls(db: Database) -> dict[int, list[tuple[str, str]]]:
    """Per allocation, the (method, channel) calls its outbox rows owe, in the order written.

    The first billing row posts and later ones edit that post; requester rows post to the DM,
    receipt rows edit the receipt (the requester row written with the request).
    """
    owed: dict[int, list[tuple[str, str]]] = {}
    with db.transaction() as session:
        rows = session.execute(
            select(OutboxMessage.allocation_id, OutboxMessage.recipient, Allocation.requested_by)
            .join(Allocation, Allocation.allocation_id == OutboxMessage.allocation_id)
            .order_by(OutboxMessage.message_id)
        ).all()
    for allocation_id, recipient, requested_by in rows:
        calls = owed.setdefault(int(allocation_id), [])
        if recipient == BILLING:
            posted = ("chat.postMessage", BILLING_CHANNEL) in calls
            calls.append(("chat.update" if posted else "chat.postMessage", BILLING_CHANNEL))
        elif recipient == REQUESTER:
            calls.append(("chat.postMessage", dm_channel_for(requested_by)))
        elif recipient == RECEIPT:
            calls.append(("chat.update", dm_channel_for(requested_by)))
        else:
            raise AssertionError(f"unknown outbox recipient {recipient!r}")
    return owed


def _kind_of(call: Call) -> str | None:
    metadata = call.params.get("metadata")
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    if not isinstance(metadata, dict):
        return None
    payload = metadata.get("event_payload")
    return payload.get("kind") if isinstance(payload, dict) else None


def delivered_calls(slack: FakeSlack) -> dict[int, list[Call]]:
    """Per allocation, the chat.postMessage/chat.update calls Slack applied, in arrival order."""
    delivered: dict[int, list[Call]] = {}
    for call in slack.calls:
        if call.method in OUTBOX_METHODS and call.delivered:
            allocation_id = allocation_named_by(call)
            if allocation_id is None and _kind_of(call) == OutboxKind.DAILY_DIGEST:
                # The day's digest of what waits is about no one allocation; it is owed once a
                # business day while something waits, so it appears when a test runs in hours.
                continue
            if allocation_id is None:
                raise AssertionError(f"a delivered message names no allocation: {call.params}")
            delivered.setdefault(allocation_id, []).append(call)
    return delivered


def assert_owed_delivered_once_in_order(db: Database, slack: FakeSlack) -> None:
    """Nothing owed is left, and Slack applied each owed message exactly once, in written order.

    Order is kept per destination (the billing channel; the requester's DM), which is what
    matters: an edit must follow the post it edits. Edits must land on the message the earlier
    post created (the same channel and ts).
    """
    with db.transaction() as session:
        unsent = session.scalars(
            select(OutboxMessage.message_id).where(OutboxMessage.sent_at.is_(None))
        ).all()
    assert list(unsent) == [], f"outbox rows still owed: {unsent}"
    owed = owed_calls(db)
    delivered = delivered_calls(slack)
    assert sorted(delivered) == sorted(owed), "messages about allocations nobody owed"
    for allocation_id, calls in delivered.items():
        got = [(call.method, call.channel) for call in calls]
        wanted = owed[allocation_id]
        for channel in {channel for _method, channel in wanted} | {c for _m, c in got}:
            got_here = [call for call in got if call[1] == channel]
            wanted_here = [call for call in wanted if call[1] == channel]
            assert got_here == wanted_here, f"#{allocation_id}: owed {wanted}, got {got}"
        posted: dict[str | None, str] = {}
        for call in calls:
            if call.method == "chat.postMessage":
                posted.setdefault(call.channel, str((call.response or {}).get("ts")))
            else:
                assert call.params.get("ts") == posted.get(call.channel), (
                    f"#{allocation_id}: an edit missed the message it should change"
                )
    # What the billing channel shows last is the request as it stands now: no edit rendered
    # before a later change landed after it. A request still pending shows today's balances
    # too; a decided one keeps those it was sent with (they are not edited again).
    ledger = Ledger(db)
    for allocation_id, calls in delivered.items():
        last = [call for call in calls if call.channel == BILLING_CHANNEL][-1]
        current = ledger.allocation(allocation_id)
        now = views.billing_message(current)
        assert last.params.get("text") == now["text"], f"#{allocation_id}: billing is stale"
        if current.status == "pending":
            assert _blocks(last) == now["blocks"], f"#{allocation_id}: stale balances"


def _blocks(call: Call) -> Any:
    blocks = call.params.get("blocks")
    return json.loads(blocks) if isinstance(blocks, str) else blocks


P = ParamSpec("P")
R = TypeVar("R")


class TrackedExecutor(Executor):
    """Bolt's listener executor, counting work in flight: listeners finish after their ack,
    so a test that wants to see everything a request caused waits until this is idle."""

    def __init__(self, inner: Executor) -> None:
        self.inner = inner
        self._in_flight = 0
        self._idle = threading.Condition()

    def submit(self, fn: Callable[P, R], /, *args: P.args, **kwargs: P.kwargs) -> Future[R]:
        with self._idle:
            self._in_flight += 1

        def run() -> R:
            try:
                return fn(*args, **kwargs)
            finally:
                with self._idle:
                    self._in_flight -= 1
                    self._idle.notify_all()

        return self.inner.submit(run)

    def wait_idle(self, timeout: float = 15.0) -> None:
        with self._idle:
            assert self._idle.wait_for(lambda: self._in_flight == 0, timeout), "listener hung"

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self.inner.shutdown(wait=wait, cancel_futures=cancel_futures)
