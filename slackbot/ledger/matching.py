"""Suggestions for a payment: which of its partner's open invoices its money most likely pays.

A pure service function: :func:`suggest_allocations` takes the payment and the partner's open
invoices (snapshots, rows or the small dataclasses below: anything with the attribute names of
``models.schemas.PaymentSummary`` / ``InvoiceSummary``) and returns suggestions, best first. It
reads no database, no Slack and no clock; the same input, in any order, gives the same answer.
Money is ``int`` minor units throughout (a JPY amount and a KWD amount are both plain integers).

**What is suggested, best first** (at most one suggestion of each kind, each at most
:data:`MAX_SUGGESTED_LINES` lines):

1. ``REFERENCE`` — the invoices the payment's reference names (see below), in the order they are
   first named, each line ``min(what the invoice has open, what the payment still has)``, until
   the money runs out.
2. ``EXACT_ONE`` — the one open invoice whose open amount equals what the payment has left (the
   oldest due such invoice).
3. ``EXACT_SET`` — 2 to 5 open invoices whose open amounts sum exactly to it: the fewest
   invoices, and among sets of that size the one that is oldest due first (compared invoice by
   invoice, oldest first).
4. ``OLDEST_FIRST`` — only when none of the above exists: oldest due first until the money runs
   out, the last line partial.

A suggestion whose lines are the same as a better one's is dropped. "Oldest" everywhere means
the order ``(due_on, issued_on, invoice_id)``. Only invoices of the payment's partner and
currency with an open amount above zero are considered; anything else passed in is ignored, and
an invoice id passed twice counts once, with the smaller open amount. A payment with nothing
left gets no suggestion.

**When a reference names an invoice**: ``slackbot.ledger.naming`` (its module docstring).

**How the exact-set search is bounded.** Let ``m`` be the open invoices smaller than what the
payment has left (only those can be in a set of two or more), in the oldest-first order, and
``T`` that amount. Sizes are tried smallest first and the first size with a hit wins.

- Before any loop, size ``k`` is skipped when the ``k`` smallest amounts already exceed ``T``
  (and so is every bigger size) or the ``k`` largest fall short of it.
- Pairs: a hash map from each amount to the first position holding it (and, only when that
  position is too early, a bisect over one sorted list of ``amount, position`` keys); for each
  invoice, look up ``T - amount``: ``m`` look-ups over all ``m`` invoices.
- Triples: the first two from the :data:`TRIPLE_POOL` oldest, the third anywhere through the
  same map: at most ``TRIPLE_POOL² / 2`` look-ups.
- 4-sets: meet in the middle over the :data:`PAIR_POOL` oldest: a map from each pair sum to
  its first pair (the same bisect fallback), then one look-up per pair: ``PAIR_POOL²`` steps.
- 5-sets: every triple of the :data:`FIVE_HEAD_POOL` oldest, the last two through the pair map:
  ``FIVE_HEAD_POOL³ / 6`` look-ups.
- And a hard budget of :data:`STEP_BUDGET` steps (a look-up or a map insertion each) over the
  whole search: when it runs out the search stops with what it has (no exact set). Steps are
  counted, not timed, so the answer never depends on the machine's speed.

With the pools at 256 / 128 / 48 the worst case (no exact set exists, every loop runs) is
76,192 steps for 5,000 invoices (2 x 5,000 + 32,640 + 2 x 8,128 + 17,296), under the budget of
100,000; ``python -m bench.matching_speed`` times it, reading the invoices and the reference
included: 15 ms at the median on a shared 2-core machine (19 ms from ``InvoiceSummary``
snapshots), 22 ms at p95, 37 ms when a full garbage collection of the caller's lands in it.
Within the pools the search is exhaustive, and the loops run in oldest-first order and stop at
the first hit, so the set found is the oldest-first best among the sets they cover; with 48 or
fewer candidate invoices that is every set of 2 to 5. Reading the reference is bounded too: an ASCII
id is read in full only when every number in it occurs in the reference.
"""

from __future__ import annotations

import datetime as dt
import functools
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import NamedTuple, Protocol

from slackbot.ledger.naming import named_invoice_ids

# Issue 11: a request has 1 to 10 lines, so no suggestion has more.
MAX_SUGGESTED_LINES = 10
# The exact-set search's bounds (see the module docstring).
TRIPLE_POOL = 256
PAIR_POOL = 128
FIVE_HEAD_POOL = 48
STEP_BUDGET = 100_000

# ------------------------------------------------------------------------------- what it reads


class _PartnersMoney(Protocol):
    @property
    def partner_id(self) -> str: ...
    @property
    def currency(self) -> str: ...


class PaymentToMatch(_PartnersMoney, Protocol):
    """A payment's figures: a ``PaymentSummary``, a ``Payment`` row, or a :class:`PaymentFacts`."""

    @property
    def payment_id(self) -> str: ...
    @property
    def unallocated(self) -> int: ...
    @property
    def reference(self) -> str: ...


class InvoiceToMatch(_PartnersMoney, Protocol):
    """An open invoice: an ``InvoiceSummary``, an ``Invoice`` row, or an :class:`OpenInvoice`."""

    @property
    def invoice_id(self) -> str: ...
    @property
    def open_amount(self) -> int: ...
    @property
    def due_on(self) -> dt.date: ...
    @property
    def issued_on(self) -> dt.date: ...


@dataclass(frozen=True)
class PaymentFacts:
    """What the matcher needs of a payment, for a caller that has no snapshot at hand."""

    payment_id: str
    partner_id: str
    currency: str
    unallocated: int  # what it has left to allocate, minor units
    reference: str = ""


class OpenInvoice(NamedTuple):
    """What the matcher needs of an invoice, for a caller that has no snapshot at hand (a
    tuple: a partner's thousands of open invoices are read into these per suggestion)."""

    invoice_id: str
    partner_id: str
    currency: str
    open_amount: int  # what a new allocation may still take, minor units
    due_on: dt.date
    issued_on: dt.date


# ------------------------------------------------------------------------------ what it returns


class MatchKind(StrEnum):
    """How a suggestion's lines were chosen, best first."""

    REFERENCE = "reference"
    EXACT_ONE = "exact_one"
    EXACT_SET = "exact_set"
    OLDEST_FIRST = "oldest_first"


@dataclass(frozen=True)
class SuggestedLine:
    invoice_id: str
    amount: int  # minor units, > 0 and at most the invoice's open amount


@dataclass(frozen=True)
class Suggestion:
    how: MatchKind
    lines: tuple[SuggestedLine, ...]
    summary: str  # one plain-English line, e.g. "matches INV-7 + INV-8 exactly"

    @property
    def total(self) -> int:
        return sum(line.amount for line in self.lines)


# ------------------------------------------------------------------------------------ the entry


@dataclass(frozen=True)
class InvoicePool:
    """One partner's open invoices in one currency, read for matching: ids and open amounts,
    oldest first, each id once (:func:`invoice_pool`). Build it once to match several of the
    partner's payments in that currency against it."""

    partner_id: str
    currency: str
    ids: list[str]
    amounts: list[int]

    @functools.cached_property
    def amount_of(self) -> dict[str, int]:
        return dict(zip(self.ids, self.amounts, strict=True))


def invoice_pool(partner_id: str, currency: str, invoices: Iterable[InvoiceToMatch]) -> InvoicePool:
    """The pool of ``invoices`` a payment of ``partner_id`` in ``currency`` may be matched to:
    only that partner's and currency's, with an open amount above zero."""
    ids, amounts = _candidates(partner_id, currency, invoices)
    return InvoicePool(partner_id, currency, ids, amounts)


def suggest_allocations(
    payment: PaymentToMatch,
    invoices: Iterable[InvoiceToMatch] | InvoicePool,
    *,
    step_budget: int = STEP_BUDGET,
) -> list[Suggestion]:
    """The lines to propose for ``payment`` among ``invoices``, best first (see the module doc).

    ``invoices`` may be an :class:`InvoicePool` built for the payment's partner and currency
    (several payments against one read); a pool of another partner or currency is refused.
    """
    left = _minor_units(payment.unallocated, f"payment {payment.payment_id}'s unallocated")
    if left <= 0:
        return []
    if isinstance(invoices, InvoicePool):
        if (invoices.partner_id, invoices.currency) != (payment.partner_id, payment.currency):
            raise ValueError(
                f"a pool of {invoices.partner_id}'s {invoices.currency} invoices cannot match"
                f" payment {payment.payment_id} ({payment.partner_id}, {payment.currency})"
            )
        pool = invoices
    else:
        pool = invoice_pool(payment.partner_id, payment.currency, invoices)
    ids, amounts = pool.ids, pool.amounts
    if not ids:
        return []
    found: list[Suggestion] = []
    named = named_invoice_ids(payment.reference, ids)
    if named:
        by_id = pool.amount_of
        found.append(_from_reference([(i, by_id[i]) for i in named], left))
    one = next((rank for rank, amount in enumerate(amounts) if amount == left), None)
    if one is not None:
        found.append(_exact(MatchKind.EXACT_ONE, [ids[one]], [amounts[one]]))
    ranks = exact_set_ranks(amounts, left, step_budget=step_budget)
    if ranks is not None:
        found.append(
            _exact(MatchKind.EXACT_SET, [ids[r] for r in ranks], [amounts[r] for r in ranks])
        )
    if not found:
        found.append(_oldest_first(ids, amounts, left))
    return _without_repeats(found)


def _minor_units(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{what} must be an int of minor units, not {value!r}")
    return value


def _candidates(
    partner_id: str, currency: str, invoices: Iterable[InvoiceToMatch]
) -> tuple[list[str], list[int]]:
    """Ids and open amounts of the partner's open invoices in the payment's currency, oldest
    first (due, then issued, then id), each id once.

    Parallel lists of strs, ints and dates, sorted by stable passes rather than by tuple keys:
    no container per invoice, so the garbage collector is not woken by thousands of them.
    """
    slot_of: dict[str, int] = {}
    ids: list[str] = []
    amounts: list[int] = []
    dues: list[dt.date] = []
    issues: list[dt.date] = []
    for invoice in invoices:
        if invoice.partner_id != partner_id or invoice.currency != currency:
            continue
        open_amount = invoice.open_amount
        if type(open_amount) is not int:
            _minor_units(open_amount, f"invoice {invoice.invoice_id}'s open amount")
        if open_amount <= 0:
            continue
        invoice_id, due_on, issued_on = invoice.invoice_id, invoice.due_on, invoice.issued_on
        slot = slot_of.get(invoice_id)
        if slot is None:
            slot_of[invoice_id] = len(ids)
            ids.append(invoice_id)
            amounts.append(open_amount)
            dues.append(due_on)
            issues.append(issued_on)
        # An id given twice is inconsistent input; the smaller figure can never over-propose.
        elif (open_amount, due_on, issued_on) < (amounts[slot], dues[slot], issues[slot]):
            amounts[slot], dues[slot], issues[slot] = open_amount, due_on, issued_on
    order = sorted(range(len(ids)), key=ids.__getitem__)
    order.sort(key=issues.__getitem__)
    order.sort(key=dues.__getitem__)
    return [ids[k] for k in order], [amounts[k] for k in order]


def _from_reference(named: list[tuple[str, int]], left: int) -> Suggestion:
    lines = _fill(named, left)
    exact = sum(line.amount for line in lines) == left and all(
        line.amount == open_amount for line, (_, open_amount) in zip(lines, named, strict=False)
    )
    subject = _listed([line.invoice_id for line in lines])
    verb = "is" if len(lines) == 1 else "are"
    if exact:
        summary = f"{subject} {verb} named in the payment's reference and match it exactly"
        if len(lines) == 1:
            summary = f"{subject} is named in the payment's reference and matches it exactly"
    else:
        subject = _listed(_marked_partial(lines, named))
        summary = f"{subject} {verb} named in the payment's reference{_rest(lines, left)}"
    return Suggestion(MatchKind.REFERENCE, tuple(lines), summary)


def _exact(how: MatchKind, ids: list[str], amounts: list[int]) -> Suggestion:
    lines = tuple(SuggestedLine(i, a) for i, a in zip(ids, amounts, strict=True))
    return Suggestion(how, lines, f"matches {' + '.join(ids)} exactly")


def _oldest_first(ids: list[str], amounts: list[int], left: int) -> Suggestion:
    owed = list(zip(ids, amounts, strict=True))
    lines = _fill(owed, left)
    which = "invoice" if len(lines) == 1 else "invoices"
    listed = ", ".join(_marked_partial(lines, owed))
    summary = f"fills the oldest {which} first: {listed}{_rest(lines, left)}"
    return Suggestion(MatchKind.OLDEST_FIRST, tuple(lines), summary)


def _fill(owed: list[tuple[str, int]], left: int) -> list[SuggestedLine]:
    """Lines in the given order, each what its invoice has open, until ``left`` runs out."""
    lines: list[SuggestedLine] = []
    for invoice_id, open_amount in owed:
        if left <= 0 or len(lines) == MAX_SUGGESTED_LINES:
            break
        amount = min(open_amount, left)
        lines.append(SuggestedLine(invoice_id, amount))
        left -= amount
    return lines


def _marked_partial(lines: list[SuggestedLine], owed: list[tuple[str, int]]) -> list[str]:
    return [
        line.invoice_id if line.amount == open_amount else f"{line.invoice_id} (part)"
        for line, (_, open_amount) in zip(lines, owed, strict=False)
    ]


def _rest(lines: list[SuggestedLine], left: int) -> str:
    return "; the rest stays on the payment" if sum(x.amount for x in lines) < left else ""


def _listed(names: list[str]) -> str:
    if len(names) <= 1:
        return "".join(names)
    return f"{', '.join(names[:-1])} and {names[-1]}"


def _without_repeats(found: list[Suggestion]) -> list[Suggestion]:
    kept: list[Suggestion] = []
    seen: set[frozenset[SuggestedLine]] = set()
    for suggestion in found:
        lines = frozenset(suggestion.lines)
        if lines not in seen:
            seen.add(lines)
            kept.append(suggestion)
    return kept


# ------------------------------------------------------------------------- the exact-set search


class _Budget:
    """Steps the search may still take; counted, never timed, so results are deterministic."""

    def __init__(self, steps: int) -> None:
        self.left = steps

    def take(self, steps: int) -> bool:
        if steps > self.left:
            self.left = 0
            return False
        self.left -= steps
        return True


class _FirstAfter:
    """Each value's positions, for "the first position at or after ``lo`` holding ``x``".

    A dict of each value's first position answers almost every look-up; the rest (a value at
    several positions, the first too early) bisect one sorted list of ``value * span +
    position``, built on first need. Only ints are stored, no list or tuple per value, so a
    search over 5,000 invoices leaves the garbage collector almost nothing to walk.
    """

    def __init__(self, first: dict[int, int], all_keys: Callable[[], list[int]], span: int) -> None:
        self.first = first
        self._all_keys = all_keys
        self._keys: list[int] | None = None
        self.span = span

    def beyond_first(self, value: int, lo: int) -> int | None:
        """The first position ``>= lo`` with ``value``, when ``first[value]`` is before ``lo``.

        The loops ask ``first`` themselves: a method call per look-up would double their time.
        """
        if self._keys is None:
            self._keys = sorted(self._all_keys())
        keys = self._keys
        k = bisect_left(keys, value * self.span + lo)
        if k < len(keys) and keys[k] < (value + 1) * self.span:
            return keys[k] - value * self.span
        return None


def exact_set_ranks(
    amounts: Sequence[int], target: int, *, step_budget: int = STEP_BUDGET
) -> tuple[int, ...] | None:
    """Positions (ascending) of 2 to 5 of ``amounts`` that sum to ``target``, or None.

    ``amounts`` are in preference order (oldest first); the bounds are the module docstring's.
    """
    eligible = [rank for rank, amount in enumerate(amounts) if 0 < amount < target]
    b = [amounts[rank] for rank in eligible]
    ordered = sorted(b)
    budget = _Budget(step_budget)
    by_amount: _FirstAfter | None = None
    pairs: _FirstAfter | None = None
    for size in range(2, 6):
        if len(b) < size or sum(ordered[:size]) > target:
            break
        if sum(ordered[-size:]) < target:
            continue
        if by_amount is None:
            if not budget.take(len(b)):
                return None
            by_amount = _amounts_index(b)
        if size == 2:
            found = _pair(b, target, by_amount, budget)
        elif size == 3:
            found = _triple(b, target, by_amount, budget)
        else:
            if pairs is None:
                pairs = _pair_sums(b[:PAIR_POOL], budget)
                if pairs is None:
                    return None
            search = _four if size == 4 else _five
            found = search(b, target, pairs, budget)
        if found is not None:
            return tuple(eligible[p] for p in found)
        if budget.left == 0:
            return None
    return None


def _pair(
    b: list[int], target: int, by_amount: _FirstAfter, budget: _Budget
) -> tuple[int, ...] | None:
    if not budget.take(len(b)):
        return None
    first, beyond = by_amount.first.get, by_amount.beyond_first
    for p, amount in enumerate(b):
        q = first(target - amount)
        if q is not None and (q > p or (q := beyond(target - amount, p + 1)) is not None):
            return (p, q)
    return None


def _triple(
    b: list[int], target: int, by_amount: _FirstAfter, budget: _Budget
) -> tuple[int, ...] | None:
    pool = min(len(b), TRIPLE_POOL)
    first, beyond = by_amount.first.get, by_amount.beyond_first
    for p in range(pool):
        if not budget.take(pool - p - 1):
            return None
        rest = target - b[p]
        for q in range(p + 1, pool):
            r = first(rest - b[q])
            if r is not None and (r > q or (r := beyond(rest - b[q], q + 1)) is not None):
                return (p, q, r)
    return None


def _pair_sums(pool: list[int], budget: _Budget) -> _FirstAfter | None:
    """Each pair ``r < s`` of the pool by its sum, encoded ``r * len(pool) + s``."""
    n = len(pool)
    if not budget.take(n * (n - 1) // 2):
        return None
    # Written in descending order, each sum's lexicographically first pair is written last.
    first = {
        pool[r] + pool[s]: r * n + s for r in range(n - 1, -1, -1) for s in range(n - 1, r, -1)
    }
    span = n * n

    def all_keys() -> list[int]:
        return [(pool[r] + pool[s]) * span + r * n + s for r in range(n) for s in range(r + 1, n)]

    return _FirstAfter(first, all_keys, span)


def _amounts_index(b: list[int]) -> _FirstAfter:
    n = len(b)
    first = {b[p]: p for p in range(n - 1, -1, -1)}
    return _FirstAfter(first, lambda: [amount * n + p for p, amount in enumerate(b)], n)


def _four(b: list[int], target: int, pairs: _FirstAfter, budget: _Budget) -> tuple[int, ...] | None:
    pool = min(len(b), PAIR_POOL)
    first, beyond = pairs.first.get, pairs.beyond_first
    for p in range(pool):
        if not budget.take(pool - p - 1):
            return None
        rest = target - b[p]
        for q in range(p + 1, pool):
            lo = (q + 1) * pool
            tail = first(rest - b[q])
            if tail is not None and (tail >= lo or (tail := beyond(rest - b[q], lo)) is not None):
                return (p, q, *divmod(tail, pool))
    return None


def _five(b: list[int], target: int, pairs: _FirstAfter, budget: _Budget) -> tuple[int, ...] | None:
    pool = min(len(b), FIVE_HEAD_POOL)
    pair_pool = min(len(b), PAIR_POOL)
    first, beyond = pairs.first.get, pairs.beyond_first
    for p in range(pool):
        for q in range(p + 1, pool):
            if not budget.take(pool - q - 1):
                return None
            rest = target - b[p] - b[q]
            for r in range(q + 1, pool):
                lo = (r + 1) * pair_pool
                tail = first(rest - b[r])
                if tail is not None and (
                    tail >= lo or (tail := beyond(rest - b[r], lo)) is not None
                ):
                    return (p, q, r, *divmod(tail, pair_pool))
    return None
