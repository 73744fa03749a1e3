"""Headless Chromium: the Send page's channel select follows the chosen phone (its own script, no network)."""
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from tests.support.browser import go, snap, submit


def offered(browser) -> list[str]:
    """The channel options a user can see and pick."""
    return [o.text for o in Select(browser.find_element(By.ID, "sim")).options if o.is_enabled() and o.is_displayed()]


def test_the_channels_follow_the_chosen_phone(browser, platform):
    go(browser, "/signup")
    browser.find_element(By.ID, "email").send_keys("channels@example.com")
    browser.find_element(By.ID, "password").send_keys("a long browser password")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    one_code, whatsapp_code = platform.pairing_codes("channels@example.com", 2)
    platform.start_phone("One SIM", platform.url, one_code, "--sims", "1", poll_seconds=2)
    platform.start_phone("WhatsApp phone", platform.url, whatsapp_code, "--whatsapp", poll_seconds=2)
    one = platform.phone_device_id("One SIM")
    whatsapp = platform.phone_device_id("WhatsApp phone")

    go(browser, "/send")
    device, channel = Select(browser.find_element(By.ID, "device_id")), Select(browser.find_element(By.ID, "sim"))
    device.select_by_value(str(whatsapp))
    assert offered(browser) == ["SIM 1", "SIM 2", "WhatsApp Business", "WhatsApp"]
    channel.select_by_visible_text("WhatsApp")
    snap(browser, "send-whatsapp")
    device.select_by_value(str(one))  # the chosen channel is gone: the phone's first one takes its place
    assert offered(browser) == ["SIM 1"] and channel.first_selected_option.text == "SIM 1"
    device.select_by_value(str(whatsapp))
    assert offered(browser) == ["SIM 1", "SIM 2", "WhatsApp Business", "WhatsApp"]
    channel.select_by_visible_text("SIM 2")
    browser.find_element(By.ID, "recipients").send_keys("+4915752982212")
    browser.find_element(By.ID, "body").send_keys("On SIM 2")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert browser.current_url.endswith("/messages")
    assert "WhatsApp phone · SIM 2" in browser.find_element(By.CSS_SELECTOR, "table.messages tbody").text
