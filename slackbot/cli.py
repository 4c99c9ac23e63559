"""The operator's command line, ``slackbot``: a thin door onto the same services Slack uses.

Each command parses its arguments, calls a service, prints what happened and sets the exit code:
0 done, 1 refused or failed (bad rows, database down), 2 misconfigured (a setting, a usage error).
Anything an operator can cause — a bad setting, an unreachable database, a bad file — ends in
one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import io
import os
import stat
import sys
from collections.abc import Callable, Iterator
from typing import IO, Annotated, NoReturn

import typer
from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from slackbot.db import CLI_LOCK_WAIT_MS, Database
from slackbot.errors import Unavailable
from slackbot.exports import ExportFormat, ExportKind, export
from slackbot.imports import ImportKind, ImportRejected, import_csv
from slackbot.migrate import current_revision, upgrade
from slackbot.settings import Settings, SettingsError, load_settings, require_serve_settings

EXIT_FAILED = 1
EXIT_MISCONFIGURED = 2

app = typer.Typer(
    name="slackbot",
    help="Apply partners' payments to invoices, with billing approval and a double-entry ledger.",
    no_args_is_help=True,
    add_completion=False,
    # Settings hold tokens; a crash report must never print them.
    pretty_exceptions_show_locals=False,
)
db_app = typer.Typer(help="The ledger's database.", no_args_is_help=True)
app.add_typer(db_app, name="db")


def main() -> None:
    app()


# ------------------------------------------------------------------------------------ commands


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Bring the schema up to date; safe to run again, and from several instances at once."""
    settings = _settings()
    with _database(settings) as db:
        upgrade(db.engine)
        revision = current_revision(db.engine)
    typer.echo(f"{_shown_url(settings.database_url)}: schema is up to date (revision {revision})")


@app.command("import")
def import_file(
    kind: Annotated[ImportKind, typer.Argument(help="What the file holds.", show_default=False)],
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="The CSV file; - reads standard input.")
    ],
) -> None:
    """Load a CSV file: an upsert keyed by its first column, all or nothing."""
    settings = _settings()
    source, size = _open_source(file)
    try:
        with _database(settings) as db:
            upgrade(db.engine)
            with _progress_bar(size) as on_progress:
                result = import_csv(db, kind, source, source_name=file, on_progress=on_progress)
    except ImportRejected as rejected:
        for bad in rejected.bad_rows:
            typer.echo(str(bad), err=True)
        _fail(f"{rejected}; fix the rows above and import the file again")
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    typer.echo(result.summary())


@app.command("export")
def export_table(
    kind: Annotated[ExportKind, typer.Argument(help="What to export.", show_default=False)],
    export_format: Annotated[
        ExportFormat, typer.Option("--format", "-f", help="csv or json.")
    ] = ExportFormat.CSV,
) -> None:
    """Write payments, invoices, allocations or the journal to standard output."""
    settings = _settings()
    sys.stdout.flush()
    # Exports are UTF-8 whatever the terminal's locale says, with the newlines csv writes.
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        with _database(settings) as db:
            if current_revision(db.engine) is None:
                _fail(
                    f"{_shown_url(settings.database_url)} holds no ledger yet;"
                    " run `slackbot db upgrade` or import a file first"
                )
            export(db, kind, out, export_format)
        out.flush()
    except BrokenPipeError:
        # The reader went away (`| head`); stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        with contextlib.suppress(ValueError, BrokenPipeError):
            out.detach()


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (HTTP mode).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (HTTP mode).")] = 3000,
) -> None:
    """Run the bot: HTTP on HOST:PORT, or Socket Mode when SLACK_APP_TOKEN is set."""
    settings = _settings()
    try:
        require_serve_settings(settings)
    except SettingsError as exc:
        _fail(str(exc), EXIT_MISCONFIGURED)
    with _database(settings) as db:
        upgrade(db.engine)
    # Imported here so the other commands work without the web stack loaded.
    from slackbot.server import run

    try:
        run(settings, host=host, port=port)
    except SettingsError as exc:
        _fail(str(exc), EXIT_MISCONFIGURED)


# ------------------------------------------------------------------------------------- helpers


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as exc:
        _fail(str(exc), EXIT_MISCONFIGURED)


@contextlib.contextmanager
def _database(settings: Settings) -> Iterator[Database]:
    """The ledger's database; any failure to reach or use it becomes one line and exit 1."""
    shown = _shown_url(settings.database_url)
    db: Database | None = None
    try:
        db = Database(settings.database_url, lock_wait_ms=CLI_LOCK_WAIT_MS)
        yield db
    except Unavailable as exc:
        _fail(f"{shown}: the database did not answer ({_first_line(exc)}); nothing was changed")
    except ArgumentError as exc:
        _fail(f"DATABASE_URL: {_first_line(exc)}", EXIT_MISCONFIGURED)
    except SQLAlchemyError as exc:
        cause = getattr(exc, "orig", None) or exc
        _fail(f"{shown}: {_first_line(cause)}")
    except CommandError as exc:
        _fail(f"{shown}: {_first_line(exc)}")
    except ImportError as exc:
        _fail(f"DATABASE_URL: no driver for {shown} ({exc})", EXIT_MISCONFIGURED)
    finally:
        if db is not None:
            db.dispose()


def _open_source(file: str) -> tuple[IO[bytes], int | None]:
    """The file to import, opened as bytes, and its size when it has one (for the progress bar)."""
    if file == "-":
        source: IO[bytes] = sys.stdin.buffer
    else:
        try:
            source = open(file, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            _fail(f"{file}: cannot read it ({exc.strerror or exc})")
    try:
        info = os.fstat(source.fileno())
    except (OSError, ValueError, io.UnsupportedOperation):
        return source, None
    return source, info.st_size if stat.S_ISREG(info.st_mode) else None


@contextlib.contextmanager
def _progress_bar(size: int | None) -> Iterator[Callable[[int], None] | None]:
    """A progress bar on stderr when a person is watching it, and nothing otherwise."""
    if size is None or not size or not sys.stderr.isatty():
        yield None
        return
    with typer.progressbar(length=size, label="importing", file=sys.stderr) as bar:
        yield bar.update


def _shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DATABASE_URL"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__
