"""Bolt middleware that puts in ``context`` what listeners take by name (Netflix/dispatch's way).

Bolt injects every ``context`` key into a listener whose parameter has that name
(``slack_bolt/kwargs_injection/utils.py``), so a listener declares what it needs and imports no
composition root:

- ``ledger``, ``approvers`` (the directory), ``outbox`` (something to ``wake()`` after a change
  that owes messages): the services, resolved once when the app is built;
- ``user_id``: the acting person under the one rule of what a Slack user id looks like
  (``models.limits``), ``""`` for anything else; it replaces Bolt's unchecked copy of the id;
- ``form``: for a payload carrying a modal (a submission, a select's change, an options load),
  ``view.state.values`` flattened to ``{block_id: value}``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from slack_bolt import App, BoltContext

from slackbot.ledger import Ledger
from slackbot.slack.approvers import ApproverDirectory
from slackbot.slack.payload import acting_user_id, form_values


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


def services_middleware(services: Services) -> Callable[..., None]:
    """Middleware giving every listener the services it may take as parameters.

    They are read from ``services`` on each request, not copied once, so a service swapped on
    a running bot (a test's failing approver directory) is the one listeners get.
    """

    def inject_services(context: BoltContext, next: Callable[[], None]) -> None:
        context["ledger"] = services.ledger
        context["approvers"] = services.approvers
        context["outbox"] = services.delivery
        next()

    return inject_services


def actor_middleware(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
    """``user_id``: who is acting, or ``""`` when the payload names nobody we could know."""
    context["user_id"] = acting_user_id(body)
    next()


def form_middleware(body: dict[str, Any], context: BoltContext, next: Callable[[], None]) -> None:
    """``form``: the modal's inputs as ``{block_id: value}`` when the payload carries a modal."""
    view = body.get("view")
    context["form"] = form_values(view) if isinstance(view, dict) else {}
    next()


def use_middleware(app: App, services: Services) -> None:
    """Register the middleware on ``app``, before any listener runs."""
    app.use(services_middleware(services))
    app.use(actor_middleware)
    app.use(form_middleware)
