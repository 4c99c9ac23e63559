"""Hostile and malformed signed requests: never a 5xx, never internals shown, never a change.

Every request here is signed with the real secret, so it reaches past signature checking into
Bolt's parsing and our listeners. None of them is a valid request by someone allowed to make it
(the strategies steer around those, conservatively), so after each one every table must hold
exactly the rows it held before (``slack_people`` aside: where a person was seen is Slack's
signed word, recorded before any listener runs; its ids must only ever be of Slack's shapes).
Listeners finish after their ack, so each example waits for the app's listener threads to go
idle before looking at the database and at what Slack was sent.

Team, org and authorization fields get junk and Acme's ids planted where Slack does not name
the acting person: they must give nobody access (the last section).
"""

from __future__ import annotations

import copy
import itertools
import json
import logging
import re
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qs, urlencode

import pytest
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from models.limits import is_slack_channel_id, is_slack_user_id
from models.tables import PartnerMember
from models.workspaces import PartnerTeam, SlackPerson
from slackbot.db import Database
from slackbot.ledger.membership import is_slack_enterprise_id, is_slack_team_id
from slackbot.server import MAX_BODY_BYTES
from slackbot.slack import views
from slackbot.slack.refusals import UNEXPECTED_TEXT
from slackbot.slack.views.launcher import LauncherAction, Shortcut
from tests.support import connect_payloads as connect
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import (
    APPROVER,
    BILLING_CHANNEL,
    GROUP_APPROVER,
    SECOND_APPROVER,
    SECRET,
    BotHarness,
    TrackedExecutor,
)
from tests.support.factories import add_invoice, add_partner, add_payment, snapshot

ALICE = "U0ALICE"  # Acme
BOB = "U0BOB"  # Globex
STRANGER = "U0NOBODY"  # no partner
ACTORS = (ALICE, BOB, STRANGER, APPROVER, SECOND_APPROVER, GROUP_APPROVER)
APPROVERS = frozenset({APPROVER, SECOND_APPROVER, GROUP_APPROVER})
# Which payments each actor's partners own (SECOND_APPROVER is also an Acme member).
OWN_PAYMENTS = {
    ALICE: {"PAY-1", "PAY-JPY"},
    SECOND_APPROVER: {"PAY-1", "PAY-JPY"},
    BOB: {"PAY-B"},
}
OWN_INVOICES = {
    ALICE: {"INV-1", "INV-2", "INV-EUR", "INV-JPY"},
    SECOND_APPROVER: {"INV-1", "INV-2", "INV-EUR", "INV-JPY"},
    BOB: {"INV-B1"},
}

HOSTILE = settings(
    max_examples=70,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

# -------------------------------------------------------------------------------- strategies

AMOUNTS = [
    "1e9",
    "NaN",
    "Infinity",
    "-Infinity",
    "1,000.00",
    "١٠٠",
    "１２",
    "-0",
    "0",
    "0.000",
    " 12 ",
    "12.",
    ".5",
    "9" * 40,
    "-5",
    "+5",
    "1_000",
    "0x10",
    "12\u200b",
    "\u202e21",
    "12\x00",
    "$12",
    "12 USD",
    "",
    "   ",
]
IDS = [
    "PAY-1",
    " PAY-1 ",
    "pay-1",
    "PAY-1\u200b",
    "PAY-1\x00",
    "PAY-JPY",
    "PAY-B",
    "PAY-404",
    "INV-1",
    "INV-2",
    "INV-EUR",
    "INV-JPY",
    "INV-B1",
    "INV-404",
    "%",
    "_",
    "' OR '1'='1",
    "PAY-1'; DROP TABLE payments; --",
    "\\",
    "<@U0APPROVER>",
    "<!channel>",
    "*bold* _it_ `code`",
    "{alice}",
    "{bob}",
    "{approver}",
    "{decided}",
    " {alice} ",
    "0",
    "-1",
    "99999999999",
    "999999999999",
    "2147483648",
    "9223372036854775808",
]
SPECIALS = ["\x00", "\u202e", "\u200b", "\ufeff", "🙂", "👩‍👩‍👧", "\r\n", "\t", "ℌ", "é"]


def _huge(unit: str) -> str:
    """About 100 KB of ``unit`` once UTF-8 encoded."""
    return unit * (100_000 // len(unit.encode("utf-8")))


hostile_text = st.one_of(
    st.sampled_from(AMOUNTS + IDS),
    st.text(max_size=40),
    st.builds(
        lambda parts: "".join(parts),
        st.lists(st.sampled_from(AMOUNTS + IDS + SPECIALS), min_size=1, max_size=4),
    ),
    st.sampled_from(["x", "9", "🙂", "\u202e", "\x00"]).map(_huge),
)
# What Slack puts where a string belongs, and what a forger might put there instead.
hostile_value = st.one_of(
    hostile_text,
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.lists(hostile_text, max_size=3),
    st.dictionaries(st.sampled_from(["value", "id", "text", "type"]), hostile_text, max_size=3),
)
CONTRACT_ACTIONS = [
    "open_allocation",
    "payment",
    "approve_allocation",
    "reject_allocation",
    "cancel_allocation",
]
action_ids = st.one_of(
    st.sampled_from(CONTRACT_ACTIONS),
    st.builds(
        lambda name, suffix: f"{name}:{suffix}",
        st.sampled_from(CONTRACT_ACTIONS),
        hostile_text.map(lambda text: text[:200]),
    ),
)

# ----------------------------------------------------------------------- the world under attack


class FailureLog(logging.Handler):
    """Records our listeners' last-line-of-defence failures (an input nobody foresaw)."""

    def __init__(self) -> None:
        super().__init__(level=logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class World:
    harness: BotHarness
    db: Database
    executor: TrackedExecutor
    failures: FailureLog
    ids: dict[str, int] = field(default_factory=dict)

    def resolve(self, value: Any) -> Any:
        """Placeholders like ``{alice}`` become the real allocation ids (they differ per run)."""
        if isinstance(value, str):
            for name, allocation_id in self.ids.items():
                value = value.replace("{" + name + "}", str(allocation_id))
            return value
        if isinstance(value, list):
            return [self.resolve(item) for item in value]
        if isinstance(value, dict):
            return {key: self.resolve(item) for key, item in value.items()}
        return value

    def decidable_by(self, actor: str) -> set[int]:
        """Pending allocations ``actor`` may approve or reject (their own request excluded)."""
        if actor not in APPROVERS:
            return set()
        return {self.ids["alice"], self.ids["bob"], self.ids["approver"]} - (
            {self.ids["approver"]} if actor == SECOND_APPROVER else set()
        )

    def cancellable_by(self, actor: str) -> set[int]:
        return {
            ALICE: {self.ids["alice"]},
            BOB: {self.ids["bob"]},
            SECOND_APPROVER: {self.ids["approver"]},
        }.get(actor, set())


@pytest.fixture
def world(harness: BotHarness, db: Database) -> Iterator[World]:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE, SECOND_APPROVER])
    add_partner(db, "P-GLOBEX", "Globex", members=[BOB])
    add_payment(db, "PAY-1", "P-ACME", 100000, "USD", reference="Wire for INV-2")
    add_payment(db, "PAY-JPY", "P-ACME", 50000, "JPY")
    add_payment(db, "PAY-B", "P-GLOBEX", 50000, "USD")
    add_invoice(db, "INV-1", "P-ACME", 60000, "USD")
    add_invoice(db, "INV-2", "P-ACME", 40000, "USD")
    add_invoice(db, "INV-EUR", "P-ACME", 10000, "EUR")
    add_invoice(db, "INV-JPY", "P-ACME", 30000, "JPY")
    add_invoice(db, "INV-B1", "P-GLOBEX", 50000, "USD")
    ledger = harness.bot.ledger
    approver = harness.bot.approvers.actor(APPROVER)
    ids = {
        "alice": ledger.request_allocation(ALICE, "PAY-1", "INV-1", "100.00").allocation_id,
        "bob": ledger.request_allocation(BOB, "PAY-B", "INV-B1", "50.00").allocation_id,
        "approver": ledger.request_allocation(
            SECOND_APPROVER, "PAY-1", "INV-2", "10.00"
        ).allocation_id,
    }
    decided = ledger.request_allocation(ALICE, "PAY-1", "INV-2", "5.00").allocation_id
    ledger.approve(decided, approver)
    ids["decided"] = decided
    harness.deliver()  # what the setup owed is sent, so only the attack's messages are new

    runner = harness.bot.app.listener_runner
    executor = TrackedExecutor(runner.listener_executor)
    runner.listener_executor = executor
    failures = FailureLog()
    logging.getLogger("handlers").addHandler(failures)
    try:
        yield World(harness, db, executor, failures, ids)
    finally:
        logging.getLogger("handlers").removeHandler(failures)


# ----------------------------------------------------------------------------- the assertions

# What a person must never read: a traceback, a source path, an exception's class name, the
# database driver's words.
INTERNALS = re.compile(
    r"Traceback|File \"[^\"]*\", line \d+|\b\w+(?:Error|Exception)\b|\b\w+\.py\b|site-packages"
    r"|sqlalchemy|psycopg|sqlite3|\(Background on this error|\bError: "
)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def leaked_internals(shown: str, sent: list[str]) -> list[str]:
    """Internals in ``shown`` that are not merely an echo of something the request itself said."""
    return [
        match.group(0)
        for match in INTERNALS.finditer(shown)
        if not any(match.group(0) in text for text in sent)
    ]


def send(
    world: World,
    body: str,
    *,
    sent: list[str],
    content_type: str | None = None,
    foreseen: bool,
) -> tuple[int, str]:
    """POST one signed body and check everything the bot did about it.

    ``foreseen``: the request is shaped as Slack shapes it (only its values are hostile), so
    our listeners must refuse it in words rather than fall through to their catch-all.
    """
    h = world.harness
    # Bigger than the server takes at all (413 unread), so it would test nothing past the door.
    assume(len(body.encode("utf-8")) < MAX_BODY_BYTES)
    before = ledger_snapshot(world.db)
    calls_before = len(h.slack.calls)
    failures_before = len(world.failures.records)
    extra = {"Content-Type": content_type} if content_type else None
    status, _headers, text = payloads.post_signed(
        h.base_url, body, secret=SECRET, extra_headers=extra, timeout=30
    )
    world.executor.wait_idle()

    assert status < 500, f"HTTP {status} for a signed request: {body[:600]!r}"
    assert not leaked_internals(text, sent), f"response shows internals: {text[:600]!r}"
    for call in h.slack.calls[calls_before:]:
        said = json.dumps(call.params, ensure_ascii=False)
        assert not leaked_internals(said, sent), f"{call.method} shows internals: {said[:600]}"
        if foreseen:
            assert UNEXPECTED_TEXT not in said, f"catch-all reached the person for {body[:600]!r}"
    if foreseen:
        failed = [r.getMessage() for r in world.failures.records[failures_before:]]
        assert not failed, f"{failed} for {body[:600]!r}"
    assert ledger_snapshot(world.db) == before, f"the database changed for {body[:600]!r}"
    assert not odd_sightings(world.db), f"{odd_sightings(world.db)} recorded for {body[:600]!r}"
    assert _health(h) == 200
    return status, text


def ledger_snapshot(db: Database) -> dict[str, list[tuple[Any, ...]]]:
    """Every table but ``slack_people``: where a person was seen is Slack's signed word on who
    they are, recorded before any listener runs, not a change the request made."""
    return {name: rows for name, rows in snapshot(db).items() if name != "slack_people"}


def odd_sightings(db: Database) -> list[tuple[Any, ...]]:
    """Recorded sightings whose ids are not of Slack's shapes (none may ever be)."""
    with db.transaction(read_only=True) as session:
        rows = session.execute(
            select(
                SlackPerson.slack_user_id,
                SlackPerson.team_id,
                SlackPerson.enterprise_id,
                SlackPerson.channel_id,
            )
        ).all()
    return [
        tuple(row)
        for row in rows
        if not is_slack_user_id(row[0])
        or (row[1] is not None and not is_slack_team_id(row[1]))
        or (row[2] is not None and not is_slack_enterprise_id(row[2]))
        or (row[3] is not None and not is_slack_channel_id(row[3]))
    ]


def _health(h: BotHarness) -> int:
    with urllib.request.urlopen(h.base_url + "/healthz", timeout=5) as response:
        return int(response.status)


def _mentions(value: Any, ids: set[int]) -> bool:
    """Conservative: any run of digits (of any script) anywhere in ``value`` naming one of ids."""
    for text in _strings(value):
        for digits in re.findall(r"\d+", text):
            try:
                if int(digits) in ids:
                    return True
            except ValueError:
                continue
    return False


_views = itertools.count()


def _form(payload: dict[str, Any]) -> str:
    return urlencode({"payload": json.dumps(payload)})


# ------------------------------------------------------------------ well-shaped, hostile values


@HOSTILE
@given(
    actor=st.sampled_from(ACTORS),
    verb=st.sampled_from(["", "list ", "allocate ", "history ", "help ", "ALLOCATE "]),
    text=hostile_text,
)
# PostgreSQL refuses NUL in text parameters: the ledger must refuse such an id in words first.
@example(actor=ALICE, verb="allocate ", text="PAY-1\x00")
def test_slash_command_with_hostile_text_is_answered_in_words_and_changes_nothing(
    world: World, actor: str, verb: str, text: str
) -> None:
    typed = world.resolve(verb + text)
    body = payloads.slash_command(actor, typed, response_url=world.harness.new_response_url())
    send(world, body, sent=[typed], foreseen=True)


@HOSTILE
@given(actor=st.sampled_from(ACTORS), action_id=action_ids, value=hostile_text)
# Twelve digits pass the handlers' check but overflow PostgreSQL's INTEGER allocation_id.
@example(actor=APPROVER, action_id="approve_allocation:1", value="99999999999")
@example(actor=ALICE, action_id="cancel_allocation", value="999999999999")
@example(actor=ALICE, action_id="open_allocation:PAY-1", value="PAY-1\x00")
def test_buttons_with_hostile_values_are_refused_in_words_and_change_nothing(
    world: World, actor: str, action_id: str, value: str
) -> None:
    action_id, value = world.resolve(action_id), world.resolve(value)
    name = action_id.split(":", 1)[0]
    # A click that would legitimately decide or withdraw a request is not hostile; skip it.
    if name == "approve_allocation":
        assume(not _mentions(value, world.decidable_by(actor)))
    if name == "cancel_allocation":
        assume(not _mentions(value, world.cancellable_by(actor)))
    h = world.harness
    if name == "payment":
        view = {"id": "V0HOSTILE", "callback_id": "allocation_modal", "blocks": []}
        body = payloads.block_actions(
            actor, action_id, value, action_type="static_select", container="view", view=view
        )
    else:
        body = payloads.block_actions(
            actor,
            action_id,
            value,
            channel_id=BILLING_CHANNEL,
            response_url=h.new_response_url(),
        )
    send(world, body, sent=[action_id, value], foreseen=True)


def _could_be_accepted(amount: Any) -> bool:
    """Conservative: an amount some currency might take (plain digits, after trimming)."""
    if not isinstance(amount, str):
        return False
    cleaned = amount.replace("\x00", "").strip()
    if not re.fullmatch(r"[0-9]+(\.[0-9]*)?", cleaned, re.ASCII):
        return False
    try:
        return Decimal(cleaned.rstrip(".") or "0") > 0
    except InvalidOperation:
        return True


def _names_own_payment(actor: str, payment: Any) -> bool:
    if not isinstance(payment, str):
        return False
    cleaned = "".join(ch for ch in payment if ch.isprintable()).strip()
    return cleaned.upper() in OWN_PAYMENTS.get(actor, set())


def _state_entry(kind: str, value: Any) -> dict[str, Any]:
    if kind == "text":
        return {"type": "plain_text_input", "value": value}
    return {
        "type": kind,
        "selected_option": {"text": {"type": "plain_text", "text": "x"}, "value": value},
    }


@HOSTILE
@given(
    actor=st.sampled_from(ACTORS),
    payment=hostile_value,
    invoice=hostile_value,
    amount=hostile_value,
    note=hostile_value,
    metadata=hostile_value,
    leave_out=st.sets(st.sampled_from(["payment", "invoice", "amount", "note"])),
)
@example(
    actor=ALICE,
    payment="PAY-1\x00",
    invoice="INV-1",
    amount="1e9",
    note=None,
    metadata="",
    leave_out=set(),
)
def test_allocation_modal_with_hostile_fields_answers_field_errors_and_changes_nothing(
    world: World,
    actor: str,
    payment: Any,
    invoice: Any,
    amount: Any,
    note: Any,
    metadata: Any,
    leave_out: set[str],
) -> None:
    payment, invoice, amount = (world.resolve(v) for v in (payment, invoice, amount))
    if _names_own_payment(actor, payment) and "amount" not in leave_out:
        assume(not _could_be_accepted(amount))
    values = {
        "payment": {"payment": _state_entry("static_select", payment)},
        "invoice": {"invoice": _state_entry("external_select", invoice)},
        "amount": {"amount": _state_entry("text", amount)},
        "note": {"note": _state_entry("text", note)},
    }
    for block in leave_out:
        del values[block]
    view = {"callback_id": "allocation_modal", "blocks": []}
    body = payloads.view_submission(
        actor,
        view,
        values,
        view_id=f"V0HOSTILE{next(_views)}",
        private_metadata=metadata if isinstance(metadata, str) else json.dumps(metadata),
    )
    sent = list(_strings([payment, invoice, amount, note, metadata]))
    status, text = send(world, body, sent=sent, foreseen=True)
    assert status == 200
    reply = json.loads(text)
    assert reply["response_action"] == "errors", reply
    assert set(reply["errors"]) <= {"payment", "invoice", "amount", "note"}


@HOSTILE
@given(
    actor=st.sampled_from(ACTORS),
    metadata=st.one_of(
        hostile_value.map(json.dumps),
        hostile_value.map(lambda v: json.dumps({"allocation_id": v})),
        hostile_text,
    ),
    reason=hostile_value,
)
@example(actor=APPROVER, metadata='{"allocation_id": "99999999999"}', reason="no")
def test_reject_modal_with_hostile_fields_is_refused_under_the_reason_and_changes_nothing(
    world: World, actor: str, metadata: str, reason: Any
) -> None:
    metadata, reason = world.resolve(metadata), world.resolve(reason)
    if _mentions(metadata, world.decidable_by(actor)):
        assume(not (isinstance(reason, str) and reason.strip()))
    body = payloads.view_submission(
        actor,
        {"callback_id": "reject_modal", "blocks": []},
        {"reason": {"reason": _state_entry("text", reason)}},
        private_metadata=metadata,
    )
    status, text = send(world, body, sent=[metadata, *_strings(reason)], foreseen=True)
    assert status == 200
    reply = json.loads(text)
    assert reply["response_action"] == "errors" and list(reply["errors"]) == ["reason"], reply


@HOSTILE
@given(actor=st.sampled_from(ACTORS), payment=hostile_value, typed=hostile_value)
@example(actor=ALICE, payment="PAY-1\x00", typed=None)
@example(actor=ALICE, payment="PAY-1", typed="INV\x00")
def test_invoice_options_with_hostile_input_offer_only_the_actors_own_invoices(
    world: World, actor: str, payment: Any, typed: Any
) -> None:
    payment, typed = world.resolve(payment), world.resolve(typed)
    payload = payloads.decode_payload(
        payloads.block_suggestion(
            actor,
            "invoice",
            "",
            view={"id": "V0HOSTILE", "callback_id": "allocation_modal", "blocks": []},
            state_values={"payment": {"payment": _state_entry("static_select", payment)}},
        )
    )
    payload["value"] = typed
    status, text = send(world, _form(payload), sent=list(_strings([payment, typed])), foreseen=True)
    if typed is not None and not isinstance(typed, str):
        # Slack always sends what was typed as text; anything else is refused before Bolt.
        assert status == 400
        return
    assert status == 200
    offered = {option["value"] for option in json.loads(text)["options"]}
    assert offered <= OWN_INVOICES.get(actor, set()), f"{actor} was offered {offered}"


# ------------------------------------------------------------------------ wrong shapes entirely


def _base_payloads(world: World) -> list[dict[str, Any]]:
    """One well-formed payload of each kind, all by someone who may change nothing."""
    h = world.harness
    view = {"id": "V0BASE", "callback_id": "allocation_modal", "blocks": []}
    clicks = [
        payloads.decode_payload(
            payloads.block_actions(
                STRANGER,
                f"{name}:{world.ids['alice']}",
                str(world.ids["alice"]),
                channel_id=BILLING_CHANNEL,
                response_url=h.new_response_url(),
            )
        )
        for name in ("open_allocation", "approve_allocation", "reject_allocation")
    ]
    return [
        *clicks,
        payloads.decode_payload(
            payloads.block_actions(
                STRANGER,
                "payment",
                "PAY-1",
                action_type="static_select",
                container="view",
                view=view,
            )
        ),
        payloads.decode_payload(
            payloads.view_submission(
                STRANGER,
                view,
                {
                    "payment": {"payment": payloads.static_select_value("PAY-1")},
                    "invoice": {"invoice": payloads.external_select_value("INV-1")},
                    "amount": {"amount": payloads.text_value("10.00")},
                },
            )
        ),
        payloads.decode_payload(
            payloads.view_submission(
                STRANGER,
                {"callback_id": "reject_modal", "blocks": []},
                {"reason": {"reason": payloads.text_value("no")}},
                private_metadata=json.dumps({"allocation_id": world.ids["alice"]}),
            )
        ),
        payloads.decode_payload(
            payloads.block_suggestion(
                STRANGER,
                "invoice",
                "INV",
                view=view,
                state_values={"payment": {"payment": payloads.static_select_value("PAY-1")}},
            )
        ),
    ]


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from _paths(value, (*prefix, index))


DELETE = object()


def _mutate(node: Any, path: tuple[Any, ...], value: Any) -> None:
    for step in path[:-1]:
        node = node[step]
    if value is DELETE:
        del node[path[-1]]
    else:
        node[path[-1]] = value


# Ids and names a forger would put in structural places: unknown action and callback ids too.
structural_value = st.one_of(
    hostile_value,
    st.sampled_from(
        [
            "block_actions",
            "view_submission",
            "block_suggestion",
            "shortcut",
            "event_callback",
            "allocation_modal",
            "reject_modal",
            "unknown_modal",
            "invoice",
            "approve_allocation",
            "not_an_action",
        ]
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_payloads_with_wrong_types_and_missing_keys_never_fail_or_change_anything(
    world: World, data: st.DataObject
) -> None:
    payload = data.draw(st.sampled_from(_base_payloads(world)), label="base")
    for _ in range(data.draw(st.integers(min_value=1, max_value=3), label="mutations")):
        paths = list(_paths(payload))
        if not paths:
            break
        path = data.draw(st.sampled_from(paths), label="path")
        value = data.draw(st.one_of(st.just(DELETE), structural_value), label="value")
        _mutate(payload, path, value)
    sent = list(_strings(payload))
    send(world, _form(payload), sent=sent, foreseen=False)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    form=st.dictionaries(
        st.sampled_from(
            ["command", "text", "user_id", "team_id", "response_url", "trigger_id", "channel_id"]
        ),
        hostile_text,
    ),
    command=st.sampled_from(["/payments", "/PAYMENTS", "/other", ""]),
)
def test_slash_commands_with_missing_or_odd_fields_never_fail_or_change_anything(
    world: World, form: dict[str, str], command: str
) -> None:
    fields = {"command": command, "user_id": STRANGER, "text": "list", **form}
    body = urlencode(fields)
    send(world, body, sent=list(fields.values()), foreseen=False)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    body=st.one_of(
        st.binary(max_size=300).map(lambda raw: raw.decode("latin-1")),
        st.text(max_size=300),
        st.text(max_size=200).map(lambda text: "payload=" + text),
        st.sampled_from(
            [
                "payload=",
                "payload=%7B",
                "payload=null",
                "payload=%5B%5D",
                "payload=1",
                'payload="x"',
                "payload=%7B%22type%22%3A%22block_actions%22%7D",
                "payload=%7B%22type%22%3A%22view_submission%22%2C%22view%22%3A1%7D",
                "payload=" + "a" * 200_000,
                "{",
                "[1, 2]",
                "null",
                '{"type": "url_verification", "challenge": ["x"]}',
                '{"type": "event_callback", "event": 5}',
                '{"type": "block_actions", "actions": "x"}',
                "command=/payments&command=/payments&user_id=U0NOBODY",
            ]
        ),
    ),
    content_type=st.sampled_from(
        [
            None,
            "application/json",
            "application/x-www-form-urlencoded",
            "text/plain",
            "multipart/form-data; boundary=x",
            "application/json; charset=utf-16",
        ]
    ),
)
def test_malformed_bodies_never_fail_or_change_anything(
    world: World, body: str, content_type: str | None
) -> None:
    send(world, body, sent=[body], content_type=content_type, foreseen=False)


# ------------------------------------------------------------------- requests of several lines

LINE_SUFFIXES = ["abc", "0", "1", "11", "-1", "99", "2.0", " 2", "٢", "9" * 40, "", "2:3"]
LINE_BLOCKS = [
    *(f"{kind}_{n}" for n in range(2, 11) for kind in ("invoice", "amount")),
    "invoice_11",
    "amount_11",
    "invoice_99",
    "amount_99",
    "invoice_0",
    "amount_1",
]
# What a forger puts in the modal's private_metadata: the shape it has, wrong values, junk.
hostile_metadata = st.one_of(
    hostile_text,
    hostile_value.map(json.dumps),
    st.lists(st.one_of(st.integers(-(2**40), 2**40), hostile_value), max_size=14).map(
        lambda lines: json.dumps({"lines": lines})
    ),
    st.builds(
        lambda payment, lines: json.dumps(
            {"lines": [2, 3], "suggested": {"payment": payment, "lines": lines}}
        ),
        hostile_value,
        st.lists(st.lists(hostile_value, max_size=3), max_size=12),
    ),
    # Bigger than any modal's own, and a well-formed one padded past Slack's 3,000 characters.
    st.just(json.dumps({"lines": list(range(2, 11)), "pad": "x" * 4000})),
    st.just('{"lines": [2, 3'),
    # Arrays where the modal keeps them, replaced by scalars (found crashing the listeners).
    st.sampled_from(
        [
            '{"lines": 5}',
            '{"lines": true}',
            '{"lines": [2], "suggested": {"payment": "PAY-1", "lines": 7}}',
        ]
    ),
)


def _modal_view(metadata: str) -> dict[str, Any]:
    return {
        "id": f"V0HOSTILE{next(_views)}",
        "callback_id": "allocation_modal",
        "blocks": [],
        "private_metadata": metadata,
        "state": {
            "values": {
                "payment": {"payment": _state_entry("static_select", "PAY-1")},
                "invoice": {"invoice": _state_entry("external_select", "INV-1")},
                "amount": {"amount": _state_entry("text", "10.00")},
                "invoice_2": {"invoice_2": _state_entry("external_select", "INV-2")},
                "amount_2": {"amount_2": _state_entry("text", "5.00")},
            }
        },
    }


@HOSTILE
@given(
    actor=st.sampled_from(ACTORS),
    name=st.sampled_from(["remove_invoice_line", "add_invoice_line"]),
    suffix=st.one_of(st.sampled_from(LINE_SUFFIXES), hostile_text.map(lambda t: t[:200])),
    value=hostile_text,
    metadata=hostile_metadata,
)
@example(actor=ALICE, name="add_invoice_line", suffix="", value="add", metadata='{"lines": 5}')
@example(actor=ALICE, name="remove_invoice_line", suffix="abc", value="x", metadata="{}")
@example(actor=ALICE, name="remove_invoice_line", suffix="0", value="0", metadata='{"lines":[2]}')
@example(actor=ALICE, name="remove_invoice_line", suffix="11", value="11", metadata="[]")
@example(actor=ALICE, name="remove_invoice_line", suffix="-1", value="-1", metadata="null")
@example(
    actor=ALICE,
    name="remove_invoice_line",
    suffix="9" * 40,
    value="9" * 40,
    metadata='{"lines":[2,3,4,5,6,7,8,9,10,11,12]}',
)
def test_adding_and_removing_lines_with_forged_ids_and_metadata_changes_nothing(
    world: World, actor: str, name: str, suffix: str, value: str, metadata: str
) -> None:
    action_id = f"{name}:{suffix}" if suffix else name
    body = payloads.block_actions(
        actor, action_id, value, container="view", view=_modal_view(metadata)
    )
    send(world, body, sent=[action_id, value, metadata], foreseen=True)


@HOSTILE
@given(
    actor=st.sampled_from(ACTORS),
    payment=st.one_of(st.sampled_from(IDS), hostile_text.map(lambda t: t[:200])),
    in_modal=st.booleans(),
    metadata=hostile_metadata,
)
@example(actor=ALICE, payment="PAY-B", in_modal=False, metadata="")
@example(actor=ALICE, payment="PAY-B", in_modal=True, metadata="")
@example(actor=BOB, payment="PAY-1", in_modal=False, metadata="")
@example(actor=STRANGER, payment="PAY-1", in_modal=False, metadata="")
@example(actor=ALICE, payment="PAY-1\x00", in_modal=True, metadata="{}")
def test_allocate_as_suggested_with_another_partners_payment_or_junk_changes_nothing(
    world: World, actor: str, payment: str, in_modal: bool, metadata: str
) -> None:
    h = world.harness
    action_id = f"allocate_suggested:{payment}"
    if in_modal:
        body = payloads.block_actions(
            actor, action_id, payment, container="view", view=_modal_view(metadata)
        )
    else:
        body = payloads.block_actions(
            actor,
            action_id,
            payment,
            channel_id="C_PARTNER",
            response_url=h.new_response_url(),
        )
    calls_before = len(h.slack.calls)
    send(world, body, sent=[action_id, payment, metadata], foreseen=True)
    # Another partner's payment is never shown: no modal names it, no reply does.
    if not _names_own_payment(actor, payment):
        for call in h.slack.calls[calls_before:]:
            said = json.dumps(call.params, ensure_ascii=False)
            for foreign in {"PAY-1", "PAY-JPY", "PAY-B"} - OWN_PAYMENTS.get(actor, set()):
                assert foreign not in said or foreign in payment, f"{call.method}: {said[:600]}"


# The blocks the modal can name in an error: line 1's, lines 2..10's, the payment's, the note's.
MODAL_BLOCKS = {"payment", "invoice", "amount", "note"} | {
    f"{kind}_{n}" for n in range(2, 11) for kind in ("invoice", "amount")
}


@HOSTILE
@given(
    actor=st.sampled_from(ACTORS),
    payment=st.one_of(st.sampled_from(["PAY-1", "PAY-B", "PAY-JPY"]), hostile_value),
    amount=hostile_value,
    lines=st.dictionaries(
        st.integers(min_value=0, max_value=len(LINE_BLOCKS) - 1),
        st.one_of(st.sampled_from(IDS + AMOUNTS), hostile_value),
        max_size=12,
    ),
    metadata=hostile_metadata,
)
@example(
    actor=ALICE,
    payment="PAY-1",
    amount="NaN",
    lines={0: "INV-2", 1: "5.00", 2: "INV-B1", 3: "1e9"},
    metadata='{"lines":[2,3]}',
)
@example(
    actor=BOB,
    payment="PAY-B",
    amount="-5",
    lines={2: "INV-1", 3: "10.00", 18: "INV-1", 19: "9" * 40},
    metadata='{"lines":[2,3,11,99]}',
)
@example(
    actor=ALICE,
    payment="PAY-1",
    amount="",
    lines={i: "INV-2" if i % 2 == 0 else "1.00" for i in range(18)},
    metadata=json.dumps({"lines": list(range(2, 11)), "pad": "x" * 4000}),
)
def test_a_multi_line_submission_with_forged_metadata_and_junk_lines_changes_nothing(
    world: World,
    actor: str,
    payment: Any,
    amount: Any,
    lines: dict[int, Any],
    metadata: str,
) -> None:
    payment, amount, metadata = (world.resolve(v) for v in (payment, amount, metadata))
    # Line 1 is always sent: an amount no currency takes keeps the request from being valid.
    if _names_own_payment(actor, payment):
        assume(not _could_be_accepted(amount))
    values: dict[str, Any] = {
        "payment": {"payment": _state_entry("static_select", payment)},
        "invoice": {"invoice": _state_entry("external_select", "INV-1")},
        "amount": {"amount": _state_entry("text", amount)},
    }
    for index, value in lines.items():
        block = LINE_BLOCKS[index]
        kind = "external_select" if block.startswith("invoice") else "text"
        values[block] = {block: _state_entry(kind, world.resolve(value))}
    body = payloads.view_submission(
        actor,
        {"callback_id": "allocation_modal", "blocks": []},
        values,
        view_id=f"V0HOSTILE{next(_views)}",
        private_metadata=metadata,
    )
    sent = list(_strings([payment, amount, list(lines.values()), metadata]))
    status, text = send(world, body, sent=sent, foreseen=True)
    assert status == 200
    reply = json.loads(text)
    assert reply["response_action"] == "errors", reply
    assert reply["errors"] and set(reply["errors"]) <= MODAL_BLOCKS, reply


# ------------------------------------------------------------- teams, orgs, authorizations
#
# Acme also claims the workspace T0ACME and the org E0ACME; PINNED is listed for Acme from
# T0ACME only. The forgers are STRANGER and PINNED, each acting from their own unclaimed
# workspace T0NOWHERE (what Slack itself puts in user.team_id / a command's team_id). Acme's
# ids are then planted everywhere else a team can appear, and every team field gets junk. No
# request may fail, show internals or change the ledger; none may show the forger Acme's
# payments or invoices, and none may record them as seen from Acme's team or org.

T_ACME, E_ACME, T_NOWHERE = "T0ACME", "E0ACME", "T0NOWHERE"
PINNED = "U0PINNED"
FORGERS = {"stranger": STRANGER, "pinned": PINNED}
ACME_SEEN = ("PAY-1", "PAY-JPY", "INV-1", "INV-2", "INV-EUR", "INV-JPY", "Acme")


@pytest.fixture
def teams_world(world: World) -> World:
    with world.db.transaction() as session:
        session.add_all(
            [
                PartnerTeam(partner_id="P-ACME", slack_team_id=T_ACME),
                PartnerTeam(partner_id="P-ACME", slack_team_id=E_ACME),
                PartnerMember(partner_id="P-ACME", slack_user_id=PINNED, slack_team_id=T_ACME),
            ]
        )
    return world


def _forged_bases(world: World, user: str) -> list[dict[str, Any]]:
    """Read-only surfaces that would show Acme's books to someone acting for Acme."""
    h = world.harness
    view = {"id": "V0TEAMS", "callback_id": "allocation_modal", "blocks": []}
    where = {"team_id": payloads.TEAM_ID, "user_team_id": T_NOWHERE}
    state = {"payment": {"payment": payloads.static_select_value("PAY-1")}}
    return [
        {
            key: values[0]
            for key, values in parse_qs(
                payloads.slash_command(
                    user, text, team_id=T_NOWHERE, response_url=h.new_response_url()
                )
            ).items()
        }
        for text in ("list", "allocate PAY-1", "history")
    ] + [
        payloads.decode_payload(
            payloads.block_actions(
                user,
                "open_allocation:PAY-1",
                "PAY-1",
                channel_id="C0ACMESHARED",
                response_url=h.new_response_url(),
                ephemeral=True,
                **where,
            )
        ),
        payloads.decode_payload(
            payloads.block_suggestion(user, "invoice", "", view=view, state_values=state, **where)
        ),
    ]


def _entry_bases(world: World, user: str) -> list[dict[str, Any]]:
    """The launcher's buttons in Acme's linked channel, the shortcuts, and a choice in the
    shortcuts' modal, clicked by ``user`` of T0NOWHERE through the vendor's installation."""
    h = world.harness
    where = {"team_id": payloads.TEAM_ID, "user_team_id": T_NOWHERE}
    launcher = {"type": "message", "ts": "1700000000.000900", **views.launcher_message("Acme")}
    in_modal = {**views.launcher_modal(), "id": "V0LAUNCHER", "type": "modal"}
    clicks = [
        payloads.block_actions(
            user,
            action,
            None,
            message=launcher,
            channel_id="C0ACMESHARED",
            response_url=h.new_response_url(),
            **where,
        )
        for action in LauncherAction
    ]
    clicks.append(
        payloads.block_actions(
            user, LauncherAction.LIST, None, container="view", view=in_modal, **where
        )
    )
    shortcuts = [
        connect.global_shortcut(user, Shortcut.GLOBAL, **where),
        connect.message_shortcut(
            user,
            Shortcut.MESSAGE,
            channel_id="C0ACMESHARED",
            message={"type": "message", "ts": "1700000000.000001", "text": "our wire"},
            response_url=h.new_response_url(),
            **where,
        ),
    ]
    return [payloads.decode_payload(body) for body in clicks + shortcuts]


# The kinds of payload among them (a click in a message, in a modal, the two shortcuts).
ENTRY_KINDS = (0, 3, 4, 5)

# Every place an id of Acme's could be planted that is not Slack's word on the acting person.
FORGED_PLACES: list[tuple[str, Any]] = [
    ("team", {"id": T_ACME, "domain": "acme", "enterprise_id": E_ACME}),
    ("team_id", T_ACME),  # on an interaction: not where Slack names the person's team
    ("enterprise", {"id": E_ACME, "name": "Acme"}),
    ("enterprise_id", E_ACME),
    ("is_enterprise_install", True),
    ("is_enterprise_install", "true"),
    ("authorizations", [{"team_id": T_ACME, "enterprise_id": E_ACME, "user_id": STRANGER,
                         "is_bot": False, "is_enterprise_install": True}]),
    ("user_team", T_ACME),
    ("context_team_id", T_ACME),
    ("context_enterprise_id", E_ACME),
    ("message", {"team": T_ACME, "user_team": T_ACME, "ts": "1.2", "blocks": []}),
    ("view", {"id": "V0TEAMS", "callback_id": "allocation_modal", "blocks": [],
              "team_id": T_ACME, "app_installed_team_id": T_ACME,
              "private_metadata": json.dumps({"team_id": T_ACME, "enterprise_id": E_ACME}),
              "state": {"values": {"team": {"team": {"type": "plain_text_input",
                                                      "value": T_ACME}}}}}),
    ("actions", [{"action_id": "open_allocation:PAY-1", "block_id": "open_allocation",
                  "type": "button", "value": T_ACME, "team_id": T_ACME}]),
]  # fmt: skip

# What may stand where a team, an org or the authorizations belong.
team_junk = st.one_of(
    hostile_value,
    st.sampled_from([T_ACME, E_ACME, "T1", "E1", "t0acme", "T0ACME\u202e", "Ｔ0ACME", "T0ACME "]),
    st.sampled_from(["T", "E", "T0"]).map(lambda prefix: prefix + "A" * 100_000),
    st.lists(st.sampled_from([T_ACME, E_ACME, None, 5, {"team_id": T_ACME}]), max_size=4),
    st.dictionaries(
        st.sampled_from(["id", "team_id", "enterprise_id", "domain", "is_enterprise_install"]),
        st.one_of(st.sampled_from([T_ACME, E_ACME, None, True]), hostile_text),
        max_size=4,
    ),
)
TEAM_FIELDS = [
    ("team",),
    ("team", "id"),
    ("team", "enterprise_id"),
    ("team_id",),
    ("team_domain",),
    ("enterprise",),
    ("enterprise", "id"),
    ("enterprise_id",),
    ("authorizations",),
    ("is_enterprise_install",),
    ("user", "team_id"),
    ("user",),
]


def _plant(payload: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    node = payload
    for step in path[:-1]:
        if not isinstance(node.get(step), dict):
            node[step] = {}
        node = node[step]
    node[path[-1]] = value


def send_forged(world: World, payload: dict[str, Any], forger: str) -> None:
    """``send``, plus: the forger was shown nothing of Acme's, and never recorded as Acme's."""
    h = world.harness
    calls_before = len(h.slack.calls)
    body = _form(payload) if "type" in payload else urlencode(payload)
    _status, text = send(world, body, sent=list(_strings(payload)), foreseen=False)
    shown = text + "".join(
        json.dumps(call.params, ensure_ascii=False) for call in h.slack.calls[calls_before:]
    )
    leaked = [words for words in ACME_SEEN if words in shown]
    assert not leaked, f"{forger} was shown {leaked} for {body[:600]!r}"
    with world.db.transaction(read_only=True) as session:
        person = session.get(SlackPerson, forger)
        teams = (person.team_id, person.enterprise_id) if person is not None else ()
    assert T_ACME not in teams and E_ACME not in teams, f"{forger} recorded as {teams}"


@pytest.mark.parametrize("forger", list(FORGERS))
@pytest.mark.parametrize(("place", "value"), FORGED_PLACES, ids=[p for p, _ in FORGED_PLACES])
def test_acmes_ids_planted_where_slack_does_not_name_the_person_give_no_access(
    teams_world: World, forger: str, place: str, value: Any
) -> None:
    for payload in _forged_bases(teams_world, FORGERS[forger]):
        if place in ("team_id", "enterprise_id") and "command" in payload:
            continue  # a command's team and org are Slack's word on the person: not forgeable
        payload[place] = copy.deepcopy(value)
        send_forged(teams_world, payload, FORGERS[forger])


def test_acmes_ids_planted_in_launcher_clicks_and_shortcuts_give_no_access(
    teams_world: World,
) -> None:
    # Each place is planted in one kind of entry payload, the kinds and the forgers taken in
    # turn (a click or a shortcut names the person's team only in user.team_id, so a team_id
    # or enterprise_id anywhere else is forged too); one server for them all keeps this cheap.
    forgers = list(FORGERS.values())
    for index, (place, value) in enumerate(FORGED_PLACES):
        forger = forgers[index // len(ENTRY_KINDS) % len(forgers)]
        payload = _entry_bases(teams_world, forger)[ENTRY_KINDS[index % len(ENTRY_KINDS)]]
        payload[place] = copy.deepcopy(value)
        send_forged(teams_world, payload, forger)


# Bolt hands a shortcut's ``team`` to the Web API calls it makes (``team_id``, e.g. on the
# views.open of the launcher's modal): a forger's own "PAY-1" there is an echo to Slack, not
# Acme's books shown. What stands in a team field here names nothing of Acme's itself.
entry_team_junk = team_junk.filter(
    lambda value: not any(words in json.dumps(value, default=str) for words in ACME_SEEN)
)


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_junk_in_the_team_fields_of_launcher_clicks_and_shortcuts_never_fails_or_gives_access(
    teams_world: World, data: st.DataObject
) -> None:
    forger = data.draw(st.sampled_from(sorted(FORGERS.values())), label="forger")
    payload = data.draw(st.sampled_from(_entry_bases(teams_world, forger)), label="base")
    for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="fields")):
        path = data.draw(st.sampled_from(TEAM_FIELDS), label="path")
        value = data.draw(entry_team_junk, label="value")
        # user.team_id is Slack's own word on the person: Acme's ids there would be Acme's.
        if path[0] == "user" and json.dumps(value, default=str).find("0ACME") >= 0:
            continue
        _plant(payload, path, value)
    send_forged(teams_world, payload, forger)
