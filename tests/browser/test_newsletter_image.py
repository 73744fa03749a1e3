"""Headless Chromium: the newsletter form's live preview shows the chosen image and the link after the text;
editing the newsletter, the kept image (fetched from the server) until it is removed."""
import re

from selenium.webdriver.common.by import By

from tests.support.browser import go, sign_up, submit, wait_for
from tests.storage.images import png


def test_the_preview_shows_the_chosen_image_then_on_the_edit_page_the_kept_one(browser, platform):
    sign_up(browser, "images@example.com")
    go(browser, "/contacts")
    browser.find_element(By.ID, "title").send_keys("VIP")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form.row button[type=submit]"))

    picture = platform.workdir / "spring.png"
    picture.write_bytes(png(32, 32))
    go(browser, "/newsletters/new")
    browser.find_element(By.ID, "body").send_keys("Hi {first_name|there}")
    browser.find_element(By.XPATH, "//ul[@id='tag_ids']//label[starts-with(normalize-space(), 'VIP')]").click()
    wait_for(browser, lambda b: b.find_element(By.ID, "preview-text").text == "Hi there", 10)
    assert not browser.find_element(By.ID, "preview-image").is_displayed()

    browser.find_element(By.ID, "image").send_keys(str(picture))
    wait_for(browser, lambda b: "\n" in b.find_element(By.ID, "preview-text").text, 10)
    assert re.fullmatch(r"Hi there\nhttps?://\S+\.jpg", browser.find_element(By.ID, "preview-text").text)
    image = browser.find_element(By.ID, "preview-image")
    assert image.is_displayed() and image.get_attribute("src").startswith("blob:")
    assert browser.execute_script("return arguments[0].complete && arguments[0].naturalWidth", image) == 32

    # Saving needs a device: a simulated phone pairs with a code from the CLI.
    [code] = platform.pairing_codes("images@example.com", 1)
    platform.start_phone("Image phone", platform.url, code, poll_seconds=2)
    platform.phone_device_id("Image phone")
    browser.refresh()  # the device list of the form
    browser.find_element(By.ID, "body").send_keys("Hi {first_name|there}")
    browser.find_element(By.XPATH, "//ul[@id='tag_ids']//label[starts-with(normalize-space(), 'VIP')]").click()
    browser.find_element(By.ID, "image").send_keys(str(picture))
    browser.find_element(By.ID, "title").send_keys("Spring")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[value=draft]"))
    stored_url = browser.find_element(By.ID, "paket-image").get_attribute("src")
    submit(browser, browser.find_element(By.ID, "edit-newsletter"))
    assert browser.title == "Edit newsletter · smsplatform"
    # The preview counts an image link of the stored one's length (the sample's, as when it was chosen).
    wait_for(browser, lambda b: "\n" in b.find_element(By.ID, "preview-text").text, 10)
    shown = browser.find_element(By.ID, "preview-text").text
    assert re.fullmatch(r"Hi there\nhttps?://\S+", shown) and len(shown) == len(f"Hi there\n{stored_url}"), shown
    image = browser.find_element(By.ID, "preview-image")
    assert image.is_displayed() and image.get_attribute("src") == stored_url
    loaded = "return arguments[0].complete && arguments[0].naturalWidth"
    wait_for(browser, lambda b: b.execute_script(loaded, image) == 32, 10)  # fetched from the server

    browser.find_element(By.ID, "remove_image").click()
    wait_for(browser, lambda b: b.find_element(By.ID, "preview-text").text == "Hi there", 10)
    assert not image.is_displayed()
    body = browser.find_element(By.ID, "body")
    body.clear()
    body.send_keys("Text only")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[value=draft]"))
    assert browser.find_element(By.ID, "paket-body").text == "Text only"
    assert not browser.find_elements(By.ID, "paket-image")
