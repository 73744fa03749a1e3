"""Headless Chromium: the messages list refreshes itself in place while statuses on it can still change
(messages waiting for their phone, which may come back any moment), keeping the boxes a user has ticked and
the element that has the keyboard focus. The change comes from another connection (as another tab, the
phone or the scheduler would make it); the page is never reloaded."""
from selenium.common.exceptions import StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from sqlalchemy import create_engine, text

from smsplatform.messaging import statuses
from tests.support.browser import go, left_the_page, sign_up, sign_up_with_waiting_messages, snap, wait_for


def row_of(browser, phone: str):
    return browser.find_element(By.XPATH, f"//table[contains(@class, 'messages')]//tr[contains(., '{phone}')]")


def shows(phone: str, words: str):
    """A wait condition: the row of ``phone`` says ``words`` (a row swapped out while read is asked again)."""
    def condition(browser) -> bool:
        try:
            return words in row_of(browser, phone).text
        except StaleElementReferenceException:
            return False
    return condition


def cancel_elsewhere(platform, phone: str) -> None:
    """Another tab cancels the message to ``phone`` (its own connection to the database)."""
    engine = create_engine(platform.database_url)
    try:
        with engine.begin() as connection:
            connection.execute(text("UPDATE messages SET status = :cancelled WHERE phone = :phone"),
                               {"cancelled": statuses.CANCELLED, "phone": phone})
    finally:
        engine.dispose()


def test_the_messages_list_shows_a_status_changed_elsewhere_and_keeps_the_ticked_boxes(browser, platform):
    sign_up_with_waiting_messages(browser, platform, "live@example.com", "+4915752982214", "+4915752982215")
    assert browser.current_url.endswith("/messages")
    assert browser.find_element(By.ID, "message-list").get_attribute("data-live") == "5"
    browser.execute_script("window.sameDocument = true")  # gone if the page were loaded again
    kept = row_of(browser, "+4915752982214")
    kept.find_element(By.CSS_SELECTOR, "input[type=checkbox]").click()
    assert "New" in row_of(browser, "+4915752982215").text

    cancel_elsewhere(platform, "+4915752982215")
    wait_for(browser, shows("+4915752982215", "cancelled"), 30)
    snap(browser, "messages-live")
    assert browser.execute_script("return window.sameDocument === true")
    assert row_of(browser, "+4915752982214").find_element(By.CSS_SELECTOR, "input[type=checkbox]").is_selected()
    assert not row_of(browser, "+4915752982215").find_elements(By.CSS_SELECTOR, "input[type=checkbox]")
    # The ticked box still works as before: the page's own form cancels it, after the confirmation.
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.XPATH, "//button[normalize-space()='Cancel selected']").click()
    browser.switch_to.alert.accept()
    wait_for(browser, left_the_page(old))
    assert "1 message cancelled" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert "cancelled" in row_of(browser, "+4915752982214").text


def test_the_devices_page_shows_a_phone_paired_while_it_is_open(browser, platform):
    sign_up(browser, "first-phone@example.com")
    go(browser, "/devices")
    assert "No phone is paired yet" in browser.find_element(By.ID, "device-list").text
    browser.execute_script("window.sameDocument = true")
    [code] = platform.pairing_codes("first-phone@example.com", 1)
    platform.start_phone("First phone", platform.url, code, poll_seconds=2)

    def listed(b) -> bool:
        try:
            return "First phone" in b.find_element(By.ID, "device-list").text
        except StaleElementReferenceException:
            return False
    wait_for(browser, listed, 45)
    assert browser.execute_script("return window.sameDocument === true")


def test_a_refresh_between_another_tabs_action_and_its_page_leaves_that_pages_message(browser, platform):
    """Another tab cancels a message; its confirmation waits in the session for the page its redirect leads
    to. A live refresh that comes in between must not take it."""
    sign_up_with_waiting_messages(browser, platform, "flash@example.com", "+4915752982216", "+4915752982217")
    first = row_of(browser, "+4915752982216").find_element(By.CSS_SELECTOR, "input[type=checkbox]")
    browser.execute_script(  # the other tab's form post, its redirect not followed yet
        "var form = document.getElementById('cancel-form'), data = new FormData();"
        "data.append('csrf_token', form.elements.csrf_token.value); data.append('message_ids', arguments[0]);"
        "window.posted = null; fetch(form.action, {method: 'POST', body: data, redirect: 'manual'})"
        ".then(function (r) { window.posted = r.type; });", first.get_attribute("value"))
    wait_for(browser, lambda b: b.execute_script("return window.posted") == "opaqueredirect")
    wait_for(browser, shows("+4915752982216", "cancelled"), 30)  # the list has refreshed since
    go(browser, "/messages")
    assert "1 message cancelled" in browser.find_element(By.CSS_SELECTOR, ".flash").text


def test_a_refresh_of_the_list_keeps_the_keyboard_focus_where_it_was(browser, platform):
    """A keyboard user ticks a message's box and moves on with Tab to its link; another tab cancels another
    message meanwhile. The list shows it, and the focus is still on the same link, the box still ticked."""
    numbers = ("+4915752982218", "+4915752982219", "+4915752982220")
    sign_up_with_waiting_messages(browser, platform, "focus-list@example.com", *numbers)
    browser.execute_script("window.sameDocument = true")
    box = row_of(browser, numbers[0]).find_element(By.CSS_SELECTOR, "input[type=checkbox]")
    box.send_keys(Keys.SPACE)
    box.send_keys(Keys.TAB)
    link = row_of(browser, numbers[0]).find_element(By.CSS_SELECTOR, "a")
    assert browser.execute_script("return document.activeElement === arguments[0]", link)

    cancel_elsewhere(platform, numbers[1])
    wait_for(browser, shows(numbers[1], "cancelled"), 30)
    snap(browser, "messages-live-focus-kept")
    assert browser.execute_script("return window.sameDocument === true")
    assert browser.execute_script("return document.activeElement === arguments[0]", link), (
        browser.execute_script("return document.activeElement.outerHTML"))
    assert box.is_selected() and link.is_displayed()  # the same elements, still in the list
    link.send_keys(Keys.TAB)  # the next Tab goes on from there, not from the top of the page
    assert browser.execute_script("var a = document.activeElement; return a !== arguments[0] && "
                                  "document.getElementById('message-list').contains(a)", link)


def test_the_list_waits_while_the_focus_is_on_a_box_the_refresh_would_remove(browser, platform):
    """The box of a message cancelled elsewhere goes from the list; while the keyboard focus is on it the list
    is left as it is (the focus would be lost), and it follows once the focus has moved on."""
    numbers = ("+4915752982221", "+4915752982222")
    sign_up_with_waiting_messages(browser, platform, "focus-hold@example.com", *numbers)
    box = row_of(browser, numbers[0]).find_element(By.CSS_SELECTOR, "input[type=checkbox]")
    browser.execute_script("arguments[0].focus()", box)
    browser.execute_script("window.fetched = 0; new PerformanceObserver(function (list) {"
                           " window.fetched += list.getEntries().filter(function (e) {"
                           " return e.initiatorType === 'fetch'; }).length; }).observe({type: 'resource'});")

    cancel_elsewhere(platform, numbers[0])
    wait_for(browser, lambda b: b.execute_script("return window.fetched") >= 2, 30)  # refreshed since, twice
    assert browser.execute_script("return document.activeElement === arguments[0]", box)
    assert "New" in row_of(browser, numbers[0]).text

    browser.execute_script("arguments[0].blur()", box)
    wait_for(browser, shows(numbers[0], "cancelled"), 30)
    assert not row_of(browser, numbers[0]).find_elements(By.CSS_SELECTOR, "input[type=checkbox]")
