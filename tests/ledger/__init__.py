"""Tests of slackbot/ledger: lifecycle, refusals, randomized properties."""
