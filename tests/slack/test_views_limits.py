"""Every view builder, fed extreme data, stays inside Slack's Block Kit limits and escapes mrkdwn.

The checker below walks a payload the way Slack validates it (blocks, elements, text objects,
options) and fails naming the exact path at fault, e.g. ``blocks[3].accessory.text.text``.
Lengths are counted in UTF-16 code units, the stricter reading of "characters", so an emoji-heavy
note that fits here fits Slack. slack_sdk's own model validation runs as a second opinion.
"""

from __future__ import annotations

import datetime as dt
import functools
import inspect
import json
import re
import unicodedata
from collections.abc import Callable
from typing import Any

import pytest
from babel.messages.pofile import read_po
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

from models.home import ApproverHome, CurrencyTotal, Home, HomeSuggestion, PartnerCount, PartnerHome
from models.schemas import AllocationSummary, InvoiceSummary, PaymentSummary
from slackbot.i18n.catalog import LOCALES_DIR, PSEUDO_LOCALE, pseudo
from slackbot.slack import views as _views
from slackbot.slack.views import home, launcher, reminders

POT = LOCALES_DIR / "messages.pot"
# Every render below runs in English, in French and in the pseudo-locale (every text 40% longer).
LOCALES = ["en-US", "fr-FR", PSEUDO_LOCALE]
_reader = ["en-US"]


class _InReadersLocale:
    """``views`` whose builders are called with ``locale=`` the locale of the running test.

    The cases below are written once (``views.billing_message(...)``); the locale is read when a
    builder is called, so each test picks it by setting ``_reader``.
    """

    def __getattr__(self, name: str) -> Any:
        found = getattr(_views, name)
        if not callable(found) or "locale" not in inspect.signature(found).parameters:
            return found

        @functools.wraps(found)
        def in_locale(*args: Any, **kwargs: Any) -> Any:
            return found(*args, locale=_reader[0], **kwargs)

        return in_locale


views = _InReadersLocale()


@pytest.fixture
def reader(request: pytest.FixtureRequest) -> Any:
    _reader[0] = request.param
    yield request.param
    _reader[0] = "en-US"


# ------------------------------------------------------------------------------ the checker


class SlackLimitError(AssertionError):
    pass


def units(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def fail(path: str, problem: str) -> None:
    raise SlackLimitError(f"{path}: {problem}")


def need(condition: bool, path: str, problem: str) -> None:
    if not condition:
        fail(path, problem)


def check_length(value: Any, limit: int, path: str, *, allow_empty: bool = False) -> None:
    need(isinstance(value, str), path, f"expected a string, got {type(value).__name__}")
    need(allow_empty or value != "", path, "is empty")
    need(units(value) <= limit, path, f"is {units(value)} long; Slack allows {limit}")


def check_keys(obj: dict[str, Any], allowed: set[str], path: str) -> None:
    unknown = set(obj) - allowed
    need(not unknown, path, f"has keys Slack does not know here: {sorted(unknown)}")


# Control sequences our mrkdwn may contain; anything else with < > & is unescaped outside text.
# A link is ``<url|label>``: the URL has no blank, ``|``, ``<`` or ``>``, and its ``&`` are
# ``&amp;``; the label is escaped text.
_LINK = r"<https?://(?:[^|<>\s&]|&(?:amp|lt|gt);)+\|(?:[^<>&]|&(?:amp|lt|gt);)*>"
_ALLOWED_MARKUP = re.compile(
    r"<@[UW][A-Z0-9]+>|<!subteam\^S[A-Z0-9]+>|<!date\^\d+\^[^|<>&]*\|[^<>&]*>|"
    + _LINK
    + r"|&(?:amp|lt|gt);|^>",
    re.MULTILINE,
)


def check_escaped(text: str, path: str) -> None:
    stripped = _ALLOWED_MARKUP.sub("", text)
    for char in "<>&":
        at = stripped.find(char)
        need(
            at < 0,
            path,
            f"unescaped {char!r} in mrkdwn near {stripped[max(0, at - 20) : at + 20]!r}",
        )


_BIDI = set("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def check_no_controls(text: str, path: str) -> None:
    """No control characters (but newlines), no bidi overrides that could reorder an amount."""
    for char in text:
        bad = char in _BIDI or (char != "\n" and unicodedata.category(char) == "Cc")
        need(not bad, path, f"contains control character U+{ord(char):04X}")


def check_text(obj: Any, path: str, limit: int = 3000, *, plain_only: bool = False) -> None:
    need(isinstance(obj, dict), path, "a text object must be a dict")
    kind = obj.get("type")
    need(kind in ("plain_text", "mrkdwn"), path, f"unknown text type {kind!r}")
    need(not (plain_only and kind != "plain_text"), path, "must be plain_text")
    check_keys(
        obj,
        {"type", "text", "emoji"} if kind == "plain_text" else {"type", "text", "verbatim"},
        path,
    )
    check_length(obj.get("text"), limit, f"{path}.text")
    check_no_controls(obj["text"], f"{path}.text")
    if kind == "mrkdwn":
        check_escaped(obj["text"], f"{path}.text")


def check_option(option: Any, path: str) -> None:
    need(isinstance(option, dict), path, "an option must be a dict")
    check_keys(option, {"text", "value", "description"}, path)
    check_text(option.get("text"), f"{path}.text", 75, plain_only=True)
    check_length(option.get("value"), 150, f"{path}.value")


def check_confirm(confirm: Any, path: str) -> None:
    need(isinstance(confirm, dict), path, "a confirm dialog must be a dict")
    check_keys(confirm, {"title", "text", "confirm", "deny", "style"}, path)
    check_text(confirm.get("title"), f"{path}.title", 100, plain_only=True)
    check_text(confirm.get("text"), f"{path}.text", 300)
    check_text(confirm.get("confirm"), f"{path}.confirm", 30, plain_only=True)
    check_text(confirm.get("deny"), f"{path}.deny", 30, plain_only=True)


def check_element(element: Any, path: str, action_ids: set[str]) -> None:
    need(isinstance(element, dict), path, "an element must be a dict")
    kind = element.get("type")
    action_id = element.get("action_id")
    if action_id is not None:
        check_length(action_id, 255, f"{path}.action_id")
        need(action_id not in action_ids, f"{path}.action_id", f"{action_id!r} repeats in block")
        action_ids.add(action_id)
    if "placeholder" in element:
        check_text(element["placeholder"], f"{path}.placeholder", 150, plain_only=True)
    if "confirm" in element:
        check_confirm(element["confirm"], f"{path}.confirm")
    if kind == "button":
        check_keys(element, {"type", "text", "action_id", "value", "style", "confirm", "url"}, path)
        need(action_id is not None, path, "a button needs an action_id")
        check_text(element.get("text"), f"{path}.text", 75, plain_only=True)
        check_length(element.get("value"), 2000, f"{path}.value")
        need(element.get("style") in (None, "primary", "danger"), f"{path}.style", "unknown")
    elif kind == "static_select":
        check_keys(
            element,
            {"type", "action_id", "placeholder", "options", "option_groups", "initial_option"},
            path,
        )
        need(
            ("options" in element) != ("option_groups" in element),
            path,
            "needs exactly one of options and option_groups",
        )
        offered: list[dict[str, Any]] = []
        if "options" in element:
            options = element["options"]
            need(1 <= len(options) <= 100, f"{path}.options", f"has {len(options)} options")
            for i, option in enumerate(options):
                check_option(option, f"{path}.options[{i}]")
            offered = list(options)
        else:
            groups = element["option_groups"]
            need(1 <= len(groups) <= 100, f"{path}.option_groups", f"has {len(groups)} groups")
            for g, group in enumerate(groups):
                gpath = f"{path}.option_groups[{g}]"
                check_keys(group, {"label", "options"}, gpath)
                check_text(group.get("label"), f"{gpath}.label", 75, plain_only=True)
                need(1 <= len(group["options"]) <= 100, f"{gpath}.options", "1..100 options")
                for i, option in enumerate(group["options"]):
                    check_option(option, f"{gpath}.options[{i}]")
                offered.extend(group["options"])
            need(len(offered) <= 100, f"{path}.option_groups", f"{len(offered)} options in all")
        values = [o["value"] for o in offered]
        need(len(values) == len(set(values)), path, "option values repeat")
        if "initial_option" in element:
            check_option(element["initial_option"], f"{path}.initial_option")
            need(
                element["initial_option"] in offered,
                f"{path}.initial_option",
                "is not exactly one of the options",
            )
    elif kind == "external_select":
        check_keys(
            element,
            {"type", "action_id", "placeholder", "min_query_length", "initial_option"},
            path,
        )
        need(isinstance(element.get("min_query_length", 0), int), path, "min_query_length")
        need(element.get("min_query_length", 0) >= 0, path, "min_query_length below 0")
        if "initial_option" in element:
            check_option(element["initial_option"], f"{path}.initial_option")
    elif kind == "plain_text_input":
        check_keys(
            element,
            {
                "type",
                "action_id",
                "placeholder",
                "initial_value",
                "multiline",
                "min_length",
                "max_length",
                "dispatch_action_config",
            },
            path,
        )
        if "dispatch_action_config" in element:
            # https://docs.slack.dev/reference/block-kit/composition-objects/dispatch-action-configuration-object
            config = element["dispatch_action_config"]
            triggers = config.get("trigger_actions_on") if isinstance(config, dict) else None
            need(
                isinstance(triggers, list)
                and bool(triggers)
                and set(triggers) <= {"on_enter_pressed", "on_character_entered"},
                f"{path}.dispatch_action_config",
                "trigger_actions_on must list on_enter_pressed and/or on_character_entered",
            )
        max_length = element.get("max_length", 3000)
        need(isinstance(max_length, int) and 1 <= max_length <= 3000, path, "max_length 1..3000")
        if "initial_value" in element:
            check_length(element["initial_value"], min(3000, max_length), f"{path}.initial_value")
    else:
        fail(path, f"element type {kind!r} is not one this checker knows")


def check_block(block: Any, path: str, block_ids: set[str]) -> None:
    need(isinstance(block, dict), path, "a block must be a dict")
    kind = block.get("type")
    if "block_id" in block:
        block_id = block["block_id"]
        check_length(block_id, 255, f"{path}.block_id")
        need(block_id not in block_ids, f"{path}.block_id", f"{block_id!r} repeats")
        block_ids.add(block_id)
    action_ids: set[str] = set()
    if kind == "section":
        check_keys(block, {"type", "block_id", "text", "fields", "accessory"}, path)
        need("text" in block or "fields" in block, path, "a section needs text or fields")
        if "text" in block:
            check_text(block["text"], f"{path}.text", 3000)
        if "fields" in block:
            fields = block["fields"]
            need(1 <= len(fields) <= 10, f"{path}.fields", f"has {len(fields)} fields")
            for i, field in enumerate(fields):
                check_text(field, f"{path}.fields[{i}]", 2000)
        if "accessory" in block:
            check_element(block["accessory"], f"{path}.accessory", action_ids)
    elif kind == "header":
        check_keys(block, {"type", "block_id", "text"}, path)
        check_text(block.get("text"), f"{path}.text", 150, plain_only=True)
    elif kind == "context":
        check_keys(block, {"type", "block_id", "elements"}, path)
        elements = block.get("elements") or []
        need(1 <= len(elements) <= 10, f"{path}.elements", f"has {len(elements)} elements")
        for i, element in enumerate(elements):
            check_text(element, f"{path}.elements[{i}]", 3000)
    elif kind == "actions":
        check_keys(block, {"type", "block_id", "elements"}, path)
        elements = block.get("elements") or []
        need(1 <= len(elements) <= 25, f"{path}.elements", f"has {len(elements)} elements")
        for i, element in enumerate(elements):
            check_element(element, f"{path}.elements[{i}]", action_ids)
    elif kind == "input":
        check_keys(
            block,
            {"type", "block_id", "label", "element", "hint", "optional", "dispatch_action"},
            path,
        )
        check_text(block.get("label"), f"{path}.label", 2000, plain_only=True)
        if "hint" in block:
            check_text(block["hint"], f"{path}.hint", 2000, plain_only=True)
        check_element(block.get("element"), f"{path}.element", action_ids)
    elif kind == "divider":
        check_keys(block, {"type", "block_id"}, path)
    else:
        fail(path, f"block type {kind!r} is not one this checker knows")


def check_blocks(blocks: Any, limit: int, path: str) -> None:
    need(isinstance(blocks, list) and blocks, path, "needs a non-empty list of blocks")
    need(len(blocks) <= limit, path, f"has {len(blocks)} blocks; Slack allows {limit}")
    block_ids: set[str] = set()
    for i, block in enumerate(blocks):
        check_block(block, f"{path}[{i}]", block_ids)
    for block in blocks:  # second opinion: slack_sdk's model validation
        parsed = Block.parse(block)
        need(parsed is not None, path, f"slack_sdk cannot parse {block.get('type')!r}")
        assert parsed is not None
        parsed.validate_json()


def check_message(message: Any, path: str = "message") -> None:
    need(isinstance(message, dict), path, "a message must be a dict")
    check_keys(message, {"response_type", "text", "blocks", "replace_original"}, path)
    need(message.get("response_type") in (None, "ephemeral", "in_channel"), path, "response_type")
    check_length(message.get("text"), 40000, f"{path}.text")
    check_escaped(message["text"], f"{path}.text")
    check_no_controls(message["text"], f"{path}.text")
    check_blocks(message.get("blocks"), 50, f"{path}.blocks")


def check_view(view: Any, path: str = "view") -> None:
    need(isinstance(view, dict), path, "a view must be a dict")
    check_keys(
        view,
        {
            "type",
            "callback_id",
            "title",
            "submit",
            "close",
            "private_metadata",
            "blocks",
            "external_id",
            "clear_on_close",
            "notify_on_close",
        },
        path,
    )
    need(view.get("type") == "modal", f"{path}.type", "must be 'modal'")
    check_text(view.get("title"), f"{path}.title", 24, plain_only=True)
    for key in ("submit", "close"):
        if key in view:
            check_text(view[key], f"{path}.{key}", 24, plain_only=True)
    if "callback_id" in view:
        check_length(view["callback_id"], 255, f"{path}.callback_id")
    if "private_metadata" in view:
        check_length(view["private_metadata"], 3000, f"{path}.private_metadata", allow_empty=True)
    blocks = view.get("blocks")
    check_blocks(blocks, 100, f"{path}.blocks")
    if any(b.get("type") == "input" for b in blocks):
        need("submit" in view, path, "a modal with inputs needs a submit button")
    View(**view).validate_json()


def check_options_response(response: Any, path: str = "options") -> None:
    need(isinstance(response, dict) and set(response) == {"options"}, path, "{'options': [...]}")
    options = response["options"]
    need(len(options) <= 100, f"{path}.options", f"has {len(options)} options; Slack allows 100")
    for i, option in enumerate(options):
        check_option(option, f"{path}.options[{i}]")
    values = [o["value"] for o in options]
    need(len(values) == len(set(values)), path, "option values repeat")


# ----------------------------------------------------------------------------- extreme data

NASTY = "<script>alert('x')</script> & <!channel> <@U0> ‮שלום עולם‬ 😀👩‍👩‍👧‍👦🇯🇵 &amp; > "
LONG_NAME = (NASTY * 20)[:300]
LONG_NOTE = (NASTY + "\n") * 20
LONG_NOTE = LONG_NOTE[:1000]
AMPERSANDS = "&" * 1000
NEWLINES = "a\n" * 500
EMOJI = "😀" * 1000
HUGE = {"USD": 999_999_999_999_999, "JPY": 9_999_999_999_999, "KWD": 9_999_999_999_999_999}
WHEN = dt.datetime(2026, 11, 2, 10, 30, tzinfo=dt.UTC)


def long_id(prefix: str, n: int) -> str:
    return f"{prefix}{n:0{64 - len(prefix)}d}"


def payment(
    n: int, *, partner: int = 0, currency: str = "USD", pending: int = 0, name: str = LONG_NAME
) -> PaymentSummary:
    return PaymentSummary(
        payment_id=long_id("PAY-", n),
        partner_id=long_id("P-", partner),
        partner_name=f"{partner} {name}"[:300],
        currency=currency,
        amount=HUGE[currency],
        allocated=0,
        pending=pending,
        received_on=dt.date(2020, 1, 1) + dt.timedelta(days=n),
        reference=(NASTY * 10)[:500],
    )


def invoice(n: int, *, currency: str = "USD", pending: int = 1) -> InvoiceSummary:
    return InvoiceSummary(
        invoice_id=long_id("INV-", n),
        partner_id=long_id("P-", 0),
        currency=currency,
        amount=HUGE[currency],
        amount_due=HUGE[currency],
        pending=pending,
        issued_on=dt.date(2026, 1, 1),
        due_on=dt.date(2026, 12, 31),
    )


def allocation(status: str, *, currency: str = "USD", text: str = LONG_NOTE) -> AllocationSummary:
    decided = status in ("approved", "rejected", "cancelled", "reversed")
    return AllocationSummary(
        allocation_id=9_223_372_036_854_775_807,
        payment_id=long_id("PAY-", 1),
        invoice_id=long_id("INV-", 1),
        partner_id=long_id("P-", 1),
        partner_name=LONG_NAME,
        currency=currency,
        amount=HUGE[currency],
        status=status,
        note=text,
        requested_by="U0123456789ABCDEFGHIJ",
        requested_at=WHEN,
        decided_by="W0123456789ABCDEFGHIJ" if decided else None,
        decided_at=WHEN if decided else None,
        reason=text if status == "rejected" else None,
        reversed_by="U99999999999" if status == "reversed" else None,
        reversed_at=WHEN if status == "reversed" else None,
        reversal_reason=text if status == "reversed" else None,
        payment_unallocated=HUGE[currency],
        payment_pending=HUGE[currency],
        invoice_amount_due=HUGE[currency],
        invoice_pending=HUGE[currency],
    )


STATUSES = ["pending", "approved", "rejected", "cancelled", "reversed"]
TEXTS = [LONG_NOTE, AMPERSANDS, NEWLINES, EMOJI]
CURRENCIES = ["USD", "JPY", "KWD"]


def many_payments(count: int, partners: int) -> list[PaymentSummary]:
    return [
        payment(
            n,
            partner=n % partners,
            currency=CURRENCIES[n % 3],
            pending=(HUGE[CURRENCIES[n % 3]] if n % 7 == 0 else n % 5),
        )
        for n in range(count)
    ]


# ------------------------------------------------------------------------------ the renders

MESSAGE_CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "payments_500_one_partner": lambda: views.payments_message(many_payments(500, 1)),
    "payments_500_many_partners": lambda: views.payments_message(many_payments(500, 120)),
    "payments_500_each_own_partner": lambda: views.payments_message(many_payments(500, 500)),
    "payments_one": lambda: views.payments_message(many_payments(1, 1)),
    "payments_fifty_one_partner": lambda: views.payments_message(many_payments(48, 1)),
    "payments_none": lambda: views.payments_message([]),
    "not_linked": lambda: views.not_linked_message(),
    "help": lambda: views.help_message(),
    "error_long_nasty": lambda: views.error_message(NASTY * 100),
    "error_already_decided": lambda: views.error_message(
        views.already_decided_text("rejected", "U1", WHEN)
    ),
    "history_none": lambda: views.history_message([]),
    "history_100": lambda: views.history_message(
        [
            allocation(STATUSES[i % 5], currency=CURRENCIES[i % 3], text=TEXTS[i % 4])
            for i in range(100)
        ]
    ),
}
for _status in STATUSES:
    for _currency in CURRENCIES:
        for _i, _text in enumerate(TEXTS):
            for _builder in ("billing_message", "receipt_message", "decision_message"):
                MESSAGE_CASES[f"{_builder}_{_status}_{_currency}_text{_i}"] = (
                    lambda b=_builder, s=_status, c=_currency, t=_text: getattr(views, b)(  # type: ignore[misc]
                        allocation(s, currency=c, text=t)
                    )
                )

# A template with a query string, so the URL carries ``&`` (written ``&amp;``) and the nasty
# 64-character ids are encoded into it.
TEMPLATE = "https://erp.example.com/invoices/{invoice_id}?tab=lines&from=slack|<x>"
for _status in STATUSES:
    for _currency in CURRENCIES:
        MESSAGE_CASES[f"billing_message_linked_{_status}_{_currency}"] = (
            lambda s=_status, c=_currency: views.billing_message(  # type: ignore[misc]
                allocation(s, currency=c).model_copy(
                    update={
                        "invoice_id": ("<&|>" + NASTY)[:64],
                        "payment_reference": (NASTY * 10)[:500],
                        "payment_received_on": dt.date(2026, 1, 1),
                        "invoice_amount": HUGE[c],
                        "invoice_due_on": dt.date(2020, 1, 1),
                        "as_of": dt.date(9999, 12, 31),
                    }
                ),
                invoice_url_template=TEMPLATE,
            )
        )
for _page in (1, 2, 5, 11, 99):
    MESSAGE_CASES[f"payments_500_many_partners_page_{_page}"] = (
        lambda p=_page: views.payments_message(many_payments(500, 120), page=p)  # type: ignore[misc]
    )
    MESSAGE_CASES[f"payments_500_each_own_partner_page_{_page}"] = (
        lambda p=_page: views.payments_message(many_payments(500, 500), page=p)  # type: ignore[misc]
    )
MESSAGE_CASES["history_100_all_pending"] = lambda: views.history_message(
    [allocation("pending", currency=CURRENCIES[i % 3], text=TEXTS[i % 4]) for i in range(100)]
)


def _digest(partners: int, more: int) -> dict[str, Any]:
    when = WHEN.isoformat()
    return {
        "as_of": when,
        "waiting": partners * 1000,
        "oldest": {
            "request_id": 9_223_372_036_854_775_807,
            "partner_name": LONG_NAME,
            "requested_at": when,
            "business_seconds": 10**9,
        },
        "partners": [
            {
                "partner_id": f"P-{n:062d}",
                "name": f"{n} {LONG_NAME}",
                "waiting": 1000,
                "since": when,
                "business_seconds": 10**9,
                "totals": [{"currency": c, "amount": HUGE[c]} for c in CURRENCIES],
            }
            for n in range(partners)
        ],
        "more_partners": more,
    }


def _home(partners: int) -> Home:
    """A Home that fills its 100 blocks: an approver's queue and partners with everything."""
    ids = iter(range(1, 10**6))

    def numbered(a: AllocationSummary) -> AllocationSummary:
        return a.model_copy(update={"allocation_id": next(ids)})

    def waiting() -> tuple[AllocationSummary, ...]:
        return tuple(numbered(allocation("pending", currency=c)) for c in CURRENCIES)

    decided = tuple(numbered(allocation(s)) for s in STATUSES if s != "pending")
    totals = tuple(
        CurrencyTotal(currency=c, unallocated=HUGE[c], pending=1, payments=10**6)
        for c in CURRENCIES
    )
    return Home(
        user_id="U0ALICE",
        as_of=WHEN,
        totals=totals,
        partners=tuple(
            PartnerHome(
                partner_id=f"P{n}",
                name=f"{n} {LONG_NAME}",
                totals=totals,
                payments=tuple(many_payments(30, 1)),
                payments_more=500,
                suggestions={
                    payment.payment_id: HomeSuggestion(summary=NASTY, total=HUGE["USD"], lines=3)
                    for payment in many_payments(3, 1)
                },
                waiting=waiting(),
                waiting_more=40,
                decisions=decided,
            )
            for n in range(partners)
        ),
        partners_more=7,
        approver=ApproverHome(
            pending_count=10**6,
            oldest_requested_at=WHEN - dt.timedelta(days=40),
            by_partner=tuple(
                PartnerCount(partner_id=f"P{n}", name=LONG_NAME, pending=n) for n in range(20)
            ),
            by_partner_more=300,
            queue=tuple(a for _ in range(20) for a in waiting()),
            decided_today=decided,
            decided_today_count=400,
        ),
    )


# The surfaces outside the views package's re-exports: the launcher and the reminders.
MESSAGE_CASES["launcher_long_name"] = lambda: launcher.launcher_message(
    LONG_NAME, locale=_reader[0]
)
for _partners, _more in ((1, 0), (40, 5000), (300, 0)):
    MESSAGE_CASES[f"digest_{_partners}_{_more}"] = (
        lambda n=_partners, m=_more: reminders.daily_digest(_digest(n, m), locale=_reader[0])  # type: ignore[misc]
    )
for _status in ("pending",):
    for _currency in CURRENCIES:
        MESSAGE_CASES[f"reminder_{_currency}"] = lambda c=_currency: reminders.reminder_reply(  # type: ignore[misc]
            allocation("pending", currency=c), business_seconds=10**9, locale=_reader[0]
        )
        MESSAGE_CASES[f"escalation_{_currency}"] = lambda c=_currency: reminders.escalation_reply(  # type: ignore[misc]
            allocation("pending", currency=c),
            business_seconds=10**9,
            approver_ids=[f"U{n:08d}" for n in range(50)],
            locale=_reader[0],
        )
        MESSAGE_CASES[f"chase_{_currency}"] = lambda c=_currency: reminders.chase_notice(  # type: ignore[misc]
            allocation("pending", currency=c), business_seconds=10**9, locale=_reader[0]
        )

VIEW_CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "allocation_500_payments_none_selected": lambda: views.allocation_modal(
        many_payments(500, 1), selected=None
    ),
    "allocation_500_payments_newest_selected": lambda: views.allocation_modal(
        many_payments(500, 1), selected=many_payments(500, 1)[-1]
    ),
    "allocation_500_payments_many_partners": lambda: views.allocation_modal(
        many_payments(500, 150),
        selected=many_payments(500, 150)[250],
        private_metadata="x" * 3000,
    ),
    "allocation_one_partner_each": lambda: views.allocation_modal(
        many_payments(100, 100), selected=many_payments(100, 100)[99]
    ),
    "allocation_no_payments": lambda: views.allocation_modal([], selected=None),
    "allocation_invoice_chosen_versioned_amount": lambda: views.allocation_modal(
        many_payments(500, 150),
        selected=many_payments(500, 150)[250],
        invoice=invoice(1, currency=many_payments(500, 150)[250].currency),
        amount_block=views.amount_block_id(long_id("PAY-", 250), long_id("INV-", 1)),
        private_metadata="x" * 3000,
    ),
    "notice_long": lambda: views.notice_modal(LONG_NAME, NASTY * 100),
    "launcher_modal": lambda: launcher.launcher_modal(locale=_reader[0]),
    "notice_request_sent": lambda: views.notice_modal(
        "Request sent", views.request_sent_text(allocation("pending", currency="KWD"))
    ),
}
for _status in STATUSES:
    for _i, _text in enumerate(TEXTS):
        VIEW_CASES[f"reject_{_status}_text{_i}"] = (
            lambda s=_status, t=_text: views.reject_modal(allocation(s, text=t))  # type: ignore[misc]
        )


HOME_CASES: dict[str, Callable[[], dict[str, Any]]] = {
    "home_one_partner": lambda: home.home_view(_home(1), locale=_reader[0]),
    "home_twelve_partners": lambda: home.home_view(_home(12), locale=_reader[0]),
}


@pytest.mark.parametrize("reader", LOCALES, indirect=True)
@pytest.mark.parametrize("case", sorted(HOME_CASES))
def test_home_stays_within_slack_limits(case: str, reader: str) -> None:
    view = HOME_CASES[case]()
    assert set(view) == {"type", "blocks"} and view["type"] == "home"
    check_blocks(view["blocks"], 100, "home.blocks")
    View(**view).validate_json()


@pytest.mark.parametrize("reader", LOCALES, indirect=True)
@pytest.mark.parametrize("case", sorted(MESSAGE_CASES))
def test_message_stays_within_slack_limits(case: str, reader: str) -> None:
    check_message(MESSAGE_CASES[case]())


@pytest.mark.parametrize("reader", LOCALES, indirect=True)
@pytest.mark.parametrize("case", sorted(VIEW_CASES))
def test_modal_stays_within_slack_limits(case: str, reader: str) -> None:
    check_view(VIEW_CASES[case]())


@pytest.mark.parametrize("reader", LOCALES, indirect=True)
@pytest.mark.parametrize("currency", CURRENCIES)
@pytest.mark.parametrize("pending", [0, 1])
def test_invoice_options_for_300_invoices_stay_within_slack_limits(
    currency: str, pending: int, reader: str
) -> None:
    response = views.invoice_options(
        [invoice(n, currency=currency, pending=pending) for n in range(300)]
    )
    check_options_response(response)
    assert len(response["options"]) == 100


@pytest.mark.parametrize("reader", LOCALES, indirect=True)
def test_already_decided_text_with_extreme_values_is_escaped(reader: str) -> None:
    for status in [*STATUSES, "<weird & status>"]:
        check_escaped(views.already_decided_text(status, "<@U1>&", WHEN), "already_decided")
        plain = views.already_decided_text(status, "U1", WHEN, plain=True)
        assert "<@" not in plain and "<!date" not in plain and len(plain) <= 150


# ---------------------------------------------------------- random text the ERP might send

_text = st.text(st.characters(blacklist_categories=("Cs",)), min_size=0, max_size=1000)
_id = st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1, max_size=64)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=_text,
    note=_text,
    reference=_text,
    payment_id=_id,
    invoice_id=_id,
    status=st.sampled_from(STATUSES),
    currency=st.sampled_from(CURRENCIES),
)
# Found by this test: a notice of nothing but a control character rendered an empty section.
@example(
    name="",
    note="\x1f",
    reference="",
    payment_id="0",
    invoice_id="0",
    status="pending",
    currency="USD",
)
def test_any_text_renders_within_limits_and_escaped(
    name: str,
    note: str,
    reference: str,
    payment_id: str,
    invoice_id: str,
    status: str,
    currency: str,
) -> None:
    pay = payment(1, currency=currency).model_copy(
        update={"partner_name": name, "reference": reference, "payment_id": payment_id}
    )
    alloc = allocation(status, currency=currency, text=note).model_copy(
        update={
            "partner_name": name,
            "payment_id": payment_id,
            "invoice_id": invoice_id,
            "note": note or None,
        }
    )
    inv = invoice(1, currency=currency).model_copy(update={"invoice_id": invoice_id})
    # Every language at once (a parametrized fixture and hypothesis do not mix).
    for locale in LOCALES:
        _reader[0] = locale
        try:
            check_message(views.payments_message([pay]))
            check_message(views.history_message([alloc]))
            check_message(views.error_message(note))
            for builder in (views.billing_message, views.receipt_message, views.decision_message):
                check_message(builder(alloc))
            check_view(views.allocation_modal([pay], selected=pay))
            check_view(
                views.allocation_modal(
                    [pay],
                    selected=pay,
                    invoice=inv,
                    amount_block=views.amount_block_id(payment_id, invoice_id),
                )
            )
            linked = alloc.model_copy(
                update={"payment_reference": reference, "invoice_amount": 1, "as_of": dt.date.max}
            )
            check_message(views.billing_message(linked, invoice_url_template=TEMPLATE))
            check_view(views.reject_modal(alloc))
            check_view(views.notice_modal(name, note))
            check_options_response(views.invoice_options([inv]))
        finally:
            _reader[0] = "en-US"


# ------------------------------------------------------------- the checker catches what breaks


def _message_with(block: dict[str, Any]) -> dict[str, Any]:
    return {"text": "hello", "blocks": [block]}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


@pytest.mark.parametrize(
    ("message", "where"),
    [
        ({"text": "x", "blocks": [_section("a")] * 51}, "message.blocks: has 51 blocks"),
        ({"text": "", "blocks": [_section("a")]}, "message.text: is empty"),
        (_message_with(_section("x" * 3001)), "message.blocks[0].text.text: is 3001"),
        (_message_with(_section("😀" * 1501)), "message.blocks[0].text.text: is 3002"),
        (_message_with(_section("a <b> c")), "message.blocks[0].text.text: unescaped '<'"),
        (_message_with(_section("fish & chips")), "message.blocks[0].text.text: unescaped '&'"),
        (
            _message_with(_section("pay \u202e00.001")),
            "message.blocks[0].text.text: contains control character U+202E",
        ),
        (
            _message_with({"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}),
            "message.blocks[0].text.text: is 151",
        ),
        (
            _message_with({"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}] * 11}),
            "message.blocks[0].elements: has 11",
        ),
        (
            _message_with({"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}),
            "message.blocks[0].fields[0].text: is 2001",
        ),
        (
            _message_with(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "b" * 76},
                            "action_id": "a",
                            "value": "v",
                        }
                    ],
                }
            ),
            "message.blocks[0].elements[0].text.text: is 76",
        ),
        (
            _message_with(
                {
                    "type": "actions",
                    "elements": [
                        {
                            "type": "button",
                            "text": {"type": "plain_text", "text": "b"},
                            "action_id": "same",
                            "value": "v",
                        }
                    ]
                    * 2,
                }
            ),
            "message.blocks[0].elements[1].action_id: 'same' repeats",
        ),
        (
            {"text": "x", "blocks": [{**_section("a"), "block_id": "b"}] * 2},
            "message.blocks[1].block_id: 'b' repeats",
        ),
        (
            _message_with({**_section("a"), "block_id": "b" * 256}),
            "message.blocks[0].block_id: is 256",
        ),
        (
            _message_with({**_section("a"), "dispatch": True}),
            "message.blocks[0]: has keys Slack does not know here: ['dispatch']",
        ),
    ],
)
def test_checker_names_the_path_of_a_broken_message(message: dict[str, Any], where: str) -> None:
    with pytest.raises(SlackLimitError, match=re.escape(where)):
        check_message(message)


def _modal(**changes: Any) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "title": {"type": "plain_text", "text": "Title"},
        "close": {"type": "plain_text", "text": "Close"},
        "blocks": [_section("a")],
    }
    view.update(changes)
    return view


def _select(options: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "type": "input",
        "block_id": "s",
        "label": {"type": "plain_text", "text": "S"},
        "element": {"type": "static_select", "action_id": "s", "options": options, **extra},
    }


def _option(text: str, value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


@pytest.mark.parametrize(
    ("view", "where"),
    [
        (_modal(title={"type": "plain_text", "text": "t" * 25}), "view.title.text: is 25"),
        (_modal(private_metadata="m" * 3001), "view.private_metadata: is 3001"),
        (_modal(blocks=[_section("a")] * 101), "view.blocks: has 101 blocks"),
        (
            _modal(
                submit={"type": "plain_text", "text": "s"},
                blocks=[_select([_option("o", str(i)) for i in range(101)])],
            ),
            "view.blocks[0].element.options: has 101 options",
        ),
        (
            _modal(
                submit={"type": "plain_text", "text": "s"},
                blocks=[_select([_option("o" * 76, "v")])],
            ),
            "view.blocks[0].element.options[0].text.text: is 76",
        ),
        (
            _modal(
                submit={"type": "plain_text", "text": "s"},
                blocks=[_select([_option("o", "v" * 151)])],
            ),
            "view.blocks[0].element.options[0].value: is 151",
        ),
        (
            _modal(
                submit={"type": "plain_text", "text": "s"},
                blocks=[_select([_option("o", "v")], initial_option=_option("p", "v"))],
            ),
            "view.blocks[0].element.initial_option: is not exactly one of the options",
        ),
        (_modal(blocks=[_select([_option("o", "v")])]), "view: a modal with inputs needs a submit"),
        (_modal(callback_id="c" * 256), "view.callback_id: is 256"),
    ],
)
def test_checker_names_the_path_of_a_broken_modal(view: dict[str, Any], where: str) -> None:
    with pytest.raises(SlackLimitError, match=re.escape(where)):
        check_view(view)


def test_checker_refuses_more_than_100_invoice_options() -> None:
    response = {"options": [_option("o", str(i)) for i in range(101)]}
    with pytest.raises(SlackLimitError, match=re.escape("options.options: has 101 options")):
        check_options_response(response)


def test_reject_modal_metadata_is_the_allocation_id_as_json_even_for_extreme_ids() -> None:
    view = views.reject_modal(allocation("pending"))
    assert json.loads(view["private_metadata"]) == {"allocation_id": 9_223_372_036_854_775_807}


# ------------------------------------------------- the pseudo-locale: longer texts, none cut

# A pseudo-localized text is "[…words… ~~~~]": its padding is one word at its end, so a text of
# the bot's that was clipped has lost its closing "]".
_TITLE_FIELDS = ("title.text", "submit.text", "close.text")


def _shown_texts(obj: Any, path: str = "") -> dict[str, str]:
    """Every string a person may read in a payload, by path (text objects, fallbacks, labels)."""
    found: dict[str, str] = {}
    if isinstance(obj, dict):
        for key, value in obj.items():
            where = f"{path}.{key}" if path else key
            if key == "text" and isinstance(value, str):
                found[where] = value
            elif key not in ("private_metadata", "value", "action_id", "block_id"):
                found.update(_shown_texts(value, where))
    elif isinstance(obj, list):
        for at, value in enumerate(obj):
            found.update(_shown_texts(value, f"{path}[{at}]"))
    return found


def _lost_its_end(text: str) -> bool:
    return text.count("[") > text.count("]")


def _pseudo_texts() -> list[str]:
    with POT.open("rb") as fp:
        template = read_po(fp)
    ids = [m.id for m in template if m.id]
    return [pseudo(one) for msgid in ids for one in ([msgid] if isinstance(msgid, str) else msgid)]


def _cut_between_words(text: str, whole_texts: list[str]) -> bool:
    """``text`` is a whole text of the bot's cut right before a space (then "…")."""
    kept = text.removesuffix("…")
    return text.endswith("…") and any(
        whole.startswith(kept) and whole[len(kept) : len(kept) + 1] == " " for whole in whole_texts
    )


def clipped_by_growth(english: Any, pseudo_payload: Any) -> list[str]:
    """Paths where the pseudo-locale cut a text of the bot's that English did not need to cut.

    Outside data (300-character names, 1000-character notes) is clipped in every language, at
    the same budgets; what must not happen is that a translation 40% longer is what gets cut.
    A modal's title, submit and close (24 characters) may be cut, between words only.
    """
    before = _shown_texts(english)
    whole_texts = _pseudo_texts()
    found = []
    for where, text in _shown_texts(pseudo_payload).items():
        if not _lost_its_end(text) or before.get(where, "").endswith("…"):
            continue
        if where.endswith(_TITLE_FIELDS) and _cut_between_words(text, whole_texts):
            continue
        found.append(f"{where}: {text[-80:]!r}")
    return found


def test_the_growth_check_sees_a_clipped_pseudo_text() -> None:
    english = {"text": {"type": "mrkdwn", "text": "Your request"}}
    whole = {"text": {"type": "mrkdwn", "text": "[Ŷöûŕ ŕéǫûéšţ ~~~~]"}}
    cut = {"text": {"type": "mrkdwn", "text": "[Ŷöûŕ ŕéǫûéšţ ~~…"}}
    assert clipped_by_growth(english, whole) == []
    assert clipped_by_growth(english, cut) == ["text.text: '[Ŷöûŕ ŕéǫûéšţ ~~…'"]
    # Clipped in English too (outside data too long for any language): not the growth's doing.
    assert clipped_by_growth({"text": {"type": "mrkdwn", "text": "Your requ…"}}, cut) == []
    # A title cut mid-word is caught; one cut between words is Slack's 24 characters at work.
    allocate = pseudo("Allocate a payment")
    between = allocate[: allocate.rindex(" ")] + "…"
    assert clipped_by_growth({}, {"title": {"type": "plain_text", "text": between}}) == []
    mid_word = allocate[: allocate.rindex(" ") - 2] + "…"
    assert clipped_by_growth({}, {"title": {"type": "plain_text", "text": mid_word}})


@pytest.mark.parametrize("case", sorted(MESSAGE_CASES) + sorted(VIEW_CASES) + sorted(HOME_CASES))
def test_pseudo_locale_texts_are_not_cut_by_their_growth(case: str) -> None:
    build = MESSAGE_CASES.get(case) or VIEW_CASES.get(case) or HOME_CASES[case]
    _reader[0] = "en-US"
    english = build()
    _reader[0] = PSEUDO_LOCALE
    try:
        grown = build()
    finally:
        _reader[0] = "en-US"
    assert clipped_by_growth(english, grown) == [], "a text of the bot's must fit 40% longer"
