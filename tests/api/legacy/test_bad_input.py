"""Hostile, missing, malformed and oversized input: a clear ``{"error":1,"message":…}`` and no change."""
import json
from urllib.parse import urlencode

import pytest

from smsplatform.accounts.services import revoke_token
from smsplatform.extensions import db
from smsplatform.models import ApiToken, AuthFailure
from smsplatform.api.legacy.parsing import PARAMETERS_BEFORE_THE_TOKEN
from smsplatform.api.legacy.routes import MESSAGE_FIELDS
from tests.api.legacy.conftest import call, messages, ok, php_pairs, refused
from tests.support.chunked import send_chunked
from tests.support.rows import row_counts

TOKEN_METHODS = ("addsms", "addalotofsms", "getallsms", "getsmsstatus", "savetag", "savecontact", "savepaket",
                 "getalldevices", "getdevicestatus")


@pytest.fixture
def valid(owner, client):
    """A valid parameter set per method, for the owner."""
    account, token, device = owner
    tag_id = ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]
    sms_id = ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi",
                                        "device_id": device.id}))["sms_id"]
    return {
        "addsms": {"sendto": "+4915752982212", "body": "Hi", "device_id": device.id, "sim": 0},
        "addalotofsms": {"smsdata": [{"sendto": "+4915752982212", "body": "Hi", "device_id": device.id}]},
        "getallsms": {"device_id": device.id},
        "getsmsstatus": {"sms_id": sms_id},
        "savetag": {"title": "Employees"},
        "savecontact": {"phone": "+4915752982212", "tag_id": tag_id},
        "savepaket": {"title": "Sale", "body": "20% off", "device_id": device.id, "tags": str(tag_id), "sim": 0},
        "getalldevices": {},
        "getdevicestatus": {"device_id": device.id},
    }


@pytest.mark.parametrize("method", TOKEN_METHODS)
def test_missing_wrong_and_revoked_tokens(client, owner, valid, method):
    account, token, _ = owner
    before = row_counts()
    refused(call(client, method, valid[method]), "token is required")
    refused(call(client, method, {**valid[method], "token": "   "}), "token is required")
    refused(call(client, method, {**valid[method], "token": "0" * 32}), "token is invalid")
    refused(call(client, method, {**valid[method], "token": ["a"]}, "json"), "token must be a string")
    revoke_token(account, db.session.query(ApiToken).one().id)
    db.session.commit()
    refused(call(client, method, {**valid[method], "token": token}), "revoked")
    assert row_counts() == before


def test_other_accounts_token_never_reaches_this_accounts_ids(client, owner, other, valid):
    _, _, device = owner
    _, other_token, other_device = other
    before = row_counts()
    for method in ("addsms", "addalotofsms", "getsmsstatus", "savecontact", "savepaket", "getdevicestatus"):
        message = refused(call(client, method, {**valid[method], "token": other_token}), "not found")
        assert "Hi" not in message
    assert row_counts() == before
    listed = ok(call(client, "getallsms", {"token": other_token, "device_id": device.id}))
    assert listed["count"] == 0 and listed["smss"] == {}
    assert ok(call(client, "getallsms", {"token": other_token}))["count"] == 0
    devices = ok(call(client, "getalldevices", {"token": other_token}))
    assert list(devices["device"]) == [str(other_device.id)]
    # A batch mixing the caller's own device with a foreign one stores nothing.
    batch = [{"sendto": "+4915752982212", "body": "a", "device_id": other_device.id},
             {"sendto": "+4915752982212", "body": "b", "device_id": device.id}]
    refused(call(client, "addalotofsms", {"token": other_token, "smsdata": batch}, "json"),
            "smsdata[1].device_id", "not found")
    assert row_counts() == before


MISSING = [
    ("addsms", "sendto", "sendto is required"), ("addsms", "body", "body is required"),
    ("addsms", "device_id", "device_id is required"), ("addalotofsms", "smsdata", "smsdata is required"),
    ("getsmsstatus", "sms_id", "sms_id is required"), ("savetag", "title", "title is required"),
    ("savecontact", "phone", "phone is required"), ("savecontact", "tag_id", "tag_id is required"),
    ("savepaket", "title", "title is required"),
    ("savepaket", "body", "body is required"), ("savepaket", "device_id", "device_id is required"),
    ("savepaket", "tags", "tags is required"), ("getdevicestatus", "device_id", "device_id is required"),
]


def test_missing_required_fields(client, owner, valid):
    before = row_counts()
    for method, field, words in MISSING:
        params = {key: value for key, value in valid[method].items() if key != field}
        refused(call(client, method, {**params, "token": owner[1]}), words)
    assert row_counts() == before


WRONG = [
    ("addsms", {"device_id": "abc"}, "device_id must be an integer"),
    ("addsms", {"sim": "x"}, "sim must be an integer"),
    ("addsms", {"customerid": "ORD-1"}, "customerid must be an integer"),
    ("addsms", {"urgent": "maybe"}, "urgent must be 0 or 1"),
    ("addsms", {"body": {"text": "hi"}}, "body must be a string"),
    ("addsms", {"sendto": {"n": 1}}, "sendto must be a string"),
    ("addsms", {"device_id": 1.5}, "device_id must be an integer"),
    ("addalotofsms", {"smsdata": {"sendto": "+4915752982212"}}, "smsdata must be a list"),
    ("addalotofsms", {"smsdata": "not a list"}, "smsdata is not valid JSON"),
    ("addalotofsms", {"smsdata": [5]}, "smsdata[0] must be an object"),
    ("getallsms", {"status": "new"}, "status must be an integer"),
    ("getallsms", {"onlycount": "perhaps"}, "onlycount must be 0 or 1"),
    ("getallsms", {"timezone": "Mars/Olympus"}, "unknown time zone"),
    ("getallsms", {"timezone": "+15:00"}, "offset '+15:00' is out of range (-14:00 to +14:00)"),
    ("getallsms", {"timezone": "+02:60"}, "out of range"),
    ("getalldevices", {"timezone": "02:00"}, "unknown time zone"),
    ("getallsms", {"limit": 0}, "limit must be at least 1"),
    ("getsmsstatus", {"sms_id": [1]}, "sms_id must be an integer"),
    ("getsmsstatus", {"sms_id": 99999999}, "sms_id 99999999 not found"),
    ("savecontact", {"tag_id": "x"}, "tag_id must be an integer"),
    ("savecontact", {"phone": "call me"}, "not a phone number"),
    ("savecontact", {"fullname": "x" * 256}, "fullname is too long"),
    ("savecontact", {"name": "x" * 256}, "name is too long"),
    ("savepaket", {"tags": "a,b"}, "tags must be an integer"),
    ("savepaket", {"device_id": "six"}, "device_id must be an integer"),
    ("getdevicestatus", {"device_id": 99999}, "not found"),
    # Beyond what a BIGINT column holds: JSON numbers, and digits as text (more than Python converts, too).
    ("getsmsstatus", {"sms_id": 99999999999999999999}, "sms_id is out of range"),
    ("getsmsstatus", {"sms_id": "99999999999999999999"}, "sms_id is out of range"),
    ("getsmsstatus", {"sms_id": "9" * 5000}, "sms_id is out of range"),
    ("addsms", {"device_id": 1e20}, "device_id is out of range"),
    ("addsms", {"customerid": 2 ** 63}, "customerid is out of range"),
    ("addalotofsms", {"smsdata": [{"sendto": "+4915752982212", "body": "x", "device_id": -(2 ** 64)}]},
     "smsdata[0].device_id is out of range"),
    ("getallsms", {"offset": 2 ** 70}, "offset is out of range"),
    ("getdevicestatus", {"device_id": 10 ** 30}, "device_id is out of range"),
    ("savepaket", {"device_id": 2 ** 64}, "device_id is out of range"),
]


def test_wrong_types_and_values(client, owner, valid):
    before = row_counts()
    for method, change, words in WRONG:
        refused(call(client, method, {**valid[method], **change, "token": owner[1]}, "json"), words)
    assert row_counts() == before


EMPTY = [
    ("addsms", "sendto", "sendto is empty"), ("addsms", "body", "body is empty"),
    ("addsms", "device_id", "device_id is empty"), ("savetag", "title", "title is empty"),
    ("savecontact", "phone", "phone is empty"), ("savecontact", "tag_id", "tag_id is empty"),
    ("savepaket", "body", "body is empty"),
    ("savepaket", "tags", "tags is required"), ("getsmsstatus", "sms_id", "sms_id is empty"),
]


@pytest.mark.parametrize("encoding", ["query", "json"])
def test_empty_and_whitespace_values(client, owner, valid, encoding):
    before = row_counts()
    for method, field, words in EMPTY:
        for blank in ("", "   "):
            refused(call(client, method, {**valid[method], field: blank, "token": owner[1]}, encoding), words)
    assert row_counts() == before


BAD_DATES = [
    ("addsms", {"timetosend": "tomorrow"}, "timetosend must look like"),
    ("addsms", {"timetosend": "2026-13-45 10:00:00"}, "timetosend is not a valid date"),
    ("getallsms", {"begindate": "yesterday"}, "begindate must look like"),
    ("getallsms", {"enddate": "2026-02-30"}, "enddate is not a valid date"),
    ("savepaket", {"time_to_send": "someday"}, "time_to_send must look like YYYY-MM-DD HH:MM:SS or DD.MM.YYYY"),
    # The last years: in a zone behind UTC, or as the end of a whole day, they would pass Python's year 9999.
    ("addsms", {"timetosend": "9999-12-31 23:59:59"}, "timetosend is out of range (years 1970 to 9998)"),
    ("getallsms", {"enddate": "9999-12-31"}, "enddate is out of range"),
    ("getallsms", {"begindate": "9999-12-31 23:00:00"}, "begindate is out of range"),
    ("savepaket", {"time_to_send": "31.12.9999 23:00:00"}, "time_to_send is out of range"),
]


def test_unparseable_dates(client, owner, valid):
    account, token, _ = owner
    account.timezone = "America/New_York"
    db.session.commit()
    before = row_counts()
    for method, change, words in BAD_DATES:
        refused(call(client, method, {**valid[method], **change, "token": token}), words)
    assert row_counts() == before


def test_sim_out_of_range(client, owner, valid):
    before = row_counts()
    for sim, words in [(6, "sim must be 0 to 5"), (-1, "sim must be 0 to 5"), (2, "not available on device"),
                       ("9", "sim must be 0 to 5"), ("1.5", "sim must be an integer")]:
        refused(call(client, "addsms", {**valid["addsms"], "sim": sim, "token": owner[1]}), words)
        batch = [dict(valid["addalotofsms"]["smsdata"][0]), dict(valid["addalotofsms"]["smsdata"][0], sim=sim)]
        refused(call(client, "addalotofsms", {"smsdata": batch, "token": owner[1]}, "json"), "smsdata[1].sim")
    refused(call(client, "getallsms", {"sim": 6, "token": owner[1]}), "sim must be 0 to 5")
    refused(call(client, "savepaket", {**valid["savepaket"], "sim": 6, "token": owner[1]}), "sim must be 0 to 5")
    refused(call(client, "smstosend", {**valid["addsms"], "sim": 7, "email": "owner@example.com",
                                       "pass": "correct horse battery"}), "sim must be 0 to 5")
    assert row_counts() == before


def test_body_of_10000_characters(client, owner, valid):
    token = owner[1]
    before = row_counts()
    long_body = "x" * 10_000
    refused(call(client, "addsms", {**valid["addsms"], "body": long_body, "token": token}),
            "body is too long", "10000 characters")
    batch = [valid["addalotofsms"]["smsdata"][0]] * 3 + [dict(valid["addalotofsms"]["smsdata"][0], body=long_body)]
    refused(call(client, "addalotofsms", {"smsdata": batch, "token": token}, "datajson"),
            "smsdata[3].body is too long")
    refused(call(client, "savepaket", {**valid["savepaket"], "body": long_body, "token": token}), "too long")
    refused(call(client, "smstosend", {**valid["addsms"], "body": long_body, "email": "owner@example.com",
                                       "pass": "correct horse battery"}), "body is too long")
    assert row_counts() == before


def test_invalid_json_in_datajson(client, owner):
    before = row_counts()
    for method in TOKEN_METHODS + ("gettoken", "smstosend"):
        for datajson in ('{"token": "abc", "smsdata": [', "not json", "[1, 2]", ""):
            response = client.post(f"/getdata/{method}", data={"datajson": datajson, "token": owner[1]})
            refused(response, "datajson")
    assert row_counts() == before


def test_invalid_json_body(client, owner):
    response = client.post("/getdata/addsms", data='{"token": ', content_type="application/json")
    refused(response, "not valid JSON")
    response = client.post("/getdata/addsms", data="[1, 2]", content_type="application/json")
    refused(response, "must be an object")


@pytest.mark.parametrize("nested", [
    "[" * 100_000 + "]" * 100_000,                  # past the JSON parser's own stack
    '{"a":' * 600 + "1" + "}" * 600,                 # parsed, but past the stack of the walks that lower-case keys
])
def test_json_nested_too_deeply(client, owner, nested):
    before = row_counts()
    body = '{"token": "%s", "sendto": "+4915752982212", "body": "Hi", "smsdata": %s}' % (owner[1], nested)
    refused(client.post("/getdata/addalotofsms", data=body, content_type="application/json"), "nested too deeply")
    refused(client.post("/getdata/addalotofsms", data={"datajson": body}), "nested too deeply")
    refused(client.post("/getdata/addalotofsms", data={"token": owner[1], "smsdata": nested}),
            "smsdata: the JSON is nested too deeply")  # a JSON string in a form field
    assert row_counts() == before


def test_batch_of_100001_items(client, owner, valid):
    before = row_counts()
    item = valid["addalotofsms"]["smsdata"][0]
    response = client.post("/getdata/addalotofsms", json={"token": owner[1], "smsdata": [item] * 100_001})
    refused(response, "100001 messages", "at most 100000")
    assert row_counts() == before


def test_recipients_count_against_the_batch_limit(app, client, owner, valid):
    app.config["MAX_BATCH_SIZE"] = 3
    before = row_counts()
    refused(call(client, "addsms", {**valid["addsms"], "sendto": "+4915752982212,+4915752982213," * 2,
                                    "token": owner[1]}), "more than 3 recipients")
    assert row_counts() == before


def test_huge_request_body(app, client, owner, valid):
    app.config["MAX_CONTENT_LENGTH"] = 4096
    before = row_counts()
    for method in TOKEN_METHODS:
        params = {**valid[method], "padding": "y" * 5000, "token": owner[1]}
        for encoding in ("form", "multipart", "json", "datajson"):
            refused(call(client, method, params, encoding), "too large", "4096 bytes", status=413)
    refused(call(client, "gettoken", {"email": "owner@example.com", "pass": "p" * 5000}), "too large", status=413)
    assert row_counts() == before


def test_unknown_methods_and_http_methods(client, owner):
    refused(client.get("/getdata/sendsms"), "unknown method", "addsms", status=404)
    refused(client.post("/getdata/addsms/extra", data={"token": owner[1]}), "unknown method", status=404)
    refused(client.get("/getdata"), "unknown method", status=404)
    for response in (client.put("/getdata/addsms"), client.delete("/getdata/getallsms/"),
                     client.patch("/getdata/gettoken?email=owner@example.com")):
        refused(response, f"{response.request.method} is not allowed", status=405)
        assert response.headers["Allow"] == "GET, HEAD, POST, OPTIONS"


def test_options_answers_json_with_the_methods_a_path_allows_and_does_nothing(client, owner, valid):
    before = row_counts()
    for path in ("/getdata/addsms", "/getdata/getallsms/", "/getdata/gettoken"):
        response = client.options(path, query_string={**valid["addsms"], "token": owner[1]})
        assert response.status_code == 200 and response.mimetype == "application/json"
        assert response.get_json() == {"error": 0, "message": "OK"}
        assert response.headers["Allow"] == "GET, HEAD, POST, OPTIONS"
    refused(client.options("/getdata/sendsms"), "unknown method", status=404)
    assert row_counts() == before
    assert client.head("/getdata/getalldevices", query_string={"token": owner[1]}).status_code == 200


def test_server_fault_answers_json_and_saves_nothing(client, owner, valid, monkeypatch):
    from smsplatform.api.legacy import routes

    def explode(*args, **kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(routes, "ok", explode)
    before = row_counts()
    message = refused(call(client, "addsms", {**valid["addsms"], "token": owner[1]}), "internal server error",
                      status=500)
    assert "disk" not in message
    assert row_counts() == before


def test_nested_php_arrays_cannot_be_abused(client, owner):
    deep = "smsdata" + "[0]" * 10
    refused(client.post("/getdata/addalotofsms", data={deep: "x", "token": owner[1]}), "nested too deeply")


def test_php_array_indexes_and_ids_are_ascii_digits(client, owner):
    """"²" is a digit to str.isdigit() but not to int(); "١" (Arabic-Indic one) is one to both."""
    token, device_id = owner[1], owner[2].id
    before = row_counts()
    batch = {"token": token, "smsdata[\u00b2][sendto]": "+4915752982212", "smsdata[\u00b2][body]": "Hi",
             "smsdata[\u00b2][device_id]": str(device_id)}
    refused(client.post("/getdata/addalotofsms", data=batch), "smsdata must be a list")
    refused(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi", "device_id": "\u0661"}),
            "device_id must be")
    refused(call(client, "getsmsstatus", {"token": token, "sms_id": "\u0661"}), "sms_id must be")
    assert row_counts() == before


def test_gettoken_refuses_wrong_and_missing_credentials(client, owner):
    before = row_counts()
    refused(call(client, "gettoken", {"email": "owner@example.com"}), "pass is required")
    refused(call(client, "gettoken", {"pass": "x"}), "email is required")
    refused(call(client, "gettoken", {"email": "owner@example.com", "pass": "wrong password"}),
            "Login or password incorrect")
    refused(call(client, "gettoken", {"email": "nobody@example.com", "pass": "correct horse battery"}),
            "Login or password incorrect")
    after = row_counts()
    assert after["api_tokens"] == before["api_tokens"]
    assert after["auth_failures"] == before["auth_failures"] + 4  # per address and per email, both committed


def test_gettoken_and_smstosend_are_rate_limited(app, client, owner, valid):
    app.config["AUTH_FAILURE_LIMIT_PER_EMAIL"] = 3
    for _ in range(3):
        refused(call(client, "gettoken", {"email": "owner@example.com", "pass": "guess"}), "incorrect")
    refused(call(client, "gettoken", {"email": "OWNER@example.com", "pass": "correct horse battery"}),
            "too many failed login attempts")
    before = row_counts()
    refused(call(client, "smstosend", {**valid["addsms"], "email": "owner@example.com",
                                       "pass": "correct horse battery"}), "too many failed login attempts")
    assert row_counts() == before
    assert db.session.query(AuthFailure).count() == 6


def test_smstosend_with_wrong_password_stores_nothing(client, owner, valid):
    before = row_counts()
    refused(call(client, "smstosend", {**valid["addsms"], "email": "owner@example.com", "pass": "nope"}),
            "Login or password incorrect")
    after = row_counts()
    assert after["messages"] == before["messages"]


def test_error_answers_are_http_200_json(client):
    response = client.get("/getdata/getallsms?token=nope")
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert json.loads(response.data) == {"error": 1, "message": "token is invalid or revoked"}


def test_a_request_werkzeug_refuses_is_a_legacy_error(client, owner, monkeypatch):
    from werkzeug.exceptions import BadRequest

    from smsplatform.api.legacy import routes

    def broken(request):
        raise BadRequest("The browser (or proxy) sent a request that this server could not understand.")

    monkeypatch.setattr(routes, "collect_params", broken)
    refused(client.post("/getdata/addsms", data={"token": owner[1]}), "could not understand")


HALF_AN_EMOJI = "\ud83d"  # what JavaScript's body.substring(0, 160) leaves when it cuts inside "😀"


@pytest.mark.parametrize("method, field", [
    ("addsms", "body"), ("addsms", "token"), ("savetag", "title"), ("savecontact", "fullname"),
    ("savepaket", "title"), ("getallsms", "phone"),
])
def test_half_a_character_or_a_nul_is_refused_naming_its_field(client, owner, valid, method, field):
    before = row_counts()
    for bad, words in [(f"x {HALF_AN_EMOJI} y", "half of a character"), ("nul\x00byte", "NUL character")]:
        params = {**valid[method], "token": owner[1], field: bad}
        refused(client.post(f"/getdata/{method}", data=json.dumps(params), content_type="application/json"),
                field, words)
        if "\x00" in bad:
            refused(call(client, method, params, "form"), field, words)
    assert row_counts() == before


def test_half_a_character_in_a_batch_names_the_item(client, owner, valid):
    before = row_counts()
    batch = [valid["addsms"], {**valid["addsms"], "body": "cut " + HALF_AN_EMOJI}]
    refused(client.post("/getdata/addalotofsms", data=json.dumps({"token": owner[1], "smsdata": batch}),
                        content_type="application/json"), "smsdata[1].body contains half of a character")
    assert row_counts() == before


def test_a_whole_emoji_written_as_json_escapes_is_kept(client, owner, valid):
    params = {**valid["addsms"], "token": owner[1], "body": "Hi \ud83d\ude00"}
    ok(client.post("/getdata/addsms", data=json.dumps(params), content_type="application/json"))
    (message,) = [m for m in messages() if m.body.startswith("Hi ")]
    assert message.body == "Hi 😀"


@pytest.mark.parametrize("where", ["query", "form"])
def test_bytes_that_are_not_utf8_are_refused_naming_the_parameter(client, owner, valid, where):
    before = row_counts()
    fields = f"token={owner[1]}&sendto=%2B4915752982212&device_id={valid['addsms']['device_id']}"
    for body in (b"caf%E9", b"caf\xe9", b"%ED%A0%BD"):  # Latin-1 é, percent-encoded and raw; a UTF-8 surrogate
        data = fields.encode() + b"&body=" + body
        if where == "query":
            response = client.get("/getdata/addsms", environ_overrides={"QUERY_STRING": data.decode("latin-1")})
        else:
            response = client.post("/getdata/addsms", data=data, content_type="application/x-www-form-urlencoded")
        refused(response, "body in the", "is not utf-8 text")
    assert row_counts() == before


def test_a_form_body_in_the_charset_it_declares_is_read_in_it(client, owner, valid):
    token, device_id = owner[1], valid["addsms"]["device_id"]
    body = f"token={token}&sendto=%2B4915752982212&device_id={device_id}&body=Gr%FC%DFe+caf%E9".encode()
    ok(client.post("/getdata/addsms", data=body, content_type="application/x-www-form-urlencoded; charset=ISO-8859-1"))
    assert [m.body for m in messages() if m.body.startswith("Gr")] == ["Grüße café"]
    before = row_counts()
    for charset, words in [("klingon", "unknown charset 'klingon'"), ("rot13", "unknown charset"),
                           ("base64", "unknown charset")]:
        refused(client.post("/getdata/addsms", data=body, content_type=f"application/x-www-form-urlencoded; charset={charset}"),
                words)
    assert row_counts() == before


def test_a_multipart_field_that_is_not_utf8_is_refused(client, owner, valid):
    before = row_counts()
    parts = [("token", owner[1].encode()), ("sendto", b"+4915752982212"), ("device_id", str(valid["addsms"]["device_id"]).encode()),
             ("body", b"x\xe9y")]
    data = b"".join(b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name.encode(), value)
                    for name, value in parts) + b"--B--\r\n"
    refused(client.post("/getdata/addsms", data=data, content_type="multipart/form-data; boundary=B"),
            "body is not UTF-8 text")
    assert row_counts() == before


def test_a_form_of_more_parameters_than_the_largest_batch_needs_is_refused_before_it_is_read(client, app, owner):
    limit = app.config["MAX_BATCH_SIZE"] * (len(MESSAGE_FIELDS) + 1) + 100  # a whole batch as a PHP form, and more
    body = f"token={owner[1]}&".encode() + b"x[]=1&" * limit
    refused(client.post("/getdata/getalldevices", data=body, content_type="application/x-www-form-urlencoded"),
            f"more than {limit} parameters")


def _long_batch(device_id: int, items: int = 300) -> list[tuple[str, str]]:
    """A PHP form array of ``items`` messages: more parameters than are parsed before the token is checked."""
    return [(f"smsdata[{i}][{name}]", value) for i in range(items)
            for name, value in (("sendto", f"+49157{i:08d}"), ("body", "Hi"), ("device_id", str(device_id)),
                                ("sim", "0"))]


def _multipart(pairs) -> bytes:
    return b"".join(b'--B\r\nContent-Disposition: form-data; name="%s"\r\n\r\n%s\r\n' % (name.encode(), value.encode())
                    for name, value in pairs) + b"--B--\r\n"


@pytest.mark.parametrize("encoding", ["form", "multipart"])
def test_a_long_form_is_parsed_only_for_a_valid_token(client, owner, encoding):
    _, token, device = owner
    pairs = _long_batch(device.id)
    assert len(pairs) > PARAMETERS_BEFORE_THE_TOKEN

    def post(form_pairs, query=""):
        if encoding == "form":
            return client.post(f"/getdata/addalotofsms{query}", data=urlencode(form_pairs),
                               content_type="application/x-www-form-urlencoded")
        return client.post(f"/getdata/addalotofsms{query}", data=_multipart(form_pairs),
                           content_type="multipart/form-data; boundary=B")

    before = row_counts()
    # A parameter the parse would refuse comes first: the answer is about the token, so nothing was parsed.
    unparseable = [("smsdata[0][customerid]", "x\x00y")] + pairs
    refused(post([("token", "0" * 32)] + unparseable), "token is invalid")
    refused(post(unparseable), "token is required", "its own parameter")
    assert row_counts() == before
    assert len(ok(post(pairs + [("Token", token)]))["sms_ids"]) == 300
    assert len(ok(post(pairs, query=f"?token={token}"))["sms_ids"]) == 300


@pytest.mark.parametrize("encoding", ["form", "json"])
def test_a_chunked_body_past_the_limit_is_refused_not_taken_cut_short(client, app, owner, encoding):
    """Sent without a Content-Length, a body is read only up to the limit: a batch cut there, or a small body
    padded past it, must not be taken as it was read."""
    _, token, device = owner
    limit = app.config["MAX_CONTENT_LENGTH"] = 64 * 1024
    items = [{"sendto": f"+49157{i:08d}", "body": "x" * 100, "device_id": device.id} for i in range(limit // 120)]
    if encoding == "json":
        cut, content_type = json.dumps({"token": token, "smsdata": items}).encode(), "application/json"
        padded = json.dumps({"token": token, "smsdata": items[:1]}).encode() + b" " * limit
    else:
        cut, content_type = urlencode(php_pairs({"token": token, "smsdata": items})).encode(), "application/x-www-form-urlencoded"
        padded = urlencode(php_pairs({"token": token, "smsdata": items[:1]})).encode() + b"&" + b"x" * limit
    assert len(cut) > limit
    before = row_counts()
    for body in (cut, padded):
        refused(send_chunked(client, "POST", "/getdata/addalotofsms", body, {"Content-Type": content_type}),
                "too large", status=413)
    assert row_counts() == before
    whole = json.dumps({"token": token, "smsdata": items[:3]}).encode()
    assert len(ok(send_chunked(client, "POST", "/getdata/addalotofsms", whole, {"Content-Type": "application/json"}))
               ["sms_ids"]) == 3
