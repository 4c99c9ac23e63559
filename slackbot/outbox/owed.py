"""What each change owes people, written in the change's own transaction, and coalesced.

Nothing here knows Slack: a row names a kind of news (:class:`OutboxKind`) and who it is for
(:class:`Audience`); the sender renders and delivers it. A change that owes nothing is
impossible to forget here, because its outbox row commits or rolls back with it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Connection, insert, or_, select, update
from sqlalchemy.orm import Session

from models.enums import REMINDER_KINDS, AllocationStatus, Audience, OutboxKind
from models.tables import Allocation, OutboxMessage

# Ids per IN (...) list, well under every driver's bound-parameter limit.
_IN_CHUNK = 500


def owe(
    session: Session,
    allocation: Allocation,
    kind: OutboxKind,
    audiences: Sequence[Audience],
    now: dt.datetime,
) -> None:
    """Write the outbox rows ``kind`` owes each audience, in this transaction.

    ``allocation`` is the request's first line: a request owes one billing message and one
    receipt, however many lines it has, and its rows carry line 1's allocation_id.

    A decision owes the requester one message, not two: their receipt (the ``RECEIPT``
    row), edited to show the outcome; the sender posts a new DM only when there is no
    receipt to edit (and, for a reversal, one DM beside the edit). So a decision that names
    both ``REQUESTER`` and ``RECEIPT`` writes the ``RECEIPT`` row alone; the request itself
    still owes the ``REQUESTER`` its receipt.
    """
    wanted = list(audiences)
    if kind != OutboxKind.ALLOCATION_REQUESTED and Audience.REQUESTER in wanted:
        wanted = [a for a in wanted if a != Audience.REQUESTER]
        if Audience.RECEIPT not in wanted:
            wanted.append(Audience.RECEIPT)
    rows = [
        {
            "kind": kind,
            "allocation_id": allocation.allocation_id,
            "recipient": audience,
            "payload": {"requested_by": allocation.requested_by},
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
        }
        for audience in wanted
        if not (
            audience == Audience.BILLING
            and kind != OutboxKind.ALLOCATION_REQUESTED
            and _take_over_refresh(session, allocation, kind, now)
        )
    ]
    if rows:
        # One multi-row INSERT: nothing reads the new rows' ids in this transaction.
        session.execute(insert(OutboxMessage).values(rows))


def owe_refreshes_beside(session: Session, allocation_id: int, now: dt.datetime) -> int:
    """Owe edits of the pending requests that share this one's payment or any of its invoices.

    ``allocation_id`` names any line of the changed request. The sender calls it once this
    request's own billing message (its post, or the edit that reports its decision) has gone
    out: the change is committed by then, so every edit owed here renders the balances it
    left. Running it there, not in the change's transaction, keeps the work off the partner's
    and the approver's click. One edit is owed per other request, however many lines share.
    """
    changed = session.get(Allocation, allocation_id)
    if changed is None:
        return 0
    invoices = select(Allocation.invoice_id).where(Allocation.request_id == changed.request_id)
    siblings = session.execute(
        select(Allocation.request_id, Allocation.requested_by)
        .where(
            Allocation.status == AllocationStatus.PENDING,
            Allocation.request_id != changed.request_id,
            or_(
                Allocation.payment_id == changed.payment_id,
                Allocation.invoice_id.in_(invoices),
            ),
        )
        .distinct()
        .order_by(Allocation.request_id)
    ).all()
    return _owe_request_refreshes(
        session, [(row[0], row[1]) for row in siblings], now, committed=True
    )


def owe_balance_refreshes(
    executor: Session | Connection,
    pending: Sequence[tuple[int, str]],
    now: dt.datetime,
    *,
    committed: bool = False,
) -> int:
    """Owe an edit of each pending request's billing message: balances it shows have moved.

    ``pending`` lists ``(allocation_id, requested_by)`` of lines awaiting a decision (any line
    of a request: an import passes each line whose payment or invoice it changed); each line
    is mapped to its request, and a request owes one edit however many of its lines are named.
    A request whose billing message still has an unsent, unclaimed row (an edit or the post, not a
    reminder's thread reply) needs nothing more, since that row renders the balances when it goes
    out. A row already claimed may have
    rendered the old figures, so a new one follows it. When the change is not ``committed`` yet
    (an import calls this in its own transaction), the unclaimed rows are locked (PostgreSQL)
    so no sender claims one and renders it before the change commits. Returns rows added.
    """
    if not pending:
        return 0
    requested_by = dict(pending)
    ids = sorted(requested_by)
    requests: dict[int, str] = {}
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        for allocation_id, request_id in executor.execute(
            select(Allocation.allocation_id, Allocation.request_id).where(
                Allocation.allocation_id.in_(chunk)
            )
        ).all():
            requests.setdefault(request_id, requested_by[allocation_id])
    return _owe_request_refreshes(executor, list(requests.items()), now, committed=committed)


def _owe_request_refreshes(
    executor: Session | Connection,
    pending: Sequence[tuple[int, str]],
    now: dt.datetime,
    *,
    committed: bool,
) -> int:
    """``owe_balance_refreshes`` for ``(request_id, requested_by)`` pairs (a request's rows
    carry its first line's allocation_id, which is its request_id)."""
    if not pending:
        return 0
    requested_by = dict(pending)
    ids = sorted(requested_by)
    queued: set[int] = set()
    for start in range(0, len(ids), _IN_CHUNK):
        chunk = ids[start : start + _IN_CHUNK]
        unclaimed = (
            select(OutboxMessage.allocation_id)
            .where(
                OutboxMessage.allocation_id.in_(chunk),
                OutboxMessage.recipient == Audience.BILLING,
                OutboxMessage.sent_at.is_(None),
                OutboxMessage.claimed_by.is_(None),
                # A reminder is a reply in the message's thread: it renders no balances.
                OutboxMessage.kind.not_in(sorted(REMINDER_KINDS)),
            )
            # One global order (chunks go up by allocation id), so two transactions that lock
            # overlapping sets never wait on each other in a cycle.
            .order_by(OutboxMessage.allocation_id, OutboxMessage.message_id)
        )
        if not committed:
            unclaimed = unclaimed.with_for_update()
        queued.update(a for a in executor.scalars(unclaimed) if a is not None)
    rows = [
        {
            "kind": OutboxKind.BALANCES_CHANGED,
            "allocation_id": allocation_id,
            "recipient": Audience.BILLING,
            "payload": {"requested_by": requested_by[allocation_id]},
            "created_at": now,
            "attempts": 0,
            "next_attempt_at": now,
        }
        for allocation_id in ids
        if allocation_id not in queued
    ]
    if rows:
        executor.execute(insert(OutboxMessage), rows)
    return len(rows)


def _take_over_refresh(
    session: Session, allocation: Allocation, kind: OutboxKind, now: dt.datetime
) -> bool:
    """Turn this request's queued, unclaimed balance refresh into the news ``kind`` carries.

    The refresh would render the same message (messages are rendered when sent), so one row
    does both, and the news is not held back behind a refresh that waits its turn.
    """
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.allocation_id == allocation.allocation_id,
            OutboxMessage.recipient == Audience.BILLING,
            OutboxMessage.kind == OutboxKind.BALANCES_CHANGED,
            OutboxMessage.sent_at.is_(None),
            OutboxMessage.claimed_by.is_(None),
        )
        .values(kind=kind, next_attempt_at=now)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))
