"""Every answer carries a request id (``X-Request-ID``), a sane incoming one kept, and the app's log records made
while handling a request name that request's id, also when requests are served at once."""
import logging
import re
import threading

import pytest
from flask import current_app

from smsplatform.request_ids import RequestIdFilter

NEW_ID = re.compile(r"[0-9a-f]{32}")


class Records(logging.Handler):
    """The app's log records, each with the id the filter gave it."""

    def __init__(self):
        super().__init__()
        self.addFilter(RequestIdFilter())
        self.seen: list[logging.LogRecord] = []

    def emit(self, record):
        self.seen.append(record)


@pytest.fixture
def records(app):
    handler = Records()
    logging.getLogger("smsplatform").addHandler(handler)
    yield handler.seen
    logging.getLogger("smsplatform").removeHandler(handler)


@pytest.fixture
def failing_route(app):
    """A view that fails, answered as a server answers it: Flask's own 500, the traceback logged."""
    app.config["PROPAGATE_EXCEPTIONS"] = False

    @app.get("/test-fails")
    def _fails():
        raise RuntimeError("the view broke")

    return "/test-fails"


@pytest.mark.parametrize("method, url, status", [
    ("GET", "/getdata/getsmsstatus?sms_id=1", 200),  # the legacy API's error envelope
    ("POST", "/getdata/addsms", 200),
    ("GET", "/api/mobile/v1/device", 200),  # the phones' API
    ("GET", "/login", 200),  # the dashboard
    ("GET", "/contacts", 302),
    ("GET", "/no-such-page", 404),
    ("GET", "/api/no-such-thing", 404),
])
def test_every_answer_carries_a_new_id(client, method, url, status):
    first, second = client.open(url, method=method), client.open(url, method=method)
    assert first.status_code == status
    assert NEW_ID.fullmatch(first.headers["X-Request-ID"]) and NEW_ID.fullmatch(second.headers["X-Request-ID"])
    assert first.headers["X-Request-ID"] != second.headers["X-Request-ID"]
    assert first.headers.getlist("X-Request-ID") == [first.headers["X-Request-ID"]]


def test_a_server_error_carries_its_id_and_so_does_its_logged_traceback(client, records, failing_route):
    response = client.get(failing_route)
    assert response.status_code == 500
    request_id = response.headers["X-Request-ID"]
    assert NEW_ID.fullmatch(request_id)
    [logged] = [record for record in records if record.exc_info]
    assert logged.request_id == request_id and "the view broke" in str(logged.exc_info[1])


@pytest.mark.parametrize("sent", ["7f3e9c1a-2b4d-4e8f-9a0b-1c2d3e4f5a6b", "lb.example:443.req_17", "x" * 128])
def test_a_sane_incoming_id_is_kept(client, sent):
    assert client.get("/getdata/getsmsstatus", headers={"X-Request-ID": sent}).headers["X-Request-ID"] == sent


@pytest.mark.parametrize("sent", ["x" * 129, "two words", "a,b", "<script>", "id;drop", "", "caf\u00e9"])
def test_anything_else_is_replaced_never_echoed(client, sent):
    answered = client.get("/getdata/getsmsstatus", headers={"X-Request-ID": sent}).headers["X-Request-ID"]
    assert NEW_ID.fullmatch(answered)


def test_requests_served_at_once_each_log_their_own_id(app, records):
    """Both requests are in their views at the same time when each logs: a process-wide "current id" would
    give both records the id of whichever request came in last."""
    both_inside = threading.Barrier(2)

    @app.get("/test-logs")
    def _logs():
        both_inside.wait(timeout=30)
        current_app.logger.warning("handling")
        return "ok"

    answers = {}

    def call(name):
        answers[name] = app.test_client().get("/test-logs").headers["X-Request-ID"]

    threads = [threading.Thread(target=call, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    logged = sorted(record.request_id for record in records if record.getMessage() == "handling")
    assert len(set(answers.values())) == 2
    assert logged == sorted(answers.values())


def test_records_outside_a_request_say_so(app, records):
    current_app.logger.warning("from a job")
    assert [record.request_id for record in records] == ["-"]


@pytest.fixture
def faults_answered(app):
    """Faults answered as a server answers them (the test setting would raise them into the test instead)."""
    app.config["PROPAGATE_EXCEPTIONS"] = False


def breaks(monkeypatch, module, name):
    def fail(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(module, name, fail)


def test_a_phone_is_told_the_id_of_a_fault_and_its_claim_is_undone(client, account, faults_answered, monkeypatch):
    from smsplatform.devices import api
    from smsplatform.extensions import db
    from tests.devices.helpers import PREFIX, add_message, bearer, pair

    device, token = pair(account[0])
    message = add_message(device)
    db.session.commit()
    breaks(monkeypatch, api, "_message_dto")  # after the claim, before its commit
    response = client.get(f"{PREFIX}/message", headers=bearer(token))
    assert response.status_code == 500 and response.mimetype == "application/json"
    request_id = response.headers["X-Request-ID"]
    assert response.get_json() == {"message": f"internal server error (request id {request_id})"}
    db.session.refresh(message)
    assert message.status == 1 and message.handed_count == 0


def test_the_legacy_api_names_the_id_of_a_fault(client, account, faults_answered, monkeypatch):
    from smsplatform.api.legacy import routes

    breaks(monkeypatch, routes, "record_token_use")
    response = client.post("/getdata/getalldevices", data={"token": account[1]})
    assert response.status_code == 500
    assert response.get_json() == {"error": 1, "message": "internal server error; the request was not saved "
                                                          f"(request id {response.headers['X-Request-ID']})"}


def test_a_dashboard_fault_is_a_page_naming_its_id(client, make_account, faults_answered, monkeypatch):
    from smsplatform.web import overview
    from tests.web.conftest import login

    make_account(email="me@example.com")
    login(client, "me@example.com", "correct horse battery")
    breaks(monkeypatch, overview.queries, "totals")
    response = client.get("/")
    assert response.status_code == 500 and response.mimetype == "text/html"
    page = response.get_data(as_text=True)
    assert "Something went wrong" in page and f"<code>{response.headers['X-Request-ID']}</code>" in page
    assert "disk on fire" not in page and "Traceback" not in page
    assert client.get("/contacts").status_code == 200  # still signed in
