"""The options search's order: exact amount, then what the reference names (the matcher's rule,
among the invoices matching what was typed), then oldest due; checked against a plain sort of
every open invoice, pages and typing included, on both paths (few matches, many)."""

from __future__ import annotations

import datetime as dt
import random

import pytest
from sqlalchemy import insert

from models.tables import Invoice
from slackbot.db import Database
from slackbot.ledger import Ledger, queries
from slackbot.ledger.naming import named_invoice_ids
from tests.support.factories import add_invoice, add_partner, add_payment

DAY = dt.date(2026, 11, 1)
# Ids of every shape the prefilter must keep: digits, leading zeros, no digits, non-ASCII
# (Arabic-Indic and full-width digits), numbers a reference writes and numbers it does not.
SHAPES = (
    "INV-{n}",
    "INV-{n:05d}",
    "inv_{n}",
    "CN-{n}",
    "INV-{n}-1",
    "XX-INV-{n}",
    "INV{n}B",
    "ACME-{word}",
    "{word}",
    "INV-\u0667{n}",
    "\uff29\uff2e\uff36-{n}",
)
WORDS = ("ALPHA", "BETA", "MENTION", "REMIT")
REFERENCES = (
    "",
    "Remittance for INV-7 and INV-00012",
    "paid invoice #7, thanks",
    "inv 7 / 8",
    "for inv_3 and XX-INV-4",
    "MENTION beta",
    "INV-70 INV-7-1",
    "INV-\u0667 and \uff29\uff2e\uff36-5",
    "1 2 3 4 5 6 7 8 9 10 11 12",
)


def seed_invoices(db: Database, rng: random.Random, count: int) -> list[dict[str, object]]:
    rows: dict[str, dict[str, object]] = {}
    while len(rows) < count:
        shape = rng.choice(SHAPES)
        invoice_id = shape.format(n=rng.randrange(0, 15), word=rng.choice(WORDS))
        amount = rng.choice((5000, 7000, 12345, rng.randrange(100, 90000)))
        held = rng.choice((0, 0, 0, amount, amount // 2))  # some fully held: not open
        rows[invoice_id] = {
            "invoice_id": invoice_id,
            "partner_id": "P1",
            "currency": "USD",
            "exponent": 2,
            "amount": amount,
            "opening_due": amount,
            "applied": 0,
            "pending": held,
            "issued_on": DAY,
            "due_on": DAY + dt.timedelta(days=rng.randrange(0, 6)),
        }
    with db.transaction() as session:
        session.execute(insert(Invoice), list(rows.values()))
    return list(rows.values())


def expected_order(
    rows: list[dict[str, object]], reference: str, left: int, typed: str
) -> list[str]:
    """A plain sort of every open invoice: the order the search must give."""
    open_rows = [r for r in rows if int(r["opening_due"]) - int(r["pending"]) > 0]  # type: ignore[call-overload]
    kept = [r for r in open_rows if typed.lower() in str(r["invoice_id"]).lower()]
    # The reference names among the invoices offered: those matching what was typed.
    named = set(named_invoice_ids(reference, [str(r["invoice_id"]) for r in kept]))

    def key(r: dict[str, object]) -> tuple[bool, bool, object, str]:
        open_amount = int(r["opening_due"]) - int(r["pending"])  # type: ignore[call-overload]
        return (
            open_amount != left,
            r["invoice_id"] not in named,
            r["due_on"],
            str(r["invoice_id"]),
        )

    return [str(r["invoice_id"]) for r in sorted(kept, key=key)]


@pytest.mark.parametrize("typed_read", [queries.TYPED_READ, 0])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_search_order_is_a_sort_of_every_open_invoice(
    db: Database, seed: int, typed_read: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # typed_read 0: what was typed is ranked by the many-matches path whenever a page is full.
    monkeypatch.setattr(queries, "TYPED_READ", typed_read)
    rng = random.Random(seed)
    add_partner(db, "P1", "Acme", members=["U1"])
    rows = seed_invoices(db, rng, 45)
    ledger = Ledger(db)
    for k, reference in enumerate(REFERENCES):
        left = rng.choice((5000, 7000, 12345))
        add_payment(db, f"PAY-{k}", "P1", left, "USD", reference=reference)
        for typed in ("", "inv", "7"):
            expected = expected_order(rows, reference, left, typed)
            if typed == "7":
                expected = None  # typed digits also match amounts: only paging is checked
            found = [i.invoice_id for i in ledger.search_open_invoices("U1", f"PAY-{k}", typed)]
            if expected is not None:
                assert found == expected, (reference, typed)
            pages = [
                i.invoice_id
                for offset in range(0, len(found) + 7, 7)
                for i in ledger.search_open_invoices(
                    "U1", f"PAY-{k}", typed, limit=7, offset=offset
                )
            ]
            assert pages == found, (reference, typed)


def test_a_reference_names_invoices_by_the_matchers_rule_not_by_substring(
    db: Database, ledger: Ledger
) -> None:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 100, "USD", reference="paid inv 7 and INV-80, thanks")
    add_invoice(db, "INV-1", "P1", 5000, "USD", due_on=DAY)
    add_invoice(db, "INV-7", "P1", 5000, "USD", due_on=DAY + dt.timedelta(days=9))
    add_invoice(db, "INV-8", "P1", 5000, "USD", due_on=DAY + dt.timedelta(days=8))
    add_invoice(db, "INV-80", "P1", 5000, "USD", due_on=DAY + dt.timedelta(days=7))

    found = [i.invoice_id for i in ledger.search_open_invoices("U1", "PAY-1")]

    # "inv 7" names INV-7 (no substring of the reference is "inv-7"); "INV-80" contains
    # "inv-8" but names only INV-80. The named ones come first, oldest due first.
    assert found == ["INV-80", "INV-7", "INV-1", "INV-8"]


def test_many_invoices_of_the_exact_amount_still_page_in_order(
    db: Database, ledger: Ledger
) -> None:
    add_partner(db, "P1", "Acme", members=["U1"])
    add_payment(db, "PAY-1", "P1", 5000, "USD", reference="INV-150")
    with db.transaction() as session:
        session.execute(
            insert(Invoice),
            [
                {
                    "invoice_id": f"INV-{n}",
                    "partner_id": "P1",
                    "currency": "USD",
                    "exponent": 2,
                    "amount": 5000 if n % 2 else 7000,
                    "opening_due": 5000 if n % 2 else 7000,
                    "applied": 0,
                    "pending": 0,
                    "issued_on": DAY,
                    "due_on": DAY + dt.timedelta(days=n % 40),
                }
                for n in range(1, 301)
            ],
        )

    first = ledger.search_open_invoices("U1", "PAY-1")
    second = ledger.search_open_invoices("U1", "PAY-1", offset=100)
    # "inv" matches all 300: more than one read's worth, so the many-matches path ranks them.
    typed = ledger.search_open_invoices("U1", "PAY-1", "inv", offset=100)

    # 150 invoices of 50.00 (odd numbers) come first, by due date; INV-150 (70.00, named) next.
    odd = sorted(range(1, 301, 2), key=lambda n: (n % 40, f"INV-{n}"))
    assert [i.invoice_id for i in first] == [f"INV-{n}" for n in odd[:100]]
    assert [i.invoice_id for i in second][:51] == [f"INV-{n}" for n in odd[100:]] + ["INV-150"]
    assert len(second) == 100
    assert typed == second
