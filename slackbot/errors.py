"""Typed domain errors: each names the field at fault and says what to do."""

from __future__ import annotations

import datetime as dt


class DomainError(Exception):
    """A refusal a person can act on. ``field`` is what is at fault (``payment``, ``amount``…)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message

    def __str__(self) -> str:
        return self.message

    def text_in(self, locale: str) -> str:
        """The refusal as a reader of ``locale`` reads it (English for now: ``message``)."""
        return self.message


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
    ) -> None:
        super().__init__("allocation", message)
        self.allocation_id = allocation_id
        self.status = status
        self.decided_by = decided_by
        self.decided_at = decided_at


class Unavailable(Exception):
    """The database did not answer; the person should try again shortly. Nothing was changed."""
