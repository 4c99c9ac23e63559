"""Amounts, dates and times in the locale: exact CLDR strings, what is read, what is refused."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from slackbot.errors import InvalidInput
from slackbot.i18n.catalog import texts
from slackbot.i18n.numbers import (
    MESSAGES,
    AmountNotUnderstood,
    format_date,
    format_datetime,
    format_money,
    format_number,
    normalize_locale,
    parse_amount,
    slack_date_token,
)
from slackbot.money import MAX_MAJOR_DIGITS, currency_exponent

NBSP = "\u00a0"
NNBSP = "\u202f"

# --- Formatting: the exact strings CLDR gives ------------------------------------------------


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "expected"),
    [
        (125000, "USD", "fr-FR", f"1{NNBSP}250,00{NBSP}$US"),
        (1250, "JPY", "fr-FR", f"1{NNBSP}250{NBSP}JPY"),
        (1250500, "KWD", "fr-FR", f"1{NNBSP}250,500{NBSP}KWD"),
        (125050, "EUR", "fr-FR", f"1{NNBSP}250,50{NBSP}€"),
        (-125050, "EUR", "fr-FR", f"-1{NNBSP}250,50{NBSP}€"),
        (5, "EUR", "fr-FR", f"0,05{NBSP}€"),
        (123456789012, "EUR", "fr-FR", f"1{NNBSP}234{NNBSP}567{NNBSP}890,12{NBSP}€"),
        (125000, "USD", "en-US", "$1,250.00"),
        (-125000, "USD", "en-US", "-$1,250.00"),
        (1250, "JPY", "en-US", "¥1,250"),
        (1250500, "KWD", "en-US", "KWD1,250.500"),
        (125050, "EUR", "en-US", "€1,250.50"),
        (100, "GBP", "en-US", "£1.00"),
        # HUF: ISO 4217's 2 decimals (slackbot.money), not CLDR's cash practice of 0.
        (125000, "HUF", "en-US", "HUF1,250.00"),
        (125000, "USD", "fr", f"1{NNBSP}250,00{NBSP}$US"),
        (125000, "USD", "zz-ZZ", "$1,250.00"),
    ],
)
def test_format_money_gives_cldr_text_with_the_currencys_own_decimals(
    minor: int, currency: str, locale: str, expected: str
) -> None:
    assert format_money(minor, currency, locale) == expected


def test_format_number_groups_with_the_locales_mark() -> None:
    assert format_number(125050, 2, "fr-FR") == f"1{NNBSP}250,50"
    assert format_number(125050, 2, "fr-FR", grouped=False) == "1250,50"
    assert format_number(1250, 0, "en-US") == "1,250"


# --- Locales ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given_name", "expected"),
    [
        ("fr-FR", "fr-FR"),
        ("fr_FR", "fr-FR"),
        ("fr", "fr-FR"),
        ("FR-fr", "fr-FR"),
        ("fr_FR.UTF-8", "fr-FR"),
        ("en-US", "en-US"),
        ("en", "en-US"),
        ("en-GB", "en-GB"),
        ("fr-CA", "fr-CA"),
        ("fr-US", "fr-FR"),
        ("zz-ZZ", "en-US"),
        ("", "en-US"),
        ("   ", "en-US"),
        ("../../etc/passwd", "en-US"),
        ("ｆｒ", "en-US"),
        ("x" * 500, "en-US"),
    ],
)
def test_normalize_locale_accepts_slacks_forms_and_falls_back_to_en_us(
    given_name: str, expected: str
) -> None:
    assert normalize_locale(given_name) == expected


def test_normalize_locale_of_a_non_string_is_the_default() -> None:
    assert normalize_locale(None) == "en-US"


# --- Parsing: the table ----------------------------------------------------------------------

FR_ACCEPTED = [
    ("1 250,50", "EUR", 125050),
    (f"1{NBSP}250,50", "EUR", 125050),
    (f"1{NNBSP}250,50", "EUR", 125050),
    ("1250,50", "EUR", 125050),
    ("1250", "EUR", 125000),
    ("1 250", "EUR", 125000),
    ("1,25", "USD", 125),
    ("0,05", "USD", 5),
    ("0,5", "EUR", 50),
    ("12 345 678,90", "EUR", 1234567890),
    ("  1250,50  ", "EUR", 125050),
    ("1 250,50 €", "EUR", 125050),
    (f"1{NNBSP}250,50{NBSP}€", "EUR", 125050),
    ("1250,50€", "EUR", 125050),
    ("€ 1250,50", "EUR", 125050),
    ("1 250,50 EUR", "EUR", 125050),
    ("1 250,50 eur", "EUR", 125050),
    ("1 250,00 $US", "USD", 125000),
    ("1 250,50 $", "USD", 125050),
    ("1 250 JPY", "JPY", 1250),
    ("1 250 ¥", "JPY", 1250),
    ("1250", "JPY", 1250),
    ("1 250,500 KWD", "KWD", 1250500),
    # Three decimals in a three-decimal currency: the locale's reading stands.
    ("1,250", "KWD", 1250),
    ("1,255", "KWD", 1255),
    ("1234,567", "KWD", 1234567),
    ("9 999 999 999 999,99", "EUR", 999999999999999),
]

FR_REFUSED = [
    ("1,250", "USD", "ambiguous"),
    ("12,500", "EUR", "ambiguous"),
    ("999,999", "EUR", "ambiguous_thousands"),
    ("1,250", "JPY", "ambiguous_thousands"),
    ("1,255", "USD", "ambiguous_thousands"),
    ("1250.50", "EUR", "write_like"),
    ("1,250.50", "EUR", "write_like"),
    ("1.250,50", "EUR", "write_like"),
    ("1.250", "EUR", "write_like"),
    ("1 25,50", "EUR", "write_like"),
    ("12 50", "EUR", "write_like"),
    ("1250,", "EUR", "write_like"),
    (",50", "EUR", "write_like"),
    ("1250,5,0", "EUR", "write_like"),
    ("+1250", "EUR", "write_like"),
    ("1e3", "EUR", "write_like"),
    ("mille", "EUR", "write_like"),
    ("١٢٥٠", "EUR", "write_like"),
    ("１２５０", "EUR", "write_like"),
    ("1 250,50 € EUR", "EUR", "write_like"),
    ("1 250,50 €", "USD", "wrong_currency"),
    ("1 250,50 USD", "EUR", "wrong_currency"),
    ("$1 250,50", "EUR", "wrong_currency"),
    ("1 250,50 £", "EUR", "wrong_currency"),
    ("1 250,50 XYZW", "EUR", "write_like"),
    ("-1 250,50", "EUR", "not_positive"),
    ("\u22121 250,50", "EUR", "not_positive"),
    ("(1 250,50)", "EUR", "not_positive"),
    ("0", "EUR", "not_positive"),
    ("0,00", "EUR", "not_positive"),
    ("", "EUR", "empty"),
    ("   ", "EUR", "empty"),
    ("1250,505", "EUR", "too_many_decimals"),
    ("0,250", "USD", "too_many_decimals"),
    ("1250,50", "JPY", "no_decimals"),
    ("1,2", "JPY", "no_decimals"),
    ("1250,5000", "KWD", "too_many_decimals"),
    ("1250,500", "EUR", "too_many_decimals"),
    ("10 000 000 000 000", "EUR", "too_large"),
    ("1" * (MAX_MAJOR_DIGITS + 1), "EUR", "too_large"),
    ("1" * 100, "EUR", "too_large"),
]

EN_ACCEPTED = [
    ("1,250.50", "USD", 125050),
    ("1250.50", "USD", 125050),
    ("1250", "USD", 125000),
    ("1,250", "USD", 125000),
    ("1,250", "JPY", 1250),
    ("0.05", "USD", 5),
    ("0.5", "USD", 50),
    ("1.25", "USD", 125),
    ("12,345,678.90", "USD", 1234567890),
    ("$1,250.50", "USD", 125050),
    ("$ 1,250.50", "USD", 125050),
    ("1,250.50 USD", "USD", 125050),
    ("USD 1,250.50", "USD", 125050),
    ("1,250.50usd", "USD", 125050),
    ("  1250.50 ", "USD", 125050),
    ("€1,250.50", "EUR", 125050),
    ("1,250.50 EUR", "EUR", 125050),
    ("¥1,250", "JPY", 1250),
    ("1250 JPY", "JPY", 1250),
    ("£1,250.50", "GBP", 125050),
    ("KWD1,250.500", "KWD", 1250500),
    ("1.250", "KWD", 1250),
    ("1,250", "KWD", 1250000),
    ("1234.567", "KWD", 1234567),
    ("CA$1,250.50", "CAD", 125050),
    ("9,999,999,999,999.99", "USD", 999999999999999),
]

EN_REFUSED = [
    ("1.250", "USD", "ambiguous"),
    ("12.500", "USD", "ambiguous"),
    ("1.250", "JPY", "ambiguous_thousands"),
    ("1.255", "USD", "ambiguous_thousands"),
    ("1.250,50", "USD", "write_like"),
    ("1250,50", "USD", "write_like"),
    ("1 250.50", "USD", "write_like"),
    ("1,25", "USD", "write_as"),
    ("12,50", "USD", "write_as"),
    ("1,2,3", "USD", "write_like"),
    ("1,2500.50", "USD", "write_like"),
    ("01,250.50", "USD", "write_like"),
    ("1250.", "USD", "write_like"),
    (".50", "USD", "write_like"),
    ("1250.5.0", "USD", "write_like"),
    ("+1250", "USD", "write_like"),
    ("1e3", "USD", "write_like"),
    ("NaN", "USD", "write_like"),
    ("one thousand", "USD", "write_like"),
    ("$1,250.50 USD", "USD", "write_like"),
    ("€1,250.50", "USD", "wrong_currency"),
    ("$1,250.50", "EUR", "wrong_currency"),
    ("$1,250.50", "CAD", "wrong_currency"),
    ("1,250.50 GBP", "USD", "wrong_currency"),
    ("-1,250.50", "USD", "not_positive"),
    ("-$1,250.50", "USD", "not_positive"),
    ("$-1,250.50", "USD", "not_positive"),
    ("($1,250.50)", "USD", "not_positive"),
    ("1250-", "USD", "not_positive"),
    ("0", "USD", "not_positive"),
    ("0.00", "USD", "not_positive"),
    ("", "USD", "empty"),
    ("1250.505", "USD", "too_many_decimals"),
    ("1250.500", "USD", "too_many_decimals"),
    ("1250.5", "JPY", "no_decimals"),
    ("1250.5000", "KWD", "too_many_decimals"),
    ("10,000,000,000,000", "USD", "too_large"),
    ("1" * (MAX_MAJOR_DIGITS + 1), "USD", "too_large"),
]


@pytest.mark.parametrize(("text", "currency", "expected"), FR_ACCEPTED)
def test_fr_fr_reads(text: str, currency: str, expected: int) -> None:
    assert parse_amount(text, currency, "fr-FR") == expected


@pytest.mark.parametrize(("text", "currency", "key"), FR_REFUSED)
def test_fr_fr_refuses(text: str, currency: str, key: str) -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount(text, currency, "fr-FR")
    assert refused.value.key == key
    assert refused.value.message == texts("fr-FR").gettext(MESSAGES[key]).format(
        **refused.value.params
    )


@pytest.mark.parametrize(("text", "currency", "expected"), EN_ACCEPTED)
def test_en_us_reads(text: str, currency: str, expected: int) -> None:
    assert parse_amount(text, currency, "en-US") == expected


@pytest.mark.parametrize(("text", "currency", "key"), EN_REFUSED)
def test_en_us_refuses(text: str, currency: str, key: str) -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount(text, currency, "en-US")
    assert refused.value.key == key
    assert refused.value.message == MESSAGES[key].format(**refused.value.params)


def test_tables_have_at_least_25_rows_each() -> None:
    for table in (FR_ACCEPTED, FR_REFUSED, EN_ACCEPTED, EN_REFUSED):
        assert len(table) >= 25


# --- Parsing: what the refusals say ----------------------------------------------------------


def test_ambiguous_in_french_says_both_ways_in_french() -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount("1,250", "USD", "fr-FR")
    assert refused.value.message == (
        f"1,250 peut se lire de deux façons{NNBSP}; écrivez 1{NNBSP}250 ou 1,25 pour préciser."
    )
    assert refused.value.text_in("en") == (
        f"1,250 can be read two ways; write 1{NNBSP}250 or 1,25 to say which."
    )
    # The refusals read it with the reader's locale as Slack names it (fr-FR, not fr).
    assert refused.value.text_in("fr-FR") == refused.value.message
    assert refused.value.text_in("en-US") == refused.value.text_in("en")


def test_european_writing_from_en_us_is_shown_the_same_amount_written_the_us_way() -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount("1.250,50", "USD", "en-US")
    assert refused.value.message == (
        "Write the amount like 1,250.50 or 1250.50; you entered 1.250,50."
    )


def test_dot_decimal_from_fr_fr_is_shown_the_french_way() -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount("1250.50", "EUR", "fr")
    assert refused.value.message == (
        f"Écrivez le montant ainsi{NBSP}: 1{NNBSP}250,50 ou 1250,50{NNBSP};"
        " vous avez saisi 1250.50."
    )


def test_too_many_decimals_names_the_currencys_places() -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount("1250,5", "JPY", "fr-FR")
    assert refused.value.message == (
        f"Les montants en JPY n’ont pas de décimales{NNBSP}; vous avez saisi 1250,5."
    )
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount("1250.505", "USD", "en-US")
    assert refused.value.message == "USD amounts have at most 2 decimals; you entered 1250.505."


def test_wrong_currency_names_the_payments_currency() -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount("€1,250.50", "USD", "en-US")
    assert refused.value.message == "This amount is in USD; you entered €1,250.50."


def test_refusal_is_an_invalid_input_on_the_amount_field() -> None:
    with pytest.raises(InvalidInput) as refused:
        parse_amount("abc", "USD", "en-US")
    assert refused.value.field == "amount"


def test_long_or_unprintable_input_is_shown_shortened_and_printable() -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount("12\x00" + "x" * 50, "USD", "en-US")
    shown = refused.value.params["entered"]
    assert "\x00" not in shown and len(shown) == 40 and shown.endswith("…")


def test_unknown_locale_reads_and_answers_as_en_us() -> None:
    assert parse_amount("1,250.50", "USD", "xx-YY") == 125050
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount("", "USD", "xx-YY")
    assert refused.value.message == "Enter an amount, like 1,250.50."


def test_other_cldr_locales_read_their_own_convention() -> None:
    assert parse_amount("1.250,50", "EUR", "de-DE") == 125050
    assert parse_amount("12,34,567.50", "INR", "en-IN") == 123456750
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount("1,234,567.50", "INR", "en-IN")
    assert refused.value.key == "write_like"


def test_a_non_string_is_refused_as_empty() -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount(None, "USD", "en-US")
    assert refused.value.key == "empty"


def test_every_message_key_has_french_and_english_text() -> None:
    # The English is the msgid; the French is in the catalog (no dict of languages in the code).
    french = texts("fr-FR")
    untranslated = [key for key, english in MESSAGES.items() if french.gettext(english) == english]
    assert untranslated == []


# --- Round trip ------------------------------------------------------------------------------

CURRENCIES = ["USD", "EUR", "JPY", "KWD", "GBP", "CHF", "HUF", "CLF"]
LOCALES = ["fr-FR", "en-US", "fr", "en-GB", "de-DE", "fr-CA", "en-IN"]


@settings(max_examples=300, deadline=None)
@given(
    currency=st.sampled_from(CURRENCIES),
    locale=st.sampled_from(LOCALES),
    data=st.data(),
)
def test_format_then_parse_gives_the_amount_back(
    currency: str, locale: str, data: st.DataObject
) -> None:
    bound = 10 ** (MAX_MAJOR_DIGITS + currency_exponent(currency)) - 1
    minor = data.draw(st.integers(min_value=1, max_value=bound) | st.integers(1, 10**6))
    assert parse_amount(format_money(minor, currency, locale), currency, locale) == minor
    assert (
        parse_amount(format_number(minor, currency_exponent(currency), locale), currency, locale)
        == minor
    )


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=30), locale=st.sampled_from(LOCALES))
def test_any_text_is_read_or_refused_never_crashes(text: str, locale: str) -> None:
    try:
        minor = parse_amount(text, "EUR", locale)
    except AmountNotUnderstood as refused:
        assert refused.message
    else:
        assert minor > 0


@settings(max_examples=100, deadline=None)
@given(currency=st.sampled_from(CURRENCIES), minor=st.integers(1, 10**12))
def test_negative_formatted_amounts_are_refused(currency: str, minor: int) -> None:
    with pytest.raises(AmountNotUnderstood) as refused:
        parse_amount(format_money(-minor, currency, "fr-FR"), currency, "fr-FR")
    assert refused.value.key == "not_positive"


# --- Dates and times -------------------------------------------------------------------------

MOMENT = dt.datetime(2026, 11, 24, 14, 5, tzinfo=dt.UTC)


def test_format_date_in_each_locale() -> None:
    assert format_date(dt.date(2026, 11, 24), "fr-FR") == "24 nov. 2026"
    assert format_date(dt.date(2026, 11, 24), "en-US") == "Nov 24, 2026"


def test_format_datetime_in_the_readers_zone() -> None:
    assert format_datetime(MOMENT, "fr-FR", "Europe/Paris") == "24 nov. 2026, 15:05"
    assert format_datetime(MOMENT, "en-US", "America/New_York") == f"Nov 24, 2026, 9:05{NNBSP}AM"


def test_format_datetime_crosses_midnight_into_the_readers_day() -> None:
    late = dt.datetime(2026, 11, 24, 23, 30, tzinfo=dt.UTC)
    assert format_datetime(late, "fr-FR", "Asia/Tokyo") == "25 nov. 2026, 08:30"


def test_format_datetime_with_an_unknown_zone_shows_utc() -> None:
    assert format_datetime(MOMENT, "fr-FR", "Mars/Olympus") == "24 nov. 2026, 14:05"
    assert format_datetime(MOMENT, "fr-FR", "") == "24 nov. 2026, 14:05"


def test_format_datetime_reads_a_naive_moment_as_utc() -> None:
    naive = MOMENT.replace(tzinfo=None)
    assert format_datetime(naive, "en-US", "UTC") == format_datetime(MOMENT, "en-US", "UTC")


def test_slack_date_token_carries_the_unix_time_and_the_fallback() -> None:
    token = slack_date_token(MOMENT, "Nov 24, 2026, 2:05 PM")
    assert token == "<!date^1795529100^{date_short_pretty} at {time}|Nov 24, 2026, 2:05 PM>"
    assert dt.datetime.fromtimestamp(1795529100, dt.UTC) == MOMENT


def test_slack_date_token_in_french_and_escaped() -> None:
    token = slack_date_token(MOMENT, "a <b> & c", locale="fr-FR")
    assert token == "<!date^1795529100^{date_short_pretty} à {time}|a &lt;b&gt; &amp; c>"
