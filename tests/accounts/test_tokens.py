"""API tokens: what a token check returns, and how often it records the token's use."""
from datetime import timedelta

import pytest

from smsplatform.accounts import services
from smsplatform.errors import AuthenticationError
from smsplatform.extensions import db
from smsplatform.models import Account, ApiToken
from smsplatform.timeutil import utcnow
from tests.support.races import after_statement
from tests.support.threads import run_in_threads


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
    services.record_token_use(services.account_for_token(token))
    db.session.commit()
    row = db.session.query(ApiToken).one()
    first_use = row.last_used_at
    assert first_use is not None

    services.record_token_use(services.account_for_token(token))  # within the interval: no write
    db.session.commit()
    db.session.refresh(row)
    assert row.last_used_at == first_use

    row.last_used_at = first_use - timedelta(seconds=services.TOKEN_USE_INTERVAL_SECONDS + 1)
    db.session.commit()
    services.record_token_use(services.account_for_token(token))
    db.session.commit()
    db.session.refresh(row)
    assert row.last_used_at > first_use


def test_looking_a_token_up_writes_nothing(make_account):
    """The stamp is ``record_token_use``'s, which a call runs last: the lookup opens no write transaction."""
    _account, token = make_account()
    services.account_for_token(token)
    db.session.commit()
    assert db.session.query(ApiToken).one().last_used_at is None


def test_login_token_is_the_same_token_until_revoked(make_account):
    account, _ = make_account()
    first = services.login_token(account, "key one")
    db.session.commit()
    assert services.login_token(account, "key one") == first
    row = db.session.query(ApiToken).filter(ApiToken.derivation_nonce.is_not(None)).one()
    assert (row.label, row.hint, row.token_hash) == ("gettoken", first[-4:], services.hash_secret(first))

    services.revoke_token(account, row.id)
    db.session.commit()
    second = services.login_token(account, "key one")
    db.session.commit()
    assert second != first
    with pytest.raises(AuthenticationError, match="invalid or revoked"):
        services.account_for_token(first)
    assert services.account_for_token(second).id == account.id


def test_login_tokens_differ_per_account_and_a_new_secret_key_issues_a_new_one(make_account):
    mine, _ = make_account()
    theirs, _ = make_account()
    token = services.login_token(mine, "key one")
    assert services.login_token(theirs, "key one") != token

    after_rotation = services.login_token(mine, "key two")
    db.session.commit()
    assert after_rotation != token
    assert services.login_token(mine, "key two") == after_rotation
    # the token answered before the key changed is a stored hash like any other: valid until revoked
    assert services.account_for_token(token).id == services.account_for_token(after_rotation).id == mine.id


def test_login_token_passes_over_tokens_it_cannot_derive(make_account):
    """Tokens gettoken issued before it derived them, and tokens labelled "gettoken" by hand, carry no nonce."""
    account, api_token = make_account()
    services.issue_token(account, label="gettoken")
    db.session.commit()
    token = services.login_token(account, "key one")
    assert token != api_token
    assert services.login_token(account, "key one") == token
    assert db.session.query(ApiToken).count() == 3


def test_a_first_gettoken_racing_another_answers_the_token_the_other_issued(make_account):
    """Two first gettoken calls of one account (an integration's workers starting together): the one whose
    lookup found nothing, while the other issued its token, answers that same token."""
    account, _ = make_account()
    db.session.commit()
    nonce = "0" * 32
    theirs = services._derived_token("key one", account.id, nonce)

    def other_call_issues_its_token(connection):
        connection.execute(ApiToken.__table__.insert().values(
            account_id=account.id, token_hash=services.hash_secret(theirs), hint=theirs[-4:], label="gettoken",
            derivation_nonce=nonce, created_at=utcnow()))

    with after_statement("SELECT", other_call_issues_its_token, containing="derivation_nonce") as fired:
        mine = services.login_token(account, "key one")
    db.session.commit()
    assert fired, "the token lookup never ran"
    assert mine == theirs
    assert db.session.query(ApiToken).filter(ApiToken.derivation_nonce.is_not(None)).count() == 1


def test_concurrent_first_gettoken_calls_all_answer_one_token(app, make_account):
    account, _ = make_account()
    db.session.commit()
    account_id = account.id

    def first_gettoken():
        token = services.login_token(db.session.get(Account, account_id), "key one")
        db.session.commit()
        return token

    tokens = run_in_threads(app, *[first_gettoken] * 6)
    assert len(set(tokens)) == 1
    assert db.session.query(ApiToken).filter(ApiToken.derivation_nonce.is_not(None)).count() == 1
