"""Every money rule, as pure checks: values in, nothing out or the typed refusal naming the field.

Nothing here reads the database or the clock. A rule takes a snapshot (``models.schemas``), a row
read under lock (the ORM rows have the same attribute names, so they satisfy the protocols
below), or plain values, and either returns or raises the :class:`~slackbot.errors.DomainError`
that names the field at fault in the person's terms. The ledger's commands, the CSV import, the
Slack views and handlers all ask these functions, so each rule is written once.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Collection, Sequence
from typing import Literal, Protocol

from models.enums import AllocationStatus, Decision
from models.limits import MAX_NOTE, MAX_REASON, MAX_REQUEST_KEY, MAX_REQUEST_LINES
from models.schemas import Actor, AllocationSummary
from slackbot.errors import (
    AlreadyDecided,
    DomainError,
    InsufficientFunds,
    InvalidInput,
    NotAllowed,
    NotFound,
)
from slackbot.i18n.catalog import N_
from slackbot.ledger.shown import Moment, Money
from slackbot.money import format_amount, parse_amount

# ------------------------------------------------------------------------------ what rules read


class PaymentBalance(Protocol):
    """A payment's figures: a ``PaymentSummary`` or a ``Payment`` row read under lock."""

    @property
    def payment_id(self) -> str: ...
    @property
    def partner_id(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def pending(self) -> int: ...
    @property
    def unallocated(self) -> int: ...


class InvoiceBalance(Protocol):
    """An invoice's figures: an ``InvoiceSummary`` or an ``Invoice`` row read under lock."""

    @property
    def invoice_id(self) -> str: ...
    @property
    def partner_id(self) -> str: ...
    @property
    def currency(self) -> str: ...
    @property
    def amount_due(self) -> int: ...
    @property
    def pending(self) -> int: ...
    @property
    def open_amount(self) -> int: ...


class AllocationState(Protocol):
    """Where a request stands and who moved it last: an ``AllocationSummary`` or the row."""

    @property
    def allocation_id(self) -> int: ...
    @property
    def status(self) -> str: ...
    @property
    def requested_by(self) -> str: ...
    @property
    def decided_by(self) -> str | None: ...
    @property
    def decided_at(self) -> dt.datetime | None: ...
    @property
    def reversed_by(self) -> str | None: ...
    @property
    def reversed_at(self) -> dt.datetime | None: ...


# ---------------------------------------------------------------------------- amounts and room


def check_amount_positive(minor: int) -> None:
    """An allocation moves money: zero or less is no request."""
    if minor <= 0:
        raise InvalidInput("amount", N_("The amount must be more than zero."))


def check_room(payment: PaymentBalance, invoice: InvoiceBalance, minor: int) -> None:
    """``minor`` fits both what the payment has unreserved and what the invoice has open."""
    _check_payment_room(payment, minor, minor, 1)
    _check_invoice_room(invoice, minor, payment.currency, 1)


def _check_payment_room(payment: PaymentBalance, minor: int, total: int, line_no: int) -> None:
    """The request's running ``total`` up to line ``line_no`` fits what the payment has left."""
    if total <= payment.unallocated:
        return
    currency = payment.currency
    # One sentence per case, so every language orders its own words.
    if total == minor:
        template = (
            N_(
                "{payment} has {left} left to allocate ({held} more is held by pending"
                " requests); you entered {entered}."
            )
            if payment.pending
            else N_("{payment} has {left} left to allocate; you entered {entered}.")
        )
    else:
        template = (
            N_(
                "{payment} has {left} left to allocate ({held} more is held by pending"
                " requests); lines 1 to {line} come to {total}."
            )
            if payment.pending
            else N_("{payment} has {left} left to allocate; lines 1 to {line} come to {total}.")
        )
    raise InsufficientFunds(
        line_field("amount", line_no),
        template,
        payment=payment.payment_id,
        left=Money(payment.unallocated, currency),
        held=Money(payment.pending, currency),
        entered=Money(minor, currency),
        line=line_no,
        total=Money(total, currency),
    )


def _check_invoice_room(invoice: InvoiceBalance, minor: int, currency: str, line_no: int) -> None:
    """One line's amount fits what its invoice has open."""
    if minor <= invoice.open_amount:
        return
    template = (
        N_(
            "{invoice} has {due} left to pay, {pending} of it already requested;"
            " you can apply at most {open} and you entered {entered}."
        )
        if invoice.pending
        else N_("{invoice} has {due} left to pay; you entered {entered}.")
    )
    raise InsufficientFunds(
        line_field("amount", line_no),
        template,
        invoice=invoice.invoice_id,
        due=Money(invoice.amount_due, currency),
        pending=Money(invoice.pending, currency),
        open=Money(invoice.open_amount, currency),
        entered=Money(minor, currency),
    )


# ----------------------------------------------------------------- requests with several lines


def line_field(kind: Literal["invoice", "amount"], line_no: int) -> str:
    """The modal block of a request line's invoice or amount: ``invoice``, ``amount_2``…"""
    return kind if line_no == 1 else f"{kind}_{line_no}"


def on_line(error: DomainError, line_no: int) -> DomainError:
    """A one-line rule's refusal, naming line ``line_no``'s own block instead of line 1's."""
    if line_no != 1 and error.field in ("invoice", "amount"):
        error.field = line_field("invoice" if error.field == "invoice" else "amount", line_no)
    return error


def check_line_count(count: int) -> None:
    """A request has 1 to ``MAX_REQUEST_LINES`` lines."""
    if count < 1:
        raise InvalidInput("invoice", N_("Pick an invoice to apply the payment to."))
    if count > MAX_REQUEST_LINES:
        raise InvalidInput(
            "invoice",
            N_(
                "A request has at most {most} invoices and this one has {count};"
                " request the rest separately."
            ),
            most=MAX_REQUEST_LINES,
            count=count,
        )


def check_request_lines(
    payment: PaymentBalance,
    lines: Sequence[tuple[str, InvoiceBalance | None, int | str]],
) -> list[int]:
    """Every line of a request, in the order entered; returns the amounts in minor units.

    ``lines`` are ``(invoice id as typed, the invoice with that id or None, amount as typed)``.
    All or nothing: the first line at fault is refused, naming its own block (``amount_3``):
    an amount that is no amount or not positive, an invoice named twice, an invoice that is not
    the payment's partner's and currency's or has nothing open, a line over what its invoice
    has open, or the line at which the running total goes over what the payment has left.
    """
    check_line_count(len(lines))
    currency = payment.currency
    first_line_of: dict[str, int] = {}
    minors: list[int] = []
    total = 0
    for line_no, (typed_id, invoice, typed_amount) in enumerate(lines, start=1):
        if isinstance(typed_amount, str):
            minor = parse_amount(typed_amount, currency, field=line_field("amount", line_no))
        else:
            minor = int(typed_amount)
        try:
            check_amount_positive(minor)
        except DomainError as refusal:
            raise on_line(refusal, line_no) from None
        key = typed_id.strip()
        if key and key in first_line_of:
            raise InvalidInput(
                line_field("invoice", line_no),
                N_("{invoice} is already on line {line}; a request names each invoice once."),
                invoice=shown_id(key),
                line=first_line_of[key],
            )
        first_line_of[key] = line_no
        try:
            check_invoice_payable(payment, invoice, typed_id)
        except DomainError as refusal:
            raise on_line(refusal, line_no) from None
        assert invoice is not None  # check_invoice_payable refused a missing one
        total += minor
        _check_payment_room(payment, minor, total, line_no)
        _check_invoice_room(invoice, minor, currency, line_no)
        minors.append(minor)
    return minors


def check_payment_allocatable(payment: PaymentBalance) -> None:
    """The payment has money no pending request holds (what the allocation modal may offer)."""
    if payment.unallocated <= 0:
        raise InsufficientFunds(
            "payment",
            N_("{payment} has nothing left to allocate (the rest is held by pending requests).")
            if payment.pending
            else N_("{payment} has nothing left to allocate."),
            payment=payment.payment_id,
        )


def check_invoice_payable(
    payment: PaymentBalance, invoice: InvoiceBalance | None, typed_invoice_id: str
) -> None:
    """The invoice is the payment's partner's, in its currency, and has something open.

    ``invoice`` is ``None`` when no invoice has that id; another partner's invoice gets the same
    words, so nobody learns which invoice ids exist elsewhere.
    """
    shown = shown_id(typed_invoice_id)
    if invoice is None or invoice.partner_id != payment.partner_id:
        raise NotFound(
            "invoice",
            N_("{invoice} is not an open invoice of the partner that made {payment}."),
            invoice=shown,
            payment=payment.payment_id,
        )
    if invoice.currency != payment.currency:
        raise InvalidInput(
            "invoice",
            N_(
                "{invoice} is in {invoice_currency} and {payment} is in {currency};"
                " pick an invoice in {currency}."
            ),
            invoice=shown,
            invoice_currency=invoice.currency,
            payment=payment.payment_id,
            currency=payment.currency,
        )
    if invoice.amount_due <= 0:
        raise InvalidInput("invoice", N_("{invoice} is already paid in full."), invoice=shown)
    if invoice.open_amount <= 0:
        raise InvalidInput(
            "invoice",
            N_(
                "All that {invoice} has left to pay is held by pending requests; pick another"
                " invoice or wait for billing to decide."
            ),
            invoice=shown,
        )


def left_to_pay_if_approved(allocation: AllocationSummary) -> int:
    """What the invoice would have left to pay once this pending request is approved."""
    return max(0, allocation.invoice_amount_due - allocation.amount)


# ------------------------------------------------------------------------- who may decide what

# One sentence per verb and status: a verb or a status is no word a translation can slot in.
_ONLY_APPROVERS = {
    Decision.APPROVE: N_("Only billing approvers can approve requests."),
    Decision.REJECT: N_("Only billing approvers can reject requests."),
    Decision.CANCEL: N_("Only billing approvers can cancel requests."),
    Decision.REVERSE: N_("Only billing approvers can reverse an allocation."),
}
_OWN_REQUEST = {
    Decision.APPROVE: N_("You made this request, so another approver has to approve it."),
    Decision.REJECT: N_("You made this request, so another approver has to reject it."),
    Decision.CANCEL: N_("You made this request, so another approver has to cancel it."),
    Decision.REVERSE: N_("You made this request, so another approver has to reverse it."),
}
_MEMBER_OF = {
    Decision.APPROVE: N_(
        "You are a member of {partner}, so you cannot approve its requests; another approver must."
    ),
    Decision.REJECT: N_(
        "You are a member of {partner}, so you cannot reject its requests; another approver must."
    ),
    Decision.CANCEL: N_(
        "You are a member of {partner}, so you cannot cancel its requests; another approver must."
    ),
    Decision.REVERSE: N_(
        "You are a member of {partner}, so you cannot reverse its requests; another approver must."
    ),
}
_STILL_PENDING = {
    Decision.APPROVE: N_(
        "Request {request} is still waiting for a decision; only an approved allocation"
        " can be approved."
    ),
    Decision.REJECT: N_(
        "Request {request} is still waiting for a decision; only an approved allocation"
        " can be rejected."
    ),
    Decision.CANCEL: N_(
        "Request {request} is still waiting for a decision; only an approved allocation"
        " can be cancelled."
    ),
    Decision.REVERSE: N_(
        "Request {request} is still waiting for a decision; only an approved allocation"
        " can be reversed."
    ),
}
# (when the moment is known, when it is not)
_DECIDED: dict[str, tuple[str, str]] = {
    AllocationStatus.APPROVED: (
        N_("Request {request} was already approved by {who} at {when}; nothing changed."),
        N_("Request {request} was already approved by {who} at earlier; nothing changed."),
    ),
    AllocationStatus.REJECTED: (
        N_("Request {request} was already rejected by {who} at {when}; nothing changed."),
        N_("Request {request} was already rejected by {who} at earlier; nothing changed."),
    ),
    AllocationStatus.CANCELLED: (
        N_("Request {request} was already cancelled by {who} at {when}; nothing changed."),
        N_("Request {request} was already cancelled by {who} at earlier; nothing changed."),
    ),
    AllocationStatus.REVERSED: (
        N_("Request {request} was already reversed by {who} at {when}; nothing changed."),
        N_("Request {request} was already reversed by {who} at earlier; nothing changed."),
    ),
}
_DECIDED_UNKNOWN = (
    N_("Request {request} was already {state} by {who} at {when}; nothing changed."),
    N_("Request {request} was already {state} by {who} at earlier; nothing changed."),
)


def may_approve(
    user_id: str, approver_ids: Collection[str], group_members: Collection[str] | None
) -> bool:
    """The approver policy: a configured approver id, or a member of the approvers' group."""
    if not user_id:
        return False
    return user_id in approver_ids or (group_members is not None and user_id in group_members)


def check_is_approver(actor: Actor, verb: Decision) -> None:
    """Only billing approvers approve, reject or reverse."""
    if not actor.can_approve:
        raise NotAllowed("allocation", _ONLY_APPROVERS[verb])


def check_independent(
    allocation: AllocationState,
    actor: Actor,
    verb: Decision,
    *,
    actor_is_member: bool,
    partner_name: str,
) -> None:
    """Segregation of duties: nobody decides for a partner they act for.

    The requester is refused first (the more specific reason); then anyone who is a member of
    the request's partner (``actor_is_member``, read when deciding), since a member could have
    asked a colleague to request it.
    """
    if allocation.requested_by == actor.user_id:
        raise NotAllowed("allocation", _OWN_REQUEST[verb])
    if actor_is_member:
        raise NotAllowed("allocation", _MEMBER_OF[verb], partner=shown_name(partner_name))


def check_may_cancel(allocation: AllocationState, user_id: str, *, still_member: bool) -> None:
    """Only the requester withdraws a request, and only while they still act for the partner."""
    if allocation.requested_by != user_id:
        raise NotAllowed("allocation", N_("Only the person who made a request can cancel it."))
    if not still_member:
        # Removed from the partner since asking: the request is billing's to decide now.
        raise NotAllowed(
            "allocation",
            N_(
                "You no longer act for this partner, so you cannot cancel its requests;"
                " billing will decide this one."
            ),
        )


def check_pending(allocation: AllocationState, verb: Decision) -> None:
    """Approve, reject and cancel move only a request still waiting for a decision."""
    if allocation.status != AllocationStatus.PENDING:
        raise already_decided(allocation, verb)


def check_reversible(allocation: AllocationState) -> None:
    """Only an approved allocation can be reversed (once)."""
    if allocation.status != AllocationStatus.APPROVED:
        raise already_decided(allocation, Decision.REVERSE)


def already_decided(allocation: AllocationState, verb: Decision) -> AlreadyDecided:
    """The refusal for acting on a request whose status does not allow ``verb``."""
    status = allocation.status
    if status == AllocationStatus.PENDING:
        return AlreadyDecided(
            _STILL_PENDING[verb],
            request=allocation.allocation_id,
            allocation_id=allocation.allocation_id,
            status=status,
            decided_by=None,
            decided_at=None,
        )
    if status == AllocationStatus.REVERSED:
        who, when = allocation.reversed_by, allocation.reversed_at
    else:
        who, when = allocation.decided_by, allocation.decided_at
    decided = _DECIDED.get(status, _DECIDED_UNKNOWN)
    return AlreadyDecided(
        decided[0] if when else decided[1],
        request=allocation.allocation_id,
        who=str(who),
        when=Moment(when) if when else None,
        state=status,
        allocation_id=allocation.allocation_id,
        status=status,
        decided_by=who,
        decided_at=when,
    )


# --------------------------------------------------------------------------------- the imports


def check_import_keeps_held(
    kind: Literal["payment", "invoice"],
    key: str,
    *,
    new_limit: int,
    settled: int,
    pending: int,
    currency: str,
) -> None:
    """An import may not shrink a payment's amount (an invoice's amount due) below what is held.

    ``settled`` is the payment's ``allocated`` (the invoice's ``applied``); ``pending`` what
    pending requests reserve. The error's field is the CSV column at fault (``amount`` or
    ``amount_due``); the import shows it as ``"<field>: <message>"``.
    """
    held = settled + pending
    if new_limit >= held:
        return
    column, words = (
        ("amount", "allocated or awaiting approval")
        if kind == "payment"
        else ("amount_due", "paid by approved allocations or awaiting approval")
    )
    raise InvalidInput(
        column,
        f"{kind} {key} already has {format_amount(held, currency)} {words}; it cannot drop to"
        f" {format_amount(new_limit, currency)}",
    )


def check_import_keeps_owner(
    kind: Literal["payment", "invoice"],
    key: str,
    *,
    column: Literal["partner_id", "currency"],
    old: str,
    new: str,
) -> None:
    """A payment or invoice with allocation requests keeps its partner and its currency."""
    if old == new:
        return
    what = "partner" if column == "partner_id" else "currency"
    raise InvalidInput(
        column,
        f"{kind} {key} already has allocation requests, so its {what} cannot change from"
        f" {old} to {new}",
    )


# -------------------------------------------------------------------------- notes and reasons

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


def checked_note(note: str | None) -> str | None:
    """The note as stored, ``None`` when it shows nothing (it is optional), or the refusal."""
    cleaned = readable_text(note)
    if not has_readable_text(cleaned):
        return None
    if len(cleaned) > MAX_NOTE:
        raise InvalidInput("note", N_("Keep the note under {most} characters."), most=MAX_NOTE)
    return cleaned


def required_reason(reason: str | None, ask: str) -> str:
    """The reason as stored, or ``InvalidInput`` on the ``reason`` field saying what to write."""
    typed = reason or ""
    cleaned = readable_text(typed)
    if not has_readable_text(cleaned):
        if typed.strip():
            invisible = _INVISIBLE_REASON.get(ask)
            if invisible is None:  # an ask of the caller's own: English, as it was given
                raise InvalidInput(
                    "reason",
                    "The reason has only invisible or control characters, so the requester"
                    f" would read nothing. {ask}",
                )
            raise InvalidInput("reason", invisible)
        raise InvalidInput("reason", ask)
    if len(cleaned) > MAX_REASON:
        raise InvalidInput(
            "reason", N_("Keep the reason under {most} characters."), most=MAX_REASON
        )
    return cleaned


REJECT_ASK = N_("Say why, so the requester knows what to fix.")
REVERSE_ASK = N_("Say why the allocation is being reversed.")
# The ask after the warning, as one sentence per ask (a language may need to join them).
_INVISIBLE_REASON = {
    REJECT_ASK: N_(
        "The reason has only invisible or control characters, so the requester would read"
        " nothing. Say why, so the requester knows what to fix."
    ),
    REVERSE_ASK: N_(
        "The reason has only invisible or control characters, so the requester would read"
        " nothing. Say why the allocation is being reversed."
    ),
}


def check_request_key(request_key: str | None) -> None:
    """A door's idempotency key fits its column."""
    if request_key is not None and len(request_key) > MAX_REQUEST_KEY:
        raise InvalidInput("request", N_("The request key is too long."))


# --------------------------------------------------------------------- how ids are shown back


def shown_id(value: str) -> str:
    """A typed id as a refusal may quote it: printable, cut at 40 characters."""
    cleaned = "".join(ch for ch in value if ch.isprintable())
    return (cleaned[:40] + "…") if len(cleaned) > 40 else (cleaned or "(none)")


def shown_name(value: str) -> str:
    """A partner's name as a refusal may quote it: readable, on one line, cut at 80."""
    cleaned = " ".join(readable_text(value).split())
    return (cleaned[:80] + "…") if len(cleaned) > 80 else (cleaned or "this partner")
