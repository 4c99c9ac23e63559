"""The fast checks of payments and invoices rows agree with the full checks on every row they pass.

A row the fast path accepts must be one the full checks accept with the very same values (a
fast path that let through what the full checks refuse would import a bad row); a row it is
unsure of goes to the full checks, so returning None is always allowed.
"""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from slackbot.erp.reader import HEADERS, ImportKind
from slackbot.erp.rows import (
    FAST_CHECKS,
    ROW_CHECKS,
    CurrencyCache,
    Problems,
    invoice_fast,
    payment_fast,
    stage_row,
)

# Cells near the edges: good values, and the ways each can go wrong by a character.
IDS = st.one_of(
    st.sampled_from(["PAY-1", "P-ACME", "INV-7", "x" * 64, "x" * 65, "", "'=A", "a\x00b", "é"]),
    st.text(max_size=70),
)
AMOUNTS = st.one_of(
    st.sampled_from(
        [
            "1",
            "0",
            "0.00",
            "0.01",
            "1.5",
            "1.50",
            "1.505",
            "007",
            "9999999999999",
            "99999999999999",
            "0000000000000001",
            "1.",
            ".5",
            "-1",
            "1e3",
            "1,000",
            "١٠",
        ]
    ),
    st.from_regex(r"\A[0-9]{1,15}(\.[0-9]{0,5})?\Z"),
)
CURRENCIES = st.sampled_from(["USD", "usd", "JPY", "KWD", "CLF", "XXX", "US", "", "EUR "])
DATES = st.one_of(
    st.sampled_from(["2026-11-24", "2026-02-30", "2026-1-01", "20261124", "", "0000-01-01"]),
    st.dates().map(lambda day: day.isoformat()),
)
REFERENCES = st.one_of(
    st.sampled_from(["", "wire 1", "'=SUM(A1)", "tab\there", "x" * 500, "x" * 501, "\x07"]),
    st.text(max_size=20),
)


def full(kind: ImportKind, values: list[str], cache: CurrencyCache) -> tuple[object, ...] | None:
    named = dict(zip(HEADERS[kind] + ("amount_due",), values, strict=False))
    problems = Problems()
    record = ROW_CHECKS[kind](named, problems, cache)
    if record is None or problems:
        return None
    return stage_row(kind, record)


def agree(kind: ImportKind, values: list[str]) -> None:
    cache = CurrencyCache()
    cache.check(Problems(), values[3])  # the full checks saw this currency on an earlier row
    fast = FAST_CHECKS[kind](values, cache.good)
    if fast is not None:
        assert fast == full(kind, values, cache), values


@settings(max_examples=3000, deadline=None)
@given(IDS, IDS, AMOUNTS, CURRENCIES, DATES, REFERENCES)
def test_a_payment_row_the_fast_check_passes_is_the_full_checks_record(
    payment_id: str, partner_id: str, amount: str, currency: str, received_on: str, ref: str
) -> None:
    agree(ImportKind.PAYMENTS, [payment_id, partner_id, amount, currency, received_on, ref])


@settings(max_examples=3000, deadline=None)
@given(IDS, IDS, AMOUNTS, CURRENCIES, DATES, DATES, st.one_of(st.just(None), AMOUNTS))
def test_an_invoice_row_the_fast_check_passes_is_the_full_checks_record(
    invoice_id: str,
    partner_id: str,
    amount: str,
    currency: str,
    issued_on: str,
    due_on: str,
    amount_due: str | None,
) -> None:
    values = [invoice_id, partner_id, amount, currency, issued_on, due_on]
    agree(ImportKind.INVOICES, values if amount_due is None else [*values, amount_due])


def test_the_common_rows_take_the_fast_path() -> None:
    cache = CurrencyCache()
    for code in ("USD", "JPY", "KWD"):
        cache.check(Problems(), code)
    assert payment_fast(
        ["PAY-1", "P-ACME", "1250.5", "USD", "2026-11-24", "wire 1"], cache.good
    ) == ("PAY-1", "P-ACME", "USD", 2, 125050, "2026-11-24", "wire 1")
    assert invoice_fast(
        ["INV-1", "P-ACME", "3", "KWD", "2026-11-01", "2026-12-01", "1.25"], cache.good
    ) == ("INV-1", "P-ACME", "KWD", 3, 3000, 1250, "2026-11-01", "2026-12-01")
    assert invoice_fast(
        ["INV-2", "P-ACME", "300", "JPY", "2026-11-01", "2026-12-01"], cache.good
    ) == ("INV-2", "P-ACME", "JPY", 0, 300, 300, "2026-11-01", "2026-12-01")


def test_a_currency_not_yet_seen_by_the_full_checks_is_left_to_them() -> None:
    assert (
        payment_fast(["PAY-1", "P-ACME", "1.00", "USD", "2026-11-24", ""], CurrencyCache().good)
        is None
    )
