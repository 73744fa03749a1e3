"""What real clients send besides the documented shapes, and what each becomes.

PHP's ``json_encode`` of an array with gaps, a base URL typed with a trailing slash, an Apps Script
JSON payload labelled as a form, JavaScript's ``null``/``undefined`` written out, an HTML form's empty
file input, a pandas float for a phone number: each reaches the method and means what the client meant.
"""
import json

import pytest
from werkzeug.datastructures import FileStorage, MultiDict

from smsplatform.accounts.services import update_settings
from smsplatform.extensions import db
from smsplatform.models import Contact, StoredObject, Tag
from smsplatform.path_slashes import MergedSlashes
from smsplatform.timeutil import utcnow
from tests.api.legacy.conftest import call, messages, ok, refused
from tests.support.rows import row_counts


def sms(device, **fields) -> dict:
    return {"sendto": "+4915752982212", "body": "Hi", "device_id": device.id, **fields}


@pytest.mark.parametrize("where", ["datajson form field", "datajson string in a JSON body", "JSON body",
                                   "smsdata JSON string in a form"])
def test_smsdata_with_gaps_arrives_as_an_object_and_is_read_in_index_order(client, owner, where):
    _, token, device = owner
    # PHP: json_encode(array_filter($messages)) keeps the indexes, so the array becomes an object.
    smsdata = {"2": sms(device, body="third"), "0": sms(device, body="first")}
    if where == "datajson form field":
        response = client.post("/getdata/addalotofsms", data={"datajson": json.dumps({"token": token, "smsdata": smsdata})})
    elif where == "datajson string in a JSON body":
        response = client.post("/getdata/addalotofsms", json={"datajson": json.dumps({"token": token, "smsdata": smsdata})})
    elif where == "JSON body":
        response = client.post("/getdata/addalotofsms", json={"token": token, "smsdata": smsdata})
    else:
        response = client.post("/getdata/addalotofsms", data={"token": token, "smsdata": json.dumps(smsdata)})
    ok(response)
    assert [m.body for m in messages()] == ["first", "third"]


@pytest.mark.parametrize("path", ["//getdata/addsms", "/getdata//addsms", "/getdata/addsms//", "//getdata//addsms/"])
def test_a_base_url_with_a_trailing_slash_still_reaches_the_method(client, owner, path):
    _, token, device = owner
    # The test client would read a leading // as a host name; a server passes the path as sent.
    response = client.post("/", data={"token": token, **sms(device)}, environ_overrides={"PATH_INFO": path})
    assert response.mimetype == "application/json"
    assert len(ok(response)["sms_ids"]) == 1 and len(messages()) == 1


@pytest.mark.parametrize("sent, seen", [
    ("//getdata//addsms", "/getdata/addsms"), ("/api/mobile/v1//device", "/api/mobile/v1/device"),
    ("//login", "//login"), ("/uploads//a.png", "/uploads//a.png"),  # other paths as sent
])
def test_only_the_machine_apis_paths_are_merged(sent, seen):
    paths = []
    merged = MergedSlashes(lambda environ, start_response: paths.append(environ["PATH_INFO"]),
                           ("/getdata", "/api/mobile/v1"))
    merged({"PATH_INFO": sent}, None)
    assert paths == [seen]


def test_a_method_name_in_the_wrong_case_is_named_in_lower_case(client, owner):
    _, token, device = owner
    message = refused(client.post("/getdata/AddSms", data={"token": token, **sms(device)}), status=404)
    assert message == "unknown method 'AddSms'; method names are lower case: addsms"
    assert messages() == []


def test_a_json_payload_labelled_as_a_form_is_read_as_json(client, owner):
    _, token, device = owner
    # Apps Script: UrlFetchApp.fetch(url, {method: "post", payload: JSON.stringify(data)}) without contentType.
    body = json.dumps({"token": token, **sms(device, customerid=7)})
    ok(client.post("/getdata/addsms", data="\n " + body, content_type="application/x-www-form-urlencoded"))
    assert [(m.phone, m.customer_id) for m in messages()] == [("+4915752982212", 7)]
    broken = client.post("/getdata/addsms", data=body[:-1], content_type="application/x-www-form-urlencoded")
    refused(broken, "not valid JSON")
    assert len(messages()) == 1


def test_a_password_of_digits_may_arrive_as_a_json_number(client, make_account):
    make_account(email="digits@example.com", password="1234567890")
    token = ok(call(client, "gettoken", {"email": "digits@example.com", "pass": 1234567890}, "json"))["token"]
    assert ok(call(client, "getalldevices", {"token": token}))["count"] == 0
    refused(call(client, "gettoken", {"email": "digits@example.com", "pass": 1234567891}, "json"), "incorrect")


def test_a_whole_number_sent_as_a_float_is_the_same_number(client, owner):
    _, token, device = owner
    # pandas writes a numeric column as floats: 4915752982212.0 is the number, not one with a trailing 0.
    ok(call(client, "addsms", {"token": token, "sendto": 4915752982212.0, "body": 42.0, "device_id": device.id},
            "json"))
    ok(call(client, "addsms", {"token": token, "sendto": 4915752982212, "body": 42, "device_id": device.id}, "json"))
    first, second = messages()
    assert (first.sendto, first.phone, first.body) == (second.sendto, second.phone, second.body) == (
        "4915752982212", "4915752982212", "42")


@pytest.mark.parametrize("encoding", ["query", "form", "multipart", "json"])
def test_a_whole_number_written_out_as_a_float_is_the_same_number(client, owner, encoding):
    _, token, device = owner
    # Python's str() of a pandas float: the ".0" must not become a digit of the number (49157529822120).
    ok(call(client, "addsms", {"token": token, "sendto": "4915752982212.0", "body": "Hi", "device_id": f"{device.id}.0",
                               "sim": "0.0"}, encoding))
    ok(call(client, "savecontact", {"token": token, "phone": "+4915752982212.00",
                                    "tag_id": ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]},
            encoding))
    (message,) = messages()
    assert (message.sendto, message.phone, message.device_id) == ("4915752982212.0", "4915752982212", device.id)
    assert [contact.phone for contact in db.session.query(Contact)] == ["+4915752982212"]


def test_an_empty_value_gives_way_to_its_alias(client, owner):
    _, token, _device = owner
    tag_id = ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]
    ok(call(client, "savecontact", {"token": token, "phone": "+4915752982212", "tag_id": "", "ctag_id": tag_id,
                                    "fullname": " ", "name": "Ada Lovelace"}))
    contact = db.session.query(Contact).one()
    assert contact.name == "Ada Lovelace"
    assert [tag.id for tag in contact.tags] == [tag_id]
    # Empty under every name is what it was: no tag, which the seed's "[required]" refuses.
    refused(call(client, "savecontact", {"token": token, "phone": "+4915752982213", "tag_id": "", "ctag_id": ""}),
            "tag_id is empty")
    assert db.session.query(Contact).count() == 1 and db.session.query(Tag).count() == 1


def test_an_html_form_s_empty_file_input_is_no_file(client, owner):
    _, token, device = owner
    empty = FileStorage(stream=None, filename="", name="file", content_type="application/octet-stream")
    data = MultiDict([("token", token), *sms(device).items(), ("file", empty)])
    ok(client.post("/getdata/addsms", data=data, content_type="multipart/form-data"))
    (message,) = messages()
    assert (message.body, message.media_object_id) == ("Hi", None)
    assert db.session.query(StoredObject).count() == 0


@pytest.mark.parametrize("nothing", ["null", "undefined", "NULL"])
def test_javascript_s_null_and_undefined_written_out_are_absent(client, owner, nothing):
    _, token, device = owner
    # new URLSearchParams({customerid: undefined, ...}) sends the word.
    before = utcnow()
    ok(call(client, "addsms", {"token": token, **sms(device, timetosend=nothing, customerid=nothing, sim=nothing,
                                                      urgent=nothing)}))
    (message,) = messages()
    assert (message.time_to_send, message.customer_id, message.sim, message.urgent) == (None, None, 0, False)
    assert before <= message.due_at <= utcnow()
    message_text = refused(call(client, "addsms", {"token": token, **sms(device, device_id=nothing)}))
    assert message_text == f"device_id is required, got {nothing!r}"
    assert len(messages()) == 1


@pytest.mark.parametrize("zero", ["0000-00-00 00:00:00", "0000-00-00"])
def test_mysql_s_zero_date_means_now(client, owner, zero):
    _, token, device = owner
    ok(call(client, "addsms", {"token": token, **sms(device, timetosend=zero)}))
    (message,) = messages()
    assert message.time_to_send is None and message.ready


def test_zone_names_match_in_any_case_as_php_matches_them(client, owner):
    account, token, device = owner
    ok(call(client, "addsms", {"token": token, **sms(device)}))
    smss = ok(call(client, "getallsms", {"token": token, "timezone": "australia/sydney"}))["smss"]
    (row,) = smss.values()
    assert row["created"]["timezone"] == "Australia/Sydney"
    refused(call(client, "getallsms", {"token": token, "timezone": "Australia/Nowhere"}), "unknown time zone")
    update_settings(account, timezone=" europe/berlin ")
    db.session.commit()
    assert account.timezone == "Europe/Berlin"  # stored as the zone's own name


def test_the_quirks_change_nothing_when_refused(client, owner):
    _, token, device = owner
    before = row_counts()
    refused(client.post("/getdata/addalotofsms", data={"datajson": json.dumps(
        {"token": token, "smsdata": {"0": sms(device), "1": sms(device, sim=9)}})}), "smsdata[1].sim")
    refused(client.post("/getdata/addsms", data=json.dumps({"token": token, **sms(device, timetosend="someday")}),
                        content_type="application/x-www-form-urlencoded"), "timetosend")
    assert row_counts() == before
