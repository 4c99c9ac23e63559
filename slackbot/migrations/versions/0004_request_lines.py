"""requests with several lines: allocations gain request_id, line_no and chosen

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 09:00:00

A request is one payment and 1 to 10 lines decided together; each line stays an allocation row.
``request_id`` is the request's first line's ``allocation_id``; ``line_no`` the line's place
(1..10); ``chosen`` how the lines were chosen (suggested / edited / by hand, NULL when unsaid).

Every existing allocation becomes a request of one line: ``request_id = allocation_id``,
``line_no = 1``, ``chosen`` NULL. The columns are added nullable, filled, then made NOT NULL,
with the CHECKs (line number range, line 1 is the request, known choice), the unique pairs
(request_id, line_no) and (request_id, invoice_id), and an index on request_id.

SQLite cannot add NOT NULL or CHECKs in place, so there the table is rebuilt (batch mode); the
migration environment turns SQLite's foreign keys off for the rebuild and checks every
reference to an allocation before it commits (``env.py``).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Written out, not imported: a migration keeps meaning what it meant when it was written.
MAX_REQUEST_LINES = 10
LINE_CHOICES = "'suggested', 'edited', 'by_hand'"


NEW_CHECKS = (
    ("line_no_range", f"line_no >= 1 AND line_no <= {MAX_REQUEST_LINES}"),
    ("first_line_is_request", "(line_no = 1) = (request_id = allocation_id)"),
    ("chosen_known", f"chosen IS NULL OR chosen IN ({LINE_CHOICES})"),
)
NEW_UNIQUES = (
    ("uq_allocations_request_id_line_no", ["request_id", "line_no"]),
    ("uq_allocations_request_id_invoice_id", ["request_id", "invoice_id"]),
)


def upgrade() -> None:
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.add_column(sa.Column("request_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("line_no", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("chosen", sa.String(length=16), nullable=True))
    op.execute("UPDATE allocations SET request_id = allocation_id, line_no = 1")
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.alter_column("request_id", existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column("line_no", existing_type=sa.Integer(), nullable=False)
        for name, condition in NEW_CHECKS:
            batch_op.create_check_constraint(op.f(f"ck_allocations_{name}"), condition)
        for name, columns in NEW_UNIQUES:
            batch_op.create_unique_constraint(op.f(name), columns)
        batch_op.create_index("ix_allocations_request", ["request_id"], unique=False)


def downgrade() -> None:
    # The lines of a request of several lines stay separate allocations (each still balanced
    # and exported); only the grouping is lost.
    with op.batch_alter_table("allocations", schema=None) as batch_op:
        batch_op.drop_index("ix_allocations_request")
        for name, _ in NEW_UNIQUES:
            batch_op.drop_constraint(op.f(name), type_="unique")
        for name, _ in NEW_CHECKS:
            batch_op.drop_constraint(op.f(f"ck_allocations_{name}"), type_="check")
        batch_op.drop_column("chosen")
        batch_op.drop_column("line_no")
        batch_op.drop_column("request_id")
