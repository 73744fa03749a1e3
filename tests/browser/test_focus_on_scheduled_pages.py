"""Headless Chromium: a newsletter or a message scheduled far ahead leaves the page alone, so a keyboard user's
focus stays on the button they moved to (the pages used to reload themselves every 3 seconds, sending the focus
back to the top). Each test signs up its own account: either runs alone."""
import time

from selenium.webdriver.common.by import By

from tests.support.browser import go, sign_up, sign_up_with_scheduled_messages, snap, submit

OLD_RELOAD_SECONDS = 3


def focus_stays_on(browser, button) -> None:
    """Focus ``button``, wait past the old reload interval, and find the same document with the focus still there."""
    browser.execute_script("window.sameDocument = true; arguments[0].focus();", button)
    assert browser.execute_script("return document.activeElement === arguments[0]", button)
    time.sleep(OLD_RELOAD_SECONDS + 2)
    assert browser.execute_script("return window.sameDocument === true"), "the page was loaded again"
    assert browser.execute_script("return document.activeElement === arguments[0]", button), (
        browser.execute_script("return document.activeElement.outerHTML"))


def test_focus_stays_on_the_cancel_button_of_a_newsletter_scheduled_months_ahead(browser, platform):
    sign_up(browser, "focus-newsletter@example.com")
    [code] = platform.pairing_codes("focus-newsletter@example.com", 1)
    platform.start_phone("Focus phone", platform.url, code, poll_seconds=2)
    platform.phone_device_id("Focus phone")
    csv_file = platform.workdir / "focus-contacts.csv"
    csv_file.write_text("phone,name,tags\n+4915100000011,Ada Lovelace,Focus\n", encoding="utf-8")
    go(browser, "/contacts/import")
    browser.find_element(By.ID, "file").send_keys(str(csv_file))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))

    go(browser, "/newsletters/new")
    browser.find_element(By.ID, "title").send_keys("Next spring")
    browser.find_element(By.ID, "body").send_keys("Hi {first_name|there}")
    browser.find_element(By.XPATH, "//ul[@id='tag_ids']//label[starts-with(normalize-space(), 'Focus')]").click()
    browser.execute_script("arguments[0].value = '2099-04-01T09:00'", browser.find_element(By.ID, "send_at"))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[value=schedule]"))
    assert browser.find_element(By.ID, "paket-status").text == "scheduled"
    focus_stays_on(browser, browser.find_element(By.XPATH, "//button[normalize-space()='Cancel']"))
    snap(browser, "newsletter-scheduled-focus-kept")


def test_focus_stays_on_the_cancel_button_of_a_message_scheduled_far_ahead(browser, platform):
    sign_up_with_scheduled_messages(browser, platform, "focus-message@example.com", "+4915752982220")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "table.messages tbody tr:first-child td:nth-child(2) a"))
    focus_stays_on(browser, browser.find_element(By.XPATH, "//button[normalize-space()='Cancel message']"))
