"""Which invoices a payment's reference names: the rule the suggestions and the options load share.

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

Reading is bounded: an ASCII id is read in full only when every number in it occurs in the
reference (:func:`may_be_named`, and its SQL twin in ``slackbot.ledger.queries``); the numbers of
each id are read once per process (a bounded cache), since the same partner's ids are looked at
by every keystroke and every suggestion.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = ["may_be_named", "named_invoice_ids", "reference_numbers"]

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
        if may_be_named(invoice_id, ref.values)
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
    An ASCII id with no number among these is never named (see :func:`may_be_named`)."""
    ref = _compact(reference)
    return ref.values if ref.text else None


def may_be_named(invoice_id: str, numbers: frozenset[str]) -> bool:
    """A cheap first look: an ASCII id with a number the reference lacks is never named.

    ``numbers`` is :func:`reference_numbers`' answer. It spares reading thousands of ids in full
    (the 50 ms budget) and decides nothing alone.
    """
    own = _ascii_id_numbers(invoice_id)
    return own is None or own <= numbers


# Ids read at once per process: a partner's few thousand open ids are looked at by every
# keystroke and suggestion, and an entry is a short string and a small set.
_ID_NUMBERS_CACHED = 65_536


@functools.lru_cache(maxsize=_ID_NUMBERS_CACHED)
def _ascii_id_numbers(invoice_id: str) -> frozenset[str] | None:
    """The values of an ASCII id's numbers (``007`` -> ``7``); None for a non-ASCII id."""
    if not invoice_id.isascii():
        return None
    return frozenset(d.lstrip("0") or "0" for d in _ASCII_DIGITS.findall(invoice_id))


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
