"""POST/PATCH/GET /device, /user/code and /user/password, replayed as the app sends them (§1.4, §3)."""
import base64
import json
import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from smsplatform.accounts.services import hash_secret
from smsplatform.devices import pairing, services
from smsplatform.errors import AuthenticationError, ValidationError
from smsplatform.events import subscribe
from smsplatform.extensions import db
from smsplatform.models import AuthFailure, Device, PairingCode
from smsplatform.timeutil import utcnow
from tests.devices.helpers import JSON, MILLIS_Z, PREFIX, UA, add_message, basic, bearer, pair
from tests.support.chunked import send_chunked

PASSWORD = "correct horse battery"
SIM_CARDS = [{"slotIndex": 0, "simNumber": 1, "phoneNumber": "********4567", "carrierName": "***izon",
              "iccid": "****************1234"}]


def _register(client, authorization, body=None, **headers):
    payload = body if body is not None else {"name": "samsung/a52qnsxx", "simCards": SIM_CARDS}
    return client.post(f"{PREFIX}/device", json=payload,
                        headers={**({"Authorization": authorization} if authorization else {}), **UA, **headers})


def _devices():
    return db.session.scalar(select(func.count()).select_from(Device))


def test_register_with_pairing_code_as_typed_in_upper_case(app, client, account):
    code, _ = pairing.create_pairing_code(account[0], 600)
    db.session.commit()
    response = _register(client, f"Code {code.upper()}")
    assert response.status_code == 201
    assert response.mimetype == "application/json"
    body = response.get_json()
    assert set(body) == {"id", "token", "login"}  # no password for an existing account
    assert body["login"] == "owner@example.com" and body["id"].isdigit()
    device = db.session.get(Device, int(body["id"]))
    assert device.account_id == account[0].id and device.name == "samsung/a52qnsxx"
    assert device.token_hash == hash_secret(body["token"]) and body["token"] not in device.token_hash
    assert device.app_version == "1.68.0" and device.sim_cards == SIM_CARDS and device.last_seen_at is not None
    assert len(device.webhook_signing_key) == 64
    row = db.session.scalar(select(PairingCode))
    assert row.used_at is not None and row.device_id == device.id and row.code_hash != code
    # the new token works at once
    assert client.get(f"{PREFIX}/settings", headers=bearer(body["token"])).status_code == 200


def test_pairing_code_is_single_use(app, client, account):
    code, _ = pairing.create_pairing_code(account[0], 600)
    db.session.commit()
    assert _register(client, f"Code {code}").status_code == 201
    again = _register(client, f"Code {code}")
    assert again.status_code == 401 and again.get_json()["message"]
    assert _devices() == 1


@pytest.mark.parametrize("case", ["wrong", "expired", "empty"])
def test_bad_pairing_codes_are_refused_and_change_nothing(app, client, account, case):
    code, row = pairing.create_pairing_code(account[0], 600)
    if case == "expired":
        row.expires_at = utcnow() - timedelta(seconds=1)
    db.session.commit()
    header = {"wrong": "Code zzzzzzzz", "expired": f"Code {code}", "empty": "Code "}[case]
    response = _register(client, header)
    assert response.status_code == 401 and response.mimetype == "application/json"
    assert _devices() == 0
    assert db.session.scalar(select(PairingCode.used_at)) is None


def test_bad_body_does_not_burn_the_code(app, client, account):
    code, _ = pairing.create_pairing_code(account[0], 600)
    db.session.commit()
    for body in ([], {"name": ""}, {"name": "x" * 129}, {"name": "ok", "simCards": "no"},
                 {"name": "ok", "simCards": [{"slotIndex": "0"}]}, {"name": "ok", "slots": [1]},
                 {"name": "ok", "pushToken": 5}):
        assert _register(client, f"Code {code}", body=body).status_code == 400, body
    for data in ("{not json", "[" * 100_000 + "]" * 100_000):  # the second nests past the parser's stack
        bad = client.post(f"{PREFIX}/device", data=data, headers={"Authorization": f"Code {code}", **UA, **JSON})
        assert bad.status_code == 400 and bad.get_json()["message"] == "body must be JSON"
    assert _register(client, f"Code {code}").status_code == 201


def test_register_with_basic_login_and_password(app, client, account):
    response = client.post(f"{PREFIX}/device", json={"name": "Google/oriole", "simCards": []},
                           headers=basic("owner@example.com", PASSWORD))
    assert response.status_code == 201
    assert response.get_json()["login"] == "owner@example.com" and "password" not in response.get_json()


def test_basic_with_wrong_password_is_401_and_counted(app, client, account):
    response = client.post(f"{PREFIX}/device", json={"name": "x"}, headers=basic("owner@example.com", "nope"))
    assert response.status_code == 401
    assert _devices() == 0
    assert db.session.scalar(select(func.count()).select_from(AuthFailure)) == 2  # per address and per email


def test_basic_is_rate_limited(app, client, account):
    app.config["AUTH_FAILURE_LIMIT_PER_EMAIL"] = 2
    for _ in range(2):
        client.post(f"{PREFIX}/device", json={"name": "x"}, headers=basic("owner@example.com", "nope"))
    response = client.post(f"{PREFIX}/device", json={"name": "x"}, headers=basic("owner@example.com", PASSWORD))
    assert response.status_code == 429 and _devices() == 0


def test_register_with_enrolment_token_reattaches_to_the_account(app, client, account, make_account):
    token = pairing.rotate_enrolment_token(account[0])
    db.session.commit()
    # the app's automatic re-registration: private token, no pushToken, lower-case scheme is fine too
    first = client.post(f"{PREFIX}/device", json={"name": "Google/oriole", "simCards": []},
                        headers={"Authorization": f"bearer {token}", **UA})
    assert first.status_code == 201 and first.get_json()["login"] == "owner@example.com"
    rotated = pairing.rotate_enrolment_token(account[0])
    db.session.commit()
    assert _register(client, f"Bearer {token}").status_code == 401  # the old token is gone
    assert _register(client, f"Bearer {rotated}").status_code == 201


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nope", "Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(),
                                    "Token abc", "Code " + "a" * 2000])
def test_missing_or_wrong_credentials_are_401(app, client, account, header):
    response = _register(client, header)
    assert response.status_code == 401
    assert response.get_json()["message"]
    assert _devices() == 0


def test_patch_device_updates_sims_and_clears_push_token(app, client, account):
    device, token = pair(account[0])
    device.push_token = "fcm-old"
    db.session.commit()
    response = client.patch(f"{PREFIX}/device", json={"id": str(device.id), "simCards": SIM_CARDS}, headers=bearer(token))
    assert response.status_code == 204 and response.data == b""
    db.session.refresh(device)
    assert device.push_token is None and device.sim_cards == SIM_CARDS


def test_patch_device_keeps_push_token_for_old_apps(app, client, account):
    device, token = pair(account[0])
    device.push_token = "fcm-old"
    db.session.commit()
    old = {"Authorization": f"Bearer {token}", "User-Agent": "me.capcom.smsgateway/1.60.2"}
    assert client.patch(f"{PREFIX}/device", json={"id": str(device.id)}, headers=old).status_code == 204
    db.session.refresh(device)
    assert device.push_token == "fcm-old" and device.app_version == "1.60.2"
    assert client.patch(f"{PREFIX}/device", json={"id": str(device.id), "pushToken": "fcm-new"},
                        headers=old).status_code == 204
    db.session.refresh(device)
    assert device.push_token == "fcm-new"


def test_patch_device_with_another_id_is_403_and_unknown_token_401(app, client, account, make_account):
    device, token = pair(account[0])
    other, _ = pair(make_account()[0])
    assert client.patch(f"{PREFIX}/device", json={"id": str(other.id)}, headers=bearer(token)).status_code == 403
    assert client.patch(f"{PREFIX}/device", json={"id": str(device.id)}, headers=bearer("x" * 43)).status_code == 401
    assert client.patch(f"{PREFIX}/device", data="nope", headers={**bearer(token), **JSON}).status_code == 400


def test_revoked_device_token_stops_working_at_once(app, client, account):
    device, token = pair(account[0])
    waiting = add_message(device)
    db.session.commit()
    services.revoke_device(account[0], device.id)
    db.session.commit()
    for method, path in (("patch", "/device"), ("get", "/message"), ("get", "/settings"), ("get", "/webhooks"),
                         ("patch", "/message")):
        response = getattr(client, method)(f"{PREFIX}{path}", json={"id": str(device.id)} if path == "/device" else [],
                                           headers=bearer(token))
        assert response.status_code == 401, path
    db.session.refresh(waiting)
    assert waiting.status == 13 and waiting.failure_reason == "device was unpaired"


def test_get_device_answers_external_ip_without_a_token(app, client):
    response = client.get(f"{PREFIX}/device", headers=UA, environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert response.status_code == 200 and response.get_json() == {"externalIp": "203.0.113.9"}
    assert client.get(f"{PREFIX}/device", headers={"Authorization": "Bearer wrong"}).status_code == 200


def test_presence_is_written_coarsely(app, client, account):
    device, token = pair(account[0], version="1.60.0")
    device.last_seen_at = utcnow() - timedelta(minutes=10)
    device.marked_offline_at = utcnow()
    db.session.commit()
    client.get(f"{PREFIX}/settings", headers=bearer(token))
    db.session.refresh(device)
    first = device.last_seen_at
    assert (utcnow() - first).total_seconds() < 5 and device.marked_offline_at is None
    assert device.app_version == "1.68.0"
    client.get(f"{PREFIX}/settings", headers=bearer(token))
    db.session.refresh(device)
    assert device.last_seen_at == first  # seen < 5 s ago: no write


def test_user_code_gives_a_code_that_pairs_another_phone(app, client, account):
    response = client.get(f"{PREFIX}/user/code", headers=basic("owner@example.com", PASSWORD))
    assert response.status_code == 200
    body = response.get_json()
    assert set(body) == {"code", "validUntil"} and re.match(MILLIS_Z, body["validUntil"])
    assert _register(client, f"Code {body['code']}").status_code == 201
    assert client.get(f"{PREFIX}/user/code", headers=basic("owner@example.com", "wrong")).status_code == 401
    assert client.get(f"{PREFIX}/user/code").status_code == 401


def test_user_code_and_sign_in_share_one_basic_login_and_its_limits(app, client, account):
    """``GET /user/code`` and ``POST /device`` with Basic: one login rule, failures counted toward the same limits."""
    app.config["AUTH_FAILURE_LIMIT_PER_EMAIL"] = 2
    assert client.get(f"{PREFIX}/user/code", headers=basic("owner@example.com", "wrong")).status_code == 401
    assert db.session.scalar(select(func.count()).select_from(AuthFailure)) == 2  # per address and per email
    assert _register(client, basic("owner@example.com", "wrong")["Authorization"]).status_code == 401
    # the email has now failed twice, through either door: both refuse even the right password
    assert client.get(f"{PREFIX}/user/code", headers=basic("owner@example.com", PASSWORD)).status_code == 429
    assert _register(client, basic("owner@example.com", PASSWORD)["Authorization"]).status_code == 429
    assert _devices() == 0 and db.session.scalar(select(func.count()).select_from(PairingCode)) == 0


@pytest.mark.parametrize("header", ["Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(), "Code abcdefgh",
                                    "Bearer x", "Basic"])
def test_user_code_refuses_anything_but_valid_basic_credentials(app, client, account, header):
    response = client.get(f"{PREFIX}/user/code", headers={"Authorization": header, **UA})
    assert response.status_code == 401 and response.get_json()["message"]
    assert db.session.scalar(select(func.count()).select_from(PairingCode)) == 0


def test_basic_login_service_decodes_and_authenticates(app, account):
    credentials = base64.b64encode(f"Owner@Example.com:{PASSWORD}".encode()).decode()
    assert services.account_for_basic(credentials, "10.0.0.1", app.config).id == account[0].id
    code, row = services.create_login_code("basic", credentials, "10.0.0.1", app.config)
    assert row.account_id == account[0].id and len(code) == pairing.CODE_LENGTH
    with pytest.raises(AuthenticationError):
        services.create_login_code("bearer", credentials, "10.0.0.1", app.config)


def test_change_password_from_the_phone(app, client, account):
    _device, token = pair(account[0])
    url = f"{PREFIX}/user/password"
    short = client.patch(url, json={"currentPassword": PASSWORD, "newPassword": "short-13-char"}, headers=bearer(token))
    assert short.status_code == 400
    wrong = client.patch(url, json={"currentPassword": "nope", "newPassword": "a-new-password-14"}, headers=bearer(token))
    assert wrong.status_code == 401
    assert client.patch(url, json={"newPassword": "a-new-password-14"}, headers=bearer(token)).status_code == 400
    ok = client.patch(url, json={"currentPassword": PASSWORD, "newPassword": "a-new-password-14"}, headers=bearer(token))
    assert ok.status_code == 204
    assert client.get(f"{PREFIX}/user/code", headers=basic("owner@example.com", "a-new-password-14")).status_code == 200


def test_double_slash_paths_work_without_redirect(app, client, account):
    code, _ = pairing.create_pairing_code(account[0], 600)
    db.session.commit()
    response = client.post(f"{PREFIX}//device", json={"name": "x"}, headers={"Authorization": f"Code {code}", **UA})
    assert response.status_code == 201
    token = response.get_json()["token"]
    assert client.get(f"{PREFIX}//message?order=lifo", headers=bearer(token)).status_code == 200
    assert client.get(f"{PREFIX}/settings/", headers=bearer(token)).status_code == 200


def test_cli_pairing_code_list_enrolment_and_revoke(app, client, account):
    import json

    runner = app.test_cli_runner()
    out = json.loads(runner.invoke(args=["devices", "pairing-code", "--email", "owner@example.com"]).output)
    assert set(out) == {"code", "expires_at"} and re.match(MILLIS_Z, out["expires_at"])
    device_id = int(_register(client, f"Code {out['code']}").get_json()["id"])
    listed = json.loads(runner.invoke(args=["devices", "list", "--email", "owner@example.com"]).output)
    assert [d["id"] for d in listed["devices"]] == [device_id] and listed["devices"][0]["online"] is True
    enrol = json.loads(runner.invoke(args=["devices", "enrolment-token", "--email", "owner@example.com"]).output)
    assert _register(client, f"Bearer {enrol['enrolment_token']}").status_code == 201
    revoked = runner.invoke(args=["devices", "revoke", "--email", "owner@example.com", "--device-id", str(device_id)])
    assert revoked.exit_code == 0 and json.loads(revoked.output)["id"] == device_id
    missing = runner.invoke(args=["devices", "pairing-code", "--email", "nobody@example.com"])
    assert missing.exit_code == 1 and "error" in json.loads(missing.output)


def test_cli_cannot_revoke_another_accounts_device(app, account, make_account):
    import json

    device, _ = pair(make_account()[0])
    result = app.test_cli_runner().invoke(
        args=["devices", "revoke", "--email", "owner@example.com", "--device-id", str(device.id)])
    assert result.exit_code == 1 and "error" in json.loads(result.output)
    db.session.refresh(device)
    assert device.revoked_at is None


def test_simulated_phone_declares_whatsapp_slots(app, client, account):
    code, _ = pairing.create_pairing_code(account[0], 600)
    db.session.commit()
    response = _register(client, f"Code {code}", body={"name": "sim/phone", "simCards": [], "slots": [3, 2, 2]})
    device = db.session.get(Device, int(response.get_json()["id"]))
    assert device.extra_slots == "2,3" and device.slot_list() == {2, 3}


def test_oversized_body_is_refused_and_changes_nothing(app, client, account):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    code, _ = pairing.create_pairing_code(account[0], 600)
    db.session.commit()
    response = _register(client, f"Code {code}", body={"name": "x", "simCards": [], "pad": "y" * 4096})
    assert response.status_code == 413 and response.get_json()["message"]
    assert _devices() == 0 and db.session.scalar(select(PairingCode.used_at)) is None


def test_an_oversized_chunked_body_is_refused_as_one_with_a_content_length(app, client, account):
    """Without a Content-Length werkzeug stops reading at the limit and hands over what it read: that must not
    be taken for the body (a cut JSON answered 400, or worse, a body padded with blanks taken as valid)."""
    app.config["MAX_CONTENT_LENGTH"] = 1024
    code, _ = pairing.create_pairing_code(account[0], 600)
    db.session.commit()
    headers = {"Authorization": f"Code {code}", **UA, **JSON}
    oversized = json.dumps({"name": "x", "simCards": [], "pad": "y" * 4096}).encode()
    announced = client.post(f"{PREFIX}/device", data=oversized, headers=headers)
    for body in (oversized, json.dumps({"name": "x", "simCards": []}).encode() + b" " * 4096):
        streamed = send_chunked(client, "POST", f"{PREFIX}/device", body, headers)
        assert (streamed.status_code, streamed.get_json()) == (413, announced.get_json())
    assert _devices() == 0 and db.session.scalar(select(PairingCode.used_at)) is None
    registered = send_chunked(client, "POST", f"{PREFIX}/device", json.dumps({"name": "x"}).encode(), headers)
    assert registered.status_code == 201
    token = registered.get_json()["token"]
    reports = json.dumps([{"id": "1", "state": "Sent"}] * 100).encode()
    assert send_chunked(client, "PATCH", f"{PREFIX}/message", reports, bearer(token, **JSON)).status_code == 413
    assert send_chunked(client, "PATCH", f"{PREFIX}/message", b"[]", bearer(token, **JSON)).status_code == 204


def test_phone_calls_need_no_csrf_token_when_csrf_is_on(app, client, account):
    app.config["WTF_CSRF_ENABLED"] = True
    code, _ = pairing.create_pairing_code(account[0], 600)
    db.session.commit()
    response = _register(client, f"Code {code}")
    assert response.status_code == 201
    token = response.get_json()["token"]
    device_id = response.get_json()["id"]
    assert client.patch(f"{PREFIX}/device", json={"id": device_id}, headers=bearer(token)).status_code == 204
    assert client.patch(f"{PREFIX}/message", json=[], headers=bearer(token)).status_code == 204


def test_a_device_name_is_measured_after_stripping_like_the_dashboards_rename():
    name = "P" * services.MAX_NAME
    assert services.parse_device_fields({"name": f"  {name}\n"}, require_name=True).name == name
    with pytest.raises(ValidationError, match="longer than"):
        services.parse_device_fields({"name": name + "P"}, require_name=True)


def test_a_new_send_interval_tells_the_phone_after_commit_and_a_rejected_one_does_not(app, account):
    device, _token = pair(account[0])
    with subscribe(device.id) as stream:
        services.update_device_settings(account[0], device.id, name="Pixel", delay_between_each_sms=5,
                                        delay_between_request=None, plus_prefixes="")
        assert stream.get(timeout=0.2) is None  # nothing before the commit
        db.session.commit()
        assert stream.get(timeout=2) == "SettingsUpdated"  # the phone fetches GET /settings again

        services.update_device_settings(account[0], device.id, name="Renamed", delay_between_each_sms=5,
                                        delay_between_request=None, plus_prefixes="")
        db.session.commit()
        assert stream.get(timeout=0.3) is None  # the interval did not change

        services.update_device_settings(account[0], device.id, name="Pixel", delay_between_each_sms=9,
                                        delay_between_request=None, plus_prefixes="")
        db.session.rollback()
        db.session.commit()
        assert stream.get(timeout=0.3) is None  # a change that was not stored is not announced
