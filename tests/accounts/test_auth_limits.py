"""Brute-force limits: a failure is recorded under the same scopes the check counts."""
import pytest

from smsplatform.accounts import services
from smsplatform.errors import AuthenticationError, RateLimitedError
from smsplatform.extensions import db
from smsplatform.models import AuthFailure


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
