"""``flask devices …``: every command is one unit of work — committed, or on a domain error undone,
printed as ``{"error": …}`` and exit status 1."""
import json

import pytest
from sqlalchemy import func, select

from smsplatform.cli_output import unit_of_work
from smsplatform.errors import NotFoundError
from smsplatform.extensions import db
from smsplatform.models import Account, PairingCode
from tests.devices.helpers import pair


def _invoke(app, *args):
    result = app.test_cli_runner().invoke(args=["devices", *args])
    return result.exit_code, json.loads(result.output)


@pytest.mark.parametrize("command", [["pairing-code"], ["enrolment-token"], ["list"], ["revoke", "--device-id", "1"]])
def test_an_unknown_email_is_a_json_error_and_exit_1(app, account, command):
    code, output = _invoke(app, *command, "--email", "nobody@example.com")
    assert code == 1 and output == {"error": "no account with this email"}


def test_each_command_commits_its_work(app, account):
    code, created = _invoke(app, "pairing-code", "--email", "Owner@Example.com")
    assert code == 0 and set(created) == {"code", "expires_at"}
    code, enrolled = _invoke(app, "enrolment-token", "--email", "owner@example.com")
    assert code == 0 and enrolled["email"] == "owner@example.com"
    device, _ = pair(account[0])
    code, revoked = _invoke(app, "revoke", "--email", "owner@example.com", "--device-id", str(device.id))
    assert code == 0 and revoked["id"] == device.id and revoked["revoked_at"]
    db.session.rollback()  # what the commands committed, not what this session saw
    assert db.session.scalar(select(func.count()).select_from(PairingCode)) == 1
    assert db.session.scalar(select(Account.enrolment_token_hash)) is not None
    db.session.refresh(device)
    assert device.revoked_at is not None and device.token_hash is None
    code, listed = _invoke(app, "list", "--email", "owner@example.com")
    assert code == 0 and listed == {"email": "owner@example.com", "devices": []}


def test_a_unit_of_work_undoes_everything_before_the_domain_error(app, account, capsys):
    with pytest.raises(SystemExit) as exited:
        with unit_of_work():
            db.session.scalar(select(Account)).email = "changed@example.com"
            db.session.flush()
            raise NotFoundError("nothing here")
    assert exited.value.code == 1
    assert json.loads(capsys.readouterr().out) == {"error": "nothing here"}
    assert db.session.scalar(select(Account.email)) == "owner@example.com"


@pytest.mark.parametrize("device_id", ["9223372036854775808", "99999999999999999999"])  # past a BIGINT
def test_a_device_id_no_row_can_have_is_a_usage_error_not_a_traceback(app, account, device_id):
    result = app.test_cli_runner().invoke(args=["devices", "revoke", "--email", "owner@example.com",
                                                "--device-id", device_id])
    assert result.exit_code == 2, result.output
    assert "Invalid value for '--device-id'" in result.output and result.exception.__class__ is SystemExit
