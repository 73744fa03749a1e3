"""A real server (gunicorn), scheduler and simulated phone as processes, driven by headless Chromium.

The server gets its own SQLite file, or its own MariaDB database on the ``TEST_DATABASE_URL`` server.
On a failure, a screenshot and the HTML of the page in the browser go to ``test-artifacts/screenshots/``.
"""
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import ARTIFACTS, TEST_DATABASE_URL, database_is_mariadb
from tests.support.servers import free_port, wait_http

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = ARTIFACTS / "screenshots"
BROWSER_DATABASE = "smsplatform_browser"


def _database_url(workdir: Path) -> str:
    if not database_is_mariadb():
        return f"sqlite:///{workdir / 'browser.db'}"
    url = make_url(TEST_DATABASE_URL)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text(f"DROP DATABASE IF EXISTS {BROWSER_DATABASE}"))
        connection.execute(text(f"CREATE DATABASE {BROWSER_DATABASE} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"))
    engine.dispose()
    return url.set(database=BROWSER_DATABASE).render_as_string(hide_password=False)


class Stack:
    """The processes of one platform: web server, scheduler, phones."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "DATABASE_URL": _database_url(workdir),
            "INSTANCE_PATH": str(workdir / "instance"),
            "SECRET_KEY": "browser-test-secret",
            "PUBLIC_BASE_URL": self.url,
            "UPLOAD_DIR": str(workdir / "uploads"),
            "EVENTS_SOCKET_DIR": str(workdir / "events"),
            "PORT": str(self.port),
            "HOST": "127.0.0.1",
            "WEB_CONCURRENCY": "1",
            "GUNICORN_LOG_LEVEL": "warning",
            "WTF_CSRF_ENABLED": "1",
        }
        self.env.pop("TEST_DATABASE_URL", None)
        self.processes: list[tuple[str, subprocess.Popen]] = []

    def run(self, name: str, args: list[str]) -> subprocess.Popen:
        log = open(self.workdir / f"{name}.log", "wb")
        process = subprocess.Popen(args, cwd=ROOT, env=self.env, stdout=log, stderr=subprocess.STDOUT,
                                   start_new_session=True)
        self.processes.append((name, process))
        return process

    def flask(self, name: str, *args: str) -> subprocess.Popen:
        return self.run(name, [sys.executable, "-m", "flask", "--app", "wsgi", *args])

    def start(self) -> None:
        subprocess.run([sys.executable, "-m", "flask", "--app", "wsgi", "db", "upgrade"], cwd=ROOT, env=self.env,
                       check=True, capture_output=True)
        web = self.run("web", [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")])
        self.flask("scheduler", "scheduler", "run")
        wait_http(self.url + "/login", web, 60, log=self.workdir / "web.log", status=200)

    def start_phone(self, code: str, name: str = "Browser phone") -> subprocess.Popen:
        return self.flask("phone", "phone", "simulate", "--server", self.url + "/api/mobile/v1", "--code", code, "--name", name,
                          "--state", str(self.workdir / "phone.json"), "--poll-seconds", "2")

    def log(self, name: str) -> str:
        path = self.workdir / f"{name}.log"
        return path.read_text(errors="replace")[-4000:] if path.exists() else ""

    def stop(self) -> None:
        for _name, process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for _name, process in self.processes:
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.skip("Debian's chromium and chromium-driver are not installed (scripts/test installs them)")
    platform = Stack(tmp_path_factory.mktemp("browser-stack"))
    try:
        platform.start()
        yield platform
    finally:
        platform.stop()


@pytest.fixture(scope="module")
def browser(stack, tmp_path_factory):
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
    driver.base_url = stack.url
    driver.shots_dir = stack.workdir / "shots"
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
        stack = item.funcargs.get("stack")
        if stack is not None:
            for process in ("web", "scheduler", "phone"):
                report.sections.append((f"{process} log", stack.log(process)))
    return report

