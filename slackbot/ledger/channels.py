"""Moved to :mod:`slackbot.outbox.channels` (issue 10): an alias until slackbot/cli.py and
tests/outbox/test_exactly_once.py import the new home, then this file goes."""

from slackbot.outbox.channels import *  # noqa: F403
from slackbot.outbox.channels import __all__ as __all__
