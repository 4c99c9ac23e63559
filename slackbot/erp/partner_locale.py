"""The partners CSV's optional ``locale`` column: the language a partner's people read.

``partner_id,name[,locale]``. A cell holds a locale as Slack writes it (``fr-FR``; ``fr_FR`` and
``fr`` are read too and stored as Slack writes them), of a language the bot has texts in
(English and each catalog in ``slackbot/i18n/locales``). What an operator gets:

- a file with the column sets each partner's locale; an empty cell clears it (the partner's
  people then read DEFAULT_LOCALE when their Slack locale is not known);
- a file without the column leaves every stored locale as it is (an ERP export that knows
  nothing of languages does not undo them);
- a malformed or unsupported locale refuses its row, in the import's own words, and so the
  whole file changes nothing.

The person's own Slack locale always comes first (:mod:`slackbot.i18n.choice`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from slackbot.settings import check_locale

__all__ = ["LOCALE_COLUMN", "locale_cell", "partner_compared"]

LOCALE_COLUMN = "locale"


class _Problems(Protocol):
    def append(self, problem: str, kind: str | None = None) -> None: ...


def locale_cell(problems: _Problems, value: str) -> str | None:
    """The stored form of a ``locale`` cell: None for an empty one; a problem if unusable."""
    value = value.strip()
    if not value:
        return None
    try:
        return check_locale(value)
    except ValueError as exc:
        problems.append(f"locale {exc}", "locale is not a supported locale")
        return None


def partner_compared(columns: Sequence[str]) -> tuple[str, ...]:
    """What a partners file controls: the name, and the locale only when it has the column."""
    return ("name", LOCALE_COLUMN) if LOCALE_COLUMN in columns else ("name",)
