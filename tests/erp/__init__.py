"""Tests of slackbot/erp: imports, exports, members, CSV fuzzing."""
