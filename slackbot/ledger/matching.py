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

**When a reference names an invoice.** Both the reference and the invoice id are NFKC-normalized
and case-folded, then read as runs of letters and runs of digits (a "word" is a maximal run of
letters and digits). The id is named when its runs appear in the reference in order, with

- letters compared with every non-alphanumeric removed (``INV-OPEN-7`` = ``inv open 7`` =
  ``invopen7``), numbers compared by value (``inv-007`` names ``INV-7``), and a letter run never
  merging with a number (``INV7`` = ``inv 7`` = ``INV_7``);
- the stretch beginning at the start of a word and ending at the end of one, so ``INV-7`` is
  not named by ``INV-70``, ``XINV-7``, ``INV-7B`` or ``PREINV7``; and a number joined to the next
  one by ``-``, ``_`` or ``.`` continues the id, so ``INV-7-1`` and ``INV-7.5`` do not name
  ``INV-7`` (``INV-7/8`` and ``INV-7, 8`` do; the 8 names nothing by itself);
- a number after a known prefix word (``invoice``, ``invoices``, ``inv``, optionally followed by
  ``no``, ``nr`` or ``number``: ``invoice #7``, ``Invoice No. 0007``) also naming the one open
  invoice whose id is letters followed by that number (``INV-7``, ``INV-OPEN-0007``); when two
  such ids share the number (``INV-7`` and ``CN-7``) it names neither.

When two names overlap and one contains the other, only the longer counts (``XX-INV-7`` names
``XX-INV-7``, not also ``INV-7``). When several ids are equal under these rules (``INV-7`` and
``INV-007``), the one written exactly as in the reference wins, then the one whose digits are
written exactly; otherwise that mention names none of them. Lists are not expanded: ``invoices
7 and 8`` names only 7. A named invoice only matters if it is one of the open invoices passed
in, so another partner's or currency's id in the reference is never proposed.

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
import re
import unicodedata
from bisect import bisect_left
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

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


@dataclass(frozen=True)
class OpenInvoice:
    """What the matcher needs of an invoice, for a caller that has no snapshot at hand."""

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


def suggest_allocations(
    payment: PaymentToMatch,
    invoices: Iterable[InvoiceToMatch],
    *,
    step_budget: int = STEP_BUDGET,
) -> list[Suggestion]:
    """The lines to propose for ``payment`` among ``invoices``, best first (see the module doc)."""
    left = _minor_units(payment.unallocated, f"payment {payment.payment_id}'s unallocated")
    if left <= 0:
        return []
    ids, amounts = _candidates(payment, invoices)
    if not ids:
        return []
    found: list[Suggestion] = []
    named = named_invoice_ids(payment.reference, ids)
    if named:
        by_id = dict(zip(ids, amounts, strict=True))
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
    payment: PaymentToMatch, invoices: Iterable[InvoiceToMatch]
) -> tuple[list[str], list[int]]:
    """Ids and open amounts of the partner's open invoices in the payment's currency, oldest
    first (due, then issued, then id), each id once.

    Parallel lists of strs, ints and dates, sorted by stable passes rather than by tuple keys:
    no container per invoice, so the garbage collector is not woken by thousands of them.
    """
    partner_id, currency = payment.partner_id, payment.currency
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


# ----------------------------------------------------------------------- ids named in a reference

_RUN = re.compile(r"(?P<number>\d+)|(?P<letters>[^\W\d_]+)")
# A number is written between these in the compact form, so 7 and 8 never read as 78.
_OPEN, _CLOSE = "\x00", "\x01"
# A number joined to the next by one of these continues an id (INV-7-1 is not INV-7).
_JOINERS = frozenset("-_.")
_ASCII_DIGITS = re.compile(r"[0-9]+")
_KNOWN_PREFIX = re.compile(r"(?:invoices?|inv)(?:no|nr|number)?")


@dataclass(frozen=True)
class _Compact:
    """A text read as letter and number runs: letters kept, each number as its value."""

    text: str  # the compact form: letters, and each number as _OPEN value _CLOSE
    normalized: str  # NFKC, case-folded source
    starts: frozenset[int]  # compact offsets where a match may begin (a word's start)
    ends: frozenset[int]  # compact offsets where a match may end (a word's end)
    numbers: tuple[tuple[int, int, str], ...]  # each number's compact start, end, and digits
    # Where each run begins and ends, compact offset -> offset in ``normalized`` (two maps: with
    # separators dropped, one run's end and the next one's start share a compact offset).
    begins_at: dict[int, int]
    ends_at: dict[int, int]

    @functools.cached_property
    def values(self) -> frozenset[str]:
        """Every number's value, as written in the compact form."""
        return frozenset(self.text[begin + 1 : end - 1] for begin, end, _ in self.numbers)


def _compact(text: str) -> _Compact:
    normalized = unicodedata.normalize("NFKC", text).casefold()
    runs = list(_RUN.finditer(normalized))
    pieces: list[str] = []
    starts: set[int] = set()
    ends: set[int] = set()
    numbers: list[tuple[int, int, str]] = []
    begins_at: dict[int, int] = {}
    ends_at: dict[int, int] = {}
    at = 0
    for k, run in enumerate(runs):
        digits = run.group("number")
        piece = run.group() if digits is None else f"{_OPEN}{_number_value(digits)}{_CLOSE}"
        begin, at = at, at + len(piece)
        pieces.append(piece)
        begins_at[begin], ends_at[at] = run.start(), run.end()
        before = runs[k - 1] if k else None
        after = runs[k + 1] if k + 1 < len(runs) else None
        # A word boundary, unless a joiner ties this number to its neighbour (INV-7-1).
        if (before is None or before.end() != run.start()) and not (
            before and _joined(normalized, before, run)
        ):
            starts.add(begin)
        if (after is None or after.start() != run.end()) and not (
            after and _joined(normalized, run, after)
        ):
            ends.add(at)
        if digits is not None:
            numbers.append((begin, at, digits))
    return _Compact(
        "".join(pieces),
        normalized,
        frozenset(starts),
        frozenset(ends),
        tuple(numbers),
        begins_at,
        ends_at,
    )


def _number_value(digits: str) -> str:
    """The digits' value as ASCII without leading zeros (no ``int()``: any length is fine)."""
    if not digits.isascii():
        digits = "".join(str(unicodedata.decimal(c)) for c in digits)
    return digits.lstrip("0") or "0"


def _joined(normalized: str, first: re.Match[str], second: re.Match[str]) -> bool:
    """Two number runs with exactly one joiner between them (``7-1``, ``7.5``)?"""
    return (
        first.group("number") is not None
        and second.group("number") is not None
        and normalized[first.end() : second.start()] in _JOINERS
    )


def named_invoice_ids(reference: str, invoice_ids: Iterable[str]) -> list[str]:
    """Which of ``invoice_ids`` the reference names, in the order it first names them.

    The rules are in the module docstring; ids that are empty after normalization name nothing.
    """
    ref = _compact(reference)
    if not ref.text:
        return []
    forms = {
        invoice_id: _compact(invoice_id)
        for invoice_id in dict.fromkeys(invoice_ids)
        if _may_be_named(invoice_id, ref)
    }
    spans: dict[tuple[int, int], list[str]] = {}
    for invoice_id, form in forms.items():
        if not form.text or form.text not in ref.text:
            continue
        at = ref.text.find(form.text)
        while at != -1:
            end = at + len(form.text)
            if at in ref.starts and end in ref.ends:
                spans.setdefault((at, end), []).append(invoice_id)
            at = ref.text.find(form.text, at + 1)
    for span, invoice_id in _after_known_prefix(ref, forms, list(spans)):
        spans.setdefault(span, []).append(invoice_id)
    mentions: list[tuple[int, str]] = []
    for (start, end), named in spans.items():
        if any(s <= start and end <= e and (s, e) != (start, end) for s, e in spans):
            continue  # inside a longer name (INV-7 in XX-INV-7)
        chosen = _one_of(list(dict.fromkeys(named)), ref, start, end, forms)
        if chosen is not None:
            mentions.append((start, chosen))
    return list(dict.fromkeys(invoice_id for _, invoice_id in sorted(mentions)))


def reference_numbers(reference: str) -> frozenset[str] | None:
    """Each number ``reference`` writes, by value (``7`` for ``007``); None if it names nothing.
    An ASCII id with no number among these is never named (see ``_may_be_named``)."""
    ref = _compact(reference)
    return ref.values if ref.text else None


def _may_be_named(invoice_id: str, ref: _Compact) -> bool:
    """A cheap first look: an ASCII id with a number the reference lacks is never named.

    It spares reading thousands of ids in full (the 50 ms budget) and decides nothing alone.
    """
    if not invoice_id.isascii():
        return True
    values = ref.values
    return all((d.lstrip("0") or "0") in values for d in _ASCII_DIGITS.findall(invoice_id))


def _after_known_prefix(
    ref: _Compact, forms: dict[str, _Compact], named_spans: list[tuple[int, int]]
) -> list[tuple[tuple[int, int], str]]:
    """``invoice #7``: a number after a known prefix word, naming the one id "letters + 7"."""
    wanted: list[tuple[int, int, str]] = []  # (prefix start, number end, number value)
    for begin, end, _ in ref.numbers:
        if end not in ref.ends or any(s <= begin and end <= e for s, e in named_spans):
            continue
        letters_from = begin
        while letters_from and ref.text[letters_from - 1] not in (_OPEN, _CLOSE):
            letters_from -= 1
        prefix_at = next(
            (
                at
                for at in range(letters_from, begin)
                if at in ref.starts and _KNOWN_PREFIX.fullmatch(ref.text, at, begin)
            ),
            None,
        )
        if prefix_at is not None:
            wanted.append((prefix_at, end, ref.text[begin + 1 : end - 1]))
    if not wanted:
        return []
    by_number: dict[str, list[str]] = {}
    for invoice_id, form in forms.items():
        letters, opened, rest = form.text.partition(_OPEN)
        if letters and opened and rest.endswith(_CLOSE) and _OPEN not in rest:
            by_number.setdefault(rest[:-1], []).append(invoice_id)
    found: list[tuple[tuple[int, int], str]] = []
    for prefix_at, end, value in wanted:
        owners = by_number.get(value, [])
        if len(owners) == 1:
            found.append(((prefix_at, end), owners[0]))
    return found


def _one_of(
    named: list[str], ref: _Compact, start: int, end: int, forms: dict[str, _Compact]
) -> str | None:
    """One id for a mention that several ids fit: the exact spelling, then the exact digits."""
    if len(named) == 1:
        return named[0]
    written = ref.normalized[ref.begins_at[start] : ref.ends_at[end]]
    spelled = [i for i in named if forms[i].normalized == written]
    if len(spelled) == 1:
        return spelled[0]
    digits = [d for b, _, d in ref.numbers if start <= b < end]
    same_digits = [i for i in named if [d for _, _, d in forms[i].numbers] == digits]
    return same_digits[0] if len(same_digits) == 1 else None


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
