"""API tokens: what a token check returns, and how often it records the token's use."""
from datetime import timedelta

import pytest

from smsplatform.accounts import services
from smsplatform.errors import AuthenticationError
from smsplatform.extensions import db
from smsplatform.models import ApiToken


def test_a_token_check_returns_the_accounts_current_settings(make_account):
    account, token = make_account(email="zone@example.com")
    services.update_settings(account, timezone="Europe/Berlin", default_region="de", allow_direct_to_opted_out=False)
    db.session.commit()

    found = services.account_for_token(f"  {token}\n")
    assert (found.id, found.timezone, found.default_region, found.allow_direct_to_opted_out) == \
        (account.id, "Europe/Berlin", "DE", False)
    with pytest.raises(AttributeError):
        found.timezone = "UTC"  # read-only: a machine call cannot change the account through it


def test_each_of_several_tokens_works_until_revoked(make_account):
    account, first = make_account()
    second = services.issue_token(account)
    db.session.commit()
    assert services.account_for_token(first).id == services.account_for_token(second).id == account.id

    services.revoke_token(account, db.session.query(ApiToken).filter_by(hint=first[-4:]).one().id)
    db.session.commit()
    with pytest.raises(AuthenticationError, match="invalid or revoked"):
        services.account_for_token(first)
    assert services.account_for_token(second).id == account.id


def test_last_use_is_written_at_most_once_a_minute(make_account):
    _account, token = make_account()
    services.account_for_token(token)
    db.session.commit()
    row = db.session.query(ApiToken).one()
    first_use = row.last_used_at
    assert first_use is not None

    services.account_for_token(token)  # within the interval: no write
    db.session.commit()
    db.session.refresh(row)
    assert row.last_used_at == first_use

    row.last_used_at = first_use - timedelta(seconds=services.TOKEN_USE_INTERVAL_SECONDS + 1)
    db.session.commit()
    services.account_for_token(token)
    db.session.commit()
    db.session.refresh(row)
    assert row.last_used_at > first_use
