"""Checking one import row: ids, text, currencies, amounts in the currency's decimals, dates.

Each kind of file has one function here that turns a row's cells (by column name) into the
values to store, or collects every problem with them in an operator's words. Nothing here reads
the database: what a row means next to what is stored (unknown partners, conflicts with
allocations) is the run's to check, in :mod:`slackbot.erp.imports`.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any, SupportsIndex

from models.limits import MAX_ID, MAX_NAME, MAX_REFERENCE, is_slack_user_id
from slackbot.erp.partner_locale import locale_cell
from slackbot.erp.reader import ImportKind
from slackbot.errors import InvalidInput
from slackbot.ledger.membership import is_slack_enterprise_id, is_slack_team_id
from slackbot.money import currency_exponent, normalize_currency, parse_amount, to_decimal_string

_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}", re.ASCII)
# Control characters other than tab and line breaks: PostgreSQL refuses NUL in text outright.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_ZERO = re.compile(r"0+(?:\.(?P<frac>0+))?", re.ASCII)

Record = dict[str, Any]


class Problems(list[str]):
    """What is wrong with one row, in the order the columns appear.

    Each problem has a kind: its message without the row's own values, so a file with 200,000
    rows naming the same unknown partner is reported as one problem 200,000 times.
    """

    def __init__(self) -> None:
        super().__init__()
        self.kinds: list[str] = []

    def append(self, problem: str, kind: str | None = None) -> None:
        super().append(problem)
        self.kinds.append(kind or problem)

    def insert(self, index: SupportsIndex, problem: str, kind: str | None = None) -> None:
        super().insert(index, problem)
        self.kinds.insert(index, kind or problem)

    def kind(self) -> str:
        return " + ".join(self.kinds)


class CurrencyCache:
    """Currency codes seen in this file, so a 100,000-row file asks CLDR a handful of times."""

    def __init__(self) -> None:
        self._codes: dict[str, tuple[str, int] | str] = {}
        # The values seen so far that are good codes: what the fast checks read.
        self.good: dict[str, tuple[str, int]] = {}

    def check(self, problems: Problems, value: str) -> tuple[str, int] | None:
        """The ISO 4217 code and its exponent, or None with the problem added."""
        known = self._codes.get(value)
        if known is None:
            if not value:
                known = "currency is empty"
            else:
                try:
                    code = normalize_currency(value)
                except InvalidInput as exc:
                    known = f"currency: {exc.message}"
                else:
                    known = (code, currency_exponent(code))
            self._codes[value] = known
            if not isinstance(known, str):
                self.good[value] = known
        if isinstance(known, str):
            problems.append(known, "currency is not an ISO 4217 code")
            return None
        return known


# ------------------------------------------------------------------------------------ the cells


def required_id(problems: Problems, column: str, value: str) -> str | None:
    if not value:
        problems.append(f"{column} is empty")
        return None
    if len(value) > MAX_ID:
        problems.append(f"{column} is longer than {MAX_ID} characters")
        return None
    if not value.isprintable():
        problems.append(f"{column} contains control characters")
        return None
    return value


def text(problems: Problems, column: str, value: str, limit: int, *, required: bool) -> str:
    if required and not value:
        problems.append(f"{column} is empty")
    elif len(value) > limit:
        problems.append(f"{column} is longer than {limit} characters")
    elif _CONTROL.search(value):
        problems.append(f"{column} contains control characters")
    return value


def amount(problems: Problems, column: str, value: str, currency: str | None) -> int | None:
    """An amount in minor units, with no more decimals than ``currency`` has."""
    if not value:
        problems.append(f"{column} is empty")
        return None
    if currency is None:
        return None  # the currency's problem is already reported; its decimals are unknown
    try:
        return parse_amount(value, currency, field=column)
    except InvalidInput as exc:
        problems.append(f"{column}: {exc.message}", f"{column} is not a valid amount")
        return None


def amount_or_zero(problems: Problems, column: str, value: str, currency: str | None) -> int | None:
    """Like an amount, but zero is allowed (an invoice paid in full before it reached us)."""
    zero = _ZERO.fullmatch(value)
    if zero is None:
        if value.startswith("-"):
            problems.append(
                f"{column} cannot be negative; you entered {value}", f"{column} is negative"
            )
            return None
        return amount(problems, column, value, currency)
    if currency is None:
        return None
    decimals = len(zero["frac"] or "")
    exponent = currency_exponent(currency)
    if decimals > exponent:
        places = "no decimals" if exponent == 0 else f"at most {exponent} decimals"
        problems.append(
            f"{column}: {currency} amounts have {places}; you entered {value}.",
            f"{column} is not a valid amount",
        )
        return None
    return 0


def date(problems: Problems, column: str, value: str) -> dt.date | None:
    if not value:
        problems.append(f"{column} is empty")
        return None
    if _ISO_DATE.fullmatch(value):
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            pass
    problems.append(
        f"{column}: {value} is not a date; write it as YYYY-MM-DD, e.g. 2026-11-24",
        f"{column} is not a date",
    )
    return None


# ------------------------------------------------------------------------------- the four kinds

RowCheck = Callable[[dict[str, str], Problems, CurrencyCache], Record | None]


def partner_row(
    values: dict[str, str], problems: Problems, currencies: CurrencyCache
) -> Record | None:
    partner_id = required_id(problems, "partner_id", values["partner_id"])
    name = text(problems, "name", values["name"], MAX_NAME, required=True)
    if "locale" not in values:
        return None if problems else {"partner_id": partner_id, "name": name}
    locale = locale_cell(problems, values["locale"])
    if problems:
        return None
    return {"partner_id": partner_id, "name": name, "locale": locale}


def member_row(
    values: dict[str, str], problems: Problems, currencies: CurrencyCache
) -> Record | None:
    """A person (``slack_user_id``), a whole team or org (``slack_team_id`` alone), or a person
    who counts only when they come from that team (both)."""
    partner_id = required_id(problems, "partner_id", values["partner_id"])
    user_id = values["slack_user_id"]
    team_id = values.get("slack_team_id")
    if not user_id:
        if team_id is None:
            problems.append("slack_user_id is empty")
        elif not team_id:
            problems.append(
                "slack_user_id and slack_team_id are both empty; a row names a person"
                " (slack_user_id), a whole workspace or org (slack_team_id), or a person of that"
                " workspace or org (both)",
                "slack_user_id and slack_team_id are both empty",
            )
    elif not is_slack_user_id(user_id):
        problems.append(
            f"slack_user_id: {user_id[:40]} does not look like a Slack user ID (U or W"
            " followed by capital letters and digits, e.g. U0123ABCD; copy it from the"
            " person's Slack profile, Copy member ID)",
            "slack_user_id does not look like a Slack user ID",
        )
    if team_id and not (is_slack_team_id(team_id) or is_slack_enterprise_id(team_id)):
        problems.append(
            f"slack_team_id {team_id[:40]!r} is not a Slack team id (T… for a workspace, E… for"
            " an Enterprise Grid org, then capital letters and digits, e.g. T0123ABCD; find it"
            " in the address of Slack in a browser, app.slack.com/client/T0123ABCD/…, or ask"
            " the workspace's admin)",
            "slack_team_id is not a Slack team id",
        )
    if problems:
        return None
    return {
        "partner_id": partner_id,
        "slack_user_id": user_id or None,
        "slack_team_id": team_id or None,
    }


def payment_row(
    values: dict[str, str], problems: Problems, currencies: CurrencyCache
) -> Record | None:
    payment_id = required_id(problems, "payment_id", values["payment_id"])
    partner_id = required_id(problems, "partner_id", values["partner_id"])
    currency = currencies.check(problems, values["currency"])
    paid = amount(problems, "amount", values["amount"], currency and currency[0])
    received_on = date(problems, "received_on", values["received_on"])
    reference = text(problems, "reference", values["reference"], MAX_REFERENCE, required=False)
    if problems or currency is None:
        return None
    return {
        "payment_id": payment_id,
        "partner_id": partner_id,
        "currency": currency[0],
        "exponent": currency[1],
        "amount": paid,
        "received_on": received_on,
        "reference": reference,
    }


def invoice_row(
    values: dict[str, str], problems: Problems, currencies: CurrencyCache
) -> Record | None:
    invoice_id = required_id(problems, "invoice_id", values["invoice_id"])
    partner_id = required_id(problems, "partner_id", values["partner_id"])
    currency = currencies.check(problems, values["currency"])
    code = currency and currency[0]
    billed = amount(problems, "amount", values["amount"], code)
    issued_on = date(problems, "issued_on", values["issued_on"])
    due_on = date(problems, "due_on", values["due_on"])
    if issued_on and due_on and due_on < issued_on:
        problems.append(
            f"due_on {due_on} is before issued_on {issued_on}", "due_on is before issued_on"
        )
    raw_due = values.get("amount_due", "")
    amount_due = billed if not raw_due else amount_or_zero(problems, "amount_due", raw_due, code)
    if billed is not None and amount_due is not None and amount_due > billed and code:
        problems.append(
            f"amount_due {raw_due} is more than the invoice amount"
            f" {to_decimal_string(billed, code)}",
            "amount_due is more than the invoice amount",
        )
    if problems or currency is None:
        return None
    return {
        "invoice_id": invoice_id,
        "partner_id": partner_id,
        "currency": currency[0],
        "exponent": currency[1],
        "amount": billed,
        "opening_due": amount_due,
        "issued_on": issued_on,
        "due_on": due_on,
    }


# ------------------------------------------------------------------ the fast checks, money rows
#
# A file of a million rows spends most of its import here, so payments and invoices have a fast
# path: a row in the common shape (ids printable and short, not starting with a quote, a known
# currency, plain amounts, ISO dates) becomes its stage tuple in a few microseconds. Anything
# else returns None and the row goes through the full checks above, which find its problems or
# its record; a property test holds the two to the same answer. Dates stay ISO strings: both
# databases read them so, and SQLite stores its dates so.

StageRow = tuple[Any, ...]
FastCheck = Callable[[list[str], dict[str, tuple[str, int]]], StageRow | None]

_AMOUNT_BY_EXPONENT = {
    exponent: re.compile(
        r"[1-9][0-9]{0,12}" if exponent == 0 else rf"([0-9]{{1,13}})(?:\.([0-9]{{1,{exponent}}}))?",
        re.ASCII,
    )
    for exponent in range(5)
}
_ISO_DATE_MATCH = _ISO_DATE.fullmatch
_CONTROL_SEARCH = _CONTROL.search


def _fast_id(value: str) -> bool:
    return 0 < len(value) <= MAX_ID and value[0] != "'" and value.isprintable()


def _fast_amount(value: str, exponent: int) -> int | None:
    match = _AMOUNT_BY_EXPONENT[exponent].fullmatch(value)
    if match is None:
        return None
    if exponent == 0:
        return int(value)
    whole: str = match[1]
    frac: str | None = match[2]
    minor: int = int(whole) * 10**exponent + (int(frac.ljust(exponent, "0")) if frac else 0)
    if minor <= 0 or len(whole.lstrip("0")) > 13:
        return None
    return minor


def _fast_date(value: str) -> bool:
    if _ISO_DATE_MATCH(value) is None:
        return False
    try:
        dt.date.fromisoformat(value)
    except ValueError:
        return False
    return True


def payment_fast(values: list[str], currencies: dict[str, tuple[str, int]]) -> StageRow | None:
    """``(payment_id, partner_id, currency, exponent, amount, received_on, reference)`` of a row
    in the header's own column order, or None when only the full checks can say."""
    payment_id, partner_id, raw_amount, raw_currency, received_on, reference = values
    currency = currencies.get(raw_currency)
    if (
        currency is None
        or not _fast_id(payment_id)
        or not _fast_id(partner_id)
        or not _fast_date(received_on)
        or len(reference) > MAX_REFERENCE
        or (reference and (reference[0] == "'" or _CONTROL_SEARCH(reference) is not None))
    ):
        return None
    paid = _fast_amount(raw_amount, currency[1])
    if paid is None:
        return None
    return (payment_id, partner_id, currency[0], currency[1], paid, received_on, reference)


def invoice_fast(values: list[str], currencies: dict[str, tuple[str, int]]) -> StageRow | None:
    """``(invoice_id, partner_id, currency, exponent, amount, opening_due, issued_on, due_on)``,
    or None when only the full checks can say."""
    if len(values) == 7:
        invoice_id, partner_id, raw_amount, raw_currency, issued_on, due_on, raw_due = values
    else:
        invoice_id, partner_id, raw_amount, raw_currency, issued_on, due_on = values
        raw_due = ""
    currency = currencies.get(raw_currency)
    if (
        currency is None
        or not _fast_id(invoice_id)
        or not _fast_id(partner_id)
        or not _fast_date(issued_on)
        or not _fast_date(due_on)
        or due_on < issued_on
    ):
        return None
    billed = _fast_amount(raw_amount, currency[1])
    if billed is None:
        return None
    due = billed if not raw_due else _fast_amount(raw_due, currency[1])
    if due is None or due > billed:
        return None
    return (invoice_id, partner_id, currency[0], currency[1], billed, due, issued_on, due_on)


def stage_row(kind: ImportKind, record: Record) -> StageRow:
    """The stage tuple of a record the full checks accepted."""
    if kind is ImportKind.PAYMENTS:
        return (
            record["payment_id"],
            record["partner_id"],
            record["currency"],
            record["exponent"],
            record["amount"],
            record["received_on"].isoformat(),
            record["reference"],
        )
    return (
        record["invoice_id"],
        record["partner_id"],
        record["currency"],
        record["exponent"],
        record["amount"],
        record["opening_due"],
        record["issued_on"].isoformat(),
        record["due_on"].isoformat(),
    )


FAST_CHECKS: dict[ImportKind, FastCheck] = {
    ImportKind.PAYMENTS: payment_fast,
    ImportKind.INVOICES: invoice_fast,
}

ROW_CHECKS: dict[ImportKind, RowCheck] = {
    ImportKind.PARTNERS: partner_row,
    ImportKind.MEMBERS: member_row,
    ImportKind.PAYMENTS: payment_row,
    ImportKind.INVOICES: invoice_row,
}
