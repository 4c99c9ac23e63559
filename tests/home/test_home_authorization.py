"""The authorization matrix extended to Home: through real signed ``app_home_opened`` events, the
Home each person is published (the stand-in's recorded ``views.publish``) holds exactly what
they may see. One bot serves every row, so the matrix costs one server per database."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from slackbot.db import Database
from slackbot.slack.home_publisher import HomePublisher
from tests.home.home_data import ACME_MEMBER, ACME_OTHER, BOTH_MEMBER, GLOBEX_MEMBER, STRANGER
from tests.home.test_app_home_opened import home_bot, published  # noqa: F401  (fixture)
from tests.support import home_payloads
from tests.support.bot_harness import (
    APPROVER,
    GROUP_APPROVER,
    SECOND_APPROVER,
    BotHarness,
    action_ids,
    text_of,
    wait_for,
)
from tests.support.factories import add_member
from tests.support.slack_stub import FakeSlack

# SECOND_APPROVER is also a member of Acme and makes a request of their own.
REQUESTER_APPROVER = SECOND_APPROVER
QUEUE_HEADER = "Approvals waiting"
# Figures only Globex's people (and approvers) may read: its payment, its request, what is left.
GLOBEX_FIGURES = ("PAY-G1", "INV-G1", "700.00", "12.34", "687.66", "Globex")
ACME_FIGURES = ("PAY-A1", "PAY-A2", "INV-A1", "970.00", "Acme Corp")


@dataclass(frozen=True)
class Row:
    """What one person's Home must and must not hold."""

    who: str
    sees: tuple[str, ...] = ()
    never: tuple[str, ...] = ()
    queue: bool = False
    # Requests (by name: "acme", "globex", "own") they get Approve/Reject for.
    decides: frozenset[str] = frozenset()
    # Their own pending requests, with a Cancel button.
    cancels: frozenset[str] = frozenset()


MATRIX = (
    Row(ACME_MEMBER, sees=ACME_FIGURES, never=GLOBEX_FIGURES, cancels=frozenset({"acme"})),
    Row(ACME_OTHER, sees=ACME_FIGURES, never=GLOBEX_FIGURES),
    Row(GLOBEX_MEMBER, sees=GLOBEX_FIGURES, never=ACME_FIGURES, cancels=frozenset({"globex"})),
    Row(BOTH_MEMBER, sees=ACME_FIGURES + GLOBEX_FIGURES),
    Row(STRANGER, sees=("How to get linked",), never=ACME_FIGURES + GLOBEX_FIGURES + ("PAY-",)),
    Row(APPROVER, queue=True, decides=frozenset({"acme", "globex", "own"})),
    Row(GROUP_APPROVER, queue=True, decides=frozenset({"acme", "globex", "own"})),
    # Segregation of duties: the requester who approves is offered Approve on others' requests
    # only; their own waits for another approver.
    Row(
        REQUESTER_APPROVER,
        sees=ACME_FIGURES,
        never=GLOBEX_FIGURES[:1],
        queue=True,
        decides=frozenset({"acme", "globex"}),
        cancels=frozenset({"own"}),
    ),
)


def _problems(row: Row, view: dict[str, Any], ids: dict[str, int]) -> list[str]:
    text, actions = text_of(view), set(action_ids(view))
    problems = [f"missing {s!r}" for s in row.sees if s not in text]
    if not row.queue:
        # A partner's figures in an approver's queue would be allowed; outside it, never.
        problems += [f"shows {s!r}" for s in row.never if s in text]
    if (QUEUE_HEADER in text) != row.queue:
        problems.append(f"approver queue shown: {QUEUE_HEADER in text}, expected {row.queue}")
    for name, allocation_id in ids.items():
        for verb in ("approve", "reject"):
            offered = f"{verb}_allocation:{allocation_id}" in actions
            if offered != (name in row.decides):
                problems.append(f"{verb} {name} (#{allocation_id}) offered: {offered}")
        cancel = f"cancel_allocation:{allocation_id}" in actions
        if cancel != (name in row.cancels):
            problems.append(f"cancel {name} (#{allocation_id}) offered: {cancel}")
    return problems


def test_each_home_holds_exactly_what_that_person_may_see(
    home_bot: tuple[BotHarness, HomePublisher],  # noqa: F811
    slack: FakeSlack,
    db: Database,
) -> None:
    """Every row of the matrix, the requester-approver's included: no Approve or Reject on
    their own request (the ledger refuses that click too: test_app_home_opened)."""
    _check_matrix(home_bot, slack, db, MATRIX)


def _check_matrix(
    bot: tuple[BotHarness, HomePublisher],
    slack: FakeSlack,
    db: Database,
    rows: tuple[Row, ...],
) -> None:
    harness, _ = bot
    add_member(db, "ACME", REQUESTER_APPROVER)
    ledger = harness.bot.ledger
    ids = {
        "acme": ledger.request_allocation(ACME_MEMBER, "PAY-A1", "INV-A1", "25.00").allocation_id,
        "globex": ledger.request_allocation(
            GLOBEX_MEMBER, "PAY-G1", "INV-G1", "12.34"
        ).allocation_id,
        "own": ledger.request_allocation(
            REQUESTER_APPROVER, "PAY-A1", "INV-A2", "5.00"
        ).allocation_id,
    }
    for row in rows:
        assert harness.post(home_payloads.app_home_opened(row.who))[0] == 200
    failures = {}
    for row in rows:
        view = wait_for(lambda who=row.who: published(slack, who), what=f"{row.who}'s Home")[-1]
        assert view["type"] == "home"
        if problems := _problems(row, view, ids):
            failures[row.who] = problems
    assert not failures, failures
