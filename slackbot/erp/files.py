"""The command line's side of an ERP file: opening it (``-`` is standard input) and the
progress bar an operator watches while a large file imports.

Kept beside the readers so the CLI module stays one door; like it, this prints and exits on a
file it cannot open (exit 1, one line), never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
import time
from collections.abc import Callable, Iterator
from typing import IO

import typer


def open_source(file: str) -> tuple[IO[bytes], int | None]:
    """The file to import, opened as bytes, and its size when it has one (for the progress bar)."""
    if file == "-":
        source: IO[bytes] = sys.stdin.buffer
    else:
        try:
            source = open(file, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            typer.echo(f"{file}: cannot read it ({exc.strerror or exc})", err=True)
            raise typer.Exit(1) from None
    try:
        info = os.fstat(source.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return source, None
    return source, info.st_size if stat.S_ISREG(info.st_mode) else None


@contextlib.contextmanager
def progress_bar(size: int | None) -> Iterator[Callable[[int, int], None] | None]:
    """A progress bar on stderr when a person is watching it, and nothing otherwise.

    It moves with the bytes read (the only measure of a file's length known up front) and
    shows the rows read so far and how many per second.
    """
    if size is None or not size or not sys.stderr.isatty():
        yield None
        return
    started = time.monotonic()
    with typer.progressbar(
        length=size,
        label="importing",
        file=sys.stderr,
        item_show_func=lambda shown: shown,
    ) as bar:

        def on_progress(nbytes: int, rows: int) -> None:
            bar.current_item = rows_and_rate(rows, time.monotonic() - started)
            bar.update(nbytes)

        yield on_progress


def rows_and_rate(rows: int, seconds: float) -> str:
    """What the progress bar shows beside the bar: ``12,000 rows, 35,210 rows/s``."""
    rate = rows / seconds if seconds > 0 else 0.0
    return f"{rows:,} rows, {rate:,.0f} rows/s"
