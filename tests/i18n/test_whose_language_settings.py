"""DEFAULT_LOCALE and BILLING_LOCALE (issue 15): validated by name, the billing one defaulting."""

from __future__ import annotations

import pytest

from slackbot.settings import SettingsError, check_locale, load_settings


def test_unset_both_read_english() -> None:
    settings = load_settings(DATABASE_URL="sqlite://")
    assert (settings.default_locale, settings.billing_locale) == ("en-US", "en-US")


def test_billing_locale_defaults_to_default_locale() -> None:
    settings = load_settings(DEFAULT_LOCALE="fr-FR")
    assert (settings.default_locale, settings.billing_locale) == ("fr-FR", "fr-FR")
    settings = load_settings(DEFAULT_LOCALE="fr-FR", BILLING_LOCALE="en-GB")
    assert (settings.default_locale, settings.billing_locale) == ("fr-FR", "en-GB")


def test_a_locale_is_stored_as_slack_writes_it() -> None:
    assert load_settings(DEFAULT_LOCALE=" fr_FR ").default_locale == "fr-FR"
    assert load_settings(BILLING_LOCALE="").billing_locale == "en-US"


@pytest.mark.parametrize(
    ("value", "says"),
    [
        ("de-DE", "DEFAULT_LOCALE: 'de-DE': the bot has no German texts; supported languages:"),
        ("français", "DEFAULT_LOCALE: 'français' is not a locale; write it as Slack does"),
        ("qq-QQ", "DEFAULT_LOCALE: 'qq-QQ' is not a locale Babel knows"),
        ("fr-…", "DEFAULT_LOCALE: 'fr-…' is not a locale"),
    ],
)
def test_a_bad_default_locale_is_refused_by_name(value: str, says: str) -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(DEFAULT_LOCALE=value)
    [problem] = caught.value.problems
    assert problem.startswith(says)


def test_a_bad_billing_locale_is_refused_by_name_beside_the_other() -> None:
    with pytest.raises(SettingsError) as caught:
        load_settings(DEFAULT_LOCALE="xx_YY!", BILLING_LOCALE="es-ES")
    assert [p.split(":", 1)[0] for p in caught.value.problems] == [
        "DEFAULT_LOCALE",
        "BILLING_LOCALE",
    ]
    assert "no Spanish texts; supported languages: en, fr" in caught.value.problems[1]


def test_supported_languages_are_english_and_the_catalogs() -> None:
    assert check_locale("en") == "en"
    assert check_locale("fr-CA") == "fr-CA"
    with pytest.raises(ValueError, match="is not a locale Babel knows"):
        check_locale("xx-PS")  # the pseudo-locale is for layout tests, not readers
