"""Bolt middleware that puts in ``context`` what listeners take by name (Netflix/dispatch's way).

Bolt injects every ``context`` key into a listener whose parameter has that name
(``slack_bolt/kwargs_injection/utils.py``), so a listener declares what it needs and imports no
composition root:

- ``ledger``, ``approvers`` (the directory), ``outbox`` (something to ``wake()`` after a change
  that owes messages): the services, resolved once when the app is built;
- ``user_id``: the acting person under the one rule of what a Slack user id looks like
  (``models.limits``), ``""`` for anything else; it replaces Bolt's unchecked copy of the id;
- ``person``: who acts and from where (:class:`~slackbot.ledger.membership.Person`: user id,
  their own team and org, the channel), read from the signed body only
  (``slackbot.slack.payload.acting_person``). Before any listener runs it is recorded as where
  they were last seen (:class:`~slackbot.ledger.membership.People`), which is what the
  ledger's membership rule reads: a person of a team a partner claims acts for it from this
  very request on;
- ``locale``: the language the person reads (:class:`~slackbot.slack.locales.Readers`: their
  Slack locale, asked with the request's own bot token and never waited for past 0.3 s, else
  their partner's, else ``DEFAULT_LOCALE``); the refusal decorators and the listeners answer
  in it;
- ``form``: for a payload carrying a modal (a submission, a select's change, an options load),
  ``view.state.values`` flattened to ``{block_id: value}``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, Protocol

from slack_bolt import App, BoltContext

from models.limits import is_slack_user_id
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.ledger import Ledger
from slackbot.ledger.membership import People
from slackbot.slack.approvers import ApproverDirectory
from slackbot.slack.locales import Readers
from slackbot.slack.payload import acting_person, acting_user_id, form_values

log = logging.getLogger("handlers")


class Outbox(Protocol):
    """What a listener needs of the outbox sender: a nudge that new messages are owed."""

    def wake(self) -> None: ...


class Services(Protocol):
    """Where the running services are (the composition root's ``Bot``)."""

    @property
    def ledger(self) -> Ledger: ...
    @property
    def approvers(self) -> ApproverDirectory: ...
    @property
    def delivery(self) -> Outbox: ...
    @property
    def home(self) -> Outbox | None: ...
    @property
    def readers(self) -> Readers | None: ...


class _WakeAll:
    """``outbox`` for listeners: a change that owes messages also changes someone's Home."""

    def __init__(self, *sleepers: Outbox | None) -> None:
        self.sleepers = [s for s in sleepers if s is not None]

    def wake(self) -> None:
        for sleeper in self.sleepers:
            sleeper.wake()


def services_middleware(services: Services) -> Callable[..., None]:
    """Middleware giving every listener the services it may take as parameters.

    They are read from ``services`` on each request, not copied once, so a service swapped on
    a running bot (a test's failing approver directory) is the one listeners get.
    """

    def inject_services(context: BoltContext, next: Callable[[], None]) -> None:
        context["ledger"] = services.ledger
        context["approvers"] = services.approvers
        context["outbox"] = _WakeAll(services.delivery, services.home)
        context["home"] = services.home
        next()

    return inject_services


def actor_middleware(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
    """``user_id``: who is acting, or ``""`` when the payload names nobody we could know."""
    context["user_id"] = acting_user_id(body)
    next()


def person_middleware(people: People) -> Callable[..., None]:
    """Middleware putting ``person`` in context and recording where they were seen, first."""

    def record_person(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
        person = acting_person(body if isinstance(body, dict) else {})
        context["person"] = person
        try:
            people.seen(person)
        except Exception:
            # The listener still runs and reads what was last recorded: a database that cannot
            # take this write cannot answer the listener either, which says so in words.
            log.warning("could not record where %s was seen", person.user_id, exc_info=True)
        next()

    return record_person


def locale_middleware(services: Services) -> Callable[..., None]:
    """Middleware putting ``locale`` in context: what the acting person reads."""

    def choose_locale(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
        readers = services.readers
        user_id = context.get("user_id") or _event_user(body)
        if readers is None:
            context["locale"] = DEFAULT_LOCALE
        else:
            try:
                context["locale"] = readers.for_person(user_id, context.client)
            except Exception:
                # A database that cannot say the partner's locale must not cost the answer.
                log.warning("could not choose the locale of %s", user_id, exc_info=True)
                context["locale"] = readers.default_locale
        next()

    return choose_locale


def _event_user(body: Any) -> str:
    """An event's person (``app_home_opened``: whose Home), or ``""``."""
    event = body.get("event") if isinstance(body, dict) else None
    user = event.get("user") if isinstance(event, dict) else None
    return str(user) if is_slack_user_id(user) else ""


def form_middleware(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
    """``form``: the modal's inputs as ``{block_id: value}`` when the payload carries a modal."""
    view = body.get("view")
    context["form"] = form_values(view) if isinstance(view, dict) else {}
    next()


def use_middleware(app: App, services: Services) -> None:
    """Register the middleware on ``app``, before any listener runs."""
    app.use(services_middleware(services))
    app.use(actor_middleware)
    app.use(locale_middleware(services))
    app.use(person_middleware(People(services.ledger.db, clock=services.ledger.clock)))
    app.use(form_middleware)
