"""The web server's log: no secret from a query string in the access log; the app's errors with time, level and
what failed."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from smsplatform.weblog import redact_query, redact_url
from tests.conftest import database_is_mariadb
from tests.support.servers import free_port, stop, wait_http

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("query, logged", [
    ("token=4d45&sms_id=3", "token=***&sms_id=3"),
    ("email=me%40example.com&pass=hunter2", "email=me%40example.com&pass=***"),
    ("TOKEN=4d45&Pass=x&PASSWORD=y", "TOKEN=***&Pass=***&PASSWORD=***"),  # the API reads names in any case
    ("datajson=%7B%22token%22%3A%224d45%22%7D", "datajson=***"),
    ("t%6Fken=4d45", "t%6Fken=***"),  # an encoded name is still the token
    ("smsdata[0][sendto]=1&token", "smsdata[0][sendto]=1&token"),  # no value, nothing to hide
    ("", ""),
])
def test_secret_query_values_are_replaced(query, logged):
    assert redact_query(query) == logged


def test_urls_keep_their_path():
    assert redact_url("/getdata/addsms?token=abc&sendto=%2B49") == "/getdata/addsms?token=***&sendto=%2B49"
    assert redact_url("https://sms.example.com/login") == "https://sms.example.com/login"


@pytest.mark.skipif(database_is_mariadb(), reason="the database is made unreachable on purpose")
def test_the_server_log_hides_query_secrets_and_dates_and_places_the_apps_errors(tmp_path):
    port = free_port()
    log = tmp_path / "server.log"
    environment = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1",
                   "GUNICORN_ACCESS_LOG": "-", "INSTANCE_PATH": str(tmp_path), "SECRET_KEY": "x",
                   "EVENTS_SOCKET_DIR": str(tmp_path / "events"),
                   # A database that cannot be opened: every legacy call is a server fault, which is logged.
                   "DATABASE_URL": f"sqlite:///{tmp_path / 'no-such-folder' / 'db.sqlite'}"}
    with open(log, "w") as output:
        server = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
                                  cwd=ROOT, env=environment, stdout=output, stderr=subprocess.STDOUT)
    try:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/login", server, 60, log=log)
        status = requests.get(f"{base}/getdata/getsmsstatus?token=4d4524f4efb1b7e5&sms_id=3", timeout=10,
                              headers={"X-Request-ID": "support-call-1032"})
        login = requests.get(f"{base}/getdata/gettoken?email=me%40example.com&PASS=hunter2hunter2", timeout=10,
                             headers={"X-Request-ID": "forged id\tinjected"})
        assert status.status_code == login.status_code == 500
    finally:
        stop(server)
    text = log.read_text()
    assert "4d4524f4efb1b7e5" not in text and "hunter2hunter2" not in text
    # Each access line ends with the id its answer carried: the client's own when sane, else a new one.
    assert status.headers["X-Request-ID"] == "support-call-1032"
    new_id = login.headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", new_id) and "forged" not in text
    assert '"GET /getdata/getsmsstatus?token=***&sms_id=3 HTTP/1.1" 500' in text
    assert re.search(r'"GET /getdata/getsmsstatus\?token=\*\*\*&sms_id=3 HTTP/1.1" 500 .* support-call-1032$', text,
                     re.MULTILINE), text[-3000:]
    assert re.search(rf'"GET /getdata/gettoken\?email=me%40example.com&PASS=\*\*\* HTTP/1.1" 500 .* {new_id}$', text,
                     re.MULTILINE), text[-3000:]
    # The app's own record, as gunicorn's: time stamp, pid, level, the request's id and which call failed, with
    # its traceback below it.
    failed = re.search(r"^\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[ERROR\] \[request support-call-1032\] "
                       r"legacy API call GET /getdata/getsmsstatus failed\nTraceback", text, re.MULTILINE)
    assert failed, text[-3000:]
    assert re.search(rf"\[ERROR\] \[request {new_id}\] legacy API call GET /getdata/gettoken failed$", text, re.MULTILINE)
