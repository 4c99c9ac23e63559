"""The OAuth mode through the real app: install, tokens encrypted, each workspace answered with its
own token, org-wide installs, rotation, uninstall, and Slack Connect modals (bolt-python #767)."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from cryptography.fernet import Fernet
from sqlalchemy import select

from models.workspaces import slack_bots, slack_installations
from slackbot.db import Database
from slackbot.slack.bolt_app import NOT_INSTALLED
from slackbot.slack.installations import TokenCipher
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import BotHarness, wait_for
from tests.support.factories import add_invoice, add_partner, add_payment, payment_row
from tests.support.oauth_stub import CLIENT_ID, CLIENT_SECRET, OAuthSlack
from tests.support.slack_stub import FakeSlack

KEY = Fernet.generate_key().decode()
VENDOR = "T0VENDOR"
PARTNER_TEAM = "T0PARTNER"
OTHER_TEAM = "T0OTHER"
ALICE = "U0ALICE"
OLGA = "U0OLGA"


@pytest.fixture
def oauth(slack: FakeSlack) -> OAuthSlack:
    return OAuthSlack(slack)


@pytest.fixture
def bot(db: Database, slack: FakeSlack, oauth: OAuthSlack) -> Iterator[BotHarness]:
    running = BotHarness(
        db,
        slack,
        SLACK_BOT_TOKEN="",
        SLACK_CLIENT_ID=CLIENT_ID,
        SLACK_CLIENT_SECRET=CLIENT_SECRET,
        TOKEN_ENCRYPTION_KEY=KEY,
        BILLING_TEAM_ID=VENDOR,
    )
    yield running
    running.close()


@pytest.fixture
def books(db: Database) -> Database:
    add_partner(db, "P-ACME", "Acme Corp", members=[ALICE])
    add_partner(db, "P-OTHER", "Other Ltd", members=[OLGA])
    add_payment(db, "PAY-1", "P-ACME", 100000, "USD")
    add_invoice(db, "INV-1", "P-ACME", 60000, "USD")
    add_payment(db, "PAY-O", "P-OTHER", 5000, "USD")
    add_invoice(db, "INV-O", "P-OTHER", 5000, "USD")
    return db


def _get(url: str, cookie: str | None = None) -> tuple[int, Any, str]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.headers, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read().decode()


def _start(bot: BotHarness) -> tuple[str, str]:
    """GET /slack/install: (the state in its link, the cookie that carries it)."""
    status, headers, page = _get(bot.base_url + "/slack/install")
    assert status == 200, page
    cookie = headers["Set-Cookie"].split(";", 1)[0]
    state = cookie.split("=", 1)[1]
    assert f"state={state}" in page
    return state, cookie


def _install(bot: BotHarness, oauth: OAuthSlack, team_id: str | None, **grant: Any) -> str:
    """A person installs the app through the flow; returns the bot token Slack issued."""
    state, cookie = _start(bot)
    code = oauth.grant(team_id, **grant)
    before = set(oauth.tokens)
    status, _, page = _get(f"{bot.base_url}/slack/oauth_redirect?code={code}&state={state}", cookie)
    assert status == 200, page
    assert "installed" in page
    (token,) = set(oauth.tokens) - before
    return token


def _bearers(slack: FakeSlack, method: str) -> list[str]:
    return [
        next(v for k, v in call.headers.items() if k.lower() == "authorization")
        .removeprefix("Bearer ")
        .strip()
        for call in slack.calls_to(method)
    ]


def _allocate(bot: BotHarness, user: str, payment: str, team_id: str, **extra: str) -> int:
    """``/payments allocate`` from ``team_id``; returns the status (the modal opens after)."""
    body = payloads.slash_command(
        user, f"allocate {payment}", team_id=team_id, response_url=bot.new_response_url()
    )
    if extra:
        body += "&" + urlencode(extra)
    status, _ = bot.post(body)
    return status


def _opened_with(bot: BotHarness, slack: FakeSlack, count: int) -> str:
    bot.wait_view(count)
    return _bearers(slack, "views.open")[count - 1]


def _rows(db: Database, table: Any) -> list[dict[str, Any]]:
    with db.engine.connect() as conn:
        return [dict(row) for row in conn.execute(select(table)).mappings()]


def test_an_install_stores_the_token_encrypted_and_the_workspace_is_answered_with_it(
    bot: BotHarness, slack: FakeSlack, oauth: OAuthSlack, books: Database
) -> None:
    token = _install(bot, oauth, PARTNER_TEAM, team_name="Acme Corp")
    assert len(slack.calls_to("oauth.v2.access")) == 1
    for table in (slack_installations, slack_bots):
        (row,) = _rows(books, table)
        assert row["team_id"] == PARTNER_TEAM
        assert all(token not in str(value) for value in row.values()), "plaintext token stored"
        assert TokenCipher([KEY]).open(row["bot_token"]) == token

    assert _allocate(bot, ALICE, "PAY-1", PARTNER_TEAM) == 200
    assert _opened_with(bot, slack, 1) == token


def test_a_second_workspace_gets_its_own_token(
    bot: BotHarness, slack: FakeSlack, oauth: OAuthSlack, books: Database
) -> None:
    acme = _install(bot, oauth, PARTNER_TEAM, team_name="Acme Corp")
    other = _install(bot, oauth, OTHER_TEAM, team_name="Other Ltd")
    assert acme != other
    assert _allocate(bot, OLGA, "PAY-O", OTHER_TEAM) == 200
    assert _opened_with(bot, slack, 1) == other
    assert _allocate(bot, ALICE, "PAY-1", PARTNER_TEAM) == 200
    assert _opened_with(bot, slack, 2) == acme


def test_an_org_wide_install_answers_every_workspace_of_the_org(
    bot: BotHarness, slack: FakeSlack, oauth: OAuthSlack, books: Database
) -> None:
    org = _install(bot, oauth, None, enterprise_id="E0ORG", enterprise_name="Org", org_wide=True)
    (row,) = _rows(books, slack_installations)
    assert row["team_id"] is None and row["is_enterprise_install"] is True
    # Slack marks such payloads is_enterprise_install; a workspace's own flag may say false.
    status = _allocate(
        bot, ALICE, "PAY-1", "T0ORGA", enterprise_id="E0ORG", is_enterprise_install="true"
    )
    assert status == 200
    assert _opened_with(bot, slack, 1) == org
    status = _allocate(
        bot, OLGA, "PAY-O", "T0ORGB", enterprise_id="E0ORG", is_enterprise_install="false"
    )
    assert status == 200
    assert _opened_with(bot, slack, 2) == org


def test_an_expiring_token_is_refreshed_and_the_new_one_saved_encrypted(
    bot: BotHarness, slack: FakeSlack, oauth: OAuthSlack, books: Database
) -> None:
    # Expiring within Bolt's two-hour window: the next request refreshes it first.
    first = _install(bot, oauth, PARTNER_TEAM, team_name="Acme Corp", expires_in=3600)
    assert _allocate(bot, ALICE, "PAY-1", PARTNER_TEAM) == 200
    refreshes = [
        c
        for c in slack.calls_to("oauth.v2.access")
        if c.params.get("grant_type") == "refresh_token"
    ]
    assert len(refreshes) == 1
    used = _opened_with(bot, slack, 1)
    assert used != first and used in oauth.tokens and first in oauth.revoked
    (row,) = _rows(books, slack_installations)
    assert TokenCipher([KEY]).open(row["bot_token"]) == used
    assert used not in str(row["bot_token"])
    assert row["bot_token_expires_at"] is not None
    # The sender's tokens find the refreshed one too (refreshing again: still expiring).
    client = bot.bot.tokens.for_team(PARTNER_TEAM, None)
    assert client is not None and client.token in oauth.tokens
    assert client.token not in oauth.revoked


def _event(team_id: str, event: dict[str, Any]) -> str:
    return json.dumps(
        {
            "token": payloads.VERIFICATION_TOKEN,
            "team_id": team_id,
            "api_app_id": "A1",
            "type": "event_callback",
            "event_id": f"Ev{time.monotonic_ns()}",
            "event_time": int(time.time()),
            "event": event,
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": team_id,
                    "user_id": "UBOT",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }
    )


def test_app_uninstalled_deletes_the_installation_keeps_the_ledger_and_refuses_cleanly(
    bot: BotHarness, slack: FakeSlack, oauth: OAuthSlack, books: Database
) -> None:
    _install(bot, oauth, PARTNER_TEAM, team_name="Acme Corp")
    _install(bot, oauth, OTHER_TEAM, team_name="Other Ltd")

    def money() -> tuple[int, int, int]:
        row = payment_row(books, "PAY-1")
        return row.amount, row.allocated, row.pending

    before = money()
    status, _ = bot.post(_event(PARTNER_TEAM, {"type": "app_uninstalled"}))
    assert status == 200
    wait_for(
        lambda: all(r["team_id"] != PARTNER_TEAM for r in _rows(books, slack_installations)),
        what="the installation deleted",
    )
    assert [r["team_id"] for r in _rows(books, slack_bots)] == [OTHER_TEAM]
    assert money() == before
    oauth.revoke_team(PARTNER_TEAM)

    response_url = bot.new_response_url()
    status, _ = bot.post(
        payloads.slash_command(
            ALICE, "allocate PAY-1", team_id=PARTNER_TEAM, response_url=response_url
        )
    )
    assert status == 200
    assert NOT_INSTALLED in str(bot.wait_response(response_url).get("text"))
    assert slack.calls_to("views.open") == []


def test_tokens_revoked_drops_the_bot_token(
    bot: BotHarness, slack: FakeSlack, oauth: OAuthSlack, books: Database
) -> None:
    _install(bot, oauth, PARTNER_TEAM, team_name="Acme Corp")
    event = {"type": "tokens_revoked", "tokens": {"bot": ["UBOT"]}}
    assert bot.post(_event(PARTNER_TEAM, event))[0] == 200
    wait_for(lambda: _rows(books, slack_bots) == [], what="the bot row deleted")
    (row,) = _rows(books, slack_installations)
    assert row["bot_token"] is None
    assert bot.bot.tokens.for_team(PARTNER_TEAM, None) is None


def _connect_submission(user: str, installed_team: str | None, person_team: str) -> str:
    """A modal submitted by a person of ``person_team`` (which never installed the app) that
    was opened through ``installed_team``'s installation in a Slack Connect channel."""
    body = payloads.view_submission(user, {"callback_id": "allocation_modal"}, {})
    payload = payloads.decode_payload(body)
    payload["team"] = {"id": person_team, "domain": "external"}
    payload["user"]["team_id"] = person_team
    payload["view"]["team_id"] = person_team
    payload["view"]["app_installed_team_id"] = installed_team
    if installed_team is None:
        del payload["view"]["app_installed_team_id"]
    return urlencode({"payload": json.dumps(payload)})


def test_a_slack_connect_modal_is_authorized_with_the_installation_that_opened_it(
    bot: BotHarness, slack: FakeSlack, oauth: OAuthSlack, books: Database
) -> None:
    vendor = _install(bot, oauth, VENDOR, team_name="Vendor")
    status, reply = bot.post(_connect_submission("U0EXTERN", VENDOR, "T0EXTERNAL"))
    assert status == 200
    assert reply != NOT_INSTALLED, "authorized with the person's own (absent) installation"
    assert _bearers(slack, "auth.test")[-1] == vendor
    # Without the view's installed team, the person's workspace is asked for, and refused.
    status, reply = bot.post(_connect_submission("U0EXTERN", None, "T0EXTERNAL"))
    assert status == 200
    assert reply == NOT_INSTALLED


@pytest.mark.parametrize(
    ("query", "cookie", "says"),
    [
        ("code=code-9&state=forged", True, "expired or was already used"),
        ("state={state}", True, "did not send the authorization code"),
        ("code=code-9&state={state}", False, "another browser"),
        ("code=unknown&state={state}", True, "did not accept the authorization code"),
    ],
)
def test_a_bad_redirect_is_a_400_page_that_says_what_happened(
    bot: BotHarness, oauth: OAuthSlack, db: Database, query: str, cookie: bool, says: str
) -> None:
    state, state_cookie = _start(bot)
    url = f"{bot.base_url}/slack/oauth_redirect?{query.format(state=state)}"
    if "forged" in query:
        state_cookie = state_cookie.split("=", 1)[0] + "=forged"
    status, headers, page = _get(url, state_cookie if cookie else None)
    assert status == 400, page
    assert says in page and "Nothing was installed" in page
    assert "Traceback" not in page
    assert headers["Content-Type"].startswith("text/html")
    assert _rows(db, slack_installations) == []


def test_the_person_cancelling_is_a_plain_page(bot: BotHarness, db: Database) -> None:
    _state, cookie = _start(bot)
    status, _, page = _get(f"{bot.base_url}/slack/oauth_redirect?error=access_denied", cookie)
    assert status == 200 and "cancelled" in page
    assert _rows(db, slack_installations) == []


# ------------------------------------------------------------------ the operator's commands


def _cli(db: Database, slack: FakeSlack, *args: str, key: str = KEY) -> Any:
    from typer.testing import CliRunner

    from slackbot.cli import app

    env = {
        "DATABASE_URL": db.engine.url.render_as_string(hide_password=False),
        "SLACK_API_URL": slack.api_url,
        "SLACK_BOT_TOKEN": "",
        "SLACK_CLIENT_ID": CLIENT_ID,
        "SLACK_CLIENT_SECRET": CLIENT_SECRET,
        "TOKEN_ENCRYPTION_KEY": key,
        "BILLING_TEAM_ID": VENDOR,
        "BILLING_CHANNEL_ID": "C0BILLING",
    }
    return CliRunner().invoke(app, list(args), env=env)


def test_key_rotation_reencrypts_every_stored_token_under_the_new_key(
    bot: BotHarness, slack: FakeSlack, oauth: OAuthSlack, books: Database
) -> None:
    # README's procedure: the new key first beside the old, `installations reencrypt`, then the
    # new key alone, and the workspace is still answered with its token.
    token = _install(bot, oauth, PARTNER_TEAM)
    new = Fernet.generate_key().decode()

    result = _cli(books, slack, "installations", "reencrypt", key=f"{new},{KEY}")

    assert result.exit_code == 0, result.output
    assert "re-encrypted 2 stored installation rows" in result.stdout
    for table in (slack_installations, slack_bots):
        (row,) = _rows(books, table)
        assert TokenCipher([new]).open(row["bot_token"]) == token
    # The old key gone: every token still reads (and is written anew under the new key).
    again = _cli(books, slack, "installations", "reencrypt", key=new)
    assert again.exit_code == 0, again.output
    (row,) = _rows(books, slack_bots)
    assert TokenCipher([new]).open(row["bot_token"]) == token


def test_channel_link_posts_the_launcher_with_the_vendors_installation(
    bot: BotHarness, slack: FakeSlack, oauth: OAuthSlack, books: Database
) -> None:
    refused = _cli(books, slack, "channel", "link", "P-ACME", "C0ACMESHARED")
    assert refused.exit_code == 2
    assert "(BILLING_TEAM_ID T0VENDOR) has not installed the app yet" in refused.output
    assert slack.calls_to("chat.postMessage") == []

    vendor = _install(bot, oauth, VENDOR)
    _install(bot, oauth, PARTNER_TEAM)
    linked = _cli(books, slack, "channel", "link", "P-ACME", "C0ACMESHARED")

    assert linked.exit_code == 0, linked.output
    assert _bearers(slack, "chat.postMessage") == [vendor]
    assert _bearers(slack, "pins.add") == [vendor]
