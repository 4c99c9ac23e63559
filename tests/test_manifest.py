"""manifest.yml is a valid Slack app manifest that points Slack at the bot's real routes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / "manifest.yml"
# Slack's official schema ships with the tests (MIT, licence beside it): a clone needs nothing else.
SCHEMA = Path(__file__).resolve().parent / "data" / "slack" / "manifest.schema.1.0.0.json"
EVENTS_ROUTE = "/slack/events"  # CONTRACT.md: every request from Slack arrives here


@pytest.fixture(scope="module")
def manifest() -> dict[str, Any]:
    loaded = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    assert isinstance(loaded, dict), f"{MANIFEST} is not a YAML mapping"
    return loaded


def test_manifest_is_valid_against_slacks_schema(manifest: dict[str, Any]) -> None:
    if not SCHEMA.is_file():
        pytest.fail(
            f"Slack's manifest schema was not found at {SCHEMA}; it ships with the repository"
        )
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    errors = sorted(Draft7Validator(schema).iter_errors(manifest), key=lambda e: list(e.path))
    assert [f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors] == []


def test_display_information_fits_slacks_limits(manifest: dict[str, Any]) -> None:
    shown = manifest["display_information"]
    assert shown["name"] == "Payments"
    assert len(shown["description"]) <= 140
    assert 175 <= len(shown["long_description"]) <= 4000


def test_the_slash_command_is_payments_with_its_usage(manifest: dict[str, Any]) -> None:
    [command] = manifest["features"]["slash_commands"]
    assert command["command"] == "/payments"
    assert command["usage_hint"] == "[list | allocate PAYMENT_ID | history | help]"
    assert command["should_escape"] is False


def test_every_request_url_is_the_events_route(manifest: dict[str, Any]) -> None:
    [command] = manifest["features"]["slash_commands"]
    interactivity = manifest["settings"]["interactivity"]
    urls = [
        command["url"],
        interactivity["request_url"],
        interactivity["message_menu_options_url"],
    ]
    assert all(url.startswith("https://") and url.endswith(EVENTS_ROUTE) for url in urls), urls


def test_interactivity_is_on_with_the_options_load_url(manifest: dict[str, Any]) -> None:
    interactivity = manifest["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["message_menu_options_url"]


def test_bot_scopes_are_exactly_what_the_bot_uses(manifest: dict[str, Any]) -> None:
    scopes = manifest["oauth_config"]["scopes"]
    # The history scopes (and im:write, for the DM's id) let a post whose answer was lost be
    # found before it is made again; mpim:history is not needed: the bot posts in no group DM.
    assert sorted(scopes["bot"]) == [
        "channels:history",
        "chat:write",
        "commands",
        "groups:history",
        "im:history",
        "im:write",
        "pins:write",
        "usergroups:read",
        # users.info with include_locale: the language each person reads (issue 15).
        "users:read",
    ]
    assert len(scopes["bot"]) == 9
    assert "user" not in scopes


def test_the_manifests_bot_scopes_are_the_installs_default(manifest: dict[str, Any]) -> None:
    from slackbot.settings import DEFAULT_SCOPES

    assert sorted(manifest["oauth_config"]["scopes"]["bot"]) == sorted(DEFAULT_SCOPES)


def test_http_mode_with_the_home_and_uninstall_events(manifest: dict[str, Any]) -> None:
    settings = manifest["settings"]
    assert settings["socket_mode_enabled"] is False
    # Org-wide installs are allowed; token rotation is supported but, once on, cannot be turned
    # off again for the app, so it stays the operator's choice (README).
    assert settings["org_deploy_enabled"] is True
    assert settings["token_rotation_enabled"] is False
    events = settings["event_subscriptions"]
    assert events["request_url"].startswith("https://")
    assert events["request_url"].endswith(EVENTS_ROUTE)
    assert sorted(events["bot_events"]) == ["app_home_opened", "app_uninstalled", "tokens_revoked"]
    assert manifest["features"]["app_home"]["home_tab_enabled"] is True


def test_installs_come_back_to_the_oauth_redirect_route(manifest: dict[str, Any]) -> None:
    [url] = manifest["oauth_config"]["redirect_urls"]
    assert url.startswith("https://") and url.endswith("/slack/oauth_redirect")


def test_bot_dms_are_read_only_notifications(manifest: dict[str, Any]) -> None:
    features = manifest["features"]
    assert features["bot_user"] == {"display_name": "payments", "always_online": False}
    assert features["app_home"]["messages_tab_enabled"] is True
    assert features["app_home"]["messages_tab_read_only_enabled"] is True


def test_shortcuts_are_the_ones_the_bot_listens_for(manifest: dict[str, Any]) -> None:
    from slackbot.slack.views.launcher import Shortcut

    shortcuts = manifest["features"]["shortcuts"]
    assert {(s["type"], s["callback_id"]) for s in shortcuts} == {
        ("global", Shortcut.GLOBAL.value),
        ("message", Shortcut.MESSAGE.value),
    }
    assert all(len(s["name"]) <= 24 and len(s["description"]) <= 80 for s in shortcuts)
