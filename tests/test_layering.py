"""The layering the README describes, enforced by reading the source's imports (AST, nothing run).

Arrows point down only: Slack's libraries are imported only by ``slackbot/slack/`` and
``handlers/``; handlers never write SQL; ``models/`` imports nothing of ours; the services
(ledger, outbox, erp) know nothing of Slack or of the composition root; no two modules import
each other, even through a function-local import; no source module is over 700 lines; every
package and module opens with a docstring saying what it owns.

Each check is a function from a tree's root to its violations, ``path:line: what is wrong``, so
the same code runs on this repository and on the small synthetic trees at the bottom that prove
each check catches what it is for (a checker that finds nothing anywhere passes vacuously).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
# The project's source packages; tests/ and bench/ are tools around them, not layers.
SOURCE_PACKAGES = ("slackbot", "handlers", "models")
MAX_LINES = 700
# Folders of scripts a tool loads by path, not packages: Alembic's revisions.
SCRIPT_FOLDERS = frozenset({"slackbot/migrations/versions"})
SLACK_LIBRARIES = ("slack_sdk", "slack_bolt")
# Where Slack's libraries may be imported.
SLACK_LAYERS = ("slackbot.slack", "handlers")
SERVICES = ("slackbot.ledger", "slackbot.outbox", "slackbot.erp")
# What the services must never reach: the Slack layer, the listeners, and the doors (the
# composition root, the HTTP edge, the command line, the sandbox that plays Slack on a local
# page), which call the services, never the reverse.
ABOVE_SERVICES = (
    "slackbot.slack",
    "handlers",
    "slackbot.app",
    "slackbot.server",
    "slackbot.cli",
    "slackbot.sandbox",
)


@dataclass(frozen=True)
class Module:
    name: str  # dotted, e.g. ``slackbot.erp.imports``; a package is named by its folder
    path: Path
    shown: str  # the path relative to the tree's root, as a failure message names it
    is_package: bool
    tree: ast.Module
    line_count: int


@dataclass(frozen=True)
class Import:
    """One import statement's target, as an absolute dotted name, with where it is written."""

    module: Module
    line: int
    target: str  # ``a.b`` for ``import a.b`` and ``from a.b import c``
    names: tuple[str, ...]  # what ``from a.b import ...`` takes (empty for ``import a.b``)

    @property
    def where(self) -> str:
        return f"{self.module.shown}:{self.line}"


def modules_of(root: Path) -> list[Module]:
    """Every module of the source packages under ``root``."""
    found = []
    for package in SOURCE_PACKAGES:
        for path in sorted((root / package).rglob("*.py")):
            if "__pycache__" in path.parts:
                continue
            relative = path.relative_to(root)
            parts = list(relative.with_suffix("").parts)
            is_package = parts[-1] == "__init__"
            if is_package:
                parts.pop()
            source = path.read_text(encoding="utf-8")
            found.append(
                Module(
                    name=".".join(parts),
                    path=path,
                    shown=relative.as_posix(),
                    is_package=is_package,
                    tree=ast.parse(source, filename=str(path)),
                    line_count=len(source.splitlines()),
                )
            )
    return found


def imports_of(module: Module) -> Iterator[Import]:
    """Every import in ``module``: at the top, inside functions, under ``if`` (all of them)."""
    for node in ast.walk(module.tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(module, node.lineno, alias.name, ())
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                package = module.name if module.is_package else module.name.rpartition(".")[0]
                base = package.split(".")
                if node.level > 1:
                    base = base[: -(node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            yield Import(module, node.lineno, target, tuple(alias.name for alias in node.names))


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _all_imports(root: Path) -> Iterator[Import]:
    for module in modules_of(root):
        yield from imports_of(module)


# ------------------------------------------------------------------------------------ the checks


def slack_imported_outside_slack_layer(root: Path) -> list[str]:
    """(a) ``slack_sdk`` / ``slack_bolt`` imported outside ``slackbot/slack/`` and ``handlers/``."""
    return [
        f"{imp.where}: imports {imp.target}; only slackbot/slack/ and handlers/ may import"
        " Slack's libraries"
        for imp in _all_imports(root)
        if _within(imp.target, SLACK_LIBRARIES) and not _within(imp.module.name, SLACK_LAYERS)
    ]


def sqlalchemy_in_handlers(root: Path) -> list[str]:
    """(b) A listener that imports SQLAlchemy (handlers call services; they never write SQL)."""
    return [
        f"{imp.where}: imports {imp.target}; handlers/ call the services and never use SQLAlchemy"
        for imp in _all_imports(root)
        if _within(imp.module.name, ("handlers",)) and _within(imp.target, ("sqlalchemy",))
    ]


def models_importing_the_project(root: Path) -> list[str]:
    """(c) ``models/`` importing from ``slackbot/`` or ``handlers/`` (models are the bottom)."""
    return [
        f"{imp.where}: imports {imp.target}; models/ imports nothing from slackbot/ or handlers/"
        for imp in _all_imports(root)
        if _within(imp.module.name, ("models",)) and _within(imp.target, ("slackbot", "handlers"))
    ]


def services_reaching_up(root: Path) -> list[str]:
    """(d) The ledger, outbox or erp importing the Slack layer, the handlers or a door."""
    problems = []
    for imp in _all_imports(root):
        if not _within(imp.module.name, SERVICES):
            continue
        # ``from slackbot import app`` reaches the app as surely as ``import slackbot.app``.
        targets = [imp.target, *(f"{imp.target}.{name}" for name in imp.names)]
        reached = [target for target in targets if _within(target, ABOVE_SERVICES)]
        if reached:
            problems.append(
                f"{imp.where}: imports {reached[0]}; the ledger, outbox and erp know nothing of"
                " slackbot.slack, handlers, or the doors (slackbot.app, .server, .cli)"
            )
    return problems


def import_cycles(root: Path) -> list[str]:
    """(e) Modules that import each other, directly or around a loop, as the loop's path.

    An edge is any import of one project module by another, wherever it is written (a
    function-local import dodges the cycle at import time but keeps the two modules tangled).
    ``from package import name`` points at ``package.name`` when that is a module.

    Importing ``a.b.c`` first runs ``a/__init__`` and ``a/b/__init__``, so the import also
    points at each package above its target, except the importer's own packages (Python has
    started those before the importer runs). Without that edge a re-exporting ``__init__``
    hides a loop that breaks ``import`` of a module on its own.
    """
    modules = modules_of(root)
    known = {module.name for module in modules}
    packages = {module.name for module in modules if module.is_package}
    edges: dict[str, dict[str, str]] = {module.name: {} for module in modules}
    for module in modules:
        for imp in imports_of(module):
            targets = [f"{imp.target}.{name}" for name in imp.names]
            targets = [target for target in targets if target in known]
            if not targets:
                # ``import a.b.c`` (or ``from a.b import thing``) depends on the deepest module.
                parts = imp.target.split(".")
                while parts and ".".join(parts) not in known:
                    parts.pop()
                targets = [".".join(parts)] if parts else []
            own = _packages_above(module.name) | {module.name}
            above = {package for target in targets for package in _packages_above(target)}
            for target in [*targets, *sorted(above & packages)]:
                if target not in own:
                    edges[module.name].setdefault(target, imp.where)
    return [_describe_cycle(component, edges) for component in _strongly_connected(edges)]


def _packages_above(name: str) -> set[str]:
    """``a`` and ``a.b`` for ``a.b.c``: the packages Python runs before the module."""
    parts = name.split(".")
    return {".".join(parts[:end]) for end in range(1, len(parts))}


def oversized_modules(root: Path) -> list[str]:
    """(f) A source module over ``MAX_LINES`` lines."""
    return [
        f"{module.shown}:{MAX_LINES + 1}: {module.line_count} lines; a source module has at most"
        f" {MAX_LINES} (split it by concept)"
        for module in modules_of(root)
        if module.line_count > MAX_LINES
    ]


def modules_without_docstring(root: Path) -> list[str]:
    """(g) A package ``__init__.py`` or module that does not open with a docstring."""
    problems = []
    for module in modules_of(root):
        if ast.get_docstring(module.tree, clean=False) is None:
            what = "package" if module.is_package else "module"
            problems.append(
                f"{module.shown}:1: the {what} does not open with a docstring saying what it owns"
            )
    folders = {module.path.parent for module in modules_of(root)}
    for folder in sorted(folders):
        if folder.relative_to(root).as_posix() in SCRIPT_FOLDERS:
            continue
        if not (folder / "__init__.py").exists():
            shown = folder.relative_to(root).as_posix()
            problems.append(
                f"{shown}/__init__.py:1: the folder has modules but no __init__.py to say what it"
                " owns"
            )
    return problems


def _strongly_connected(edges: dict[str, dict[str, str]]) -> list[list[str]]:
    """Tarjan's components of more than one module, each in a stable order."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for successor in sorted(edges.get(node, {})):
            if successor not in index:
                visit(successor)
                low[node] = min(low[node], low[successor])
            elif successor in on_stack:
                low[node] = min(low[node], index[successor])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return sorted(components)


def _describe_cycle(component: list[str], edges: dict[str, dict[str, str]]) -> str:
    """One loop through ``component``, each step with the file and line of its import."""
    members = set(component)
    start = component[0]
    # Breadth-first from the start back to it, inside the component: the shortest loop.
    came_from: dict[str, str] = {}
    frontier = [start]
    while frontier and start not in came_from:
        following = []
        for node in frontier:
            for successor in sorted(edges[node]):
                if successor in members and successor not in came_from:
                    came_from[successor] = node
                    following.append(successor)
        frontier = following
    # Walk back from the step that closes the loop to the start, then read it forwards.
    backwards = []
    node = came_from[start]
    while node != start:
        backwards.append(node)
        node = came_from[node]
    path = [start, *reversed(backwards)]
    steps = [f"{a} -> {b} ({edges[a][b]})" for a, b in zip(path, [*path[1:], start], strict=True)]
    return "import cycle: " + ", ".join(steps)


CHECKS = {
    "Slack's libraries only in slackbot/slack/ and handlers/": slack_imported_outside_slack_layer,
    "no sqlalchemy in handlers/": sqlalchemy_in_handlers,
    "models/ imports nothing of ours": models_importing_the_project,
    "services import no Slack, handlers or app": services_reaching_up,
    "no import cycle": import_cycles,
    f"no source module over {MAX_LINES} lines": oversized_modules,
    "every package and module opens with a docstring": modules_without_docstring,
}


# ------------------------------------------------------------------------- this repository


@pytest.mark.parametrize("rule", list(CHECKS))
def test_the_source_tree_keeps_the_layering(rule: str) -> None:
    problems = CHECKS[rule](ROOT)
    assert not problems, f"{rule}:\n" + "\n".join(problems)


def test_the_checks_read_the_whole_source_tree() -> None:
    """The checks see this repository's modules, so a green run is not an empty one."""
    names = {module.name for module in modules_of(ROOT)}
    assert {"slackbot.app", "slackbot.erp.imports", "handlers", "models.tables"} <= names
    assert any(
        imp.target == "sqlalchemy"
        for imp in _all_imports(ROOT)
        if imp.module.name == "models.tables"
    )


# ------------------------------------------------------------------ the checks catch violations


def _tree(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


CLEAN = {
    "models/__init__.py": '"""Tables."""\n',
    "models/tables.py": '"""Tables."""\nimport sqlalchemy\n',
    "slackbot/__init__.py": '"""The bot."""\n',
    "slackbot/app.py": (
        '"""Root."""\nfrom handlers import actions\nfrom slackbot.ledger import rules\n'
    ),
    "slackbot/ledger/__init__.py": '"""Ledger."""\n',
    "slackbot/ledger/rules.py": '"""Rules."""\nfrom models.tables import x\n',
    "slackbot/slack/__init__.py": '"""Slack."""\nimport slack_sdk\n',
    "slackbot/slack/views.py": '"""Views."""\nfrom slack_bolt import App\nfrom . import ids\n',
    "slackbot/slack/ids.py": '"""Ids."""\n',
    "handlers/__init__.py": '"""Listeners."""\n',
    "handlers/actions.py": (
        '"""Buttons."""\nfrom slack_bolt import Ack\nfrom slackbot.slack import views\n'
    ),
}


def test_a_clean_synthetic_tree_has_no_violations(tmp_path: Path) -> None:
    root = _tree(tmp_path, CLEAN)

    assert {rule: check(root) for rule, check in CHECKS.items()} == {rule: [] for rule in CHECKS}


def test_slack_imported_by_a_service_is_named_with_file_and_line(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **CLEAN,
            "slackbot/outbox/__init__.py": (
                '"""Outbox."""\n\n\ndef f():\n    import slack_sdk.web\n'
            ),
        },
    )

    assert slack_imported_outside_slack_layer(root) == [
        "slackbot/outbox/__init__.py:5: imports slack_sdk.web; only slackbot/slack/ and handlers/"
        " may import Slack's libraries"
    ]


def test_sqlalchemy_in_a_handler_is_named(tmp_path: Path) -> None:
    root = _tree(
        tmp_path, {**CLEAN, "handlers/modals.py": '"""Modals."""\nfrom sqlalchemy import select\n'}
    )

    assert sqlalchemy_in_handlers(root) == [
        "handlers/modals.py:2: imports sqlalchemy; handlers/ call the services and never use"
        " SQLAlchemy"
    ]


def test_models_importing_the_bot_is_named(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **CLEAN,
            "models/schemas.py": '"""Snapshots."""\nimport os\nfrom slackbot.money import x\n',
        },
    )

    assert models_importing_the_project(root) == [
        "models/schemas.py:3: imports slackbot.money; models/ imports nothing from slackbot/ or"
        " handlers/"
    ]


@pytest.mark.parametrize(
    ("statement", "reached"),
    [
        ("from slackbot.slack.views import billing", "slackbot.slack.views"),
        ("from slackbot import app", "slackbot.app"),
        ("import handlers.actions", "handlers.actions"),
        ("from ..slack import views", "slackbot.slack"),
        ("from slackbot.cli import app", "slackbot.cli"),
    ],
)
def test_a_service_reaching_up_is_named(tmp_path: Path, statement: str, reached: str) -> None:
    root = _tree(tmp_path, {**CLEAN, "slackbot/erp/imports.py": f'"""Run."""\n{statement}\n'})

    assert services_reaching_up(root) == [
        f"slackbot/erp/imports.py:2: imports {reached}; the ledger, outbox and erp know nothing"
        " of slackbot.slack, handlers, or the doors (slackbot.app, .server, .cli)"
    ]


def test_a_cycle_through_a_function_local_import_is_reported_as_its_path(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **CLEAN,
            # handlers -> slackbot.app at call time, slackbot.app -> handlers.actions at import.
            "handlers/actions.py": (
                '"""Buttons."""\n\n\ndef bot():\n    from slackbot.app import build_bot\n'
            ),
        },
    )

    assert import_cycles(root) == [
        "import cycle: handlers.actions -> slackbot.app (handlers/actions.py:5),"
        " slackbot.app -> handlers.actions (slackbot/app.py:2)"
    ]


def test_a_longer_cycle_is_reported_once_with_every_step(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **CLEAN,
            "slackbot/ledger/rules.py": '"""Rules."""\nfrom slackbot.ledger import books\n',
            "slackbot/ledger/books.py": '"""Books."""\nimport slackbot.ledger.posting\n',
            "slackbot/ledger/posting.py": '"""Posting."""\n\nfrom .rules import x\n',
        },
    )

    assert import_cycles(root) == [
        "import cycle: slackbot.ledger.books -> slackbot.ledger.posting"
        " (slackbot/ledger/books.py:2), slackbot.ledger.posting -> slackbot.ledger.rules"
        " (slackbot/ledger/posting.py:3), slackbot.ledger.rules -> slackbot.ledger.books"
        " (slackbot/ledger/rules.py:2)"
    ]


REEXPORTING_LEDGER = '"""Ledger."""\nfrom slackbot.ledger.commands import L\n'


def test_a_cycle_through_a_re_exporting_package_init_is_reported(tmp_path: Path) -> None:
    """The loop issue 10 left: ``import slackbot.outbox.queue`` alone failed, because reaching
    ``slackbot.ledger.channels`` runs ``slackbot/ledger/__init__``, which imports back."""
    root = _tree(
        tmp_path,
        {
            **CLEAN,
            "slackbot/ledger/__init__.py": REEXPORTING_LEDGER,
            "slackbot/ledger/commands.py": '"""Commands."""\nfrom slackbot.outbox.queue import R\n',
            "slackbot/ledger/channels.py": '"""Routes."""\n',
            "slackbot/outbox/__init__.py": '"""Outbox."""\n',
            "slackbot/outbox/queue.py": '"""Queue."""\nfrom slackbot.ledger import channels\n',
        },
    )

    assert import_cycles(root) == [
        "import cycle: slackbot.ledger -> slackbot.ledger.commands (slackbot/ledger/__init__.py:2),"
        " slackbot.ledger.commands -> slackbot.outbox.queue (slackbot/ledger/commands.py:2),"
        " slackbot.outbox.queue -> slackbot.ledger (slackbot/outbox/queue.py:2)"
    ]


def test_a_package_importing_its_own_modules_is_no_cycle(tmp_path: Path) -> None:
    """A module's own packages have started before it runs: importing a sibling is no loop."""
    root = _tree(
        tmp_path,
        {
            **CLEAN,
            "slackbot/ledger/__init__.py": REEXPORTING_LEDGER,
            "slackbot/ledger/commands.py": '"""Commands."""\nfrom slackbot.ledger import rules\n',
        },
    )

    assert import_cycles(root) == []


def test_a_module_over_the_limit_is_named(tmp_path: Path) -> None:
    long_module = '"""Long."""\n' + "x = 1\n" * MAX_LINES
    exactly = '"""Exactly at the limit."""\n' + "x = 1\n" * (MAX_LINES - 1)
    root = _tree(
        tmp_path,
        {**CLEAN, "slackbot/slack/views.py": long_module, "slackbot/slack/ids.py": exactly},
    )

    assert oversized_modules(root) == [
        f"slackbot/slack/views.py:{MAX_LINES + 1}: {MAX_LINES + 1} lines; a source module has"
        f" at most {MAX_LINES} (split it by concept)"
    ]


def test_a_missing_docstring_or_package_file_is_named(tmp_path: Path) -> None:
    root = _tree(
        tmp_path,
        {
            **CLEAN,
            "slackbot/ledger/__init__.py": "",
            "slackbot/ledger/rules.py": "# a comment is not a docstring\nimport os\n",
            "slackbot/outbox/queue.py": '"""Queue."""\n',
        },
    )

    assert modules_without_docstring(root) == [
        "slackbot/ledger/__init__.py:1: the package does not open with a docstring saying what"
        " it owns",
        "slackbot/ledger/rules.py:1: the module does not open with a docstring saying what it owns",
        "slackbot/outbox/__init__.py:1: the folder has modules but no __init__.py to say what it"
        " owns",
    ]
