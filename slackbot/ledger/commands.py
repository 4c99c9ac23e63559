"""The ledger's commands: request, approve, reject, cancel, reverse. Lock, check, post, audit, owe.

Each public method is one unit of work (one transaction) and acts on a whole request: one
payment and 1 to 10 lines (allocation rows sharing ``request_id``), decided together. Rows are
locked in one fixed order — the request's lines by id, then the payment, then its invoices by
id — so concurrent requests and decisions never deadlock,
and every balance is read under the lock that protects it before it is spent. On SQLite the
whole transaction holds the write lock from its first statement (see ``slackbot.db``). The
rules themselves are in ``slackbot.ledger.rules``; this module only feeds them what it locked.

Nothing here knows about Slack. What people must be told is recorded in the outbox, in the same
transaction as the change that owes it (``slackbot.outbox.owed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.enums import AllocationStatus, Audience, Decision, EntryKind, LineChoice, OutboxKind
from models.limits import is_allocation_id, is_key
from models.schemas import Actor, AllocationSummary
from models.tables import Allocation, AuditEvent, Invoice, Partner, Payment
from slackbot.errors import NotFound
from slackbot.i18n.catalog import N_
from slackbot.ledger import rules
from slackbot.ledger.membership import acting_for
from slackbot.ledger.posting import post_entries
from slackbot.ledger.queries import LedgerQueries
from slackbot.outbox.home_queue import mark_for_request
from slackbot.outbox.owed import owe

T = TypeVar("T")

BILLING, REQUESTER, RECEIPT = Audience.BILLING, Audience.REQUESTER, Audience.RECEIPT


class Ledger(LedgerQueries):
    """The ledger's services: the queries it inherits, and the commands that change the books."""

    # ---------------------------------------------------------------- requests

    def request_allocation(
        self,
        user_id: str,
        payment_id: str,
        invoice_id: str,
        amount: int | str,
        *,
        note: str | None = None,
        request_key: str | None = None,
    ) -> AllocationSummary:
        """Record a request of one line and reserve its amount (see ``request_lines``)."""
        return self.request_lines(
            user_id, payment_id, [(invoice_id, amount)], note=note, request_key=request_key
        )

    def request_lines(
        self,
        user_id: str,
        payment_id: str,
        lines: Sequence[tuple[str, int | str]],
        *,
        note: str | None = None,
        request_key: str | None = None,
        chosen: LineChoice | None = None,
    ) -> AllocationSummary:
        """Record a request of 1 to 10 lines and reserve every line, all or nothing.

        ``lines`` are ``(invoice_id, amount as typed)`` in the order entered. The sum must fit
        what the payment has left unreserved, each line what its invoice has left, and an
        invoice appears once; a refusal names the block of the first line at fault
        (``rules.check_request_lines``) and changes nothing. ``request_key`` makes a retry
        safe: the same key again returns the first request.
        """
        # A note that shows nothing is no note (the field is optional), rather than a refusal.
        stored_note = rules.checked_note(note)
        rules.check_request_key(request_key)
        rules.check_line_count(len(lines))
        typed = [(str(invoice_id or ""), amount) for invoice_id, amount in lines]
        return self._retry_on_key_race(
            request_key,
            lambda: self._request(user_id, payment_id, typed, stored_note, request_key, chosen),
        )

    def _request(
        self,
        user_id: str,
        payment_id: str,
        lines: Sequence[tuple[str, int | str]],
        note: str | None,
        request_key: str | None,
        chosen: LineChoice | None,
    ) -> AllocationSummary:
        with self.db.transaction() as session:
            # Lock order: payment, then invoices by id (the allocations are new).
            payment = self._member_payment(session, user_id, payment_id, lock=True)
            if request_key is not None:
                earlier = session.scalar(
                    select(Allocation).where(Allocation.request_key == request_key)
                )
                if earlier is not None:
                    return self._summary(session, earlier, replayed=True)
            invoices = self._lock_invoices(session, [invoice_id for invoice_id, _ in lines])
            minors = rules.check_request_lines(
                payment,
                [
                    (invoice_id, invoices.get(invoice_id.strip()), amount)
                    for invoice_id, amount in lines
                ],
            )
            now = self.clock()
            ids = self._new_allocation_ids(session, len(lines))
            request_id = ids[0]
            rows: list[Allocation] = []
            for line_no, ((invoice_id, _), minor) in enumerate(
                zip(lines, minors, strict=True), start=1
            ):
                invoice = invoices[invoice_id.strip()]
                payment.pending += minor
                invoice.pending += minor
                rows.append(
                    Allocation(
                        allocation_id=ids[line_no - 1],
                        request_id=request_id,
                        line_no=line_no,
                        payment_id=payment.payment_id,
                        invoice_id=invoice.invoice_id,
                        partner_id=payment.partner_id,
                        currency=payment.currency,
                        amount=minor,
                        status=AllocationStatus.PENDING,
                        note=note,
                        requested_by=user_id,
                        requested_at=now,
                        # The request's key is its first line's: one key, one request.
                        request_key=request_key if line_no == 1 else None,
                        chosen=chosen,
                    )
                )
            session.add_all(rows)
            session.flush()
            self._audit_lines(session, user_id, "allocation.requested", rows, with_amount=True)
            self._owe(session, rows[0], OutboxKind.ALLOCATION_REQUESTED, (BILLING, REQUESTER))
            name = session.get_one(Partner, payment.partner_id).name
            return self._summary_of(rows, payment, name, invoices)

    # --------------------------------------------------------------- decisions

    def approve(self, allocation_id: int, actor: Actor) -> AllocationSummary:
        """Post every line of the request: debit unapplied cash, credit each invoice's receivable.

        ``allocation_id`` names any line of the request; one journal entry per line, balanced.
        """
        with self.db.transaction() as session:
            lines, name = self._pending_for_decision(
                session, allocation_id, actor, Decision.APPROVE
            )
            payment, invoices = self._lock_balances(session, lines)
            now = self.clock()
            for line in lines:
                invoice = invoices[line.invoice_id]
                payment.pending -= line.amount
                payment.allocated += line.amount
                invoice.pending -= line.amount
                invoice.applied += line.amount
            self._decide_lines(
                session,
                lines,
                status=AllocationStatus.APPROVED,
                decided_by=actor.user_id,
                decided_at=now,
            )
            post_entries(session, lines, EntryKind.ALLOCATION, actor.user_id, now)
            self._audit_lines(session, actor.user_id, "allocation.approved", lines)
            self._owe(
                session, lines[0], OutboxKind.ALLOCATION_APPROVED, (BILLING, REQUESTER, RECEIPT)
            )
            session.flush()
            return self._summary_of(lines, payment, name, invoices)

    def check_can_decide(self, allocation_id: int, actor: Actor, verb: str) -> AllocationSummary:
        """Raise the refusal ``approve``/``reject`` would raise now, changing nothing.

        Lets the Slack layer explain a refusal before it opens the reject modal; the decision
        itself checks again under lock.
        """
        with self.db.transaction(read_only=True) as session:
            lines, _ = self._pending_for_decision(
                session, allocation_id, actor, Decision(verb), lock=False
            )
            return self._summary(session, lines[0])

    def reject(self, allocation_id: int, actor: Actor, reason: str) -> AllocationSummary:
        """Release every line's reservation; the requester will read ``reason``."""
        reason = rules.required_reason(reason, rules.REJECT_ASK)
        with self.db.transaction() as session:
            lines, name = self._pending_for_decision(session, allocation_id, actor, Decision.REJECT)
            payment, invoices = self._release(session, lines)
            self._decide_lines(
                session,
                lines,
                status=AllocationStatus.REJECTED,
                decided_by=actor.user_id,
                decided_at=self.clock(),
                reason=reason,
            )
            self._audit_lines(session, actor.user_id, "allocation.rejected", lines, reason=reason)
            self._owe(
                session, lines[0], OutboxKind.ALLOCATION_REJECTED, (BILLING, REQUESTER, RECEIPT)
            )
            session.flush()
            return self._summary_of(lines, payment, name, invoices)

    def cancel(self, allocation_id: int, user_id: str) -> AllocationSummary:
        """The requester withdraws a pending request; every line's reservation is released."""
        with self.db.transaction() as session:
            lines = self._locked_request(session, allocation_id)
            first = lines[0]
            name, still_member = self._partner_and_member(session, first.partner_id, user_id)
            rules.check_may_cancel(first, user_id, still_member=still_member)
            rules.check_pending(first, Decision.CANCEL)
            payment, invoices = self._release(session, lines)
            self._decide_lines(
                session,
                lines,
                status=AllocationStatus.CANCELLED,
                decided_by=user_id,
                decided_at=self.clock(),
            )
            self._audit_lines(session, user_id, "allocation.cancelled", lines)
            self._owe(session, first, OutboxKind.ALLOCATION_CANCELLED, (BILLING, RECEIPT))
            session.flush()
            return self._summary_of(lines, payment, name, invoices)

    def reverse(self, allocation_id: int, actor: Actor, reason: str) -> AllocationSummary:
        """Undo an approved request with a compensating journal entry per line (never an edit)."""
        reason = rules.required_reason(reason, rules.REVERSE_ASK)
        rules.check_is_approver(actor, Decision.REVERSE)
        with self.db.transaction() as session:
            lines = self._locked_request(session, allocation_id)
            rules.check_reversible(lines[0])
            # Undoing an application of money is as much a decision as making it.
            name = self._require_independent(session, lines[0], actor, Decision.REVERSE)
            payment, invoices = self._lock_balances(session, lines)
            now = self.clock()
            for line in lines:
                payment.allocated -= line.amount
                invoices[line.invoice_id].applied -= line.amount
            self._decide_lines(
                session,
                lines,
                status=AllocationStatus.REVERSED,
                reversed_by=actor.user_id,
                reversed_at=now,
                reversal_reason=reason,
            )
            post_entries(session, lines, EntryKind.REVERSAL, actor.user_id, now)
            self._audit_lines(session, actor.user_id, "allocation.reversed", lines, reason=reason)
            self._owe(
                session, lines[0], OutboxKind.ALLOCATION_REVERSED, (BILLING, REQUESTER, RECEIPT)
            )
            session.flush()
            return self._summary_of(lines, payment, name, invoices)

    # ----------------------------------------------------------------- helpers

    def _locked_request(
        self, session: Session, allocation_id: int, *, lock: bool = True
    ) -> list[Allocation]:
        """Every line of the request that line ``allocation_id`` belongs to, line 1 first."""
        missing = NotFound(
            "allocation", N_("There is no allocation request {request}."), request=allocation_id
        )
        if not is_allocation_id(allocation_id):
            raise missing
        # A line's request never changes, so a sub-select finds it (unlocked) in the statement
        # that locks the lines; they are locked in id order (line order: ids grow with line
        # numbers), one order for every decision.
        request_id = (
            select(Allocation.request_id)
            .where(Allocation.allocation_id == allocation_id)
            .scalar_subquery()
        )
        stmt = (
            select(Allocation)
            .where(Allocation.request_id == request_id)
            .order_by(Allocation.allocation_id)
        )
        if lock:
            # FOR NO KEY UPDATE on PostgreSQL: it serialises decisions on this request, yet lets
            # another transaction insert rows that reference it (an outbox row, a message ref),
            # whose foreign-key check only takes KEY SHARE. A plain FOR UPDATE would make that
            # insert wait here while this transaction waits for the other's payment lock.
            stmt = stmt.with_for_update(key_share=True)
        lines = list(session.scalars(stmt))
        if not lines:
            raise missing
        return lines

    def _pending_for_decision(
        self,
        session: Session,
        allocation_id: int,
        actor: Actor,
        verb: Decision,
        *,
        lock: bool = True,
    ) -> tuple[list[Allocation], str]:
        """The request's lines, locked, and its partner's name, once ``verb`` may go ahead."""
        rules.check_is_approver(actor, verb)
        lines = self._locked_request(session, allocation_id, lock=lock)
        rules.check_pending(lines[0], verb)
        return lines, self._require_independent(session, lines[0], actor, verb)

    def _require_independent(
        self, session: Session, allocation: Allocation, actor: Actor, verb: Decision
    ) -> str:
        """Feed the segregation-of-duties rule what it needs, read now (membership can change).

        Returns the partner's name, which the decision's snapshot shows.
        """
        name, member = self._partner_and_member(session, allocation.partner_id, actor.user_id)
        rules.check_independent(
            allocation,
            actor,
            verb,
            actor_is_member=member,
            partner_name=(name or allocation.partner_id) if member else "",
        )
        return name

    def _partner_and_member(
        self, session: Session, partner_id: str, user_id: str
    ) -> tuple[str, bool]:
        """The partner's name, and whether ``user_id`` acts for it now: one statement."""
        name, member = session.execute(
            select(Partner.name, acting_for(user_id, Partner.partner_id)).where(
                Partner.partner_id == partner_id
            )
        ).one()
        return name, bool(member)

    def _decide_lines(self, session: Session, lines: Sequence[Allocation], **decision: Any) -> None:
        """Record the decision on every line in one UPDATE; the rows in hand get the values."""
        session.execute(
            update(Allocation)
            .where(Allocation.allocation_id.in_([line.allocation_id for line in lines]))
            .values(**decision)
            .execution_options(synchronize_session="evaluate")
        )

    def _lock_invoices(self, session: Session, invoice_ids: Sequence[str]) -> dict[str, Invoice]:
        """The invoices with these ids that exist, locked in id order (one order for all)."""
        keys = sorted({key for key in (i.strip() for i in invoice_ids) if is_key(key)})
        if not keys:
            return {}
        found = session.scalars(
            select(Invoice)
            .where(Invoice.invoice_id.in_(keys))
            .order_by(Invoice.invoice_id)
            .with_for_update()
        )
        return {invoice.invoice_id: invoice for invoice in found}

    def _lock_balances(
        self, session: Session, lines: Sequence[Allocation]
    ) -> tuple[Payment, dict[str, Invoice]]:
        payment = session.scalars(
            select(Payment).where(Payment.payment_id == lines[0].payment_id).with_for_update()
        ).one()
        return payment, self._lock_invoices(session, [line.invoice_id for line in lines])

    def _release(
        self, session: Session, lines: Sequence[Allocation]
    ) -> tuple[Payment, dict[str, Invoice]]:
        payment, invoices = self._lock_balances(session, lines)
        for line in lines:
            payment.pending -= line.amount
            invoices[line.invoice_id].pending -= line.amount
        return payment, invoices

    def _new_allocation_ids(self, session: Session, count: int) -> list[int]:
        """Ids for a new request's lines, known before insert: line 1's id is the request's."""
        if self.db.dialect == "postgresql":
            return list(
                session.scalars(
                    text(
                        "SELECT nextval(pg_get_serial_sequence('allocations', 'allocation_id'))"
                        " FROM generate_series(1, :count)"
                    ),
                    {"count": count},
                )
            )
        # SQLite: this transaction holds the write lock from its first statement, so nobody
        # else can take these ids before the insert (the next rowid is max + 1 there too).
        last = session.scalar(select(func.coalesce(func.max(Allocation.allocation_id), 0)))
        return [int(last or 0) + n for n in range(1, count + 1)]

    def _audit_lines(
        self,
        session: Session,
        actor: str,
        action: str,
        lines: Sequence[Allocation],
        *,
        with_amount: bool = False,
        **detail: Any,
    ) -> None:
        """One audit event per line (the trail stays per allocation), all in one INSERT; a line
        of a request of several lines also says which request and line it is."""
        events = []
        for line in lines:
            extra: dict[str, Any] = {"amount": line.amount} if with_amount else {}
            if len(lines) > 1:
                extra |= {"request_id": line.request_id, "line_no": line.line_no}
            events.append(
                {
                    "at": self.clock(),
                    "actor": actor,
                    "action": action,
                    "subject": f"allocation:{line.allocation_id}",
                    "detail": {
                        "payment_id": line.payment_id,
                        "invoice_id": line.invoice_id,
                        "amount": line.amount,
                        "currency": line.currency,
                        **extra,
                        **detail,
                    },
                }
            )
        session.execute(insert(AuditEvent).values(events))

    def _owe(
        self,
        session: Session,
        allocation: Allocation,
        kind: OutboxKind,
        audiences: Sequence[Audience],
    ) -> None:
        now = self.clock()
        owe(session, allocation, kind, list(audiences), now)
        # The Homes this changes (the requester's, the partner's members', the approvers'), in
        # the same transaction: coalesced per person and republished by the Home publisher.
        mark_for_request(session, allocation.partner_id, allocation.requested_by, at=now)

    def _retry_on_key_race(self, request_key: str | None, attempt: Callable[[], T]) -> T:
        """Two deliveries of one request racing past the key check: the loser reads the winner."""
        try:
            return attempt()
        except IntegrityError:
            if request_key is None:
                raise
            return attempt()
