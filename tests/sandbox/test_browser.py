"""The sandbox in a real browser: the whole journey a partner and an approver make, on the page.

Headless Chromium and chromedriver from the distribution's packages, driven by Selenium; no
browser is downloaded at test time. Each step leaves a screenshot in test-artifacts/sandbox/
(kept by CI as artifacts). Everything the page shows went through the real bot (``slackbot
serve`` as the sandbox's child), so these steps check the product, not the page alone.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from slackbot.sandbox.command import Sandbox
from slackbot.sandbox.example_data import ADA, CLARA

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts" / "sandbox"
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
INSTALL = "apt-get update && apt-get install -y chromium chromium-driver"
T = TypeVar("T")

# The one skip this project allows: the browser binaries are not installed (never to get green).
pytestmark = pytest.mark.skipif(
    CHROMIUM is None or CHROMEDRIVER is None,
    reason=f"Chromium and chromedriver are not installed; install them with: {INSTALL}",
)


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sandbox]:
    running = Sandbox(port=0, host="127.0.0.1", data_dir=tmp_path_factory.mktemp("sandbox"))
    running.start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in (
        "--headless=new",
        "--no-sandbox",
        "--disable-dev-shm-usage",
        "--disable-gpu",
        "--window-size=1280,1100",
    ):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.implicitly_wait(0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    try:
        yield driver
    finally:
        driver.quit()


def wait_for(find: Callable[[], T], what: str, timeout: float = 15.0) -> T:
    """Poll ``find`` until it returns something truthy (the bot's outbox posts after a pause)."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            found = find()
            if found:
                return found
        except Exception as error:  # a redraw replaced the element mid-read: read again
            last = error
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}" + (f" ({last})" if last else ""))


def clicked(element: Any) -> bool:
    """Click ``element`` (None: not there yet). Inside ``wait_for``, a redraw that replaced the
    element between finding and clicking it (a stale reference) finds it again and retries."""
    if element is None:
        return False
    element.click()
    return True


def afresh(read: Callable[[], T]) -> T:
    """``read()``, again from the start when the page redrew the elements it was reading (the
    page re-renders a channel's messages as the bot's outbox edits them)."""
    from selenium.common.exceptions import StaleElementReferenceException

    for _ in range(50):
        try:
            return read()
        except StaleElementReferenceException:
            time.sleep(0.05)
    return read()


def shot(driver: Any, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def by_css(driver: Any, selector: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(driver.find_elements(By.CSS_SELECTOR, selector))


def open_as(driver: Any, sandbox: Sandbox, user: str, pane: str) -> None:
    driver.get(f"{sandbox.url}?as={user}&pane={pane}")
    wait_for(lambda: by_css(driver, "#pane-title"), "the page")


def slash(driver: Any, text: str) -> None:
    composer = by_css(driver, "#composer")[0]
    composer.send_keys(text + "\n")


def main_text(driver: Any) -> str:
    return str(by_css(driver, "#main")[0].text)


def modal_text(driver: Any) -> str:
    found = by_css(driver, "#modal .modal")
    return str(found[0].text) if found else ""


def test_a_partner_allocates_and_an_approver_approves_on_the_page(
    sandbox: Sandbox, browser: Any
) -> None:
    # 1. Ada lists her payments: the bot's ephemeral reply, with an Allocate button on each.
    open_as(browser, sandbox, ADA.user_id, "dm")
    shot(browser, "01-partner-dm")
    slash(browser, "/payments")
    wait_for(lambda: "PAY-1006" in main_text(browser), "the list reply")
    assert "Only visible to you" in main_text(browser)
    assert "300.00 USD left to allocate" in main_text(browser)
    shot(browser, "02-payments-list")

    # 2. Allocate on PAY-1006 opens the real modal (views.open with the click's trigger_id).
    wait_for(
        lambda: clicked(
            next(
                (
                    b
                    for b in by_css(browser, ".ephemeral button")
                    if b.text.strip() == "Allocate"
                    and (b.get_attribute("data-action-id") or "").endswith("PAY-1006")
                ),
                None,
            )
        ),
        "PAY-1006's Allocate button",
    )
    wait_for(lambda: "PAY-1006" in modal_text(browser), "the allocation modal")
    shot(browser, "03-allocation-modal")

    # 3. Typing in the invoice menu loads its options from the bot (block_suggestion).
    query = wait_for(lambda: by_css(browser, "#modal .bk-external-query"), "the invoice menu")[0]
    query.send_keys("INV")
    wait_for(lambda: by_css(browser, "#modal .bk-options[data-loaded-for='INV']"), "options")
    wait_for(
        lambda: next(
            (o for o in by_css(browser, "#modal .bk-option") if o.text.startswith("INV-8")), None
        ),
        "INV-8 among the options",
    )
    shot(browser, "04-invoice-options")
    wait_for(
        lambda: clicked(
            next(
                (o for o in by_css(browser, "#modal .bk-option") if o.text.startswith("INV-8")),
                None,
            )
        ),
        "INV-8 clicked",
    )
    # Choosing dispatches block_actions; the bot redraws the modal with the amount filled in.
    amount = wait_for(
        lambda: next(
            (
                i
                for i in by_css(browser, "#modal input.bk-text")
                if (i.get_attribute("value") or "") == "300.00"
            ),
            None,
        ),
        "the amount the bot proposes for INV-8",
    )
    assert amount is not None
    shot(browser, "05-invoice-chosen")
    by_css(browser, "#modal-submit")[0].click()
    wait_for(lambda: "Request sent" in modal_text(browser), "the bot's 'Request sent' modal")
    shot(browser, "06-request-sent")
    by_css(browser, "#modal button[value=close]")[0].click()
    wait_for(lambda: not modal_text(browser), "the modal to close")

    # 4. Clara, a billing approver, sees the request in #billing and approves it.
    open_as(browser, sandbox, CLARA.user_id, "billing")

    def request_message() -> Any:
        return next(
            (
                b
                for b in by_css(browser, "#main .msg")
                if "PAY-1006" in b.text and button_in(b, "Approve")
            ),
            None,
        )

    def approved_message() -> Any:
        return next(
            (
                m
                for m in by_css(browser, "#main .msg")
                if "PAY-1006" in m.text and "Approved by @Clara Oswald" in m.text
            ),
            None,
        )

    wait_for(request_message, "the request for PAY-1006 in #billing")
    afresh(lambda: browser.execute_script("arguments[0].scrollIntoView()", request_message()))
    shot(browser, "07-billing-request")
    wait_for(lambda: clicked(button_in(request_message(), "Approve")), "the Approve button")
    # The button asks first, as its confirm dialog says.
    ok = wait_for(lambda: by_css(browser, "#confirm-dialog[open] #confirm-ok"), "the confirm")[0]
    shot(browser, "08-confirm-dialog")
    ok.click()
    wait_for(approved_message, "the billing message updated to Approved")
    assert afresh(lambda: button_in(approved_message(), "Approve")) is None
    afresh(lambda: browser.execute_script("arguments[0].scrollIntoView()", approved_message()))
    shot(browser, "09-billing-approved")

    # 5. Ada gets a DM with the decision.
    open_as(browser, sandbox, ADA.user_id, "dm")
    wait_for(
        lambda: any(
            "PAY-1006" in m.text and "Approved" in m.text
            for m in by_css(browser, "#main .msg:not(.ephemeral .msg)")
        ),
        "Ada's DM with the approval",
    )
    shot(browser, "10-partner-dm-approved")


def button_in(element: Any, label: str) -> Any:
    from selenium.webdriver.common.by import By

    for candidate in element.find_elements(By.CSS_SELECTOR, "button"):
        if candidate.text.strip() == label:
            return candidate
    return None


def test_a_refused_amount_is_shown_inline_in_the_modal(sandbox: Sandbox, browser: Any) -> None:
    open_as(browser, sandbox, ADA.user_id, "dm")
    slash(browser, "/payments allocate PAY-1001")
    wait_for(lambda: "PAY-1001" in modal_text(browser), "the allocation modal for PAY-1001")
    query = wait_for(lambda: by_css(browser, "#modal .bk-external-query"), "the invoice menu")[0]
    query.send_keys("INV-9")
    wait_for(lambda: by_css(browser, "#modal .bk-options[data-loaded-for='INV-9']"), "options")
    wait_for(
        lambda: clicked(
            next(
                (o for o in by_css(browser, "#modal .bk-option") if o.text.startswith("INV-9")),
                None,
            )
        ),
        "INV-9 among the options",
    )
    amount = wait_for(
        lambda: next(
            (
                i
                for i in by_css(browser, "#modal input.bk-text")
                if (i.get_attribute("value") or "") == "450.00"
            ),
            None,
        ),
        "the amount the bot proposes for INV-9",
    )
    amount.clear()
    amount.send_keys("999.00")
    shot(browser, "11-refusal-typed")
    by_css(browser, "#modal-submit")[0].click()
    error = wait_for(lambda: by_css(browser, "#modal .bk-error"), "the inline refusal")[0]
    assert "INV-9 has 450.00 USD left to pay" in error.text
    assert "999.00" in error.text
    # The modal stays open with what was typed, as Slack keeps it.
    assert any(
        (i.get_attribute("value") or "") == "999.00" for i in by_css(browser, "#modal input")
    )
    shot(browser, "12-refusal-inline")
