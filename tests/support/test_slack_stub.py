"""Tests of the Slack test kit itself: the Web API stand-in, its faults, and the signed payloads."""

from __future__ import annotations

import contextlib
import io
import json
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.client import RemoteDisconnected
from typing import Any
from urllib.error import URLError
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import pytest
from slack_bolt import App, BoltResponse
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler
from slack_sdk.signature import SignatureVerifier

from tests.support import slack_payloads as sp
from tests.support.slack_stub import FakeSlack

SECRET = "test-signing-secret"
TOKEN = "xoxb-test"
MODAL: dict[str, Any] = {
    "type": "modal",
    "callback_id": "allocation_modal",
    "private_metadata": '{"payment_id": "PAY-1"}',
    "title": {"type": "plain_text", "text": "Allocate a payment"},
    "submit": {"type": "plain_text", "text": "Request"},
    "blocks": [
        {
            "type": "input",
            "block_id": "payment",
            "label": {"type": "plain_text", "text": "Payment"},
            "element": {
                "type": "static_select",
                "action_id": "payment",
                "options": [
                    {"text": {"type": "plain_text", "text": "PAY-1 · 500.00 USD"}, "value": "PAY-1"}
                ],
            },
        },
        {
            "type": "input",
            "block_id": "invoice",
            "label": {"type": "plain_text", "text": "Invoice"},
            "element": {"type": "external_select", "action_id": "invoice", "min_query_length": 0},
        },
        {
            "type": "input",
            "block_id": "amount",
            "label": {"type": "plain_text", "text": "Amount"},
            "element": {"type": "plain_text_input", "action_id": "amount"},
        },
    ],
}
BILLING_BLOCKS: list[dict[str, Any]] = [
    {"type": "section", "text": {"type": "mrkdwn", "text": "<@U1> asks to allocate 120.00 USD"}},
    {
        "type": "actions",
        "block_id": "decision",
        "elements": [
            {
                "type": "button",
                "action_id": "approve_allocation:ALLOC-7",
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": "ALLOC-7",
            },
            {
                "type": "button",
                "action_id": "reject_allocation:ALLOC-7",
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": "ALLOC-7",
            },
        ],
    },
]


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(timeout_sleep=1.0) as stub:
        yield stub


def client_for(stub: FakeSlack, **kwargs: Any) -> WebClient:
    kwargs.setdefault("retry_handlers", [])
    return WebClient(base_url=stub.api_url, token=TOKEN, **kwargs)


# -- the Web API stand-in ------------------------------------------------------------------


def test_json_method_records_params_and_bearer_token(slack: FakeSlack) -> None:
    client_for(slack).chat_postMessage(channel="C_BILLING", text="hi", blocks=BILLING_BLOCKS)

    [call] = slack.calls_to("chat.postMessage")
    assert call.params["channel"] == "C_BILLING"
    assert call.params["blocks"] == BILLING_BLOCKS
    assert call.headers["Content-Type"].startswith("application/json")
    assert call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.delivered and not call.faulted


def test_form_method_records_params(slack: FakeSlack) -> None:
    slack.set_usergroup("S_APPROVERS", ["U_A", "U_B"])

    response = client_for(slack).usergroups_users_list(usergroup="S_APPROVERS")

    assert response["users"] == ["U_A", "U_B"]
    [call] = slack.calls_to("usergroups.users.list")
    assert call.params == {"usergroup": "S_APPROVERS"}


def test_json_string_fields_in_a_form_body_are_decoded(slack: FakeSlack) -> None:
    client_for(slack).api_call(
        "chat.postMessage", params={"channel": "C1", "blocks": json.dumps(BILLING_BLOCKS)}
    )

    [call] = slack.calls_to("chat.postMessage")
    assert call.headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == BILLING_BLOCKS


def test_multipart_upload_records_fields_and_file_bytes(slack: FakeSlack) -> None:
    client_for(slack).api_call(
        "files.upload",
        files={"file": io.BytesIO(b"payment_id\nPAY-1\n")},
        data={"channels": "C1", "filename": "payments.csv"},
    )

    [call] = slack.calls_to("files.upload")
    assert call.params == {
        "channels": "C1",
        "filename": "payments.csv",
        "file": b"payment_id\nPAY-1\n",
    }


def test_missing_token_is_not_authed_and_wrong_token_is_invalid_auth() -> None:
    with FakeSlack(token=TOKEN) as stub:
        with pytest.raises(SlackApiError) as missing:
            WebClient(base_url=stub.api_url, retry_handlers=[]).auth_test()
        with pytest.raises(SlackApiError) as wrong:
            WebClient(base_url=stub.api_url, token="xoxb-other", retry_handlers=[]).auth_test()
        assert client_for(stub).auth_test()["user_id"] == "UBOT"
    assert missing.value.response["error"] == "not_authed"
    assert wrong.value.response["error"] == "invalid_auth"


def test_post_to_a_user_lands_in_their_stable_dm_with_increasing_ts(slack: FakeSlack) -> None:
    client = client_for(slack)
    first = client.chat_postMessage(channel="U1", text="one")
    second = client.chat_postMessage(channel="U1", text="two")

    assert first["channel"] == second["channel"] == "DU1"
    assert float(first["ts"]) < float(second["ts"])
    assert [m["text"] for m in slack.messages_in("U1")] == ["one", "two"]


def test_post_without_text_or_blocks_fails_no_text(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as error, pytest.warns(UserWarning, match="`text`"):
        client_for(slack).chat_postMessage(channel="C1")
    assert error.value.response["error"] == "no_text"
    assert slack.deliveries("chat.postMessage") == []


def test_chat_update_changes_what_the_message_reads(slack: FakeSlack) -> None:
    client = client_for(slack)
    posted = client.chat_postMessage(channel="C_BILLING", text="pending", blocks=BILLING_BLOCKS)

    updated = client.chat_update(channel="C_BILLING", ts=posted["ts"], text="approved", blocks=[])

    assert updated["ts"] == posted["ts"]
    message = slack.message("C_BILLING", posted["ts"])
    assert message is not None
    assert (message["text"], message["blocks"]) == ("approved", [])
    [post] = slack.deliveries("chat.postMessage")
    assert post.response is not None and post.response["message"]["text"] == "pending"


def test_chat_update_of_a_ts_never_posted_in_that_channel_fails(slack: FakeSlack) -> None:
    client = client_for(slack)
    posted = client.chat_postMessage(channel="C_BILLING", text="pending")

    with pytest.raises(SlackApiError) as elsewhere:
        client.chat_update(channel="C_OTHER", ts=posted["ts"], text="x")
    with pytest.raises(SlackApiError) as unknown:
        client.chat_update(channel="C_BILLING", ts="1600000000.000001", text="x")

    assert elsewhere.value.response["error"] == unknown.value.response["error"]
    assert unknown.value.response["error"] == "message_not_found"


def test_post_ephemeral_answers_message_ts(slack: FakeSlack) -> None:
    response = client_for(slack).chat_postEphemeral(channel="C1", user="U1", text="only you")
    assert response["ok"] and response["message_ts"]


def test_post_ephemeral_is_recorded_for_that_person_in_that_channel(slack: FakeSlack) -> None:
    client_for(slack).chat_postEphemeral(channel="C1", user="U1", text="only you")
    client_for(slack).chat_postEphemeral(channel="C2", user="U2", text="not you")

    assert slack.ephemerals_for("U1") == [{"text": "only you"}]
    assert slack.ephemerals_for("U1", "C2") == []
    assert slack.messages_in("C1") == []  # nobody else sees it


def test_an_undmable_person_answers_slacks_error_to_a_dm_but_not_in_a_channel(
    slack: FakeSlack,
) -> None:
    client = client_for(slack)
    slack.set_undmable("U0EXT", "cannot_dm_bot")

    for call in (
        lambda: client.chat_postMessage(channel="U0EXT", text="hi"),
        lambda: client.chat_postMessage(channel="DU0EXT", text="hi"),
        lambda: client.conversations_open(users="U0EXT"),
    ):
        with pytest.raises(SlackApiError) as error:
            call()
        assert error.value.response["error"] == "cannot_dm_bot"
    assert slack.messages_in("U0EXT") == []
    assert client.chat_postMessage(channel="C0SHARED", text="<@U0EXT> hi")["ok"]
    assert client.chat_postMessage(channel="U0OTHER", text="hi")["channel"] == "DU0OTHER"


def test_pins_add_pins_a_posted_message_once(slack: FakeSlack) -> None:
    client = client_for(slack)
    ts = client.chat_postMessage(channel="C0SHARED", text="launcher")["ts"]

    assert client.pins_add(channel="C0SHARED", timestamp=ts)["ok"]
    with pytest.raises(SlackApiError) as again:
        client.pins_add(channel="C0SHARED", timestamp=ts)
    with pytest.raises(SlackApiError) as missing:
        client.pins_add(channel="C0SHARED", timestamp="1.000001")

    assert again.value.response["error"] == "already_pinned"
    assert missing.value.response["error"] == "message_not_found"
    assert slack.pinned_in("C0SHARED") == [ts]


def test_views_open_requires_trigger_id_and_echoes_the_view(slack: FakeSlack) -> None:
    client = client_for(slack)
    with pytest.raises(SlackApiError) as error:
        client.api_call("views.open", json={"view": MODAL})
    opened = client.views_open(trigger_id="123.456.abc", view=MODAL)

    assert error.value.response["error"] == "invalid_arguments"
    view = opened["view"]
    assert view["id"].startswith("V") and view["hash"]
    assert (view["callback_id"], view["blocks"]) == ("allocation_modal", MODAL["blocks"])
    assert slack.view(view["id"]) == view


def test_views_update_by_id_or_external_id_and_unknown_view_fails(slack: FakeSlack) -> None:
    client = client_for(slack)
    opened = client.views_open(trigger_id="t", view={**MODAL, "external_id": "alloc-U1"})["view"]
    replacement = {**MODAL, "blocks": [], "title": {"type": "plain_text", "text": "Done"}}

    client.views_update(view_id=opened["id"], view=replacement)
    by_external = client.views_update(external_id="alloc-U1", view={**replacement, "blocks": []})
    with pytest.raises(SlackApiError) as stale_hash:
        client.views_update(view_id=opened["id"], hash=opened["hash"], view=replacement)
    with pytest.raises(SlackApiError) as unknown:
        client.views_update(view_id="V404", view=replacement)
    with pytest.raises(SlackApiError) as no_id:
        client.api_call("views.update", json={"view": replacement})

    assert by_external["view"]["id"] == opened["id"]
    current = slack.view(opened["id"])
    assert current is not None and current["title"]["text"] == "Done"
    assert stale_hash.value.response["error"] == "hash_conflict"
    assert unknown.value.response["error"] == "not_found"
    assert no_id.value.response["error"] == "invalid_arguments"


def test_views_push_stacks_on_the_open_modal(slack: FakeSlack) -> None:
    client = client_for(slack)
    opened = client.views_open(trigger_id="t1", view=MODAL)["view"]
    pushed = client.views_push(trigger_id="t2", view={**MODAL, "callback_id": "reject_modal"})
    assert pushed["view"]["previous_view_id"] == opened["id"]
    assert pushed["view"]["root_view_id"] == opened["id"]


def test_unknown_usergroup_fails_no_such_subteam(slack: FakeSlack) -> None:
    with pytest.raises(SlackApiError) as error:
        client_for(slack).usergroups_users_list(usergroup="S_NOPE")
    assert error.value.response["error"] == "no_such_subteam"


def test_conversations_open_users_info_and_unknown_methods(slack: FakeSlack) -> None:
    client = client_for(slack)
    slack.set_user("U1", real_name="Ada Lovelace")

    assert client.conversations_open(users="U1")["channel"]["id"] == "DU1"
    assert client.users_info(user="U1")["user"]["real_name"] == "Ada Lovelace"
    assert client.api_call("reactions.add", json={"name": "x"})["ok"] is True


def test_response_url_posts_are_recorded_with_their_path(slack: FakeSlack) -> None:
    url = slack.response_url("cmd-1")
    request = urllib.request.Request(
        url,
        data=json.dumps({"text": "done", "replace_original": True}).encode(),
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read()) == {"ok": True}

    [call] = slack.calls_to("response_url")
    assert call.path == "/response/cmd-1"
    assert call.params == {"text": "done", "replace_original": True}


# -- faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize("status", ["500", "503"])
def test_server_error_fault_raises_with_that_status_then_recovers(
    slack: FakeSlack, status: str
) -> None:
    client = client_for(slack)
    slack.fail("chat.postMessage", status)

    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel="C1", text="x")
    client.chat_postMessage(channel="C1", text="x")

    assert error.value.response.status_code == int(status)
    attempts = slack.calls_to("chat.postMessage")
    assert [(c.faulted, c.fault) for c in attempts] == [(True, status), (False, None)]
    assert len(slack.deliveries("chat.postMessage")) == len(slack.messages_in("C1")) == 1


def test_timeout_fault_raises_a_timeout_and_posts_nothing(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "timeout")
    with pytest.raises((TimeoutError, URLError)):
        client_for(slack, timeout=0.2).chat_postMessage(channel="C1", text="x")
    assert slack.messages_in("C1") == []
    assert [c.fault for c in slack.calls_to("chat.postMessage")] == ["timeout"]


def test_stop_does_not_wait_for_a_handler_sleeping_in_a_timeout() -> None:
    stub = FakeSlack(timeout_sleep=30).start()
    stub.fail("*", "timeout")
    with pytest.raises((TimeoutError, URLError)):
        client_for(stub, timeout=0.2).auth_test()
    started = time.monotonic()
    stub.stop()
    assert time.monotonic() - started < 2


def test_lost_response_fault_posts_the_message_but_the_client_times_out(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "timeout_after_delivery")
    with pytest.raises((TimeoutError, URLError)):
        client_for(slack, timeout=0.2).chat_postMessage(channel="C1", text="x")
    assert [m["text"] for m in slack.messages_in("C1")] == ["x"]
    [call] = slack.deliveries("chat.postMessage")
    assert call.faulted


def test_disconnect_fault_raises_a_connection_error(slack: FakeSlack) -> None:
    slack.fail("*", "disconnect")
    with pytest.raises((RemoteDisconnected, ConnectionError, URLError)):
        client_for(slack).chat_postMessage(channel="C1", text="x")
    assert slack.messages_in("C1") == []


def test_429_fault_carries_retry_after_and_ratelimited(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "429", retry_after=7)
    with pytest.raises(SlackApiError) as error:
        client_for(slack).chat_postMessage(channel="C1", text="x")
    response = error.value.response
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response["error"] == "ratelimited"


def test_rate_limit_retry_handler_recovers_from_one_429(slack: FakeSlack) -> None:
    slack.fail("chat.postMessage", "429", retry_after=0)
    client = client_for(slack, retry_handlers=[RateLimitErrorRetryHandler(max_retry_count=1)])

    response = client.chat_postMessage(channel="C1", text="x")

    assert response["ok"]
    assert [c.fault for c in slack.calls_to("chat.postMessage")] == ["429", None]
    assert len(slack.messages_in("C1")) == 1


def test_slack_error_fault_answers_200_with_that_code(slack: FakeSlack) -> None:
    slack.fail("views.open", "slack_error:expired_trigger_id", times=2)
    client = client_for(slack)
    errors = []
    for _ in range(2):
        with pytest.raises(SlackApiError) as error:
            client.views_open(trigger_id="t", view=MODAL)
        errors.append((error.value.response.status_code, error.value.response["error"]))
    client.views_open(trigger_id="t", view=MODAL)

    assert errors == [(200, "expired_trigger_id")] * 2
    assert len(slack.deliveries("views.open")) == 1


def test_a_fault_for_one_channel_leaves_calls_to_others_alone(slack: FakeSlack) -> None:
    client = client_for(slack)
    slack.fail("chat.postMessage", "slack_error:is_archived", channel="C0SHARED")

    assert client.chat_postMessage(channel="C0OTHER", text="fine")["ok"]
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel="C0SHARED", text="refused")
    assert error.value.response["error"] == "is_archived"
    assert client.chat_postMessage(channel="C0SHARED", text="then fine")["ok"]


def test_fail_rejects_an_unknown_kind(slack: FakeSlack) -> None:
    with pytest.raises(ValueError, match="unknown fault kind"):
        slack.fail("*", "502")


def _fault_sequence(seed: int) -> list[str | None]:
    with FakeSlack() as stub:
        stub.set_fault_rate(0.5, kinds=("slack_error:a", "slack_error:b"), seed=seed)
        client = client_for(stub)
        for _ in range(20):
            with contextlib.suppress(SlackApiError):
                client.auth_test()
        return [c.fault for c in stub.calls]


def test_random_faults_are_reproducible_from_the_seed() -> None:
    first, again, other = _fault_sequence(1), _fault_sequence(1), _fault_sequence(2)
    assert first == again
    assert first != other
    assert None in first and "slack_error:a" in first and "slack_error:b" in first


def test_random_faults_only_hit_the_chosen_methods(slack: FakeSlack) -> None:
    slack.set_fault_rate(1.0, kinds=("500",), methods=["chat.update"])
    client = client_for(slack)
    posted = client.chat_postMessage(channel="C1", text="x")
    with pytest.raises(SlackApiError):
        client.chat_update(channel="C1", ts=posted["ts"], text="y")
    slack.set_fault_rate(0)
    client.chat_update(channel="C1", ts=posted["ts"], text="y")
    assert [m["text"] for m in slack.messages_in("C1")] == ["y"]


def test_max_rate_counts_deliveries_per_channel_within_the_window(slack: FakeSlack) -> None:
    client = client_for(slack)
    for _ in range(3):
        client.chat_postMessage(channel="C1", text="burst")
    client.chat_postMessage(channel="C2", text="elsewhere")

    assert slack.max_rate("chat.postMessage", "C1") == 3
    assert slack.max_rate("chat.postMessage", "C2") == 1
    assert slack.max_rate("chat.postMessage", "C1", window=1e-9) == 1


def test_enforced_rate_limit_answers_429_per_channel(slack: FakeSlack) -> None:
    slack.enforce_rate_limit("chat.postMessage", per_second=1)
    client = client_for(slack)
    client.chat_postMessage(channel="C1", text="first")
    with pytest.raises(SlackApiError) as error:
        client.chat_postMessage(channel="C1", text="too soon")
    client.chat_postMessage(channel="C2", text="other channel")

    assert error.value.response.status_code == 429
    assert slack.max_rate("chat.postMessage", "C1") == 1


# -- signed payloads -------------------------------------------------------------------------


def test_sign_verifies_and_a_tampered_body_or_wrong_secret_does_not() -> None:
    body = sp.slash_command("U1", "list", response_url="http://127.0.0.1:9/r")
    headers = sp.sign(body, SECRET)
    verifier = SignatureVerifier(SECRET)
    ts, signature = headers["X-Slack-Request-Timestamp"], headers["X-Slack-Signature"]

    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    assert verifier.is_valid(body=body, timestamp=ts, signature=signature)
    assert not verifier.is_valid(body=body + "x", timestamp=ts, signature=signature)
    assert not SignatureVerifier("other").is_valid(body=body, timestamp=ts, signature=signature)
    stale = sp.sign(body, SECRET, timestamp=int(time.time()) - 600)
    assert not verifier.is_valid_request(body, stale)


def test_block_actions_takes_block_id_text_and_style_from_the_posted_message(
    slack: FakeSlack,
) -> None:
    posted = client_for(slack).chat_postMessage(
        channel="C_BILLING", text="x", blocks=BILLING_BLOCKS
    )
    message = slack.message("C_BILLING", posted["ts"])

    payload = sp.decode_payload(
        sp.block_actions(
            "U_APPROVER",
            "approve_allocation:ALLOC-7",
            None,
            message=message,
            channel_id="C_BILLING",
        )
    )

    [action] = payload["actions"]
    assert (action["block_id"], action["value"], action["style"]) == (
        "decision",
        "ALLOC-7",
        "primary",
    )
    assert action["text"]["text"] == "Approve"
    assert payload["container"] == {
        "type": "message",
        "message_ts": posted["ts"],
        "channel_id": "C_BILLING",
        "is_ephemeral": False,
    }
    assert payload["message"]["blocks"] == BILLING_BLOCKS


def test_static_select_action_in_a_modal_carries_the_selected_option() -> None:
    payload = sp.decode_payload(
        sp.block_actions("U1", "payment", "PAY-1", container="view", view={**MODAL, "id": "V9"})
    )

    [action] = payload["actions"]
    assert action["type"] == "static_select"
    assert action["selected_option"]["value"] == "PAY-1"
    assert action["selected_option"]["text"]["text"] == "PAY-1 · 500.00 USD"
    assert payload["container"] == {"type": "view", "view_id": "V9"}
    assert "response_url" not in payload and "message" not in payload


def test_view_submission_echoes_the_view_with_state() -> None:
    values = {
        "payment": {"payment": sp.static_select_value("PAY-1", "PAY-1")},
        "invoice": {"invoice": sp.external_select_value("INV-7", "INV-7 · 120.00 USD")},
        "amount": {"amount": sp.text_value("120.00")},
    }
    payload = sp.decode_payload(sp.view_submission("U1", MODAL, values, view_id="V3"))

    view = payload["view"]
    assert payload["type"] == "view_submission"
    assert view["id"] == "V3" and view["hash"] and view["team_id"] == "T1"
    assert (view["type"], view["callback_id"]) == ("modal", "allocation_modal")
    assert view["private_metadata"] == MODAL["private_metadata"]
    assert view["blocks"] == MODAL["blocks"]
    assert view["state"]["values"]["invoice"]["invoice"]["selected_option"]["value"] == "INV-7"


def test_block_suggestion_carries_the_typed_value_and_the_modal_state() -> None:
    state = {"payment": {"payment": sp.static_select_value("PAY-1")}}
    payload = sp.decode_payload(
        sp.block_suggestion("U1", "invoice", "INV", view=MODAL, state_values=state)
    )

    assert (payload["type"], payload["action_id"], payload["block_id"]) == (
        "block_suggestion",
        "invoice",
        "invoice",
    )
    assert payload["value"] == "INV"
    assert payload["view"]["state"]["values"] == state


class _Routed:
    """What the Bolt listeners below saw, so tests assert on routing outcomes."""

    def __init__(self) -> None:
        self.seen: dict[str, Any] = {}


def _bolt_app(slack: FakeSlack, routed: _Routed) -> App:
    app = App(
        client=client_for(slack),
        signing_secret=SECRET,
        process_before_response=True,
    )

    @app.command("/payments")
    def payments(ack: Any, command: dict[str, Any], respond: Any) -> None:
        ack()
        routed.seen["command"] = command["text"]
        respond(f"you asked for {command['text']}")

    @app.action({"type": "block_actions", "action_id": "approve_allocation:ALLOC-7"})
    def approve(ack: Any, body: dict[str, Any]) -> None:
        ack()
        routed.seen["approve"] = body["actions"][0]["value"]

    @app.view("allocation_modal")
    def submit(ack: Any, view: dict[str, Any]) -> None:
        ack(response_action="errors", errors={"amount": "too much"})
        routed.seen["amount"] = view["state"]["values"]["amount"]["amount"]["value"]

    @app.options("invoice")
    def invoices(ack: Any, payload: dict[str, Any]) -> None:
        routed.seen["typed"] = payload["value"]
        ack(options=[{"text": {"type": "plain_text", "text": "INV-7"}, "value": "INV-7"}])

    return app


def test_bolt_routes_every_builder_to_its_listener(slack: FakeSlack) -> None:
    routed = _Routed()
    app = _bolt_app(slack, routed)
    bodies = [
        sp.slash_command("U1", "history", response_url=slack.response_url("cmd")),
        sp.block_actions(
            "U_A",
            "approve_allocation:ALLOC-7",
            None,
            channel_id="C_BILLING",
            message={"ts": "1700000000.000100", "blocks": BILLING_BLOCKS},
        ),
        sp.view_submission("U1", MODAL, {"amount": {"amount": sp.text_value("9.99")}}),
        sp.block_suggestion("U1", "invoice", "INV", view=MODAL),
    ]

    responses: list[BoltResponse] = [
        app.dispatch(sp.bolt_request(body, secret=SECRET)) for body in bodies
    ]

    assert [r.status for r in responses] == [200, 200, 200, 200]
    assert routed.seen == {
        "command": "history",
        "approve": "ALLOC-7",
        "amount": "9.99",
        "typed": "INV",
    }
    assert json.loads(responses[2].body)["errors"] == {"amount": "too much"}
    assert json.loads(responses[3].body)["options"][0]["value"] == "INV-7"
    [reply] = slack.calls_to("response_url")
    assert reply.params["text"] == "you asked for history"


@pytest.fixture
def bolt_server(slack: FakeSlack) -> Iterator[tuple[str, _Routed]]:
    routed = _Routed()
    handler = SlackRequestHandler(_bolt_app(slack, routed))

    class _Quiet(WSGIRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

    server: WSGIServer = make_server("127.0.0.1", 0, handler, handler_class=_Quiet)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}", routed
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_post_signed_is_accepted_and_stale_or_forged_requests_are_refused(
    slack: FakeSlack, bolt_server: tuple[str, _Routed]
) -> None:
    base_url, routed = bolt_server
    body = sp.slash_command("U1", "list", response_url=slack.response_url())

    stale = sp.post_signed(base_url, body, secret=SECRET, timestamp=int(time.time()) - 600)
    forged = sp.post_signed(base_url, body, secret="not-the-secret")
    assert (stale[0], forged[0]) == (401, 401)
    assert routed.seen == {}

    status, _, _ = sp.post_signed(base_url, body, secret=SECRET)
    assert status == 200
    assert routed.seen == {"command": "list"}


# -- conversations.history / replies, and the lost first answer ------------------------------


def _post(client: WebClient, channel: str, text: str, **kwargs: Any) -> str:
    return str(client.chat_postMessage(channel=channel, text=text, **kwargs)["ts"])


def test_history_is_newest_first_without_thread_replies_and_metadata_only_when_asked(
    slack: FakeSlack,
) -> None:
    client = client_for(slack)
    tagged = {"event_type": "payments_outbox_message", "event_payload": {"outbox_message_id": 7}}
    first = _post(client, "C1", "one", metadata=tagged)
    _post(client, "C1", "reply", thread_ts=first)
    _post(client, "C1", "broadcast", thread_ts=first, reply_broadcast=True)
    _post(client, "C1", "two")
    _post(client, "C2", "elsewhere")
    page = client.conversations_history(channel="C1")
    assert [m["text"] for m in page["messages"]] == ["two", "broadcast", "one"]
    assert all("metadata" not in m for m in page["messages"])
    assert page["has_more"] is False
    shown = client.conversations_history(channel="C1", include_all_metadata=True)
    assert shown["messages"][-1]["metadata"] == tagged
    assert float(first) == pytest.approx(time.time(), abs=60)  # a ts is Slack's clock's time


def test_history_oldest_and_latest_are_exclusive_unless_inclusive(slack: FakeSlack) -> None:
    client = client_for(slack)
    ts = [_post(client, "C1", f"m{n}") for n in range(4)]
    between = client.conversations_history(channel="C1", oldest=ts[0], latest=ts[3])
    assert [m["text"] for m in between["messages"]] == ["m2", "m1"]
    inclusive = client.conversations_history(
        channel="C1", oldest=ts[0], latest=ts[3], inclusive=True
    )
    assert [m["text"] for m in inclusive["messages"]] == ["m3", "m2", "m1", "m0"]


def test_history_pages_with_limit_and_cursor_until_has_more_is_false(slack: FakeSlack) -> None:
    client = client_for(slack)
    for n in range(5):
        _post(client, "C1", f"m{n}")
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = client.conversations_history(channel="C1", limit=2, cursor=cursor)
        pages += 1
        seen += [m["text"] for m in page["messages"]]
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            assert cursor == ""
            break
    assert (pages, seen) == (3, ["m4", "m3", "m2", "m1", "m0"])
    with pytest.raises(SlackApiError) as refused:
        client.conversations_history(channel="C1", cursor="not-a-cursor")
    assert refused.value.response["error"] == "invalid_cursor"


def test_replies_are_the_thread_oldest_first_and_an_unknown_parent_is_not_found(
    slack: FakeSlack,
) -> None:
    client = client_for(slack)
    parent = _post(client, "C1", "parent")
    _post(client, "C1", "r1", thread_ts=parent)
    _post(client, "C1", "unrelated")
    _post(client, "C1", "r2", thread_ts=parent)
    thread = client.conversations_replies(channel="C1", ts=parent)
    assert [m["text"] for m in thread["messages"]] == ["parent", "r1", "r2"]
    after = client.conversations_replies(channel="C1", ts=parent, oldest=parent)
    assert [m["text"] for m in after["messages"]] == ["r1", "r2"]
    with pytest.raises(SlackApiError) as refused:
        client.conversations_replies(channel="C1", ts="1.000001")
    assert refused.value.response["error"] == "thread_not_found"


def test_lose_first_answers_applies_each_messages_first_post_and_answers_the_rest(
    slack: FakeSlack,
) -> None:
    client = client_for(slack, timeout=0.3)
    slack.lose_first_answers()
    row = {"event_type": "payments_outbox_message", "event_payload": {"outbox_message_id": 1}}
    with pytest.raises((TimeoutError, URLError)):
        client.chat_postMessage(channel="C1", text="hello", metadata=row)
    again = client.chat_postMessage(channel="C1", text="hello", metadata=row)
    assert again["ok"]
    with pytest.raises((TimeoutError, URLError)):
        client.chat_postMessage(channel="C1", text="another")  # a new message: lost first
    assert [m["text"] for m in slack.messages_in("C1")] == ["hello", "hello", "another"]
    faults = [c.fault for c in slack.calls_to("chat.postMessage")]
    assert faults == ["timeout_after_delivery", None, "timeout_after_delivery"]
    assert [c.delivered for c in slack.calls_to("chat.postMessage")] == [True, True, True]


def test_lose_first_answers_at_a_rate_loses_some_reproducibly() -> None:
    def lost(seed: int) -> list[bool]:
        with FakeSlack(timeout_sleep=0.05) as stub:
            stub.lose_first_answers(rate=0.5, seed=seed)
            client = client_for(stub, timeout=1)
            for n in range(12):
                with contextlib.suppress(Exception):
                    client.chat_postMessage(channel="C1", text=f"m{n}")
            return [c.faulted for c in stub.calls_to("chat.postMessage")]

    assert lost(3) == lost(3)
    assert 0 < sum(lost(3)) < 12


def test_views_publish_keeps_one_home_per_person_replaced_whole(slack: FakeSlack) -> None:
    client = client_for(slack)
    home = {
        "type": "home",
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "a"}}],
    }
    first = client.views_publish(user_id="U1", view=home)["view"]
    second = client.views_publish(user_id="U1", view={"type": "home", "blocks": []})["view"]
    assert first["id"] == second["id"]
    shown = slack.home_of("U1")
    assert shown is not None and shown["blocks"] == []
    assert slack.home_of("U2") is None
