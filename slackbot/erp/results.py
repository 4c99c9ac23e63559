"""What an import did, or why it wrote nothing: the summary line and every bad row, grouped.

Shared by every import (:mod:`slackbot.erp.imports` for the ERP's four files,
:mod:`slackbot.erp.applied` for the ERP's acknowledgements), so the CLI reports them alike.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from slackbot.erp.reader import BadRow

# Bad rows printed per kind of problem; the rest are counted.
SHOWN_PER_PROBLEM = 50


class ImportRejected(Exception):
    """The file has bad rows; nothing was written. ``bad_rows`` lists every one, in file order."""

    def __init__(self, kind: str, bad_rows: Sequence[BadRow], rows_read: int) -> None:
        self.kind = kind
        self.bad_rows = list(bad_rows)
        self.rows_read = rows_read
        count = len(self.bad_rows)
        super().__init__(
            f"{kind}: nothing imported; {count:,} bad row{'s' if count != 1 else ''}"
            f" (of {rows_read:,} read)"
        )

    def grouped(self, shown_per_kind: int = SHOWN_PER_PROBLEM) -> tuple[list[BadRow], list[str]]:
        """The first ``shown_per_kind`` bad rows of each kind of problem, in file order, and
        one line per kind with more, saying how many more rows have it."""
        shown: list[BadRow] = []
        counts: dict[str, int] = {}
        first_line: dict[str, int] = {}
        for bad in self.bad_rows:
            kind = bad.kind or bad.problem
            counts[kind] = counts.get(kind, 0) + 1
            first_line.setdefault(kind, bad.line)
            if counts[kind] <= shown_per_kind:
                shown.append(bad)
        more = []
        for kind, count in counts.items():
            hidden = count - shown_per_kind
            if hidden > 0:
                more.append(
                    f"... and {hidden:,} more row{'s' if hidden != 1 else ''} with the same"
                    f" problem as line {first_line[kind]} ({kind})"
                )
        return shown, more


@dataclass(frozen=True)
class ImportResult:
    """What an import did: the summary line the CLI prints."""

    kind: str
    rows_read: int
    inserted: int
    updated: int
    unchanged: int
    # Members no longer listed for the partners a ``replace`` import names; None otherwise.
    removed: int | None = None

    def summary(self) -> str:
        rows = "row" if self.rows_read == 1 else "rows"
        removed = "" if self.removed is None else f", {self.removed} removed"
        return (
            f"{self.kind}: {self.rows_read} {rows} read, {self.inserted} inserted,"
            f" {self.updated} updated, {self.unchanged} unchanged{removed}"
        )
