"""Tests of the languages: catalogs, the pseudo-locale, whose language, numbers and dates."""
