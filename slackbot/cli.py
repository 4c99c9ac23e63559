"""The operator's command line, ``slackbot``: a thin door onto the same services Slack uses.

Each command parses its arguments, calls a service, prints what happened and sets the exit code:
0 done, 1 refused or failed (bad rows, database down), 2 misconfigured (a setting, a usage error).
Anything an operator can cause — a bad setting, an unreachable database, a bad file — ends in
one line on stderr, never a traceback.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import io
import os
import sys
from collections.abc import Iterator
from typing import Annotated, Any, NoReturn

import typer
from alembic.util.exc import CommandError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from models.limits import is_allocation_id
from models.schemas import Actor
from slackbot.cli_help import PlainGroup
from slackbot.db import CLI_LOCK_WAIT_MS, Database
from slackbot.erp.applied import ImportFile, import_applied
from slackbot.erp.batches import print_batch
from slackbot.erp.exports import ExportFormat, ExportKind, export
from slackbot.erp.files import open_source as _open_source
from slackbot.erp.files import progress_bar as _progress_bar
from slackbot.erp.files import rows_and_rate as rows_and_rate
from slackbot.erp.imports import ImportKind, ImportRejected, import_csv
from slackbot.erp.members import operator_actor, remove_member
from slackbot.erp.reconcile import Report, ReportFormat, reconcile
from slackbot.errors import DomainError, InvalidInput, Unavailable
from slackbot.ledger import Ledger
from slackbot.ledger.books import BooksSummary, books_summary, check_books
from slackbot.migrate import current_revision, upgrade
from slackbot.money import format_amount
from slackbot.outbox import channels
from slackbot.sandbox.command import sandbox as sandbox_command
from slackbot.settings import (
    DATABASE_SETTINGS,
    INSTALLATION_SETTINGS,
    Settings,
    SettingsError,
    load_settings,
)

EXIT_FAILED = 1
EXIT_MISCONFIGURED = 2
FOLDED_FLAG = "--amount-due-includes-applied"
FOLDED = (
    "Invoices: each amount_due already counts the allocations the ERP acknowledged booking"
    " (import applied); without it, amount_due is before this bot's allocations."
)
DISTRIBUTION = "slackbot-payments"


app = typer.Typer(
    name="slackbot",
    help="Apply partners' payments to invoices, with billing approval and a double-entry ledger.",
    no_args_is_help=True,
    add_completion=False,
    cls=PlainGroup,
    # Settings hold tokens; a crash report must never print them.
    pretty_exceptions_show_locals=False,
)


def _group(name: str, help_text: str) -> typer.Typer:
    """A command group of ``slackbot`` (``slackbot NAME ...``), its help wrapped between words."""
    group = typer.Typer(help=help_text, no_args_is_help=True, cls=PlainGroup)
    app.add_typer(group, name=name)
    return group


db_app = _group("db", "The ledger's database.")
members_app = _group("members", "Who may act for a partner in Slack.")
books_app = _group("books", "The books: does every balance agree with the journal?")
channel_app = _group(
    "channel", "Channels linked to partners (Slack Connect): the pinned launcher, and notices."
)
installations_app = _group(
    "installations", "Installations in many workspaces (the OAuth mode): their stored tokens."
)
# What `channel link|unlink` read: the ledger, and the vendor's bot token to post with.
CHANNEL_SETTINGS = (
    *DATABASE_SETTINGS,
    *("slack_bot_token", "slack_api_url", "billing_channel_id"),
    # The OAuth mode: the vendor's installation's token instead of SLACK_BOT_TOKEN.
    *("slack_client_id", "slack_client_secret", "token_encryption_key", "billing_team_id"),
)


def main() -> None:
    app()


def package_version() -> str:
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:
        from slackbot import __version__

        return __version__


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"slackbot {package_version()}")
        raise typer.Exit()


@app.callback()
def _options(
    version: Annotated[
        bool,
        typer.Option(
            "--version",
            help="Print the version and exit.",
            is_eager=True,
            callback=_print_version,
        ),
    ] = False,
) -> None:
    """Apply partners' payments to invoices, with billing approval and a double-entry ledger."""


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
    kind: Annotated[
        ImportFile,
        typer.Argument(
            metavar="KIND",
            help="What the file holds: partners, members, payments, invoices, or applied (what"
            " the ERP booked: allocation_id[,erp_reference[,kind]]).",
            show_default=False,
        ),
    ],
    file: Annotated[
        str, typer.Argument(metavar="FILE", help="The CSV file; - reads standard input.")
    ],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help=(
                "Members only: the file is the complete list of members of every partner it"
                " names; members of those partners that it leaves out are removed."
            ),
        ),
    ] = False,
    folded: Annotated[bool, typer.Option("--amount-due-includes-applied", help=FOLDED)] = False,
) -> None:
    """Load a CSV file: an upsert keyed by its first column, all or nothing."""
    for flag, only, given in (("--replace", "members", replace), (FOLDED_FLAG, "invoices", folded)):
        if given and kind != only:
            _fail(f"{flag} applies to {only} files only, not to {kind}; nothing was changed", 2)
    settings = _settings()
    source, size = _open_source(file)
    try:
        with _database(settings) as db:
            upgrade(db.engine)
            with _progress_bar(size) as on_progress:
                if kind is ImportFile.APPLIED:
                    result = import_applied(db, source, source_name=file, actor=operator_actor())
                else:
                    result = import_csv(
                        db,
                        ImportKind(kind.value),
                        source,
                        source_name=file,
                        actor=operator_actor(),
                        on_progress=on_progress,
                        replace=replace,
                        amount_due_includes_applied=folded,
                    )
    except ImportRejected as rejected:
        _print_rejected(rejected)
        _fail(f"{rejected}; fix the rows above and import the file again")
    finally:
        if source is not sys.stdin.buffer:
            source.close()
    typer.echo(result.summary())


@app.command("export")
def export_table(
    kind: Annotated[
        ExportKind,
        typer.Argument(
            metavar="KIND",
            help=("What to export: partners, members, payments, invoices, allocations or journal."),
            show_default=False,
        ),
    ],
    export_format: Annotated[
        ExportFormat, typer.Option("--format", "-f", metavar="FORMAT", help="csv or json.")
    ] = ExportFormat.CSV,
    raw: Annotated[
        bool,
        typer.Option(
            "--raw",
            help=(
                "CSV only: write text exactly as stored. Without it, a text cell that starts"
                " with = + - @ tab or carriage return gets a leading ' so that a spreadsheet"
                " shows it instead of running it as a formula."
            ),
        ),
    ] = False,
    new: Annotated[
        bool,
        typer.Option(
            "--new",
            help="Allocations: hand the ERP, as a numbered batch, every approved allocation"
            " (and reversal of one it holds) not handed over yet.",
        ),
    ] = False,
    batch: Annotated[
        int | None,
        typer.Option("--batch", metavar="N", help="Allocations: print batch N again.", min=1),
    ] = None,
) -> None:
    """Write partners, members, payments, invoices, allocations or the journal to stdout."""
    if (new or batch is not None) and (kind is not ExportKind.ALLOCATIONS or (new and batch)):
        _fail("--new or --batch N (one of them) applies to allocations only", EXIT_MISCONFIGURED)
    settings = _settings()
    sys.stdout.flush()
    # Exports are UTF-8 whatever the terminal's locale says, with the newlines csv writes.
    out = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
    try:
        with _database(settings) as db:
            _require_ledger(db, settings)
            if new or batch:
                told = print_batch(
                    db, out, export_format, new=new, batch_id=batch, actor=operator_actor(), raw=raw
                )
                out.flush()
                typer.echo(told, err=True)
            else:
                export(db, kind, out, export_format, raw=raw)
        out.flush()
    except InvalidInput as exc:
        _fail(f"{exc}", EXIT_MISCONFIGURED)
    except BrokenPipeError:
        # The reader went away (`| head`); stop quietly, as Unix tools do.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        raise typer.Exit(EXIT_FAILED) from None
    finally:
        with contextlib.suppress(ValueError, BrokenPipeError):
            out.detach()


@app.command("reconcile")
def reconcile_files(
    payments: Annotated[
        str | None, typer.Option("--payments", metavar="FILE", help="The ERP's payments file.")
    ] = None,
    invoices: Annotated[
        str | None, typer.Option("--invoices", metavar="FILE", help="The ERP's invoices file.")
    ] = None,
    folded: Annotated[bool, typer.Option(FOLDED_FLAG, help=FOLDED)] = False,
    report_format: Annotated[
        ReportFormat, typer.Option("--format", "-f", metavar="FORMAT", help="text, csv or json.")
    ] = ReportFormat.TEXT,
) -> None:
    """Print every difference between the ERP's files and the ledger, one a line, then totals
    per currency; changes nothing. Exit 0: none, 1: some."""
    if payments is None and invoices is None:
        _fail("give --payments FILE, --invoices FILE or both; nothing was compared", 2)
    settings = _settings()
    opened = {
        name: _open_source(path)[0]
        for name, path in (("payments", payments), ("invoices", invoices))
        if path is not None
    }
    report = Report(sys.stdout, report_format)
    try:
        with _database(settings) as db:
            _require_ledger(db, settings)
            summary = reconcile(db, report, amount_due_includes_applied=folded, **opened)
    except ImportRejected as rejected:
        _print_rejected(rejected)
        _fail(f"{rejected}; fix the file and run reconcile again", EXIT_MISCONFIGURED)
    finally:
        for source in opened.values():
            source.close()
    report.totals(summary)
    if summary.count:
        raise typer.Exit(EXIT_FAILED)


@members_app.command("remove")
def members_remove(
    partner_id: Annotated[
        str, typer.Argument(metavar="PARTNER_ID", help="The partner, as in partners.csv.")
    ],
    slack_user_id: Annotated[
        str,
        typer.Argument(metavar="SLACK_USER_ID", help="The person's Slack member ID (U0123ABCD)."),
    ],
) -> None:
    """Unlink a person from a partner; their next request is refused."""
    settings = _settings()
    try:
        with _database(settings) as db:
            upgrade(db.engine)
            removed = remove_member(db, partner_id, slack_user_id, actor=operator_actor())
    except InvalidInput as exc:
        _fail(f"{exc}; nothing was changed", EXIT_MISCONFIGURED)
    except DomainError as exc:
        _fail(str(exc))
    typer.echo(removed.summary())


@books_app.command("check")
def books_check() -> None:
    """Recompute every balance from the journal; exit 1 on any disagreement, listing each."""
    settings = _settings()
    with _database(settings) as db:
        _require_ledger(db, settings)
        violations = check_books(db)
        summary = books_summary(db)
    if violations:
        for violation in violations:
            typer.echo(" ".join(violation.split()))
        problems = "problem" if len(violations) == 1 else "problems"
        _fail(f"the books do not balance: {len(violations)} {problems} listed above")
    typer.echo(_books_line(summary))


@app.command("reverse")
def reverse_allocation(
    allocation_id: Annotated[
        str,
        typer.Argument(
            metavar="ALLOCATION_ID", help="The approved allocation, by its number (e.g. 42)."
        ),
    ],
    reason: Annotated[
        str,
        typer.Option(
            "--reason", metavar="TEXT", help="Why it is reversed; the requester reads it."
        ),
    ],
) -> None:
    """Undo an approved allocation with a compensating journal entry; Slack is told."""
    number = int(allocation_id) if allocation_id.isascii() and allocation_id.isdigit() else 0
    if not is_allocation_id(number):
        shown = repr(allocation_id) if len(allocation_id) <= 40 else repr(allocation_id[:40])
        _fail(
            f"{shown} is not an allocation id (a number such as 42); nothing was changed",
            EXIT_MISCONFIGURED,
        )
    settings = _settings()
    # reversed_by holds a Slack-sized id (32 characters); an operator's login rarely needs more.
    actor = Actor(user_id=operator_actor()[:32], can_approve=True)
    try:
        with _database(settings) as db:
            upgrade(db.engine)
            reversed_ = Ledger(db).reverse(number, actor, reason)
    except DomainError as exc:
        _fail(" ".join(str(exc).split()))
    amount = format_amount(reversed_.amount, reversed_.currency)
    typer.echo(
        f"reversed allocation {number}: {amount} from {reversed_.payment_id} is off"
        f" {reversed_.invoice_id} again ({reversed_.invoice_id} has"
        f" {format_amount(reversed_.invoice_amount_due, reversed_.currency)} left to pay,"
        f" {reversed_.payment_id} has"
        f" {format_amount(reversed_.payment_unallocated, reversed_.currency)} left to allocate);"
        " billing and the requester are told in Slack"
    )


@channel_app.command("link")
def channel_link(
    partner_id: Annotated[
        str, typer.Argument(metavar="PARTNER_ID", help="The partner, as in partners.csv.")
    ],
    channel_id: Annotated[
        str,
        typer.Argument(
            metavar="CHANNEL_ID", help="The channel's id (C0123ABCD); the bot must be in it."
        ),
    ],
    replace: Annotated[
        bool,
        typer.Option(
            "--replace",
            help="Link the channel to PARTNER_ID even though another partner has it now.",
        ),
    ] = False,
) -> None:
    """Link a channel to a partner: post and pin the launcher there; notices fall back to it."""
    # Linking a linked channel again posts a fresh launcher and takes the old one down.
    from slackbot.slack.launcher import LauncherRefused, post_launcher, remove_launcher

    settings = _settings(needs=CHANNEL_SETTINGS)
    with _database(settings) as db:
        upgrade(db.engine)
        try:
            name, locale = channels.check_link(
                db,
                partner_id,
                channel_id,
                billing_channel=settings.billing_channel_id,
                replace=replace,
            )
        except DomainError as exc:
            _fail(f"{exc}; nothing was changed", EXIT_MISCONFIGURED)
        before = channels.linked_channel(db, channel_id)
        client = _billing_client(settings, db)
        try:
            ts = post_launcher(client, channel_id, name, locale=locale or settings.default_locale)
        except LauncherRefused as exc:
            _fail(f"{channel_id}: {exc}; nothing was changed")
        linked = channels.link_channel(
            db, partner_id, channel_id, linked_by=operator_actor(), launcher_ts=ts
        )
    line = (
        f"linked {linked.channel_id} to partner {linked.partner_id} ({linked.partner_name});"
        f" the launcher is pinned there (message {ts})"
    )
    if before is not None and before.launcher_ts and before.launcher_ts != ts:
        error = remove_launcher(client, channel_id, before.launcher_ts)
        if error:
            line += f"; Slack did not delete the old launcher ({error}): remove it by hand"
    typer.echo(line)


@channel_app.command("unlink")
def channel_unlink(
    channel_id: Annotated[
        str, typer.Argument(metavar="CHANNEL_ID", help="The linked channel's id (C0123ABCD).")
    ],
) -> None:
    """Unlink a channel: its launcher is taken down and notices no longer go there."""
    from slackbot.slack.launcher import remove_launcher

    settings = _settings(needs=CHANNEL_SETTINGS)
    with _database(settings) as db:
        upgrade(db.engine)
        try:
            linked = channels.unlink_channel(db, channel_id)
        except DomainError as exc:
            _fail(f"{exc}; nothing was changed")
        # Unlinked already: with no token to take the launcher down, say so, do not fail.
        client = _billing_client(settings, db, required=False) if linked.launcher_ts else None
    line = f"unlinked {linked.channel_id} from partner {linked.partner_id} ({linked.partner_name})"
    if client is not None and linked.launcher_ts:
        error = remove_launcher(client, channel_id, linked.launcher_ts)
        if error:
            line += f"; Slack did not delete the launcher ({error}): remove it by hand"
        else:
            line += "; the launcher was deleted"
    elif linked.launcher_ts:
        line += "; no bot token to delete the launcher with: remove it by hand"
    typer.echo(line)


@channel_app.command("list")
def channel_list() -> None:
    """Every linked channel: CHANNEL_ID PARTNER_ID LAUNCHER_TS LINKED_BY LINKED_AT, one a line."""
    settings = _settings()
    with _database(settings) as db:
        if current_revision(db.engine) is None:
            return
        for linked in channels.linked_channels(db):
            typer.echo(
                f"{linked.channel_id}\t{linked.partner_id}\t{linked.launcher_ts or '-'}"
                f"\t{linked.linked_by}\t{linked.linked_at.isoformat(timespec='seconds')}"
            )


@installations_app.command("reencrypt")
def installations_reencrypt() -> None:
    """Encrypt every stored token under the first TOKEN_ENCRYPTION_KEY (key rotation, step 3)."""
    from slackbot.slack.bolt_app import installation_store

    settings = _settings(needs=INSTALLATION_SETTINGS)
    with _database(settings) as db:
        upgrade(db.engine)
        changed = installation_store(settings, db.engine).reencrypt_all()
    typer.echo(
        f"re-encrypted {changed} stored installation rows under the first TOKEN_ENCRYPTION_KEY;"
        " the other keys can now be removed from it"
    )


# `slackbot sandbox`: the whole product on this machine, with a page that plays Slack (issue 17).
app.command("sandbox")(sandbox_command)


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on (HTTP mode).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on (HTTP mode).")] = 3000,
) -> None:
    """Run the bot: HTTP on HOST:PORT, or Socket Mode when SLACK_APP_TOKEN is set."""
    settings = _settings(serving=True)
    with _database(settings) as db:
        upgrade(db.engine)
    # Imported here so the other commands work without the web stack loaded.
    from slackbot.server import run

    try:
        run(settings, host=host, port=port)
    except SettingsError as exc:
        _fail(str(exc), EXIT_MISCONFIGURED)


# ------------------------------------------------------------------------------------- helpers


def _books_line(summary: BooksSummary) -> str:
    """One line: what was checked, and the journal's totals per currency."""
    statuses = ", ".join(
        f"{count} {status}" for status, count in summary.allocations_by_status.items()
    )
    totals = ", ".join(
        format_amount(summary.debits_by_currency[currency], currency)
        for currency in sorted(summary.debits_by_currency)
    )
    return (
        f"the books balance: {summary.payments} payments, {summary.invoices} invoices,"
        f" {summary.allocations} allocations ({statuses or 'none'}),"
        f" {summary.journal_entries} journal entries of {summary.journal_lines} lines;"
        f" debits equal credits ({totals or 'nothing posted'})"
    )


def _require_ledger(db: Database, settings: Settings) -> None:
    if current_revision(db.engine) is None:
        _fail(
            f"{_shown_url(settings.database_url)} holds no ledger yet;"
            " run `slackbot db upgrade` or import a file first"
        )


def _print_rejected(rejected: ImportRejected) -> None:
    """Each bad row of a rejected file (the first of each kind of problem), on stderr."""
    shown, more = rejected.grouped()
    for line in [*map(str, shown), *more]:
        typer.echo(line, err=True)


def _fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(message, err=True)
    raise typer.Exit(code)


def _billing_client(settings: Settings, db: Database, *, required: bool = True) -> Any:
    """The vendor's (billing workspace's) Web API client, as the outbox sender builds it: the
    one bot token, or in the OAuth mode the BILLING_TEAM_ID installation's. Without one: exit
    (``required``), else None."""
    from slackbot.slack.bolt_app import delivery_client, installation_store, installed_tokens

    if settings.oauth_mode:
        store = installation_store(settings, db.engine)
        tokens = installed_tokens(settings, store, delivery_timeout=10)
        if tokens.for_team(settings.billing_team_id, None) is None:
            if not required:
                return None
            _fail(
                f"the vendor's workspace (BILLING_TEAM_ID {settings.billing_team_id}) has not"
                " installed the app yet: open /slack/install from it first; nothing was changed",
                EXIT_MISCONFIGURED,
            )
        return tokens.billing()
    if not settings.slack_bot_token:
        if not required:
            return None
        _fail(
            "SLACK_BOT_TOKEN is not set: the launcher is posted with the bot token of the"
            " vendor's workspace; nothing was changed",
            EXIT_MISCONFIGURED,
        )
    return delivery_client(settings, timeout=10)


def _settings(*, serving: bool = False, needs: tuple[str, ...] = DATABASE_SETTINGS) -> Settings:
    """The settings a command uses; else every problem with them, one line each, and exit 2.

    ``serve`` needs them all, and reports what is missing along with what is malformed. The
    other commands read only DATABASE_URL: a Slack setting they never use, even a malformed one,
    must not stop an import (``serve`` will name it).
    """
    try:
        if serving:
            return load_settings(serving=True)
        return load_settings(needs=needs)
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


def _shown_url(url: str) -> str:
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return "DATABASE_URL"


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__
