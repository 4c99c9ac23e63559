"""The bot's settings, read from the environment and a ``.env`` file, named as in the contract."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

_USER_ID = re.compile(r"[UW][A-Z0-9]{2,31}", re.ASCII)
_CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,31}", re.ASCII)
_GROUP_ID = re.compile(r"S[A-Z0-9]{2,31}", re.ASCII)


def normalize_database_url(url: str) -> str:
    """``postgresql://`` means psycopg 3, the driver we ship (SQLAlchemy alone picks psycopg2)."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore", populate_by_name=True)

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
    # Not in the contract's table: operational tuning with safe defaults.
    billing_channel_pace_seconds: float = Field(
        default=1.0, ge=0, alias="BILLING_CHANNEL_PACE_SECONDS"
    )
    # A link to the invoice in the ERP on the billing message, e.g.
    # https://erp.example.com/invoices/{invoice_id}; unset: no link.
    invoice_url_template: str | None = Field(default=None, alias="INVOICE_URL_TEMPLATE")

    @field_validator("invoice_url_template")
    @classmethod
    def _invoice_url_template(cls, value: str | None) -> str | None:
        value = value.strip() if value is not None else None
        if not value:
            return None
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
        if not re.match(r"^(sqlite|postgresql|postgres)(\+\w+)?://", value):
            raise ValueError("must be a sqlite:/// or postgresql:// URL")
        return normalize_database_url(value)

    @field_validator("slack_bot_token")
    @classmethod
    def _bot_token(cls, value: str | None) -> str | None:
        if value is not None and value.strip() and not value.strip().startswith("xoxb-"):
            raise ValueError("must be a bot token starting with xoxb-")
        return value.strip() or None if value is not None else None

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: str | None) -> str | None:
        if value is not None and value.strip() and not value.strip().startswith("xapp-"):
            raise ValueError("must be an app-level token starting with xapp-")
        return value.strip() or None if value is not None else None

    @field_validator("slack_signing_secret", "billing_approver_group_id", "billing_channel_id")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @field_validator("slack_api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        value = value.strip()
        if not re.match(r"^https?://[^/\s]+", value):
            raise ValueError("must be an http(s) URL such as https://slack.com/api/")
        return value if value.endswith("/") else value + "/"

    @field_validator("billing_channel_id")
    @classmethod
    def _channel(cls, value: str | None) -> str | None:
        if value is not None and not _CHANNEL_ID.fullmatch(value):
            raise ValueError("must be a Slack channel ID such as C0123ABCD (not a #name)")
        return value

    @field_validator("billing_approver_group_id")
    @classmethod
    def _group(cls, value: str | None) -> str | None:
        if value is not None and not _GROUP_ID.fullmatch(value):
            raise ValueError("must be a Slack user group ID such as S0123ABCD")
        return value

    @field_validator("billing_approver_ids", mode="before")
    @classmethod
    def _approvers(cls, value: Any) -> tuple[str, ...]:
        if value is None:
            return ()
        items = value.split(",") if isinstance(value, str) else list(value)
        ids = tuple(str(item).strip() for item in items if str(item).strip())
        bad = [item for item in ids if not _USER_ID.fullmatch(item)]
        if bad:
            raise ValueError(f"{', '.join(bad)} is not a Slack user ID such as U0123ABCD")
        return ids


class SettingsError(Exception):
    """A setting is missing or malformed; the message is one line naming the variable."""


def load_settings(**overrides: Any) -> Settings:
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = first.get("loc") or ("?",)
        name = str(loc[0])
        field = Settings.model_fields.get(name)
        variable = field.alias if field is not None and field.alias else name.upper()
        message = str(first.get("msg", "is malformed")).removeprefix("Value error, ")
        raise SettingsError(f"{variable}: {message}") from None


def require_serve_settings(settings: Settings) -> None:
    """What ``serve`` cannot start without, named one variable at a time."""
    if not settings.slack_bot_token:
        raise SettingsError("SLACK_BOT_TOKEN: required to serve (the bot token, xoxb-…)")
    if not settings.billing_channel_id:
        raise SettingsError(
            "BILLING_CHANNEL_ID: required to serve (the channel ID where requests are approved)"
        )
    if not settings.slack_app_token and not settings.slack_signing_secret:
        raise SettingsError(
            "SLACK_SIGNING_SECRET: required to serve over HTTP (from the app's Basic Information)"
        )
