"""Brute-force limits: a failure is recorded under the same scopes the check counts."""
from datetime import timedelta

import pytest

from smsplatform.accounts import services
from smsplatform.errors import AuthenticationError, RateLimitedError
from smsplatform.extensions import db
from smsplatform.models import AuthFailure, KnownLoginAddress
from smsplatform.timeutil import utcnow


def test_scopes_per_address_and_per_email():
    assert services.auth_failure_scopes("10.0.0.1", " Me@Example.COM ") == {
        "AUTH_FAILURE_LIMIT_PER_ADDRESS": "ip:10.0.0.1", "AUTH_FAILURE_LIMIT_PER_EMAIL": "email:me@example.com"}
    assert services.auth_failure_scopes(None, None) == {}
    assert services.auth_failure_scopes(None, "a" * 300) == {"AUTH_FAILURE_LIMIT_PER_EMAIL": "email:" + "a" * 254}


def test_recorded_failures_count_against_the_checked_scopes(app, account):
    app.config.update(AUTH_FAILURE_LIMIT_PER_EMAIL=2, AUTH_FAILURE_LIMIT_PER_ADDRESS=3)
    for address, email in [("10.0.0.1", "OWNER@example.com"), ("10.0.0.2", " owner@example.com ")]:
        with pytest.raises(AuthenticationError):
            services.authenticate(email, "wrong password", address, app.config)
    db.session.commit()
    assert sorted(row.scope for row in db.session.query(AuthFailure)) == [
        "email:owner@example.com", "email:owner@example.com", "ip:10.0.0.1", "ip:10.0.0.2"]
    with pytest.raises(RateLimitedError):  # per email, whatever the address and the spelling
        services.check_auth_allowed("10.0.0.9", "Owner@Example.com", app.config)
    for _ in range(3):
        services.record_auth_failure("10.0.0.9", None)
    with pytest.raises(RateLimitedError):  # per address, whatever the email
        services.check_auth_allowed("10.0.0.9", None, app.config)
    services.check_auth_allowed("10.0.0.8", "someone@example.com", app.config)


@pytest.mark.parametrize("email", ["owner@example.com", "nobody@example.com"])
def test_a_wrong_password_costs_one_hash_check_whether_or_not_the_email_has_an_account(app, account, monkeypatch, email):
    checked = []

    def check_password_hash(stored_hash, password):
        checked.append(stored_hash.split("$")[0])  # the method and its cost, e.g. "scrypt:32768:8:1"
        return real_check(stored_hash, password)

    real_check = services.check_password_hash
    monkeypatch.setattr(services, "check_password_hash", check_password_hash)
    with pytest.raises(AuthenticationError):
        services.authenticate(email, "wrong password", "10.0.0.1", app.config)
    owner, _token = account
    assert checked == [owner.password_hash.split("$")[0]]


def test_failures_from_elsewhere_do_not_lock_the_owner_out_of_an_address_it_signed_in_from(app, account, client):
    app.config.update(AUTH_FAILURE_LIMIT_PER_EMAIL=3, AUTH_FAILURE_LIMIT_PER_ADDRESS=100)
    services.authenticate("owner@example.com", "correct horse battery", "10.0.0.1", app.config)  # the owner, once
    db.session.commit()
    for attempt in range(5):  # someone else, trying the owner's email from other addresses
        with pytest.raises((AuthenticationError, RateLimitedError)):
            services.authenticate("owner@example.com", f"guess {attempt}", f"192.0.2.{attempt}", app.config)
        db.session.commit()
    with pytest.raises(RateLimitedError):  # a new address, even with the right password
        services.authenticate("owner@example.com", "correct horse battery", "192.0.2.99", app.config)
    owner = services.authenticate("owner@example.com", "correct horse battery", "10.0.0.1", app.config)
    assert owner.email == "owner@example.com"

    def gettoken(address: str) -> dict:
        return client.post("/getdata/gettoken", data={"email": "owner@example.com", "pass": "correct horse battery"},
                           environ_overrides={"REMOTE_ADDR": address}).get_json()

    assert "too many failed login attempts" in gettoken("192.0.2.99")["message"]
    answer = gettoken("10.0.0.1")
    assert answer["error"] == 0 and answer["token"]
    with pytest.raises(AuthenticationError):  # a wrong password from the known address still counts as wrong
        services.authenticate("owner@example.com", "guess", "10.0.0.1", app.config)


def test_an_address_is_known_for_auth_known_address_days(app, account):
    app.config.update(AUTH_FAILURE_LIMIT_PER_EMAIL=1, AUTH_KNOWN_ADDRESS_DAYS=30)
    services.authenticate("owner@example.com", "correct horse battery", "10.0.0.1", app.config)
    services.record_auth_failure("192.0.2.1", "owner@example.com")
    db.session.commit()
    (known,) = db.session.query(KnownLoginAddress).all()
    known.last_success_at = utcnow() - timedelta(days=31)
    db.session.commit()
    with pytest.raises(RateLimitedError):
        services.authenticate("owner@example.com", "correct horse battery", "10.0.0.1", app.config)
    assert services.prune_auth_failures(app.config, now=utcnow()) == 1  # the forgotten address
    assert db.session.query(KnownLoginAddress).count() == 0
