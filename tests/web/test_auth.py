"""Sign up, log in/out, sessions (expiry, password change), brute-force limits, CSRF, auth on every page."""
import re
from datetime import timedelta

import pytest

from smsplatform import create_app
from smsplatform.accounts import services as accounts
from smsplatform.extensions import db
from smsplatform.models import Account, ApiToken, DashboardSession
from smsplatform.timeutil import utcnow
from tests.web.conftest import PASSWORD, login, session_started_ago

PAGES = ["/", "/devices", "/devices/add", "/devices/1", "/send", "/messages", "/messages/export.csv",
         "/messages/export.xlsx", "/contacts/export.csv", "/contacts/export.xlsx", "/messages/1", "/inbox",
         "/inbox/conversation?phone=%2B491", "/contacts", "/contacts/new",
         "/contacts/1", "/contacts/import", "/newsletters", "/newsletters/new", "/newsletters/1",
         "/newsletters/preview?body=x", "/tokens", "/account", "/account/password"]
POSTS = ["/logout", "/account", "/account/password", "/tokens", "/tokens/1/revoke", "/devices/add", "/devices/1",
         "/devices/1/remove", "/send", "/inbox/conversation?phone=%2B491", "/contacts/new", "/contacts/1",
         "/contacts/1/delete", "/contacts/bulk", "/tags", "/tags/1/delete", "/tags/1/rename", "/contacts/import", "/newsletters/new",
         "/newsletters/1/start", "/newsletters/1/unschedule", "/newsletters/1/pause", "/newsletters/1/resume", "/newsletters/1/cancel",
         "/newsletters/1/duplicate", "/newsletters/1/delete", "/messages/1/cancel", "/messages/cancel"]


@pytest.mark.parametrize("url", PAGES)
def test_every_page_needs_a_login(client, url):
    response = client.get(url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=")


@pytest.mark.parametrize("url", [u for u in POSTS if u != "/logout"])
def test_every_post_needs_a_login_and_changes_nothing(client, url):
    response = client.post(url, data={"body": "x", "label": "x"})
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert db.session.query(ApiToken).count() == 0


def test_signup_logs_in_and_lands_on_devices(client):
    response = client.post("/signup", data={"email": "New@Example.com", "password": PASSWORD, "timezone": "Europe/Berlin"})
    assert response.status_code == 302 and response.headers["Location"] == "/devices"
    account = db.session.query(Account).one()
    assert account.email == "new@example.com" and account.timezone == "Europe/Berlin"
    assert client.get("/").status_code == 200


@pytest.mark.parametrize("data, field, message", [
    ({"email": "not-an-email", "password": PASSWORD, "timezone": "UTC"}, "email", "not a valid address"),
    ({"email": "a@example.com", "password": "short", "timezone": "UTC"}, "password", "at least 8"),
    ({"email": "a@example.com", "password": PASSWORD, "timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
    ({"email": "", "password": PASSWORD, "timezone": "UTC"}, "email", "required"),
    ({"email": "a@example.com", "password": "x" * 2000, "timezone": "UTC"}, "password", "longer than 1024"),
])
def test_signup_errors_are_shown_beside_the_field_and_nothing_is_saved(client, data, field, message):
    response = client.post("/signup", data=data)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert re.search(rf'id="{field}-error"[^>]*>[^<]*{message}', html), html
    assert db.session.query(Account).count() == 0


@pytest.mark.parametrize("timezone, fields", [
    ("UTC", {"email", "password"}),
    ("Mars/Olympus", {"email", "password", "timezone"}),
])
def test_signup_shows_every_problem_beside_its_own_field(client, timezone, fields):
    response = client.post("/signup", data={"email": "not-an-email", "password": "short", "timezone": timezone})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    errors = dict(re.findall(r'id="(\w+)-error"[^>]*>([^<]*)<', html))
    assert set(errors) == fields, errors
    assert "email is not a valid address" in errors["email"] and "at least 8" not in errors["email"]
    assert "password must have at least 8" in errors["password"] and "not a valid address" not in errors["password"]
    if "timezone" in fields:
        assert "unknown time zone" in errors["timezone"]
    assert db.session.query(Account).count() == 0


def test_signup_with_a_taken_email_says_so(client, me):
    response = client.post("/signup", data={"email": "ME@example.com", "password": PASSWORD, "timezone": "UTC"})
    assert response.status_code == 400
    assert "already exists" in response.get_data(as_text=True)
    assert db.session.query(Account).count() == 1


def test_signups_from_one_address_are_limited_made_or_refused(app, client, me):
    """Each attempt costs a password hash and tells whether an email has an account: a script must not be able to
    burn the CPU or list who uses the platform. Other addresses sign up meanwhile; the limit lifts with the window."""
    app.config.update(SIGNUP_LIMIT_PER_ADDRESS=3)

    def signup(email, address="192.0.2.7"):
        form = {"email": email, "password": PASSWORD, "timezone": "UTC"}
        return client.post("/signup", data=form, environ_base={"REMOTE_ADDR": address})

    assert signup("me@example.com").status_code == 400  # taken: counts too
    assert signup("first@example.com").status_code == 302
    client.post("/logout")
    assert signup("not an address").status_code == 400
    refused = signup("second@example.com")
    assert refused.status_code == 429 and "too many sign-ups" in refused.get_data(as_text=True)
    assert signup("me@example.com").status_code == 429  # no longer tells whether it is taken
    assert {a.email for a in db.session.query(Account)} == {"me@example.com", "first@example.com"}
    assert signup("second@example.com", address="198.51.100.1").status_code == 302
    client.post("/logout")
    app.config.update(AUTH_FAILURE_WINDOW_SECONDS=0)
    assert signup("third@example.com").status_code == 302


def test_login_and_logout(client, me):
    assert login(client, "me@example.com", "wrong password").status_code == 401
    assert client.get("/").status_code == 302
    response = login(client, "me@example.com")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert client.get("/").status_code == 200
    assert client.get("/login").headers["Location"] == "/"  # already signed in
    assert client.get("/signup").headers["Location"] == "/"
    assert client.post("/logout").status_code == 302
    assert client.get("/").status_code == 302


def test_logging_out_ends_the_session_in_every_browser_holding_its_cookie(app, client, me):
    """A copy of the cookie (another browser, a stolen one) is signed out with the session, not only this
    browser's copy; the account's other sessions stay signed in."""
    login(client, "me@example.com")
    copy = app.test_client()
    copy.set_cookie("session", client.get_cookie("session").value)
    other_session = app.test_client()
    login(other_session, "me@example.com")
    assert copy.get("/contacts").status_code == 200
    assert client.post("/logout").status_code == 302
    assert copy.get("/contacts").status_code == 302  # to the login page
    assert other_session.get("/contacts").status_code == 200
    assert db.session.query(DashboardSession).count() == 1


def test_sessions_past_their_lifetime_are_refused_and_pruned(app, client, me):
    login(client, "me@example.com")
    (stored,) = db.session.query(DashboardSession).all()
    stored.created_at = utcnow() - timedelta(seconds=app.config["SESSION_LIFETIME_SECONDS"] + 1)
    db.session.commit()
    assert client.get("/contacts").status_code == 302
    assert accounts.prune_dashboard_sessions(app.config) == 1
    assert db.session.query(DashboardSession).count() == 0


@pytest.mark.parametrize("target, expected", [
    ("/messages?status=failed", "/messages?status=failed"),
    ("https://evil.example/", "/"), ("//evil.example/", "/"), ("/\\evil.example", "/"),
])
def test_login_redirects_only_to_local_paths(client, me, target, expected):
    response = client.post("/login", query_string={"next": target}, data={"email": "me@example.com", "password": PASSWORD})
    assert response.headers["Location"] == expected


def test_login_is_rate_limited_per_email(app, client, me):
    app.config["AUTH_FAILURE_LIMIT_PER_EMAIL"] = 3
    for _ in range(3):
        assert login(client, "me@example.com", "nope-nope").status_code == 401
    response = login(client, "me@example.com")  # even the right password is refused while limited
    assert response.status_code == 429
    assert "too many failed login attempts" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_session_expires_after_its_lifetime(app, web):
    assert web.get("/").status_code == 200
    session_started_ago(web, app.config["SESSION_LIFETIME_SECONDS"] + 1)
    assert web.get("/").status_code == 302


def test_session_cookie_is_http_only_and_lax(client, me):
    response = login(client, "me@example.com")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie


def test_password_change_ends_other_sessions_but_keeps_this_one(app, web, me):
    other = app.test_client()
    login(other, "me@example.com")
    assert other.get("/").status_code == 200
    response = web.post("/account/password", data={"current_password": PASSWORD, "new_password": "another good one"})
    assert response.status_code == 302
    assert web.get("/").status_code == 200
    assert other.get("/").status_code == 302
    assert login(other, "me@example.com", "another good one").status_code == 302


def test_password_change_errors_beside_fields(web, me):
    response = web.post("/account/password", data={"current_password": "wrong", "new_password": "another good one"})
    assert response.status_code == 400
    assert re.search(r'id="current_password-error"[^>]*>[^<]*incorrect', response.get_data(as_text=True))
    response = web.post("/account/password", data={"current_password": PASSWORD, "new_password": "short"})
    assert re.search(r'id="new_password-error"[^>]*>[^<]*at least 8', response.get_data(as_text=True))
    db.session.refresh(me)
    assert me.session_version == 1


def test_the_address_a_refused_password_change_leaves_leads_back_to_its_form(web, me):
    response = web.post("/account/password", data={"current_password": "wrong", "new_password": "another good one"})
    assert response.status_code == 400  # the browser now shows /account/password
    reloaded = web.get("/account/password")
    assert reloaded.status_code == 302 and reloaded.location == "/account#change-password"
    page = web.get(reloaded.location).get_data(as_text=True)
    assert '<section class="card" id="change-password">' in page and 'id="current_password"' in page


@pytest.fixture
def csrf_app(app, base_config):
    """A second app with CSRF on. Its requests get their own app context (as in a server), since
    the ``app`` fixture's context belongs to another app object."""
    return create_app({**base_config, "WTF_CSRF_ENABLED": True})


def test_with_csrf_on_a_post_without_the_token_is_refused(csrf_app, make_account):
    make_account(email="csrf@example.com")
    client = csrf_app.test_client()
    assert client.post("/login", data={"email": "csrf@example.com", "password": PASSWORD}).status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    response = client.post("/login", data={"email": "csrf@example.com", "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
    # Signed in: every state-changing form still needs the token.
    assert client.post("/tokens", data={"label": "x"}).status_code == 400
    assert client.post("/logout").status_code == 400
    assert db.session.query(ApiToken).filter_by(label="x").count() == 0
    page = client.get("/tokens").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/tokens", data={"label": "x", "csrf_token": token}).status_code == 302
    db.session.rollback()  # a fresh snapshot: the other app committed on its own connection
    assert db.session.query(ApiToken).filter_by(label="x").count() == 1
