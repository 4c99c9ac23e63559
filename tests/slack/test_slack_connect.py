"""Partners in a Slack Connect channel, through the real app: the launcher, shortcuts, notices.

An external person (their own workspace, no DM possible) works from a channel linked with
``slackbot channel link``: the pinned launcher's buttons answer them privately there, the
allocation modal opens from it, and the receipt and the decision reach them in that channel,
naming them (the receipt edited in place). The billing channel stays the vendor's own.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select, update
from typer.testing import CliRunner, Result

from models.tables import Allocation, OutboxMessage, Partner
from models.workspaces import PartnerChannel, SlackPerson
from slackbot.cli import app as cli_app
from slackbot.db import Database
from slackbot.slack.views.launcher import LauncherAction, Shortcut
from tests.support import connect_payloads as connect
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import (
    APPROVER,
    BILLING_CHANNEL,
    BotHarness,
    action_ids,
    text_of,
    wait_for,
)
from tests.support.factories import add_invoice, add_partner, add_payment, allocation_row
from tests.support.slack_stub import FakeSlack

EXTERNAL = "U0EXTERNAL"  # Acme's, in Acme's own workspace: no DM reaches them
ALICE = "U0ALICE"  # Acme's, reachable by DM
BOB = "U0BOB"  # Globex's
SHARED = "C0SHARED"  # the Slack Connect channel with Acme
GLOBEX_SHARED = "C0GLOBEX"


@pytest.fixture(autouse=True)
def _no_dotenv(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[EXTERNAL, ALICE])
    add_partner(db, "P-GLOBEX", "Globex", members=[BOB])
    add_payment(db, "PAY-1", "P-ACME", 100000, "USD", reference="Wire for INV-1")
    add_invoice(db, "INV-1", "P-ACME", 60000, "USD")
    add_invoice(db, "INV-2", "P-ACME", 40000, "USD")
    add_payment(db, "PAY-B", "P-GLOBEX", 50000, "USD")
    return db


@pytest.fixture
def paced(db: Database, slack: FakeSlack) -> Iterator[BotHarness]:
    """The bot with the production pace: one billing channel call a second."""
    running = BotHarness(db, slack, BILLING_CHANNEL_PACE_SECONDS=1)
    yield running
    running.close()


def link(db: Database, slack: FakeSlack, *args: str) -> Result:
    return CliRunner().invoke(
        cli_app,
        ["channel", *args],
        env={
            "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_API_URL": slack.api_url,
            "BILLING_CHANNEL_ID": BILLING_CHANNEL,
        },
    )


def launcher_in(slack: FakeSlack, channel: str) -> dict[str, Any]:
    [ts] = slack.pinned_in(channel)
    message = slack.message(channel, ts)
    assert message is not None
    return message


def click_launcher(
    h: BotHarness, user: str, action: str, launcher: dict[str, Any], *, channel: str = SHARED
) -> str:
    """``user`` (from the partner's own workspace) clicks a launcher button in ``channel``."""
    response_url = h.new_response_url()
    status, _ = h.post(
        payloads.block_actions(
            user,
            action,
            None,
            message=launcher,
            channel_id=channel,
            response_url=response_url,
            user_team_id=connect.PARTNER_TEAM,
        )
    )
    assert status == 200
    return response_url


def latest_allocation(db: Database) -> int:
    with db.transaction() as session:
        return int(session.scalar(select(func.max(Allocation.allocation_id))) or 0)


def dm_attempts(slack: FakeSlack, user: str) -> int:
    """Calls that tried to reach ``user`` directly: a post to them or their DM, an open."""
    posts = [
        c
        for c in slack.calls_to("chat.postMessage")
        if c.params.get("channel") in (user, "D" + user)
    ]
    opens = [c for c in slack.calls_to("conversations.open") if user in str(c.params.get("users"))]
    return len(posts) + len(opens)


def test_external_person_allocates_from_the_launcher_and_is_told_in_the_channel(
    paced: BotHarness, books: Database
) -> None:
    slack = paced.slack
    slack.set_undmable(EXTERNAL, "cannot_dm_bot")
    linked = link(books, slack, "link", "P-ACME", SHARED)
    assert linked.exit_code == 0, linked.output
    launcher = launcher_in(slack, SHARED)
    assert action_ids(launcher) == [a.value for a in LauncherAction]
    assert "Acme Corp" in text_of(launcher)

    # Show my payments: only they see it, in the channel where they clicked.
    shown = paced.wait_response(click_launcher(paced, EXTERNAL, LauncherAction.LIST, launcher))
    assert shown.get("response_type") == "ephemeral" and shown.get("replace_original") is False
    assert "PAY-1" in text_of(shown) and "1,000.00 USD" in text_of(shown)
    assert "PAY-B" not in text_of(shown)

    # Allocate: the modal /payments allocate opens.
    click_launcher(paced, EXTERNAL, LauncherAction.ALLOCATE, launcher)
    view = paced.wait_view(1)
    assert view["callback_id"] == "allocation_modal"
    status, reply = paced.post(
        payloads.view_submission(
            EXTERNAL,
            view,
            {
                "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
                "invoice": {"invoice": payloads.external_select_value("INV-1", "INV-1")},
                "amount": {"amount": payloads.text_value("600.00")},
                "note": {"note": payloads.text_value(None)},
            },
            user_team_id=connect.PARTNER_TEAM,
        )
    )
    assert status == 200 and reply["response_action"] == "update", reply
    allocation_id = latest_allocation(books)

    paced.deliver()
    [billing] = paced.billing_messages()
    assert f"approve_allocation:{allocation_id}" in action_ids(billing)
    in_channel = [m for m in slack.messages_in(SHARED) if m["ts"] != launcher["ts"]]
    [receipt] = in_channel
    assert receipt["text"].startswith(f"<@{EXTERNAL}>")
    assert f"cancel_allocation:{allocation_id}" in action_ids(receipt)
    assert "600.00 USD" in text_of(receipt)

    status, _, _ = paced.click(APPROVER, f"approve_allocation:{allocation_id}", message=billing)
    assert status == 200
    wait_for(lambda: allocation_row(books, allocation_id).status == "approved", what="approval")
    paced.deliver()

    # The decision edits the receipt in place, in the channel: no second message.
    [decided] = [m for m in slack.messages_in(SHARED) if m["ts"] != launcher["ts"]]
    assert decided["ts"] == receipt["ts"] and "edited" in decided
    assert "approved" in text_of(decided).lower() and f"<@{EXTERNAL}>" in text_of(decided)
    assert action_ids(decided) == []
    # One DM was tried, once, for the first notice; the decision went the recorded way.
    assert dm_attempts(slack, EXTERNAL) == 1
    assert slack.messages_in(EXTERNAL) == []
    with books.transaction() as session:
        person = session.get_one(SlackPerson, EXTERNAL)
        assert (person.notice_route, person.notice_channel_id) == ("channel", SHARED)
        routes = session.execute(
            select(OutboxMessage.recipient, OutboxMessage.route, OutboxMessage.route_channel)
            .where(OutboxMessage.recipient != "billing")
            .order_by(OutboxMessage.message_id)
        ).all()
    assert [tuple(r) for r in routes] == [("requester", "channel", SHARED), ("receipt", None, None)]


def test_the_billing_channel_and_partner_channels_never_see_each_others_content(
    paced: BotHarness, books: Database
) -> None:
    slack = paced.slack
    slack.set_undmable(EXTERNAL)
    assert link(books, slack, "link", "P-ACME", SHARED).exit_code == 0
    launcher = launcher_in(slack, SHARED)
    click_launcher(paced, EXTERNAL, LauncherAction.ALLOCATE, launcher)
    view = paced.wait_view(1)
    paced.post(
        payloads.view_submission(
            EXTERNAL,
            view,
            {
                "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
                "invoice": {"invoice": payloads.external_select_value("INV-2", "INV-2")},
                "amount": {"amount": payloads.text_value("100.00")},
                "note": {"note": payloads.text_value("for the billing team")},
            },
        )
    )
    allocation_id = latest_allocation(books)
    paced.deliver()
    [billing] = paced.billing_messages()
    paced.click(APPROVER, f"reject_allocation:{allocation_id}", message=billing)
    reject_view = paced.wait_view(2)
    paced.post(
        payloads.view_submission(
            APPROVER, reject_view, {"reason": {"reason": payloads.text_value("Wrong invoice")}}
        )
    )
    wait_for(lambda: allocation_row(books, allocation_id).status == "rejected", what="rejection")
    paced.deliver()

    posted = [c for c in slack.calls if c.method in ("chat.postMessage", "chat.update")]
    to_billing = [c for c in posted if c.channel == BILLING_CHANNEL]
    to_shared = [c for c in posted if c.channel == SHARED]
    assert to_billing and to_shared
    # Billing's messages carry the decision buttons or the decision, never a partner notice.
    for call in to_billing:
        assert not str(call.params.get("text")).startswith(f"<@{EXTERNAL}>")
        assert "cancel_allocation" not in str(call.params.get("blocks"))
    # The partner's channel gets the launcher and notices naming the person, never billing's.
    for call in to_shared:
        blocks = str(call.params.get("blocks"))
        assert "approve_allocation" not in blocks and "reject_allocation" not in blocks
        assert call.params["text"].startswith(("Payments for", f"<@{EXTERNAL}>"))
    assert "Wrong invoice" in text_of(slack.messages_in(SHARED)[-1])


def test_a_member_reachable_by_dm_still_gets_dms_from_the_launcher(
    harness: BotHarness, books: Database
) -> None:
    slack = harness.slack
    assert link(books, slack, "link", "P-ACME", SHARED).exit_code == 0
    launcher = launcher_in(slack, SHARED)
    click_launcher(harness, ALICE, LauncherAction.ALLOCATE, launcher)
    view = harness.wait_view(1)
    harness.post(
        payloads.view_submission(
            ALICE,
            view,
            {
                "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
                "invoice": {"invoice": payloads.external_select_value("INV-1", "INV-1")},
                "amount": {"amount": payloads.text_value("10.00")},
                "note": {"note": payloads.text_value(None)},
            },
        )
    )
    harness.deliver()

    [receipt] = slack.messages_in(ALICE)
    assert "10.00 USD" in text_of(receipt) and not receipt["text"].startswith("<@")
    assert [m["ts"] for m in slack.messages_in(SHARED)] == [launcher["ts"]]
    [dm] = [c for c in slack.deliveries("chat.postMessage") if c.channel == "D" + ALICE]
    assert dm.params["channel"] == ALICE  # as before: posted to the user id
    with books.transaction() as session:
        assert session.get_one(SlackPerson, ALICE).notice_route == "dm"


def test_history_from_the_launcher_shows_only_the_clickers_own_requests(
    harness: BotHarness, books: Database
) -> None:
    assert link(books, harness.slack, "link", "P-ACME", SHARED).exit_code == 0
    launcher = launcher_in(harness.slack, SHARED)

    # Bob (Globex) clicks Acme's launcher: he sees his own partner's world, not Acme's.
    listed = harness.wait_response(click_launcher(harness, BOB, LauncherAction.LIST, launcher))
    assert "PAY-B" in text_of(listed) and "PAY-1" not in text_of(listed)
    history = harness.wait_response(click_launcher(harness, BOB, LauncherAction.HISTORY, launcher))
    assert "PAY-1" not in text_of(history)
    stranger = harness.wait_response(
        click_launcher(harness, "U0NOBODY", LauncherAction.LIST, launcher)
    )
    assert "not linked" in text_of(stranger).lower()


@pytest.mark.parametrize("shortcut", ["global", "message"])
def test_shortcuts_open_the_launchers_choices_and_allocate_pushes_the_modal(
    harness: BotHarness, books: Database, shortcut: str
) -> None:
    if shortcut == "global":
        body = connect.global_shortcut(EXTERNAL, Shortcut.GLOBAL, user_team_id=connect.PARTNER_TEAM)
    else:
        body = connect.message_shortcut(
            EXTERNAL,
            Shortcut.MESSAGE,
            channel_id=SHARED,
            message={"type": "message", "ts": "1700000000.000001", "text": "hi"},
            response_url=harness.new_response_url(),
            user_team_id=connect.PARTNER_TEAM,
        )
    status, _ = harness.post(body)
    assert status == 200
    opened = harness.wait_view(1)
    assert action_ids(opened) == [a.value for a in LauncherAction]

    # Show my payments, in the modal: drawn into it.
    shown = harness.act_in_modal(EXTERNAL, opened["id"], LauncherAction.LIST)
    assert "PAY-1" in text_of(shown) and "PAY-B" not in text_of(shown)
    assert "open_allocation:PAY-1" in action_ids(shown)

    # A payment's Allocate inside the modal stacks the allocation modal on it.
    harness.post(
        payloads.block_actions(
            EXTERNAL, "open_allocation:PAY-1", None, container="view", view=shown
        )
    )
    pushed = wait_for(lambda: harness.slack.deliveries("views.push"), what="views.push")
    assert pushed[0].params["view"]["callback_id"] == "allocation_modal"
    assert len(harness.slack.deliveries("views.open")) == 1


def test_channel_link_refusals_are_one_line_and_change_nothing(
    harness: BotHarness, books: Database
) -> None:
    slack = harness.slack
    cases = [
        (("link", "P-NOPE", SHARED), "no partner 'P-NOPE'"),
        (("link", "P-ACME", "not-a-channel"), "is not a Slack channel id"),
        (("link", "P-ACME", "DU0ALICE"), "is not a Slack channel id"),
        (("link", "P-ACME", BILLING_CHANNEL), "stays internal"),
    ]
    for args, said in cases:
        result = link(books, slack, *args)
        assert result.exit_code == 2, result.output
        assert said in result.stderr and len(result.stderr.strip().splitlines()) == 1
    slack.fail("chat.postMessage", "slack_error:not_in_channel")
    refused = link(books, slack, "link", "P-ACME", SHARED)
    assert refused.exit_code == 1
    [line] = refused.stderr.strip().splitlines()
    assert (
        "not_in_channel" in line and "/invite @payments" in line and "nothing was changed" in line
    )
    with books.transaction() as session:
        assert session.scalars(select(PartnerChannel)).all() == []
    assert slack.pinned_in(SHARED) == [] and slack.messages_in(SHARED) == []


def test_a_failed_pin_takes_the_launcher_down_again(harness: BotHarness, books: Database) -> None:
    harness.slack.fail("pins.add", "slack_error:missing_scope")
    refused = link(books, harness.slack, "link", "P-ACME", SHARED)
    assert refused.exit_code == 1 and "pins:write" in refused.stderr
    assert harness.slack.messages_in(SHARED) == []
    with books.transaction() as session:
        assert session.scalars(select(PartnerChannel)).all() == []


def test_relinking_to_another_partner_needs_replace_and_unlink_takes_the_launcher_down(
    harness: BotHarness, books: Database
) -> None:
    slack = harness.slack
    assert link(books, slack, "link", "P-ACME", SHARED).exit_code == 0
    taken = link(books, slack, "link", "P-GLOBEX", SHARED)
    assert taken.exit_code == 2 and "--replace" in taken.stderr
    assert len(slack.pinned_in(SHARED)) == 1
    replaced = link(books, slack, "link", "P-GLOBEX", SHARED, "--replace")
    assert replaced.exit_code == 0, replaced.output
    listed = link(books, slack, "list")
    assert listed.stdout.split("\t")[:2] == [SHARED, "P-GLOBEX"]

    unlinked = link(books, slack, "unlink", SHARED)
    assert unlinked.exit_code == 0 and "the launcher was deleted" in unlinked.stdout
    assert link(books, slack, "list").stdout == ""
    again = link(books, slack, "unlink", SHARED)
    assert again.exit_code == 1 and "not linked" in again.stderr


def test_a_partner_with_a_locale_gets_its_launcher_in_that_language(
    books: Database, slack: FakeSlack
) -> None:
    # The partners CSV's locale column says the channel's readers read French: the launcher
    # pinned there is French; another partner's (no locale) stays in DEFAULT_LOCALE, English.
    with books.transaction() as session:
        session.execute(
            update(Partner).where(Partner.partner_id == "P-ACME").values(locale="fr-FR")
        )
    assert link(books, slack, "link", "P-ACME", SHARED).exit_code == 0
    french = text_of(launcher_in(slack, SHARED))
    assert "Voir mes paiements" in french and "Show my payments" not in french
    assert link(books, slack, "link", "P-GLOBEX", "C0GLOBEXSHR").exit_code == 0
    assert "Show my payments" in text_of(launcher_in(slack, "C0GLOBEXSHR"))
