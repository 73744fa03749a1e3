"""Cookie sessions belong to the dashboard; the token-authenticated machine APIs never open one."""
import pytest
from flask import request
from flask.sessions import SecureCookieSession


@pytest.mark.parametrize("path", ["/getdata/addsms", "/getdata/", "/getdata/nosuchmethod", "/api/mobile/v1/message",
                                  "/api/mobile/v1/events"])
def test_machine_api_requests_get_the_null_session(app, path):
    with app.test_request_context(path, method="POST"):
        session = app.session_interface.open_session(app, request)
        assert app.session_interface.is_null_session(session)


@pytest.mark.parametrize("path", ["/", "/login", "/messages", "/getdata", "/apis"])
def test_dashboard_requests_get_a_cookie_session(app, path):
    with app.test_request_context(path):
        session = app.session_interface.open_session(app, request)
        assert isinstance(session, SecureCookieSession)
        assert not app.session_interface.is_null_session(session)


def test_a_signed_in_browser_calling_the_legacy_api_keeps_its_dashboard_session(client, make_account):
    _account, token = make_account(email="both@example.com")
    signed_in = client.post("/login", data={"email": "both@example.com", "password": "correct horse battery"})
    assert signed_in.status_code == 302 and "session=" in signed_in.headers.get("Set-Cookie", "")

    answer = client.post("/getdata/getalldevices", data={"token": token})
    assert answer.get_json()["error"] == 0
    assert "Set-Cookie" not in answer.headers  # the API neither read nor rewrote the cookie

    assert client.get("/messages").status_code == 200  # still signed in
