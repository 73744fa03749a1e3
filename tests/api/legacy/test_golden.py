"""Golden answers: every method's keys and value types, for each input encoding legacy clients use."""
import pytest

from smsplatform.extensions import db
from smsplatform.models import Message
from tests.api.legacy.conftest import ENCODINGS, call, ok

DATE = {"date": str, "timezone_type": int, "timezone": str}
SMS_ROW = {
    "id": int, "sendto": str, "body": str, "customerid": (int, type(None)), "status": int, "statustitle": str,
    "deviceid": int, "urgent": (bool, type(None)), "created": DATE, "senttime": (dict, type(None)),
    "timetosend": (dict, type(None)), "sim": int, "paketid": (int, type(None)),
    "pakettitle": (str, type(None)), "paketbody": (str, type(None)),
}
DEVICE_ROW = {
    "id": int, "title": str, "number": (str, type(None)), "imei": (str, type(None)), "created": DATE,
    "createdhumanformat": str, "lastseen": (dict, type(None)), "lastseenhumanformat": (str, type(None)),
    "serialnumber": (str, type(None)), "siminfo": list, "appversion": (str, type(None)),
    "isappversionactual": bool, "delaybetweeneachsms": (int, type(None)), "delaybetweenrequest": (int, type(None)),
    "subscription": bool,
}
SIMINFO = {"Slot": str, "IccId": str, "Number": str, "Roaming": str, "CountryIso": str, "CarrierName": str}


def assert_shape(value, shape, where="answer"):
    if isinstance(shape, dict):
        assert isinstance(value, dict), (where, value)
        assert set(value) == set(shape), (where, sorted(set(value) ^ set(shape)))
        for key, sub in shape.items():
            assert_shape(value[key], sub, f"{where}.{key}")
    else:
        assert isinstance(value, shape), (where, value)
        if shape is int:
            assert not isinstance(value, bool), (where, value)


@pytest.fixture
def world(owner, app):
    account, token, device = owner
    device.imei, device.serial_number, device.app_version = "358240051111110", "EMULATOR30X0X5X0", "1.68.0"
    device.sim_cards = [{"slotIndex": 0, "simNumber": 1, "phoneNumber": "****5554", "carrierName": "***bile",
                         "iccid": "****0720"}]
    db.session.commit()
    return account, token, device


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_gettoken(client, world, encoding):
    data = ok(call(client, "gettoken", {"email": "owner@example.com", "pass": "correct horse battery"}, encoding))
    assert_shape(data, {"error": int, "message": str, "token": str})
    assert len(data["token"]) == 32 and data["message"] == "OK"


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_addsms(client, world, encoding):
    _, token, device = world
    data = ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi", "device_id": device.id,
                                      "sim": 0}, encoding))
    assert_shape(data, {"error": int, "message": str, "sms_id": int, "sms_ids": list})
    assert data["message"] == "Sms has been saved successfully" and data["sms_ids"] == [data["sms_id"]]


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_smstosend(client, world, encoding):
    _, _, device = world
    data = ok(call(client, "smstosend", {"email": "owner@example.com", "pass": "correct horse battery",
                                         "sendto": "+4915752982212", "body": "Hi", "device_id": device.id}, encoding))
    assert_shape(data, {"error": int, "message": str, "sms_id": int, "sms_ids": list})


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_addalotofsms(client, world, encoding):
    _, token, device = world
    smsdata = [{"sendto": "015752982212", "body": "Your password is 12345", "sim": 0,
                "timetosend": "2019-07-01 23:50:00", "device_id": device.id, "customerid": 122, "urgent": 1},
               {"sendto": "+4915752982212", "body": "Regular", "sim": 0, "device_id": device.id, "urgent": 0}]
    data = ok(call(client, "addalotofsms", {"token": token, "smsdata": smsdata}, encoding))
    assert_shape(data, {"error": int, "message": str, "sms_ids": list})
    assert len(data["sms_ids"]) == 2 and all(isinstance(i, int) for i in data["sms_ids"])


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_getallsms(client, world, encoding):
    _, token, device = world
    ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi", "device_id": device.id,
                               "customerid": 19921, "urgent": 1, "timetosend": "2031-08-01 14:00:00"}))
    data = ok(call(client, "getallsms", {"token": token, "device_id": device.id}, encoding))
    assert_shape(data, {"error": int, "message": str, "count": int, "smss": dict})
    assert data["count"] == 1
    (key, row), = data["smss"].items()
    assert key == str(row["id"])
    assert_shape(row, SMS_ROW)
    assert_shape(row["timetosend"], DATE)
    counted = ok(call(client, "getallsms", {"token": token, "onlycount": 1}, encoding))
    assert_shape(counted, {"error": int, "message": str, "count": int})


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_getsmsstatus(client, world, encoding):
    _, token, device = world
    sms_id = ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi",
                                        "device_id": device.id}))["sms_id"]
    data = ok(call(client, "getsmsstatus", {"token": token, "sms_id": sms_id}, encoding))
    assert_shape(data, {"error": int, "message": str, "sms_id": int, "status": int, "status_description": str})
    assert (data["sms_id"], data["status"], data["status_description"]) == (sms_id, 1, "New")


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_savetag(client, world, encoding):
    _, token, _ = world
    data = ok(call(client, "savetag", {"token": token, "title": "VIP"}, encoding))
    assert_shape(data, {"error": int, "message": str, "tag_id": int})


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_savecontact(client, world, encoding):
    _, token, _ = world
    tag_id = ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]
    data = ok(call(client, "savecontact", {"token": token, "phone": "+4915752982212", "tag_id": tag_id,
                                           "fullname": "Ada"}, encoding))
    assert_shape(data, {"error": int, "message": str, "contact_id": int})


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_savepaket(client, world, encoding):
    _, token, device = world
    tag_id = ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]
    data = ok(call(client, "savepaket", {"token": token, "title": "Sale", "device_id": device.id, "body": "20% off",
                                         "tags": str(tag_id), "sim": 0, "time_to_send": "0"}, encoding))
    assert_shape(data, {"error": int, "message": str, "paket_id": int})


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_getalldevices(client, world, encoding):
    _, token, device = world
    data = ok(call(client, "getalldevices", {"token": token}, encoding))
    assert_shape(data, {"error": int, "message": str, "count": int, "device": dict})
    assert data["count"] == 1 and list(data["device"]) == [str(device.id)]
    row = data["device"][str(device.id)]
    assert_shape(row, DEVICE_ROW)
    assert_shape(row["siminfo"][0], SIMINFO)


@pytest.mark.parametrize("encoding", ENCODINGS)
def test_getdevicestatus(client, world, encoding):
    _, token, device = world
    data = ok(call(client, "getdevicestatus", {"token": token, "device_id": device.id}, encoding))
    assert_shape(data, {"error": int, "message": str, "online": bool, "device_id": int,
                        "lastseen": (dict, type(None)), "diffseconds": (int, type(None)), "title": str})


def test_messages_store_one_row_per_recipient(client, world):
    _, token, device = world
    data = ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212,+4915752982213",
                                      "body": "Hi", "device_id": device.id}))
    assert len(data["sms_ids"]) == 2 and data["sms_id"] == data["sms_ids"][0]
    assert db.session.query(Message).count() == 2
