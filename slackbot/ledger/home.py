"""What a person's App Home shows, read in one short transaction with bounded queries.

For each partner the person acts for (``slackbot.ledger.membership``): totals per currency of
the payments with money left, the oldest of those payments (with the matcher's suggestion for
the first few), the person's own requests still waiting, and their last decisions. For an
approver: the pending queue across all partners, oldest first, its count and oldest age, counts
per partner, and what they decided today.

Every list is read under a LIMIT and counted apart, so a partner with thousands of payments or
a queue of ten thousand requests costs a few index reads, and the view can say what it left
out. Suggestions read the partner's open invoices in the currency (the matcher's input; it
bounds its own search) and run for the first :data:`SUGGESTED_PAYMENTS` payments only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from models.enums import AllocationStatus
from models.home import (
    ApproverHome,
    CurrencyTotal,
    Home,
    HomeSuggestion,
    PartnerCount,
    PartnerHome,
)
from models.limits import is_slack_user_id
from models.schemas import AllocationSummary
from models.tables import Allocation, Invoice, Partner, Payment
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.ledger.matching import InvoicePool, suggest_allocations
from slackbot.ledger.membership import partner_ids_for
from slackbot.ledger.queries import LedgerQueries, open_invoice_pool, payment_summary

# How much of each list is read; the views show as much of it as fits in 100 blocks.
MAX_PARTNERS = 5
PAYMENTS_SHOWN = 20
SUGGESTED_PAYMENTS = 3
WAITING_SHOWN = 10
DECISIONS_SHOWN = 10
QUEUE_SHOWN = 30
BY_PARTNER_SHOWN = 10
DECIDED_TODAY_SHOWN = 10

PENDING = AllocationStatus.PENDING


class HomeQueries:
    """Reads a :class:`~models.home.Home`; ``clock`` decides ages, and ``day_tz`` (the business
    time zone, BUSINESS_TZ) where "today" begins."""

    def __init__(
        self, db: Database, clock: Clock | None = None, *, day_tz: dt.tzinfo = dt.UTC
    ) -> None:
        self.db = db
        self.clock: Clock = clock or system_clock
        self.day_tz = day_tz
        # The ledger's own snapshot builder, so a Home's request reads as /payments history's.
        self._snapshots = LedgerQueries(db, clock=self.clock)

    def home_of(self, user_id: str, *, approver: bool = False) -> Home:
        """The Home of ``user_id``; ``approver`` (the Slack layer's directory says) adds the
        queue. Anything that is not a user id gets an empty Home."""
        now = self.clock()
        if not is_slack_user_id(user_id):
            return Home(user_id="", as_of=now)
        with self.db.transaction(read_only=True) as session:
            partners, partners_more = self._partners(session, user_id)
            homes = [self._partner_home(session, user_id, pid, name) for pid, name in partners]
            queue = self._approver_home(session, user_id, now) if approver else None
        return Home(
            user_id=user_id,
            as_of=now,
            totals=_sum_totals([t for home in homes for t in home.totals]),
            partners=tuple(homes),
            partners_more=partners_more,
            approver=queue,
        )

    # -------------------------------------------------------------- partners

    def _partners(self, session: Session, user_id: str) -> tuple[list[tuple[str, str]], int]:
        acting = Partner.partner_id.in_(partner_ids_for(user_id))
        rows = session.execute(
            select(Partner.partner_id, Partner.name)
            .where(acting)
            .order_by(Partner.name, Partner.partner_id)
            .limit(MAX_PARTNERS + 1)
        ).all()
        shown = [(r.partner_id, r.name) for r in rows[:MAX_PARTNERS]]
        more = 0
        if len(rows) > MAX_PARTNERS:
            total = session.scalar(select(func.count()).select_from(Partner).where(acting))
            more = int(total or 0) - MAX_PARTNERS
        return shown, more

    def _partner_home(
        self, session: Session, user_id: str, partner_id: str, name: str
    ) -> PartnerHome:
        with_money = or_(Payment.unallocated > 0, Payment.pending > 0)
        totals = tuple(
            CurrencyTotal(
                currency=r.currency,
                unallocated=int(r.unallocated or 0),
                pending=int(r.pending or 0),
                payments=int(r.payments),
            )
            for r in session.execute(
                select(
                    Payment.currency,
                    func.sum(Payment.unallocated).label("unallocated"),
                    func.sum(Payment.pending).label("pending"),
                    func.count().label("payments"),
                )
                .where(Payment.partner_id == partner_id, with_money)
                .group_by(Payment.currency)
                .order_by(Payment.currency)
            ).all()
        )
        payments = [
            payment_summary(p, name)
            for p in session.scalars(
                select(Payment)
                .where(Payment.partner_id == partner_id, with_money)
                .order_by(Payment.received_on, Payment.payment_id)
                .limit(PAYMENTS_SHOWN)
            )
        ]
        allocatable = [p for p in payments if p.unallocated > 0]
        looked_up = allocatable[:SUGGESTED_PAYMENTS]
        suggestions: dict[str, HomeSuggestion] = {}
        pools: dict[str, InvoicePool] = {}
        for payment in looked_up:
            if payment.currency not in pools:
                pools[payment.currency] = open_invoice_pool(session, partner_id, payment.currency)
            found = suggest_allocations(payment, pools[payment.currency])
            if found:
                best = found[0]
                suggestions[payment.payment_id] = HomeSuggestion(
                    summary=best.summary, total=best.total, lines=len(best.lines)
                )
        mine = (
            Allocation.requested_by == user_id,
            Allocation.partner_id == partner_id,
            Allocation.line_no == 1,
        )
        waiting_rows = list(
            session.scalars(
                select(Allocation)
                .where(*mine, Allocation.status == PENDING)
                .order_by(Allocation.requested_at, Allocation.allocation_id)
                .limit(WAITING_SHOWN + 1)
            )
        )
        waiting_more = 0
        if len(waiting_rows) > WAITING_SHOWN:
            count = session.scalar(
                select(func.count())
                .select_from(Allocation)
                .where(*mine, Allocation.status == PENDING)
            )
            waiting_more = int(count or 0) - WAITING_SHOWN
        decided_rows = list(
            session.scalars(
                select(Allocation)
                .where(*mine, Allocation.status != PENDING)
                .order_by(Allocation.decided_at.desc(), Allocation.allocation_id.desc())
                .limit(DECISIONS_SHOWN)
            )
        )
        snapshots = self._summaries(session, [*waiting_rows[:WAITING_SHOWN], *decided_rows])
        shown_payments = sum(t.payments for t in totals)
        return PartnerHome(
            partner_id=partner_id,
            name=name,
            totals=totals,
            payments=tuple(payments),
            payments_more=max(0, shown_payments - len(payments)),
            suggestions=suggestions,
            suggestions_skipped=len(allocatable) - len(looked_up),
            waiting=tuple(snapshots[: min(len(waiting_rows), WAITING_SHOWN)]),
            waiting_more=waiting_more,
            decisions=tuple(snapshots[min(len(waiting_rows), WAITING_SHOWN) :]),
        )

    # -------------------------------------------------------------- approver

    def _approver_home(self, session: Session, user_id: str, now: dt.datetime) -> ApproverHome:
        pending = (Allocation.status == PENDING, Allocation.line_no == 1)
        count, oldest = session.execute(
            select(func.count(), func.min(Allocation.requested_at)).where(*pending)
        ).one()
        queue_rows = list(
            session.scalars(
                select(Allocation)
                .where(*pending)
                .order_by(Allocation.requested_at, Allocation.allocation_id)
                .limit(QUEUE_SHOWN)
            )
        )
        per_partner = session.execute(
            select(Allocation.partner_id, func.count().label("n"))
            .where(*pending)
            .group_by(Allocation.partner_id)
            .order_by(func.count().desc(), Allocation.partner_id)
            .limit(BY_PARTNER_SHOWN + 1)
        ).all()
        names = _names(session, {r.partner_id for r in per_partner})
        partners_waiting = 0
        if len(per_partner) > BY_PARTNER_SHOWN:
            partners_waiting = int(
                session.scalar(
                    select(func.count(func.distinct(Allocation.partner_id))).where(*pending)
                )
                or 0
            )
        local = now.astimezone(self.day_tz)
        today = dt.datetime.combine(local.date(), dt.time(), tzinfo=self.day_tz)
        decided = (
            Allocation.decided_by == user_id,
            Allocation.decided_at >= today,
            Allocation.line_no == 1,
            Allocation.status != AllocationStatus.CANCELLED,
        )
        decided_rows = list(
            session.scalars(
                select(Allocation)
                .where(*decided)
                .order_by(Allocation.decided_at.desc(), Allocation.allocation_id.desc())
                .limit(DECIDED_TODAY_SHOWN + 1)
            )
        )
        decided_count = len(decided_rows)
        if decided_count > DECIDED_TODAY_SHOWN:
            decided_count = int(
                session.scalar(select(func.count()).select_from(Allocation).where(*decided)) or 0
            )
        snapshots = self._summaries(session, [*queue_rows, *decided_rows[:DECIDED_TODAY_SHOWN]])
        return ApproverHome(
            pending_count=int(count or 0),
            oldest_requested_at=oldest,
            by_partner=tuple(
                PartnerCount(partner_id=r.partner_id, name=names.get(r.partner_id, ""), pending=r.n)
                for r in per_partner[:BY_PARTNER_SHOWN]
            ),
            by_partner_more=max(0, partners_waiting - BY_PARTNER_SHOWN),
            queue=tuple(snapshots[: len(queue_rows)]),
            queue_more=max(0, int(count or 0) - len(queue_rows)),
            decided_today=tuple(snapshots[len(queue_rows) :]),
            decided_today_count=decided_count,
        )

    # ------------------------------------------------------------- snapshots

    def _summaries(self, session: Session, firsts: Sequence[Allocation]) -> list[AllocationSummary]:
        """The requests whose first lines are ``firsts``, in that order: four reads in all."""
        if not firsts:
            return []
        request_ids = sorted({a.request_id for a in firsts})
        lines: dict[int, list[Allocation]] = {}
        for line in session.scalars(
            select(Allocation)
            .where(Allocation.request_id.in_(request_ids))
            .order_by(Allocation.request_id, Allocation.line_no)
        ):
            lines.setdefault(line.request_id, []).append(line)
        payments = {
            p.payment_id: p
            for p in session.scalars(
                select(Payment).where(Payment.payment_id.in_({a.payment_id for a in firsts}))
            )
        }
        invoices = {
            i.invoice_id: i
            for i in session.scalars(
                select(Invoice).where(
                    Invoice.invoice_id.in_({ln.invoice_id for ls in lines.values() for ln in ls})
                )
            )
        }
        names = _names(session, {a.partner_id for a in firsts})
        return [
            self._snapshots._summary_of(
                lines[a.request_id], payments[a.payment_id], names[a.partner_id], invoices
            )
            for a in firsts
        ]


def _names(session: Session, partner_ids: set[str]) -> dict[str, str]:
    rows = session.execute(
        select(Partner.partner_id, Partner.name).where(Partner.partner_id.in_(partner_ids))
    )
    return {row.partner_id: row.name for row in rows}


def _sum_totals(totals: Sequence[CurrencyTotal]) -> tuple[CurrencyTotal, ...]:
    summed: dict[str, CurrencyTotal] = {}
    for t in totals:
        was = summed.get(t.currency)
        summed[t.currency] = (
            t
            if was is None
            else CurrencyTotal(
                currency=t.currency,
                unallocated=was.unallocated + t.unallocated,
                pending=was.pending + t.pending,
                payments=was.payments + t.payments,
            )
        )
    return tuple(summed[c] for c in sorted(summed))
