"""Reading payloads and the middleware that hands listeners the actor, the person and the form."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs

import pytest
from slack_bolt import BoltContext

from models.workspaces import SlackPerson
from slackbot.db import Database
from slackbot.errors import Unavailable
from slackbot.ledger.membership import People, Person
from slackbot.slack import views
from slackbot.slack.middleware import actor_middleware, form_middleware, person_middleware
from slackbot.slack.payload import (
    acting_person,
    acting_user_id,
    action_value,
    allocation_id_from,
    allocation_in_metadata,
    amount_entry,
    form_values,
)
from slackbot.slack.refusals import not_linked_message
from tests.support import slack_payloads as payloads


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


# ------------------------------------------------------------- who acts, and from where
#
# Bodies are built as Slack sends them (tests.support.slack_payloads), then decoded: the
# middleware reads the same dict Bolt parsed from the signed body.

VENDOR = "T0VENDOR"  # the vendor's workspace, where the app is installed
PARTNER = "T0PARTNER"  # a partner's own workspace
ORG = "E0PARTNERORG"  # the partner's Enterprise Grid org
VENDOR_ORG = "E0VENDORORG"


def _decoded(body: str) -> dict[str, Any]:
    if body.lstrip().startswith("{"):
        return dict(json.loads(body))
    if body.startswith("payload="):
        return payloads.decode_payload(body)
    return {key: values[0] for key, values in parse_qs(body).items()}


def _slash(**kwargs: Any) -> dict[str, Any]:
    return _decoded(payloads.slash_command("U0ALICE", response_url="http://x", **kwargs))


def _click(**kwargs: Any) -> dict[str, Any]:
    return _decoded(payloads.block_actions("U0ALICE", "open_allocation", "PAY-1", **kwargs))


def test_a_slash_command_names_the_workspace_and_org_it_was_typed_in() -> None:
    assert acting_person(_slash(team_id=PARTNER, channel_id="C0SHARED")) == Person(
        "U0ALICE", PARTNER, None, "C0SHARED", "payments-test"
    )
    grid = _slash(team_id=PARTNER, enterprise_id=ORG, is_enterprise_install=True)
    # The builder's default channel, C_PARTNER, is not shaped like a channel id: unknown.
    assert acting_person(grid) == Person("U0ALICE", PARTNER, ORG, None, "payments-test")


def test_a_click_in_the_persons_own_workspace_names_their_team_and_its_org() -> None:
    body = _click(channel_id="C0PARTNER", team_id=PARTNER, enterprise_id=ORG)
    assert acting_person(body) == Person("U0ALICE", PARTNER, ORG, "C0PARTNER", "payments-test")


def test_an_external_click_in_a_slack_connect_channel_is_the_persons_team_not_the_vendors() -> None:
    # The launcher was posted by the vendor's installation: team and enterprise are the vendor's.
    body = _click(
        channel_id="C0SHARED", team_id=VENDOR, user_team_id=PARTNER, enterprise_id=VENDOR_ORG
    )
    assert acting_person(body) == Person("U0ALICE", PARTNER, None, "C0SHARED", "")


def test_an_org_user_is_known_by_their_org_and_the_org_workspace_they_acted_in() -> None:
    inside = _click(channel_id="C0X", team_id=PARTNER, user_team_id=ORG, enterprise_id=ORG)
    assert acting_person(inside) == Person("U0ALICE", PARTNER, ORG, "C0X", "payments-test")
    # An org-wide install may send no team at all.
    org_wide = _click(
        channel_id="C0X", team_id=None, user_team_id=ORG, enterprise_id=ORG,
        is_enterprise_install=True,
    )  # fmt: skip
    assert acting_person(org_wide) == Person("U0ALICE", None, ORG, "C0X", "")
    # In another org's workspace (Slack Connect between two orgs) only their own org counts.
    abroad = _click(channel_id="C0X", team_id=VENDOR, user_team_id=ORG, enterprise_id=VENDOR_ORG)
    assert acting_person(abroad) == Person("U0ALICE", None, ORG, "C0X", "")


def test_an_org_wide_install_with_no_team_does_not_lend_its_org_to_an_outsider() -> None:
    body = _click(
        channel_id="C0X", team_id=None, user_team_id=PARTNER, enterprise_id=VENDOR_ORG,
        is_enterprise_install=True,
    )  # fmt: skip
    assert acting_person(body) == Person("U0ALICE", PARTNER, None, "C0X", "")


def test_a_submission_and_an_options_load_read_the_person_as_a_click_does() -> None:
    view = {"id": "V1", "callback_id": "allocation_modal", "blocks": []}
    submitted = _decoded(
        payloads.view_submission("U0ALICE", view, {}, team_id=VENDOR, user_team_id=PARTNER)
    )
    # view.app_installed_team_id and view.team_id (the vendor's) are the installation's.
    assert submitted["view"]["app_installed_team_id"] == VENDOR
    assert acting_person(submitted) == Person("U0ALICE", PARTNER, None, None, "")
    typed = _decoded(
        payloads.block_suggestion(
            "U0ALICE", "invoice", "", view=view, team_id=PARTNER, enterprise_id=ORG
        )
    )
    assert acting_person(typed) == Person("U0ALICE", PARTNER, ORG, None, "payments-test")


@pytest.mark.parametrize(
    ("event", "outer", "person"),
    [
        # A message in a Slack Connect channel by someone of the other workspace.
        (
            {"type": "message", "user": "U0ALICE", "user_team": PARTNER, "team": PARTNER,
             "channel": "C0SHARED"},
            {"team_id": VENDOR, "enterprise_id": VENDOR_ORG, "is_ext_shared_channel": True},
            Person("U0ALICE", PARTNER, None, "C0SHARED"),
        ),
        # An org user in a shared channel: user_team is the org.
        (
            {"type": "message", "user": "W0ALICE", "user_team": ORG, "channel": "C0SHARED"},
            {"team_id": VENDOR, "is_ext_shared_channel": True},
            Person("W0ALICE", None, ORG, "C0SHARED"),
        ),
        # Shared channel, no team in the event: the installation's ids do not name the person.
        (
            {"type": "message", "user": "U0ALICE", "channel": "C0SHARED"},
            {"team_id": VENDOR, "enterprise_id": VENDOR_ORG, "is_ext_shared_channel": True},
            Person("U0ALICE", None, None, "C0SHARED"),
        ),
        # Not shared: the workspace the event happened in is the person's.
        (
            {"type": "app_home_opened", "user": "U0ALICE", "channel": "D0HOME"},
            {"team_id": PARTNER, "enterprise_id": ORG},
            Person("U0ALICE", PARTNER, ORG, "D0HOME"),
        ),
        ({"type": "team_join", "user": {"id": "U0ALICE"}}, {}, Person("")),
        ({"type": "app_uninstalled"}, {}, Person("")),
    ],
)  # fmt: skip
def test_an_event_names_its_author_and_their_team_never_the_authorization(
    event: dict[str, Any], outer: dict[str, Any], person: Person
) -> None:
    body = _decoded(payloads.event_callback(event, **outer))
    assert acting_person(body) == person


@pytest.mark.parametrize(
    "forged",
    [
        # Everything here is in the body, but none of it is Slack's word on the person.
        {"authorizations": [{"team_id": PARTNER, "enterprise_id": ORG, "user_id": "U0ALICE"}]},
        {"is_enterprise_install": True},
        {"message": {"team": PARTNER, "user_team": PARTNER, "user": "U0ALICE"}},
        {"view": {"team_id": PARTNER, "app_installed_team_id": PARTNER,
                  "private_metadata": json.dumps({"team_id": PARTNER})}},
        {"state": {"values": {"team": {"team": {"value": PARTNER}}}}},
        {"actions": [{"action_id": "x", "value": PARTNER, "team_id": PARTNER}]},
        {"team_id": PARTNER, "enterprise_id": ORG, "user_team": PARTNER},
    ],
)  # fmt: skip
def test_team_ids_in_places_slack_does_not_vouch_for_name_nobodys_team(
    forged: dict[str, Any],
) -> None:
    body = _click(channel_id="C0SHARED", team_id=VENDOR, user_team_id="T0STRANGER")
    body.update(forged)
    assert acting_person(body) == Person("U0ALICE", "T0STRANGER", None, "C0SHARED", "")


@pytest.mark.parametrize(
    "junk",
    [None, 7, 1.5, True, [], ["T0PARTNER"], {"id": "T0PARTNER"}, "", "t0partner", "T1",
     "T0PARTNER\u202e", "Ｔ0PARTNER", "T0" + "A" * 40, "T0PARTNER' OR '1'='1", "\x00",
     "E0" + "9" * 5000, "U0ALICE", "C0CHANNEL"],
)  # fmt: skip
def test_team_fields_of_the_wrong_shape_read_as_unknown(junk: Any) -> None:
    click = _click(channel_id="C0X", team_id=VENDOR)
    click["user"]["team_id"] = junk
    click["team"] = {"id": junk, "domain": junk, "enterprise_id": junk}
    click["enterprise"] = junk
    assert acting_person(click) == Person("U0ALICE", None, None, "C0X", "")
    slash = _slash()
    slash.update(team_id=junk, enterprise_id=junk, team_domain=junk)
    assert acting_person(slash) == Person("U0ALICE", None, None, None, "")


def test_nobody_acting_reads_as_nobody() -> None:
    assert acting_person({}) == Person("")
    assert acting_person({"user": {"id": "nobody", "team_id": PARTNER}}) == Person("")
    assert acting_person({"type": "event_callback", "event": "x"}) == Person("")


def test_the_middleware_records_where_the_person_was_seen_before_the_listener(
    db: Database,
) -> None:
    record = person_middleware(People(db))
    context = BoltContext()
    body = _click(channel_id="C0SHARED", team_id=VENDOR, user_team_id=PARTNER)
    stored: list[tuple[str | None, str | None]] = []

    def listener() -> None:
        with db.transaction(read_only=True) as session:
            person = session.get_one(SlackPerson, "U0ALICE")
            stored.append((person.team_id, person.channel_id))

    record(body, context, listener)
    assert context["person"] == Person("U0ALICE", PARTNER, None, "C0SHARED", "")
    assert stored == [(PARTNER, "C0SHARED")]


def test_the_listener_still_runs_when_the_sighting_cannot_be_recorded() -> None:
    class Broken(People):
        def __init__(self) -> None:
            pass

        def seen(self, person: Person) -> bool:
            raise Unavailable("database is locked")

    ran: list[str] = []
    context = BoltContext()
    person_middleware(Broken())(_slash(team_id=PARTNER), context, lambda: ran.append("listener"))
    assert ran == ["listener"] and context["person"].team_id == PARTNER


# ------------------------------------------------------------- what an unlinked person reads


def test_an_unlinked_person_of_a_workspace_is_told_its_name_and_the_ids_to_send() -> None:
    message = not_linked_message(Person("U0ALICE", PARTNER, None, "C0X", "acme"))
    shown = json.dumps(message)
    assert "not linked to any partner" in message["text"]
    for words in ("*acme* (T0PARTNER)", "which no partner account includes", "`U0ALICE`",
                  "workspace ID `T0PARTNER`", "everyone in your workspace"):  # fmt: skip
        assert words in shown, words
    org = json.dumps(not_linked_message(Person("W0ALICE", None, ORG)))
    assert "organization E0PARTNERORG" in org and "organization ID `E0PARTNERORG`" in org
    both = json.dumps(not_linked_message(Person("U0ALICE", PARTNER, ORG)))
    assert "T0PARTNER of the organization E0PARTNERORG" in both


def test_an_unlinked_person_of_no_known_team_reads_the_general_words() -> None:
    assert not_linked_message(Person("U0ALICE")) == views.not_linked_message()
