"""Who may act for a partner: members and team links as imported, and removing a member.

The ledger checks membership on every request (a payment is only ever read through the
requester's ``partner_members`` row), so deleting the row is all it takes to revoke access.
Requests the person already made stay as they are: a pending one is billing's to approve or
reject, and the history of decided ones is kept.
"""

from __future__ import annotations

import datetime as dt
import getpass
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, CursorResult, bindparam, delete, func, insert, select, update
from sqlalchemy.orm import Session

from models.enums import AllocationStatus
from models.limits import MAX_ID, is_key, is_slack_user_id
from models.tables import Allocation, AuditEvent, Partner, PartnerMember
from models.workspaces import PartnerTeam
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.errors import InvalidInput, NotFound

# Ids per IN (...) list, well under every driver's bound-parameter limit.
_IN_CHUNK = 500


def operator_actor() -> str:
    """The audit actor for a command run by an operator: ``cli:<os user>``."""
    try:
        user = getpass.getuser()
    except Exception:  # no login name, no passwd entry (a bare container): still audit the run
        user = "unknown"
    shown = "".join(ch for ch in user if ch.isprintable())[:56] or "unknown"
    return f"cli:{shown}"


@dataclass(frozen=True)
class MemberRemoved:
    partner_id: str
    partner_name: str
    slack_user_id: str
    pending_requests: int

    def summary(self) -> str:
        pending = ""
        if self.pending_requests:
            count = self.pending_requests
            requests = "request of theirs stays" if count == 1 else "requests of theirs stay"
            pending = f"; {count} pending {requests} for billing to approve or reject"
        return (
            f"removed {self.slack_user_id} from partner {self.partner_id} ({self.partner_name});"
            f" they can no longer see or allocate its payments{pending}"
        )


def remove_member(
    db: Database,
    partner_id: str,
    slack_user_id: str,
    *,
    actor: str,
    clock: Clock = system_clock,
) -> MemberRemoved:
    """Unlink ``slack_user_id`` from ``partner_id``; raises ``NotFound`` naming what is unknown.

    ``clock`` stamps the audit event.
    """
    partner_id = partner_id.strip()
    slack_user_id = slack_user_id.strip()
    if not is_key(partner_id):
        raise InvalidInput("partner_id", f"{partner_id[:MAX_ID]!r} is not a partner id")
    if not is_slack_user_id(slack_user_id):
        raise InvalidInput(
            "slack_user_id",
            f"{slack_user_id[:40]!r} does not look like a Slack user ID (U or W followed by"
            " capital letters and digits, e.g. U0123ABCD)",
        )
    with db.transaction() as session:
        partner = session.get(Partner, partner_id)
        if partner is None:
            raise NotFound(
                "partner_id",
                f"partner {partner_id} is not a known partner{did_you_mean(session, partner_id)}"
                "; nothing was changed",
            )
        deleted: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            delete(PartnerMember).where(
                PartnerMember.partner_id == partner_id,
                PartnerMember.slack_user_id == slack_user_id,
            )
        )
        if not deleted.rowcount:
            raise NotFound(
                "slack_user_id",
                f"{slack_user_id} is not a member of partner {partner_id} ({partner.name});"
                " nothing was changed",
            )
        pending = record_removals(
            session,
            [(partner_id, slack_user_id)],
            actor=actor,
            via="cli",
            at=clock(),
        )
        return MemberRemoved(
            partner_id, partner.name, slack_user_id, pending[partner_id, slack_user_id]
        )


def record_removals(
    session: Session,
    removed: Iterable[tuple[str, str]],
    *,
    actor: str,
    via: str,
    at: dt.datetime,
    **detail: object,
) -> dict[tuple[str, str], int]:
    """One audit event per removed member, at ``at``, with their pending requests for that partner.

    Returns those pending counts by (partner_id, slack_user_id).
    """
    counts: dict[tuple[str, str], int] = {}
    for partner_id, user_id in removed:
        pending = session.scalar(
            select(func.count())
            .select_from(Allocation)
            .where(
                Allocation.partner_id == partner_id,
                Allocation.requested_by == user_id,
                Allocation.status == AllocationStatus.PENDING,
            )
        )
        counts[partner_id, user_id] = int(pending or 0)
        session.add(
            AuditEvent(
                at=at,
                actor=actor[:64],
                action="member.removed",
                subject=f"partner:{partner_id}"[:128],
                detail={
                    "partner_id": partner_id,
                    "slack_user_id": user_id,
                    "via": via,
                    "pending_requests": counts[partner_id, user_id],
                    **detail,
                },
            )
        )
    return counts


# A members file's row, keyed: (partner_id, slack_user_id) for a person, with or without a team;
# (partner_id, None, slack_team_id) for a whole team or org.
MemberKey = tuple[str, str] | tuple[str, None, str]


def member_key(record: dict[str, Any]) -> MemberKey:
    if record["slack_user_id"]:
        return (record["partner_id"], record["slack_user_id"])
    return (record["partner_id"], None, record["slack_team_id"])


def describe_member(key: MemberKey) -> str:
    if len(key) == 2:
        return f"member {key[1]} of partner {key[0]}"
    return f"team {key[2]} of partner {key[0]}"


def upsert_members(
    connection: Connection, records: list[dict[str, Any]], *, with_teams: bool
) -> tuple[int, int, int]:
    """Store a chunk of checked members rows; returns (inserted, updated, unchanged).

    A person's row sets their team (None: any team) only when the file has the
    ``slack_team_id`` column (``with_teams``); an older two-column file leaves it as stored.
    """
    people = [record for record in records if record["slack_user_id"]]
    teams = [record for record in records if not record["slack_user_id"]]
    stored: dict[tuple[str, str], str | None] = {}
    users = sorted({record["slack_user_id"] for record in people})
    for start in range(0, len(users), _IN_CHUNK):
        rows = connection.execute(
            select(
                PartnerMember.partner_id, PartnerMember.slack_user_id, PartnerMember.slack_team_id
            ).where(PartnerMember.slack_user_id.in_(users[start : start + _IN_CHUNK]))
        )
        stored.update({(row[0], row[1]): row[2] for row in rows})
    linked: set[tuple[str, str]] = set()
    team_ids = sorted({record["slack_team_id"] for record in teams})
    for start in range(0, len(team_ids), _IN_CHUNK):
        rows = connection.execute(
            select(PartnerTeam.partner_id, PartnerTeam.slack_team_id).where(
                PartnerTeam.slack_team_id.in_(team_ids[start : start + _IN_CHUNK])
            )
        )
        linked.update((row[0], row[1]) for row in rows)
    new_people, changed, new_teams = [], [], []
    for record in people:
        key = (record["partner_id"], record["slack_user_id"])
        if key not in stored:
            new_people.append(record if with_teams else {**record, "slack_team_id": None})
        elif with_teams and stored[key] != record["slack_team_id"]:
            changed.append(record)
    for record in teams:
        if (record["partner_id"], record["slack_team_id"]) not in linked:
            new_teams.append(
                {"partner_id": record["partner_id"], "slack_team_id": record["slack_team_id"]}
            )
    if new_people:
        connection.execute(insert(PartnerMember), new_people)
    if new_teams:
        connection.execute(insert(PartnerTeam), new_teams)
    if changed:
        connection.execute(
            update(PartnerMember)
            .where(
                PartnerMember.partner_id == bindparam("_partner"),
                PartnerMember.slack_user_id == bindparam("_user"),
            )
            .values(slack_team_id=bindparam("_team")),
            [
                {
                    "_partner": record["partner_id"],
                    "_user": record["slack_user_id"],
                    "_team": record["slack_team_id"],
                }
                for record in changed
            ],
        )
    inserted = len(new_people) + len(new_teams)
    return inserted, len(changed), len(records) - inserted - len(changed)


def remove_unlisted_members(
    connection: Connection, listed: set[MemberKey]
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Delete the members and team links of the partners named in ``listed`` that it leaves out.

    Returns the removed (partner_id, slack_user_id) and (partner_id, slack_team_id) pairs.
    """
    partners = sorted({key[0] for key in listed})
    people = {key for key in listed if len(key) == 2}
    teams = {(key[0], key[2]) for key in listed if len(key) == 3}
    unlisted: list[tuple[str, str]] = []
    unlinked: list[tuple[str, str]] = []
    for start in range(0, len(partners), _IN_CHUNK):
        named = partners[start : start + _IN_CHUNK]
        rows = connection.execute(
            select(PartnerMember.partner_id, PartnerMember.slack_user_id)
            .where(PartnerMember.partner_id.in_(named))
            .order_by(PartnerMember.partner_id, PartnerMember.slack_user_id)
        ).all()
        unlisted.extend((row[0], row[1]) for row in rows if (row[0], row[1]) not in people)
        rows = connection.execute(
            select(PartnerTeam.partner_id, PartnerTeam.slack_team_id)
            .where(PartnerTeam.partner_id.in_(named))
            .order_by(PartnerTeam.partner_id, PartnerTeam.slack_team_id)
        ).all()
        unlinked.extend((row[0], row[1]) for row in rows if (row[0], row[1]) not in teams)
    if unlisted:
        connection.execute(
            delete(PartnerMember).where(
                PartnerMember.partner_id == bindparam("_partner"),
                PartnerMember.slack_user_id == bindparam("_user"),
            ),
            [{"_partner": partner, "_user": user} for partner, user in unlisted],
        )
    if unlinked:
        connection.execute(
            delete(PartnerTeam).where(
                PartnerTeam.partner_id == bindparam("_partner"),
                PartnerTeam.slack_team_id == bindparam("_team"),
            ),
            [{"_partner": partner, "_team": team} for partner, team in unlinked],
        )
    return unlisted, unlinked


def record_team_removals(
    session: Session,
    removed: Iterable[tuple[str, str]],
    *,
    actor: str,
    at: dt.datetime,
    **detail: object,
) -> None:
    """One audit event per team or org no longer linked to a partner."""
    for partner_id, team_id in removed:
        session.add(
            AuditEvent(
                at=at,
                actor=actor[:64],
                action="partner_team.removed",
                subject=f"partner:{partner_id}"[:128],
                detail={"partner_id": partner_id, "slack_team_id": team_id, **detail},
            )
        )


def did_you_mean(session: Session | Connection, unknown: str) -> str:
    """``"; did you mean P-ACME?"`` when an unknown id differs from a known one only by case."""
    known = partners_by_case(session, [unknown]).get(unknown.lower())
    return f"; did you mean {known}?" if known else ""


def partners_by_case(session: Session | Connection, unknown: Iterable[str]) -> dict[str, str]:
    """Known partner ids equal to one of ``unknown`` but for case, keyed by the lowered id."""
    wanted = sorted({value.lower() for value in unknown if value})
    found: dict[str, str] = {}
    for start in range(0, len(wanted), _IN_CHUNK):
        rows = session.execute(
            select(Partner.partner_id)
            .where(func.lower(Partner.partner_id).in_(wanted[start : start + _IN_CHUNK]))
            .order_by(Partner.partner_id)
        ).scalars()
        for partner_id in rows:
            found.setdefault(partner_id.lower(), partner_id)
    return found
