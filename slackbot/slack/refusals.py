"""One mapping from a refusal to each Slack surface: an ephemeral answer, an ack, modal errors.

A listener calls the ledger and lets its refusal (:class:`~slackbot.errors.DomainError`, which
names the field at fault, or :class:`~slackbot.errors.Unavailable`) propagate; the decorator the
listener is registered with says where the person reads it:

- :func:`answer_privately`: in the ack while the request is not acknowledged yet (a slash
  command's answer), else as an ephemeral reply through ``response_url`` (after a click);
- :func:`answer_in_modal`: ``response_action: errors`` keyed by the block at fault (the contract);
- :func:`answer_with_no_options`: an empty options list (a type-ahead shows "no results");
- :func:`leave_as_is`: nothing (a redraw that cannot happen leaves the modal as it was).

And what a person acting for no partner reads (:func:`not_linked_message`), in their terms: the
workspace they came from, and the ids the vendor's billing team needs to link them.

Each also wraps the listener in :func:`guarded`, the last line of defence for what nobody foresaw.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Collection
from typing import Any, TypeVar, cast

from slack_bolt import Ack, Respond

from slackbot.errors import AlreadyDecided, DomainError, Unavailable
from slackbot.i18n import DEFAULT_LOCALE, catalog
from slackbot.i18n.catalog import texts
from slackbot.ledger.membership import Person
from slackbot.slack import views
from slackbot.slack.ids import BlockId
from slackbot.slack.payload import amount_entry, form_values
from slackbot.slack.replies import reply_privately
from slackbot.slack.views.blocks import ephemeral, section

# Listener failures are logged under "handlers", where operators (and the tests) watch for them.
log = logging.getLogger("handlers")

F = TypeVar("F", bound=Callable[..., None])

# What the ledger answers instead of a result: a person can act on these.
REFUSALS: tuple[type[Exception], ...] = (DomainError, Unavailable)

# "Nothing was changed" would be a promise we cannot keep: the database may have committed
# just before the connection dropped. Retrying is safe either way (a decided request says who
# decided it; a resubmitted modal finds its own earlier request). The texts live in the catalog.
UNAVAILABLE_TEXT = catalog.UNAVAILABLE_TEXT
UNEXPECTED_TEXT = catalog.UNEXPECTED_TEXT


def error_text(error: DomainError, locale: str) -> str:
    """A refusal's words in the reader's language, where the error can say them (``text_in``)."""
    text_in = getattr(error, "text_in", None)
    if callable(text_in):
        try:
            translated = text_in(locale)
        except Exception:  # a translation must never hide the refusal itself
            log.debug("text_in(%s) failed for %r", locale, error, exc_info=True)
        else:
            if isinstance(translated, str) and translated:
                return translated
    return error.message


def refusal_text(error: Exception, *, plain: bool = False, locale: str = DEFAULT_LOCALE) -> str:
    """What a person reads when the ledger says no (or cannot answer, or something failed).

    ``plain`` for places Slack shows as plain text (a modal's field errors), where a mention
    or date token would show raw.
    """
    if isinstance(error, AlreadyDecided):
        return views.already_decided_text(
            error.status, error.decided_by, error.decided_at, plain=plain, locale=locale
        )
    if isinstance(error, DomainError):
        return error_text(error, locale)
    t = texts(locale)
    if isinstance(error, Unavailable):
        return t.gettext(UNAVAILABLE_TEXT)
    return t.gettext(UNEXPECTED_TEXT)


def not_linked_message(person: Person, *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """The person acts for no partner: from where they came, and how to get linked.

    Someone whose payload names no team of theirs (an old payload, a test) reads the general
    words; someone from a workspace or org reads that no partner account includes it, with the
    ids to send (their member id links just them; the workspace or org id, everyone there).
    """
    if not person.team_id and not person.enterprise_id:
        return views.not_linked_message(locale=locale)
    t = texts(locale)
    member = f"`{person.user_id}`" if person.user_id else ""
    if person.team_id:
        named = (
            f"*{person.team_domain}* ({person.team_id})"
            if person.team_domain
            else (f"{person.team_id}")
        )
        if person.enterprise_id:
            where = t.gettext(catalog.NOT_LINKED_IN_WORKSPACE_OF_ORG).format(
                workspace=named, organization=person.enterprise_id
            )
        else:
            where = t.gettext(catalog.NOT_LINKED_IN_WORKSPACE).format(workspace=named)
        how = (
            t.gettext(catalog.HOW_TO_LINK_WORKSPACE).format(
                member=member, workspace_id=person.team_id
            )
            if member
            else t.gettext(catalog.HOW_TO_LINK_WORKSPACE_NO_ID).format(workspace_id=person.team_id)
        )
        short = t.gettext(catalog.NOT_LINKED_FALLBACK_WORKSPACE).format(
            member_id=person.user_id or "", workspace_id=person.team_id
        )
    else:
        organization = str(person.enterprise_id)
        where = t.gettext(catalog.NOT_LINKED_IN_ORG).format(organization=organization)
        how = (
            t.gettext(catalog.HOW_TO_LINK_ORG).format(member=member, organization_id=organization)
            if member
            else t.gettext(catalog.HOW_TO_LINK_ORG_NO_ID).format(organization_id=organization)
        )
        short = t.gettext(catalog.NOT_LINKED_FALLBACK_ORG).format(
            member_id=person.user_id or "", organization_id=organization
        )
    text = f"{t.gettext(catalog.NOT_LINKED)} {where}"
    return ephemeral(short, [section(f"🔗 {text}"), section(how)], locale=locale)


def refusal_message(error: Exception, *, locale: str = DEFAULT_LOCALE) -> dict[str, Any]:
    """The refusal as an ephemeral message (an ack's body or a ``response_url`` reply)."""
    return views.error_message(refusal_text(error, locale=locale), locale=locale)


def modal_errors(
    error: Exception,
    view: dict[str, Any],
    *,
    fields: Collection[str],
    default: str,
    locale: str = DEFAULT_LOCALE,
) -> dict[str, str]:
    """``{block_id: text}`` for ``response_action: errors``: the block of the field at fault.

    A refusal naming no field of this modal (or none at all) goes on ``default``. The amount is
    keyed by whichever amount block the view holds (``amount`` or a redraw's ``amount:PAY:INV``).
    """
    field = getattr(error, "field", None)
    block = field if isinstance(field, str) and field in fields else default
    if block == BlockId.AMOUNT:
        block = amount_entry(view, form_values(view))[0]
    return {block: refusal_text(error, plain=True, locale=locale)}


def reader_locale(kwargs: dict[str, Any]) -> str:
    """The reader's locale from Bolt's listener kwargs (``context["locale"]``), else the default.

    The locale middleware puts it in the context; a listener run without it (an old test, a
    request the middleware never saw) reads the default language.
    """
    context = kwargs.get("context")
    locale = context.get("locale") if context is not None else None
    return locale if isinstance(locale, str) and locale else DEFAULT_LOCALE


def tell_privately(ack: Ack, respond: Respond, message: dict[str, Any]) -> None:
    """``message`` to the person only: in the ack if none was sent yet, else via response_url."""
    if getattr(ack, "response", None):
        reply_privately(respond, message)
    else:
        ack(**message)


def answer_privately(listener: F) -> F:
    """A refusal is answered privately (:func:`tell_privately`); the listener takes ack, respond.

    A click on the App Home or inside a modal (the shortcuts' one) has no response_url to
    answer on: there the refusal opens as a small modal, stacked onto an open modal (when the
    listener also takes ``body`` and ``client``), so the person still reads why nothing happened.
    """

    def answer(refusal: Exception, kwargs: dict[str, Any]) -> None:
        body, client = kwargs.get("body"), kwargs.get("client")
        surface = _clicked_in_view(body)
        if client is not None and surface is not None:
            assert isinstance(body, dict)
            _tell_in_modal(
                client,
                str(body.get("trigger_id") or ""),
                refusal,
                reader_locale(kwargs),
                push=surface == "modal",
            )
            return
        message = refusal_message(refusal, locale=reader_locale(kwargs))
        tell_privately(kwargs["ack"], kwargs["respond"], message)

    return _answering(listener, answer, needs=("ack", "respond"))


def _clicked_in_view(body: object) -> str | None:
    """``"home"`` or ``"modal"`` for a click on the App Home or inside a modal, else None."""
    if not isinstance(body, dict):
        return None
    container, view = body.get("container"), body.get("view")
    if not (isinstance(container, dict) and container.get("type") == "view"):
        return None
    if not isinstance(view, dict) or view.get("type") not in ("home", "modal"):
        return None
    return str(view["type"])


def _tell_in_modal(
    client: Any, trigger_id: str, refusal: Exception, locale: str, *, push: bool = False
) -> None:
    # A modal is open: Slack stacks the notice onto it (views.open would be refused there).
    opener = client.views_push if push else client.views_open
    try:
        opener(
            trigger_id=trigger_id,
            view=views.notice_modal(
                texts(locale).gettext(catalog.NOTHING_CHANGED_TITLE),
                refusal_text(refusal, locale=locale),
                locale=locale,
            ),
        )
    except Exception as exc:  # Slack refused or is away: the refusal is logged, nothing else
        log.warning("opening a modal for a refusal failed: %s", exc)


def answer_in_modal(*, fields: Collection[str], default: str) -> Callable[[F], F]:
    """A refusal is shown on the modal's field at fault (:func:`modal_errors`); takes ack, view."""

    def decorate(listener: F) -> F:
        def answer(refusal: Exception, kwargs: dict[str, Any]) -> None:
            errors = modal_errors(
                refusal,
                kwargs["view"],
                fields=fields,
                default=default,
                locale=reader_locale(kwargs),
            )
            kwargs["ack"](response_action="errors", errors=errors)

        return _answering(listener, answer, needs=("ack", "view"))

    return decorate


def answer_with_no_options(listener: F) -> F:
    """A refusal in an options load offers nothing; the listener takes ack."""

    def answer(refusal: Exception, kwargs: dict[str, Any]) -> None:
        kwargs["ack"](options=[])

    return _answering(listener, answer, needs=("ack",))


def leave_as_is(listener: F) -> F:
    """A refusal shows nothing: what the person sees stays, and a later step says what is wrong."""

    def answer(refusal: Exception, kwargs: dict[str, Any]) -> None:
        log.debug("%s refused quietly: %s", listener.__name__, refusal)

    return _answering(listener, answer, needs=())


def _answering(
    listener: F, answer: Callable[[Exception, dict[str, Any]], None], *, needs: tuple[str, ...]
) -> F:
    # Bolt passes listeners only the arguments they name, so a surface's needs are checked when
    # the module is imported, not found missing when the first person is refused.
    missing = [name for name in needs if name not in inspect.signature(listener).parameters]
    if missing:
        raise TypeError(f"{listener.__name__} must take {', '.join(missing)} to be answered")

    @functools.wraps(listener)
    def answered(*args: Any, **kwargs: Any) -> None:
        try:
            listener(*args, **kwargs)
        except REFUSALS as refusal:
            answer(refusal, kwargs)

    return guarded(cast(F, answered))


def guarded(listener: F) -> F:
    """Last line of defence: a listener that fails unexpectedly still answers the person.

    Refusals are answered by the surface's decorator; this catches what was not foreseen, logs
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
                    reply_privately(respond, refusal_message(exc, locale=reader_locale(kwargs)))
                except Exception:
                    log.debug("could not tell the person about the failure", exc_info=True)

    return cast(F, wrapper)
