"""One mapping from a refusal to each surface: the words, the modal field, ack or response_url."""

from __future__ import annotations

import datetime as dt
import json
import logging
from typing import Any

import pytest
from slack_bolt import Ack, Respond

from slackbot.errors import AlreadyDecided, InsufficientFunds, InvalidInput, Unavailable
from slackbot.ledger.membership import Person
from slackbot.slack import refusals
from slackbot.slack.refusals import UNAVAILABLE_TEXT, UNEXPECTED_TEXT, modal_errors, refusal_text
from tests.support.slack_stub import FakeSlack

DECIDED = dt.datetime(2026, 11, 3, 14, 5, tzinfo=dt.UTC)
DECIDED_TOKEN = "<!date^1793714700^{date_short_pretty} at {time}|2026-11-03 14:05 UTC>"
TOO_MUCH = InsufficientFunds("amount", "INV-1 has 120.00 USD left to pay; you entered 150.00 USD.")


def _decided() -> AlreadyDecided:
    return AlreadyDecided(
        "already", allocation_id=7, status="approved", decided_by="U0BOB", decided_at=DECIDED
    )


def test_each_refusal_has_its_words() -> None:
    assert refusal_text(TOO_MUCH) == TOO_MUCH.message
    assert (
        refusal_text(_decided())
        == f"Already approved by <@U0BOB> at {DECIDED_TOKEN}. Nothing changed."
    )
    # A modal's errors are plain text: no mention or date token that would show raw.
    assert refusal_text(_decided(), plain=True) == (
        "Already approved at 2026-11-03 14:05 UTC. Nothing changed."
    )
    assert refusal_text(Unavailable()) == UNAVAILABLE_TEXT
    assert refusal_text(KeyError("payment_id")) == UNEXPECTED_TEXT


def test_a_modal_refusal_goes_on_the_block_at_fault() -> None:
    redrawn = {"blocks": [{"type": "input", "block_id": "amount:PAY-1:INV-1"}]}
    fields = ("payment", "invoice", "amount", "note")
    assert modal_errors(TOO_MUCH, redrawn, fields=fields, default="payment") == {
        "amount:PAY-1:INV-1": TOO_MUCH.message
    }
    assert modal_errors(TOO_MUCH, {"blocks": []}, fields=fields, default="payment") == {
        "amount": TOO_MUCH.message
    }
    # No field of this modal (or none at all): the default block says it.
    allocation = InvalidInput("allocation", "This form no longer names a request.")
    assert modal_errors(allocation, {}, fields=(), default="reason") == {
        "reason": "This form no longer names a request."
    }
    assert modal_errors(Unavailable(), {}, fields=fields, default="payment") == {
        "payment": UNAVAILABLE_TEXT
    }


def _texts(message: dict[str, Any]) -> str:
    return "\n".join(block["text"]["text"] for block in message["blocks"])


def test_a_refusal_before_the_ack_is_the_ack(slack: FakeSlack) -> None:
    @refusals.answer_privately
    def listener(ack: Ack, respond: Respond) -> None:
        raise TOO_MUCH

    ack = Ack()
    listener(ack=ack, respond=Respond(response_url=slack.response_url("r1")))
    assert ack.response is not None and ack.response.status == 200
    assert "INV-1 has 120.00 USD left to pay" in ack.response.body
    assert slack.calls_to("response_url") == []


def test_a_refusal_after_the_ack_is_a_private_reply(slack: FakeSlack) -> None:
    @refusals.answer_privately
    def listener(ack: Ack, respond: Respond) -> None:
        ack()
        raise TOO_MUCH

    listener(ack=Ack(), respond=Respond(response_url=slack.response_url("r1")))
    [reply] = slack.calls_to("response_url")
    assert reply.params["response_type"] == "ephemeral"
    assert reply.params["replace_original"] is False
    assert f"⚠️ {TOO_MUCH.message}" in _texts(reply.params)


def test_an_options_load_refused_offers_nothing() -> None:
    @refusals.answer_with_no_options
    def listener(ack: Ack) -> None:
        raise Unavailable()

    ack = Ack()
    listener(ack=ack)
    assert ack.response is not None and ack.response.body == '{"options": []}'


def test_a_submission_refused_shows_the_field_error() -> None:
    @refusals.answer_in_modal(fields=("amount",), default="payment")
    def listener(ack: Ack, view: dict[str, Any]) -> None:
        raise TOO_MUCH

    ack = Ack()
    listener(ack=ack, view={"blocks": [{"block_id": "amount"}]})
    assert ack.response is not None
    assert '"response_action": "errors"' in ack.response.body
    assert '"amount": "INV-1 has 120.00 USD left to pay' in ack.response.body


def test_a_listener_that_cannot_take_its_surface_is_refused_at_import() -> None:
    with pytest.raises(TypeError, match="must take respond"):

        @refusals.answer_privately
        def listener(ack: Ack) -> None:  # pragma: no cover - never registered
            ack()


def test_an_unforeseen_failure_is_logged_and_the_person_still_reads_a_sentence(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    @refusals.answer_privately
    def listener(ack: Ack, respond: Respond) -> None:
        raise RuntimeError("a bug")

    ack = Ack()
    with caplog.at_level(logging.ERROR, logger="handlers"):
        listener(ack=ack, respond=Respond(response_url=slack.response_url("r1")))
    assert ack.response is not None and ack.response.status == 200  # Slack got its ack
    [reply] = slack.calls_to("response_url")
    assert UNEXPECTED_TEXT in _texts(reply.params)
    assert "a bug" not in _texts(reply.params)
    [record] = [r for r in caplog.records if r.name == "handlers"]
    assert record.getMessage() == "listener listener failed" and record.exc_info


# ------------------------------------------------------------------ in the reader's language


class _Bilingual(InvalidInput):
    """A refusal that can say itself in French, as DomainError.text_in does."""

    def __init__(self) -> None:
        super().__init__("amount", "Enter an amount.")

    def text_in(self, locale: str) -> str:
        return "Saisissez un montant." if locale.startswith("fr") else self.message


class _Broken(InvalidInput):
    def text_in(self, locale: str) -> str:
        raise RuntimeError("no catalog")


def test_a_refusal_is_shown_in_the_readers_language() -> None:
    assert refusal_text(_Bilingual(), locale="fr-FR") == "Saisissez un montant."
    assert refusal_text(_Bilingual()) == "Enter an amount."
    # An error without text_in, or whose text_in fails, still says its English message.
    assert refusal_text(TOO_MUCH, locale="fr-FR") == TOO_MUCH.message
    assert refusal_text(_Broken("amount", "Too much."), locale="fr-FR") == "Too much."
    assert refusal_text(Unavailable(), locale="fr-FR").startswith(
        "Le registre des paiements ne répond pas"
    )
    assert refusal_text(KeyError("x"), locale="fr-FR").startswith("Un problème est survenu")
    assert refusal_text(_decided(), plain=True, locale="fr-FR") == (
        "Déjà approuvée, 3 nov. 2026, 14:05 UTC. Rien n’a changé."
    )


def test_the_decorators_read_the_locale_bolt_puts_in_the_context(slack: FakeSlack) -> None:
    @refusals.answer_privately
    def listener(ack: Ack, respond: Respond, context: dict[str, Any]) -> None:
        raise Unavailable()

    ack = Ack()
    listener(
        ack=ack,
        respond=Respond(response_url=slack.response_url("r1")),
        context={"locale": "fr-FR"},
    )
    assert ack.response is not None
    assert "Le registre des paiements ne répond pas" in json.loads(ack.response.body)["text"]

    @refusals.answer_in_modal(fields=("amount",), default="payment")
    def submitted(ack: Ack, view: dict[str, Any], context: dict[str, Any]) -> None:
        raise _Bilingual()

    ack = Ack()
    submitted(ack=ack, view={"blocks": [{"block_id": "amount"}]}, context={"locale": "fr-FR"})
    assert ack.response is not None
    assert json.loads(ack.response.body)["errors"] == {"amount": "Saisissez un montant."}
    # No locale in the context (or no context): the default language.
    ack = Ack()
    submitted(ack=ack, view={"blocks": [{"block_id": "amount"}]}, context={})
    assert ack.response is not None and "Enter an amount." in ack.response.body


def test_not_linked_in_french_names_the_workspace() -> None:
    person = Person(user_id="U0ALICE", team_id="T01ABC", team_domain="acme")
    message = refusals.not_linked_message(person, locale="fr-FR")
    text = _texts(message)
    assert "Votre compte Slack n’est encore associé à aucun partenaire" in text
    assert "l’espace de travail Slack *acme* (T01ABC)" in text
    assert "`U0ALICE`" in text and "`T01ABC`" in text
    english = refusals.not_linked_message(person)
    assert "You are using the Slack workspace *acme* (T01ABC)" in _texts(english)
