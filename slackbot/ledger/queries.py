"""What the ledger answers without changing anything: lists, history, and invoice search.

Also the reads the commands build on (a member's payment, a payable invoice, a request's
snapshot), so a command and a query can never disagree on what a person may see.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, Row, cast, func, or_, select
from sqlalchemy.orm import Session

from models.enums import LineChoice
from models.limits import MAX_ID, is_allocation_id, is_key
from models.schemas import (
    AllocationLine,
    AllocationSummary,
    InvoiceSummary,
    PartnerRef,
    PaymentSummary,
)
from models.tables import Allocation, Invoice, Partner, Payment
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.errors import InvalidInput, NotFound
from slackbot.i18n.catalog import N_
from slackbot.ledger import rules
from slackbot.ledger.matching import (
    InvoicePool,
    Suggestion,
    suggest_allocations,
)
from slackbot.ledger.membership import acting_for, partner_ids_for
from slackbot.ledger.naming import named_invoice_ids, reference_numbers
from slackbot.money import parse_amount

SEARCH_PAGE_MAX = 100
# Matches of what was typed read in one go, beyond the page: fewer means all are in hand.
TYPED_READ = 200
HISTORY_MAX = 100
# An invoice read as the columns of ``_SUMMARY_COLUMNS`` (plus a flag or two).
_Row = Row[*tuple[Any, ...]]


class LedgerQueries:
    """The read side. ``clock`` is injectable so tests can pin times and the ``as_of`` day."""

    def __init__(self, db: Database, clock: Clock | None = None) -> None:
        self.db = db
        self.clock: Clock = clock or system_clock

    def partners_of(self, user_id: str) -> list[PartnerRef]:
        if not is_key(user_id):
            return []
        with self.db.transaction(read_only=True) as session:
            rows = session.execute(
                select(Partner.partner_id, Partner.name)
                .where(acting_for(user_id, Partner.partner_id))
                .order_by(Partner.name, Partner.partner_id)
            ).all()
        return [PartnerRef(partner_id=r.partner_id, name=r.name) for r in rows]

    def payments_of(self, user_id: str, *, only_allocatable: bool = False) -> list[PaymentSummary]:
        """The member's payments with money left: unallocated, or reserved by pending requests.

        Ordered by partner, then oldest first. ``only_allocatable`` keeps those with money not yet
        reserved (what the allocation modal may offer).
        """
        if not is_key(user_id):
            return []
        left = Payment.unallocated
        condition = left > 0 if only_allocatable else or_(left > 0, Payment.pending > 0)
        with self.db.transaction(read_only=True) as session:
            rows = session.execute(
                select(Payment, Partner.name)
                .join(Partner, Partner.partner_id == Payment.partner_id)
                .where(acting_for(user_id, Payment.partner_id), condition)
                .order_by(Partner.name, Partner.partner_id, Payment.received_on, Payment.payment_id)
            ).all()
        return [payment_summary(payment, name) for payment, name in rows]

    def payment_for(self, user_id: str, payment_id: str) -> PaymentSummary:
        """One payment the member may act on, or ``NotFound`` naming the ``payment`` field."""
        with self.db.transaction(read_only=True) as session:
            payment = self._member_payment(session, user_id, payment_id)
            name = session.get_one(Partner, payment.partner_id).name
            return payment_summary(payment, name)

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

        Best first: an open amount equal to what the payment has left, then invoices the
        payment's reference names (``naming.named_invoice_ids``, the suggestions' rule, over
        the open invoices that match what was typed), then the oldest due date (then id).
        ``query`` narrows by invoice id (any part, any case) or by an amount typed as digits.

        No query sorts the partner's thousands of open invoices (an options load runs per
        keystroke). What was typed usually leaves a few: they are read in one statement and
        ranked here. Otherwise one read fetches the exact-amount invoices and those the
        reference could name, the rest come in ``ix_invoices_partner_currency_due`` order
        under a LIMIT, and they are merged here.
        """
        limit = max(1, min(limit, SEARCH_PAGE_MAX))
        offset = max(0, offset)
        wanted = offset + limit
        with self.db.transaction(read_only=True) as session:
            payment = self._member_payment(session, user_id, payment_id)
            open_here = [
                Invoice.partner_id == payment.partner_id,
                Invoice.currency == payment.currency,
                Invoice.open_amount > 0,
            ]
            text = "".join(ch for ch in query if ch.isprintable()).strip()[:MAX_ID]
            if text:
                open_here.append(or_(*_matches(text, payment.currency)))
                read = wanted + TYPED_READ
                typed = session.execute(
                    select(*_SUMMARY_COLUMNS, _exact(payment)).where(*open_here).limit(read)
                ).all()
                if len(typed) < read:  # every match is in hand
                    return [_invoice_from_row(row) for row in _ranked(payment, typed)][
                        offset:wanted
                    ]
            found = self._best_matches(session, payment, open_here)
            if len(found) < wanted:
                stmt = select(*_SUMMARY_COLUMNS).where(*open_here)
                if payment.unallocated > 0:
                    stmt = stmt.where(Invoice.open_amount != payment.unallocated)
                if found:
                    stmt = stmt.where(Invoice.invoice_id.not_in([r.invoice_id for r in found]))
                stmt = stmt.order_by(Invoice.due_on, Invoice.invoice_id)
                found += session.execute(stmt.limit(wanted - len(found))).all()
        return [_invoice_from_row(row) for row in found[offset:wanted]]

    def open_invoices_among(
        self, user_id: str, payment_id: str, invoice_ids: Sequence[str]
    ) -> dict[str, InvoiceSummary]:
        """Those of ``invoice_ids`` that the member's payment could pay (same partner and
        currency, something open), by id, as the options load shows them: one read by key,
        for a suggestion's few lines (a modal filled in with it)."""
        wanted = sorted({i for i in invoice_ids if is_key(i)})
        if not wanted:
            return {}
        with self.db.transaction(read_only=True) as session:
            payment = self._member_payment(session, user_id, payment_id)
            rows = session.execute(
                select(*_SUMMARY_COLUMNS).where(
                    Invoice.invoice_id.in_(wanted),
                    Invoice.partner_id == payment.partner_id,
                    Invoice.currency == payment.currency,
                    Invoice.open_amount > 0,
                )
            ).all()
        return {row.invoice_id: _invoice_from_row(row) for row in rows}

    def _best_matches(
        self, session: Session, payment: Payment, open_here: list[ColumnElement[bool]]
    ) -> list[_Row]:
        """The invoices of ``open_here`` that match the payment's amount left or that its
        reference names, in the search's order.

        One read, of those invoices and of every one the reference could name at all
        (``naming.may_be_named``'s test in SQL, :func:`_may_be_named_sql`), then the rule decides.
        """
        numbers = reference_numbers(payment.reference or "")
        exact = payment.unallocated
        wanted: list[ColumnElement[bool]] = [Invoice.open_amount == exact] if exact > 0 else []
        if numbers is not None:
            wanted.append(_may_be_named_sql(numbers, self.db.dialect))
        if not wanted:
            return []
        rows = session.execute(
            select(*_SUMMARY_COLUMNS, _exact(payment)).where(*open_here, or_(*wanted))
        ).all()
        # Every id the reference could name is among the rows, so this is the answer
        # ``named_invoice_ids`` gives over all of ``open_here``.
        return _ranked(payment, rows, only_best=True)

    def suggestions(self, user_id: str, payment_id: str) -> list[Suggestion]:
        """Lines to pre-fill for the member's payment, best first ([] when none fits).

        Only a pre-fill: the request's own checks decide at submit, since invoices may change.
        """
        with self.db.transaction(read_only=True) as session:
            payment = self._member_payment(session, user_id, payment_id)
            pool = open_invoice_pool(session, payment.partner_id, payment.currency)
        return suggest_allocations(payment, pool)

    def best_suggestions(
        self, user_id: str, payments: Sequence[PaymentSummary]
    ) -> dict[str, Suggestion]:
        """``payment_id`` -> the best suggestion, for the member's payments that have one.

        One query per (partner, currency), shared by that partner's payments in the currency;
        payments of partners the person does not act for get none.
        """
        if not is_key(user_id) or not payments:
            return {}
        groups: dict[tuple[str, str], list[PaymentSummary]] = {}
        for payment in payments:
            if payment.unallocated > 0:
                groups.setdefault((payment.partner_id, payment.currency), []).append(payment)
        best: dict[str, Suggestion] = {}
        with self.db.transaction(read_only=True) as session:
            partners = set(session.scalars(partner_ids_for(user_id)))
            for (partner_id, currency), group in sorted(groups.items()):
                if partner_id not in partners:
                    continue
                pool = open_invoice_pool(session, partner_id, currency)
                for payment in group:
                    found = suggest_allocations(payment, pool)
                    if found:
                        best[payment.payment_id] = found[0]
        return best

    def allocation(self, allocation_id: int) -> AllocationSummary:
        """The request that line ``allocation_id`` belongs to (any line names its request)."""
        with self.db.transaction(read_only=True) as session:
            allocation = (
                session.get(Allocation, allocation_id) if is_allocation_id(allocation_id) else None
            )
            if allocation is None:
                raise NotFound(
                    "allocation",
                    N_("There is no allocation request {request}."),
                    request=allocation_id,
                )
            return self._summary(session, allocation)

    def history(self, user_id: str, *, limit: int = 20) -> list[AllocationSummary]:
        """The person's most recent requests, newest first: one summary per request."""
        if not is_key(user_id):
            return []
        with self.db.transaction(read_only=True) as session:
            # Only partners the person still acts for: a removed member sees none of that
            # partner's requests or figures any more, their own included.
            still_member = partner_ids_for(user_id)
            rows = session.scalars(
                select(Allocation)
                .where(
                    Allocation.requested_by == user_id,
                    Allocation.partner_id.in_(still_member),
                    # A request is its first line; the summary gathers the others.
                    Allocation.line_no == 1,
                )
                .order_by(Allocation.requested_at.desc(), Allocation.allocation_id.desc())
                .limit(max(1, min(limit, HISTORY_MAX)))
            ).all()
            return [self._summary(session, allocation) for allocation in rows]

    # ------------------------------------------------------- reads the commands build on

    def _member_payment(
        self, session: Session, user_id: str, payment_id: str, *, lock: bool = False
    ) -> Payment:
        payment_id = (payment_id or "").strip()
        # The same words whether the payment is another partner's or does not exist, so nobody
        # learns which payment ids exist elsewhere.
        missing = NotFound(
            "payment",
            N_("You have no payment {payment}. Type /payments to see yours."),
            payment=rules.shown_id(payment_id),
        )
        if not is_key(payment_id) or not is_key(user_id):
            raise missing
        stmt = select(Payment).where(
            Payment.payment_id == payment_id, acting_for(user_id, Payment.partner_id)
        )
        if lock:
            stmt = stmt.with_for_update(of=Payment)
        payment = session.scalars(stmt).first()
        if payment is None:
            raise missing
        return payment

    def _payable_invoice(
        self, session: Session, payment: Payment, invoice_id: str, *, lock: bool = False
    ) -> Invoice:
        invoice_id = (invoice_id or "").strip()
        stmt = select(Invoice).where(Invoice.invoice_id == invoice_id)
        if lock:
            stmt = stmt.with_for_update()
        invoice = session.scalars(stmt).first() if is_key(invoice_id) else None
        rules.check_invoice_payable(payment, invoice, invoice_id)
        assert invoice is not None  # check_invoice_payable refused a missing one
        return invoice

    def _summary(
        self, session: Session, allocation: Allocation, *, replayed: bool = False
    ) -> AllocationSummary:
        """The snapshot of the whole request ``allocation`` (any of its lines) belongs to."""
        session.flush()
        lines = list(
            session.scalars(
                select(Allocation)
                .where(Allocation.request_id == allocation.request_id)
                .order_by(Allocation.line_no)
            )
        )
        first = lines[0]
        payment = session.get_one(Payment, first.payment_id)
        partner = session.get_one(Partner, first.partner_id)
        invoices = {
            invoice.invoice_id: invoice
            for invoice in session.scalars(
                select(Invoice).where(Invoice.invoice_id.in_([line.invoice_id for line in lines]))
            )
        }
        return self._summary_of(lines, payment, partner.name, invoices, replayed=replayed)

    def _summary_of(
        self,
        lines: Sequence[Allocation],
        payment: Payment,
        partner_name: str,
        invoices: Mapping[str, Invoice],
        *,
        replayed: bool = False,
    ) -> AllocationSummary:
        """The request's snapshot from rows already in hand (a command's, locked and changed):
        all of the request's lines, its payment, and every line's invoice by id."""
        lines = sorted(lines, key=lambda line: line.line_no)
        first = lines[0]
        invoice = invoices[first.invoice_id]
        return AllocationSummary(
            allocation_id=first.allocation_id,
            payment_id=first.payment_id,
            invoice_id=first.invoice_id,
            partner_id=first.partner_id,
            partner_name=partner_name,
            currency=first.currency,
            amount=sum(line.amount for line in lines),
            status=first.status,
            note=first.note,
            requested_by=first.requested_by,
            requested_at=first.requested_at,
            decided_by=first.decided_by,
            decided_at=first.decided_at,
            reason=first.reason,
            reversed_by=first.reversed_by,
            reversed_at=first.reversed_at,
            reversal_reason=first.reversal_reason,
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
            request_id=first.request_id,
            lines=tuple(
                AllocationLine(
                    allocation_id=line.allocation_id,
                    invoice_id=line.invoice_id,
                    amount=line.amount,
                    invoice_amount_due=invoices[line.invoice_id].amount_due,
                    invoice_pending=invoices[line.invoice_id].pending,
                    invoice_amount=invoices[line.invoice_id].amount,
                    invoice_due_on=invoices[line.invoice_id].due_on,
                )
                for line in lines
            ),
            chosen=LineChoice(first.chosen) if first.chosen else None,
        )


def open_invoice_pool(session: Session, partner_id: str, currency: str) -> InvoicePool:
    """What the matcher reads: the partner's invoices in the currency with something open, as
    ids and open amounts, oldest first (``matching.invoice_pool``'s order).

    The order is the database's (due, issued, then the id compared by code point as Python
    compares it: the "C" collation on PostgreSQL), so no date leaves it; two columns through
    the connection, not ORM rows, since a partner may have thousands
    (``ix_invoices_partner_currency_due``). No LIMIT: a limit would change the answer.
    """
    postgres = session.get_bind().dialect.name == "postgresql"
    by_id = Invoice.invoice_id.collate("C") if postgres else Invoice.invoice_id.expression
    rows = (
        session.connection()
        .execute(
            select(Invoice.invoice_id, Invoice.open_amount)
            .where(
                Invoice.partner_id == partner_id,
                Invoice.currency == currency,
                Invoice.open_amount > 0,
            )
            .order_by(Invoice.due_on, Invoice.issued_on, by_id)
        )
        .fetchall()
    )
    return InvoicePool(partner_id, currency, [r[0] for r in rows], [int(r[1]) for r in rows])


# What an options row shows (``InvoiceSummary``), read as columns: no ORM row per invoice.
_SUMMARY_COLUMNS = (
    Invoice.invoice_id,
    Invoice.partner_id,
    Invoice.currency,
    Invoice.amount,
    Invoice.amount_due.label("amount_due"),
    Invoice.pending,
    Invoice.issued_on,
    Invoice.due_on,
)


def _exact(payment: Payment) -> ColumnElement[bool]:
    return (Invoice.open_amount == payment.unallocated).label("exact")


def _ranked(payment: Payment, rows: Sequence[_Row], *, only_best: bool = False) -> list[_Row]:
    """``rows`` (each with an ``exact`` flag) in the search's order: exact amount first, then
    those the reference names among them, then by due date and id; ``only_best`` keeps those
    two kinds only."""
    named = set(named_invoice_ids(payment.reference or "", [row.invoice_id for row in rows]))
    ranked = [
        (not row.exact, row.invoice_id not in named, row.due_on, row.invoice_id, row)
        for row in rows
        if not only_best or row.exact or row.invoice_id in named
    ]
    return [found[-1] for found in sorted(ranked, key=lambda found: found[:4])]


def _may_be_named_sql(numbers: frozenset[str], dialect: str) -> ColumnElement[bool]:
    """True for every invoice id a reference writing ``numbers`` could name (and some more).

    ``naming.may_be_named`` keeps a non-ASCII id, an id without digits, and an ASCII id all
    of whose numbers' values the reference writes; an ASCII number's digits contain its value,
    so such an id contains one of ``numbers``. Only ids passing this are read in full.
    """
    invoice_id = Invoice.invoice_id
    if dialect == "sqlite":
        non_ascii = func.length(cast(invoice_id, LargeBinary)) != func.length(invoice_id)
        no_digit = invoice_id.op("NOT GLOB", is_comparison=True)("*[0-9]*")
        position = func.instr
    else:
        non_ascii = func.octet_length(invoice_id) != func.char_length(invoice_id)
        no_digit = invoice_id.op("!~", is_comparison=True)("[0-9]")
        position = func.strpos
    # Cheapest first: most ids hold a number, and most numbers are not in the reference.
    holds = [position(invoice_id, number) > 0 for number in sorted(numbers)]
    return or_(*holds, no_digit, non_ascii)


def _invoice_from_row(row: _Row) -> InvoiceSummary:
    return InvoiceSummary(
        invoice_id=row.invoice_id,
        partner_id=row.partner_id,
        currency=row.currency,
        amount=row.amount,
        amount_due=row.amount_due,
        pending=row.pending,
        issued_on=row.issued_on,
        due_on=row.due_on,
    )


def _matches(text: str, currency: str) -> list[ColumnElement[bool]]:
    """What a typed search matches: part of the invoice id, or an amount (open or total)."""
    pattern = "%" + _escape_like(text.lower()) + "%"
    matches: list[ColumnElement[bool]] = [func.lower(Invoice.invoice_id).like(pattern, escape="\\")]
    try:
        typed = parse_amount(text, currency)
    except InvalidInput:
        return matches
    return [*matches, Invoice.open_amount == typed, Invoice.amount == typed]


def payment_summary(payment: Payment, partner_name: str) -> PaymentSummary:
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


def invoice_summary(invoice: Invoice) -> InvoiceSummary:
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


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
