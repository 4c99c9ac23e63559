"""Where the refusal texts used to live; they are :mod:`slackbot.slack.refusals`' now.

Kept only so ``tests/system/test_database_faults.py`` (outside this change's files) still
imports ``UNAVAILABLE_TEXT`` from here; once its import names ``slackbot.slack.refusals``, this
module goes.
"""

from __future__ import annotations

from slackbot.slack.refusals import UNAVAILABLE_TEXT, UNEXPECTED_TEXT

__all__ = ["UNAVAILABLE_TEXT", "UNEXPECTED_TEXT"]
