"""Whose language: the person's Slack locale (cached, bounded), the partner's, the default."""

from __future__ import annotations

import threading
import time

import pytest

from slackbot.i18n.choice import LocaleChooser

# The chooser's 0.3 s deadline is real time: under another test process on the same two cores a
# Slack answer can miss it, so the README's test command runs these alone.
pytestmark = pytest.mark.solo


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Slack:
    """A users.info stand-in: answers from a table, counts questions, can fail or be slow."""

    def __init__(self, locales: dict[str, str | None], *, delay: float = 0.0) -> None:
        self.locales = locales
        self.delay = delay
        self.asked: list[str] = []
        self.failing = False
        self._lock = threading.Lock()

    def __call__(self, user_id: str) -> str | None:
        with self._lock:
            self.asked.append(user_id)
        if self.delay:
            time.sleep(self.delay)
        if self.failing:
            raise ConnectionError("users.info: timed out")
        return self.locales.get(user_id)


@pytest.fixture
def clock():
    return Clock()


def chooser(slack: Slack, clock: Clock, **kwargs) -> LocaleChooser:
    made = LocaleChooser(slack, clock=clock, **kwargs)
    return made


def wait_until(condition, seconds: float = 5.0) -> None:
    end = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > end:
            raise AssertionError("condition not reached in time")
        time.sleep(0.01)


def test_the_persons_slack_locale_wins_over_the_partners(clock):
    slack = Slack({"U1": "fr-FR"})
    assert chooser(slack, clock).locale_for("U1", "en-GB") == "fr-FR"


def test_without_a_slack_locale_the_partners_then_the_default(clock):
    slack = Slack({"U1": None})
    choose = chooser(slack, clock, default="en-US")
    assert choose.locale_for("U1", "fr-FR") == "fr-FR"
    assert choose.locale_for("U1", None) == "en-US"
    assert choose.locale_for("U1", "") == "en-US"


def test_no_user_id_asks_nobody(clock):
    slack = Slack({})
    choose = chooser(slack, clock)
    assert choose.locale_for(None, "fr-FR") == "fr-FR"
    assert choose.locale_for("", None) == "en-US"
    assert slack.asked == []


def test_an_answer_is_cached_so_slack_is_asked_once(clock):
    slack = Slack({"U1": "fr-FR"})
    choose = chooser(slack, clock)
    for _ in range(5):
        assert choose.locale_for("U1", None) == "fr-FR"
    assert slack.asked == ["U1"]


def test_the_cache_expires_after_its_ttl(clock):
    slack = Slack({"U1": "fr-FR"})
    choose = chooser(slack, clock, ttl_seconds=3600)
    assert choose.locale_for("U1", None) == "fr-FR"
    slack.locales["U1"] = "de-DE"  # the person changed their Slack language
    clock.now += 3599
    assert choose.locale_for("U1", None) == "fr-FR"
    clock.now += 2
    assert choose.locale_for("U1", None) == "de-DE"
    assert slack.asked == ["U1", "U1"]


def test_the_cache_holds_at_most_max_entries_dropping_the_least_recently_used(clock):
    slack = Slack({f"U{i}": "fr-FR" for i in range(10)})
    choose = chooser(slack, clock, max_entries=3)
    for user in ("U0", "U1", "U2"):
        choose.locale_for(user, None)
    choose.locale_for("U0", None)  # U0 used again: U1 is now the oldest
    choose.locale_for("U3", None)
    assert len(choose) == 3
    assert choose.cached("U1") is None
    assert [choose.cached(u) for u in ("U0", "U2", "U3")] == ["fr-FR"] * 3
    choose.locale_for("U1", None)
    assert slack.asked.count("U1") == 2


def test_a_slow_lookup_answers_with_the_fallback_within_the_deadline_and_fills_the_cache():
    slack = Slack({"U1": "fr-FR"}, delay=2.0)
    choose = LocaleChooser(slack)  # production defaults: 0.3 s deadline
    started = time.monotonic()
    assert choose.locale_for("U1", "de-DE") == "de-DE"
    assert time.monotonic() - started < 0.5
    started = time.monotonic()
    assert choose.locale_for("U1", None) == "en-US"  # still in flight: no second question
    assert time.monotonic() - started < 0.5
    wait_until(lambda: choose.cached("U1") is not None)
    assert choose.locale_for("U1", "de-DE") == "fr-FR"
    assert slack.asked == ["U1"]
    choose.close()


def test_a_fast_lookup_is_used_on_the_first_call():
    slack = Slack({"U1": "fr-FR"}, delay=0.05)
    assert LocaleChooser(slack).locale_for("U1", "de-DE") == "fr-FR"


def test_a_failure_falls_back_at_once_and_is_cached_briefly(clock):
    slack = Slack({"U1": "fr-FR"})
    slack.failing = True
    choose = chooser(slack, clock, negative_ttl_seconds=60)
    assert choose.locale_for("U1", "de-DE") == "de-DE"
    assert choose.locale_for("U1", None) == "en-US"
    assert slack.asked == ["U1"]  # the failure is remembered: Slack is not asked again
    slack.failing = False
    clock.now += 61
    assert choose.locale_for("U1", None) == "fr-FR"
    assert slack.asked == ["U1", "U1"]


def test_a_lookup_that_fails_slowly_does_not_delay_the_answer():
    slack = Slack({}, delay=1.0)
    slack.failing = True
    choose = LocaleChooser(slack)
    started = time.monotonic()
    assert choose.locale_for("U1", "fr-FR") == "fr-FR"
    assert time.monotonic() - started < 0.5
    wait_until(lambda: len(choose) == 1)
    assert choose.cached("U1") is None
    assert choose.locale_for("U1", "fr-FR") == "fr-FR"
    assert slack.asked == ["U1"]


@pytest.mark.parametrize("answer", ["", "   ", 42, {"locale": "fr-FR"}])
def test_a_malformed_answer_is_treated_as_none(clock, answer):
    choose = chooser(lambda user_id: answer, clock)
    assert choose.locale_for("U1", "fr-FR") == "fr-FR"


def test_forget_asks_again(clock):
    slack = Slack({"U1": "fr-FR"})
    choose = chooser(slack, clock)
    choose.locale_for("U1", None)
    choose.forget("U1")
    choose.locale_for("U1", None)
    assert slack.asked == ["U1", "U1"]


def test_many_threads_at_once_ask_slack_once_per_person():
    slack = Slack({f"U{i}": "fr-FR" for i in range(20)}, delay=0.05)
    choose = LocaleChooser(slack, deadline_seconds=2.0)
    answers: list[str] = []
    lock = threading.Lock()

    def ask(user: str) -> None:
        found = choose.locale_for(user, None)
        with lock:
            answers.append(found)

    threads = [threading.Thread(target=ask, args=(f"U{i % 20}",)) for i in range(200)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert answers == ["fr-FR"] * 200
    assert sorted(slack.asked) == sorted(f"U{i}" for i in range(20))
    choose.close()


def test_when_slack_is_slow_for_everyone_the_queue_stays_bounded():
    release = threading.Event()

    def stuck(user_id: str) -> str:
        release.wait(5)
        return "fr-FR"

    choose = LocaleChooser(stuck, deadline_seconds=0.0, max_pending=3, workers=1)
    try:
        for i in range(10):
            assert choose.locale_for(f"U{i}", "de-DE") == "de-DE"
        assert len(choose._pending) == 3
    finally:
        release.set()
        choose.close()
