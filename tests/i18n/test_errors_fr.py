"""The ledger's refusals in French: every template translated, amounts and dates as France
writes them, and the English ``message`` exactly as before.

French comes from the catalog the bot ships (slackbot/i18n/locales/fr); the pseudo-locale from a
template extracted from the ledger's sources here, as ``pybabel extract`` would, so it proves
every refusal raised is marked (an f-string or an unmarked text would stay English).
"""

from __future__ import annotations

import datetime as dt
import shutil
import string
from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from types import SimpleNamespace

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po, write_po

from models.enums import Decision
from models.schemas import Actor
from slackbot import money
from slackbot.errors import (
    AlreadyDecided,
    DomainError,
    InsufficientFunds,
    InvalidInput,
    text_in,
)
from slackbot.i18n.catalog import LOCALES_DIR, forget_loaded
from slackbot.i18n.numbers import format_datetime
from slackbot.ledger import rules
from slackbot.ledger.shown import Moment, Money

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    "slackbot/errors.py",
    "slackbot/money.py",
    "slackbot/ledger/rules.py",
    "slackbot/ledger/queries.py",
    "slackbot/ledger/commands.py",
]
NB = "\u202f"  # what Babel and the French catalog put before ; and inside amounts
NBSP = "\u00a0"
FR_PO = LOCALES_DIR / "fr" / "LC_MESSAGES" / "messages.po"


def extracted() -> list[str]:
    """Every text marked in the ledger's sources, as ``pybabel extract`` finds it."""
    found: list[str] = []
    for source in SOURCES:
        for _lineno, message, _comments, _context in extract_from_file("python", ROOT / source):
            assert isinstance(message, str), message
            if message not in found:
                found.append(message)
    return found


def french() -> dict[str, str]:
    """The French catalog the bot ships, msgid -> text (fuzzy entries do not count)."""
    with FR_PO.open("rb") as fp:
        catalog = read_po(fp)
    return {
        m.id: m.string
        for m in catalog
        if isinstance(m.id, str) and m.id and isinstance(m.string, str) and not m.fuzzy
    }


@pytest.fixture
def catalogs(tmp_path: Path) -> Iterator[Path]:
    """A locales directory: the shipped French, and the template extracted from the source now
    (so the pseudo-locale sees exactly what is marked, even before the .pot is extracted)."""
    folder = tmp_path / "fr" / "LC_MESSAGES"
    folder.mkdir(parents=True)
    shutil.copyfile(FR_PO, folder / "messages.po")
    template = Catalog(project="slackbot", charset="utf-8")
    for msgid in extracted():
        template.add(msgid)
    with (tmp_path / "messages.pot").open("wb") as fp:
        write_po(fp, template)
    forget_loaded()
    yield tmp_path
    forget_loaded()


def spaces(text: str) -> str:
    """Babel's narrow and plain no-break spaces as spaces, to compare with what a test says."""
    return text.replace(NB, " ").replace(NBSP, " ")


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}


# --- some ledger objects the rules read ------------------------------------------------------

NOON = dt.datetime(2026, 11, 24, 15, 5, tzinfo=dt.UTC)


def pay(unallocated: int = 125000, pending: int = 0, currency: str = "USD") -> SimpleNamespace:
    return SimpleNamespace(
        payment_id="PAY-1",
        partner_id="P1",
        currency=currency,
        pending=pending,
        unallocated=unallocated,
    )


def inv(amount_due: int = 125000, pending: int = 0, **kw: object) -> SimpleNamespace:
    fields = dict(invoice_id="INV-1", partner_id="P1", currency="USD")
    fields.update(kw)  # type: ignore[arg-type]
    return SimpleNamespace(
        amount_due=amount_due, pending=pending, open_amount=amount_due - pending, **fields
    )


def request(status: str, **kw: object) -> SimpleNamespace:
    fields: dict[str, object] = dict(
        allocation_id=7,
        status=status,
        requested_by="U1",
        decided_by=None,
        decided_at=None,
        reversed_by=None,
        reversed_at=None,
    )
    fields.update(kw)
    return SimpleNamespace(**fields)


def refused(check: Callable[[], object]) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check()
    return caught.value


def every_refusal() -> list[DomainError]:
    """One of each refusal the ledger's rules and money parsing raise to a person."""
    approver = Actor(user_id="B1", can_approve=True)
    nobody = Actor(user_id="U9", can_approve=False)
    found = [
        refused(lambda: money.normalize_currency("usd$")),
        refused(lambda: money.parse_amount("", "USD")),
        refused(lambda: money.parse_amount("-5", "USD")),
        refused(lambda: money.parse_amount("1,250.00", "USD")),
        refused(lambda: money.parse_amount("12.5", "JPY")),
        refused(lambda: money.parse_amount("12.505", "USD")),
        refused(lambda: money.parse_amount("9" * 20, "USD")),
        refused(lambda: money.parse_amount("0.00", "USD")),
        refused(lambda: rules.check_amount_positive(0)),
        refused(lambda: rules.check_room(pay(1000), inv(), 125000)),
        refused(lambda: rules.check_room(pay(1000, pending=500), inv(), 125000)),
        refused(lambda: rules.check_room(pay(), inv(1000), 125000)),
        refused(lambda: rules.check_room(pay(), inv(125000, pending=500), 125000)),
        refused(lambda: rules.check_line_count(0)),
        refused(lambda: rules.check_line_count(11)),
        refused(
            lambda: rules.check_request_lines(pay(), [("INV-1", inv(), 1), ("INV-1", inv(), 1)])
        ),
        refused(
            lambda: rules.check_request_lines(
                pay(1500), [("INV-1", inv(), 1000), ("INV-2", inv(invoice_id="INV-2"), 1000)]
            )
        ),
        refused(
            lambda: rules.check_request_lines(
                pay(1500, pending=10),
                [("INV-1", inv(), 1000), ("INV-2", inv(invoice_id="INV-2"), 1000)],
            )
        ),
        refused(lambda: rules.check_payment_allocatable(pay(0))),
        refused(lambda: rules.check_payment_allocatable(pay(0, pending=5))),
        refused(lambda: rules.check_invoice_payable(pay(), None, "INV-9")),
        refused(lambda: rules.check_invoice_payable(pay(), inv(currency="EUR"), "INV-1")),
        refused(lambda: rules.check_invoice_payable(pay(), inv(0), "INV-1")),
        refused(lambda: rules.check_invoice_payable(pay(), inv(100, pending=100), "INV-1")),
        refused(lambda: rules.check_may_cancel(request("pending"), "U2", still_member=True)),
        refused(lambda: rules.check_may_cancel(request("pending"), "U1", still_member=False)),
        refused(lambda: rules.checked_note("x" * 1001)),
        refused(lambda: rules.required_reason("", rules.REJECT_ASK)),
        refused(lambda: rules.required_reason("", rules.REVERSE_ASK)),
        refused(lambda: rules.required_reason("\u200b", rules.REJECT_ASK)),
        refused(lambda: rules.required_reason("\u200b", rules.REVERSE_ASK)),
        refused(lambda: rules.required_reason("x" * 1001, rules.REJECT_ASK)),
        refused(lambda: rules.check_request_key("k" * 129)),
        refused(lambda: rules.check_reversible(request("pending"))),
    ]
    for verb in Decision:
        found.append(refused(partial(rules.check_is_approver, nobody, verb)))
        own = request("pending", requested_by="B1")
        found.append(
            refused(
                partial(
                    rules.check_independent,
                    own,
                    approver,
                    verb,
                    actor_is_member=False,
                    partner_name="Acme",
                )
            )
        )
        theirs = request("pending")
        found.append(
            refused(
                partial(
                    rules.check_independent,
                    theirs,
                    approver,
                    verb,
                    actor_is_member=True,
                    partner_name="Acme",
                )
            )
        )
        found.append(rules.already_decided(request("pending"), verb))
    for status in ("approved", "rejected", "cancelled"):
        found.append(
            rules.already_decided(
                request(status, decided_by="B1", decided_at=NOON), Decision.APPROVE
            )
        )
        found.append(rules.already_decided(request(status, decided_by="B1"), Decision.APPROVE))
    found.append(
        rules.already_decided(
            request("reversed", reversed_by="B2", reversed_at=NOON), Decision.REVERSE
        )
    )
    found.append(rules.already_decided(request("reversed", reversed_by="B2"), Decision.REVERSE))
    found.append(
        rules.already_decided(request("odd", decided_by="B1", decided_at=NOON), Decision.APPROVE)
    )
    found.append(rules.already_decided(request("odd", decided_by="B1"), Decision.APPROVE))
    return found


# --- the catalog -----------------------------------------------------------------------------


def test_every_marked_ledger_template_is_translated_with_its_placeholders() -> None:
    shipped = french()
    marked = extracted()
    assert len(marked) >= 60  # the extraction sees the marks at all
    missing = [msgid for msgid in marked if not shipped.get(msgid)]
    assert missing == []
    for msgid in marked:
        assert fields(shipped[msgid]) == fields(msgid), msgid
        assert shipped[msgid] != msgid, msgid


def test_every_refusal_raised_uses_a_marked_template(catalogs: Path) -> None:
    """In the pseudo-locale an unmarked (or f-string) refusal would stay plain English."""
    marked = set(extracted())
    for error in every_refusal():
        assert error.template in marked, error.template
        shown = text_in(error, "xx-PS", locales_dir=catalogs)
        assert shown.startswith("[") and shown.endswith("]"), shown


def test_every_refusal_reads_french_and_its_english_message_is_unchanged(catalogs: Path) -> None:
    shipped = french()
    for error in every_refusal():
        shown = text_in(error, "fr-FR", locales_dir=catalogs)
        assert shown == shipped[error.template].format(**_french_values(error))
        assert shown != error.message
        # English readers, and readers of a language with no catalog, read the message.
        assert text_in(error, "en-US", locales_dir=catalogs) == error.message
        assert text_in(error, "de-DE", locales_dir=catalogs) == error.message
        assert str(error) == error.message


def _french_values(error: DomainError) -> dict[str, object]:
    return {
        name: value.shown_in("fr-FR") if isinstance(value, (Money, Moment)) else value
        for name, value in error.values.items()
    }


# --- amounts and dates as France writes them ---------------------------------------------------


def test_french_amounts_read_1_250_00_dollars_us_and_english_keeps_its_words(
    catalogs: Path,
) -> None:
    error = refused(lambda: rules.check_room(pay(125000, pending=2500), inv(500000), 300000))
    assert isinstance(error, InsufficientFunds)
    assert error.message == (
        "PAY-1 has 1,250.00 USD left to allocate (25.00 USD more is held by pending requests);"
        " you entered 3,000.00 USD."
    )
    shown = spaces(text_in(error, "fr-FR", locales_dir=catalogs))
    assert "1 250,00 $US" in shown and "25,00 $US" in shown and "3 000,00 $US" in shown
    assert "PAY-1" in shown and "affecter" in shown
    assert "USD" not in shown and "1,250.00" not in shown


def test_an_invoice_over_its_balance_reads_every_amount_in_french(catalogs: Path) -> None:
    error = refused(lambda: rules.check_room(pay(9_999_999), inv(125000, pending=25000), 200000))
    assert error.message == (
        "INV-1 has 1,250.00 USD left to pay, 250.00 USD of it already requested; you can"
        " apply at most 1,000.00 USD and you entered 2,000.00 USD."
    )
    shown = spaces(text_in(error, "fr-FR", locales_dir=catalogs))
    for amount in ("1 250,00 $US", "250,00 $US", "1 000,00 $US", "2 000,00 $US"):
        assert amount in shown
    assert "INV-1" in shown and "dû" in shown
    assert "USD" not in shown and "1,250.00" not in shown


def test_amounts_keep_their_currency_decimals_in_french(catalogs: Path) -> None:
    yen = refused(
        lambda: rules.check_room(pay(1250, currency="JPY"), inv(9999, currency="JPY"), 3000)
    )
    assert "1,250 JPY" in yen.message
    assert "1 250 JPY" in spaces(text_in(yen, "fr-FR", locales_dir=catalogs))
    euro = Money(125050, "EUR")
    assert euro.shown_in("en-US") == "1,250.50 EUR"
    assert spaces(euro.shown_in("fr-FR")) == "1 250,50 €"


def test_already_decided_shows_the_moment_in_the_readers_locale(catalogs: Path) -> None:
    error = rules.already_decided(
        request("approved", decided_by="B1", decided_at=NOON), Decision.APPROVE
    )
    assert isinstance(error, AlreadyDecided)
    assert error.message == (
        "Request 7 was already approved by B1 at 2026-11-24 15:05 UTC; nothing changed."
    )
    assert (error.allocation_id, error.status, error.decided_by) == (7, "approved", "B1")
    shown = text_in(error, "fr-FR", locales_dir=catalogs)
    assert f"{format_datetime(NOON, 'fr-FR', 'UTC')} UTC" in shown
    assert spaces(format_datetime(NOON, "fr-FR", "UTC")) == "24 nov. 2026, 15:05"
    assert "approuvée" in shown and "B1" in shown
    assert "2026-11-24" not in shown and "approved" not in shown
    # and through the error's own method, with the catalogs the bot ships
    assert error.text_in("fr-FR") == shown


def test_a_naive_moment_is_read_as_utc() -> None:
    naive = Moment(dt.datetime(2026, 11, 24, 15, 5))
    assert str(naive) == "2026-11-24 15:05 UTC"
    assert "15:05" in naive.shown_in("fr-FR") and "nov." in naive.shown_in("fr-FR")


# --- what stays as it was ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("check", "english"),
    [
        (
            lambda: rules.check_invoice_payable(pay(), inv(0), "INV-1"),
            "INV-1 is already paid in full.",
        ),
        (
            lambda: rules.check_payment_allocatable(pay(0, pending=5)),
            "PAY-1 has nothing left to allocate (the rest is held by pending requests).",
        ),
        (
            lambda: rules.check_is_approver(Actor(user_id="U9"), Decision.REJECT),
            "Only billing approvers can reject requests.",
        ),
        (
            lambda: rules.check_invoice_payable(pay(), inv(currency="EUR"), "INV-1"),
            "INV-1 is in EUR and PAY-1 is in USD; pick an invoice in USD.",
        ),
        (
            lambda: money.parse_amount("12.505", "USD"),
            "USD amounts have at most 2 decimals; you entered 12.505.",
        ),
        (
            lambda: rules.required_reason("\u200b", rules.REJECT_ASK),
            "The reason has only invisible or control characters, so the requester would read"
            " nothing. Say why, so the requester knows what to fix.",
        ),
        (
            lambda: rules.check_reversible(request("pending")),
            "Request 7 is still waiting for a decision; only an approved allocation can be"
            " reversed.",
        ),
    ],
)
def test_the_english_message_is_what_it_always_was(
    check: Callable[[], object], english: str, catalogs: Path
) -> None:
    error = refused(check)
    assert error.message == english == str(error)
    assert text_in(error, "en-US", locales_dir=catalogs) == english
    assert error.text_in("en-US") == english


def test_a_message_without_values_is_never_formatted(catalogs: Path) -> None:
    """An operator's text built from input may hold braces; without values it is shown as is."""
    error = InvalidInput("partner", "'{0}{x' is not a partner id")
    assert error.message == "'{0}{x' is not a partner id"
    assert text_in(error, "fr-FR", locales_dir=catalogs) == error.message


def test_a_typed_value_with_braces_is_shown_not_formatted(catalogs: Path) -> None:
    error = refused(lambda: rules.check_invoice_payable(pay(), None, "{payment}"))
    assert error.message == ("{payment} is not an open invoice of the partner that made PAY-1.")
    shown = text_in(error, "fr-FR", locales_dir=catalogs)
    assert shown.startswith("{payment} ") and "PAY-1" in shown and shown != error.message
