"""With CSRF on, as in production: a form's token holds for the session's lifetime, and a form whose token
no longer holds gets the dashboard's own page saying how to go on (not werkzeug's bare 400). The machine
APIs take no CSRF token at all."""
import re
import time

import pytest
from itsdangerous import TimestampSigner, URLSafeTimedSerializer

from smsplatform import create_app
from smsplatform.extensions import db
from smsplatform.models import ApiToken
from tests.web.conftest import PASSWORD, csrf_token, session_started_ago

TOKENS_PAGE = "http://localhost/tokens"


@pytest.fixture
def csrf_app(app, base_config):
    return create_app({**base_config, "WTF_CSRF_ENABLED": True})


@pytest.fixture
def signed_in(csrf_app, me):
    """A client of ``csrf_app`` signed in as ``me``."""
    client = csrf_app.test_client()
    token = csrf_token(client.get("/login").get_data(as_text=True))
    assert client.post("/login", data={"email": me.email, "password": PASSWORD, "csrf_token": token}).status_code == 302
    client.get("/tokens")  # a page with forms: the new session's form token
    return client


def token_signed_ago(client, csrf_app, seconds: int) -> str:
    """The token of the client's forms as Flask-WTF signs it, but signed ``seconds`` ago."""
    class SignedEarlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - seconds

    with client.session_transaction() as stored:
        raw = stored["csrf_token"]
    return URLSafeTimedSerializer(csrf_app.secret_key, salt="wtf-csrf-token", signer=SignedEarlier).dumps(raw)


def token_labels() -> list[str]:
    db.session.rollback()  # a fresh snapshot: the other app committed on its own connection
    return [t.label for t in db.session.query(ApiToken).filter(ApiToken.label == "CRM")]


def expired_page(response) -> str:
    html = response.get_data(as_text=True)
    assert response.status_code == 400
    assert "<title>Form expired · smsplatform</title>" in html and '<main id="main">' in html
    assert "This form expired" in html and "nothing was saved" in html
    return html


def test_a_form_older_than_an_hour_is_accepted_while_the_session_lasts(signed_in, csrf_app):
    session_started_ago(signed_in, 3 * 3600)
    token = token_signed_ago(signed_in, csrf_app, 2 * 3600)
    response = signed_in.post("/tokens", data={"label": "CRM", "csrf_token": token})
    assert response.status_code == 302
    assert token_labels() == ["CRM"]


def test_a_form_older_than_the_session_lifetime_gets_the_dashboard_page(signed_in, csrf_app):
    token = token_signed_ago(signed_in, csrf_app, csrf_app.config["SESSION_LIFETIME_SECONDS"] + 60)
    response = signed_in.post("/tokens", data={"label": "CRM", "csrf_token": token},
                              headers={"Referer": TOKENS_PAGE})
    html = expired_page(response)
    assert re.search(r'<a href="/tokens">Reload the page</a> and submit the form again', html)
    assert "Log out" in html  # still signed in: the dashboard's menu
    assert token_labels() == []


def test_a_wrong_token_gets_the_dashboard_page(signed_in):
    response = signed_in.post("/tokens", data={"label": "CRM", "csrf_token": "not-a-token"})
    html = expired_page(response)
    assert '<a href="/">Reload the page</a>' in html  # no page it came from: the overview
    assert token_labels() == []


def test_a_form_sent_after_logging_out_in_another_tab_says_to_sign_in(signed_in):
    page = signed_in.get("/tokens").get_data(as_text=True)
    other_tab = page  # both tabs share the session cookie
    assert signed_in.post("/logout", data={"csrf_token": csrf_token(other_tab)}).status_code == 302
    response = signed_in.post("/tokens", data={"label": "CRM", "csrf_token": csrf_token(page)},
                              headers={"Referer": TOKENS_PAGE + "?x=1"})
    html = expired_page(response)
    assert '<a href="/login?next=/tokens?x%3D1">Sign in</a>, then' in html
    assert "Log out" not in html
    assert token_labels() == []


def test_a_referrer_on_another_site_is_not_linked(signed_in):
    response = signed_in.post("/tokens", data={"label": "CRM"}, headers={"Referer": "http://evil.example/tokens"})
    html = expired_page(response)
    assert "evil.example" not in html


def test_the_machine_apis_need_no_csrf_token(csrf_app, me):
    client = csrf_app.test_client()
    response = client.post("/getdata/gettoken", data={"email": me.email, "pass": PASSWORD})
    assert response.status_code == 200 and response.get_json()["error"] == 0
    response = client.post("/api/mobile/v1/device", json={"name": "x"}, headers={"Authorization": "Bearer nope"})
    assert response.status_code == 401 and "CSRF" not in response.get_data(as_text=True)
