import json
import os
import pty
import sys
from pathlib import Path

from werkzeug.security import check_password_hash

from smsplatform.accounts import services
from smsplatform.accounts.cli import PASSWORD_VARIABLE
from smsplatform.extensions import db
from smsplatform.models import Account

ROOT = Path(__file__).resolve().parents[2]


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


def created_account(result) -> Account:
    assert result.exit_code == 0, result.output
    return db.session.get(Account, json.loads(result.output.strip().splitlines()[-1])["id"])


def test_create_reads_the_password_from_stdin_or_the_environment(app):
    runner = app.test_cli_runner()
    piped = created_account(runner.invoke(args=["accounts", "create", "--email", "c@example.com", "--password-stdin"],
                                          input="piped secret pass\n"))
    from_environment = created_account(runner.invoke(args=["accounts", "create", "--email", "d@example.com"],
                                                     env={"SMSPLATFORM_PASSWORD": "environment pass"}))
    assert check_password_hash(piped.password_hash, "piped secret pass")
    assert check_password_hash(from_environment.password_hash, "environment pass")


def test_create_without_a_password_and_without_a_terminal_fails_before_creating(app):
    result = app.test_cli_runner().invoke(args=["accounts", "create", "--email", "e@example.com"], input="")
    assert result.exit_code == 2
    assert "no password: use --password-stdin or $SMSPLATFORM_PASSWORD" in result.output
    assert Account.query.count() == 0


def test_create_in_a_terminal_asks_for_the_password_twice_without_echoing_it(app, tmp_path):
    environment = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "SECRET_KEY": "test-secret",
                   "INSTANCE_PATH": str(tmp_path), "EVENTS_SOCKET_DIR": str(tmp_path / "events")}
    environment.pop(PASSWORD_VARIABLE, None)
    pid, terminal = pty.fork()
    if pid == 0:  # the child: the operator's shell
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, "-m", "flask", "--app", "wsgi", "accounts", "create",
                                   "--email", "f@example.com"], environment)
    screen = b""
    for answer in (b"Password: ", b"Repeat for confirmation: "):
        while not screen.endswith(answer):
            screen += os.read(terminal, 1024)
        os.write(terminal, b"typed secret pass\n")
    while True:
        try:
            block = os.read(terminal, 1024)
        except OSError:  # the child has exited and closed its side
            break
        if not block:
            break
        screen += block
    assert os.waitpid(pid, 0)[1] == 0, screen
    assert b"typed secret pass" not in screen
    db.session.expire_all()
    account = Account.query.filter_by(email="f@example.com").one()
    assert check_password_hash(account.password_hash, "typed secret pass")
