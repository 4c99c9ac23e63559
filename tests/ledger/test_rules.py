"""The money rules as pure functions: each refusal's type, field and words, with no database."""

from __future__ import annotations

import datetime as dt

import pytest

from models.enums import AllocationStatus, Decision
from models.limits import (
    MAX_ALLOCATION_ID,
    MAX_NOTE,
    MAX_REASON,
    is_allocation_id,
    is_key,
    is_slack_channel_id,
    is_slack_group_id,
    is_slack_user_id,
)
from models.schemas import Actor, AllocationSummary, InvoiceSummary, PaymentSummary
from slackbot.clock import FrozenClock, system_clock
from slackbot.errors import AlreadyDecided, InsufficientFunds, InvalidInput, NotAllowed, NotFound
from slackbot.ledger import rules

DAY = dt.date(2026, 11, 24)
NOON = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


def payment(
    amount: int = 100000, allocated: int = 0, pending: int = 0, **kw: object
) -> PaymentSummary:
    fields: dict[str, object] = dict(
        payment_id="PAY-1",
        partner_id="P1",
        partner_name="Acme",
        currency="USD",
        amount=amount,
        allocated=allocated,
        pending=pending,
        received_on=DAY,
        reference="",
    )
    fields.update(kw)
    return PaymentSummary.model_validate(fields)


def invoice(amount_due: int = 50000, pending: int = 0, **kw: object) -> InvoiceSummary:
    fields: dict[str, object] = dict(
        invoice_id="INV-1",
        partner_id="P1",
        currency="USD",
        amount=max(amount_due, 50000),
        amount_due=amount_due,
        pending=pending,
        issued_on=DAY,
        due_on=DAY,
    )
    fields.update(kw)
    return InvoiceSummary.model_validate(fields)


def allocation(status: str = "pending", **kw: object) -> AllocationSummary:
    fields: dict[str, object] = dict(
        allocation_id=7,
        payment_id="PAY-1",
        invoice_id="INV-1",
        partner_id="P1",
        partner_name="Acme",
        currency="USD",
        amount=20000,
        status=status,
        note=None,
        requested_by="U1",
        requested_at=NOON,
        decided_by=None,
        decided_at=None,
        reason=None,
        reversed_by=None,
        reversed_at=None,
        reversal_reason=None,
        payment_unallocated=80000,
        payment_pending=20000,
        invoice_amount_due=50000,
        invoice_pending=20000,
    )
    fields.update(kw)
    return AllocationSummary.model_validate(fields)


APPROVER = Actor(user_id="B1", can_approve=True)


# ------------------------------------------------------------------------------------- amounts


@pytest.mark.parametrize("minor", [0, -1])
def test_amount_must_be_positive(minor: int) -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_amount_positive(minor)
    assert refused.value.field == "amount"
    assert refused.value.message == "The amount must be more than zero."
    rules.check_amount_positive(1)


def test_room_on_the_payment_names_what_is_held() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        rules.check_room(payment(pending=90000), invoice(), 20000)
    assert refused.value.field == "amount"
    assert refused.value.message == (
        "PAY-1 has 100.00 USD left to allocate (900.00 USD more is held by pending requests);"
        " you entered 200.00 USD."
    )


def test_room_on_the_payment_without_pending() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        rules.check_room(payment(amount=10000), invoice(), 10001)
    assert refused.value.message == "PAY-1 has 100.00 USD left to allocate; you entered 100.01 USD."


def test_room_on_the_invoice_with_and_without_pending() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        rules.check_room(payment(), invoice(amount_due=50000, pending=40000), 20000)
    assert refused.value.field == "amount"
    assert refused.value.message == (
        "INV-1 has 500.00 USD left to pay, 400.00 USD of it already requested; you can apply"
        " at most 100.00 USD and you entered 200.00 USD."
    )
    with pytest.raises(InsufficientFunds) as refused:
        rules.check_room(payment(), invoice(amount_due=50000), 50001)
    assert refused.value.message == "INV-1 has 500.00 USD left to pay; you entered 500.01 USD."


def test_room_accepts_exactly_what_both_have() -> None:
    rules.check_room(payment(amount=50000), invoice(amount_due=50000), 50000)


def test_payment_with_nothing_left_is_not_allocatable() -> None:
    with pytest.raises(InsufficientFunds) as refused:
        rules.check_payment_allocatable(payment(amount=100, pending=100))
    assert refused.value.field == "payment"
    assert refused.value.message == (
        "PAY-1 has nothing left to allocate (the rest is held by pending requests)."
    )
    with pytest.raises(InsufficientFunds) as refused:
        rules.check_payment_allocatable(payment(amount=100, allocated=100))
    assert refused.value.message == "PAY-1 has nothing left to allocate."
    rules.check_payment_allocatable(payment(amount=100, allocated=99))


def test_invoice_payable_rules_in_order() -> None:
    with pytest.raises(NotFound) as missing:
        rules.check_invoice_payable(payment(), None, "INV-9")
    assert missing.value.field == "invoice"
    assert missing.value.message == "INV-9 is not an open invoice of the partner that made PAY-1."
    with pytest.raises(NotFound) as others:
        rules.check_invoice_payable(payment(), invoice(partner_id="P2"), "INV-1")
    assert others.value.message == missing.value.message.replace("INV-9", "INV-1")
    with pytest.raises(InvalidInput) as currency:
        rules.check_invoice_payable(payment(), invoice(currency="EUR"), "INV-1")
    assert currency.value.message == (
        "INV-1 is in EUR and PAY-1 is in USD; pick an invoice in USD."
    )
    with pytest.raises(InvalidInput) as paid:
        rules.check_invoice_payable(payment(), invoice(amount_due=0), "INV-1")
    assert paid.value.message == "INV-1 is already paid in full."
    with pytest.raises(InvalidInput) as held:
        rules.check_invoice_payable(payment(), invoice(amount_due=500, pending=500), "INV-1")
    assert held.value.message.startswith("All that INV-1 has left to pay is held")
    rules.check_invoice_payable(payment(), invoice(), "INV-1")


def test_shown_id_keeps_refusals_one_printable_line() -> None:
    assert rules.shown_id("INV\x00-1\n") == "INV-1"
    assert rules.shown_id("") == "(none)"
    assert rules.shown_id("X" * 41) == "X" * 40 + "…"


def test_left_to_pay_if_approved_never_negative() -> None:
    assert (
        rules.left_to_pay_if_approved(allocation(amount=20000, invoice_amount_due=50000)) == 30000
    )
    assert rules.left_to_pay_if_approved(allocation(amount=20000, invoice_amount_due=100)) == 0


# ------------------------------------------------------------------------------ who may decide


def test_approver_policy() -> None:
    assert rules.may_approve("B1", {"B1"}, None)
    assert rules.may_approve("B2", {"B1"}, frozenset({"B2"}))
    assert not rules.may_approve("B3", {"B1"}, frozenset({"B2"}))
    assert not rules.may_approve("", {""}, None)


def test_only_approvers_decide() -> None:
    clerk = Actor(user_id="U2", can_approve=False)
    with pytest.raises(NotAllowed) as refused:
        rules.check_is_approver(clerk, Decision.APPROVE)
    assert refused.value.field == "allocation"
    assert refused.value.message == "Only billing approvers can approve requests."
    with pytest.raises(NotAllowed) as reversing:
        rules.check_is_approver(clerk, Decision.REVERSE)
    assert reversing.value.message == "Only billing approvers can reverse an allocation."
    rules.check_is_approver(APPROVER, Decision.REJECT)


def test_nobody_decides_their_own_request_first() -> None:
    own = Actor(user_id="U1", can_approve=True)
    with pytest.raises(NotAllowed) as refused:
        rules.check_independent(
            allocation(), own, Decision.REJECT, actor_is_member=True, partner_name="Acme"
        )
    assert refused.value.message == "You made this request, so another approver has to reject it."


def test_a_member_of_the_partner_may_not_decide() -> None:
    with pytest.raises(NotAllowed) as refused:
        rules.check_independent(
            allocation(),
            APPROVER,
            Decision.APPROVE,
            actor_is_member=True,
            partner_name="Acme\u202e\n Corp",
        )
    assert refused.value.message == (
        "You are a member of Acme Corp, so you cannot approve its requests; another approver must."
    )
    rules.check_independent(
        allocation(), APPROVER, Decision.APPROVE, actor_is_member=False, partner_name="Acme"
    )


def test_cancel_by_the_requester_while_a_member() -> None:
    with pytest.raises(NotAllowed) as stranger:
        rules.check_may_cancel(allocation(), "U2", still_member=True)
    assert stranger.value.message == "Only the person who made a request can cancel it."
    with pytest.raises(NotAllowed) as removed:
        rules.check_may_cancel(allocation(), "U1", still_member=False)
    assert removed.value.message.startswith("You no longer act for this partner")
    rules.check_may_cancel(allocation(), "U1", still_member=True)


def test_pending_only_says_who_decided_and_when() -> None:
    decided = allocation(status="approved", decided_by="B1", decided_at=NOON)
    with pytest.raises(AlreadyDecided) as refused:
        rules.check_pending(decided, Decision.REJECT)
    error = refused.value
    assert error.field == "allocation"
    assert (error.status, error.decided_by, error.decided_at) == ("approved", "B1", NOON)
    assert error.message == (
        "Request 7 was already approved by B1 at 2026-11-24 12:00 UTC; nothing changed."
    )
    rules.check_pending(allocation(), Decision.CANCEL)


def test_reverse_only_an_approved_allocation() -> None:
    with pytest.raises(AlreadyDecided) as waiting:
        rules.check_reversible(allocation())
    assert waiting.value.message == (
        "Request 7 is still waiting for a decision; only an approved allocation can be reversed."
    )
    assert waiting.value.decided_by is None
    later = NOON + dt.timedelta(hours=1)
    reversed_ = allocation(
        status="reversed", decided_by="B1", decided_at=NOON, reversed_by="B2", reversed_at=later
    )
    with pytest.raises(AlreadyDecided) as again:
        rules.check_reversible(reversed_)
    assert (again.value.decided_by, again.value.decided_at) == ("B2", later)
    assert again.value.status == AllocationStatus.REVERSED
    rules.check_reversible(allocation(status="approved", decided_by="B1", decided_at=NOON))


# ---------------------------------------------------------------------------------- the imports


def test_an_import_may_not_shrink_what_is_held() -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_import_keeps_held(
            "payment", "PAY-1", new_limit=1000, settled=800, pending=300, currency="USD"
        )
    assert refused.value.field == "amount"
    assert refused.value.message == (
        "payment PAY-1 already has 11.00 USD allocated or awaiting approval;"
        " it cannot drop to 10.00 USD"
    )
    with pytest.raises(InvalidInput) as invoice_refused:
        rules.check_import_keeps_held(
            "invoice", "INV-1", new_limit=0, settled=1, pending=0, currency="JPY"
        )
    assert invoice_refused.value.field == "amount_due"
    assert "paid by approved allocations or awaiting approval" in invoice_refused.value.message
    rules.check_import_keeps_held(
        "payment", "PAY-1", new_limit=1100, settled=800, pending=300, currency="USD"
    )


def test_an_import_keeps_the_owner_of_money_with_requests() -> None:
    with pytest.raises(InvalidInput) as refused:
        rules.check_import_keeps_owner("invoice", "INV-1", column="currency", old="USD", new="EUR")
    assert refused.value.field == "currency"
    assert refused.value.message == (
        "invoice INV-1 already has allocation requests, so its currency cannot change from USD"
        " to EUR"
    )
    rules.check_import_keeps_owner("payment", "PAY-1", column="partner_id", old="P1", new="P1")


# ------------------------------------------------------------------------------ notes, reasons


def test_note_is_optional_and_limited() -> None:
    assert rules.checked_note(None) is None
    assert rules.checked_note("\u200b\u2800 ") is None
    assert rules.checked_note(" pay\u200b me\r\n") == "pay me"
    assert rules.checked_note("x" * MAX_NOTE) == "x" * MAX_NOTE
    with pytest.raises(InvalidInput) as refused:
        rules.checked_note("x" * (MAX_NOTE + 1))
    assert refused.value.field == "note"


def test_reason_is_required_readable_and_limited() -> None:
    with pytest.raises(InvalidInput) as empty:
        rules.required_reason("  ", rules.REJECT_ASK)
    assert (empty.value.field, empty.value.message) == ("reason", rules.REJECT_ASK)
    with pytest.raises(InvalidInput) as invisible:
        rules.required_reason("\u200b\u200b", rules.REVERSE_ASK)
    assert invisible.value.message.startswith("The reason has only invisible or control")
    assert invisible.value.message.endswith(rules.REVERSE_ASK)
    with pytest.raises(InvalidInput) as long_:
        rules.required_reason("y" * (MAX_REASON + 1), rules.REJECT_ASK)
    assert long_.value.message == f"Keep the reason under {MAX_REASON} characters."
    assert rules.required_reason("Wrong invoice 👩‍👩‍👧", rules.REJECT_ASK) == "Wrong invoice 👩‍👩‍👧"


def test_request_key_fits_its_column() -> None:
    rules.check_request_key(None)
    rules.check_request_key("k" * 128)
    with pytest.raises(InvalidInput) as refused:
        rules.check_request_key("k" * 129)
    assert refused.value.field == "request"


# ----------------------------------------------------------------------------- limits and ids


def test_one_rule_for_slack_ids() -> None:
    assert is_slack_user_id("U012AB") and is_slack_user_id("W0ABC")
    assert not is_slack_user_id("U1") and not is_slack_user_id("u012ab")
    assert not is_slack_user_id("U012AB\n") and not is_slack_user_id(None)
    assert not is_slack_user_id("U" + "A" * 32)
    assert (
        is_slack_channel_id("C0BENCH")
        and is_slack_channel_id("G01")
        and not is_slack_channel_id("#general")
    )
    assert is_slack_group_id("S0GROUP") and not is_slack_group_id("U0GROUP")


def test_id_rules() -> None:
    assert is_key("PAY-1") and not is_key("") and not is_key("a\x00") and not is_key("x" * 65)
    assert is_allocation_id(1) and is_allocation_id(MAX_ALLOCATION_ID)
    assert not is_allocation_id(0) and not is_allocation_id(MAX_ALLOCATION_ID + 1)
    assert not is_allocation_id(True)


def test_clocks_tell_aware_utc() -> None:
    assert system_clock().tzinfo is dt.UTC
    frozen = FrozenClock(NOON)
    assert frozen() == NOON
    assert frozen.advance(dt.timedelta(seconds=5)) == NOON + dt.timedelta(seconds=5)
    with pytest.raises(ValueError):
        FrozenClock(dt.datetime(2026, 1, 1))
