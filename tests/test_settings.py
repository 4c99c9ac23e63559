"""Settings: every problem at once, placeholders refused by name, each command checks its own."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from slackbot.server import shown_database_url, start_line
from slackbot.settings import (
    DATABASE_SETTINGS,
    PLACEHOLDER_MESSAGE,
    Settings,
    SettingsError,
    load_settings,
    require_serve_settings,
)

ROOT = Path(__file__).resolve().parents[1]
ENV_EXAMPLE = ROOT / ".env.example"
SERVABLE = {
    "SLACK_BOT_TOKEN": "xoxb-1234-5678-abcdef",
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "BILLING_CHANNEL_ID": "C0BILLING",
}


@pytest.fixture(autouse=True)
def _isolated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """No .env and no real settings from the environment running the tests."""
    monkeypatch.chdir(tmp_path)
    for name in [field.alias for field in Settings.model_fields.values()]:
        if name:
            monkeypatch.delenv(name, raising=False)


def _problems(**values: str) -> list[str]:
    with pytest.raises(SettingsError) as caught:
        load_settings(serving=True, **values)
    lines = str(caught.value).splitlines()
    assert list(caught.value.problems) == lines
    return lines


def _named(lines: list[str]) -> list[str]:
    return [line.split(":", 1)[0] for line in lines]


def test_serve_names_every_missing_setting_at_once() -> None:
    lines = _problems()
    assert _named(lines) == ["SLACK_BOT_TOKEN", "BILLING_CHANNEL_ID", "SLACK_SIGNING_SECRET"]
    assert all("required to serve" in line for line in lines)


def test_serve_names_every_malformed_and_missing_setting_at_once_one_line_each() -> None:
    lines = _problems(
        DATABASE_URL="mysql://x",
        SLACK_BOT_TOKEN="xoxp-user-token",
        SLACK_API_URL="slack.com",
        BILLING_APPROVER_IDS="U0AAA,bob,#billing",
        BILLING_APPROVER_GROUP_ID="billing-team",
        BILLING_CHANNEL_PACE_SECONDS="soon",
        INVOICE_URL_TEMPLATE="https://erp.example.com/invoices",
    )
    assert _named(lines) == [
        "DATABASE_URL",
        "SLACK_BOT_TOKEN",
        "SLACK_API_URL",
        "BILLING_APPROVER_IDS",
        "BILLING_APPROVER_GROUP_ID",
        "BILLING_CHANNEL_PACE_SECONDS",
        "INVOICE_URL_TEMPLATE",
        "BILLING_CHANNEL_ID",
        "SLACK_SIGNING_SECRET",
    ]
    approvers = lines[3]
    assert "'bob'" in approvers and "'#billing'" in approvers and "U0AAA" not in approvers
    assert "xoxb-" in lines[1]
    assert "{invoice_id}" in lines[6]


def test_a_malformed_setting_is_not_named_again_as_missing() -> None:
    lines = _problems(
        SLACK_BOT_TOKEN="xoxb-…", BILLING_CHANNEL_ID="#billing", SLACK_SIGNING_SECRET="…"
    )
    assert _named(lines) == ["SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "BILLING_CHANNEL_ID"]
    assert "required" not in "\n".join(lines)


def test_a_malformed_app_token_does_not_also_ask_for_a_signing_secret() -> None:
    lines = _problems(**{**SERVABLE, "SLACK_SIGNING_SECRET": ""}, SLACK_APP_TOKEN="xapp-…")
    assert _named(lines) == ["SLACK_APP_TOKEN"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-…"),
        ("SLACK_BOT_TOKEN", "xoxb-..."),
        ("SLACK_SIGNING_SECRET", "…"),
        ("SLACK_APP_TOKEN", "xapp-…"),
        ("BILLING_CHANNEL_ID", "C…"),
        ("BILLING_CHANNEL_ID", "C0123ABCD"),
        ("BILLING_APPROVER_IDS", "U…,U…"),
        ("BILLING_APPROVER_IDS", "U0123AAAA,U0456BBBB"),
        ("BILLING_APPROVER_GROUP_ID", "S0789CCCC"),
        ("DATABASE_URL", "postgresql://…"),
        ("INVOICE_URL_TEMPLATE", "https://…/invoices/{invoice_id}"),
    ],
)
def test_the_readmes_placeholders_are_refused_by_name(variable: str, value: str) -> None:
    lines = _problems(**{**SERVABLE, variable: value})
    assert len(lines) == 1 and lines[0].startswith(f"{variable}: "), lines
    assert PLACEHOLDER_MESSAGE in lines[0]


@pytest.mark.parametrize(
    ("variable", "value", "shown"),
    [
        ("SLACK_BOT_TOKEN", "xoxb-1234-5678-abcd\u00e9f", "U+00E9"),
        ("SLACK_BOT_TOKEN", "xoxb-1234 5678", "U+0020"),
        ("SLACK_BOT_TOKEN", "xoxb-\u200b1234", "U+200B"),
        ("SLACK_SIGNING_SECRET", "8f74\u2019secret", "U+2019"),
        ("SLACK_APP_TOKEN", "xapp-1-A1-\u00a0x", "U+00A0"),
        ("BILLING_CHANNEL_ID", "C0BILL\u0130NG", "is not a Slack channel ID"),
        ("BILLING_APPROVER_IDS", "U0AAA\x00", "is not a Slack user ID"),
    ],
)
def test_credentials_and_ids_must_be_printable_ascii(variable: str, value: str, shown: str) -> None:
    lines = _problems(**{**SERVABLE, variable: value})
    assert len(lines) == 1 and lines[0].startswith(f"{variable}: "), lines
    assert shown in lines[0]
    assert lines[0].isprintable()


def test_a_token_or_secret_is_never_echoed_in_the_message() -> None:
    secret = "super-secret-value\u00e9"
    lines = _problems(**{**SERVABLE, "SLACK_SIGNING_SECRET": secret})
    assert "super-secret" not in lines[0]


def test_serve_settings_that_are_right_load() -> None:
    settings = load_settings(serving=True, **SERVABLE, BILLING_APPROVER_IDS=" U0AAA , W0BBB ")
    assert settings.billing_approver_ids == ("U0AAA", "W0BBB")
    require_serve_settings(settings)  # the older entry point agrees


def test_database_commands_ignore_slack_settings_they_do_not_use() -> None:
    # `slackbot import` with a half-filled .env must work: serve will name these.
    settings = load_settings(
        needs=DATABASE_SETTINGS,
        DATABASE_URL="sqlite:///ledger.db",
        SLACK_BOT_TOKEN="xoxb-…",
        BILLING_CHANNEL_ID="#billing",
        BILLING_CHANNEL_PACE_SECONDS="soon",
    )
    assert settings.database_url == "sqlite:///ledger.db"
    assert settings.slack_bot_token is None
    assert settings.billing_channel_pace_seconds == 1.0


def test_database_commands_still_refuse_a_bad_database_url() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(needs=DATABASE_SETTINGS, DATABASE_URL="mysql://x", SLACK_BOT_TOKEN="x")
    assert str(caught.value).splitlines() == [
        "DATABASE_URL: must be a sqlite:/// or postgresql:// URL"
    ]


def test_a_dotenv_that_is_not_utf8_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".env").write_bytes(b"SLACK_BOT_TOKEN=xoxb-\xff\xfe\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(serving=True)
    assert str(caught.value) == ".env: is not UTF-8 text; save it as UTF-8"


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "3600"])
def test_the_billing_pace_must_be_a_sensible_number_of_seconds(value: str) -> None:
    lines = _problems(**SERVABLE, BILLING_CHANNEL_PACE_SECONDS=value)
    assert _named(lines) == ["BILLING_CHANNEL_PACE_SECONDS"]


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("BUSINESS_HOURS", "18:00-09:00"),
        ("BUSINESS_HOURS", "9 to 5"),
        ("BUSINESS_DAYS", "Mon-Funday"),
        ("BUSINESS_TZ", "Europe/Atlantis"),
        ("REMIND_AFTER", "four hours"),
        ("ESCALATE_AFTER", "-1h"),
    ],
)
def test_a_bad_business_time_setting_stops_serve_in_one_line_naming_it(
    variable: str, value: str
) -> None:
    lines = _problems(**SERVABLE, **{variable: value})
    assert _named(lines) == [variable], lines


def test_escalating_before_reminding_is_one_line_naming_escalate_after() -> None:
    lines = _problems(**SERVABLE, REMIND_AFTER="6h", ESCALATE_AFTER="2h")
    assert _named(lines) == ["ESCALATE_AFTER"], lines
    assert "REMIND_AFTER" in lines[0]


def test_the_business_time_defaults_are_the_readmes() -> None:
    rules = load_settings(serving=True, **SERVABLE).reminder_rules()
    assert (rules.remind_after, rules.escalate_after) == (
        dt.timedelta(hours=4),
        dt.timedelta(hours=24),
    )
    assert str(rules.calendar.tz) == "Europe/Paris"


# ----------------------------------------------------------------------------- .env.example


def _assignments(text: str) -> dict[str, str]:
    found = {}
    for line in text.splitlines():
        match = re.fullmatch(r"#?([A-Z_]+)=(.*)", line.strip())
        if match:
            found[match.group(1)] = match.group(2)
    return found


def test_env_example_lists_every_setting() -> None:
    listed = _assignments(ENV_EXAMPLE.read_text(encoding="utf-8"))
    every = {field.alias for field in Settings.model_fields.values()}
    assert set(listed) == every


def test_env_example_copied_as_is_is_refused_naming_each_placeholder(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(ENV_EXAMPLE.read_text(encoding="utf-8"), encoding="utf-8")
    lines = _problems()
    assert _named(lines) == [
        "SLACK_BOT_TOKEN",
        "SLACK_SIGNING_SECRET",
        "BILLING_CHANNEL_ID",
        "BILLING_APPROVER_IDS",
    ]
    assert all(PLACEHOLDER_MESSAGE in line for line in lines)
    # The database commands work with it untouched (DATABASE_URL is commented out).
    assert load_settings(needs=DATABASE_SETTINGS).database_url == "sqlite:///slackbot.db"


def test_env_example_with_every_line_uncommented_is_still_refused_not_crashing(
    tmp_path: Path,
) -> None:
    text = ENV_EXAMPLE.read_text(encoding="utf-8")
    uncommented = re.sub(r"^#([A-Z_]+=)", r"\1", text, flags=re.MULTILINE)
    (tmp_path / ".env").write_text(uncommented, encoding="utf-8")
    lines = _problems()
    placeholders = {v for v, value in _assignments(text).items() if "…" in value}
    assert set(_named(lines)) == placeholders
    with pytest.raises(SettingsError, match=r"^DATABASE_URL: "):
        load_settings(needs=DATABASE_SETTINGS)


# --------------------------------------------------------------------------- what serve says


def test_the_start_line_hides_the_database_password() -> None:
    settings = load_settings(
        serving=True,
        **SERVABLE,
        DATABASE_URL="postgresql://bot:hunter2@db.internal:5432/ledger",
        BILLING_APPROVER_IDS="U0AAA,U0BBB",
        BILLING_APPROVER_GROUP_ID="S0APPROVERS",
    )
    line = start_line(settings, "0.0.0.0", 3000)
    assert "hunter2" not in line and "hunter2" not in shown_database_url(settings.database_url)
    assert "serving over HTTP: Slack requests on http://0.0.0.0:3000/slack/events" in line
    assert "database postgresql+psycopg://bot:***@db.internal:5432/ledger" in line
    assert "billing channel C0BILLING" in line
    assert "2 approver IDs and group S0APPROVERS" in line
    assert "xoxb" not in line and SERVABLE["SLACK_SIGNING_SECRET"] not in line


def test_the_start_line_says_socket_mode() -> None:
    settings = load_settings(
        serving=True,
        SLACK_BOT_TOKEN="xoxb-1",
        SLACK_APP_TOKEN="xapp-1-A1-2-abc",
        BILLING_CHANNEL_ID="C0BILLING",
    )
    line = start_line(settings, "127.0.0.1", 3000)
    assert line.startswith("serving over Socket Mode"), line
    assert "http://127.0.0.1:3000/healthz" in line and "xapp" not in line


# ------------------------------------------------------------ the OAuth mode (issue 12)

OAUTH = {
    "SLACK_CLIENT_ID": "1111111111.2222222222",
    "SLACK_CLIENT_SECRET": "0123456789abcdef0123456789abcdef",
    "TOKEN_ENCRYPTION_KEY": "",  # filled per test: a fresh key
    "BILLING_TEAM_ID": "T0VENDOR",
    "SLACK_SIGNING_SECRET": SERVABLE["SLACK_SIGNING_SECRET"],
    "BILLING_CHANNEL_ID": "C0BILLING",
}


def _oauth(**values: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    return {**OAUTH, "TOKEN_ENCRYPTION_KEY": Fernet.generate_key().decode(), **values}


def test_oauth_settings_serve_without_a_bot_token_and_with_the_manifests_scopes() -> None:
    import yaml

    settings = load_settings(serving=True, **_oauth())
    assert settings.oauth_mode and settings.slack_bot_token is None
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert set(settings.bot_scopes) == set(manifest["oauth_config"]["scopes"]["bot"])


def test_single_token_mode_is_not_oauth() -> None:
    assert not load_settings(serving=True, **SERVABLE).oauth_mode


def test_a_bot_token_beside_oauth_settings_is_one_line_naming_it() -> None:
    lines = _problems(**_oauth(SLACK_BOT_TOKEN=SERVABLE["SLACK_BOT_TOKEN"]))
    assert _named(lines) == ["SLACK_BOT_TOKEN"]
    assert "choose one mode" in lines[0]


def test_half_an_oauth_config_names_each_missing_variable() -> None:
    lines = _problems(
        SLACK_CLIENT_ID=OAUTH["SLACK_CLIENT_ID"],
        SLACK_SIGNING_SECRET=OAUTH["SLACK_SIGNING_SECRET"],
        BILLING_CHANNEL_ID="C0BILLING",
    )
    assert _named(lines) == ["SLACK_CLIENT_SECRET", "TOKEN_ENCRYPTION_KEY", "BILLING_TEAM_ID"]
    assert all("SLACK_CLIENT_ID is set" in line for line in lines)


def test_a_bad_encryption_key_is_one_line_that_does_not_repeat_it() -> None:
    secret = "not-a-fernet-key-but-a-secret-all-the-same"
    lines = _problems(**_oauth(TOKEN_ENCRYPTION_KEY=secret))
    assert _named(lines) == ["TOKEN_ENCRYPTION_KEY"]
    assert "not a Fernet key" in lines[0] and secret not in lines[0]


def test_several_keys_are_accepted_for_rotation_and_a_bad_second_is_named() -> None:
    from cryptography.fernet import Fernet

    new, old = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings = load_settings(serving=True, **_oauth(TOKEN_ENCRYPTION_KEY=f"{new}, {old}"))
    assert settings.token_encryption_key == (new, old)
    lines = _problems(**_oauth(TOKEN_ENCRYPTION_KEY=f"{new},nope"))
    assert lines == [lines[0]] and "key 2 of 2" in lines[0]


def test_a_malformed_billing_team_or_client_id_is_named_alone() -> None:
    lines = _problems(**_oauth(BILLING_TEAM_ID="C0BILLING", SLACK_CLIENT_ID="abc"))
    assert _named(lines) == ["SLACK_CLIENT_ID", "BILLING_TEAM_ID"]
