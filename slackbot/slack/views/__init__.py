"""Every Slack message, modal and options list the bot shows, as pure Block Kit builders.

Data in (the snapshots of :mod:`models.schemas`), plain dicts out: no Slack SDK, no database, no
clock. Three rules hold everywhere so that no data an ERP or a person typed can break a payload:

- text from outside (partner names, references, notes, reasons, ids) placed in ``mrkdwn`` is
  escaped (``&``, ``<``, ``>``), so nobody can smuggle ``<!channel>`` or a fake link into a
  billing message;
- every text is clipped to Slack's limit with "…" (counted in UTF-16 code units, the stricter
  of the ways a length can be counted, so an emoji never tips a field over);
- lists are cut to Slack's block and option counts, and the person is told what was left out.

Amounts reach people only through :func:`slackbot.money.format_amount` (and the amount field's
initial value through :func:`slackbot.money.to_decimal_string`).
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
import urllib.parse
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from models.schemas import AllocationSummary, InvoiceSummary, PaymentSummary
from slackbot.money import currency_exponent, format_amount, to_decimal_string

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
NOTE_MAX_LENGTH = 1000
REASON_MAX_LENGTH = 1000

# Where a piece of outside text sits in a bigger text object, it gets a share of the limit small
# enough that the whole object stays inside Slack's, whatever the other pieces hold.
_NAME_BUDGET = 300
_REFERENCE_BUDGET = 300
_NOTE_BUDGET = 1800
_REASON_BUDGET = 1800
_HISTORY_NOTE_BUDGET = 300
_HISTORY_REASON_BUDGET = 900
_FALLBACK_BUDGET = 3000

ALLOCATION_CALLBACK = "allocation_modal"
REJECT_CALLBACK = "reject_modal"
PAYMENT_BLOCK = "payment"
INVOICE_BLOCK = "invoice"
AMOUNT_BLOCK = "amount"
NOTE_BLOCK = "note"
REASON_BLOCK = "reason"
OPEN_ALLOCATION = "open_allocation"
APPROVE_ALLOCATION = "approve_allocation"
REJECT_ALLOCATION = "reject_allocation"
CANCEL_ALLOCATION = "cancel_allocation"
# Not in the contract (new ids of our own): the list's Next/Previous buttons.
PAYMENTS_PAGE = "payments_page"
BLOCK_ID_MAX = 255

_STATUS_EMOJI = {
    "pending": "🕒",
    "approved": "✅",
    "rejected": "❌",
    "cancelled": "↩️",
    "reversed": "⏪",
}
_STATUS_WORD = {
    "pending": "Waiting for approval",
    "approved": "Approved",
    "rejected": "Rejected",
    "cancelled": "Cancelled",
    "reversed": "Reversed",
}
_SLACK_USER_ID = re.compile(r"[UW][A-Z0-9]{1,31}", re.ASCII)
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


# ------------------------------------------------------------------------------ text helpers


def _units(text: str) -> int:
    """Length as Slack may count it: UTF-16 code units (an emoji outside the BMP counts 2)."""
    return len(text) + sum(1 for ch in text if ord(ch) > 0xFFFF)


def _clip(text: str, n: int) -> str:
    """``text`` cut to at most ``n`` units, ending in "…" when anything was cut."""
    if _units(text) <= n:
        return text
    return _take(text, n - 1) + "…"


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


def _clip_middle(text: str, n: int) -> str:
    """``text`` cut to ``n`` units in the middle: ids often differ only at the end."""
    if _units(text) <= n:
        return text
    tail = (n - 1) // 2
    head = _take(text, n - 1 - tail)
    end = _take(reversed(text), tail)[::-1]
    return f"{head}…{end}"


def _escape(text: str) -> str:
    return "".join(_ESCAPES.get(ch, ch) for ch in text)


def _md(text: str, n: int) -> str:
    """Outside text escaped for mrkdwn and clipped to ``n`` units without cutting an entity."""
    text = _clean(text)
    escaped = _escape(text)
    if _units(escaped) <= n:
        return escaped
    kept: list[str] = []
    used = 0
    for ch in text:
        piece = _ESCAPES.get(ch, ch)
        width = _units(piece)
        if used + width > n - 1:
            break
        kept.append(piece)
        used += width
    return "".join(kept) + "…"


def _clean(text: str) -> str:
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


def _one_line(text: str | None) -> str:
    """Names, references and ids on one line: newlines and runs of blanks become one space."""
    return " ".join(_clean(text or "").split())


def _md_line(text: str | None, n: int) -> str:
    return _md(_one_line(text), n)


def _quote(text: str, n: int) -> str:
    """Multi-line outside text as a mrkdwn block quote, at most ``n`` units in all."""
    lines = [" ".join(line.split()) for line in _clean(text).strip().splitlines()] or [""]
    body = _md("\n".join(lines), max(1, n - len(lines)))
    return "\n".join(">" + line for line in body.split("\n"))


def _as_mrkdwn(text: str, n: int) -> str:
    """A caller's text: kept as is when it is :class:`Mrkdwn`, escaped otherwise."""
    if isinstance(text, Mrkdwn):
        return _clip_markup(str(text), n)
    return _md(text, n)


def _plain(text: str, n: int) -> dict[str, Any]:
    # plain_text is shown exactly as given (Slack parses no markup in it), so it is not escaped.
    return {"type": "plain_text", "text": _clip(text, n) or " ", "emoji": True}


def _mrkdwn(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def _clip_markup(text: str, n: int) -> str:
    """Like :func:`_clip` for composed mrkdwn: never ends inside an ``&amp;`` or a ``<…>``."""
    clipped = _clip(text, n)
    if clipped == text:
        return text
    body = clipped[:-1]
    if body.rfind("&") > body.rfind(";"):
        body = body[: body.rfind("&")]
    if body.rfind("<") > body.rfind(">"):
        body = body[: body.rfind("<")]
    return body + "…"


def _fallback(text: str) -> str:
    """The message's ``text``: read by notifications and screen readers, parsed as mrkdwn."""
    return _clip_markup(text, _FALLBACK_BUDGET) or "Payments"


def _mention(user_id: str | None) -> str:
    """``<@U123>`` for a Slack user id; anything else is shown as escaped text, never a link."""
    if not user_id:
        return "someone"
    if _SLACK_USER_ID.fullmatch(user_id):
        return f"<@{user_id}>"
    return _md_line(user_id, 64)


def _when(moment: dt.datetime | None) -> str:
    """A time each reader sees in their own time zone, with a UTC fallback for old clients."""
    if moment is None:
        return "an earlier time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    utc = moment.astimezone(dt.UTC)
    return (
        f"<!date^{int(utc.timestamp())}^{{date_short_pretty}} at {{time}}|{utc:%Y-%m-%d %H:%M} UTC>"
    )


def _when_plain(moment: dt.datetime | None) -> str:
    """The same time for places that show no date tokens (notifications, plain text)."""
    if moment is None:
        return "an earlier time"
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return f"{moment.astimezone(dt.UTC):%Y-%m-%d %H:%M} UTC"


def _section(text: str, **extra: Any) -> dict[str, Any]:
    return {"type": "section", "text": _mrkdwn(_clip_markup(text, SECTION_TEXT_MAX)), **extra}


def _context(*texts: str) -> dict[str, Any]:
    elements = [_mrkdwn(_clip_markup(t, SECTION_TEXT_MAX)) for t in texts]
    return {"type": "context", "elements": elements}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": _plain(_one_line(text), HEADER_TEXT_MAX)}


def _button(
    text: str,
    action_id: str,
    value: str,
    *,
    style: str | None = None,
    confirm: dict[str, Any] | None = None,
) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(text, BUTTON_TEXT_MAX),
        "action_id": action_id,
        "value": value,
    }
    if style:
        button["style"] = style
    if confirm:
        button["confirm"] = confirm
    return button


def _confirm(title: str, text: str, confirm: str, deny: str) -> dict[str, Any]:
    return {
        "title": _plain(title, CONFIRM_TITLE_MAX),
        "text": _plain(text, CONFIRM_TEXT_MAX),
        "confirm": _plain(confirm, 30),
        "deny": _plain(deny, 30),
    }


def _ephemeral(text: str, blocks: list[dict[str, Any]]) -> dict[str, Any]:
    return {"response_type": "ephemeral", "text": _fallback(text), "blocks": blocks}


def _count(n: int, noun: str) -> str:
    return f"{n:,} {noun}" if n == 1 else f"{n:,} {noun}s"


# ------------------------------------------------------------------------ /payments (list)


def payments_message(payments: Sequence[PaymentSummary], *, page: int = 1) -> dict[str, Any]:
    """The person's payments with money left, grouped by partner, each with an Allocate button.

    At most 50 blocks: when they do not all fit, the list is cut into pages (in the order shown:
    by partner, then oldest first) with Next and Previous buttons, and a line says how many
    more there are and how to reach any of them by id. Only the first Allocate button is
    primary (green), so the eye lands on one place, not on 35.
    """
    unique = _unique(payments)
    if not unique:
        text = (
            "No payments with money left to allocate. When a new payment arrives it shows up"
            " here; type `/payments history` to see your earlier requests."
        )
        return _ephemeral(text, [_section(f"🧾 {text}")])

    partner_order: dict[str, str] = {}
    for payment in unique:
        partner_order.setdefault(payment.partner_id, payment.partner_name)
    several_partners = len(partner_order) > 1
    ordered = [
        p
        for partner_id in partner_order
        for p in _oldest_first(unique)
        if p.partner_id == partner_id
    ]
    pages = _payment_pages(ordered, several_partners)
    number = min(max(1, page), len(pages))
    shown = pages[number - 1]
    hidden = len(unique) - len(shown)

    paging = f" · page {number} of {len(pages)}" if len(pages) > 1 else ""
    if several_partners:
        intro = f"*Your payments with money left to allocate* ({len(unique):,}){paging}"
    else:
        only = unique[0]
        name = _md_line(only.partner_name or only.partner_id, _NAME_BUDGET)
        intro = f"*Your payments with money left to allocate* ({len(unique):,}) · {name}{paging}"
    blocks: list[dict[str, Any]] = [_section(intro)]

    headed: set[str] = set()
    primary_given = False
    for payment in shown:
        if several_partners and payment.partner_id not in headed:
            headed.add(payment.partner_id)
            blocks.append(_header(payment.partner_name or payment.partner_id))
        primary = not primary_given and payment.unallocated > 0
        primary_given = primary_given or primary
        blocks.append(_payment_block(payment, primary=primary))

    if hidden:
        blocks.append(
            _context(
                f"…and {hidden:,} more. Use `/payments allocate PAYMENT_ID` for any of them,"
                " or the Next and Previous buttons."
            )
        )
        nav: list[dict[str, Any]] = []
        if number > 1:
            nav.append(_button("◀ Previous", f"{PAYMENTS_PAGE}:previous", str(number - 1)))
        if number < len(pages):
            nav.append(_button("Next ▶", f"{PAYMENTS_PAGE}:next", str(number + 1)))
        blocks.append({"type": "actions", "block_id": PAYMENTS_PAGE, "elements": nav})
    blocks.append(
        _context(
            "Billing approves each request; you get a direct message with the decision."
            " `/payments history` shows your recent requests."
        )
    )
    # Slack shows ``text`` only in notifications, where a list of ids would be noise.
    partners = f" from {len(partner_order):,} partners" if several_partners else ""
    text = f"You have {_count(len(unique), 'payment')}{partners} with money left to allocate."
    return _ephemeral(text, blocks)


def _payment_pages(
    ordered: Sequence[PaymentSummary], several_partners: bool
) -> list[list[PaymentSummary]]:
    """``ordered`` cut into pages whose blocks (with their partners' headers) fit a message."""
    if _blocks_for(ordered, several_partners) <= MESSAGE_MAX_BLOCKS - 2:
        return [list(ordered)]
    # intro, "…and K more", the Next/Previous row and the closing context.
    budget = MESSAGE_MAX_BLOCKS - 4
    pages: list[list[PaymentSummary]] = [[]]
    headed: set[str] = set()
    used = 0
    for payment in ordered:
        cost = 1 + (1 if several_partners and payment.partner_id not in headed else 0)
        if used + cost > budget:
            pages.append([])
            headed = set()
            used = 0
            cost = 2 if several_partners else 1
        pages[-1].append(payment)
        headed.add(payment.partner_id)
        used += cost
    return pages


def _blocks_for(payments: Sequence[PaymentSummary], several_partners: bool) -> int:
    headers = len({p.partner_id for p in payments}) if several_partners else 0
    return len(payments) + headers


def _unique(payments: Iterable[PaymentSummary]) -> list[PaymentSummary]:
    """Each payment once (a repeated block_id would make Slack refuse the whole message)."""
    seen: set[str] = set()
    unique: list[PaymentSummary] = []
    for payment in payments:
        if payment.payment_id not in seen:
            seen.add(payment.payment_id)
            unique.append(payment)
    return unique


def _oldest_first(payments: Iterable[PaymentSummary]) -> list[PaymentSummary]:
    return sorted(payments, key=lambda p: (p.received_on, p.payment_id))


def _payment_block(payment: PaymentSummary, *, primary: bool = False) -> dict[str, Any]:
    currency = payment.currency
    first = f"*{_md_line(payment.payment_id, 64)}* · received {payment.received_on.isoformat()}"
    reference = _one_line(payment.reference)
    if reference:
        first += f" · ref {_md(reference, _REFERENCE_BUDGET)}"
    amount = format_amount(payment.amount, currency)
    pending = format_amount(payment.pending, currency)
    block_id = f"{OPEN_ALLOCATION}:{payment.payment_id}"
    if payment.unallocated <= 0:
        # Nothing to allocate, but the money is not gone either: say where it is, no button.
        held = (
            f"Nothing left to allocate of {amount}: 🕒 {pending} is held by pending requests"
            " until billing decides."
        )
        return _section(f"{first}\n{held}")
    lines = [
        first,
        f"*{format_amount(payment.unallocated, currency)}* left to allocate of {amount}",
    ]
    if payment.pending > 0:
        lines.append(f"🕒 {pending} pending billing approval")
    button = _button("Allocate", block_id, payment.payment_id, style="primary" if primary else None)
    return _section("\n".join(lines), block_id=block_id, accessory=button)


# ------------------------------------------------------------------- other ephemeral answers


def not_linked_message() -> dict[str, Any]:
    """The person belongs to no partner yet: how to get linked."""
    text = "Your Slack account is not linked to any partner yet, so there are no payments to show."
    how = (
        "*How to get linked:* ask the billing team of the vendor you work with to add your Slack"
        " user to your company's partner account. They need your Slack member ID: open your"
        " Slack profile, click ⋮ (More), then *Copy member ID*, and send it to them."
    )
    return _ephemeral(
        f"{text} Ask the vendor's billing team to add your Slack member ID.",
        [
            _section(f"🔗 {text}"),
            _section(how),
        ],
    )


def help_message() -> dict[str, Any]:
    """What ``/payments`` does and how approval works."""
    commands = (
        "*`/payments`* or *`/payments list`* — your payments with money left to allocate,"
        " each with an *Allocate* button.\n"
        "*`/payments allocate`* — open the allocation form.\n"
        "*`/payments allocate PAYMENT_ID`* — open the form with that payment chosen.\n"
        "*`/payments history`* — your recent requests and what billing decided.\n"
        "*`/payments help`* — this message."
    )
    approval = (
        "*How approval works:* when you request an allocation, the amount is held on the"
        " payment and the invoice and the billing team gets the request. You get a direct"
        " message with a *Cancel* button while it waits, and another when billing approves or"
        " rejects it (with their reason). Only approved allocations reduce what an invoice has"
        " left to pay."
    )
    return _ephemeral(
        "/payments applies your payments to your invoices: list, allocate [PAYMENT_ID],"
        " history, help.",
        [
            _header("/payments: apply payments to invoices"),
            _section(commands),
            _section(approval),
        ],
    )


def error_message(text: str) -> dict[str, Any]:
    """Something went wrong that the person should know about (escaped unless :class:`Mrkdwn`)."""
    body = _as_mrkdwn(text or "Something went wrong.", SECTION_TEXT_MAX - 4)
    return _ephemeral(f"⚠️ {body}", [_section(f"⚠️ {body}")])


def history_message(allocations: Sequence[AllocationSummary]) -> dict[str, Any]:
    """The person's recent requests, newest first, with their outcome."""
    if not allocations:
        text = (
            "You have not requested any allocations yet. Type `/payments` to see your payments"
            " and allocate one to an invoice."
        )
        return _ephemeral(text, [_section(f"🗂️ {text}")])
    # header + closing context, and one more for "…and K more".
    room = MESSAGE_MAX_BLOCKS - 2
    if len(allocations) > room:
        room -= 1
    shown = list(allocations[:room])
    hidden = len(allocations) - len(shown)
    blocks: list[dict[str, Any]] = [_header("Your recent allocation requests")]
    blocks.extend(_history_block(a) for a in shown)
    if hidden:
        blocks.append(_context(f"…and {hidden:,} older requests not shown."))
    if any(a.status == "pending" for a in shown):
        blocks.append(
            _context(
                "*Cancel request* withdraws a request still waiting for billing; the amount"
                " goes back to the payment."
            )
        )
    else:
        blocks.append(_context("Type `/payments` to see your payments and make a new request."))
    lines = [
        f"#{a.allocation_id} {_STATUS_WORD.get(a.status, a.status)}:"
        f" {format_amount(a.amount, a.currency)}"
        for a in shown[:20]
    ]
    text = f"Your recent allocation requests: {'; '.join(lines)}"
    return _ephemeral(text, blocks)


def _history_block(allocation: AllocationSummary) -> dict[str, Any]:
    a = allocation
    emoji = _STATUS_EMOJI.get(a.status, "•")
    word = _STATUS_WORD.get(a.status, _md_line(a.status, 32))
    lines = [
        f"{emoji} *#{a.allocation_id} · {word}* · *{format_amount(a.amount, a.currency)}* ·"
        f" {_md_line(a.payment_id, 64)} → {_md_line(a.invoice_id, 64)}",
        f"{_md_line(a.partner_name, _NAME_BUDGET)} · requested {_when(a.requested_at)}",
    ]
    outcome = _outcome_line(a, reason_budget=_HISTORY_REASON_BUDGET, include_emoji=False)
    if a.status != "pending":
        lines.append(outcome)
    if a.note:
        lines.append(f"Your note: {_md_line(a.note, _HISTORY_NOTE_BUDGET)}")
    if a.status == "pending":
        # The receipt's own button (same action id and confirm), so either one withdraws it.
        return _section("\n".join(lines), accessory=_cancel_button(a))
    return _section("\n".join(lines))


def _cancel_button(a: AllocationSummary) -> dict[str, Any]:
    confirm = _confirm(
        f"Cancel request #{a.allocation_id}?",
        f"The {format_amount(a.amount, a.currency)} held for {_one_line(a.invoice_id)} goes"
        f" back to {_one_line(a.payment_id)}, and billing no longer sees the request.",
        "Cancel request",
        "Keep it",
    )
    return _button(
        "Cancel request",
        f"{CANCEL_ALLOCATION}:{a.allocation_id}",
        str(a.allocation_id),
        style="danger",
        confirm=confirm,
    )


# ---------------------------------------------------------------------- allocation modal


def amount_block_id(payment_id: str | None, invoice_id: str | None) -> str:
    """The amount block's id after the payment or invoice changed: ``amount:PAY-1:INV-2``.

    Slack keeps what a person typed in an input whose block_id is unchanged, whatever the new
    initial_value says; a new id per payment and invoice lets the suggested amount follow the
    choice. The first render uses the contract's plain ``amount``, and a submission is read
    from whichever amount block the view holds.
    """
    block_id = f"{AMOUNT_BLOCK}:{payment_id or ''}:{invoice_id or ''}"
    return block_id[:BLOCK_ID_MAX]


def is_amount_block(block_id: str) -> bool:
    return block_id == AMOUNT_BLOCK or block_id.startswith(f"{AMOUNT_BLOCK}:")


def amount_hint(currency: str | None) -> str:
    """How to type an amount in this currency (a zero-decimal one has no decimals to mention)."""
    if currency is None:
        return "Digits with an optional decimal point, no commas or currency symbols."
    exponent = currency_exponent(currency)
    if exponent == 0:
        return f"A whole number of {currency} in digits, no commas or currency symbols."
    return f"Digits with up to {exponent} decimals after a point, no commas or currency symbols."


def allocation_modal(
    payments: Sequence[PaymentSummary],
    *,
    selected: PaymentSummary | None,
    private_metadata: str = "",
    invoice: InvoiceSummary | None = None,
    amount_block: str = AMOUNT_BLOCK,
) -> dict[str, Any]:
    """The form to request an allocation: payment, invoice, amount, note.

    Choosing a payment or an invoice sends ``block_actions`` (``dispatch_action``) so the
    handler can re-render this modal with ``selected`` and ``invoice`` set: the amount then
    starts at the lesser of what the payment and the invoice have left, in an ``amount_block``
    named by :func:`amount_block_id` so Slack shows the new value.
    """
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        # Cutting it would corrupt what the handler reads back; that is a bug to surface.
        raise ValueError(
            f"private_metadata is {len(private_metadata)} characters; Slack allows 3000"
        )
    candidates = _unique(payments)
    if selected is not None:
        # Slack refuses an initial_option that differs in any way from its option, so the
        # selected payment's own snapshot stands in for its entry in the list.
        if any(p.payment_id == selected.payment_id for p in candidates):
            candidates = [
                selected if p.payment_id == selected.payment_id else p for p in candidates
            ]
        else:
            candidates.insert(0, selected)
    if not candidates:
        return notice_modal(
            "Allocate a payment",
            "You have no payments with money left to allocate. Type `/payments` to see yours.",
        )

    offered = _first_payments(candidates, selected)
    payment_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": PAYMENT_BLOCK,
        "placeholder": _plain("Choose a payment", 150),
    }
    partners: dict[str, str] = {}
    for payment in offered:
        partners.setdefault(payment.partner_id, payment.partner_name)
    if len(partners) > 1:
        payment_select["option_groups"] = [
            {
                "label": _plain(_one_line(name) or partner_id, OPTION_TEXT_MAX),
                "options": [_payment_option(p) for p in offered if p.partner_id == partner_id],
            }
            for partner_id, name in partners.items()
        ]
    else:
        payment_select["options"] = [_payment_option(p) for p in offered]
    if selected is not None:
        payment_select["initial_option"] = _payment_option(selected)

    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": PAYMENT_BLOCK,
            "dispatch_action": True,
            "label": _plain("Payment", 2000),
            "element": payment_select,
        },
        _context(_selected_payment_summary(selected)),
    ]
    if len(offered) < len(candidates):
        blocks.append(
            _context(
                f"Showing {len(offered):,} of {len(candidates):,} payments (the oldest). For"
                " another one, close this and type `/payments allocate PAYMENT_ID`."
            )
        )

    invoice_hint = "Open invoices of the chosen payment's partner, in its currency."
    if selected is not None:
        invoice_hint = (
            f"Open invoices of {_clip(_one_line(selected.partner_name), _NAME_BUDGET)}"
            f" in {selected.currency}. Type part of the number or an amount to narrow the list."
        )
    amount_element: dict[str, Any] = {
        "type": "plain_text_input",
        "action_id": AMOUNT_BLOCK,
        "placeholder": _plain("e.g. 1250.00", 150),
    }
    amount_label = "Amount"
    hint = amount_hint(selected.currency if selected is not None else None)
    if selected is not None:
        amount_label = f"Amount ({selected.currency})"
        currency = selected.currency
        suggested = selected.unallocated
        limit = f"Up to {format_amount(selected.unallocated, currency)}."
        if invoice is not None and invoice.currency == currency:
            suggested = min(selected.unallocated, invoice.open_amount)
            limit = (
                f"Up to {format_amount(suggested, currency)}:"
                f" {_clip(_one_line(selected.payment_id), 64)} has"
                f" {format_amount(selected.unallocated, currency)} left and"
                f" {_clip(_one_line(invoice.invoice_id), 64)} has"
                f" {format_amount(invoice.open_amount, currency)} open."
            )
        hint = f"{limit} {hint}"
        if suggested > 0:
            amount_element["initial_value"] = to_decimal_string(suggested, currency)
            amount_element["placeholder"] = _plain(
                f"e.g. {to_decimal_string(suggested, currency)}", 150
            )
    invoice_select: dict[str, Any] = {
        "type": "external_select",
        "action_id": INVOICE_BLOCK,
        "min_query_length": 0,
        "placeholder": _plain("Type an invoice number or amount", 150),
    }
    if invoice is not None:
        # The choice survives the re-render; the options load offers the same option text.
        invoice_select["initial_option"] = {
            "text": _plain(_invoice_label(invoice), OPTION_TEXT_MAX),
            "value": invoice.invoice_id,
        }
    blocks += [
        {
            "type": "input",
            "block_id": INVOICE_BLOCK,
            # Choosing an invoice redraws the modal so the amount follows it.
            "dispatch_action": True,
            "label": _plain("Invoice", 2000),
            "hint": _plain(invoice_hint, 2000),
            "element": invoice_select,
        },
        {
            "type": "input",
            "block_id": amount_block if is_amount_block(amount_block) else AMOUNT_BLOCK,
            "label": _plain(amount_label, 2000),
            "hint": _plain(hint, 2000),
            "element": amount_element,
        },
        {
            "type": "input",
            "block_id": NOTE_BLOCK,
            "optional": True,
            "label": _plain("Note for billing", 2000),
            "hint": _plain("Anything billing should know to approve this quickly.", 2000),
            "element": {
                "type": "plain_text_input",
                "action_id": NOTE_BLOCK,
                "multiline": True,
                "max_length": NOTE_MAX_LENGTH,
            },
        },
        _context(
            "Billing approves or rejects each request. Until then the amount is held; you get a"
            " direct message with the decision."
        ),
    ]
    return {
        "type": "modal",
        "callback_id": ALLOCATION_CALLBACK,
        "title": _plain("Allocate a payment", MODAL_TITLE_MAX),
        "submit": _plain("Request", MODAL_TITLE_MAX),
        "close": _plain("Cancel", MODAL_TITLE_MAX),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


def _first_payments(
    payments: Sequence[PaymentSummary], selected: PaymentSummary | None
) -> list[PaymentSummary]:
    """At most 100 payments (Slack's limit for a select), the oldest, ``selected`` among them."""
    if len(payments) <= OPTIONS_MAX:
        return list(payments)
    keep = {p.payment_id for p in _oldest_first(payments)[:OPTIONS_MAX]}
    if selected is not None and selected.payment_id not in keep:
        keep.remove(_oldest_first([p for p in payments if p.payment_id in keep])[-1].payment_id)
        keep.add(selected.payment_id)
    # The order the caller chose (by partner, then oldest) is the order people scan.
    return [p for p in payments if p.payment_id in keep]


def _payment_option(payment: PaymentSummary) -> dict[str, Any]:
    suffix = f" · {format_amount(payment.unallocated, payment.currency)} left"
    room = OPTION_TEXT_MAX - _units(suffix)
    label = _clip_middle(_one_line(payment.payment_id), room) + suffix
    return {"text": _plain(label, OPTION_TEXT_MAX), "value": payment.payment_id}


def _selected_payment_summary(selected: PaymentSummary | None) -> str:
    if selected is None:
        return "Choose a payment to see its reference and what is already pending."
    parts = [
        f"*{_md_line(selected.partner_name, _NAME_BUDGET)}*",
        f"received {selected.received_on.isoformat()}",
    ]
    reference = _one_line(selected.reference)
    parts.append(f"ref {_md(reference, _REFERENCE_BUDGET)}" if reference else "no reference")
    if selected.pending > 0:
        parts.append(
            f"🕒 {format_amount(selected.pending, selected.currency)} already pending in other"
            " requests"
        )
    else:
        parts.append("nothing pending")
    parts.append(f"*{format_amount(selected.unallocated, selected.currency)}* left to allocate")
    return " · ".join(parts)


def invoice_options(invoices: Sequence[InvoiceSummary]) -> dict[str, Any]:
    """The invoice select's options load: at most 100, each "INV-1 · 820.00 USD due · due …"."""
    seen: set[str] = set()
    options: list[dict[str, Any]] = []
    for invoice in invoices:
        if invoice.invoice_id in seen:
            continue
        seen.add(invoice.invoice_id)
        options.append(
            {"text": _plain(_invoice_label(invoice), OPTION_TEXT_MAX), "value": invoice.invoice_id}
        )
        if len(options) == OPTIONS_MAX:
            break
    return {"options": options}


def _invoice_label(invoice: InvoiceSummary) -> str:
    """The fullest wording that fits 75 characters; when none does, the id is what gets clipped."""
    currency = invoice.currency
    due_on = f"due {invoice.due_on.isoformat()}"
    if invoice.pending > 0:
        # What can still be applied is the open amount; the rest is held by pending requests.
        left = f"{format_amount(invoice.open_amount, currency)} open"
        wordings = [
            [left, f"{format_amount(invoice.pending, currency)} pending", due_on],
            [left, "part pending", due_on],
            [left, "part pending"],
        ]
    else:
        left = f"{format_amount(invoice.open_amount, currency)} due"
        wordings = [[left, due_on], [left]]
    invoice_id = _one_line(invoice.invoice_id)
    for tail in wordings:
        label = " · ".join([invoice_id, *tail])
        if _units(label) <= OPTION_TEXT_MAX:
            return label
    suffix = " · " + " · ".join(wordings[-1])
    return _clip_middle(invoice_id, OPTION_TEXT_MAX - _units(suffix)) + suffix


# --------------------------------------------------------------------- billing channel


def billing_message(
    allocation: AllocationSummary, *, invoice_url_template: str | None = None
) -> dict[str, Any]:
    """The request as billing sees it: the facts, then Approve/Reject while it is pending.

    The facts are what an approver checks: the payment's reference and date, the invoice's
    total, due date and whether it is overdue, and (with ``invoice_url_template``, the
    ``INVOICE_URL_TEMPLATE`` setting) a link to the invoice in the ERP.
    """
    a = allocation
    amount = format_amount(a.amount, a.currency)
    blocks: list[dict[str, Any]] = [
        _header(f"Allocation request #{a.allocation_id}"),
        {
            "type": "section",
            "fields": [
                _mrkdwn(f"*Partner*\n{_md_line(a.partner_name, _NAME_BUDGET)}"),
                _mrkdwn(f"*Requested by*\n{_mention(a.requested_by)}"),
                _mrkdwn(f"*Amount*\n{amount}"),
                _mrkdwn(f"*Requested*\n{_when(a.requested_at)}"),
                _mrkdwn(_payment_field(a)),
                _mrkdwn(_invoice_field(a, invoice_url_template)),
            ],
        },
    ]
    balances = _balances_text(a)
    if balances:
        blocks.append(_section(balances))
    if a.note:
        blocks.append(
            _section(f"*Note from {_mention(a.requested_by)}*\n{_quote(a.note, _NOTE_BUDGET)}")
        )
    if a.status == "pending":
        blocks.append(_context("🕒 Waiting for a billing approver."))
        # One actions block holds both buttons; its block_id repeats the approve action's name
        # (the block's first action), and each action carries the allocation id after a colon
        # because Slack wants action ids unique within a message.
        approve_id = f"{APPROVE_ALLOCATION}:{a.allocation_id}"
        reject_id = f"{REJECT_ALLOCATION}:{a.allocation_id}"
        confirm = _confirm(
            f"Approve request #{a.allocation_id}?",
            f"Apply {amount} from {_one_line(a.payment_id)} to {_one_line(a.invoice_id)} for"
            f" {_one_line(a.partner_name)}. This posts to the ledger.",
            "Approve",
            "Back",
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": approve_id,
                "elements": [
                    _button(
                        "Approve",
                        approve_id,
                        str(a.allocation_id),
                        style="primary",
                        confirm=confirm,
                    ),
                    _button("Reject…", reject_id, str(a.allocation_id), style="danger"),
                ],
            }
        )
    else:
        outcome = _outcome_line(a, reason_budget=_REASON_BUDGET)
        if a.status in ("rejected", "cancelled"):
            outcome += (
                f"\nNothing was posted: the {amount} held on {_md_line(a.payment_id, 64)} and"
                f" {_md_line(a.invoice_id, 64)} was released."
            )
        blocks.append(_section(outcome))
    status = _STATUS_WORD.get(a.status, a.status)
    text = (
        f"Allocation request #{a.allocation_id} from {_md_line(a.partner_name, _NAME_BUDGET)}:"
        f" {amount} from {_md_line(a.payment_id, 64)} to {_md_line(a.invoice_id, 64)}"
        f" ({status})"
    )
    return {"text": _fallback(text), "blocks": blocks}


def _payment_field(a: AllocationSummary) -> str:
    lines = [f"*Payment*\n{_md_line(a.payment_id, 64)}"]
    if a.payment_received_on is not None:
        lines.append(f"received {a.payment_received_on.isoformat()}")
    reference = _one_line(a.payment_reference)
    lines.append(f"ref {_md(reference, _REFERENCE_BUDGET)}" if reference else "no reference")
    return "\n".join(lines)


def _invoice_field(a: AllocationSummary, url_template: str | None) -> str:
    invoice_id = _md_line(a.invoice_id, 64)
    url = invoice_url(url_template, a.invoice_id)
    lines = [f"*Invoice*\n<{url}|{invoice_id}>" if url else f"*Invoice*\n{invoice_id}"]
    if a.invoice_amount is not None:
        lines.append(f"total {format_amount(a.invoice_amount, a.currency)}")
    if a.invoice_due_on is not None:
        due = f"due {a.invoice_due_on.isoformat()}"
        late = (
            (a.as_of - a.invoice_due_on).days
            if a.as_of is not None and a.status == "pending" and a.invoice_amount_due > 0
            else 0
        )
        if late > 0:
            due += f" · ⚠️ *overdue* by {_count(late, 'day')}"
        lines.append(due)
    return "\n".join(lines)


# Characters that would end or split a ``<url|label>`` link, and blanks, are percent-encoded in
# the URL; ``&`` is written as ``&amp;``, as Slack reads every mrkdwn text.
_URL_BREAKERS = {"<": "%3C", ">": "%3E", "|": "%7C", " ": "%20", "\n": "%0A", '"': "%22"}


def invoice_url(template: str | None, invoice_id: str) -> str | None:
    """The invoice's page in the ERP: the id URL-encoded into ``{invoice_id}`` of ``template``."""
    if not template or "{invoice_id}" not in template:
        return None
    if not re.match(r"^https?://[^/\s|<>]+", template):
        return None
    encoded = urllib.parse.quote(_one_line(invoice_id), safe="")
    url = "".join(_URL_BREAKERS.get(ch, ch) for ch in _clean(template))
    url = url.replace("{invoice_id}", encoded).replace("&", "&amp;")
    return url if len(url) <= 1500 else None


def _balances_text(a: AllocationSummary) -> str:
    """What the payment and invoice have now (pending) or after the decision posted (approved,
    reversed). A rejection or a cancellation changed nothing, so it shows none."""
    if a.status in ("rejected", "cancelled"):
        return ""
    payment_id, invoice_id = _md_line(a.payment_id, 64), _md_line(a.invoice_id, 64)
    included = " (this request included)" if a.status == "pending" else ""
    payment_line = (
        f"• {payment_id} has *{format_amount(a.payment_unallocated, a.currency)}* left to allocate"
    )
    if a.payment_pending > 0:
        payment_line += (
            f", {format_amount(a.payment_pending, a.currency)} pending approval{included}"
        )
    invoice_line = (
        f"• {invoice_id} has *{format_amount(a.invoice_amount_due, a.currency)}* left to pay"
    )
    if a.invoice_pending > 0:
        invoice_line += (
            f", {format_amount(a.invoice_pending, a.currency)} of it pending approval{included}"
        )
    # A pending request's message is edited whenever another change moves these balances.
    heading = "*Balances now*" if a.status == "pending" else "*After this change*"
    lines = [heading, payment_line, invoice_line]
    if a.status == "pending":
        after = max(0, a.invoice_amount_due - a.amount)
        lines.append(
            f"If approved, {invoice_id} will have {format_amount(after, a.currency)} left to pay."
        )
    return "\n".join(lines)


def _outcome_line(a: AllocationSummary, *, reason_budget: int, include_emoji: bool = True) -> str:
    """One status line: who decided, when, and why (for a rejection or a reversal)."""
    emoji = f"{_STATUS_EMOJI[a.status]} " if include_emoji and a.status in _STATUS_EMOJI else ""
    if a.status == "approved":
        return f"{emoji}Approved by {_mention(a.decided_by)} at {_when(a.decided_at)}"
    if a.status == "rejected":
        reason = _md_line(a.reason, reason_budget) or "no reason given"
        return f"{emoji}Rejected by {_mention(a.decided_by)} at {_when(a.decided_at)}: {reason}"
    if a.status == "cancelled":
        return f"{emoji}Cancelled by the requester at {_when(a.decided_at)}"
    if a.status == "reversed":
        reason = _md_line(a.reversal_reason, reason_budget) or "no reason given"
        line = f"{emoji}Reversed by {_mention(a.reversed_by)} at {_when(a.reversed_at)}: {reason}"
        if a.decided_by:
            line += f"\n(approved earlier by {_mention(a.decided_by)} at {_when(a.decided_at)})"
        return line
    if a.status == "pending":
        return f"{emoji}Waiting for billing approval"
    return f"Status: {_md_line(a.status, 32)}"


def reject_modal(
    allocation: AllocationSummary, *, metadata: Mapping[str, str | int] | None = None
) -> dict[str, Any]:
    """Asks the approver why; the requester reads the reason word for word.

    ``metadata`` lets the handler carry more (say, the billing message's channel and ts) in
    ``private_metadata``; ``allocation_id`` is always the allocation's own.
    """
    a = allocation
    carried: dict[str, str | int] = dict(metadata or {})
    carried["allocation_id"] = a.allocation_id
    private_metadata = json.dumps(carried, separators=(",", ":"), ensure_ascii=False)
    if len(private_metadata) > PRIVATE_METADATA_MAX:
        raise ValueError("reject_modal metadata does not fit Slack's 3000 characters")
    summary = (
        f"*Request #{a.allocation_id}* from {_mention(a.requested_by)}"
        f" ({_md_line(a.partner_name, _NAME_BUDGET)}): apply"
        f" *{format_amount(a.amount, a.currency)}* from {_md_line(a.payment_id, 64)} to"
        f" {_md_line(a.invoice_id, 64)}."
    )
    blocks: list[dict[str, Any]] = [_section(summary)]
    if a.note:
        blocks.append(_section(f"*Their note*\n{_quote(a.note, _NOTE_BUDGET)}"))
    blocks.append(
        {
            "type": "input",
            "block_id": REASON_BLOCK,
            "label": _plain("Reason", 2000),
            "hint": _plain(
                "The requester reads this in a direct message. Say what to fix or do instead.",
                2000,
            ),
            "element": {
                "type": "plain_text_input",
                "action_id": REASON_BLOCK,
                "multiline": True,
                "max_length": REASON_MAX_LENGTH,
            },
        }
    )
    return {
        "type": "modal",
        "callback_id": REJECT_CALLBACK,
        "title": _plain("Reject request", MODAL_TITLE_MAX),
        "submit": _plain("Reject", MODAL_TITLE_MAX),
        "close": _plain("Cancel", MODAL_TITLE_MAX),
        "private_metadata": private_metadata,
        "blocks": blocks,
    }


# ------------------------------------------------------------------- requester's messages


def _request_phrase(a: AllocationSummary) -> str:
    return (
        f"request #{a.allocation_id} to apply *{format_amount(a.amount, a.currency)}* from"
        f" *{_md_line(a.payment_id, 64)}* to *{_md_line(a.invoice_id, 64)}*"
    )


def _plain_request_phrase(a: AllocationSummary) -> str:
    """The same words for a notification: Slack shows ``text`` there with no markup applied."""
    return (
        f"request #{a.allocation_id} to apply {format_amount(a.amount, a.currency)} from"
        f" {_md_line(a.payment_id, 64)} to {_md_line(a.invoice_id, 64)}"
    )


def _aftermath(a: AllocationSummary) -> str | None:
    """What the decision left: what the invoice has to pay, or that the money is back."""
    amount = format_amount(a.amount, a.currency)
    payment_id, invoice_id = _md_line(a.payment_id, 64), _md_line(a.invoice_id, 64)
    if a.status == "approved":
        if a.invoice_amount_due <= 0:
            return f"{invoice_id} is now paid in full."
        return f"{invoice_id} has *{format_amount(a.invoice_amount_due, a.currency)}* left to pay."
    if a.status == "rejected":
        return (
            f"The {amount} is available on {payment_id} again. Type `/payments` to make a"
            " new request."
        )
    if a.status == "cancelled":
        return f"The {amount} is available on {payment_id} again."
    if a.status == "reversed":
        return (
            f"{invoice_id} has {format_amount(a.invoice_amount_due, a.currency)} left to pay"
            f" again; {payment_id} has {format_amount(a.payment_unallocated, a.currency)}"
            " left to allocate."
        )
    return None


def _notification_text(a: AllocationSummary) -> str:
    """A DM's ``text``: what a phone notification shows, so plain words (no bold, no tokens)."""
    amount = format_amount(a.amount, a.currency)
    payment_id, invoice_id = _md_line(a.payment_id, 64), _md_line(a.invoice_id, 64)
    if a.status == "approved":
        return (
            f"Request #{a.allocation_id} approved at {_when_plain(a.decided_at)}: {amount} from"
            f" {payment_id} now pays {invoice_id}."
        )
    if a.status == "rejected":
        reason = _md_line(a.reason, 500) or "no reason given"
        return f"Request #{a.allocation_id} rejected at {_when_plain(a.decided_at)}: {reason}"
    if a.status == "reversed":
        reason = _md_line(a.reversal_reason, 500) or "no reason given"
        return f"Request #{a.allocation_id} reversed at {_when_plain(a.reversed_at)}: {reason}"
    if a.status == "cancelled":
        return f"Request #{a.allocation_id} cancelled; {amount} is available on {payment_id}."
    return f"Your {_plain_request_phrase(a)} is waiting for billing approval."


def receipt_message(allocation: AllocationSummary) -> dict[str, Any]:
    """The requester's confirmation: waiting (with Cancel), or, re-rendered, the outcome.

    Once decided it says all that :func:`decision_message` says (outcome, who, when, the
    reason, what the invoice or payment has now): the decision edits this message in place and
    is then the only thing the requester reads about it.
    """
    a = allocation
    phrase = _request_phrase(a)
    details = f"{_md_line(a.partner_name, _NAME_BUDGET)} · requested {_when(a.requested_at)}"
    if a.note:
        details += f" · your note: {_md_line(a.note, _HISTORY_NOTE_BUDGET)}"
    if a.status == "pending":
        headline = f"🕒 Your {phrase} is waiting for billing approval."
        cancel_id = f"{CANCEL_ALLOCATION}:{a.allocation_id}"
        blocks: list[dict[str, Any]] = [
            _section(headline),
            _context(details),
            {"type": "actions", "block_id": cancel_id, "elements": [_cancel_button(a)]},
        ]
        return {"text": _fallback(_notification_text(a)), "blocks": blocks}
    outcome = _outcome_line(a, reason_budget=_REASON_BUDGET)
    if a.status == "cancelled":
        outcome = f"{_STATUS_EMOJI['cancelled']} You cancelled it at {_when(a.decided_at)}."
    blocks = [_section(f"Your {phrase}:\n{outcome}")]
    aftermath = _aftermath(a)
    if aftermath:
        blocks.append(_section(aftermath))
    blocks.append(_context(details))
    return {"text": _fallback(_notification_text(a)), "blocks": blocks}


def decision_message(allocation: AllocationSummary) -> dict[str, Any]:
    """The direct message telling the requester what became of their request.

    Sent only when there is no receipt to edit; complete on its own.
    """
    a = allocation
    amount = format_amount(a.amount, a.currency)
    payment_id, invoice_id = _md_line(a.payment_id, 64), _md_line(a.invoice_id, 64)
    aftermath = _aftermath(a) or ""
    blocks: list[dict[str, Any]]
    if a.status == "approved":
        headline = (
            f"✅ Your request #{a.allocation_id} was approved by {_mention(a.decided_by)} at"
            f" {_when(a.decided_at)}: *{amount}* from {payment_id} now pays {invoice_id}."
        )
        blocks = [_section(f"{headline}\n{aftermath}")]
    elif a.status == "rejected":
        headline = (
            f"❌ Your {_request_phrase(a)} was rejected by {_mention(a.decided_by)} at"
            f" {_when(a.decided_at)}."
        )
        reason = _quote(a.reason or "No reason given.", _REASON_BUDGET)
        blocks = [_section(headline), _section(f"*Reason*\n{reason}"), _context(aftermath)]
    elif a.status == "reversed":
        headline = (
            f"⏪ Your approved {_request_phrase(a)} was reversed by {_mention(a.reversed_by)}"
            f" at {_when(a.reversed_at)}."
        )
        reason = _quote(a.reversal_reason or "No reason given.", _REASON_BUDGET)
        blocks = [_section(headline), _section(f"*Reason*\n{reason}"), _context(aftermath)]
    elif a.status == "cancelled":
        headline = f"↩️ You cancelled your {_request_phrase(a)} at {_when(a.decided_at)}."
        blocks = [_section(headline), _context(aftermath)]
    else:
        headline = f"🕒 Your {_request_phrase(a)} is waiting for billing approval."
        blocks = [_section(headline)]
    return {"text": _fallback(_notification_text(a)), "blocks": blocks}


def already_decided_text(
    status: str,
    decided_by: str | None,
    decided_at: dt.datetime | None,
    *,
    plain: bool = False,
) -> str:
    """Why a click changed nothing: "Already approved by <@U2> at <date>. Nothing changed."

    ``plain=True`` gives the same without mentions or date tokens, for places Slack shows as
    plain text (a modal's ``response_action: errors``), where ``<@U2>`` would show raw.
    """
    if status == "pending":
        return Mrkdwn("This request is still waiting for billing approval. Nothing changed.")
    if plain:
        word = _STATUS_WORD.get(status, _one_line(status)[:32]).lower()
        when = f" at {_when_plain(decided_at)}" if decided_at else ""
        return f"Already {word}{when}. Nothing changed."
    word = _STATUS_WORD.get(status, _md_line(status, 32)).lower()
    who = f" by {_mention(decided_by)}" if decided_by else ""
    when = f" at {_when(decided_at)}" if decided_at else ""
    return Mrkdwn(f"Already {word}{who}{when}. Nothing changed.")


def request_sent_text(allocation: AllocationSummary) -> str:
    """What the allocation modal says once the request is recorded (for :func:`notice_modal`)."""
    a = allocation
    return Mrkdwn(
        f"✅ Request #{a.allocation_id} sent: *{format_amount(a.amount, a.currency)}* from"
        f" *{_md_line(a.payment_id, 64)}* to *{_md_line(a.invoice_id, 64)}* is waiting for"
        " billing approval. The amount is held until they decide.\n\nI've sent you a direct"
        " message with a *Cancel* button, and I'll message you again with their decision."
    )


def notice_modal(title: str, text: str) -> dict[str, Any]:
    """A modal that only tells the person something (no submit), e.g. inside a modal flow."""
    # Slack refuses a section with no text; a notice of nothing but control characters is one.
    body = _as_mrkdwn(text, SECTION_TEXT_MAX)
    return {
        "type": "modal",
        "title": _plain(_one_line(title) or "Payments", MODAL_TITLE_MAX),
        "close": _plain("Close", MODAL_TITLE_MAX),
        "blocks": [_section(body if body.strip() else "—")],
    }
