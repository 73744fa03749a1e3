"""Headless Chromium: a new API token's page is reached by a redirect, so the browser's reload (F5) asks for
the page again instead of sending the form again: no second token, and the secret is not shown twice."""
import re

from selenium.webdriver.common.by import By

from tests.support.browser import go, left_the_page, sign_up, snap, submit, wait_for


def token_rows(browser) -> list[str]:
    return [row.text for row in browser.find_elements(By.CSS_SELECTOR, "main table tbody tr")]


def test_reloading_the_page_of_a_new_token_neither_creates_another_nor_shows_it_again(browser):
    sign_up(browser, "token-once@example.com")
    go(browser, "/tokens")
    browser.find_element(By.ID, "label").send_keys("CRM")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form.row button[type=submit]"))
    assert browser.current_url.endswith("/tokens")
    token = browser.find_element(By.ID, "new-token").get_attribute("value")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    assert token not in browser.current_url
    [row] = token_rows(browser)
    assert f"…{token[-4:]}" in row and "CRM" in row
    browser.back()  # to the page before the form, and forward again: the page is asked for again, not restored
    browser.forward()
    wait_for(browser, lambda b: b.find_elements(By.CSS_SELECTOR, "main table tbody tr"))
    assert not browser.find_elements(By.ID, "new-token") and token not in browser.page_source

    old = browser.find_element(By.TAG_NAME, "html")
    browser.refresh()  # F5
    wait_for(browser, left_the_page(old))
    snap(browser, "token-page-reloaded")
    assert not browser.find_elements(By.ID, "new-token") and token not in browser.page_source
    [row] = token_rows(browser)
    assert f"…{token[-4:]}" in row
