"""Sign-up validation: every problem is reported at once, in one ValidationError."""
import pytest
from sqlalchemy import insert, select

from smsplatform.accounts import services
from smsplatform.errors import ConflictError, ValidationError
from smsplatform.extensions import db
from smsplatform.models import Account
from tests.support.races import after_statement

PASSWORD = "correct horse battery"


def test_every_problem_is_reported_at_once(app):
    with pytest.raises(ValidationError) as refused:
        services.create_account("not-an-email", "short", "Mars/Olympus")
    error = refused.value
    assert error.message == ("email is not a valid address; password must have at least 8 characters; "
                             "unknown time zone 'Mars/Olympus'")
    assert error.field == "email"
    assert [field for field, _ in error.problems] == ["email", "password", "timezone"]
    assert db.session.query(Account).count() == 0


@pytest.mark.parametrize("email, password, timezone, field, message", [
    ("", PASSWORD, "UTC", "email", "email is required"),
    ("a@example.com", "short", "UTC", "password", "password must have at least 8 characters"),
    ("a@example.com", PASSWORD, "Mars/Olympus", "timezone", "unknown time zone 'Mars/Olympus'"),
])
def test_one_problem_reads_as_before(app, email, password, timezone, field, message):
    with pytest.raises(ValidationError) as refused:
        services.create_account(email, password, timezone)
    assert (refused.value.message, refused.value.field) == (message, field)


def test_a_taken_email_alone_is_a_conflict_and_is_listed_with_other_problems(make_account):
    make_account(email="me@example.com")
    with pytest.raises(ConflictError, match="already exists"):
        services.create_account("ME@example.com", PASSWORD)
    with pytest.raises(ValidationError) as refused:
        services.create_account("ME@example.com", "short")
    assert refused.value.message == ("an account with this email already exists; "
                                     "password must have at least 8 characters")
    assert db.session.query(Account).count() == 1


def test_the_zone_is_stored_under_its_own_name(app):
    account = services.create_account("zone@example.com", PASSWORD, " europe/berlin ")
    assert account.timezone == "Europe/Berlin"


@pytest.mark.parametrize("timezone, region", [
    ("Europe/Berlin", "DE"), ("america/new_york", "US"), ("Asia/Kolkata", "IN"), ("UTC", None), ("Etc/GMT+2", None),
    ("Asia/Calcutta", "IN"), ("Europe/Kiev", "UA"),  # older names, which Chromium still reports
    ("Antarctica/Troll", None),  # a country phone numbers do not know
])
def test_the_default_region_follows_the_zones_country(app, timezone, region):
    account = services.create_account("zone@example.com", PASSWORD, timezone)
    assert account.default_region == region


def test_national_numbers_of_a_new_account_in_berlin_become_e164(app):
    from smsplatform.phones import normalize_phone

    account = services.create_account("berlin@example.com", PASSWORD, "Europe/Berlin")
    assert normalize_phone("0157 5298 2212", account.default_region).normalized == "+4915752982212"


def test_a_new_zone_sets_the_region_only_where_none_was_chosen(app):
    account = services.create_account("later@example.com", PASSWORD, "UTC")
    services.update_settings(account, timezone="Europe/Paris", default_region="")  # the settings form's empty field
    assert account.default_region == "FR"
    services.update_settings(account, timezone="Europe/Berlin", default_region="FR")  # the form shows FR now
    assert account.default_region == "FR"
    services.update_settings(account, timezone="Europe/Rome")
    assert account.default_region == "FR"  # a region the account has stays
    services.update_settings(account, timezone="Europe/Rome", default_region=" ")
    assert account.default_region is None  # cleared on purpose, zone unchanged: stays cleared
    services.update_settings(account, timezone="Europe/Vienna", default_region="ch")
    assert account.default_region == "CH"  # a region given wins


def test_an_email_signed_up_meanwhile_is_a_conflict_not_a_failure(app):
    """A double-clicked "Sign up": the other request creates the account between this one's check and its
    insert. The unique email refuses the insert; that is the same conflict as an email found taken."""
    sign_up_meanwhile = after_statement("SELECT accounts.id", lambda other: other.execute(
        insert(Account).values(email="me@example.com", password_hash="x", timezone="UTC")))
    with sign_up_meanwhile as created, pytest.raises(ConflictError, match="already exists"):
        services.create_account("me@example.com", PASSWORD)
    assert created
    db.session.rollback()
    assert db.session.scalars(select(Account.email)).all() == ["me@example.com"]
