"""Slack's answers to the outbox's calls, classified for the queue (:mod:`slackbot.slack.sender`).

Configuration errors (the bot is not in the channel, a revoked token) are retried slowly;
``429`` waits out ``Retry-After``; anything else is retried with backoff.
"""

from __future__ import annotations

from slack_sdk.errors import SlackApiError

from slackbot.outbox.queue import Failure
from slackbot.slack.notices import Unreachable, slack_error
from slackbot.slack.post_once import LookupFailed

__all__ = ["CONFIGURATION_ERRORS", "MESSAGE_NOT_FOUND", "classify", "retry_after"]

# Slack errors that no retry soon will fix: someone must change the app's setup.
CONFIGURATION_ERRORS = frozenset(
    {
        "channel_not_found",
        "not_in_channel",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "token_expired",
        "missing_scope",
        "no_permission",
        "restricted_action",
    }
)
MESSAGE_NOT_FOUND = "message_not_found"


def classify(exc: Exception) -> Failure:
    """A failed send as the queue records it: the error code and what it asks of us."""
    if isinstance(exc, Unreachable):
        return Failure(error="no_notice_route", message=str(exc), configuration=True)
    if isinstance(exc, LookupFailed):
        # Not posted: an earlier post may have landed and the look for it failed (a missing
        # history scope is the operator's to fix).
        cause = classify(exc.cause) if exc.cause is not None else None
        return Failure(
            error=f"history_lookup_failed: {cause.error}" if cause else "history_lookup_failed",
            message=str(exc),
            retry_after=cause.retry_after if cause else None,
            configuration=bool(cause and cause.configuration),
        )
    if isinstance(exc, SlackApiError):
        error = slack_error(exc)
        return Failure(
            error=error,
            message=str(exc),
            retry_after=retry_after(exc),
            configuration=error in CONFIGURATION_ERRORS,
        )
    return Failure(error=type(exc).__name__, message=str(exc))


def retry_after(exc: SlackApiError) -> float | None:
    """Seconds Slack asked us to wait (a ``429``'s ``Retry-After``); None for any other answer."""
    response = getattr(exc, "response", None)
    if response is None or getattr(response, "status_code", None) != 429:
        return None
    headers = getattr(response, "headers", {}) or {}
    value = None
    for key, header in headers.items():
        if str(key).lower() == "retry-after":
            value = header[0] if isinstance(header, list) else header
    try:
        return max(0.0, float(value)) if value is not None else 1.0
    except (TypeError, ValueError):
        return 1.0
