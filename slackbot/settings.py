"""The bot's settings, read from the environment and a ``.env`` file, named as in the contract."""

from __future__ import annotations

import re
from collections.abc import Collection, Iterable
from typing import Annotated, Any

from cryptography.fernet import Fernet
from pydantic import Field, ValidationError, ValidationInfo, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from models.limits import SLACK_CHANNEL_ID, SLACK_GROUP_ID, SLACK_USER_ID
from slackbot import business_time
from slackbot.i18n.catalog import PSEUDO_LOCALE, available_languages

# What a token, secret or id may hold: printable ASCII without spaces. Slack's are all of that
# kind, and anything else would fail later, deep in an HTTP header (UnicodeEncodeError).
_PRINTABLE_ASCII = re.compile(r"[!-~]+", re.ASCII)
# The README and .env.example write a value to fill in as "xoxb-…" (or "..."): copied as is, it
# must be refused by name, not sent to Slack.
_PLACEHOLDER = re.compile(r"…|\.\.\.")
# Ids the README, .env.example and our own messages show as examples: valid in form, never real.
EXAMPLE_IDS = frozenset(
    {"C0123ABCD", "U0123ABCD", "S0123ABCD", "U0123AAAA", "U0456BBBB", "S0789CCCC"}
)
PLACEHOLDER_MESSAGE = "looks like the placeholder from the README"
# What the commands other than serve read: they must keep working whatever the Slack settings say.
DATABASE_SETTINGS = ("database_url",)
# What the installations CLI reads (re-encrypting stored tokens under a new key).
INSTALLATION_SETTINGS = ("database_url", "slack_client_id", "token_encryption_key")
# A workspace (T…) or an Enterprise Grid org (E…).
SLACK_TEAM_ID = re.compile(r"[TE][A-Z0-9]{2,31}", re.ASCII)
_CLIENT_ID = re.compile(r"[0-9]{2,20}\.[0-9]{2,20}", re.ASCII)
# The bot scopes manifest.yml asks for: what an installation through /slack/install grants.
DEFAULT_SCOPES = (
    "commands",
    "chat:write",
    "pins:write",
    "usergroups:read",
    # Exactly-once posting reads back the bot's own post after a lost answer (manifest.yml).
    "channels:history",
    "groups:history",
    "im:history",
    "im:write",
    # users.info with include_locale: the language each person reads (slackbot.slack.locales).
    "users:read",
)
_SCOPE = re.compile(r"[a-z][a-z0-9_.:-]{1,63}", re.ASCII)
# The settings that turn on installation in many workspaces (OAuth); SLACK_SCOPES and
# SLACK_REDIRECT_URI are optional refinements of it.
OAUTH_REQUIRED = (
    "SLACK_CLIENT_ID",
    "SLACK_CLIENT_SECRET",
    "TOKEN_ENCRYPTION_KEY",
    "BILLING_TEAM_ID",
)
OAUTH_OPTIONAL = ("SLACK_SCOPES", "SLACK_REDIRECT_URI")
NEW_KEY_HINT = (
    "make one with: python -c 'from cryptography.fernet import Fernet;"
    " print(Fernet.generate_key().decode())'"
)


def normalize_database_url(url: str) -> str:
    """``postgresql://`` means psycopg 3, the driver we ship (SQLAlchemy alone picks psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _blank_is_none(value: str | None) -> str | None:
    return value.strip() or None if value is not None else None


def _check_secret(value: str, what: str, where: str) -> None:
    """Refuse a placeholder or a character no Slack credential has, without echoing the value."""
    if _PLACEHOLDER.search(value):
        raise ValueError(f"{PLACEHOLDER_MESSAGE}; paste the real {what} from {where}")
    if not _PRINTABLE_ASCII.fullmatch(value):
        position, char = next(
            (n, c) for n, c in enumerate(value, 1) if not _PRINTABLE_ASCII.fullmatch(c)
        )
        raise ValueError(
            f"character {position} is U+{ord(char):04X}, which no {what} contains"
            f" (printable ASCII only); paste it again from {where}"
        )


def check_locale(value: str) -> str:
    """A locale the bot can write in, as Slack writes it (``fr-FR``); ValueError says why not.

    Supported: English and every language with a catalog in ``slackbot/i18n/locales``. Used by
    the settings and the partners CSV's ``locale`` column alike.
    """
    from babel import Locale, UnknownLocaleError

    tag = value.strip().replace("_", "-")
    shown = repr(value) if len(value) <= 40 else repr(value[:40]) + "…"
    if _PLACEHOLDER.search(tag) or not re.fullmatch(r"[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}", tag):
        raise ValueError(f"{shown} is not a locale; write it as Slack does, such as en-US or fr-FR")
    try:
        parsed = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError):
        raise ValueError(
            f"{shown} is not a locale Babel knows; use one such as en-US or fr-FR"
        ) from None
    supported = [lang for lang in available_languages() if lang != PSEUDO_LOCALE]
    if parsed.language not in {lang.split("_")[0] for lang in supported}:
        raise ValueError(
            f"{shown}: the bot has no {Locale(parsed.language).english_name} texts;"
            f" supported languages: {', '.join(supported)}"
        )
    return "-".join(p for p in (parsed.language, parsed.script, parsed.territory) if p)


def _id_problem(value: str, pattern: re.Pattern[str], example: str) -> str | None:
    # repr: a control character in the value must not break the one-line message.
    shown = repr(value) if len(value) <= 40 else repr(value[:40]) + "…"
    if _PLACEHOLDER.search(value) or value in EXAMPLE_IDS:
        return f"{shown} {PLACEHOLDER_MESSAGE}; use the real ID"
    if not pattern.fullmatch(value):
        return f"{shown} is not a {example}"
    return None


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", populate_by_name=True
    )

    database_url: str = Field(default="sqlite:///slackbot.db", alias="DATABASE_URL")
    slack_bot_token: str | None = Field(default=None, alias="SLACK_BOT_TOKEN")
    slack_signing_secret: str | None = Field(default=None, alias="SLACK_SIGNING_SECRET")
    slack_app_token: str | None = Field(default=None, alias="SLACK_APP_TOKEN")
    slack_api_url: str = Field(default="https://slack.com/api/", alias="SLACK_API_URL")
    billing_channel_id: str | None = Field(default=None, alias="BILLING_CHANNEL_ID")
    billing_approver_ids: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="BILLING_APPROVER_IDS"
    )
    billing_approver_group_id: str | None = Field(default=None, alias="BILLING_APPROVER_GROUP_ID")
    # Not in the contract's table: operational tuning with safe defaults. Slack allows about one
    # message a second per channel; a pace of minutes would only hide requests from approvers.
    billing_channel_pace_seconds: float = Field(
        default=1.0, ge=0, le=60, allow_inf_nan=False, alias="BILLING_CHANNEL_PACE_SECONDS"
    )
    # A link to the invoice in the ERP on the billing message, e.g.
    # https://erp.example.com/invoices/{invoice_id}; unset: no link.
    invoice_url_template: str | None = Field(default=None, alias="INVOICE_URL_TEMPLATE")
    # Installation in many workspaces (OAuth; slackbot.slack.installations). Unset: the single
    # SLACK_BOT_TOKEN mode. Bolt's own names for the first four.
    slack_client_id: str | None = Field(default=None, alias="SLACK_CLIENT_ID")
    slack_client_secret: str | None = Field(default=None, alias="SLACK_CLIENT_SECRET")
    slack_scopes: Annotated[tuple[str, ...], NoDecode] = Field(default=(), alias="SLACK_SCOPES")
    slack_redirect_uri: str | None = Field(default=None, alias="SLACK_REDIRECT_URI")
    # Fernet keys, comma-separated: the first encrypts, every one decrypts (key rotation).
    token_encryption_key: Annotated[tuple[str, ...], NoDecode] = Field(
        default=(), alias="TOKEN_ENCRYPTION_KEY", repr=False
    )
    # The vendor's own workspace (T…) or org (E…): its installation posts to the billing channel.
    billing_team_id: str | None = Field(default=None, alias="BILLING_TEAM_ID")
    # Reminders and escalation of requests nobody decides (business time; README).
    business_hours: str = Field(default="09:00-18:00", alias="BUSINESS_HOURS")
    business_days: str = Field(default="Mon-Fri", alias="BUSINESS_DAYS")
    business_tz: str = Field(default="Europe/Paris", alias="BUSINESS_TZ")
    remind_after: str = Field(default="4h", alias="REMIND_AFTER")
    escalate_after: str = Field(default="24h", alias="ESCALATE_AFTER")
    # The language a person reads when neither their Slack locale nor their partner's is known,
    # and the billing channel's (BILLING_LOCALE, unset: DEFAULT_LOCALE). README: Languages.
    default_locale: str = Field(default="en-US", alias="DEFAULT_LOCALE")
    billing_locale_setting: str | None = Field(default=None, alias="BILLING_LOCALE")

    @property
    def billing_locale(self) -> str:
        """The billing channel's language: BILLING_LOCALE, else DEFAULT_LOCALE."""
        return self.billing_locale_setting or self.default_locale

    @field_validator("default_locale")
    @classmethod
    def _default_locale(cls, value: str) -> str:
        value = value.strip()
        return check_locale(value) if value else "en-US"

    @field_validator("billing_locale_setting")
    @classmethod
    def _billing_locale(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        return check_locale(value) if value is not None else None

    @property
    def oauth_mode(self) -> bool:
        """Installations in many workspaces: an OAuth setting is set (``serve`` checks all)."""
        return any(
            (
                self.slack_client_id,
                self.slack_client_secret,
                self.token_encryption_key,
                self.billing_team_id,
                self.slack_scopes,
                self.slack_redirect_uri,
            )
        )

    @property
    def bot_scopes(self) -> tuple[str, ...]:
        """The bot scopes an installation asks for: SLACK_SCOPES, else the manifest's."""
        return self.slack_scopes or DEFAULT_SCOPES

    @field_validator("slack_client_id")
    @classmethod
    def _client_id(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        if value is None:
            return None
        _check_secret(value, "client ID", "the app's Basic Information page")
        if not _CLIENT_ID.fullmatch(value):
            raise ValueError(
                "must be the app's client ID, digits.digits (Basic Information → App Credentials)"
            )
        return value

    @field_validator("slack_client_secret")
    @classmethod
    def _client_secret(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        if value is not None:
            _check_secret(value, "client secret", "the app's Basic Information page")
        return value

    @field_validator("slack_scopes", mode="before")
    @classmethod
    def _scopes(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        items = value.split(",") if isinstance(value, str) else list(value)
        scopes = tuple(str(item).strip() for item in items if str(item).strip())
        bad = [scope for scope in scopes if not _SCOPE.fullmatch(scope)]
        if bad:
            shown = ", ".join(repr(scope[:40]) for scope in bad)
            raise ValueError(
                f"{shown} is not a Slack scope; list them comma-separated, such as"
                " commands,chat:write,usergroups:read"
            )
        return scopes

    @field_validator("slack_redirect_uri")
    @classmethod
    def _redirect_uri(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        if value is None:
            return None
        if _PLACEHOLDER.search(value) or "YOUR-HOST" in value:
            raise ValueError(f"{PLACEHOLDER_MESSAGE}; use your bot's public URL")
        if not re.fullmatch(r"https?://[!-~]+/slack/oauth_redirect", value, re.ASCII):
            raise ValueError(
                "must be your bot's public URL ending in /slack/oauth_redirect, such as"
                " https://payments.example.com/slack/oauth_redirect"
            )
        return value

    @field_validator("token_encryption_key", mode="before")
    @classmethod
    def _encryption_keys(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        items = value.split(",") if isinstance(value, str) else list(value)
        keys = tuple(str(item).strip() for item in items if str(item).strip())
        for number, key in enumerate(keys, 1):
            which = f"key {number} of {len(keys)}" if len(keys) > 1 else "the key"
            if _PLACEHOLDER.search(key):
                raise ValueError(f"{which} {PLACEHOLDER_MESSAGE}; {NEW_KEY_HINT}")
            try:
                Fernet(key.encode("ascii"))
            except (ValueError, UnicodeEncodeError):
                # The key itself is never repeated: it is a secret.
                raise ValueError(
                    f"{which} is not a Fernet key (44 characters of URL-safe base64); "
                    + NEW_KEY_HINT
                ) from None
        return keys

    @field_validator("billing_team_id")
    @classmethod
    def _billing_team(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        problem = value and _id_problem(
            value, SLACK_TEAM_ID, "Slack workspace ID (T…) or Enterprise Grid org ID (E…)"
        )
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("business_hours", "business_days", "business_tz", "remind_after")
    @classmethod
    def _business_time(cls, value: str, info: ValidationInfo) -> str:
        """Each alone (the loader names the variable); ESCALATE_AFTER's check needs the rest."""
        value = value.strip() or str(cls.model_fields[info.field_name or ""].default)
        parse = {
            "business_hours": business_time.parse_hours,
            "business_days": business_time.parse_days,
            "business_tz": business_time.parse_time_zone,
            "remind_after": business_time.parse_duration,
        }[info.field_name or ""]
        parse(value)
        return value

    @field_validator("escalate_after")
    @classmethod
    def _escalate_after(cls, value: str) -> str:
        value = value.strip() or "24h"
        business_time.parse_duration(value)
        return value

    def reminder_rules(self) -> business_time.ReminderRules:
        """When requests are reminded and escalated; BadSetting names what does not fit."""
        return business_time.reminder_rules(
            business_hours=self.business_hours,
            business_days=self.business_days,
            business_tz=self.business_tz,
            remind_after=self.remind_after,
            escalate_after=self.escalate_after,
        )

    @field_validator("invoice_url_template")
    @classmethod
    def _invoice_url_template(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        if value is None:
            return None
        if _PLACEHOLDER.search(value):
            raise ValueError(f"{PLACEHOLDER_MESSAGE}; use your ERP's URL or leave it unset")
        if not re.match(r"^https?://[^/\s]+", value) or "{invoice_id}" not in value:
            raise ValueError(
                "must be an http(s) URL containing {invoice_id},"
                " such as https://erp.example.com/invoices/{invoice_id}"
            )
        return value

    @field_validator("database_url")
    @classmethod
    def _database_url(cls, value: str) -> str:
        value = value.strip()
        if _PLACEHOLDER.search(value):
            raise ValueError(f"{PLACEHOLDER_MESSAGE}; use a real sqlite:/// or postgresql:// URL")
        if not re.match(r"^(sqlite|postgresql|postgres)(\+\w+)?://", value):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return normalize_database_url(value)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        if value is None:
            return None
        _check_secret(value, "bot token", "the app's OAuth & Permissions page (xoxb-…)")
        if not value.startswith("xoxb-") or value == "xoxb-":
            raise ValueError("must be a bot token starting with xoxb-")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        if value is None:
            return None
        _check_secret(value, "app-level token", "the app's Basic Information page (xapp-…)")
        if not value.startswith("xapp-") or value == "xapp-":
            raise ValueError("must be an app-level token starting with xapp-")
        return value

    @field_validator("slack_signing_secret")
    @classmethod
    def _signing_secret(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        if value is not None:
            _check_secret(value, "signing secret", "the app's Basic Information page")
        return value

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        value = value.strip()
        if _PLACEHOLDER.search(value) or not re.match(r"^https?://[!-~]+$", value, re.ASCII):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("billing_channel_id")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        problem = value and _id_problem(
            value, SLACK_CHANNEL_ID, "Slack channel ID (C…, not a #name)"
        )
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("billing_approver_group_id")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        value = _blank_is_none(value)
        problem = value and _id_problem(value, SLACK_GROUP_ID, "Slack user group ID (S…)")
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("billing_approver_ids", mode="before")
    @classmethod
    def _approvers(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        items = value.split(",") if isinstance(value, str) else list(value)
        ids = tuple(str(item).strip() for item in items if str(item).strip())
        problems = [_id_problem(item, SLACK_USER_ID, "Slack user ID (U… or W…)") for item in ids]
        if any(problems):
            raise ValueError("; ".join(problem for problem in problems if problem))
        return ids


class SettingsError(Exception):
    """Settings are missing or malformed: one line per variable, naming it and what is wrong."""

    def __init__(self, problems: str | Iterable[str]) -> None:
        self.problems = (problems,) if isinstance(problems, str) else tuple(problems)
        super().__init__("\n".join(self.problems))


def _variable(location: Any) -> str:
    name = str(location)
    field = Settings.model_fields.get(name)
    return field.alias if field is not None and field.alias else name.upper()


def _field_name(variable: str) -> str:
    for name, field in Settings.model_fields.items():
        if variable in (name, field.alias):
            return name
    return variable


def _malformed(exc: ValidationError) -> dict[str, str]:
    """Each malformed variable, in the order the settings are declared, with what is wrong."""
    found: dict[str, list[str]] = {}
    for error in exc.errors():
        loc = error.get("loc") or ("?",)
        message = str(error.get("msg", "is malformed")).removeprefix("Value error, ")
        found.setdefault(_variable(loc[0]), []).append(message)
    order = [field.alias or name.upper() for name, field in Settings.model_fields.items()]
    ranked = sorted(found, key=lambda v: order.index(v) if v in order else len(order))
    return {variable: "; ".join(found[variable]) for variable in ranked}


def _read(overrides: dict[str, Any]) -> tuple[Settings, dict[str, str]]:
    """The settings with every malformed one set back to its default, and what was malformed."""
    try:
        return Settings(**overrides), {}
    except ValidationError as exc:
        malformed = _malformed(exc)
    except UnicodeDecodeError:
        raise SettingsError(".env: is not UTF-8 text; save it as UTF-8") from None
    except OSError as exc:
        raise SettingsError(f".env: cannot read it ({exc.strerror or exc})") from None
    defaults = {}
    for variable in malformed:
        field = Settings.model_fields.get(_field_name(variable))
        if field is not None:
            defaults[field.alias or variable] = field.get_default(call_default_factory=True)
    return Settings(**{**overrides, **defaults}), malformed


def load_settings(
    *, needs: Collection[str] | None = None, serving: bool = False, **overrides: Any
) -> Settings:
    """The settings; :class:`SettingsError` names every problem at once, one line per variable.

    ``needs`` names the fields the caller uses (default: all). A malformed setting outside them
    is set back to its default instead of refused: ``slackbot import`` must not fail because of a
    Slack token it never reads; ``serve`` names that token when it starts. ``serving`` adds what
    ``serve`` requires and does not have (a malformed variable is not named again as missing).
    """
    settings, malformed = _read(overrides)
    if needs is not None:
        malformed = {v: m for v, m in malformed.items() if _field_name(v) in needs}
    problems = [f"{variable}: {message}" for variable, message in malformed.items()]
    if serving:
        reported = set(malformed)
        if "SLACK_APP_TOKEN" in reported:
            # Meant for Socket Mode: asking for a signing secret as well would mislead.
            reported.add("SLACK_SIGNING_SECRET")
        # A malformed OAuth setting (reset to its default above) still says which mode is meant.
        meant = [v for v in malformed if v in OAUTH_REQUIRED + OAUTH_OPTIONAL]
        problems += [
            p
            for p in serve_problems(settings, oauth_named=meant)
            if p.split(":", 1)[0] not in reported
        ]
    if problems:
        raise SettingsError(problems)
    return settings


def mode_problems(settings: Settings, *, oauth_named: Collection[str] = ()) -> list[str]:
    """The OAuth mode's settings: all four or none, and never beside ``SLACK_BOT_TOKEN``.

    ``oauth_named``: OAuth variables that were set but malformed (and so read as unset).
    """
    if not settings.oauth_mode and not oauth_named:
        return []
    given = {
        "SLACK_CLIENT_ID": settings.slack_client_id,
        "SLACK_CLIENT_SECRET": settings.slack_client_secret,
        "TOKEN_ENCRYPTION_KEY": settings.token_encryption_key,
        "BILLING_TEAM_ID": settings.billing_team_id,
        "SLACK_SCOPES": settings.slack_scopes,
        "SLACK_REDIRECT_URI": settings.slack_redirect_uri,
    }
    which = next((name for name, value in given.items() if value), None) or next(iter(oauth_named))
    problems = []
    if settings.slack_bot_token:
        problems.append(
            f"SLACK_BOT_TOKEN: set together with {which}: choose one mode, the single workspace"
            f" (SLACK_BOT_TOKEN; unset {which}) or installations in many workspaces (OAuth;"
            " unset SLACK_BOT_TOKEN)"
        )
    hints = {
        "SLACK_CLIENT_ID": "the app's Basic Information page → App Credentials",
        "SLACK_CLIENT_SECRET": "the app's Basic Information page → App Credentials",
        "TOKEN_ENCRYPTION_KEY": "encrypts the stored bot tokens; " + NEW_KEY_HINT,
        "BILLING_TEAM_ID": "the vendor's own workspace (T…) or org (E…), where the billing"
        " channel is",
    }
    for name in OAUTH_REQUIRED:
        if not given[name]:
            problems.append(
                f"{name}: required for installations in many workspaces ({which} is set):"
                f" {hints[name]}"
            )
    return problems


def serve_problems(settings: Settings, *, oauth_named: Collection[str] = ()) -> list[str]:
    """What ``serve`` cannot start without, one line per missing or conflicting variable."""
    if settings.oauth_mode or oauth_named:
        problems = mode_problems(settings, oauth_named=oauth_named)
    elif not settings.slack_bot_token:
        problems = [
            "SLACK_BOT_TOKEN: required to serve (the bot token, xoxb-…,"
            " from the app's OAuth & Permissions page)"
        ]
    else:
        problems = []
    if not settings.billing_channel_id:
        problems.append(
            "BILLING_CHANNEL_ID: required to serve (the ID of the channel where requests are"
            " approved: channel name → About → at the bottom, C…)"
        )
    try:
        settings.reminder_rules()
    except business_time.BadSetting as exc:
        problems.append(str(exc))
    if not settings.slack_app_token and not settings.slack_signing_secret:
        problems.append(
            "SLACK_SIGNING_SECRET: required to serve over HTTP (from the app's Basic Information"
            " page; or set SLACK_APP_TOKEN for Socket Mode)"
        )
    return problems


def require_serve_settings(settings: Settings) -> None:
    """Raise :class:`SettingsError` naming every variable ``serve`` needs and does not have."""
    problems = serve_problems(settings)
    if problems:
        raise SettingsError(problems)
