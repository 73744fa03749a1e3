"""Headless Chromium: a line break typed into the Send form costs what the form's counter says; the
stored message (whose body the browser submitted with CRLF) has the counter's segments."""
import re

from selenium.webdriver.common.by import By

from tests.support.browser import go, sign_up, submit


def test_the_counter_shows_the_segments_the_message_is_stored_with(browser, platform):
    email = "lines@example.com"
    sign_up(browser, email)
    [code] = platform.pairing_codes(email, 1)
    platform.start_phone("Lines phone", platform.url, code, poll_seconds=2)
    platform.phone_device_id("Lines phone")

    go(browser, "/send")
    browser.find_element(By.ID, "recipients").send_keys("+4915752982214")
    browser.find_element(By.ID, "body").send_keys("a" * 80 + "\n" + "b" * 79)
    counter = browser.find_element(By.ID, "body-counter").text
    assert counter == "160 characters · 1 SMS (GSM-7, 160 units)"
    counted_segments = re.search(r"(\d+) SMS", counter).group(1)
    browser.execute_script("arguments[0].value = '2099-01-01T10:00'", browser.find_element(By.ID, "send_at"))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))

    submit(browser, browser.find_element(By.CSS_SELECTOR, "table.messages tbody tr:first-child td:nth-child(2) a"))
    segments = browser.find_element(By.XPATH, "//dt[normalize-space()='Segments']/following-sibling::dd[1]").text
    assert segments.startswith(f"{counted_segments} (GSM-7)"), segments
