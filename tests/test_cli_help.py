"""`slackbot --help` pages: no word broken at any width, no type noise, and `--version`."""

from __future__ import annotations

import importlib.metadata
import re
import subprocess
import sys
from collections.abc import Iterator

import pytest
import typer
from typer.testing import CliRunner

from slackbot.cli import app

BOX = "│╭╮╰╯─┃━"


def command_paths() -> Iterator[tuple[tuple[str, ...], object]]:
    """Every command and group of the CLI with its path, the root first."""

    def walk(path: tuple[str, ...], command: object) -> Iterator[tuple[tuple[str, ...], object]]:
        yield path, command
        for name, child in sorted(getattr(command, "commands", {}).items()):
            yield from walk((*path, name), child)

    yield from walk((), typer.main.get_command(app))


PATHS = [path for path, _ in command_paths()]


def help_words(command: object) -> list[str]:
    """Every word the page must show whole: the command's help and each parameter's."""
    texts = [getattr(command, "help", None) or ""]
    texts += [getattr(param, "help", None) or "" for param in getattr(command, "params", [])]
    texts.append("Show this message and exit.")
    for child in getattr(command, "commands", {}).values():
        texts.append(getattr(child, "help", None) or "")
    return [word for text in texts for word in text.split()]


def help_page(path: tuple[str, ...], columns: int) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": str(columns)})
    assert result.exit_code == 0, result.output
    return result.stdout


def words_shown(page: str) -> set[str]:
    return set(re.split(r"[\s" + BOX + r"]+", page))


def test_every_command_has_a_help_page() -> None:
    assert {" ".join(path) for path in PATHS} >= {
        "",
        "import",
        "export",
        "serve",
        "db",
        "db upgrade",
        "members",
        "members remove",
        "books",
        "books check",
        "reverse",
        "reconcile",
    }


@pytest.mark.parametrize("columns", [80, 60])
@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "slackbot")
def test_help_never_breaks_a_word(path: tuple[str, ...], columns: int) -> None:
    command = dict(command_paths())[path]
    page = help_page(path, columns)

    assert max(len(line) for line in page.splitlines()) <= columns  # the width took effect
    shown = words_shown(page)
    broken = [word for word in help_words(command) if word not in shown]
    assert broken == [], page


def test_help_of_import_and_export_names_every_kind_in_words() -> None:
    for path, kinds in (
        (("import",), "partners, members, payments, invoices, or applied"),
        (("export",), "partners, members, payments, invoices, allocations or journal."),
    ):
        page = " ".join(words_shown(help_page(path, 60)))
        for word in kinds.split():
            assert word in page.split()
        # "invoices" once showed as "in" + "voices>": the choices column folded it mid-word.
        for columns in (80, 60):
            bare = {re.sub(r"\W", "", word) for word in words_shown(help_page(path, columns))}
            assert not bare & {"in", "voices", "ayments", "embers", "p", "al", "locations"}


@pytest.mark.parametrize("path", PATHS, ids=lambda path: " ".join(path) or "slackbot")
def test_help_shows_no_type_noise(path: tuple[str, ...]) -> None:
    page = help_page(path, 80)

    for noise in ("<bool>", "<str>", "<int>", "<partners", "<csv"):
        assert noise not in page


def test_version_prints_the_package_version() -> None:
    result = CliRunner().invoke(app, ["--version"])

    assert result.exit_code == 0
    assert result.stdout == f"slackbot {importlib.metadata.version('slackbot-payments')}\n"


def test_version_from_the_installed_command() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "slackbot", "--version"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert re.fullmatch(r"slackbot \d+\.\d+\.\d+\S*\n", result.stdout)
    assert result.stderr == ""
