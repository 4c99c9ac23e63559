"""the database refuses a journal entry whose lines do not balance

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 09:00:00

Each journal entry now declares how many lines it has (``journal_entries.line_count``, at least
two: every line is one-sided and positive, so a balanced entry needs a debit and a credit).

PostgreSQL: a DEFERRABLE INITIALLY DEFERRED constraint trigger on ``journal_lines`` (insert,
update, delete) and on ``journal_entries`` (insert, update) checks, at commit, that each touched
entry that still exists has exactly its declared lines and that, per currency, its debits equal
its credits. Within the transaction lines may be written in any order; a transaction that would
commit an unbalanced or incomplete entry fails at COMMIT with a check violation (SQLSTATE 23514)
and changes nothing. Deleting an entry together with all its lines (what the tests' wipe does)
passes: there is no entry left to be wrong.

SQLite has no deferred triggers, so it refuses what a row trigger can judge alone:
- a line added to an entry that already has all its declared lines (posted entries are never
  added to);
- the line that completes an entry, when the entry's debits and credits then differ in any
  currency (the ledger writes an entry's lines in one flush, so the last line is the moment the
  entry is whole);
- an UPDATE of a line that leaves its entry unbalanced, and any move of a line to another entry;
- a change to an entry's declared line count.
What SQLite cannot refuse: an entry whose declared lines never all arrive, and deleted lines. The
books check (``slackbot books check``) reports both ("N lines ... (M lines declared)").

Rows written before this revision declare the lines they have (two, from the ledger).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LINE_COUNT_CHECK = "ck_journal_entries_line_count_declared"

POSTGRESQL_FUNCTIONS = (
    """
    CREATE OR REPLACE FUNCTION journal_entry_check(entry integer) RETURNS void
    LANGUAGE plpgsql AS $$
    DECLARE
        declared integer;
        found_lines integer;
        unbalanced text;
    BEGIN
        SELECT line_count INTO declared FROM journal_entries WHERE entry_id = entry;
        IF NOT FOUND THEN
            RETURN;  -- deleted in this transaction, lines and all
        END IF;
        SELECT count(*) INTO found_lines FROM journal_lines WHERE entry_id = entry;
        IF found_lines <> declared THEN
            RAISE EXCEPTION 'journal entry % has % lines but declares %',
                entry, found_lines, declared
                USING ERRCODE = 'check_violation';
        END IF;
        SELECT currency INTO unbalanced FROM journal_lines WHERE entry_id = entry
            GROUP BY currency HAVING sum(debit) <> sum(credit) LIMIT 1;
        IF FOUND THEN
            RAISE EXCEPTION 'journal entry % does not balance: debits differ from credits in %',
                entry, unbalanced
                USING ERRCODE = 'check_violation';
        END IF;
    END $$
    """,
    """
    CREATE OR REPLACE FUNCTION journal_entry_balanced() RETURNS trigger
    LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            PERFORM journal_entry_check(OLD.entry_id);
            RETURN NULL;
        END IF;
        PERFORM journal_entry_check(NEW.entry_id);
        IF TG_OP = 'UPDATE' AND OLD.entry_id <> NEW.entry_id THEN
            PERFORM journal_entry_check(OLD.entry_id);
        END IF;
        RETURN NULL;
    END $$
    """,
)
POSTGRESQL_TRIGGERS = (
    """
    CREATE CONSTRAINT TRIGGER journal_lines_balanced
    AFTER INSERT OR UPDATE OR DELETE ON journal_lines
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced()
    """,
    """
    CREATE CONSTRAINT TRIGGER journal_entries_balanced
    AFTER INSERT OR UPDATE ON journal_entries
    DEFERRABLE INITIALLY DEFERRED
    FOR EACH ROW EXECUTE FUNCTION journal_entry_balanced()
    """,
)

_LINES_OF_NEW = "(SELECT count(*) FROM journal_lines WHERE entry_id = NEW.entry_id)"
_DECLARED_BY_NEW = "(SELECT line_count FROM journal_entries WHERE entry_id = NEW.entry_id)"
_NEW_UNBALANCED = (
    "EXISTS (SELECT 1 FROM journal_lines WHERE entry_id = NEW.entry_id"
    " GROUP BY currency HAVING sum(debit) <> sum(credit))"
)
# RAISE takes one string literal: no concatenation, no values.
_COMPLETE = "journal entry already has all its declared lines; a posted entry is never added to"
_UNBALANCED = "journal entry does not balance: debits must equal credits in each currency"
SQLITE_TRIGGERS = (
    f"""
    CREATE TRIGGER journal_lines_within_declared BEFORE INSERT ON journal_lines
    WHEN {_LINES_OF_NEW} >= {_DECLARED_BY_NEW}
    BEGIN
        SELECT RAISE(ABORT, '{_COMPLETE}');
    END
    """,
    f"""
    CREATE TRIGGER journal_lines_balanced_when_complete AFTER INSERT ON journal_lines
    WHEN {_LINES_OF_NEW} = {_DECLARED_BY_NEW} AND {_NEW_UNBALANCED}
    BEGIN
        SELECT RAISE(ABORT, '{_UNBALANCED}');
    END
    """,
    f"""
    CREATE TRIGGER journal_lines_balanced_after_update AFTER UPDATE ON journal_lines
    WHEN {_NEW_UNBALANCED}
    BEGIN
        SELECT RAISE(ABORT, '{_UNBALANCED}');
    END
    """,
    """
    CREATE TRIGGER journal_lines_stay_in_their_entry BEFORE UPDATE OF entry_id ON journal_lines
    WHEN NEW.entry_id <> OLD.entry_id
    BEGIN
        SELECT RAISE(ABORT, 'a journal line never moves to another entry');
    END
    """,
    """
    CREATE TRIGGER journal_entries_keep_line_count BEFORE UPDATE OF line_count
    ON journal_entries
    WHEN NEW.line_count <> OLD.line_count
    BEGIN
        SELECT RAISE(ABORT, 'a journal entry keeps the line count it was posted with');
    END
    """,
)
SQLITE_TRIGGER_NAMES = (
    "journal_lines_within_declared",
    "journal_lines_balanced_when_complete",
    "journal_lines_balanced_after_update",
    "journal_lines_stay_in_their_entry",
    "journal_entries_keep_line_count",
)


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        # A column constraint: ADD COLUMN keeps journal_lines' foreign key intact, where a
        # batch rebuild of the parent table would have to drop it.
        op.execute(
            "ALTER TABLE journal_entries ADD COLUMN line_count INTEGER DEFAULT '2' NOT NULL"
            f" CONSTRAINT {LINE_COUNT_CHECK} CHECK (line_count >= 2)"
        )
    else:
        op.add_column(
            "journal_entries",
            sa.Column("line_count", sa.Integer(), server_default="2", nullable=False),
        )
        op.create_check_constraint(op.f(LINE_COUNT_CHECK), "journal_entries", "line_count >= 2")
    op.execute(
        "UPDATE journal_entries SET line_count = (SELECT count(*) FROM journal_lines"
        " WHERE journal_lines.entry_id = journal_entries.entry_id)"
        " WHERE (SELECT count(*) FROM journal_lines"
        " WHERE journal_lines.entry_id = journal_entries.entry_id) >= 2"
    )
    statements = (
        SQLITE_TRIGGERS
        if bind.dialect.name == "sqlite"
        else POSTGRESQL_FUNCTIONS + POSTGRESQL_TRIGGERS
    )
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "sqlite":
        for name in SQLITE_TRIGGER_NAMES:
            op.execute(f"DROP TRIGGER IF EXISTS {name}")
        with op.batch_alter_table("journal_entries") as batch:
            batch.drop_column("line_count")
        return
    op.execute("DROP TRIGGER IF EXISTS journal_entries_balanced ON journal_entries")
    op.execute("DROP TRIGGER IF EXISTS journal_lines_balanced ON journal_lines")
    op.execute("DROP FUNCTION IF EXISTS journal_entry_balanced()")
    op.execute("DROP FUNCTION IF EXISTS journal_entry_check(integer)")
    op.drop_constraint(LINE_COUNT_CHECK, "journal_entries", type_="check")
    op.drop_column("journal_entries", "line_count")
