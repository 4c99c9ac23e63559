"""What a French reader sees: French words, CLDR amounts and dates; English exactly as before."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import pytest

from models.schemas import AllocationSummary, PaymentSummary
from slackbot.i18n import DEFAULT_LOCALE
from slackbot.i18n.catalog import PSEUDO_LOCALE
from slackbot.i18n.numbers import display_count, display_money, utc_fallback
from slackbot.slack import views
from slackbot.slack.views.text import clip, local_time

NBSP, NNBSP = "\u00a0", "\u202f"
REQUESTED = dt.datetime(2026, 11, 2, 9, 15, tzinfo=dt.UTC)
DECIDED = dt.datetime(2026, 11, 3, 14, 5, tzinfo=dt.UTC)


def payment(payment_id: str = "PAY-1", **changes: Any) -> PaymentSummary:
    values: dict[str, Any] = {
        "payment_id": payment_id,
        "partner_id": "P1",
        "partner_name": "Acme Corp",
        "currency": "USD",
        "amount": 125_000,
        "allocated": 0,
        "pending": 0,
        "received_on": dt.date(2026, 11, 1),
        "reference": "Wire 4471",
    }
    values.update(changes)
    return PaymentSummary(**values)


def allocation(status: str = "pending", **changes: Any) -> AllocationSummary:
    decided = status != "pending"
    values: dict[str, Any] = {
        "allocation_id": 7,
        "payment_id": "PAY-1",
        "invoice_id": "INV-1001",
        "partner_id": "P1",
        "partner_name": "Acme Corp",
        "currency": "USD",
        "amount": 125_000,
        "status": status,
        "note": None,
        "requested_by": "U01",
        "requested_at": REQUESTED,
        "decided_by": "U02" if decided else None,
        "decided_at": DECIDED if decided else None,
        "reason": "Mauvaise facture" if status == "rejected" else None,
        "reversed_by": "U03" if status == "reversed" else None,
        "reversed_at": DECIDED if status == "reversed" else None,
        "reversal_reason": "Virement rappelé" if status == "reversed" else None,
        "payment_unallocated": 0,
        "payment_pending": 125_000 if status == "pending" else 0,
        "invoice_amount_due": 200_000,
        "invoice_pending": 125_000 if status == "pending" else 0,
    }
    values.update(changes)
    return AllocationSummary(**values)


def shown(payload: Any) -> str:
    """Every text of a payload, one per line (the order Slack shows them in)."""
    found: list[str] = []

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for key, value in obj.items():
                if key == "text" and isinstance(value, str):
                    found.append(value)
                else:
                    walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)

    walk(payload)
    return "\n".join(found)


# --------------------------------------------------------------------------- the one money rule


@pytest.mark.parametrize(
    ("minor", "currency", "locale", "expected"),
    [
        (125_000, "USD", "en-US", "1,250.00 USD"),
        (125_000, "USD", "en-GB", "1,250.00 USD"),
        (125_000, "EUR", "en", "1,250.00 EUR"),
        (125_000, "JPY", "en-US", "125,000 JPY"),
        (125_000, "USD", PSEUDO_LOCALE, "1,250.00 USD"),
        (125_000, "USD", "fr-FR", f"1{NNBSP}250,00{NBSP}$US"),
        (125_000, "EUR", "fr-FR", f"1{NNBSP}250,00{NBSP}€"),
        (125_000, "CAD", "fr-CA", f"1{NBSP}250,00{NBSP}$"),
        (1_250_500, "KWD", "fr-FR", f"1{NNBSP}250,500{NBSP}KWD"),
    ],
)
def test_display_money_is_iso_code_in_english_and_cldr_elsewhere(
    minor: int, currency: str, locale: str, expected: str
) -> None:
    assert display_money(minor, currency, locale) == expected


def test_counts_and_utc_fallbacks_follow_the_locale() -> None:
    assert display_count(12_345, "en-US") == "12,345"
    assert display_count(12_345, "fr-FR") == f"12{NNBSP}345"
    assert utc_fallback(DECIDED, "en-US") == "2026-11-03 14:05 UTC"
    assert utc_fallback(DECIDED, "fr-FR") == "3 nov. 2026, 14:05 UTC"


def test_a_slack_date_reads_at_in_english_and_a_in_french() -> None:
    stamp = int(DECIDED.timestamp())
    assert local_time(DECIDED) == (
        f"<!date^{stamp}^{{date_short_pretty}} at {{time}}|2026-11-03 14:05 UTC>"
    )
    assert local_time(DECIDED, locale="fr-FR") == (
        f"<!date^{stamp}^{{date_short_pretty}} à {{time}}|3 nov. 2026, 14:05 UTC>"
    )
    assert local_time(None, locale="fr-FR") == "un moment antérieur"


def test_clip_cuts_between_words_and_ids_where_the_limit_falls() -> None:
    assert clip("Affecter un paiement reçu", 24) == "Affecter un paiement…"
    assert clip("A title far longer than the limit", 24) == "A title far longer than…"
    assert clip("PAY-" + "0" * 40, 10) == "PAY-00000…"
    assert clip("short", 24) == "short"


# --------------------------------------------------------------------------- French views


def test_the_payments_list_in_french() -> None:
    message = views.payments_message(
        [payment(), payment("PAY-2", amount=50_000, pending=10_000)], locale="fr-FR"
    )
    text = shown(message)
    assert message["text"] == "Vous avez 2 paiements avec un montant restant à affecter."
    assert "*Vos paiements avec un montant restant à affecter* (2) · Acme Corp" in text
    assert "*PAY-1* · reçu le 1 nov. 2026 · réf. Wire 4471" in text
    assert f"*1{NNBSP}250,00{NBSP}$US* restant à affecter sur 1{NNBSP}250,00{NBSP}$US" in text
    assert f"🕒 100,00{NBSP}$US en attente d’approbation par la facturation" in text
    assert "Affecter" in [b["accessory"]["text"]["text"] for b in message["blocks"][1:3]]
    # No English sentence is left.
    for english in ("left to allocate", "received", "pending billing", "Allocate"):
        assert english not in text, english


def test_the_payments_list_in_english_is_as_before() -> None:
    text = shown(views.payments_message([payment()], locale="en-US"))
    assert "*PAY-1* · received 2026-11-01 · ref Wire 4471" in text
    assert "*1,250.00 USD* left to allocate of 1,250.00 USD" in text
    assert views.payments_message([payment()]) == views.payments_message(
        [payment()], locale=DEFAULT_LOCALE
    )


def test_the_billing_message_in_french() -> None:
    message = views.billing_message(allocation("pending"), locale="fr-FR")
    text = shown(message)
    assert message["text"] == (
        f"Demande d’affectation n° 7 de Acme Corp{NBSP}: 1{NNBSP}250,00{NBSP}$US de PAY-1 vers"
        " INV-1001 (En attente d’approbation)"
    )
    assert message["blocks"][0]["text"]["text"] == "Demande d’affectation n° 7"
    for field in ("*Partenaire*", "*Demandée par*", "*Montant*", "*Paiement*", "*Facture*"):
        assert field in text
    assert f"*Montant*\n1{NNBSP}250,00{NBSP}$US" in text
    assert "{date_short_pretty} à {time}|2 nov. 2026, 09:15 UTC" in text
    assert f"INV-1001 a *2{NNBSP}000,00{NBSP}$US* restant dû" in text
    assert f"Si la demande est approuvée, INV-1001 aura 750,00{NBSP}$US restant dû." in text
    buttons = message["blocks"][-1]["elements"]
    assert [b["text"]["text"] for b in buttons] == ["Approuver", "Refuser…"]
    assert buttons[0]["confirm"]["title"]["text"] == f"Approuver la demande n° 7{NNBSP}?"


def test_a_rejection_in_french_names_the_reason() -> None:
    message = views.decision_message(allocation("rejected"), locale="fr-FR")
    text = shown(message)
    assert "a été refusée par <@U02>" in text
    assert "*Motif*\n>Mauvaise facture" in text
    assert "de nouveau disponibles sur PAY-1" in text


def test_the_modals_in_french_fit_their_titles() -> None:
    modal = views.allocation_modal([payment()], selected=payment(), locale="fr-FR")
    assert modal["title"]["text"] == "Affecter un paiement"
    assert modal["submit"]["text"] == "Demander"
    assert modal["close"]["text"] == "Annuler"
    reject = views.reject_modal(allocation("pending"), locale="fr-FR")
    assert reject["title"]["text"] == "Refuser la demande"
    assert reject["blocks"][-1]["label"]["text"] == "Motif"


def test_plurals_in_french_count_zero_and_one_as_singular() -> None:
    one = views.history_message([allocation("approved")] * 1, locale="fr-FR")
    assert "Vos demandes d’affectation récentes" in shown(one)
    assert views.home.age(dt.timedelta(days=1), locale="fr-FR") == "1 jour"
    assert views.home.age(dt.timedelta(days=2, hours=3), locale="fr-FR") == "2 jours 3 h"


def test_already_decided_in_french() -> None:
    text = views.already_decided_text("approved", "U0BOB", DECIDED, locale="fr-FR")
    assert text.startswith("Déjà approuvée par <@U0BOB>, <!date^")
    assert text.endswith(". Rien n’a changé.")
    plain = views.already_decided_text("approved", "U0BOB", DECIDED, plain=True, locale="fr-FR")
    assert plain == "Déjà approuvée, 3 nov. 2026, 14:05 UTC. Rien n’a changé."


def test_every_builder_in_french_is_valid_json_with_no_english_status_words() -> None:
    for status in ("pending", "approved", "rejected", "cancelled", "reversed"):
        a = allocation(status)
        for build in (views.billing_message, views.receipt_message, views.decision_message):
            text = shown(json.loads(json.dumps(build(a, locale="fr-FR"))))
            for english in ("Approved by", "Rejected by", "Waiting for", "left to pay"):
                assert english not in text, (build.__name__, status, english)
