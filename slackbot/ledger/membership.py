"""Who acts for which partner: the one rule, as SQL, and where each person was last seen.

A Slack user acts for partner P when either

(a) the members file lists them for P (``partner_members``) with no team, or with the team
    (``T…``) or org (``E…``) they were last seen acting from; or
(b) P claims the whole team or org they were last seen acting from (``partner_teams``).

"Last seen" is ``slack_people``, which the Slack middleware records through :class:`People`
from the signed payload before any listener runs, so every query and command that asks "does
this person act for P" reads one answer from the database, in its own transaction, with no
team id passed around (and none that anything unsigned could supply). A person never seen from
any team still acts through rule (a)'s rows without a team, which is how every member imported
before teams existed keeps working.

Nothing here knows about Slack payloads; ``slackbot.slack.payload`` reads them into a
:class:`Person`.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    CompoundSelect,
    Select,
    SQLColumnExpression,
    exists,
    false,
    or_,
    select,
    union,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from models.limits import is_key, is_slack_channel_id, is_slack_user_id
from models.tables import Partner, PartnerMember
from models.workspaces import PartnerTeam, SlackPerson
from slackbot.clock import Clock, system_clock
from slackbot.db import Database

__all__ = [
    "NOBODY",
    "SEEN_REFRESH",
    "People",
    "Person",
    "acting_for",
    "acts_for",
    "is_slack_enterprise_id",
    "is_slack_team_id",
    "partner_ids_for",
]

# The shape of a workspace id (T…) and an Enterprise Grid org id (E…), under the same rule as
# user ids in ``models.limits``: a type letter, then 2 to 31 capitals or digits.
SLACK_TEAM_ID = re.compile(r"T[A-Z0-9]{2,31}", re.ASCII)
SLACK_ENTERPRISE_ID = re.compile(r"E[A-Z0-9]{2,31}", re.ASCII)

# How stale ``slack_people.seen_at`` may get for a person who keeps acting from the same place:
# the row is written when their team, org or channel changes, and otherwise at most this often.
SEEN_REFRESH = dt.timedelta(minutes=10)


def is_slack_team_id(value: object) -> bool:
    """Is ``value`` shaped like a Slack workspace id (``T…``)?"""
    return isinstance(value, str) and SLACK_TEAM_ID.fullmatch(value) is not None


def is_slack_enterprise_id(value: object) -> bool:
    """Is ``value`` shaped like an Enterprise Grid org id (``E…``)?"""
    return isinstance(value, str) and SLACK_ENTERPRISE_ID.fullmatch(value) is not None


@dataclass(frozen=True)
class Person:
    """Who is acting, as the signed payload says: their user id, team, org and channel.

    ``team_id`` and ``enterprise_id`` are the person's own (``None`` when the payload does not
    say, or says something only about the installation); ``team_domain`` is for words shown to
    them, never for a decision.
    """

    user_id: str
    team_id: str | None = None
    enterprise_id: str | None = None
    channel_id: str | None = None
    team_domain: str = ""


NOBODY = Person("")


# ------------------------------------------------------------------------------ the rule


def partner_ids_for(user_id: str) -> Select[str] | CompoundSelect[str]:
    """``SELECT partner_id`` of every partner ``user_id`` acts for (rules (a) and (b)).

    Use it as a subquery (``Payment.partner_id.in_(partner_ids_for(user_id))``, or
    :func:`acting_for`) or run it (``session.scalars(partner_ids_for(user_id))``). Anything
    that cannot be a user id acts for nobody.
    """
    if not is_key(user_id):
        return select(Partner.partner_id).where(false())
    listed = (
        select(PartnerMember.partner_id)
        .outerjoin(SlackPerson, SlackPerson.slack_user_id == PartnerMember.slack_user_id)
        .where(
            PartnerMember.slack_user_id == user_id,
            or_(
                PartnerMember.slack_team_id.is_(None),
                PartnerMember.slack_team_id == SlackPerson.team_id,
                PartnerMember.slack_team_id == SlackPerson.enterprise_id,
            ),
        )
    )
    by_team = (
        select(PartnerTeam.partner_id)
        .join(
            SlackPerson,
            or_(
                PartnerTeam.slack_team_id == SlackPerson.team_id,
                PartnerTeam.slack_team_id == SlackPerson.enterprise_id,
            ),
        )
        .where(SlackPerson.slack_user_id == user_id)
    )
    return union(listed, by_team)


def acting_for(user_id: str, partner_id: SQLColumnExpression[str]) -> ColumnElement[bool]:
    """The condition "``user_id`` acts for the partner in ``partner_id``" (a column)."""
    return partner_id.in_(partner_ids_for(user_id))


def acts_for(session: Session, user_id: str, partner_id: str) -> bool:
    """Does ``user_id`` act for ``partner_id`` now (read in ``session``'s transaction)?"""
    if not is_key(partner_id):
        return False
    found = exists().where(
        Partner.partner_id == partner_id, acting_for(user_id, Partner.partner_id)
    )
    return bool(session.scalar(select(found)))


# ------------------------------------------------------------------------- last seen


class People:
    """Records where each person was last seen acting (``slack_people``), from signed payloads.

    A write happens only when something changed (their team, org or channel) or the row is
    older than ``refresh``, so a steady stream of clicks reads one row by its key each time and
    takes SQLite's write lock about once per ``refresh`` per person. The read is not cached in
    the process: a cache would keep vouching for a row an uninstall or another process has
    since removed or changed, and this row decides what a person may see.
    """

    def __init__(
        self, db: Database, *, clock: Clock | None = None, refresh: dt.timedelta = SEEN_REFRESH
    ) -> None:
        self.db = db
        self.clock: Clock = clock or system_clock
        self.refresh = refresh

    def seen(self, person: Person) -> bool:
        """Record ``person`` as seen now; True when that took a write.

        What the payload does not say keeps what was known: no channel (a modal's submission)
        keeps the last channel, no team and no org keeps the last pair. A team or an org
        replaces the pair, since one is only trusted together with the other. A person first
        seen with neither is not recorded: there is nothing the rule could use.
        """
        if not is_slack_user_id(person.user_id):
            return False
        team = person.team_id if is_slack_team_id(person.team_id) else None
        org = person.enterprise_id if is_slack_enterprise_id(person.enterprise_id) else None
        channel = person.channel_id if is_slack_channel_id(person.channel_id) else None
        with self.db.transaction(read_only=True) as session:
            row = session.execute(
                select(
                    SlackPerson.team_id,
                    SlackPerson.enterprise_id,
                    SlackPerson.channel_id,
                    SlackPerson.seen_at,
                ).where(SlackPerson.slack_user_id == person.user_id)
            ).first()
        if row is None and team is None and org is None:
            # Nothing the rule could use: a payload naming no team (the single-token mode's
            # tests, old payloads) leaves the table alone, so such a request writes nothing.
            return False
        now = self.clock()
        if row is not None:
            if team is None and org is None:
                team, org = row.team_id, row.enterprise_id
            channel = channel or row.channel_id
            fresh = now - _aware(row.seen_at) < self.refresh
            if (team, org, channel) == (row.team_id, row.enterprise_id, row.channel_id) and fresh:
                return False
        values = {
            "slack_user_id": person.user_id,
            "team_id": team,
            "enterprise_id": org,
            "channel_id": channel,
            "seen_at": now,
        }
        with self.db.transaction() as session:
            insert = postgresql.insert if self.db.dialect == "postgresql" else sqlite.insert
            statement = insert(SlackPerson).values(values)
            # Only where they were seen: how their notices are routed is not this row's news.
            session.execute(
                statement.on_conflict_do_update(
                    index_elements=[SlackPerson.slack_user_id],
                    set_={key: statement.excluded[key] for key in values if key != "slack_user_id"},
                )
            )
        return True


def _aware(moment: dt.datetime) -> dt.datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)
