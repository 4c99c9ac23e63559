"""Every text the views show comes from the catalogs: none is missing in French, none is a bare
literal handed to Block Kit.

Two checks. The catalog check extracts the marked messages of the view modules with Babel's own
extractor (as ``pybabel extract`` does) and fails on any msgid the French catalog lacks or leaves
empty. The literal check reads the modules' syntax trees and fails on a string literal with
letters that reaches a person without going through ``gettext``/``ngettext``/``N_``: passed as a
Block Kit ``text``/``placeholder``/``label``/``title``/``submit``/``close``/``hint`` value, to a
builder (``section``, ``button``, ``plain_text``...), or returned. Machine strings (``mrkdwn``,
Slack's ``<!date^…>`` and ``<@…>`` markup, emoji codes) are allowed. The checker is tested on
small bad and good sources first, so a checker that finds nothing cannot pass for a clean tree.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_file
from babel.messages.pofile import read_po

from slackbot.i18n.catalog import LOCALES_DIR

ROOT = Path(__file__).resolve().parents[2]
VIEW_FILES = [
    *sorted((ROOT / "slackbot" / "slack" / "views").glob("*.py")),
    ROOT / "slackbot" / "slack" / "refusals.py",
    # The listeners hand the views texts of their own (a form Slack did not open, a field left
    # empty): they go through the catalogs too.
    *sorted((ROOT / "handlers").glob("*.py")),
    ROOT / "slackbot" / "slack" / "replies.py",
]
FR_PO = LOCALES_DIR / "fr" / "LC_MESSAGES" / "messages.po"

# Where a value is what a person reads.
TEXT_KEYS = frozenset({"text", "placeholder", "label", "title", "submit", "close", "hint"})
# Builders whose positional arguments (all, or the first n) are text a person reads.
TEXT_ARGS: dict[str, int] = {
    "plain_text": 1,
    "mrkdwn_text": 1,
    "section": 1,
    "context_block": 99,
    "header": 1,
    "button": 1,
    "confirm_dialog": 4,
    "ephemeral": 1,
    "notice_modal": 2,
    "error_message": 1,
    "fallback": 1,
}
MARKS = frozenset({"gettext", "ngettext", "pgettext", "_", "N_"})
# Calls whose words are for operators, not for the person in Slack.
FOR_OPERATORS = frozenset({"debug", "info", "warning", "error", "exception", "critical"})
# Slack markup and tokens that are not words: removed before looking for letters.
MACHINE = re.compile(r"<!date\^|<!subteam\^|<@|<#|&(?:amp|lt|gt);|:[a-z0-9_+-]+:|\\n")


def _name(func: ast.expr) -> str:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def _literals(node: ast.expr | None, assigned: dict[str, list[ast.expr]]) -> list[ast.expr]:
    """The string literals that compose ``node`` directly (not those inside other calls), and
    those of a local name it is (``text = "…"; section(text)``)."""
    if node is None:
        return []
    if isinstance(node, ast.Name):
        return assigned.get(node.id, [])
    if isinstance(node, ast.Constant):
        return [node] if isinstance(node.value, str) else []
    if isinstance(node, ast.JoinedStr):
        return [part for part in node.values if isinstance(part, ast.Constant)]
    if isinstance(node, ast.BinOp):
        return _literals(node.left, assigned) + _literals(node.right, assigned)
    if isinstance(node, ast.BoolOp):
        return [lit for value in node.values for lit in _literals(value, assigned)]
    if isinstance(node, ast.IfExp):
        return _literals(node.body, assigned) + _literals(node.orelse, assigned)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [lit for value in node.elts for lit in _literals(value, assigned)]
    return []


def _wordy(literal: ast.expr) -> bool:
    value = literal.value if isinstance(literal, ast.Constant) else ""
    return isinstance(value, str) and bool(re.search(r"[A-Za-z]", MACHINE.sub("", value)))


def bare_texts(source: str, filename: str = "<source>") -> list[str]:
    """``file:line: 'text'`` for each literal with words that reaches a person unmarked."""
    tree = ast.parse(source, filename)
    shown: list[ast.expr] = []
    # Literals given to a name in a function body (assigned anywhere in the module, so a name
    # reused for machine strings elsewhere may only be flagged, never missed).
    assigned: dict[str, list[ast.expr]] = {}
    for node in ast.walk(tree):
        if isinstance(node, (ast.Assign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                if isinstance(target, ast.Name) and not target.id.isupper():
                    assigned.setdefault(target.id, []).extend(_literals(node.value, {}))
    for node in ast.walk(tree):
        if isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and key.value in TEXT_KEYS:
                    shown += _literals(value, assigned)
        elif isinstance(node, ast.Call):
            name = _name(node.func)
            if name in MARKS:
                continue
            for keyword in node.keywords:
                if keyword.arg in TEXT_KEYS:
                    shown += _literals(keyword.value, assigned)
            for argument in node.args[: TEXT_ARGS.get(name, 0)]:
                shown += _literals(argument, assigned)
            # A sentence handed to any other helper (``_n(t, "{count} day", …)``) is one Babel
            # does not extract: the mark must be at the call site.
            if name not in FOR_OPERATORS and not name.endswith(("Error", "Exception")):
                shown += [
                    argument
                    for argument in node.args
                    if isinstance(argument, ast.Constant)
                    and isinstance(argument.value, str)
                    and " " in argument.value.strip()
                ]
        elif isinstance(node, ast.Return):
            shown += _literals(node.value, assigned)
    found = {
        (lit.lineno, repr(lit.value))
        for lit in shown
        if isinstance(lit, ast.Constant) and _wordy(lit)
    }
    return [f"{filename}:{line}: {text}" for line, text in sorted(found)]


# ------------------------------------------------------------------------ the checker itself

BAD = """
def view(t):
    blocks = [section("Hello there"), header(f"Request #{n} waiting")]
    element = {"type": "button", "text": plain_text("Approve", 75)}
    modal = {"title": plain_text(one_line(title) or "Payments", 24)}
    return ephemeral("Nothing to show", blocks)

def age():
    return "under a minute"

def option(label):
    return {"placeholder": "Choose a payment", "label": label}

def plural(t, n):
    return _n(t, "{count} day", "{count} days", n)

def empty():
    text = "No payments with money left."
    text += " Type /payments."
    return ephemeral(text, [section(text)])

def confirm():
    return confirm_dialog(t.gettext("Sure?"), t.gettext("Really?"), "Yes", t.gettext("No"))
"""

GOOD = """
WORDS = {"approved": N_("Approved")}

def view(t, name):
    blocks = [section(t.gettext("Hello {name}").format(name=name)), header(f"🔗 {name}")]
    element = {"type": "button", "action_id": "approve", "style": "primary",
               "text": plain_text(t.gettext("Approve"), 75)}
    when = f"<!date^{stamp}^{{date_short_pretty}}|{shown}>"
    mentioned = f"<@{user}>"
    text = {"type": "mrkdwn", "text": f"*{title}*\\n{body}"}
    n = t.ngettext("{count} invoice", "{count} invoices", 2)
    return ephemeral(t.gettext(WORDS["approved"]), blocks)

def mention(user):
    return f"<@{user}>"

def fail(size):
    log.warning("the payload is %s long", size)
    raise ValueError("metadata does not fit Slack's 3000 characters")
"""


def test_the_checker_finds_every_kind_of_bare_text() -> None:
    found = bare_texts(BAD)
    for text in [
        "'Hello there'",
        "'Request #'",
        "'Approve'",
        "'Payments'",
        "'Nothing to show'",
        "'under a minute'",
        "'Choose a payment'",
        "'Yes'",
        "'No payments with money left.'",
        "' Type /payments.'",
        "'{count} days'",
    ]:
        assert any(line.endswith(text) for line in found), (text, found)
    assert not any("Sure?" in line or "No'" in line for line in found), found


def test_the_checker_passes_marked_texts_and_machine_strings() -> None:
    assert bare_texts(GOOD) == []


# ------------------------------------------------------------------------ the tree


@pytest.mark.parametrize("path", VIEW_FILES, ids=lambda p: p.name)
def test_no_view_hands_a_person_unmarked_text(path: Path) -> None:
    found = bare_texts(path.read_text(encoding="utf-8"), str(path.relative_to(ROOT)))
    assert not found, "text shown without the catalogs (use t.gettext / N_):\n" + "\n".join(found)


def _french():
    with FR_PO.open("rb") as fp:
        return read_po(fp)


def test_every_text_the_views_mark_is_translated_in_french() -> None:
    fr = _french()
    marked: list[tuple[str, int, str | tuple[str, ...]]] = []
    for path in VIEW_FILES:
        for line, message, _comments, _context in extract_from_file(
            "python", str(path), keywords=DEFAULT_KEYWORDS
        ):
            marked.append((path.name, line, message))
    assert len(marked) > 200  # the extractor sees the views' marks at all
    problems = []
    for where, line, message in marked:
        msgid = message[0] if isinstance(message, tuple) else message
        entry = fr.get(msgid)
        if entry is None:
            problems.append(f"{where}:{line}: missing {msgid!r}")
            continue
        forms = list(entry.string) if isinstance(entry.string, tuple) else [entry.string]
        if not all(forms):
            problems.append(f"{where}:{line}: empty {msgid!r}")
        if entry.fuzzy:
            problems.append(f"{where}:{line}: fuzzy {msgid!r}")
        if isinstance(message, tuple) and len(forms) != 3:
            problems.append(f"{where}:{line}: French has 3 plural forms, got {len(forms)}")
    assert not problems, "run pybabel extract + update, then translate:\n" + "\n".join(problems)


def test_a_missing_translation_is_caught(tmp_path: Path) -> None:
    source = tmp_path / "view.py"
    source.write_text('def f(t):\n    return t.gettext("A text nobody translated")\n')
    (_line, message, _comments, _context), *_ = extract_from_file(
        "python", str(source), keywords=DEFAULT_KEYWORDS
    )
    assert message == "A text nobody translated"
    assert _french().get(message) is None
