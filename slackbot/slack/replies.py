"""Answering a person privately through the request's ``response_url``, with one safe retry."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Respond
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

log = logging.getLogger("handlers")


def reply_privately(respond: Respond, message: dict[str, Any], *, replace: bool = False) -> None:
    """An ephemeral reply through the request's response_url, leaving the original as it is.

    ``replace=True`` puts ``message`` in place of the ephemeral message that was clicked (a
    list's next page, a history after a cancel) instead of adding one below it.

    Bolt's own ``respond()`` gives up on a 5xx or a 429; Slack did not take the reply then, so
    one retry (after ``Retry-After``) is safe and the person still reads why nothing happened.
    A timeout is not retried: Slack may have shown the reply already.
    """
    url = getattr(respond, "response_url", None)
    if not url:
        log.info("no response_url to reply on; the reply is dropped")
        return
    client = WebhookClient(
        url,
        timeout=3,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=1),
            ServerErrorRetryHandler(max_retry_count=1),
            RateLimitErrorRetryHandler(max_retry_count=1),
        ],
    )
    response = client.send_dict({**message, "replace_original": replace})
    if response.status_code != 200:
        log.warning("response_url answered %s; the reply was not shown", response.status_code)
