"""Whose language (issue 15), through the real HTTP app against the local Slack stand-in.

The person's Slack locale (users.info with include_locale, asked with the request's own bot
token) comes first, then the locale of their partner (the partners CSV's ``locale`` column),
then DEFAULT_LOCALE. A slow users.info never holds up the answer. A French partner types
amounts the French way; the outbox renders the requester's DM in their locale at send time and
the billing channel's message in BILLING_LOCALE.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from models.tables import Allocation
from slackbot.db import Database
from slackbot.erp.imports import import_csv
from tests.support import slack_payloads as payloads
from tests.support.bot_harness import BotHarness, text_of, wait_for
from tests.support.factories import add_invoice, add_member, add_payment
from tests.support.slack_stub import FakeSlack

ALICE = "U0ALICE"  # Acme, whose partner reads French
BOB = "U0BOB"  # Globex, no partner locale
FRENCH_LIST = "Vos paiements"
ENGLISH_LIST = "Your payments"


@pytest.fixture
def books(db: Database) -> Database:
    import_csv(
        db,
        "partners",
        io.StringIO("partner_id,name,locale\nP-ACME,Acme Corp,fr-FR\nP-GLOBEX,Globex,\n"),
    )
    add_member(db, "P-ACME", ALICE)
    add_member(db, "P-GLOBEX", BOB)
    add_payment(db, "PAY-1", "P-ACME", 200000, "USD", reference="Wire 4471")
    add_invoice(db, "INV-1", "P-ACME", 150000, "USD")
    add_payment(db, "PAY-B", "P-GLOBEX", 50000, "USD")
    return db


@pytest.fixture
def running(
    books: Database, slack: FakeSlack, request: pytest.FixtureRequest
) -> Iterator[BotHarness]:
    overrides: dict[str, Any] = getattr(request, "param", {})
    harness = BotHarness(books, slack, **overrides)
    yield harness
    harness.close()


def listed(harness: BotHarness, user: str) -> tuple[str, float]:
    """``/payments`` for ``user``: the answer's text and how long it took."""
    started = time.monotonic()
    status, reply, _ = harness.slash(user)
    elapsed = time.monotonic() - started
    assert status == 200, reply
    return text_of(reply), elapsed


def test_the_partners_locale_when_slack_gives_none(running: BotHarness, slack: FakeSlack) -> None:
    text, _ = listed(running, ALICE)
    assert FRENCH_LIST in text
    assert ENGLISH_LIST not in text
    # Asked once, with the request's own bot token and include_locale.
    [asked] = slack.calls_to("users.info")
    assert asked.params["user"] == ALICE
    assert str(asked.params["include_locale"]).lower() in ("true", "1")
    assert asked.headers.get("Authorization", asked.headers.get("authorization")) == (
        "Bearer xoxb-test-token"
    )


def test_the_slack_locale_comes_before_the_partners(running: BotHarness, slack: FakeSlack) -> None:
    slack.set_user(ALICE, locale="en-US")
    slack.set_user(BOB, locale="fr-FR")
    alice, _ = listed(running, ALICE)
    bob, _ = listed(running, BOB)
    assert ENGLISH_LIST in alice and FRENCH_LIST not in alice
    assert FRENCH_LIST in bob and ENGLISH_LIST not in bob
    # Known now: the next requests do not ask Slack again.
    listed(running, ALICE)
    listed(running, BOB)
    assert len(slack.calls_to("users.info")) == 2


@pytest.mark.parametrize(
    ("running", "expected"),
    [({}, ENGLISH_LIST), ({"DEFAULT_LOCALE": "fr-FR"}, FRENCH_LIST)],
    indirect=["running"],
)
def test_default_locale_when_neither_slack_nor_the_partner_says(
    running: BotHarness, expected: str
) -> None:
    text, _ = listed(running, BOB)
    assert expected in text


def test_a_slow_users_info_does_not_hold_up_the_answer(
    running: BotHarness, slack: FakeSlack
) -> None:
    slack.set_user(BOB, locale="fr-FR")
    slack.slow("users.info", 1.2)
    text, elapsed = listed(running, BOB)
    # The fallback (Globex has no locale: DEFAULT_LOCALE) now, well within Slack's 3 seconds.
    assert ENGLISH_LIST in text
    assert elapsed < 1.5, f"the answer took {elapsed:.2f}s"
    readers = running.bot.readers
    assert readers is not None
    wait_for(lambda: readers.chooser.cached(BOB), timeout=5, what="the late users.info answer")
    later, _ = listed(running, BOB)
    assert FRENCH_LIST in later


def test_a_failing_users_info_falls_back_at_once(running: BotHarness, slack: FakeSlack) -> None:
    slack.fail("users.info", "slack_error:missing_scope")
    text, elapsed = listed(running, ALICE)
    assert FRENCH_LIST in text  # the partner's
    assert elapsed < 1.5


def _open_modal(harness: BotHarness, user: str) -> dict[str, Any]:
    before = len(harness.opened_views())
    status, _reply, _ = harness.slash(user, "allocate PAY-1")
    assert status == 200
    return harness.wait_view(before + 1)


def _values(amount: str) -> dict[str, Any]:
    return {
        "payment": {"payment": payloads.static_select_value("PAY-1", "PAY-1")},
        "invoice": {"invoice": payloads.external_select_value("INV-1", "INV-1")},
        "amount": {"amount": payloads.text_value(amount)},
        "note": {"note": payloads.text_value(None)},
    }


def _amounts(db: Database) -> list[int]:
    with db.transaction(read_only=True) as session:
        return list(session.scalars(select(Allocation.amount)))


def test_a_french_partner_types_amounts_the_french_way(
    running: BotHarness, books: Database
) -> None:
    view = _open_modal(running, ALICE)
    status, reply = running.submit(ALICE, view, _values("1.250"))
    assert status == 200
    assert reply["response_action"] == "errors"
    assert reply["errors"] == {
        "amount": "Écrivez le montant ainsi\u00a0: 1\u202f250,50 ou 1250,50\u202f;"
        " vous avez saisi 1.250."
    }
    assert _amounts(books) == []
    status, reply = running.submit(ALICE, view, _values("1 250,50"))
    assert status == 200
    assert reply["response_action"] == "update", reply
    assert _amounts(books) == [125050]


def test_the_sender_renders_each_reader_in_their_locale(
    running: BotHarness, books: Database, slack: FakeSlack
) -> None:
    view = _open_modal(running, ALICE)
    _status, reply = running.submit(ALICE, view, _values("1250,50"))
    assert reply["response_action"] == "update", reply
    running.deliver()
    [receipt] = slack.messages_in(ALICE)
    # The requester's receipt: French amounts (CLDR's "1 250,50 $US").
    assert "1\u202f250,50\u00a0$US" in text_of(receipt)
    # The billing channel: BILLING_LOCALE (unset: DEFAULT_LOCALE, en-US).
    [billing] = running.billing_messages()
    assert "1,250.50 USD" in text_of(billing)
    assert "$US" not in text_of(billing)


@pytest.mark.parametrize("running", [{"BILLING_LOCALE": "fr-FR"}], indirect=True)
def test_billing_locale_sets_the_billing_channels_language(
    running: BotHarness, slack: FakeSlack
) -> None:
    slack.set_user(ALICE, locale="en-US")
    view = _open_modal(running, ALICE)
    _status, reply = running.submit(ALICE, view, _values("1250.50"))
    assert reply["response_action"] == "update", reply
    running.deliver()
    [billing] = running.billing_messages()
    assert "1\u202f250,50\u00a0$US" in text_of(billing)
    [receipt] = slack.messages_in(ALICE)
    assert "1,250.50 USD" in text_of(receipt)


def test_the_home_tab_is_in_its_owners_locale(running: BotHarness, slack: FakeSlack) -> None:
    from tests.support import home_payloads

    slack.set_user(BOB, locale="en-US")
    for user in (ALICE, BOB):
        assert running.post(home_payloads.app_home_opened(user))[0] == 200

    def home_of(user: str) -> str | None:
        calls = [c for c in slack.deliveries("views.publish") if c.params.get("user_id") == user]
        return text_of(calls[-1].params["view"]) if calls else None

    alice = wait_for(lambda: home_of(ALICE), what="Alice's Home")
    bob = wait_for(lambda: home_of(BOB), what="Bob's Home")
    # Alice: her partner's French (2 000,00 $US left on PAY-1); Bob: his Slack locale, English.
    assert "2\u202f000,00\u00a0$US" in alice
    assert "500.00 USD" in bob and "$US" not in bob


def test_the_partner_locale_is_the_first_partner_with_one(books: Database) -> None:
    from slackbot.slack.locales import partner_locale_of

    import_csv(books, "partners", io.StringIO("partner_id,name,locale\nP-ZED,Zed,en-GB\n"))
    add_member(books, "P-GLOBEX", "U0BOTH")
    add_member(books, "P-ZED", "U0BOTH")
    # Globex (first by name) has none: Zed's.
    assert partner_locale_of(books, "U0BOTH") == "en-GB"
    add_member(books, "P-ACME", "U0BOTH")
    assert partner_locale_of(books, "U0BOTH") == "fr-FR"  # Acme Corp comes first by name
    assert partner_locale_of(books, "U0NOBODY") is None


def test_a_french_partner_sends_the_suggestion_untouched(db: Database, slack: FakeSlack) -> None:
    """ "Allocate as suggested" fills each line as a French reader types it (``800,00``); sent
    untouched, it is read back and recorded as the suggestion."""
    from models.enums import LineChoice
    from tests.slack.test_remittance_flow import _state

    import_csv(db, "partners", io.StringIO("partner_id,name,locale\nP-ACME,Acme Corp,fr-FR\n"))
    add_member(db, "P-ACME", ALICE)
    add_payment(db, "PAY-S", "P-ACME", 130_000, "USD", reference="Remittance INV-8 and INV-9")
    add_invoice(db, "INV-8", "P-ACME", 80_000, "USD")
    add_invoice(db, "INV-9", "P-ACME", 50_000, "USD")
    harness = BotHarness(db, slack)
    try:
        _status, listing, _ = harness.slash(ALICE)
        harness.click(
            ALICE,
            "allocate_suggested:PAY-S",
            message=listing,
            channel_id="C_PARTNER",
            ephemeral=True,
        )
        view = harness.wait_view()
        state = _state(view, "PAY-S", {})
        typed = [
            value["value"]
            for block_id, block in state.items()
            if block_id.startswith("amount")
            for value in block.values()
            if isinstance(value, dict) and value.get("type") == "plain_text_input"
        ]
        assert sorted(typed) == ["500,00", "800,00"]
        status, reply = harness.submit(ALICE, view, state)
        assert status == 200 and reply["response_action"] == "update", reply
        with db.transaction(read_only=True) as session:
            rows = session.execute(
                select(Allocation.invoice_id, Allocation.amount, Allocation.chosen).order_by(
                    Allocation.invoice_id
                )
            ).all()
        assert [tuple(r) for r in rows] == [
            ("INV-8", 80_000, LineChoice.SUGGESTED),
            ("INV-9", 50_000, LineChoice.SUGGESTED),
        ]
    finally:
        harness.close()


def test_the_partner_locale_is_read_once_a_minute_and_a_change_shows_after_it(
    books: Database,
) -> None:
    """Someone whose Slack locale is unknown: their partner's locale is read from the ledger
    once, not on every request; a partners import that changes it shows once the minute has
    passed (on the readers' own clock)."""
    from sqlalchemy import event

    from slackbot.slack.locales import PARTNER_LOCALE_TTL_SECONDS, Readers

    now = [1000.0]
    readers = Readers(books, default_locale="en-US", monotonic=lambda: now[0])
    reads: list[str] = []

    def count(*args: object) -> None:
        if "partners" in str(args[2]):
            reads.append(str(args[2]))

    event.listen(books.engine, "before_cursor_execute", count)
    try:
        assert readers.for_person(ALICE) == "fr-FR"
        for _ in range(20):
            assert readers.for_person(ALICE) == "fr-FR"
        assert len(reads) == 1
        import_csv(
            books, "partners", io.StringIO("partner_id,name,locale\nP-ACME,Acme Corp,en-GB\n")
        )
        now[0] += PARTNER_LOCALE_TTL_SECONDS - 1
        assert readers.for_person(ALICE) == "fr-FR"  # within the minute: what was read
        now[0] += 1
        reads.clear()
        assert readers.for_person(ALICE) == "en-GB"
        assert len(reads) == 1
        readers.forget(ALICE)  # a user_change event: read again at once
        reads.clear()
        assert readers.for_person(ALICE) == "en-GB"
        assert len(reads) == 1
    finally:
        event.remove(books.engine, "before_cursor_execute", count)
        readers.close()
