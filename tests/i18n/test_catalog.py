"""The catalogs: French comes back, a missing .mo is compiled, the pseudo-locale, completeness."""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.mofile import read_mo
from babel.messages.pofile import read_po

from slackbot.i18n import catalog
from slackbot.i18n.catalog import LOCALES_DIR, PSEUDO_LOCALE, pseudo, texts

ROOT = Path(__file__).resolve().parents[2]
FR_PO = LOCALES_DIR / "fr" / "LC_MESSAGES" / "messages.po"
POT = LOCALES_DIR / "messages.pot"

# Tokens every translation must carry unchanged.
PLACEHOLDERS = re.compile(r"\{[^{}]*\}|%\([^)]+\)[a-z]|`[^`]*`")


@pytest.fixture(autouse=True)
def _fresh_catalogs():
    catalog.forget_loaded()
    yield
    catalog.forget_loaded()


def _extracted() -> dict[str, tuple[str, int]]:
    """Every marked msgid in the source, read with babel.cfg's method map (as pybabel does)."""
    with (ROOT / "babel.cfg").open() as fp:
        method_map, options_map = parse_mapping_cfg(fp)
    found: dict[str, tuple[str, int]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        ROOT, method_map=method_map, options_map=options_map
    ):
        msgid = message[0] if isinstance(message, tuple) else message
        found[msgid] = (filename, lineno)
    return found


def _singular(msgid):
    """A plural entry's key is its singular msgid (as Babel's extractor reports it)."""
    return msgid[0] if isinstance(msgid, (list, tuple)) else msgid


def _forms(text):
    """Every form of a translation: one string, or each plural form."""
    return list(text) if isinstance(text, (list, tuple)) else [text]


def _po(path: Path):
    with path.open("rb") as fp:
        return read_po(fp)


def test_babel_cfg_covers_the_folders_the_completeness_test_reads():
    cfg = (ROOT / "babel.cfg").read_text()
    assert "[python: slackbot/**.py]" in cfg
    assert "[python: handlers/**.py]" in cfg


def test_every_marked_message_is_translated_in_french():
    fr = _po(FR_PO)
    extracted = _extracted()
    assert catalog.NOT_LINKED in extracted  # the extraction sees the marks at all
    missing = [
        f"{where}:{line}: {msgid!r}"
        for msgid, (where, line) in extracted.items()
        if fr.get(msgid) is None
    ]
    untranslated = [
        f"{where}:{line}: {msgid!r}"
        for msgid, (where, line) in extracted.items()
        if fr.get(msgid) is not None and not all(_forms(fr[msgid].string))
    ]
    fuzzy = [msgid for msgid in extracted if fr.get(msgid) is not None and fr[msgid].fuzzy]
    assert not missing, "not in fr/messages.po (run pybabel extract + update):\n" + "\n".join(
        missing
    )
    assert not untranslated, "untranslated in fr/messages.po:\n" + "\n".join(untranslated)
    assert not fuzzy, f"fuzzy (not shown) in fr/messages.po: {fuzzy}"


def test_the_template_holds_exactly_the_marked_messages():
    template = {_singular(m.id) for m in _po(POT) if m.id}
    extracted = set(_extracted())
    assert extracted - template == set(), "run pybabel extract (the .pot is behind the source)"
    assert template - extracted == set(), "the .pot holds messages the source no longer marks"


def test_the_french_catalog_is_not_marked_fuzzy_so_pybabel_compile_keeps_it():
    assert not _po(FR_PO).fuzzy


def test_french_texts_come_back_for_the_marked_msgids():
    t = texts("fr-FR")
    assert t.gettext(catalog.NOT_LINKED) == (
        "Votre compte Slack n’est encore associé à aucun partenaire\u00a0: il n’y a donc aucun"
        " paiement à afficher."
    )
    assert t.gettext(catalog.NOTHING_CHANGED_TITLE) == "Rien n’a été modifié"
    assert t._(catalog.SOMEONE) == "quelqu’un"
    assert texts("fr").gettext(catalog.FALLBACK_TEXT) == "Paiements"
    assert texts("fr_CA").gettext(catalog.FALLBACK_TEXT) == "Paiements"  # no fr_CA: fr


def test_french_placeholders_survive_translation_and_format():
    t = texts("fr-FR")
    text = t.gettext(catalog.NOT_LINKED_IN_WORKSPACE_OF_ORG).format(
        workspace="*acme* (T01ABC)", organization="E01XYZ"
    )
    assert "*acme* (T01ABC)" in text and "E01XYZ" in text
    assert t.gettext(catalog.DATE_AT_TIME) == "{date_short_pretty} à {time}"


@pytest.mark.parametrize("locale", ["en-US", "en", None, "", "zz-ZZ", "../../etc", "fr/../x"])
def test_english_and_unknown_locales_read_the_msgid(locale):
    assert texts(locale).gettext(catalog.NOT_LINKED) == catalog.NOT_LINKED
    assert texts(locale).ngettext("{n} invoice", "{n} invoices", 2) == "{n} invoices"


def test_french_typography_in_every_translation():
    for message in _po(FR_PO):
        if not message.id:
            continue
        for string in _forms(message.string):
            prose = PLACEHOLDERS.sub("", string)
            for at, mark in enumerate(prose):
                if mark in ":;?!":
                    assert prose[at - 1] in "\u00a0\u202f", (
                        f"no espace insécable before {mark}: {prose!r}"
                    )
            assert '"' not in prose, f"French quotes are « »: {prose!r}"
            assert "'" not in prose, f"French apostrophes are ’: {prose!r}"
            expected = [PLACEHOLDERS.findall(form) for form in _forms(message.id)]
            assert PLACEHOLDERS.findall(string) in expected, message.id


def test_translations_are_cached_per_language():
    assert catalog.translator("fr-FR") is catalog.translator("fr")
    assert catalog.translator("fr-FR") is not catalog.translator(PSEUDO_LOCALE)


def _copy_locales(tmp_path: Path) -> Path:
    target = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, target, ignore=shutil.ignore_patterns("*.mo"))
    return target


def test_a_missing_mo_is_compiled_on_first_use(tmp_path):
    locales = _copy_locales(tmp_path)
    mo = locales / "fr" / "LC_MESSAGES" / "messages.mo"
    assert not mo.exists()
    assert texts("fr-FR", locales_dir=locales).gettext(catalog.SOMEONE) == "quelqu’un"
    assert mo.is_file()
    with mo.open("rb") as fp:
        compiled = read_mo(fp)
    assert compiled[catalog.SOMEONE].string == "quelqu’un"


def test_an_mo_older_than_its_po_is_compiled_again(tmp_path):
    locales = _copy_locales(tmp_path)
    po = locales / "fr" / "LC_MESSAGES" / "messages.po"
    texts("fr-FR", locales_dir=locales)
    mo = po.with_suffix(".mo")
    catalog.forget_loaded()
    po.write_text(po.read_text().replace('msgstr "quelqu’un"', 'msgstr "une personne"'))
    os.utime(mo, (1_000_000, 1_000_000))
    assert texts("fr-FR", locales_dir=locales).gettext(catalog.SOMEONE) == "une personne"
    assert mo.stat().st_mtime >= po.stat().st_mtime


def test_an_mo_as_old_as_its_po_is_not_trusted(tmp_path):
    # A wheel stamps every file with one time: a stale .mo shipped beside the .po is rebuilt.
    locales = _copy_locales(tmp_path)
    po = locales / "fr" / "LC_MESSAGES" / "messages.po"
    mo = po.with_suffix(".mo")
    texts("fr-FR", locales_dir=locales)
    catalog.forget_loaded()
    po.write_text(po.read_text().replace('msgstr "quelqu’un"', 'msgstr "une personne"'))
    os.utime(po, (1_580_601_600, 1_580_601_600))
    os.utime(mo, (1_580_601_600, 1_580_601_600))
    assert texts("fr-FR", locales_dir=locales).gettext(catalog.SOMEONE) == "une personne"


def test_a_read_only_install_compiles_in_memory(tmp_path, monkeypatch):
    locales = _copy_locales(tmp_path)

    def read_only(path, data):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(catalog, "_write_atomically", read_only)
    assert texts("fr-FR", locales_dir=locales).gettext(catalog.SOMEONE) == "quelqu’un"
    assert not (locales / "fr" / "LC_MESSAGES" / "messages.mo").exists()


def test_a_new_language_is_a_translation_file_and_nothing_else(tmp_path):
    locales = _copy_locales(tmp_path)
    (locales / "de" / "LC_MESSAGES").mkdir(parents=True)
    (locales / "de" / "LC_MESSAGES" / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n'
        '"Plural-Forms: nplurals=2; plural=(n != 1);\\n"\n\n'
        'msgid "someone"\nmsgstr "jemand"\n\n'
        'msgid "{n} invoice"\nmsgid_plural "{n} invoices"\nmsgstr[0] "{n} Rechnung"\n'
        'msgstr[1] "{n} Rechnungen"\n'
    )
    de = texts("de-DE", locales_dir=locales)
    assert de.gettext(catalog.SOMEONE) == "jemand"
    assert de.ngettext("{n} invoice", "{n} invoices", 1) == "{n} Rechnung"
    assert de.ngettext("{n} invoice", "{n} invoices", 3) == "{n} Rechnungen"
    assert de.gettext(catalog.NOT_LINKED) == catalog.NOT_LINKED  # untranslated: English
    assert "de" in catalog.available_languages(locales)


def test_a_broken_po_reads_english_rather_than_failing(tmp_path, caplog):
    locales = _copy_locales(tmp_path)
    (locales / "fr" / "LC_MESSAGES" / "messages.po").write_bytes(b'msgid "x\nmsgstr \x00\xff')
    assert texts("fr-FR", locales_dir=locales).gettext(catalog.SOMEONE) == "someone"


# -- the pseudo-locale --------------------------------------------------------------------


def _template_ids() -> list[str]:
    return [m.id for m in _po(POT) if m.id and isinstance(m.id, str)]


@pytest.mark.parametrize("msgid", _template_ids())
def test_pseudo_keeps_every_placeholder_and_markup_token(msgid):
    shown = texts(PSEUDO_LOCALE).gettext(msgid)
    assert shown != msgid
    for token in re.findall(r"<[^<>]*>|\{[^{}]*\}|%\([^)]+\)[a-z]|`[^`]*`", msgid):
        assert token in shown
    assert shown.count("*") == msgid.count("*")
    assert len(shown) >= 1.4 * len(msgid)


def test_pseudo_accents_prose_and_keeps_slack_markup():
    text = (
        "Approved by <@U01ABC> at <!date^1700000000^{date_short_pretty}|2023-11-14>"
        " for *%(name)s* :tada: &amp; {amount}"
    )
    shown = pseudo(text)
    for token in (
        "<@U01ABC>",
        "<!date^1700000000^{date_short_pretty}|2023-11-14>",
        "%(name)s",
        ":tada:",
        "&amp;",
        "{amount}",
    ):
        assert token in shown
    assert shown.startswith("[Åþþŕöṽéð ƀý ")
    assert shown.endswith("~]")
    assert len(shown) >= 1.4 * len(text)


@pytest.mark.parametrize("text", ["a", "OK", "Nothing was changed", "x" * 500])
def test_pseudo_is_at_least_forty_percent_longer(text):
    assert len(pseudo(text)) >= 1.4 * len(text)


def test_pseudo_reads_every_template_message_and_leaves_unmarked_text_english():
    t = texts(PSEUDO_LOCALE)
    assert t.gettext(catalog.FALLBACK_TEXT).startswith("[Þåýɱéñţš ")
    assert t.gettext("a text nobody marked") == "a text nobody marked"  # shows what is missing
