"""The ledger's operations: every rule of who may allocate what, when, and how it is posted.

Each public method is one unit of work (one transaction). Rows are locked in one fixed order —
allocation, then payment, then invoice — so concurrent requests and decisions never deadlock,
and every balance is read under the lock that protects it before it is spent. On SQLite the
whole transaction holds the write lock from its first statement (see ``slackbot.db``).

Nothing here knows about Slack. What people must be told is recorded in the outbox, in the same
transaction as the change that owes it, as domain events (``allocation_requested`` for the
billing team, ``allocation_approved`` for the requester…).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, and_, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from models.enums import Audience, OutboxKind
from models.schemas import (
    Actor,
    AllocationSummary,
    InvoiceSummary,
    PartnerRef,
    PaymentSummary,
)
from models.tables import (
    Allocation,
    AuditEvent,
    Invoice,
    JournalEntry,
    JournalLine,
    Partner,
    PartnerMember,
    Payment,
)
from slackbot.db import Database
from slackbot.errors import (
    AlreadyDecided,
    InsufficientFunds,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from slackbot.money import format_amount, parse_amount
from slackbot.outbox.owed import owe

T = TypeVar("T")

BILLING = Audience.BILLING
REQUESTER = Audience.REQUESTER
RECEIPT = Audience.RECEIPT

MAX_NOTE = 1000
MAX_ID = 64
# allocations.allocation_id is a 32-bit INTEGER; a bigger number names nothing.
MAX_ALLOCATION_ID = 2**31 - 1
MAX_REASON = 1000
SEARCH_PAGE_MAX = 100
# Ids per IN (...) list, well under every driver's bound-parameter limit.
_IN_CHUNK = 500


def unapplied_cash_account(partner_id: str) -> str:
    return f"unapplied_cash:{partner_id}"


def receivable_account(partner_id: str, invoice_id: str) -> str:
    return f"receivable:{partner_id}:{invoice_id}"


class Ledger:
    """The services. ``clock`` is injectable so tests can pin ``decided_at``."""

    def __init__(self, db: Database, clock: Callable[[], dt.datetime] | None = None) -> None:
        self.db = db
        self.clock = clock or (lambda: dt.datetime.now(dt.UTC))

    # ----------------------------------------------------------------- reading

    def partners_of(self, user_id: str) -> list[PartnerRef]:
        if not _is_key(user_id):
            return []
        with self.db.transaction(read_only=True) as session:
            rows = session.execute(
                select(Partner.partner_id, Partner.name)
                .join(PartnerMember, PartnerMember.partner_id == Partner.partner_id)
                .where(PartnerMember.slack_user_id == user_id)
                .order_by(Partner.name, Partner.partner_id)
            ).all()
        return [PartnerRef(partner_id=r.partner_id, name=r.name) for r in rows]

    def payments_of(self, user_id: str, *, only_allocatable: bool = False) -> list[PaymentSummary]:
        """The member's payments with money left: unallocated, or reserved by pending requests.

        Ordered by partner, then oldest first. ``only_allocatable`` keeps those with money not yet
        reserved (what the allocation modal may offer).
        """
        if not _is_key(user_id):
            return []
        left = Payment.amount - Payment.allocated - Payment.pending
        condition = left > 0 if only_allocatable else or_(left > 0, Payment.pending > 0)
        with self.db.transaction(read_only=True) as session:
            rows = session.execute(
                select(Payment, Partner.name)
                .join(Partner, Partner.partner_id == Payment.partner_id)
                .join(PartnerMember, PartnerMember.partner_id == Payment.partner_id)
                .where(PartnerMember.slack_user_id == user_id, condition)
                .order_by(Partner.name, Partner.partner_id, Payment.received_on, Payment.payment_id)
            ).all()
        return [_payment_summary(payment, name) for payment, name in rows]

    def payment_for(self, user_id: str, payment_id: str) -> PaymentSummary:
        """One payment the member may act on, or ``NotFound`` naming the ``payment`` field."""
        with self.db.transaction(read_only=True) as session:
            payment = self._member_payment(session, user_id, payment_id)
            name = session.get_one(Partner, payment.partner_id).name
            return _payment_summary(payment, name)

    def search_open_invoices(
        self,
        user_id: str,
        payment_id: str,
        query: str = "",
        *,
        limit: int = SEARCH_PAGE_MAX,
        offset: int = 0,
    ) -> list[InvoiceSummary]:
        """Open invoices a payment could pay: same partner and currency, best matches first.

        Best first: an open amount equal to what the payment has left, then invoices whose id the
        payment's reference mentions, then the oldest due date. ``query`` narrows by invoice id
        (any part, any case) or by an amount typed as digits.
        """
        limit = max(1, min(limit, SEARCH_PAGE_MAX))
        with self.db.transaction(read_only=True) as session:
            payment = self._member_payment(session, user_id, payment_id)
            open_amount = Invoice.opening_due - Invoice.applied - Invoice.pending
            stmt = select(Invoice).where(
                Invoice.partner_id == payment.partner_id,
                Invoice.currency == payment.currency,
                open_amount > 0,
            )
            text = "".join(ch for ch in query if ch.isprintable()).strip()[:MAX_ID]
            if text:
                pattern = "%" + _escape_like(text.lower()) + "%"
                matches: list[ColumnElement[bool]] = [
                    func.lower(Invoice.invoice_id).like(pattern, escape="\\")
                ]
                try:
                    typed = parse_amount(text, payment.currency)
                except InvalidInput:
                    typed = None
                if typed is not None:
                    matches.append(open_amount == typed)
                    matches.append(Invoice.amount == typed)
                stmt = stmt.where(or_(*matches))
            reference = (payment.reference or "").lower()
            mentioned = (
                case(
                    (
                        and_(
                            func.length(Invoice.invoice_id) > 0,
                            func.instr(reference, func.lower(Invoice.invoice_id)) > 0,
                        ),
                        0,
                    ),
                    else_=1,
                )
                if self.db.dialect == "sqlite"
                else case((func.strpos(reference, func.lower(Invoice.invoice_id)) > 0, 0), else_=1)
            )
            exact = case((open_amount == payment.unallocated, 0), else_=1)
            stmt = (
                stmt.order_by(exact, mentioned, Invoice.due_on, Invoice.invoice_id)
                .limit(limit)
                .offset(max(0, offset))
            )
            return [_invoice_summary(invoice) for invoice in session.scalars(stmt)]

    def invoice_for(self, user_id: str, payment_id: str, invoice_id: str) -> InvoiceSummary:
        """An invoice the member's payment could pay, or the reason it cannot."""
        with self.db.transaction(read_only=True) as session:
            payment = self._member_payment(session, user_id, payment_id)
            invoice = self._payable_invoice(session, payment, invoice_id)
            return _invoice_summary(invoice)

    def allocation(self, allocation_id: int) -> AllocationSummary:
        with self.db.transaction(read_only=True) as session:
            allocation = (
                session.get(Allocation, allocation_id)
                if 0 < allocation_id <= MAX_ALLOCATION_ID
                else None
            )
            if allocation is None:
                raise NotFound("allocation", f"There is no allocation request {allocation_id}.")
            return self._summary(session, allocation)

    def history(self, user_id: str, *, limit: int = 20) -> list[AllocationSummary]:
        """The person's most recent requests, newest first."""
        if not _is_key(user_id):
            return []
        with self.db.transaction(read_only=True) as session:
            # Only partners the person still acts for: a removed member sees none of that
            # partner's requests or figures any more, their own included.
            still_member = select(PartnerMember.partner_id).where(
                PartnerMember.slack_user_id == user_id
            )
            rows = session.scalars(
                select(Allocation)
                .where(
                    Allocation.requested_by == user_id,
                    Allocation.partner_id.in_(still_member),
                )
                .order_by(Allocation.requested_at.desc(), Allocation.allocation_id.desc())
                .limit(max(1, min(limit, 100)))
            ).all()
            return [self._summary(session, allocation) for allocation in rows]

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
        note = readable_text(note)
        # A note that shows nothing is no note (the field is optional), rather than a refusal.
        note = note if has_readable_text(note) else None
        if note is not None and len(note) > MAX_NOTE:
            raise InvalidInput("note", f"Keep the note under {MAX_NOTE} characters.")
        if request_key is not None and len(request_key) > 128:
            raise InvalidInput("request", "The request key is too long.")
        return self._retry_on_key_race(
            request_key,
            lambda: self._request(user_id, payment_id, invoice_id, amount, note, request_key),
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
            if minor <= 0:
                raise InvalidInput("amount", "The amount must be more than zero.")
            invoice = self._payable_invoice(session, payment, invoice_id, lock=True)
            self._check_room(payment, invoice, minor)

            payment.pending += minor
            invoice.pending += minor
            allocation = Allocation(
                payment_id=payment.payment_id,
                invoice_id=invoice.invoice_id,
                partner_id=payment.partner_id,
                currency=payment.currency,
                amount=minor,
                status="pending",
                note=note,
                requested_by=user_id,
                requested_at=self.clock(),
                request_key=request_key,
            )
            session.add(allocation)
            session.flush()
            self._audit(session, user_id, "allocation.requested", allocation, amount=minor)
            self._owe(session, allocation, "allocation_requested", (BILLING, REQUESTER))
            return self._summary(session, allocation)

    def _check_room(self, payment: Payment, invoice: Invoice, minor: int) -> None:
        currency = payment.currency
        if minor > payment.unallocated:
            held = (
                f" ({format_amount(payment.pending, currency)} more is held by pending requests)"
                if payment.pending
                else ""
            )
            raise InsufficientFunds(
                "amount",
                f"{payment.payment_id} has {format_amount(payment.unallocated, currency)} left to"
                f" allocate{held}; you entered {format_amount(minor, currency)}.",
            )
        if minor > invoice.open_amount:
            if invoice.pending:
                message = (
                    f"{invoice.invoice_id} has {format_amount(invoice.amount_due, currency)} left"
                    f" to pay, {format_amount(invoice.pending, currency)} of it already requested;"
                    f" you can apply at most {format_amount(invoice.open_amount, currency)}"
                    f" and you entered {format_amount(minor, currency)}."
                )
            else:
                message = (
                    f"{invoice.invoice_id} has {format_amount(invoice.amount_due, currency)} left"
                    f" to pay; you entered {format_amount(minor, currency)}."
                )
            raise InsufficientFunds("amount", message)

    # --------------------------------------------------------------- decisions

    def approve(self, allocation_id: int, actor: Actor) -> AllocationSummary:
        """Post the allocation: debit unapplied cash, credit the invoice's receivable."""
        with self.db.transaction() as session:
            allocation = self._pending_for_decision(session, allocation_id, actor, "approve")
            payment, invoice = self._lock_balances(session, allocation)
            now = self.clock()
            payment.pending -= allocation.amount
            payment.allocated += allocation.amount
            invoice.pending -= allocation.amount
            invoice.applied += allocation.amount
            allocation.status = "approved"
            allocation.decided_by = actor.user_id
            allocation.decided_at = now
            self._post(
                session,
                allocation,
                "allocation",
                actor.user_id,
                now,
                debit=unapplied_cash_account(allocation.partner_id),
                credit=receivable_account(allocation.partner_id, allocation.invoice_id),
            )
            self._audit(session, actor.user_id, "allocation.approved", allocation)
            self._owe(session, allocation, "allocation_approved", (BILLING, REQUESTER, RECEIPT))
            return self._summary(session, allocation)

    def check_can_decide(self, allocation_id: int, actor: Actor, verb: str) -> AllocationSummary:
        """Raise the refusal ``approve``/``reject`` would raise now, changing nothing.

        Lets the Slack layer explain a refusal before it opens the reject modal; the decision
        itself checks again under lock.
        """
        with self.db.transaction(read_only=True) as session:
            allocation = self._pending_for_decision(session, allocation_id, actor, verb, lock=False)
            return self._summary(session, allocation)

    def reject(self, allocation_id: int, actor: Actor, reason: str) -> AllocationSummary:
        """Release the reservation; the requester will read ``reason``."""
        reason = _required_reason(reason, "Say why, so the requester knows what to fix.")
        with self.db.transaction() as session:
            allocation = self._pending_for_decision(session, allocation_id, actor, "reject")
            self._release(session, allocation)
            allocation.status = "rejected"
            allocation.decided_by = actor.user_id
            allocation.decided_at = self.clock()
            allocation.reason = reason
            self._audit(session, actor.user_id, "allocation.rejected", allocation, reason=reason)
            self._owe(session, allocation, "allocation_rejected", (BILLING, REQUESTER, RECEIPT))
            return self._summary(session, allocation)

    def cancel(self, allocation_id: int, user_id: str) -> AllocationSummary:
        """The requester withdraws a pending request; the reservation is released."""
        with self.db.transaction() as session:
            allocation = self._locked_allocation(session, allocation_id)
            if allocation.requested_by != user_id:
                raise NotAllowed("allocation", "Only the person who made a request can cancel it.")
            if session.get(PartnerMember, (allocation.partner_id, user_id)) is None:
                # Removed from the partner since asking: the request is billing's to decide now.
                raise NotAllowed(
                    "allocation",
                    "You no longer act for this partner, so you cannot cancel its requests;"
                    " billing will decide this one.",
                )
            self._require_pending(allocation)
            self._release(session, allocation)
            allocation.status = "cancelled"
            allocation.decided_by = user_id
            allocation.decided_at = self.clock()
            self._audit(session, user_id, "allocation.cancelled", allocation)
            self._owe(session, allocation, "allocation_cancelled", (BILLING, RECEIPT))
            return self._summary(session, allocation)

    def reverse(self, allocation_id: int, actor: Actor, reason: str) -> AllocationSummary:
        """Undo an approved allocation with a compensating journal entry (never an edit)."""
        reason = _required_reason(reason, "Say why the allocation is being reversed.")
        if not actor.can_approve:
            raise NotAllowed("allocation", "Only billing approvers can reverse an allocation.")
        with self.db.transaction() as session:
            allocation = self._locked_allocation(session, allocation_id)
            if allocation.status != "approved":
                raise self._already_decided(allocation, wanted="reverse")
            # Undoing an application of money is as much a decision as making it.
            self._require_independent(session, allocation, actor, "reverse")
            payment, invoice = self._lock_balances(session, allocation)
            now = self.clock()
            payment.allocated -= allocation.amount
            invoice.applied -= allocation.amount
            allocation.status = "reversed"
            allocation.reversed_by = actor.user_id
            allocation.reversed_at = now
            allocation.reversal_reason = reason
            self._post(
                session,
                allocation,
                "reversal",
                actor.user_id,
                now,
                debit=receivable_account(allocation.partner_id, allocation.invoice_id),
                credit=unapplied_cash_account(allocation.partner_id),
            )
            self._audit(session, actor.user_id, "allocation.reversed", allocation, reason=reason)
            self._owe(session, allocation, "allocation_reversed", (BILLING, REQUESTER, RECEIPT))
            return self._summary(session, allocation)

    # ----------------------------------------------------------------- helpers

    def _member_payment(
        self, session: Session, user_id: str, payment_id: str, *, lock: bool = False
    ) -> Payment:
        payment_id = (payment_id or "").strip()
        if not _is_key(payment_id) or not _is_key(user_id):
            raise NotFound(
                "payment",
                f"You have no payment {_shown_id(payment_id)}. Type /payments to see yours.",
            )
        stmt = (
            select(Payment)
            .join(PartnerMember, PartnerMember.partner_id == Payment.partner_id)
            .where(Payment.payment_id == payment_id, PartnerMember.slack_user_id == user_id)
        )
        if lock:
            stmt = stmt.with_for_update(of=Payment)
        payment = session.scalars(stmt).first()
        if payment is None:
            # The same words whether the payment is another partner's or does not exist, so
            # nobody learns which payment ids exist elsewhere.
            shown = _shown_id(payment_id)
            raise NotFound("payment", f"You have no payment {shown}. Type /payments to see yours.")
        return payment

    def _payable_invoice(
        self, session: Session, payment: Payment, invoice_id: str, *, lock: bool = False
    ) -> Invoice:
        invoice_id = (invoice_id or "").strip()
        stmt = select(Invoice).where(Invoice.invoice_id == invoice_id)
        if lock:
            stmt = stmt.with_for_update()
        invoice = session.scalars(stmt).first() if _is_key(invoice_id) else None
        shown = _shown_id(invoice_id)
        if invoice is None or invoice.partner_id != payment.partner_id:
            raise NotFound(
                "invoice",
                f"{shown} is not an open invoice of the partner that made {payment.payment_id}.",
            )
        if invoice.currency != payment.currency:
            raise InvalidInput(
                "invoice",
                f"{shown} is in {invoice.currency} and {payment.payment_id} is in"
                f" {payment.currency}; pick an invoice in {payment.currency}.",
            )
        if invoice.amount_due <= 0:
            raise InvalidInput("invoice", f"{shown} is already paid in full.")
        if invoice.open_amount <= 0:
            raise InvalidInput(
                "invoice",
                f"All that {shown} has left to pay is held by pending requests; pick another"
                " invoice or wait for billing to decide.",
            )
        return invoice

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
        in_range = 0 < allocation_id <= MAX_ALLOCATION_ID
        allocation = session.scalars(stmt).first() if in_range else None
        if allocation is None:
            raise NotFound("allocation", f"There is no allocation request {allocation_id}.")
        return allocation

    def _pending_for_decision(
        self, session: Session, allocation_id: int, actor: Actor, verb: str, *, lock: bool = True
    ) -> Allocation:
        if not actor.can_approve:
            raise NotAllowed("allocation", f"Only billing approvers can {verb} requests.")
        allocation = self._locked_allocation(session, allocation_id, lock=lock)
        self._require_pending(allocation, wanted=verb)
        self._require_independent(session, allocation, actor, verb)
        return allocation

    def _require_independent(
        self, session: Session, allocation: Allocation, actor: Actor, verb: str
    ) -> None:
        """Segregation of duties: nobody decides for a partner they act for.

        The requester is refused first (the more specific reason); then anyone who is a member
        of the request's partner, since a member could have asked a colleague to request it.
        Membership is read when deciding, so a member removed since then may decide again.
        """
        if allocation.requested_by == actor.user_id:
            raise NotAllowed(
                "allocation",
                f"You made this request, so another approver has to {verb} it.",
            )
        member = session.scalar(
            select(PartnerMember.slack_user_id).where(
                PartnerMember.partner_id == allocation.partner_id,
                PartnerMember.slack_user_id == actor.user_id,
            )
        )
        if member is not None:
            name = session.get_one(Partner, allocation.partner_id).name or allocation.partner_id
            raise NotAllowed(
                "allocation",
                f"You are a member of {_shown_name(name)}, so you cannot {verb} its requests;"
                " another approver must.",
            )

    def _require_pending(self, allocation: Allocation, wanted: str = "cancel") -> None:
        if allocation.status != "pending":
            raise self._already_decided(allocation, wanted=wanted)

    def _already_decided(self, allocation: Allocation, *, wanted: str) -> AlreadyDecided:
        status = allocation.status
        if status == "pending":
            return AlreadyDecided(
                f"Request {allocation.allocation_id} is still waiting for a decision; only an"
                f" approved allocation can be {'reversed' if wanted == 'reverse' else wanted}.",
                allocation_id=allocation.allocation_id,
                status=status,
                decided_by=None,
                decided_at=None,
            )
        if status == "reversed":
            who, when = allocation.reversed_by, allocation.reversed_at
        else:
            who, when = allocation.decided_by, allocation.decided_at
        when_text = when.strftime("%Y-%m-%d %H:%M UTC") if when else "earlier"
        when = _aware(when)
        return AlreadyDecided(
            f"Request {allocation.allocation_id} was already {status} by {who} at {when_text};"
            f" nothing changed.",
            allocation_id=allocation.allocation_id,
            status=status,
            decided_by=who,
            decided_at=when,
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

    def _post(
        self,
        session: Session,
        allocation: Allocation,
        kind: str,
        posted_by: str,
        at: dt.datetime,
        *,
        debit: str,
        credit: str,
    ) -> None:
        entry = JournalEntry(
            allocation_id=allocation.allocation_id, kind=kind, posted_at=at, posted_by=posted_by
        )
        session.add(entry)
        session.flush()
        session.add_all(
            [
                JournalLine(
                    entry_id=entry.entry_id,
                    account=debit,
                    debit=allocation.amount,
                    credit=0,
                    currency=allocation.currency,
                ),
                JournalLine(
                    entry_id=entry.entry_id,
                    account=credit,
                    debit=0,
                    credit=allocation.amount,
                    currency=allocation.currency,
                ),
            ]
        )

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
        self, session: Session, allocation: Allocation, kind: str, audiences: Sequence[str]
    ) -> None:
        owe(session, allocation, OutboxKind(kind), [Audience(a) for a in audiences], self.clock())

    def _summary(
        self, session: Session, allocation: Allocation, *, replayed: bool = False
    ) -> AllocationSummary:
        session.flush()
        payment = session.get_one(Payment, allocation.payment_id)
        invoice = session.get_one(Invoice, allocation.invoice_id)
        partner = session.get_one(Partner, allocation.partner_id)
        return AllocationSummary(
            allocation_id=allocation.allocation_id,
            payment_id=allocation.payment_id,
            invoice_id=allocation.invoice_id,
            partner_id=allocation.partner_id,
            partner_name=partner.name,
            currency=allocation.currency,
            amount=allocation.amount,
            status=allocation.status,
            note=allocation.note,
            requested_by=allocation.requested_by,
            requested_at=_aware(allocation.requested_at),
            decided_by=allocation.decided_by,
            decided_at=_aware(allocation.decided_at),
            reason=allocation.reason,
            reversed_by=allocation.reversed_by,
            reversed_at=_aware(allocation.reversed_at),
            reversal_reason=allocation.reversal_reason,
            payment_unallocated=payment.unallocated,
            payment_pending=payment.pending,
            invoice_amount_due=invoice.amount_due,
            invoice_pending=invoice.pending,
            replayed=replayed,
            payment_reference=payment.reference or "",
            payment_received_on=payment.received_on,
            invoice_amount=invoice.amount,
            invoice_due_on=invoice.due_on,
            as_of=self.clock().date(),
        )

    def _retry_on_key_race(self, request_key: str | None, attempt: Callable[[], T]) -> T:
        """Two deliveries of one request racing past the key check: the loser reads the winner."""
        try:
            return attempt()
        except IntegrityError:
            if request_key is None:
                raise
            return attempt()


def _payment_summary(payment: Payment, partner_name: str) -> PaymentSummary:
    return PaymentSummary(
        payment_id=payment.payment_id,
        partner_id=payment.partner_id,
        partner_name=partner_name,
        currency=payment.currency,
        amount=payment.amount,
        allocated=payment.allocated,
        pending=payment.pending,
        received_on=payment.received_on,
        reference=payment.reference or "",
    )


def _invoice_summary(invoice: Invoice) -> InvoiceSummary:
    return InvoiceSummary(
        invoice_id=invoice.invoice_id,
        partner_id=invoice.partner_id,
        currency=invoice.currency,
        amount=invoice.amount,
        amount_due=invoice.amount_due,
        pending=invoice.pending,
        issued_on=invoice.issued_on,
        due_on=invoice.due_on,
    )


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    """SQLite hands back naive datetimes; everything stored is UTC."""
    if value is None or value.tzinfo is not None:
        return value
    return value.replace(tzinfo=dt.UTC)


def _is_key(value: str) -> bool:
    """Could ``value`` be an id at all? (PostgreSQL refuses NUL in text, and ids are short.)"""
    return isinstance(value, str) and 0 < len(value) <= MAX_ID and value.isprintable()


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _shown_id(value: str) -> str:
    cleaned = "".join(ch for ch in value if ch.isprintable())
    return (cleaned[:40] + "…") if len(cleaned) > 40 else (cleaned or "(none)")


def _shown_name(value: str) -> str:
    cleaned = " ".join(readable_text(value).split())
    return (cleaned[:80] + "…") if len(cleaned) > 80 else (cleaned or "this partner")


# What a note or reason may not carry: nothing a person can read, and nothing a database should
# store. Cc (controls, NUL among them: PostgreSQL refuses it in text), Cf (zero-width and bidi
# format characters, BOM, soft hyphen), Co (private use), Cs (lone surrogates, which cannot be
# encoded as UTF-8 at all). Line and paragraph separators become ordinary newlines.
_STRIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Co", "Cs"})
_LINE_BREAKS = {"\r\n": "\n", "\r": "\n", "\u2028": "\n", "\u2029": "\n", "\x85": "\n"}
# Joiners shape emoji sequences (👩‍👩‍👧) and Persian/Indic words; between two visible
# characters they are text, anywhere else they are invisible padding.
_JOINERS = frozenset({"\u200c", "\u200d"})
# Tag characters spell subdivision flags (🏴 + tags + cancel tag, e.g. the Scottish flag).
_BLACK_FLAG = "\U0001f3f4"
_TAGS = range(0xE0020, 0xE0080)
# Letters and symbols that render as nothing: they make a text look filled when it says nothing.
_BLANK_GLYPHS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u034f")
_READABLE_CATEGORIES = ("L", "N", "P", "S")


def readable_text(text: str | None) -> str:
    """A note or reason as it is stored: control and invisible characters removed, trimmed.

    Kept: every script, emoji with their joiners, variation selectors and flag tags, tabs as
    spaces, and ordinary newlines (the Slack fields are multi-line). The one function every door
    (Slack, the CLI) goes through, so what is stored is what a person typed and can read.
    """
    if not text:
        return ""
    for old, new in _LINE_BREAKS.items():
        text = text.replace(old, new)
    text = text.replace("\t", " ")
    kept: list[str] = []
    in_flag = False
    for index, ch in enumerate(text):
        if ord(ch) in _TAGS or ch == "\U000e007f":
            if in_flag:
                kept.append(ch)
                in_flag = ch != "\U000e007f"
            continue
        in_flag = ch == _BLACK_FLAG
        if ch in _JOINERS:
            after = text[index + 1] if index + 1 < len(text) else ""
            if kept and _visible(kept[-1]) and after and _visible(after):
                kept.append(ch)
            continue
        if ch == "\n" or unicodedata.category(ch) not in _STRIPPED_CATEGORIES:
            kept.append(ch)
    lines = [line.rstrip() for line in "".join(kept).split("\n")]
    return "\n".join(lines).strip()


def has_readable_text(text: str) -> bool:
    """Does ``text`` say anything: a letter, digit, punctuation or symbol that shows?"""
    return any(
        unicodedata.category(ch).startswith(_READABLE_CATEGORIES) and ch not in _BLANK_GLYPHS
        for ch in text
    )


def _visible(ch: str) -> bool:
    return not ch.isspace() and unicodedata.category(ch) not in _STRIPPED_CATEGORIES


def _required_reason(reason: str | None, ask: str) -> str:
    """The reason as stored, or ``InvalidInput`` on the ``reason`` field saying what to write."""
    typed = reason or ""
    cleaned = readable_text(typed)
    if not has_readable_text(cleaned):
        if typed.strip():
            raise InvalidInput(
                "reason",
                "The reason has only invisible or control characters, so the requester would"
                f" read nothing. {ask}",
            )
        raise InvalidInput("reason", ask)
    if len(cleaned) > MAX_REASON:
        raise InvalidInput("reason", f"Keep the reason under {MAX_REASON} characters.")
    return cleaned
