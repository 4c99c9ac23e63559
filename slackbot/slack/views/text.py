"""Text safety for every view: escaping, clipping, one-line ids, mentions, dates, Slack's limits.

Outside text (partner names, references, notes, reasons, ids) placed in ``mrkdwn`` is escaped
(``&``, ``<``, ``>``), so nobody can smuggle ``<!channel>`` or a fake link into a billing message,
and stripped of control characters and bidi overrides; every text is clipped to Slack's limit
with "…", counted in UTF-16 code units (the stricter of the ways a length can be counted, so an
emoji never tips a field over).
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from collections.abc import Iterable

from models.limits import is_slack_user_id
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import AN_EARLIER_TIME, DATE_AT_TIME, FALLBACK_TEXT, SOMEONE, texts
from slackbot.i18n.numbers import utc_fallback

# Slack's documented limits (https://docs.slack.dev/reference/block-kit/).
MESSAGE_MAX_BLOCKS = 50


MODAL_MAX_BLOCKS = 100


SECTION_TEXT_MAX = 3000


FIELD_TEXT_MAX = 2000


HEADER_TEXT_MAX = 150


BUTTON_TEXT_MAX = 75


OPTION_TEXT_MAX = 75


OPTIONS_MAX = 100


MODAL_TITLE_MAX = 24


PRIVATE_METADATA_MAX = 3000


CONFIRM_TITLE_MAX = 100


CONFIRM_TEXT_MAX = 300


MESSAGE_TEXT_MAX = 40000


# Where a piece of outside text sits in a bigger text object, it gets a share of the limit small
# enough that the whole object stays inside Slack's, whatever the other pieces hold.
NAME_BUDGET = 300


REFERENCE_BUDGET = 300


NOTE_BUDGET = 1800


REASON_BUDGET = 1800


HISTORY_NOTE_BUDGET = 300


HISTORY_REASON_BUDGET = 900


# A suggestion's one-line summary names up to ten invoice ids of 64 characters.
SUGGESTION_BUDGET = 1000


_FALLBACK_BUDGET = 3000


_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;"}


_BIDI_CONTROLS = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


class Mrkdwn(str):
    """Text that is already Slack mrkdwn (a mention, a date), placed as is and never re-escaped.

    Builders that take a free ``str`` (:func:`error_message`, :func:`notice_modal`) escape it, so
    an error quoting what a person typed stays inert; the few texts this module itself composes
    with mentions and dates (:func:`already_decided_text`) come back as ``Mrkdwn`` so they keep
    working when handed to those builders. Joining it with a plain ``str`` gives a plain ``str``,
    which is escaped: the safe way round.
    """

    __slots__ = ()


def units(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def clip(text: str, n: int) -> str:
    """``text`` cut to at most ``n`` units, ending in "…" when anything was cut.

    The cut falls between words when there is a space in the second half of what fits (a word
    cut in two can read as another word, and translations make texts longer); text with no
    such space (an id, a run of emoji) is cut where the limit falls.
    """
    if units(text) <= n:
        return text
    kept = _take(text, n - 1)
    if kept and not text[len(kept)].isspace() and not kept[-1].isspace():
        space = max(kept.rfind(" "), kept.rfind("\n"))
        if space >= len(kept) // 2:
            kept = kept[:space]
    return kept.rstrip() + "…"


def _take(chars: Iterable[str], n: int) -> str:
    kept: list[str] = []
    used = 0
    for ch in chars:
        width = 2 if ord(ch) > 0xFFFF else 1
        if used + width > n:
            break
        kept.append(ch)
        used += width
    return "".join(kept)


def clip_middle(text: str, n: int) -> str:
    """``text`` cut to ``n`` units in the middle: ids often differ only at the end."""
    if units(text) <= n:
        return text
    tail = (n - 1) // 2
    head = _take(text, n - 1 - tail)
    end = _take(reversed(text), tail)[::-1]
    return f"{head}…{end}"


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def md(text: str, n: int) -> str:
    """Outside text escaped for mrkdwn and clipped to ``n`` units without cutting an entity."""
    text = clean(text)
    escaped = _escape(text)
    if units(escaped) <= n:
        return escaped
    kept: list[str] = []
    used = 0
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        width = units(piece)
        if used + width > n - 1:
            break
        kept.append(piece)
        used += width
    return "".join(kept) + "…"


def clean(text: str) -> str:
    """Outside text without control characters or bidi overrides (newlines kept).

    An override (U+202E…) in a partner name or note would reorder what follows it on screen, so
    an approver could read an amount or invoice id other than the real one ("Trojan Source").
    Right-to-left scripts still show right to left: they need no override characters.
    """
    return "".join(
        ch
        for ch in text
        if ch == "\n" or (ch not in _BIDI_CONTROLS and unicodedata.category(ch) != "Cc")
    )


def one_line(text: str | None) -> str:
    """Names, references and ids on one line: newlines and runs of blanks become one space."""
    return " ".join(clean(text or "").split())


def md_line(text: str | None, n: int) -> str:
    return md(one_line(text), n)


def quote(text: str, n: int) -> str:
    """Multi-line outside text as a mrkdwn block quote, at most ``n`` units in all."""
    lines = [" ".join(line.split()) for line in clean(text).strip().splitlines()] or [""]
    body = md("\n".join(lines), max(1, n - len(lines)))
    return "\n".join(">" + line for line in body.split("\n"))


def as_mrkdwn(text: str, n: int) -> str:
    """A caller's text: kept as is when it is :class:`Mrkdwn`, escaped otherwise."""
    if isinstance(text, Mrkdwn):
        return clip_markup(str(text), n)
    return md(text, n)


def clip_markup(text: str, n: int) -> str:
    """Like :func:`clip` for composed mrkdwn: never ends inside an ``&amp;`` or a ``<…>``."""
    clipped = clip(text, n)
    if clipped == text:
        return text
    body = clipped[:-1]
    if body.rfind("&") > body.rfind(";"):
        body = body[: body.rfind("&")]
    if body.rfind("<") > body.rfind(">"):
        body = body[: body.rfind("<")]
    return body + "…"


def fallback(text: str, *, locale: str = DEFAULT_LOCALE) -> str:
    """The message's ``text``: read by notifications and screen readers, parsed as mrkdwn."""
    return clip_markup(text, _FALLBACK_BUDGET) or texts(locale).gettext(FALLBACK_TEXT)


def mention(user_id: str | None, *, locale: str = DEFAULT_LOCALE) -> str:
    """``<@U123>`` for a Slack user id; anything else is shown as escaped text, never a link."""
    if not user_id:
        return texts(locale).gettext(SOMEONE)
    if is_slack_user_id(user_id):
        return f"<@{user_id}>"
    return md_line(user_id, 64)


def local_time(moment: dt.datetime | None, *, locale: str = DEFAULT_LOCALE) -> str:
    """A time each reader sees in their own time zone, with a UTC fallback for old clients.

    The words around Slack's tokens (``{date_short_pretty} at {time}``) and the fallback are in
    the reader's language.
    """
    t = texts(locale)
    if moment is None:
        return t.gettext(AN_EARLIER_TIME)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    utc = moment.astimezone(dt.UTC)
    shown = utc_fallback(utc, locale).replace("&", "&amp;").replace("<", "&lt;")
    return f"<!date^{int(utc.timestamp())}^{t.gettext(DATE_AT_TIME)}|{shown.replace('>', '&gt;')}>"


def utc_time(moment: dt.datetime | None, *, locale: str = DEFAULT_LOCALE) -> str:
    """The same time for places that show no date tokens (notifications, plain text)."""
    if moment is None:
        return texts(locale).gettext(AN_EARLIER_TIME)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return utc_fallback(moment, locale)
