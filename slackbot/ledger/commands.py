"""The ledger's commands: request, approve, reject, cancel, reverse. Lock, check, post, audit, owe.

Each public method is one unit of work (one transaction). Rows are locked in one fixed order —
allocation, then payment, then invoice — so concurrent requests and decisions never deadlock,
and every balance is read under the lock that protects it before it is spent. On SQLite the
whole transaction holds the write lock from its first statement (see ``slackbot.db``). The
rules themselves are in ``slackbot.ledger.rules``; this module only feeds them what it locked.

Nothing here knows about Slack. What people must be told is recorded in the outbox, in the same
transaction as the change that owes it (``slackbot.outbox.owed``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.enums import AllocationStatus, Audience, Decision, EntryKind, OutboxKind
from models.limits import is_allocation_id
from models.schemas import Actor, AllocationSummary
from models.tables import Allocation, AuditEvent, Invoice, Partner, PartnerMember, Payment
from slackbot.errors import NotFound
from slackbot.ledger import rules
from slackbot.ledger.posting import post
from slackbot.ledger.queries import LedgerQueries
from slackbot.money import parse_amount
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
        """Record a request and reserve its amount against both the payment and the invoice.

        ``request_key`` makes a retry safe: the same key again returns the first request.
        """
        # A note that shows nothing is no note (the field is optional), rather than a refusal.
        stored_note = rules.checked_note(note)
        rules.check_request_key(request_key)
        return self._retry_on_key_race(
            request_key,
            lambda: self._request(
                user_id, payment_id, invoice_id, amount, stored_note, request_key
            ),
        )

    def _request(
        self,
        user_id: str,
        payment_id: str,
        invoice_id: str,
        amount: int | str,
        note: str | None,
        request_key: str | None,
    ) -> AllocationSummary:
        with self.db.transaction() as session:
            # Lock order: payment, then invoice (allocation is new).
            payment = self._member_payment(session, user_id, payment_id, lock=True)
            if request_key is not None:
                earlier = session.scalar(
                    select(Allocation).where(Allocation.request_key == request_key)
                )
                if earlier is not None:
                    return self._summary(session, earlier, replayed=True)
            minor = (
                parse_amount(amount, payment.currency) if isinstance(amount, str) else int(amount)
            )
            rules.check_amount_positive(minor)
            invoice = self._payable_invoice(session, payment, invoice_id, lock=True)
            rules.check_room(payment, invoice, minor)

            payment.pending += minor
            invoice.pending += minor
            allocation = Allocation(
                payment_id=payment.payment_id,
                invoice_id=invoice.invoice_id,
                partner_id=payment.partner_id,
                currency=payment.currency,
                amount=minor,
                status=AllocationStatus.PENDING,
                note=note,
                requested_by=user_id,
                requested_at=self.clock(),
                request_key=request_key,
            )
            session.add(allocation)
            session.flush()
            self._audit(session, user_id, "allocation.requested", allocation, amount=minor)
            self._owe(session, allocation, OutboxKind.ALLOCATION_REQUESTED, (BILLING, REQUESTER))
            return self._summary(session, allocation)

    # --------------------------------------------------------------- decisions

    def approve(self, allocation_id: int, actor: Actor) -> AllocationSummary:
        """Post the allocation: debit unapplied cash, credit the invoice's receivable."""
        with self.db.transaction() as session:
            allocation = self._pending_for_decision(session, allocation_id, actor, Decision.APPROVE)
            payment, invoice = self._lock_balances(session, allocation)
            now = self.clock()
            payment.pending -= allocation.amount
            payment.allocated += allocation.amount
            invoice.pending -= allocation.amount
            invoice.applied += allocation.amount
            allocation.status = AllocationStatus.APPROVED
            allocation.decided_by = actor.user_id
            allocation.decided_at = now
            post(session, allocation, EntryKind.ALLOCATION, actor.user_id, now)
            self._audit(session, actor.user_id, "allocation.approved", allocation)
            self._owe(
                session, allocation, OutboxKind.ALLOCATION_APPROVED, (BILLING, REQUESTER, RECEIPT)
            )
            return self._summary(session, allocation)

    def check_can_decide(self, allocation_id: int, actor: Actor, verb: str) -> AllocationSummary:
        """Raise the refusal ``approve``/``reject`` would raise now, changing nothing.

        Lets the Slack layer explain a refusal before it opens the reject modal; the decision
        itself checks again under lock.
        """
        with self.db.transaction(read_only=True) as session:
            allocation = self._pending_for_decision(
                session, allocation_id, actor, Decision(verb), lock=False
            )
            return self._summary(session, allocation)

    def reject(self, allocation_id: int, actor: Actor, reason: str) -> AllocationSummary:
        """Release the reservation; the requester will read ``reason``."""
        reason = rules.required_reason(reason, rules.REJECT_ASK)
        with self.db.transaction() as session:
            allocation = self._pending_for_decision(session, allocation_id, actor, Decision.REJECT)
            self._release(session, allocation)
            allocation.status = AllocationStatus.REJECTED
            allocation.decided_by = actor.user_id
            allocation.decided_at = self.clock()
            allocation.reason = reason
            self._audit(session, actor.user_id, "allocation.rejected", allocation, reason=reason)
            self._owe(
                session, allocation, OutboxKind.ALLOCATION_REJECTED, (BILLING, REQUESTER, RECEIPT)
            )
            return self._summary(session, allocation)

    def cancel(self, allocation_id: int, user_id: str) -> AllocationSummary:
        """The requester withdraws a pending request; the reservation is released."""
        with self.db.transaction() as session:
            allocation = self._locked_allocation(session, allocation_id)
            still_member = session.get(PartnerMember, (allocation.partner_id, user_id))
            rules.check_may_cancel(allocation, user_id, still_member=still_member is not None)
            rules.check_pending(allocation, Decision.CANCEL)
            self._release(session, allocation)
            allocation.status = AllocationStatus.CANCELLED
            allocation.decided_by = user_id
            allocation.decided_at = self.clock()
            self._audit(session, user_id, "allocation.cancelled", allocation)
            self._owe(session, allocation, OutboxKind.ALLOCATION_CANCELLED, (BILLING, RECEIPT))
            return self._summary(session, allocation)

    def reverse(self, allocation_id: int, actor: Actor, reason: str) -> AllocationSummary:
        """Undo an approved allocation with a compensating journal entry (never an edit)."""
        reason = rules.required_reason(reason, rules.REVERSE_ASK)
        rules.check_is_approver(actor, Decision.REVERSE)
        with self.db.transaction() as session:
            allocation = self._locked_allocation(session, allocation_id)
            rules.check_reversible(allocation)
            # Undoing an application of money is as much a decision as making it.
            self._require_independent(session, allocation, actor, Decision.REVERSE)
            payment, invoice = self._lock_balances(session, allocation)
            now = self.clock()
            payment.allocated -= allocation.amount
            invoice.applied -= allocation.amount
            allocation.status = AllocationStatus.REVERSED
            allocation.reversed_by = actor.user_id
            allocation.reversed_at = now
            allocation.reversal_reason = reason
            post(session, allocation, EntryKind.REVERSAL, actor.user_id, now)
            self._audit(session, actor.user_id, "allocation.reversed", allocation, reason=reason)
            self._owe(
                session, allocation, OutboxKind.ALLOCATION_REVERSED, (BILLING, REQUESTER, RECEIPT)
            )
            return self._summary(session, allocation)

    # ----------------------------------------------------------------- helpers

    def _locked_allocation(
        self, session: Session, allocation_id: int, *, lock: bool = True
    ) -> Allocation:
        stmt = select(Allocation).where(Allocation.allocation_id == allocation_id)
        if lock:
            # FOR NO KEY UPDATE on PostgreSQL: it serialises decisions on this request, yet lets
            # another transaction insert rows that reference it (an outbox row, a message ref),
            # whose foreign-key check only takes KEY SHARE. A plain FOR UPDATE would make that
            # insert wait here while this transaction waits for the other's payment lock.
            stmt = stmt.with_for_update(key_share=True)
        allocation = session.scalars(stmt).first() if is_allocation_id(allocation_id) else None
        if allocation is None:
            raise NotFound("allocation", f"There is no allocation request {allocation_id}.")
        return allocation

    def _pending_for_decision(
        self,
        session: Session,
        allocation_id: int,
        actor: Actor,
        verb: Decision,
        *,
        lock: bool = True,
    ) -> Allocation:
        rules.check_is_approver(actor, verb)
        allocation = self._locked_allocation(session, allocation_id, lock=lock)
        rules.check_pending(allocation, verb)
        self._require_independent(session, allocation, actor, verb)
        return allocation

    def _require_independent(
        self, session: Session, allocation: Allocation, actor: Actor, verb: Decision
    ) -> None:
        """Feed the segregation-of-duties rule what it needs, read now (membership can change)."""
        member = session.scalar(
            select(PartnerMember.slack_user_id).where(
                PartnerMember.partner_id == allocation.partner_id,
                PartnerMember.slack_user_id == actor.user_id,
            )
        )
        name = ""
        if member is not None:
            name = session.get_one(Partner, allocation.partner_id).name or allocation.partner_id
        rules.check_independent(
            allocation, actor, verb, actor_is_member=member is not None, partner_name=name
        )

    def _lock_balances(self, session: Session, allocation: Allocation) -> tuple[Payment, Invoice]:
        payment = session.scalars(
            select(Payment).where(Payment.payment_id == allocation.payment_id).with_for_update()
        ).one()
        invoice = session.scalars(
            select(Invoice).where(Invoice.invoice_id == allocation.invoice_id).with_for_update()
        ).one()
        return payment, invoice

    def _release(self, session: Session, allocation: Allocation) -> None:
        payment, invoice = self._lock_balances(session, allocation)
        payment.pending -= allocation.amount
        invoice.pending -= allocation.amount

    def _audit(
        self, session: Session, actor: str, action: str, allocation: Allocation, **detail: Any
    ) -> None:
        session.add(
            AuditEvent(
                at=self.clock(),
                actor=actor,
                action=action,
                subject=f"allocation:{allocation.allocation_id}",
                detail={
                    "payment_id": allocation.payment_id,
                    "invoice_id": allocation.invoice_id,
                    "amount": allocation.amount,
                    "currency": allocation.currency,
                    **detail,
                },
            )
        )

    def _owe(
        self,
        session: Session,
        allocation: Allocation,
        kind: OutboxKind,
        audiences: Sequence[Audience],
    ) -> None:
        owe(session, allocation, kind, list(audiences), self.clock())

    def _retry_on_key_race(self, request_key: str | None, attempt: Callable[[], T]) -> T:
        """Two deliveries of one request racing past the key check: the loser reads the winner."""
        try:
            return attempt()
        except IntegrityError:
            if request_key is None:
                raise
            return attempt()
