"""The ledger database's unit of work: which SQLite refusals are transient, and what they become."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy.exc import OperationalError

from slackbot.db import Database, is_locking_protocol
from slackbot.errors import Unavailable


def _refusal(message: str) -> OperationalError:
    return OperationalError("COMMIT", {}, sqlite3.OperationalError(message))


def test_sqlites_locking_protocol_is_a_try_again_and_a_real_error_is_not(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'ledger.db'}")
    try:
        assert is_locking_protocol(_refusal("locking protocol"))
        assert not is_locking_protocol(_refusal("no such table: payments"))
        assert not is_locking_protocol(ValueError("locking protocol"))
        # The person is told to try again (Unavailable), as for a held lock...
        with pytest.raises(Unavailable, match="locking protocol"), db.transaction():
            raise _refusal("locking protocol")
        # ...while a bug in a statement still surfaces as itself.
        with pytest.raises(OperationalError, match="no such table"), db.transaction():
            raise _refusal("no such table: payments")
        # The refused unit of work left the writers' queue free for the next one.
        with db.transaction() as session:
            assert session.connection().exec_driver_sql("SELECT 1").scalar() == 1
    finally:
        db.dispose()
