"""The e2e ``Platform`` (a real gunicorn server, a scheduler and a simulated phone as processes), driven by
headless Chromium.

The server gets its own SQLite file, or its own MariaDB database on the ``TEST_DATABASE_URL`` server.
On a failure, a screenshot and the HTML of the page in the browser go to ``test-artifacts/screenshots/``.
"""
import os
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import ARTIFACTS, TEST_DATABASE_URL
from tests.e2e.harness import Platform, fresh_database
from tests.support.servers import free_port

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = ARTIFACTS / "screenshots"


@pytest.fixture(scope="module")
def platform(tmp_path_factory):
    """One web server (one worker, CSRF on, its own address as ``PUBLIC_BASE_URL``) and a scheduler."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/test installs them)")
    workdir = tmp_path_factory.mktemp("browser-platform")
    port = free_port()
    with fresh_database(TEST_DATABASE_URL, workdir, "smsplatform_browser") as database_url:
        platform = Platform(workdir, database_url, env={
            "PUBLIC_BASE_URL": f"http://127.0.0.1:{port}", "WTF_CSRF_ENABLED": "1", "GUNICORN_LOG_LEVEL": "warning"})
        try:
            platform.migrate()
            platform.start_web(workers=1, port=port)
            platform.start_scheduler()
            yield platform
        finally:
            platform.stop()


@pytest.fixture(scope="module")
def browser(platform, tmp_path_factory):
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync",
                 f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}", "--window-size=1280,1000"):
        options.add_argument(flag)
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    driver.implicitly_wait(0)
    driver.base_url = platform.url
    driver.shots_dir = platform.workdir / "shots"
    driver.shots_dir.mkdir()
    yield driver
    driver.quit()
    keep = os.environ.get("BROWSER_SCREENSHOTS_DIR")  # to look at every page after a passing run
    if keep:
        shutil.copytree(driver.shots_dir, keep, dirs_exist_ok=True)


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if report.when == "call" and report.failed and "browser" in getattr(item, "funcargs", {}):
        driver = item.funcargs["browser"]
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.nodeid)[-120:]
        for shot in sorted(driver.shots_dir.glob("*.png")):  # every page the flow went through
            shutil.copy(shot, SCREENSHOTS / f"{name}-{shot.name}")
        try:
            driver.save_screenshot(str(SCREENSHOTS / f"{name}-failed.png"))
            (SCREENSHOTS / f"{name}-failed.html").write_text(driver.page_source)
        except Exception as error:  # the browser itself may be what failed
            report.sections.append(("screenshot", f"could not take a screenshot: {error}"))
        platform = item.funcargs.get("platform")
        if platform is not None:
            for name, tail in platform.log_tails().items():
                report.sections.append((f"{name} log", tail))
    return report

