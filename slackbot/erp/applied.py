"""``slackbot import applied``: the ERP says which allocations (and reversals) it has booked.

The file is ``allocation_id[,erp_reference[,kind]]``; ``kind`` is ``allocation`` (the default:
the ERP applied it) or ``reversal`` (the ERP unapplied it after its reversal here). Rows are
checked alone (a number, a reference of at most 128 printable characters, no id twice), then
staged in a temporary table and checked against the ledger in SQL, one statement per kind of
problem: an unknown allocation, one that was never approved, one acknowledged already under
another reference, a reversal of an allocation that is not reversed or that the ERP never
booked. All or nothing, like the other imports: any bad row and nothing is recorded. The same
file twice changes nothing. An acknowledgement moves no money here: it tells the invoices import
(``--amount-due-includes-applied``) and ``reconcile`` what the ERP's figures already count.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable
from enum import StrEnum
from typing import IO

from sqlalchemy import Connection, text

from models.enums import AllocationStatus
from models.limits import is_allocation_id
from models.tables import AuditEvent
from slackbot.clock import Clock, system_clock
from slackbot.db import Database
from slackbot.erp.exports import unneutralize
from slackbot.erp.reader import BadRow, SourceReader, delimiter_hint, records_of
from slackbot.erp.results import ImportRejected, ImportResult
from slackbot.erp.temp_table import TempTable

KIND = "applied"


class ImportFile(StrEnum):
    """What ``slackbot import`` loads: the ERP's four files, and its acknowledgements."""

    PARTNERS = "partners"
    MEMBERS = "members"
    PAYMENTS = "payments"
    INVOICES = "invoices"
    APPLIED = KIND


HEADER = ("allocation_id", "erp_reference", "kind")
REQUIRED = 1
HEADER_TEXT = "allocation_id[,erp_reference[,kind]]"
MAX_ERP_REFERENCE = 128
KINDS = ("allocation", "reversal")
STAGE = "applied_stage"
STAGE_COLUMNS = (
    ("line", "integer"),
    ("allocation_id", "bigint"),
    ("erp_reference", "text"),
    ("kind", "text"),
)
CHUNK_ROWS = 20_000

_APPROVED = f"'{AllocationStatus.APPROVED}'"
_REVERSED = f"'{AllocationStatus.REVERSED}'"
# Each kind of problem: (SQL giving line, allocation id, a detail; the message; its kind).
_PROBLEMS: tuple[tuple[str, str, str], ...] = (
    (
        "SELECT s.line, s.allocation_id, '' FROM applied_stage s WHERE NOT EXISTS"
        " (SELECT 1 FROM allocations a WHERE a.allocation_id = s.allocation_id)",
        "allocation {id} is not an allocation of this ledger",
        "allocation_id is not an allocation of this ledger",
    ),
    (
        "SELECT s.line, s.allocation_id, a.status FROM applied_stage s JOIN allocations a"
        " ON a.allocation_id = s.allocation_id"
        f" WHERE s.kind = 'allocation' AND a.status NOT IN ({_APPROVED}, {_REVERSED})",
        "allocation {id} is {detail}, not approved: the ERP cannot have booked it",
        "the allocation is not approved",
    ),
    (
        "SELECT s.line, s.allocation_id, COALESCE(e.erp_reference, '') FROM applied_stage s"
        " JOIN erp_allocations e ON e.allocation_id = s.allocation_id"
        " WHERE s.kind = 'allocation' AND e.acknowledged_at IS NOT NULL"
        " AND COALESCE(e.erp_reference, '') <> s.erp_reference",
        "allocation {id} is acknowledged already, with ERP reference '{detail}';"
        " this file gives another",
        "already acknowledged with a different erp_reference",
    ),
    (
        "SELECT s.line, s.allocation_id, a.status FROM applied_stage s JOIN allocations a"
        " ON a.allocation_id = s.allocation_id"
        f" WHERE s.kind = 'reversal' AND a.status <> {_REVERSED}",
        "allocation {id} is {detail} here, not reversed: there is no reversal to book",
        "a reversal of an allocation that is not reversed",
    ),
    (
        "SELECT s.line, s.allocation_id, '' FROM applied_stage s WHERE s.kind = 'reversal'"
        " AND NOT EXISTS (SELECT 1 FROM erp_allocations e WHERE e.allocation_id = s.allocation_id"
        " AND e.acknowledged_at IS NOT NULL) AND NOT EXISTS (SELECT 1 FROM applied_stage o"
        " WHERE o.allocation_id = s.allocation_id AND o.kind = 'allocation')",
        "the ERP has not booked allocation {id} (no acknowledgement of it, before or in this"
        " file), so it cannot have booked its reversal",
        "a reversal of an allocation the ERP has not booked",
    ),
    (
        "SELECT s.line, s.allocation_id, COALESCE(e.reversal_erp_reference, '')"
        " FROM applied_stage s JOIN erp_allocations e ON e.allocation_id = s.allocation_id"
        " WHERE s.kind = 'reversal' AND e.reversal_acknowledged_at IS NOT NULL"
        " AND COALESCE(e.reversal_erp_reference, '') <> s.erp_reference",
        "the reversal of allocation {id} is acknowledged already, with ERP reference"
        " '{detail}'; this file gives another",
        "already acknowledged with a different erp_reference",
    ),
)

_NEW_ACKS = (
    "INSERT INTO erp_allocations (allocation_id, acknowledged_at, acknowledged_by, erp_reference)"
    " SELECT s.allocation_id, :now, :actor, NULLIF(s.erp_reference, '') FROM applied_stage s"
    " WHERE s.kind = 'allocation' AND NOT EXISTS"
    " (SELECT 1 FROM erp_allocations e WHERE e.allocation_id = s.allocation_id)"
)
_HANDED_ACKS = (
    "UPDATE erp_allocations SET acknowledged_at = :now, acknowledged_by = :actor,"
    " erp_reference = (SELECT NULLIF(s.erp_reference, '') FROM applied_stage s"
    " WHERE s.allocation_id = erp_allocations.allocation_id AND s.kind = 'allocation')"
    " WHERE acknowledged_at IS NULL AND allocation_id IN"
    " (SELECT allocation_id FROM applied_stage WHERE kind = 'allocation')"
)
_REVERSAL_ACKS = (
    "UPDATE erp_allocations SET reversal_acknowledged_at = :now,"
    " reversal_erp_reference = (SELECT NULLIF(s.erp_reference, '') FROM applied_stage s"
    " WHERE s.allocation_id = erp_allocations.allocation_id AND s.kind = 'reversal')"
    " WHERE reversal_acknowledged_at IS NULL AND allocation_id IN"
    " (SELECT allocation_id FROM applied_stage WHERE kind = 'reversal')"
)


def import_applied(
    db: Database,
    source: IO[bytes] | IO[str] | Iterable[bytes] | Iterable[str],
    *,
    source_name: str = "-",
    actor: str = "cli",
    clock: Clock = system_clock,
) -> ImportResult:
    """Record what the ERP booked, all or nothing; raises :class:`ImportRejected` listing
    every bad row (the database is then unchanged)."""
    reader = SourceReader(source)
    records = records_of(reader)
    bad: list[BadRow] = []
    rows_read = 0
    with db.transaction() as session:
        connection = session.connection()
        stage = TempTable(connection, STAGE, STAGE_COLUMNS)
        with contextlib.closing(stage):
            header = next(records, None)
            width = 0
            if header is None and reader.error is None:
                bad.append(BadRow(1, f"the file is empty; expected the header {HEADER_TEXT}"))
            elif isinstance(header, BadRow):
                bad.append(header)
            elif header is not None:
                width, problem = _header(header[1])
                if problem:
                    bad.append(BadRow(header[0], problem, "the header"))
            seen: dict[tuple[int, str], int] = {}
            chunk: list[tuple[int, int, str, str]] = []
            for record in records if not bad else ():
                rows_read += 1
                if isinstance(record, BadRow):
                    bad.append(record)
                    continue
                row = _check_row(*record, width, seen, bad)
                if row is not None:  # staged even after a bad row, so every bad row is named
                    chunk.append(row)
                    if len(chunk) >= CHUNK_ROWS:
                        stage.write(chunk)
                        chunk = []
            if reader.error is not None:
                bad.append(reader.error)
            if width:
                stage.write(chunk)
                stage.index("allocation_id")
                bad.extend(_problems(connection))
            if bad:
                raise ImportRejected(KIND, sorted(bad, key=lambda row: row.line), rows_read)
            now = clock()
            values = {"now": now, "actor": actor}
            recorded = sum(
                int(connection.execute(text(sql), values).rowcount)
                for sql in (_NEW_ACKS, _HANDED_ACKS, _REVERSAL_ACKS)
            )
        result = ImportResult(KIND, rows_read, recorded, 0, rows_read - recorded)
        if recorded:
            session.add(
                AuditEvent(
                    at=now,
                    actor=actor,
                    action=f"import.{KIND}",
                    subject=f"import:{KIND}",
                    detail={
                        "source": source_name,
                        "sha256": reader.sha256.hexdigest(),
                        "rows_read": rows_read,
                        "acknowledged": recorded,
                    },
                )
            )
    return result


def _header(values: list[str]) -> tuple[int, str]:
    names = tuple(value.lower() for value in values)
    if names in [HEADER[:n] for n in range(REQUIRED, len(HEADER) + 1)]:
        return len(names), ""
    found = ",".join(values)[:200]
    return 0, (
        f"the header must be {HEADER_TEXT} (an applied file: what the ERP booked);"
        f" found {found}{delimiter_hint(values)}"
    )


def _check_row(
    line: int,
    values: list[str],
    width: int,
    seen: dict[tuple[int, str], int],
    bad: list[BadRow],
) -> tuple[int, int, str, str] | None:
    if len(values) != width:
        bad.append(
            BadRow(
                line,
                f"expected {width} columns ({','.join(HEADER[:width])}), found {len(values)}"
                f"{delimiter_hint(values)}",
                f"found {len(values)} columns",
            )
        )
        return None
    raw_id = values[0]
    reference = unneutralize(values[1]) if width > 1 else ""
    kind = (values[2].lower() or "allocation") if width > 2 else "allocation"
    problems: list[tuple[str, str]] = []
    number = int(raw_id) if raw_id.isascii() and raw_id.isdigit() else 0
    if not is_allocation_id(number):
        problems.append(
            (
                f"allocation_id {raw_id[:40]!r} is not an allocation id (a number such as 42)",
                "allocation_id is not a number",
            )
        )
    if len(reference) > MAX_ERP_REFERENCE or not reference.isprintable():
        problems.append(
            (
                f"erp_reference must be at most {MAX_ERP_REFERENCE} printable characters",
                "erp_reference too long or not printable",
            )
        )
    if kind not in KINDS:
        problems.append(
            (f"kind must be allocation or reversal, not {kind[:40]!r}", "kind is not known")
        )
    if not problems:
        earlier = seen.setdefault((number, kind), line)
        if earlier != line:
            what = "reversal of allocation" if kind == "reversal" else "allocation"
            problems.append(
                (
                    f"{what} {number} is already on line {earlier} of this file",
                    "the same id is on an earlier line of this file",
                )
            )
    if problems:
        bad.append(
            BadRow(
                line,
                "; ".join(message for message, _ in problems),
                " + ".join(kind for _, kind in problems),
            )
        )
        return None
    return (line, number, reference, kind)


def _problems(connection: Connection) -> list[BadRow]:
    found = []
    for sql, message, kind in _PROBLEMS:
        for line, allocation_id, detail in connection.execute(text(sql)):
            found.append(BadRow(line, message.format(id=allocation_id, detail=detail), kind))
    return found
