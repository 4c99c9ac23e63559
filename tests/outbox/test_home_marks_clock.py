"""Home marks read the injected clock, never the wall clock (issue 10's "one clock")."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select

from models.home_refresh import HomeRefresh
from slackbot.db import Database
from slackbot.ledger import Ledger
from tests.home.home_data import ACME_MEMBER, two_partners


def test_a_request_marks_homes_due_at_the_ledgers_clock(db: Database) -> None:
    # Years from the wall clock, so a mark that read it would show.
    moment = dt.datetime(2031, 3, 4, 5, 6, 7, tzinfo=dt.UTC)
    two_partners(db)

    Ledger(db, clock=lambda: moment).request_allocation(ACME_MEMBER, "PAY-A1", "INV-A1", "1.00")

    with db.transaction(read_only=True) as session:
        due = set(session.scalars(select(HomeRefresh.due_at)))
    assert due == {moment}
