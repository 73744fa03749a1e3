"""Driving headless Chromium through the dashboard: open a page, submit a form and wait for the next
page, wait for a condition, keep a screenshot, sign up a fresh account."""
from selenium.common.exceptions import StaleElementReferenceException, WebDriverException
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait


def go(browser, path: str, shot: str | None = None) -> None:
    browser.get(browser.base_url + path)
    if shot:
        snap(browser, shot)


def snap(browser, name: str) -> None:
    count = len(list(browser.shots_dir.glob("*.png")))
    browser.save_screenshot(str(browser.shots_dir / f"{count:02d}-{name}.png"))


def wait_for(browser, condition, seconds: float = 30):
    """``condition`` polled until it holds. A live region may replace the nodes a condition found before it reads
    them (stale element): that poll counts as not yet, the next one reads the new nodes."""
    return WebDriverWait(browser, seconds, poll_frequency=0.2,
                         ignored_exceptions=[StaleElementReferenceException]).until(condition)


def left_the_page(old):
    """``EC.staleness_of``, but also reading chromedriver's "does not belong to the document" as stale: asked
    about a node of the page being left, chromedriver sometimes answers that instead of "stale element"
    (SeleniumHQ/selenium#15401)."""
    def gone(_browser) -> bool:
        try:
            old.is_enabled()
        except StaleElementReferenceException:
            return True
        except WebDriverException as error:
            if "does not belong to the document" in str(error):
                return True
            raise
        return False
    return gone


def submit(browser, element) -> None:
    """Submit the form of ``element`` and wait for the next page."""
    old = browser.find_element(By.TAG_NAME, "html")
    element.click()
    wait_for(browser, left_the_page(old))


def sign_up(browser, email: str, password: str = "a long browser password") -> None:
    """A new account, signed in: whoever an earlier test signed in is forgotten first, so a test that
    starts here runs alone as well as after the others."""
    go(browser, "/login")
    browser.delete_all_cookies()
    go(browser, "/signup")
    browser.find_element(By.ID, "email").send_keys(email)
    browser.find_element(By.ID, "password").send_keys(password)
    submit(browser, browser.find_element(By.CSS_SELECTOR, "button[type=submit]"))
    assert browser.current_url.endswith("/devices"), browser.current_url


def sign_up_with_scheduled_messages(browser, platform, email: str, *numbers: str) -> None:
    """A new account signed in, a phone paired, and a message to each of ``numbers`` scheduled for 2099 through
    the Send page (so it stays New until cancelled); the browser is on the page the form led to."""
    sign_up(browser, email)
    [code] = platform.pairing_codes(email, 1)
    name = f"Phone of {email}"
    platform.start_phone(name, platform.url, code, poll_seconds=2)
    platform.phone_device_id(name)
    go(browser, "/send")
    browser.find_element(By.ID, "recipients").send_keys("\n".join(numbers))
    browser.find_element(By.ID, "body").send_keys("Later")
    browser.execute_script("arguments[0].value = '2099-01-01T10:00'", browser.find_element(By.ID, "send_at"))
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))


def sign_up_with_waiting_messages(browser, platform, email: str, *numbers: str) -> None:
    """A new account signed in, a phone paired and switched off again, and a message to each of ``numbers``
    sent now through the Send page: each waits (New) for the phone to come back, so its status can change at
    any moment. The browser is on the page the form led to."""
    sign_up(browser, email)
    [code] = platform.pairing_codes(email, 1)
    name = f"Phone of {email}"
    platform.start_phone(name, platform.url, code, poll_seconds=2)
    platform.phone_device_id(name)
    platform.stop_phone(name)
    go(browser, "/send")
    browser.find_element(By.ID, "recipients").send_keys("\n".join(numbers))
    browser.find_element(By.ID, "body").send_keys("Now")
    submit(browser, browser.find_element(By.CSS_SELECTOR, "main form button[type=submit]"))
