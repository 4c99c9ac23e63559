"""Message catalogs: gettext through Babel, one translator per language, chosen per call.

The English text is the msgid, so English needs no catalog. Every other language is one file,
``locales/<lang>/LC_MESSAGES/messages.po``; its ``.mo`` is compiled from it on first use (when
missing or older than the ``.po``), so an installed wheel works without a build step, and kept
in memory when the package directory is read-only. ``xx-PS`` is a pseudo-locale generated from
``messages.pot``: every text 40% longer and accented, placeholders and Slack markup untouched,
for the layout tests.

There is no global language: a caller asks :func:`texts` for the reader's locale and uses its
``gettext``/``ngettext``, which Babel's extractor finds by name (``t.gettext("…")``). A text
defined before anyone's locale is known is marked with :func:`N_` and translated where it is
shown.
"""

from __future__ import annotations

import gettext as _gettext
import io
import logging
import math
import os
import re
import tempfile
import threading
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

log = logging.getLogger(__name__)

LOCALES_DIR = Path(__file__).parent / "locales"
DOMAIN = "messages"
PSEUDO_LOCALE = "xx-PS"
# The language whose text the msgids are: no catalog, the msgid is shown as is.
SOURCE_LANGUAGE = "en"

# Slack sends "fr-FR", the partners CSV may say "fr" or "fr_FR"; anything else (a path, a
# typo) reads English rather than reaching the file system.
_LOCALE_SHAPE = re.compile(r"^[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{2,8})*$")

_lock = threading.Lock()
_translators: dict[tuple[Path, str], _gettext.NullTranslations] = {}


def N_(message: str) -> str:  # the conventional gettext_noop name, which Babel extracts
    """Marks ``message`` for extraction without translating it (it is translated when shown)."""
    return message


@dataclass(frozen=True)
class Texts:
    """The texts of one locale: ``t.gettext("…")``, ``t.ngettext("…", "…", n)``."""

    locale: str
    translations: _gettext.NullTranslations

    def gettext(self, message: str) -> str:
        return self.translations.gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return self.translations.ngettext(singular, plural, n)

    def pgettext(self, context: str, message: str) -> str:
        return self.translations.pgettext(context, message)

    _ = gettext


def texts(locale: str | None, *, locales_dir: Path = LOCALES_DIR) -> Texts:
    """The texts for ``locale`` (``fr-FR``, ``fr``, ``xx-PS``…); unknown locales read English."""
    return Texts(locale or SOURCE_LANGUAGE, translator(locale, locales_dir=locales_dir))


def translator(locale: str | None, *, locales_dir: Path = LOCALES_DIR) -> _gettext.NullTranslations:
    """The gettext translations for ``locale``, loaded once per language and kept.

    English, an unknown locale and a malformed one get :class:`gettext.NullTranslations` (the
    msgid, which is the English text). A catalog that cannot be read is logged and reads
    English too: a broken translation file must not stop the bot from answering.
    """
    language = catalog_language(locale, locales_dir=locales_dir)
    if language is None:
        return _gettext.NullTranslations()
    key = (locales_dir, language)
    with _lock:
        found = _translators.get(key)
        if found is None:
            try:
                found = _load(language, locales_dir)
            except Exception:
                log.exception("the %s catalog in %s could not be loaded", language, locales_dir)
                found = _gettext.NullTranslations()
            _translators[key] = found
        return found


def forget_loaded() -> None:
    """Drops every loaded translator (tests, or after the ``.po`` files changed on disk)."""
    with _lock:
        _translators.clear()
    catalog_language.cache_clear()


def available_languages(locales_dir: Path = LOCALES_DIR) -> list[str]:
    """The languages with a catalog (``fr``…), English (the source) and the pseudo-locale."""
    found = sorted(p.parent.parent.name for p in locales_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))
    return [SOURCE_LANGUAGE, *found, PSEUDO_LOCALE]


@lru_cache(maxsize=512)
def catalog_language(locale: str | None, *, locales_dir: Path = LOCALES_DIR) -> str | None:
    """The catalog ``locale`` reads: ``fr_CA`` if there is one, else ``fr``; None for English.

    >>> catalog_language("fr-FR")
    'fr'
    """
    if not locale or not _LOCALE_SHAPE.match(locale):
        return None
    if locale.replace("_", "-").lower() == PSEUDO_LOCALE.lower():
        return PSEUDO_LOCALE
    parts = locale.replace("-", "_").split("_")
    language = parts[0].lower()
    if language == SOURCE_LANGUAGE:
        return None
    candidates = [language]
    if len(parts) > 1:
        candidates.insert(0, f"{language}_{parts[1].upper()}")
    for candidate in candidates:
        if (locales_dir / candidate / "LC_MESSAGES" / f"{DOMAIN}.po").is_file():
            return candidate
    return None


def _load(language: str, locales_dir: Path) -> _gettext.NullTranslations:
    if language == PSEUDO_LOCALE:
        return pseudo_translations(locales_dir / f"{DOMAIN}.pot")
    folder = locales_dir / language / "LC_MESSAGES"
    po, mo = folder / f"{DOMAIN}.po", folder / f"{DOMAIN}.mo"
    # Strictly newer: a wheel gives every file the same timestamp, so a .mo that came along
    # from a developer's tree (maybe from an older .po) is compiled again rather than trusted.
    if mo.is_file() and mo.stat().st_mtime_ns > po.stat().st_mtime_ns:
        with mo.open("rb") as fp:
            return _gettext.GNUTranslations(fp)
    compiled = compile_po(po)
    try:
        _write_atomically(mo, compiled)
    except OSError as exc:  # a read-only install: the catalog lives in memory only
        log.info("could not write %s (%s); using the catalog compiled in memory", mo, exc)
    return _gettext.GNUTranslations(io.BytesIO(compiled))


def compile_po(po: Path) -> bytes:
    """The ``.mo`` bytes for a ``.po`` file (fuzzy entries left out, as ``pybabel compile``)."""
    with po.open("rb") as fp:
        catalog = read_po(fp)
    out = io.BytesIO()
    write_mo(out, catalog)
    return out.getvalue()


def _write_atomically(path: Path, data: bytes) -> None:
    # Several processes may start at once: each writes its own file and renames it into place,
    # so nobody ever reads half a .mo.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as fp:
            fp.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


# -- the pseudo-locale ------------------------------------------------------------------------

# What must reach Slack unchanged: Slack markup (<@U1>, <!date^…|…>, <url|label>), format
# placeholders ({amount}, {{ }}), printf placeholders (%(name)s, %s), HTML entities, `code`,
# emoji names (:tada:).
_PROTECTED = re.compile(
    r"<[^<>]*>"
    r"|\{\{|\}\}|\{[^{}]*\}"
    r"|%\([^)]+\)[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa]|%[-#0 +]*\d*(?:\.\d+)?[diouxXeEfFgGcrsa%]"
    r"|&(?:amp|lt|gt);"
    r"|`[^`]*`"
    r"|:[a-z0-9_+-]+:"
)
_ACCENTED = str.maketrans(
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "åƀçðéƒĝĥîĵķļɱñöþǫŕšţûṽŵẋýžÅƁÇÐÉƑĜĤÎĴĶĻṀÑÖÞǪŔŠŢÛṼŴẊÝŽ",
)
PSEUDO_GROWTH = 0.4


def pseudo(text: str) -> str:
    """``text`` accented and 40% longer, between brackets: ``[Ŷöûŕ ŕéǫûéšţ {id} ~~~]``.

    Protected tokens (see ``_PROTECTED``) are kept exactly; the padding is one separate word
    so a layout test can tell a cut word from a short one.
    """
    if not text:
        return text
    pieces: list[str] = []
    last = 0
    for match in _PROTECTED.finditer(text):
        pieces.append(text[last : match.start()].translate(_ACCENTED))
        pieces.append(match.group())
        last = match.end()
    pieces.append(text[last:].translate(_ACCENTED))
    padding = max(1, math.ceil(len(text) * PSEUDO_GROWTH) - 3)
    return f"[{''.join(pieces)} {'~' * padding}]"


class PseudoTranslations(_gettext.NullTranslations):
    """The pseudo-locale: every message of the template, :func:`pseudo`-ized."""

    def __init__(
        self, singular: dict[str, str], plural: dict[tuple[str, str], tuple[str, str]]
    ) -> None:
        super().__init__()
        self._singular = singular
        self._plural = plural

    def gettext(self, message: str) -> str:
        return self._singular.get(message, message)

    def ngettext(self, msgid1: str, msgid2: str, n: int) -> str:
        one, many = self._plural.get((msgid1, msgid2), (msgid1, msgid2))
        return one if n == 1 else many

    def pgettext(self, context: str, message: str) -> str:
        return self._singular.get(message, message)


def pseudo_translations(pot: Path) -> PseudoTranslations:
    """The pseudo-locale built from the template ``pot`` (every msgid, none left English)."""
    with pot.open("rb") as fp:
        template: Catalog = read_po(fp)
    singular: dict[str, str] = {}
    plural: dict[tuple[str, str], tuple[str, str]] = {}
    for message in template:
        if not message.id:
            continue
        if isinstance(message.id, (list, tuple)):
            one, many = message.id[0], message.id[1]
            plural[(one, many)] = (pseudo(one), pseudo(many))
        else:
            singular[message.id] = pseudo(message.id)
    return PseudoTranslations(singular, plural)


# -- the first texts in the catalogs ----------------------------------------------------------
# From slackbot/slack/refusals.py, views/partner.py (the not-linked words) and views/text.py;
# an f-string's values became named placeholders, and a sentence built from English fragments
# became one sentence per case, so every language can order its own words. When the views
# carry these marks themselves (t.gettext("…") at the call site), these constants can go.

UNAVAILABLE_TEXT = N_(
    "The payments ledger isn't answering right now, so this may not have gone through."
    " Please try again in a minute; if it did go through, I'll tell you so."
)
UNEXPECTED_TEXT = N_(
    "Something went wrong on our side and nothing was changed. Please try again;"
    " if it keeps happening, tell the billing team."
)
NOTHING_CHANGED_TITLE = N_("Nothing was changed")
NOT_LINKED = N_(
    "Your Slack account is not linked to any partner yet, so there are no payments to show."
)
NOT_LINKED_ASK = N_("Ask the vendor's billing team to add your Slack member ID.")
NOT_LINKED_HOW = N_(
    "*How to get linked:* ask the billing team of the vendor you work with to add your Slack"
    " user to your company's partner account. They need your Slack member ID: open your"
    " Slack profile, click ⋮ (More), then *Copy member ID*, and send it to them."
)
NOT_LINKED_IN_WORKSPACE = N_(
    "You are using the Slack workspace {workspace}, which no partner account includes."
)
NOT_LINKED_IN_WORKSPACE_OF_ORG = N_(
    "You are using the Slack workspace {workspace} of the organization {organization},"
    " which no partner account includes."
)
NOT_LINKED_IN_ORG = N_(
    "You are using the Slack organization {organization}, which no partner account includes."
)
HOW_TO_LINK_WORKSPACE = N_(
    "*How to get linked:* ask the billing team of the vendor you work with to add you to"
    " your company's partner account. Send them your member ID {member}, or the"
    " workspace ID `{workspace_id}` to link everyone in your workspace."
)
HOW_TO_LINK_ORG = N_(
    "*How to get linked:* ask the billing team of the vendor you work with to add you to"
    " your company's partner account. Send them your member ID {member}, or the"
    " organization ID `{organization_id}` to link everyone in your organization."
)
HOW_TO_LINK_WORKSPACE_NO_ID = N_(
    "*How to get linked:* ask the billing team of the vendor you work with to add you to"
    " your company's partner account. Send them your Slack member ID, or the"
    " workspace ID `{workspace_id}` to link everyone in your workspace."
)
HOW_TO_LINK_ORG_NO_ID = N_(
    "*How to get linked:* ask the billing team of the vendor you work with to add you to"
    " your company's partner account. Send them your Slack member ID, or the"
    " organization ID `{organization_id}` to link everyone in your organization."
)
NOT_LINKED_FALLBACK_WORKSPACE = N_(
    "Your Slack account is not linked to any partner yet. Ask the vendor's billing team to"
    " add your member ID {member_id} or your workspace {workspace_id}."
)
NOT_LINKED_FALLBACK_ORG = N_(
    "Your Slack account is not linked to any partner yet. Ask the vendor's billing team to"
    " add your member ID {member_id} or your organization {organization_id}."
)
FALLBACK_TEXT = N_("Payments")
SOMEONE = N_("someone")
AN_EARLIER_TIME = N_("an earlier time")
# Inside <!date^…^{date_short_pretty} at {time}|…>: the braces are Slack's date tokens.
DATE_AT_TIME = N_("{date_short_pretty} at {time}")
