"""What every listener needs: the bot from ``context``, the payload's pieces, refusals as text."""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any, TypeVar, cast

from slack_bolt import BoltContext, Respond
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.webhook import WebhookClient

from slackbot.app import Bot
from slackbot.errors import AlreadyDecided, DomainError, Unavailable
from slackbot.slack.ids import BlockId, is_amount_block
from slackbot.slack.views import already_decided_text, error_message

log = logging.getLogger("handlers")

F = TypeVar("F", bound=Callable[..., None])

# "Nothing was changed" would be a promise we cannot keep: the database may have committed
# just before the connection dropped. Retrying is safe either way (a decided request says who
# decided it; a resubmitted modal finds its own earlier request).
UNAVAILABLE_TEXT = (
    "The payments ledger isn't answering right now, so this may not have gone through."
    " Please try again in a minute; if it did go through, I'll tell you so."
)
UNEXPECTED_TEXT = (
    "Something went wrong on our side and nothing was changed. Please try again;"
    " if it keeps happening, tell the billing team."
)


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


def bot_of(context: BoltContext) -> Bot:
    return cast(Bot, context["bot"])


def refusal_text(error: Exception, *, plain: bool = False) -> str:
    """What a person reads when the ledger says no (or cannot answer).

    ``plain`` for places Slack shows as plain text (a modal's field errors), where a mention
    or date token would show raw.
    """
    if isinstance(error, AlreadyDecided):
        return already_decided_text(error.status, error.decided_by, error.decided_at, plain=plain)
    if isinstance(error, DomainError):
        return error.message
    if isinstance(error, Unavailable):
        return UNAVAILABLE_TEXT
    return UNEXPECTED_TEXT


def user_id_of(body: dict[str, Any]) -> str:
    """The acting user, from a slash command (``user_id``) or an interaction (``user.id``)."""
    user = body.get("user")
    found = user.get("id") if isinstance(user, dict) else body.get("user_id")
    # Slack user ids are short and plain; anything else is nobody (and never reaches SQL).
    if isinstance(found, str) and 0 < len(found) <= 32 and found.isascii() and found.isalnum():
        return found
    return ""


def first_action(body: dict[str, Any]) -> dict[str, Any]:
    actions = body.get("actions")
    if isinstance(actions, list) and actions and isinstance(actions[0], dict):
        return actions[0]
    return {}


def action_value(body: dict[str, Any]) -> str:
    """The value a button carried, or a select's chosen value."""
    action = first_action(body)
    value = action.get("value")
    if isinstance(value, str):
        return value
    selected = action.get("selected_option")
    if isinstance(selected, dict) and isinstance(selected.get("value"), str):
        return str(selected["value"])
    return ""


def allocation_id_from(text: str) -> int | None:
    """A button value or metadata that should name an allocation; None for anything else."""
    text = text.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 10:
        return None
    number = int(text)
    return number if 0 < number <= 2**31 - 1 else None


def form_values(view: dict[str, Any]) -> dict[str, str]:
    """``view.state.values`` flattened to {block_id: value} (Dispatch's modal_submit_middleware)."""
    values: dict[str, str] = {}
    state = view.get("state") if isinstance(view, dict) else None
    blocks = state.get("values") if isinstance(state, dict) else None
    if not isinstance(blocks, dict):
        return values
    for block_id, inputs in blocks.items():
        if not isinstance(inputs, dict):
            continue
        for element in inputs.values():
            if not isinstance(element, dict):
                continue
            value: Any = element.get("value")
            selected = element.get("selected_option")
            if isinstance(selected, dict):
                value = selected.get("value")
            if isinstance(value, str):
                values[str(block_id)] = value
    return values


def amount_entry(view: dict[str, Any]) -> tuple[str, str]:
    """The modal's amount input as ``(block_id, typed text)``, whichever version it is.

    The first render names the block ``amount`` (the contract); a redraw after a new payment or
    invoice names it ``amount:PAY:INV`` so Slack shows the new suggestion. The block the view
    itself holds is the one errors must be keyed by.
    """
    form = form_values(view)
    blocks = view.get("blocks") if isinstance(view, dict) else None
    shown = [
        str(block["block_id"])
        for block in (blocks if isinstance(blocks, list) else [])
        if isinstance(block, dict)
        and isinstance(block.get("block_id"), str)
        and is_amount_block(block["block_id"])
    ]
    typed = sorted(block_id for block_id in form if is_amount_block(block_id))
    for block_id in [*shown, BlockId.AMOUNT, *typed]:
        if block_id in form:
            return (shown[0] if shown else block_id), form[block_id]
    return (shown[0] if shown else BlockId.AMOUNT), ""


def is_ephemeral_click(body: dict[str, Any]) -> bool:
    container = body.get("container")
    return isinstance(container, dict) and container.get("is_ephemeral") is True


def guarded(listener: F) -> F:
    """Last line of defence: a listener that fails unexpectedly still answers the person.

    Domain refusals are handled inside each listener; this catches what was not foreseen, logs
    it with the traceback for the operator, and shows the person a plain sentence instead.
    """

    @functools.wraps(listener)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        ack = kwargs.get("ack")
        try:
            listener(*args, **kwargs)
        except Exception as exc:
            log.exception("listener %s failed", listener.__name__)
            if ack is not None and not getattr(ack, "response", None):
                try:
                    ack()
                except Exception:
                    log.debug("ack after failure did not go through", exc_info=True)
            respond = kwargs.get("respond")
            if respond is not None:
                try:
                    reply_privately(respond, error_message(refusal_text(exc)))
                except Exception:
                    log.debug("could not tell the person about the failure", exc_info=True)

    return cast(F, wrapper)
