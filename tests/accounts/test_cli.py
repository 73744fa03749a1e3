import json

from smsplatform.accounts import services
from smsplatform.models import Account


def test_create_account_prints_one_json_object_with_working_token(app):
    runner = app.test_cli_runner()
    result = runner.invoke(args=["accounts", "create", "--email", "Ops@Example.com", "--password", "s3cret-pass"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert set(payload) == {"id", "email", "token"}
    assert payload["email"] == "ops@example.com"
    assert len(payload["token"]) == 32 and int(payload["token"], 16) >= 0
    assert services.account_for_token(payload["token"]).id == payload["id"]


def test_create_account_twice_fails_cleanly(app):
    runner = app.test_cli_runner()
    runner.invoke(args=["accounts", "create", "--email", "a@example.com", "--password", "s3cret-pass"])
    result = runner.invoke(args=["accounts", "create", "--email", "a@example.com", "--password", "other-pass"])
    assert result.exit_code == 1
    assert "already exists" in json.loads(result.output)["error"]
    assert Account.query.count() == 1


def test_token_issues_a_new_distinct_token(app):
    runner = app.test_cli_runner()
    first = json.loads(runner.invoke(args=["accounts", "create", "--email", "b@example.com", "--password", "s3cret-pass"]).output)
    second = json.loads(runner.invoke(args=["accounts", "token", "--email", "b@example.com"]).output)
    assert second["token"] != first["token"]
    assert services.account_for_token(first["token"]).id == services.account_for_token(second["token"]).id


def test_token_for_unknown_email_fails(app):
    result = app.test_cli_runner().invoke(args=["accounts", "token", "--email", "nobody@example.com"])
    assert result.exit_code == 1
    assert json.loads(result.output)["error"]
