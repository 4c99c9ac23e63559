"""Values a refusal writes the way its reader's locale does: amounts and moments.

They live here, not in ``slackbot.errors``, because they format through ``slackbot.money`` and
``slackbot.i18n.numbers``, which import the errors; a refusal shows any value that has a
``shown_in(locale)`` method.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from slackbot.i18n.numbers import format_datetime, format_money, language_of
from slackbot.money import format_amount


@dataclass(frozen=True)
class Money:
    """An amount in a refusal, in minor units: ``1,250.00 USD``, in French ``1 250,00 $US``."""

    minor: int
    currency: str

    def shown_in(self, locale: str | None) -> str:
        if not locale or language_of(locale) == "en":
            return format_amount(self.minor, self.currency)
        return format_money(self.minor, self.currency, locale)

    def __str__(self) -> str:
        return self.shown_in(None)


@dataclass(frozen=True)
class Moment:
    """A moment in a refusal, in UTC (``2026-11-24 15:05 UTC`` / ``24 nov. 2026, 15:05 UTC``)."""

    at: dt.datetime

    def shown_in(self, locale: str | None) -> str:
        utc = (self.at if self.at.tzinfo else self.at.replace(tzinfo=dt.UTC)).astimezone(dt.UTC)
        if not locale or language_of(locale) == "en":
            return utc.strftime("%Y-%m-%d %H:%M UTC")
        return f"{format_datetime(utc, locale, 'UTC')} UTC"

    def __str__(self) -> str:
        return self.shown_in(None)
