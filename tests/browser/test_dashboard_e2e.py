"""End to end in headless Chromium: sign up, token, pair a simulated phone, send until delivered,
import a CSV, send a newsletter until its progress reaches the end. The tests run in order on one platform."""
import re
import time

from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.support.select import Select

from tests.support.browser import go, snap, submit, wait_for

EMAIL = "marketer@example.com"
PASSWORD = "a long browser password"
STATE: dict = {}


def test_sign_up_and_create_a_token(browser):
    browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": "Europe/Lisbon"})
    try:
        go(browser, "/signup")
        assert browser.find_element(By.ID, "timezone").get_attribute("value") == "Europe/Lisbon"  # the browser's zone
    finally:
        browser.execute_cdp_cmd("Emulation.setTimezoneOverride", {"timezoneId": ""})
    assert browser.title == "Sign up · smsplatform"
    browser.find_element(By.ID, "email").send_keys(EMAIL)
    browser.find_element(By.ID, "password").send_keys("short")
    timezone = browser.find_element(By.ID, "timezone")
    timezone.clear()
    timezone.send_keys("Europe/Berlin")
    snap(browser, "signup")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert "at least 8" in browser.find_element(By.ID, "password-error").text  # shown beside the field
    browser.find_element(By.ID, "password").send_keys(PASSWORD)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert browser.current_url.endswith("/devices")
    snap(browser, "devices-empty")

    go(browser, "/tokens")
    browser.find_element(By.ID, "label").send_keys("CRM")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "form.row button[type=submit]"))
    token = browser.find_element(By.ID, "new-token").get_attribute("value")
    assert re.fullmatch(r"[0-9a-f]{32}", token)
    browser.find_element(By.CSS_SELECTOR, "button[data-copy='#new-token']").click()
    wait_for(browser, lambda b: b.find_element(By.CSS_SELECTOR, "button[data-copy]").text == "Copied", 5)
    snap(browser, "tokens-created")
    go(browser, "/tokens")
    assert token not in browser.page_source and f"…{token[-4:]}" in browser.page_source


def test_pair_a_phone_and_send_until_delivered(browser, platform):
    go(browser, "/devices/add")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    code = browser.find_element(By.ID, "pairing-code").text
    assert re.fullmatch(r"[a-z0-9]{6,}", code)
    assert browser.find_element(By.ID, "server-url").get_attribute("value") == platform.url + "/api/mobile/v1"
    assert browser.find_element(By.CSS_SELECTOR, ".qr svg path")
    snap(browser, "add-device")
    STATE["phone"] = platform.start_phone("Browser phone", platform.url, code, via_flask=True, poll_seconds=2)

    def phone_online(b):
        b.get(b.base_url + "/devices")
        return "Browser phone" in b.page_source and "badge ok" in b.page_source
    wait_for(browser, phone_online, 30)
    snap(browser, "devices-online")

    go(browser, "/send")
    Select(browser.find_element(By.ID, "device_id")).select_by_index(0)
    browser.find_element(By.ID, "recipients").send_keys("+4915752982212\n+4915752982213")
    body = browser.find_element(By.ID, "body")
    body.send_keys("Hello from the browser")
    counter = browser.find_element(By.ID, "body-counter")
    assert counter.text.startswith("22 characters · 1 SMS (GSM-7")
    body.send_keys(" €")  # an extension character counts two septets
    assert "24 characters · 1 SMS (GSM-7, 25 units)" == counter.text
    body.send_keys(" 😀")
    assert "UCS-2" in counter.text
    body.send_keys(Keys.BACKSPACE, Keys.BACKSPACE, Keys.BACKSPACE)
    snap(browser, "send")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    assert browser.current_url.endswith("/messages")
    assert "2 messages queued" in browser.page_source
    snap(browser, "messages")
    browser.find_element(By.CSS_SELECTOR, "table.messages tbody tr td a").click()

    def delivered(b):
        b.refresh()
        return "delivered" in b.find_element(By.CSS_SELECTOR, ".facts .badge").text
    wait_for(browser, delivered, 45)
    timeline = browser.find_element(By.CSS_SELECTOR, "ol.timeline").text
    assert re.search(r"accepted.*handed to the phone.*sent.*delivered", timeline, re.S)
    snap(browser, "message-delivered")
    go(browser, "/", "overview")
    assert "<svg" in browser.page_source


def test_import_a_csv(browser, platform):
    csv_file = platform.workdir / "contacts.csv"
    csv_file.write_text("phone,name,tags\n+4915100000001,Ada Lovelace,VIP\n+4915100000002,Grace Hopper,VIP|Berlin\n"
                        "oops,Broken,VIP\n+4915100000003,,VIP\n", encoding="utf-8")
    go(browser, "/contacts/import")
    browser.find_element(By.ID, "file").send_keys(str(csv_file))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
    report = browser.find_element(By.ID, "import-report").text
    assert "4 rows read: 3 created" in report and "1 skipped" in report and "oops" in report
    snap(browser, "import-report")
    go(browser, "/contacts", "contacts")
    assert "Ada Lovelace" in browser.page_source and "Grace Hopper" in browser.page_source


def test_send_a_newsletter_and_watch_it_finish(browser):
    go(browser, "/newsletters/new")
    browser.find_element(By.ID, "title").send_keys("Spring sale")
    browser.find_element(By.ID, "body").send_keys("Hi {first_name|there}, 20% off today!")
    browser.find_element(By.XPATH, "//ul[@id='tag_ids']//label[starts-with(normalize-space(), 'VIP')]").click()
    wait_for(browser, lambda b: b.find_element(By.ID, "preview-audience").text == "3", 10)
    assert browser.find_element(By.ID, "preview-text").text == "Hi Ada, 20% off today!"
    assert "1 SMS" in browser.find_element(By.ID, "preview-segments").text
    body = browser.find_element(By.ID, "body")

    def type_body(text):  # as typing it would, without 4,900 keystrokes
        browser.execute_script("arguments[0].value = arguments[1];"
                               "arguments[0].dispatchEvent(new Event('input', {bubbles: true}));", body, text)
    type_body("€" * 4900)  # its preview request is bigger than a URL may be (gunicorn: 8,190 bytes)
    wait_for(browser, lambda b: b.find_element(By.ID, "preview-segments").text.startswith("65 SMS"), 10)
    type_body("Hi {first_name|there}, 20% off today!")
    wait_for(browser, lambda b: b.find_element(By.ID, "preview-text").text == "Hi Ada, 20% off today!", 10)
    snap(browser, "newsletter-new")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[value=schedule]"))

    def finished(b):
        b.refresh()
        return "3 / 3 done (100 %)" in b.find_element(By.CSS_SELECTOR, ".progress-text").text
    wait_for(browser, finished, 60)
    assert browser.find_element(By.TAG_NAME, "progress").get_attribute("value") == "3"
    snap(browser, "newsletter-done")
    go(browser, "/newsletters", "newsletters")
    go(browser, "/messages?status=delivered", "messages-delivered")
    delivered = browser.page_source
    assert all(f"Hi {name}, 20% off today!" in delivered for name in ("Ada", "Grace", "there"))  # each personalised


def test_the_live_counter_matches_the_server_segment_rules(browser):
    from smsplatform.messaging.segments import count_segments

    go(browser, "/send")
    samples = ["", "a" * 160, "a" * 161, "€" * 80, "€" * 81, "[" * 77 + "a", "ü" * 160, "ç" * 70, "ç" * 71,
               "Ç" * 153 * 2 + "x", "😀" * 35, "😀" * 36, "Grüße {name}\n", "\\^~|" * 40, "Привет " * 20]
    for text in samples:
        info = browser.execute_script("return window.countSegments(arguments[0]);", text)
        expected = count_segments(text)
        assert (info["encoding"], info["units"], info["segments"]) == \
            (expected.encoding, expected.units, expected.segments), text


def test_pages_fit_a_phone_screen(browser):
    browser.set_window_size(390, 844)
    try:
        for path, name in [("/", "phone-overview"), ("/send", "phone-send"), ("/contacts", "phone-contacts"),
                           ("/devices", "phone-devices"), ("/inbox", "phone-inbox"), ("/account", "phone-account")]:
            go(browser, path, name)
            overflow = browser.execute_script("return document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 1, (path, overflow)
        menu = browser.find_element(By.CSS_SELECTOR, "label.nav-toggle-label")
        assert menu.is_displayed()
        menu.click()
        link = browser.find_element(By.LINK_TEXT, "Messages")
        assert link.is_displayed()
        snap(browser, "phone-menu")
    finally:
        browser.set_window_size(1280, 1000)
        time.sleep(0.2)
