"""Headless Chromium: the Send page's channel select follows the chosen phone (its own script, no network);
a scheduled message is cancelled from its page once the confirmation is accepted. Each test signs up its
own account and pairs its own phones: either runs alone."""
from selenium.webdriver.common.by import By
from selenium.webdriver.support.select import Select

from tests.support.browser import go, left_the_page, sign_up, sign_up_with_scheduled_messages, snap, submit, wait_for


def offered(browser) -> list[str]:
    """The channel options a user can see and pick."""
    return [o.text for o in Select(browser.find_element(By.ID, "sim")).options if o.is_enabled() and o.is_displayed()]


def test_the_channels_follow_the_chosen_phone(browser, platform):
    sign_up(browser, "channels@example.com")
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


def test_a_scheduled_message_is_cancelled_after_the_confirmation(browser, platform):
    sign_up_with_scheduled_messages(browser, platform, "cancel@example.com", "+4915752982213")
    assert "1 message scheduled for 2099-01-01 10:00" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    submit(browser, browser.find_element(By.CSS_SELECTOR, "table.messages tbody tr:first-child td:nth-child(2) a"))
    button = browser.find_element(By.XPATH, "//button[normalize-space()='Cancel message']")
    button.click()
    browser.switch_to.alert.dismiss()  # changed their mind: nothing happens
    assert browser.find_element(By.CSS_SELECTOR, ".badge").text == "New"
    old = browser.find_element(By.TAG_NAME, "html")
    browser.find_element(By.XPATH, "//button[normalize-space()='Cancel message']").click()
    browser.switch_to.alert.accept()
    wait_for(browser, left_the_page(old))
    snap(browser, "message-cancelled")
    assert "cancelled: it will not be sent" in browser.find_element(By.CSS_SELECTOR, ".flash").text
    assert browser.find_element(By.CSS_SELECTOR, ".badge").text == "cancelled"
