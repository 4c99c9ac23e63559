"""Money at the edges: ISO 4217 exponents, parsing decimal strings and formatting minor units.

Inside the program an amount is an ``int`` of minor units plus a currency code. Decimal strings
exist only where people and files meet the program (CSV, Slack text, JSON), and every one of them
goes through :func:`parse_amount` on the way in and :func:`to_decimal_string` or
:func:`format_amount` on the way out.
"""

from __future__ import annotations

import re
from functools import cache

from babel.core import get_global

from slackbot.errors import InvalidInput
from slackbot.i18n.catalog import N_

# Plain ASCII digits with an optional fractional part: no signs, exponents, separators,
# whitespace inside, or non-ASCII digits (Python's Decimal would accept "١٠٠" and "1e9").
_AMOUNT = re.compile(r"(?P<whole>[0-9]+)(?:\.(?P<frac>[0-9]+))?", re.ASCII)
_CURRENCY = re.compile(r"[A-Z]{3}", re.ASCII)
# More than this many major units is not a payment; it is a typo (and would overflow BIGINT
# in minor units of a 4-decimal currency long before).
MAX_MAJOR_DIGITS = 13


@cache
def _cldr_currencies() -> frozenset[str]:
    return frozenset(get_global("all_currencies"))


@cache
def _cldr_fractions() -> dict[str, tuple[int, int, int, int]]:
    return dict(get_global("currency_fractions"))


# CLDR's "digits" for a few currencies is the *cash* practice, not ISO 4217's minor unit; ISO
# 4217 is what ERPs and banks use, so it wins where the two differ.
_ISO_4217_OVERRIDES = {"HUF": 2, "TWD": 2, "CZK": 2, "ISK": 0, "IDR": 2, "COP": 2, "UGX": 0}


def currency_exponent(currency: str) -> int:
    """The number of decimals ISO 4217 gives ``currency`` (USD 2, JPY 0, KWD 3)."""
    code = normalize_currency(currency)
    if code in _ISO_4217_OVERRIDES:
        return _ISO_4217_OVERRIDES[code]
    fractions = _cldr_fractions()
    digits: int = fractions.get(code, fractions["DEFAULT"])[0]
    return digits


def normalize_currency(text: str) -> str:
    code = text.strip().upper()
    if not _CURRENCY.fullmatch(code) or code not in _cldr_currencies():
        raise InvalidInput(
            "currency",
            N_("{entered} is not an ISO 4217 currency code (e.g. USD)."),
            entered=repr(text),
        )
    return code


_NOT_POSITIVE = N_("The amount must be more than zero; you entered {entered}.")


def parse_amount(text: str, currency: str, *, field: str = "amount") -> int:
    """Parse a decimal string in major units into positive minor units, or say what is wrong."""
    exponent = currency_exponent(currency)
    cleaned = text.strip() if isinstance(text, str) else ""
    match = _AMOUNT.fullmatch(cleaned)
    if match is None:
        if not cleaned:
            raise InvalidInput(field, N_("Enter an amount."))
        if cleaned.startswith("-"):
            raise InvalidInput(field, _NOT_POSITIVE, entered=text)
        example = "1250" if exponent == 0 else "1250." + "0" * exponent
        raise InvalidInput(
            field,
            N_(
                "Enter the amount as digits with an optional decimal point, like {example}"
                " (no commas or symbols); you entered {entered}."
            ),
            example=example,
            entered=_shorten(text),
        )
    whole, frac = match["whole"], match["frac"] or ""
    if len(frac) > exponent:
        if exponent == 0:
            template = N_("{currency} amounts have no decimals; you entered {entered}.")
        else:
            template = N_(
                "{currency} amounts have at most {count} decimals; you entered {entered}."
            )
        raise InvalidInput(field, template, currency=currency, count=exponent, entered=text.strip())
    if len(whole.lstrip("0")) > MAX_MAJOR_DIGITS:
        raise InvalidInput(
            field, N_("{entered} is too large to be an amount."), entered=_shorten(text)
        )
    scale: int = 10**exponent
    minor = int(whole) * scale + (int(frac.ljust(exponent, "0")) if exponent else 0)
    if minor <= 0:
        raise InvalidInput(field, _NOT_POSITIVE, entered=text.strip())
    return minor


def to_decimal_string(minor: int, currency: str, exponent: int | None = None) -> str:
    """Minor units as a plain decimal string in major units: ``125000, "USD"`` -> ``"1250.00"``."""
    places = currency_exponent(currency) if exponent is None else exponent
    if places == 0:
        return str(minor)
    sign = "-" if minor < 0 else ""
    scale: int = 10**places
    whole, frac = divmod(abs(minor), scale)
    return f"{sign}{whole}.{frac:0{places}d}"


def format_amount(minor: int, currency: str) -> str:
    """Minor units for a person to read: ``125000, "USD"`` -> ``"1,250.00 USD"``."""
    plain = to_decimal_string(minor, currency)
    sign = "-" if plain.startswith("-") else ""
    whole, _, frac = plain.lstrip("-").partition(".")
    grouped = f"{int(whole):,}"
    return f"{sign}{grouped}{'.' + frac if frac else ''} {currency}"


def _shorten(text: object, limit: int = 40) -> str:
    shown = str(text)
    return shown if len(shown) <= limit else shown[: limit - 1] + "…"
