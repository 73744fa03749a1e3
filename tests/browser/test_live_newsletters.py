"""Headless Chromium: running newsletters, on the list and on their own page, follow what happens elsewhere (here
another connection finishes them, as the phone and the scheduler would) without reloading the page: the list
fetches itself once per period for all its cards, and a newsletter's buttons follow its state without taking
the keyboard focus, waiting while the focus is on one that goes."""
import time

import pytest
from selenium.webdriver.common.by import By
from sqlalchemy import create_engine, update

from smsplatform.campaigns.services import FINISHED
from smsplatform.messaging import statuses
from smsplatform.models import Message, Paket
from smsplatform.timeutil import utcnow
from tests.support.browser import go, sign_up, snap, submit, wait_for

EMAIL = "live-newsletters@example.com"
TITLES = ("First run", "Second run", "Third run")
# Counts the page's own fetches (app.js's live refreshes) from the moment it is run, with their start times.
COUNT_FETCHES = ("window.fetches = []; new PerformanceObserver(function (list) {"
                 " list.getEntries().forEach(function (e) {"
                 " if (e.initiatorType === 'fetch') { window.fetches.push(e.startTime); } }); })"
                 ".observe({type: 'resource'});")


@pytest.fixture(scope="module")
def running(browser, platform) -> dict[str, int]:
    """An account whose phone is switched off, with three running newsletters to one contact each (their
    messages wait for the phone): their ids by title."""
    sign_up(browser, EMAIL)
    [code] = platform.pairing_codes(EMAIL, 1)
    platform.start_phone("Newsletter phone", platform.url, code, poll_seconds=2)
    platform.phone_device_id("Newsletter phone")
    platform.stop_phone("Newsletter phone")
    csv_file = platform.workdir / "live-newsletters.csv"
    csv_file.write_text("phone,name,tags\n+4915100000021,Ada Lovelace,Club\n", encoding="utf-8")
    go(browser, "/contacts/import")
    browser.find_element(By.ID, "file").send_keys(str(csv_file))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    ids = {}
    for title in TITLES:
        go(browser, "/newsletters/new")
        browser.find_element(By.ID, "title").send_keys(title)
        browser.find_element(By.ID, "body").send_keys("Hi {first_name|there}")
        browser.find_element(By.XPATH, "//ul[@id='tag_ids']//label[starts-with(normalize-space(), 'Club')]").click()
        submit(browser, browser.find_element(By.CSS_SELECTOR, "button[value=schedule]"))  # no time: now
        ids[title] = int(browser.current_url.rstrip("/").rsplit("/", 1)[1])
    for title in TITLES:  # the scheduler starts each within seconds
        go(browser, f"/newsletters/{ids[title]}")
        wait_for(browser, lambda b: b.find_element(By.ID, "paket-status").text == "running", 30)
    return ids


def finish_elsewhere(platform, paket_id: int) -> None:
    """The newsletter's messages delivered and the newsletter finished, on another connection."""
    engine = create_engine(platform.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(update(Message.__table__).where(Message.__table__.c.paket_id == paket_id)
                               .values(status=statuses.DELIVERED))
            connection.execute(update(Paket.__table__).where(Paket.__table__.c.id == paket_id)
                               .values(status=FINISHED, finished_at=utcnow()))
    finally:
        engine.dispose()


def action_buttons(browser) -> list[str]:
    return [b.text for b in browser.find_elements(By.CSS_SELECTOR, "#paket-actions button")]


def status_is(words: str):
    def condition(browser) -> bool:
        return browser.find_element(By.ID, "paket-status").text == words
    return condition


def test_the_list_fetches_itself_once_per_period_for_all_its_live_cards(browser, platform, running):
    go(browser, "/newsletters")
    cards = {title: browser.find_element(By.ID, f"paket-{running[title]}-progress") for title in TITLES}
    assert {card.get_attribute("data-live") for card in cards.values()} == {"3"}
    browser.execute_script(COUNT_FETCHES)
    time.sleep(10)
    starts = browser.execute_script("return window.fetches")
    assert 2 <= len(starts) <= 4, starts  # a period of 3 s: one fetch each, not one per card
    assert all(later - earlier > 2500 for earlier, later in zip(starts, starts[1:])), starts

    browser.execute_script("window.sameDocument = true")
    finish_elsewhere(platform, running[TITLES[2]])
    card = cards[TITLES[2]]
    wait_for(browser, lambda b: "finished" in card.text and "1 / 1 done" in card.text, 30)
    assert card.get_attribute("data-live") is None  # nothing left to change on it
    assert {cards[t].get_attribute("data-live") for t in TITLES[:2]} == {"3"}
    assert browser.execute_script("return window.sameDocument === true")


def test_a_newsletter_s_buttons_follow_it_as_it_finishes_and_the_focused_one_keeps_the_focus(
        browser, platform, running):
    paket_id = running[TITLES[0]]
    go(browser, f"/newsletters/{paket_id}")
    assert action_buttons(browser) == ["Pause", "Cancel", "Duplicate"]
    duplicate = browser.find_element(By.XPATH, "//button[normalize-space()='Duplicate']")
    browser.execute_script("window.sameDocument = true; arguments[0].focus()", duplicate)

    finish_elsewhere(platform, paket_id)
    wait_for(browser, lambda b: action_buttons(b) == ["Delete", "Duplicate"], 30)
    snap(browser, "newsletter-finished-buttons")
    assert status_is("finished")(browser) and "Finished" in browser.find_element(By.ID, "paket-facts").text
    assert browser.execute_script("return document.activeElement === arguments[0]", duplicate), (
        browser.execute_script("return document.activeElement.outerHTML"))
    assert browser.execute_script("return window.sameDocument === true")
    assert browser.find_element(By.ID, "paket-actions").get_attribute("data-live") is None


def test_the_buttons_wait_while_the_focus_is_on_one_the_newsletter_no_longer_offers(browser, platform, running):
    """Cancel has the focus when the newsletter finishes: the status says so at once, but Cancel stays (and keeps
    the focus) until the focus moves on; then the buttons follow."""
    paket_id = running[TITLES[1]]
    go(browser, f"/newsletters/{paket_id}")
    cancel = browser.find_element(By.XPATH, "//button[normalize-space()='Cancel']")
    browser.execute_script("arguments[0].focus()", cancel)
    browser.execute_script(COUNT_FETCHES)

    finish_elsewhere(platform, paket_id)
    wait_for(browser, status_is("finished"), 30)
    fetched = len(browser.execute_script("return window.fetches"))
    wait_for(browser, lambda b: len(b.execute_script("return window.fetches")) > fetched, 30)  # and once more
    assert action_buttons(browser) == ["Pause", "Cancel", "Duplicate"]
    assert browser.execute_script("return document.activeElement === arguments[0]", cancel)

    browser.execute_script("arguments[0].blur()", cancel)
    wait_for(browser, lambda b: action_buttons(b) == ["Delete", "Duplicate"], 30)
