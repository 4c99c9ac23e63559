"""Reading an import file: decoding, CSV records with their line numbers, the header, progress.

Nothing here knows what a row means or touches the database: a file is streamed line by line
(bytes decoded as UTF-8, a leading BOM tolerated, the first undecodable line reported), split
into CSV records that remember the file line they start on, and its header checked against the
columns each kind of file must have. A mistake in the file's shape is a :class:`BadRow` in an
operator's words, with advice where a spreadsheet is the likely cause.
"""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum

from slackbot.erp.exports import COLUMNS as EXPORT_COLUMNS
from slackbot.erp.exports import ExportKind

# Rows between two progress reports.
PROGRESS_ROWS = 1000


class ImportKind(StrEnum):
    """The four files the ERP sends (the contract's ``slackbot import`` kinds)."""

    PARTNERS = "partners"
    MEMBERS = "members"
    PAYMENTS = "payments"
    INVOICES = "invoices"


HEADERS: dict[ImportKind, tuple[str, ...]] = {
    ImportKind.PARTNERS: ("partner_id", "name"),
    ImportKind.MEMBERS: ("partner_id", "slack_user_id"),
    ImportKind.PAYMENTS: (
        "payment_id",
        "partner_id",
        "amount",
        "currency",
        "received_on",
        "reference",
    ),
    ImportKind.INVOICES: ("invoice_id", "partner_id", "amount", "currency", "issued_on", "due_on"),
}
# Columns a file may leave out, after the required ones.
OPTIONAL_COLUMNS: dict[ImportKind, tuple[str, ...]] = {
    # The language its people read (slackbot.erp.partner_locale); left out: unchanged.
    ImportKind.PARTNERS: ("locale",),
    ImportKind.MEMBERS: ("slack_team_id",),
    ImportKind.INVOICES: ("amount_due",),
}


@dataclass(frozen=True)
class BadRow:
    """One bad line of the file: its line number (the header is line 1) and what is wrong.

    ``kind`` is the problem without this row's own values, for grouping rows that share it.
    """

    line: int
    problem: str
    kind: str = ""

    def __str__(self) -> str:
        return f"line {self.line}: {self.problem}"


@dataclass(frozen=True)
class Header:
    """The columns a file's rows are read by, as its header names them."""

    columns: tuple[str, ...]
    # The file is an export of this bot (``slackbot export``), read by column name.
    from_export: bool = False


class SourceReader:
    """Lines of the source as text, counting and hashing bytes; stops at the first undecodable."""

    def __init__(self, source: Iterable[bytes] | Iterable[str]) -> None:
        self._source = source
        self.sha256 = hashlib.sha256()
        self.bytes_read = 0
        self.unreported = 0
        self.lines_read = 0
        self.error: BadRow | None = None

    def take_progress(self) -> int:
        """Bytes consumed since the last call (for a progress bar)."""
        taken, self.unreported = self.unreported, 0
        return taken

    def __iter__(self) -> Iterator[str]:
        for raw in self._source:
            self.lines_read += 1
            if isinstance(raw, bytes):
                data = raw
                try:
                    text = raw.decode("utf-8")
                except UnicodeDecodeError as exc:
                    self.error = BadRow(
                        self.lines_read,
                        f"this line is not UTF-8 text (byte 0x{raw[exc.start]:02x} at column"
                        f" {exc.start + 1}); save the file as CSV UTF-8 and import it again",
                    )
                    return
            else:
                text = raw
                data = raw.encode("utf-8", "surrogatepass")
            self.sha256.update(data)
            self.bytes_read += len(data)
            self.unreported += len(data)
            if self.lines_read == 1:
                text = text.removeprefix("\ufeff")
            yield text


def records_of(reader: SourceReader) -> Iterator[tuple[int, list[str]] | BadRow]:
    """CSV records with the file line each starts on; blank lines are skipped.

    A record that is not valid CSV (a stray quote, a lone carriage return) comes as its
    :class:`BadRow`, and reading goes on with the next line, so every bad line of the file is
    named, not only the first.
    """
    records = csv.reader(reader, strict=True)
    last_line = 0
    while True:
        try:
            values = next(records)
        except StopIteration:
            return
        except csv.Error as exc:
            if reader.error is not None:
                return  # the source stopped at an undecodable line; that is its problem
            last_line = records.line_num
            yield BadRow(
                records.line_num or 1,
                f"this is not valid CSV ({exc}); check quotes and separators",
            )
            continue
        start, last_line = last_line + 1, records.line_num
        values = [value.strip() for value in values]
        if any(values):
            yield start, values


def delimiter_hint(values: list[str]) -> str:
    """Advice for a file that Excel or an ERP saved with semicolons or tabs between columns."""
    text = ",".join(values)
    for separator, name in ((";", "semicolons"), ("\t", "tabs")):
        if separator in text:
            return (
                f" (the values look separated by {name}; columns must be separated by commas:"
                " save the file as CSV UTF-8, comma-delimited)"
            )
    return ""


def header_text(kind: ImportKind) -> str:
    """The header ``kind`` expects, optional columns in brackets: ``a,b[,c]``."""
    optional = OPTIONAL_COLUMNS.get(kind, ())
    text = ",".join(HEADERS[kind])
    return text + "".join(f"[,{name}]" for name in optional)


def empty_file(kind: ImportKind) -> BadRow:
    """The problem of a file with no header at all."""
    return BadRow(1, f"the file is empty; expected the header {header_text(kind)}")


def read_header(kind: ImportKind, line: int, values: list[str]) -> Header | BadRow:
    """The columns of a ``kind`` file, or what is wrong with its header.

    Names compare case-insensitively; the optional columns may be left out from the end. A
    file with exactly an export's columns is read too (an export imports back).
    """
    names = tuple(value.lower() for value in values)
    required = HEADERS[kind]
    optional = OPTIONAL_COLUMNS.get(kind, ())
    allowed = [required + optional[:n] for n in range(len(optional) + 1)]
    if names in allowed:
        return Header(names)
    if names == EXPORT_COLUMNS[ExportKind(kind.value)]:
        return Header(names, from_export=True)
    found = ",".join(values)[:200]
    return BadRow(
        line,
        f"the header must be {header_text(kind)} (a {kind} file);"
        f" found {found}{delimiter_hint(values)}",
        "the header",
    )
