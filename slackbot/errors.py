"""Typed domain errors: each names the field at fault and says what to do.

A refusal is an English template with named placeholders (marked with ``N_`` where it is
raised, so Babel extracts it) and its values. ``message`` is the English text, exactly as the
ledger always wrote it; :meth:`DomainError.text_in` is the same refusal in a reader's language,
its template translated and its values written the way that locale writes them: amounts are
:class:`~slackbot.ledger.shown.Money`, moments :class:`~slackbot.ledger.shown.Moment` (any
value with ``shown_in(locale)``), everything else is shown as is.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Protocol, runtime_checkable

from slackbot.i18n.catalog import LOCALES_DIR, catalog_language, texts


@runtime_checkable
class Shown(Protocol):
    """A value a refusal writes per locale (``slackbot.ledger.shown``: Money, Moment)."""

    def shown_in(self, locale: str | None) -> str: ...


def _shown_all(values: dict[str, object], locale: str | None) -> dict[str, object]:
    return {
        name: value.shown_in(locale) if isinstance(value, Shown) else value
        for name, value in values.items()
    }


class DomainError(Exception):
    """A refusal a person can act on. ``field`` is what is at fault (``payment``, ``amount``…).

    ``message`` is an English template whose ``{name}`` placeholders ``params`` fill; without
    params it is the text itself (braces and all), so an operator's message built from input
    is never formatted.
    """

    def __init__(self, field: str, message: str, **params: object) -> None:
        text = message.format(**_shown_all(params, None)) if params else message
        super().__init__(text)
        self.field = field
        self.message = text
        # The English template and its values, for text_in (not "params": subclasses use it).
        self.template = message
        self.values = params

    def __str__(self) -> str:
        return self.message

    def text_in(self, locale: str) -> str:
        """The refusal as a reader of ``locale`` reads it: English readers get ``message``."""
        return text_in(self, locale)


def text_in(error: DomainError, locale: str, *, locales_dir: Path = LOCALES_DIR) -> str:
    """``error`` in ``locale``'s language, read from the catalogs in ``locales_dir``.

    A locale with no catalog reads ``message`` exactly; otherwise the template is translated
    (a template with no translation yet stays English) and its values written as the locale
    writes them.
    """
    if catalog_language(locale, locales_dir=locales_dir) is None:
        return error.message
    translated = texts(locale, locales_dir=locales_dir).gettext(error.template)
    if not error.values:
        return translated
    return translated.format(**_shown_all(error.values, locale))


class InvalidInput(DomainError):
    """The value is malformed or out of range."""


class NotFound(DomainError):
    """No such record, or none the person may see (the two are told apart only to operators)."""


class NotAllowed(DomainError):
    """The person is not allowed to do this."""


class InsufficientFunds(DomainError):
    """The amount is more than the payment has unreserved or the invoice has left to pay."""


class ApproverCheckFailed(DomainError):
    """Whether the person may approve could not be found out just now; nothing changed."""


class AlreadyDecided(DomainError):
    """The allocation was decided before; nothing changed. Says who decided and when."""

    def __init__(
        self,
        message: str,
        *,
        allocation_id: int,
        status: str,
        decided_by: str | None,
        decided_at: dt.datetime | None,
        **params: object,
    ) -> None:
        super().__init__("allocation", message, **params)
        self.allocation_id = allocation_id
        self.status = status
        self.decided_by = decided_by
        self.decided_at = decided_at


class Unavailable(Exception):
    """The database did not answer; the person should try again shortly. Nothing was changed."""
