"""Amounts, dates and times as a person's locale writes them (CLDR data through Babel).

Inside the program money stays integer minor units plus an ISO 4217 code (slackbot.money); this
module is only the edge where a person reads or types one. Machine formats (CLI, CSV, JSON) never
come through here: they stay dot decimals and ISO dates.

Locales. Slack's forms (``fr-FR``, ``en-US``), POSIX ones (``fr_FR``, ``fr_FR.UTF-8``) and a bare
language (``fr``) are all accepted; a missing territory is CLDR's likely one (``fr`` -> ``fr-FR``).
A territory CLDR has no data for keeps the language (``fr-US`` -> ``fr-FR``); anything else falls
back to ``en-US``. Numbers work in every CLDR locale; the refusal texts below exist in English
and French, other languages get English until the catalogs arrive.

How an amount typed by a person is read (``parse_amount``) -- it never guesses:

1. Only the person's own convention counts: the locale's decimal mark and its group mark (where
   that mark is a space, any of the normal, no-break and narrow no-break spaces). Groups must have
   the locale's sizes (``1 250 000``, ``12,34,567`` in en-IN). ``1250,50`` from fr-FR and
   ``1250.50`` from en-US are fine; ``1250.50`` from fr-FR and ``1.250,50`` from en-US are
   refused with the same amount rewritten the locale's way as the example to follow.
2. Ambiguity: one decimal mark followed by exactly three digits, with one to three digits before
   it and no group mark (``1,250`` from fr-FR, ``1.250`` from en-US), is also how the other
   widespread convention writes a thousand and something. It is refused, saying both ways to
   write it, for every currency with fewer than three decimals. For a currency with three or more
   decimals (KWD, BHD, OMR...) three decimals are the ordinary way to write an amount and the
   only way to write some (1.255 KWD), so there the locale's reading stands (``1,250`` from fr-FR
   is 1.250 KWD) -- the person's locale decides, the same way every time. A group mark followed by
   three digits (``1,250`` from en-US) is a group, as the locale says.
3. More decimals than the currency has (JPY 0, USD 2, KWD 3, as slackbot.money says) is refused,
   even trailing zeros. Zero, negative (``-``, ``−``, parentheses) and empty are refused; so is an
   amount of more than ``MAX_MAJOR_DIGITS`` digits in major units, or text longer than
   ``MAX_INPUT``. Only ASCII digits are read; no exponent, no ``+``.
4. A currency may be typed before or after the number: its ISO code (any case), its symbol in the
   locale (``$US`` in fr-FR) or in English (``$``, ``¥``, ``€``). The code or symbol of another
   currency is refused as the wrong currency; anything else is not understood.

Every refusal is an :class:`AmountNotUnderstood` (an ``InvalidInput`` on field ``amount``) with a
message key, its parameters, and the message in the person's language.
"""

from __future__ import annotations

import copy
import datetime as dt
import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from babel import Locale, UnknownLocaleError
from babel.core import get_global
from babel.dates import format_date as _babel_format_date
from babel.dates import format_time as _babel_format_time
from babel.numbers import NumberPattern
from babel.numbers import format_decimal as _babel_format_decimal

from slackbot.errors import InvalidInput
from slackbot.i18n.catalog import N_, texts
from slackbot.money import (
    MAX_MAJOR_DIGITS,
    currency_exponent,
    format_amount,
    normalize_currency,
    to_decimal_string,
)

DEFAULT_LOCALE = "en-US"
# Longer than any amount anyone types (13 digits, groups, decimals, a symbol); past it we do not
# try to read the text at all.
MAX_INPUT = 64

# --- Message texts: in the catalogs (the msgid is the English), looked up by a stable key. ---
# Parameters: entered (what was typed), example/plain (how to write it), as_thousands/as_decimal
# (the two readings of an ambiguous text), currency, count (decimals).
MESSAGES: dict[str, str] = {
    "empty": N_("Enter an amount, like {example}."),
    "not_positive": N_("The amount must be more than zero; you entered {entered}."),
    "write_like": N_("Write the amount like {example} or {plain}; you entered {entered}."),
    "ambiguous": N_(
        "{entered} can be read two ways; write {as_thousands} or {as_decimal} to say which."
    ),
    "ambiguous_thousands": N_(
        "{entered} can be read two ways; if you mean {as_thousands}, write it that way."
    ),
    "write_as": N_("Write the amount as {example}; you entered {entered}."),
    "too_many_decimals": N_(
        "{currency} amounts have at most {count} decimals; you entered {entered}."
    ),
    "one_decimal": N_("{currency} amounts have at most one decimal; you entered {entered}."),
    "no_decimals": N_("{currency} amounts have no decimals; you entered {entered}."),
    "too_large": N_("{entered} is too large to be an amount."),
    "wrong_currency": N_("This amount is in {currency}; you entered {entered}."),
    "at": N_("at"),
}


def message(key: str, locale: str, **params: str) -> str:
    """The text of ``key`` as a reader of ``locale`` reads it (English when it has no catalog)."""
    return texts(locale).gettext(MESSAGES[key]).format(**params)


class AmountNotUnderstood(InvalidInput):
    """A typed amount that is refused; says how to write it, in the person's language."""

    def __init__(self, key: str, locale: str, **params: str) -> None:
        self.key = key
        self.params = params
        self.locale = locale
        super().__init__("amount", message(key, locale, **params))

    def text_in(self, locale: str) -> str:
        """The same refusal for a reader of ``locale`` (the examples keep the typist's locale)."""
        return message(self.key, locale, **self.params)


# --- Locales ---------------------------------------------------------------------------------


def normalize_locale(name: object) -> str:
    """A locale as Slack writes it (``fr-FR``), from any of its forms; ``en-US`` if unknown."""
    return _normalize(name) if isinstance(name, str) else DEFAULT_LOCALE


@cache
def _normalize(name: str) -> str:
    tag = name.strip().split(".", 1)[0].split("@", 1)[0].replace("_", "-")
    if not tag or len(tag) > 35 or not tag.replace("-", "").isascii():
        return DEFAULT_LOCALE
    try:
        locale = Locale.parse(tag, sep="-")
    except (UnknownLocaleError, ValueError, TypeError):
        language = tag.split("-", 1)[0]
        try:
            locale = Locale.parse(language)
        except (UnknownLocaleError, ValueError, TypeError):
            return DEFAULT_LOCALE
    if locale.territory is None:
        likely = get_global("likely_subtags").get(locale.language)
        if likely:
            try:
                full = Locale.parse(likely)
                locale = Locale(locale.language, full.territory, locale.script)
            except (UnknownLocaleError, ValueError, TypeError):
                pass
    return "-".join(part for part in (locale.language, locale.script, locale.territory) if part)


@cache
def _babel(locale: str) -> Locale:
    return Locale.parse(normalize_locale(locale), sep="-")


def language_of(locale: str) -> str:
    """The language part of a locale (``fr`` for ``fr-FR``), which picks the message texts."""
    return _babel(locale).language


# --- Formatting ------------------------------------------------------------------------------


def _major(minor: int, exponent: int) -> Decimal:
    return Decimal(minor).scaleb(-exponent)


def _pattern(base: NumberPattern, exponent: int) -> NumberPattern:
    fixed = copy.copy(base)
    fixed.frac_prec = (exponent, exponent)
    return fixed


def format_money(minor: int, currency: str, locale: str) -> str:
    """Minor units as the locale writes money: ``125000, "USD", "fr-FR"`` -> ``1 250,00 $US``."""
    code = normalize_currency(currency)
    exponent = currency_exponent(code)
    babel_locale = _babel(locale)
    pattern = _pattern(babel_locale.currency_formats["standard"], exponent)
    value = _major(minor, exponent)
    formatted: str = pattern.apply(value, babel_locale, currency=code, currency_digits=False)
    return formatted


def format_number(minor: int, exponent: int, locale: str, *, grouped: bool = True) -> str:
    """Minor units as a bare number in the locale, with exactly ``exponent`` decimals."""
    babel_locale = _babel(locale)
    pattern = _pattern(babel_locale.decimal_formats[None], exponent)
    formatted: str = pattern.apply(_major(minor, exponent), babel_locale, group_separator=grouped)
    return formatted


# --- Parsing ---------------------------------------------------------------------------------

_SPACES = frozenset(" \u00a0\u202f")
_MINUS = frozenset("-\u2212\u2012\u2013(")
_DIGITS = re.compile(r"[0-9]", re.ASCII)


@dataclass(frozen=True)
class _Convention:
    """How one convention writes a number: its decimal mark, group marks and group sizes."""

    decimal: str
    groups: frozenset[str]
    grouping: tuple[int, int]


@dataclass(frozen=True)
class _Reading:
    whole: str
    frac: str
    grouped: bool


@cache
def _conventions(locale: str) -> tuple[_Convention, _Convention]:
    """The locale's own convention, and the other widespread one (``,`` and ``.`` swapped)."""
    babel_locale = _babel(locale)
    symbols = babel_locale.number_symbols.get("latn", {})
    decimal = symbols.get("decimal", ".")
    group = symbols.get("group", ",")
    groups = _SPACES if group in _SPACES else frozenset({group})
    grouping = babel_locale.decimal_formats[None].grouping
    own = _Convention(decimal, groups - {decimal}, grouping)
    if decimal == ".":
        other = _Convention(",", frozenset({"."}) | _SPACES, (3, 3))
    else:
        other = _Convention(".", frozenset({","}), (3, 3))
    return own, other


def _read(body: str, convention: _Convention) -> _Reading | None:
    """``body`` as digits before and after the decimal mark, or None if not this convention."""
    whole, mark, frac = body.partition(convention.decimal)
    if mark and not (frac.isascii() and frac.isdigit()):
        return None
    parts = re.split("|".join(re.escape(g) for g in sorted(convention.groups)), whole)
    if not all(part.isascii() and part.isdigit() for part in parts):
        return None
    if len(parts) > 1:
        primary, secondary = convention.grouping
        first, *middle, last = parts
        if first.startswith("0") or len(last) != primary:
            return None
        if not 1 <= len(first) <= secondary or any(len(part) != secondary for part in middle):
            return None
    return _Reading("".join(parts), frac, len(parts) > 1)


def _fits(reading: _Reading | None, exponent: int) -> bool:
    return (
        reading is not None
        and len(reading.frac) <= exponent
        and len(reading.whole.lstrip("0")) <= MAX_MAJOR_DIGITS
    )


def _minor(reading: _Reading, exponent: int) -> int:
    scale: int = 10**exponent
    return int(reading.whole) * scale + int(reading.frac.ljust(exponent, "0") or "0")


def _shown(text: str, limit: int = 40) -> str:
    printable = "".join(ch if ch.isprintable() else "?" for ch in text)
    return printable if len(printable) <= limit else printable[: limit - 1] + "…"


@cache
def _currency_tokens(locale: str) -> dict[str, str]:
    """Every code and symbol a person may type, casefolded, to the currency it names here."""
    babel_locale = _babel(locale)
    english = Locale.parse("en")
    tokens: dict[str, str] = {}
    for code in get_global("all_currencies"):
        tokens.setdefault(code.casefold(), code)
    # The locale's own symbols win over English ones where both name something.
    for symbols in (english.currency_symbols, babel_locale.currency_symbols):
        for code, symbol in symbols.items():
            tokens[symbol.casefold()] = code
    return tokens


def _check_currency(token: str, code: str, locale: str, entered: str) -> None:
    if not token:
        return
    folded = token.casefold()
    accepted = {
        code.casefold(),
        _babel(locale).currency_symbols.get(code, code).casefold(),
        Locale.parse("en").currency_symbols.get(code, code).casefold(),
    }
    if folded in accepted:
        return
    if folded in _currency_tokens(locale):
        raise AmountNotUnderstood("wrong_currency", locale, currency=code, entered=entered)
    raise _write_like(locale, code, entered)


def _write_like(locale: str, code: str, entered: str, minor: int | None = None) -> Exception:
    exponent = currency_exponent(code)
    example_minor = minor if minor is not None else 125050 * 10**exponent // 100
    example = format_number(example_minor, exponent, locale)
    plain = format_number(example_minor, exponent, locale, grouped=False)
    if plain == example:
        return AmountNotUnderstood("write_as", locale, example=example, entered=entered)
    return AmountNotUnderstood("write_like", locale, example=example, plain=plain, entered=entered)


def parse_amount(text: object, currency: str, locale: str) -> int:
    """What a person typed, read the way their locale writes it, as positive minor units.

    Raises :class:`AmountNotUnderstood` (see the module's docstring for the rules).
    """
    code = normalize_currency(currency)
    exponent = currency_exponent(code)
    locale = normalize_locale(locale)
    cleaned = text.strip() if isinstance(text, str) else ""
    entered = _shown(cleaned)
    if not cleaned:
        example = format_number(125050 * 10**exponent // 100, exponent, locale)
        raise AmountNotUnderstood("empty", locale, example=example)
    if len(cleaned) > MAX_INPUT:
        raise AmountNotUnderstood("too_large", locale, entered=entered)
    digits = [match.start() for match in _DIGITS.finditer(cleaned)]
    if not digits:
        raise _write_like(locale, code, entered)
    prefix, body, suffix = (
        cleaned[: digits[0]],
        cleaned[digits[0] : digits[-1] + 1],
        cleaned[digits[-1] + 1 :],
    )
    if any(ch in _MINUS for ch in prefix) or suffix.strip() in {"-", ")"}:
        raise AmountNotUnderstood("not_positive", locale, entered=entered)
    before, after = prefix.strip(), suffix.strip()
    if before and after:
        raise _write_like(locale, code, entered)
    _check_currency(before or after, code, locale, entered)

    own, other = _conventions(locale)
    reading = _read(body, own)
    if reading is None:
        theirs = _read(body, other)
        if theirs is not None and _fits(theirs, exponent) and _minor(theirs, exponent) > 0:
            raise _write_like(locale, code, entered, _minor(theirs, exponent))
        raise _write_like(locale, code, entered)
    if len(reading.whole.lstrip("0")) > MAX_MAJOR_DIGITS:
        raise AmountNotUnderstood("too_large", locale, entered=entered)
    if not reading.grouped and len(reading.frac) == 3 and exponent < 3:
        theirs = _read(body, other)
        if theirs is not None:
            raise _ambiguous(locale, exponent, reading, entered)
    if len(reading.frac) > exponent:
        key = {0: "no_decimals", 1: "one_decimal"}.get(exponent, "too_many_decimals")
        raise AmountNotUnderstood(key, locale, currency=code, count=str(exponent), entered=entered)
    minor = _minor(reading, exponent)
    if minor <= 0:
        raise AmountNotUnderstood("not_positive", locale, entered=entered)
    return minor


def _ambiguous(locale: str, exponent: int, reading: _Reading, entered: str) -> AmountNotUnderstood:
    thousands = format_number(int(reading.whole + reading.frac), 0, locale)
    as_decimal = reading.frac.rstrip("0")
    if len(as_decimal) > exponent:
        return AmountNotUnderstood(
            "ambiguous_thousands", locale, entered=entered, as_thousands=thousands
        )
    decimal_minor = int(reading.whole) * 10**exponent + int(as_decimal.ljust(exponent, "0") or "0")
    return AmountNotUnderstood(
        "ambiguous",
        locale,
        entered=entered,
        as_thousands=thousands,
        as_decimal=format_number(decimal_minor, exponent, locale),
    )


# --- Dates and times -------------------------------------------------------------------------


def format_date(day: dt.date, locale: str) -> str:
    """A day as the locale writes it, medium length: ``24 nov. 2026`` / ``Nov 24, 2026``."""
    return _babel_format_date(day, "medium", locale=_babel(locale))


def _aware(moment: dt.datetime) -> dt.datetime:
    # The program keeps UTC (slackbot.clock); a naive value read back from SQLite is UTC too.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=dt.UTC)


def _zone(tz: str) -> dt.tzinfo:
    try:
        return ZoneInfo(tz.strip()) if tz and tz.strip() else dt.UTC
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return dt.UTC


def format_datetime(moment: dt.datetime, locale: str, tz: str) -> str:
    """A moment in the reader's time zone and locale: ``24 nov. 2026, 15:05``.

    An unknown time zone shows UTC rather than failing: the text is for reading, not storing.
    """
    babel_locale = _babel(locale)
    local = _aware(moment).astimezone(_zone(tz))
    day = _babel_format_date(local.date(), "medium", locale=babel_locale)
    time = _babel_format_time(local, "short", locale=babel_locale)
    combined: str = babel_locale.datetime_formats["medium"]
    return combined.replace("{1}", day).replace("{0}", time)


def slack_date_token(moment: dt.datetime, fallback: str, *, locale: str | None = None) -> str:
    """Slack's ``<!date^…>`` token, which each reader's client shows in their own time zone.

    ``fallback`` is what clients that cannot render the token show (use :func:`format_datetime`).
    The word between date and time is ``at``, or the locale's word when ``locale`` is given.
    """
    stamp = int(_aware(moment).timestamp())
    word = message("at", locale) if locale else "at"
    shown = fallback.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return f"<!date^{stamp}^{{date_short_pretty}} {word} {{time}}|{shown}>"


# --- What a person reads in Slack ------------------------------------------------------------


def display_money(minor: int, currency: str, locale: str) -> str:
    """An amount in a Slack view: the one rule for how money reads, per language.

    English readers keep ``1,250.00 USD`` (``#,##0.00`` then the ISO code): in a billing
    channel a bare ``$`` could be USD, CAD or AUD. Every other language reads CLDR's standard
    form, whose symbols are unambiguous there (``1 250,00 $US``, ``1 250,00 €``).
    """
    if language_of(locale) == "en":
        return format_amount(minor, currency)
    return format_money(minor, currency, locale)


def typing_amount(minor: int, currency: str, locale: str) -> str:
    """An amount as the reader would type it, for an input's initial value and placeholder:
    what :func:`parse_amount` reads back in that locale (``2000,00`` in French, ``2000.00``
    in English); no grouping, no symbol."""
    if language_of(locale) == "en":
        return to_decimal_string(minor, currency)
    return format_number(
        minor, currency_exponent(normalize_currency(currency)), locale, grouped=False
    )


def display_count(n: int, locale: str) -> str:
    """A count as the locale groups it (``1,234`` / ``1 234``)."""
    if language_of(locale) == "en":
        return f"{n:,}"
    formatted: str = _babel_format_decimal(n, locale=_babel(locale))
    return formatted


def utc_fallback(moment: dt.datetime, locale: str) -> str:
    """A moment in UTC as the locale writes it, for clients that show no ``<!date>`` token."""
    utc = _aware(moment).astimezone(dt.UTC)
    if language_of(locale) == "en":
        return f"{utc:%Y-%m-%d %H:%M} UTC"
    return f"{format_datetime(utc, locale, 'UTC')} UTC"
