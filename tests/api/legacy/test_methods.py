"""What each legacy method does with what integrations send."""
import re
from datetime import datetime, timedelta, timezone

from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.models import ApiToken, Contact, Message, Paket, StoredObject, Tag
from smsplatform.timeutil import utcnow
from tests.api.legacy.conftest import call, messages, ok, refused
from tests.storage.images import png
from tests.support.clock import pin_clock
from tests.support.rows import row_counts

UTC = timezone.utc


def test_gettoken_answers_the_same_working_token_each_call(client, owner):
    tokens_before = db.session.query(ApiToken).count()
    first = ok(call(client, "gettoken", {"email": " Owner@Example.com ", "pass": "correct horse battery"}))["token"]
    second = ok(call(client, "gettoken", {"EMAIL": "owner@example.com", "Pass": "correct horse battery"}, "json"))["token"]
    assert first == second and re.fullmatch(r"[0-9a-f]{32}", first)
    assert db.session.query(ApiToken).count() == tokens_before + 1  # scripts that log in before each call add no rows
    assert ok(call(client, "getalldevices", {"token": first}))["count"] == 1
    assert ok(client.post("/getdata/getalldevices/", data={"token": first}))["count"] == 1  # trailing slash


def test_a_call_records_its_token_s_last_use_and_a_refused_one_does_not(client, owner):
    _, token, device = owner
    refused(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi",
                                    "device_id": device.id, "sim": 9}), "sim")
    assert db.session.query(ApiToken).one().last_used_at is None
    ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi", "device_id": device.id}))
    db.session.expire_all()
    assert db.session.query(ApiToken).one().last_used_at is not None


def test_parameter_names_are_case_insensitive_and_numbers_may_be_strings(client, owner):
    _, token, device = owner
    ok(call(client, "addsms", {"Token": token, "SendTo": "+4915752982212", "BODY": "Hi", "Device_ID": str(device.id),
                               "customerId": "19921", "Urgent": "true", "SIM": "0"}))
    ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi", "device_id": device.id,
                               "customerId": 7, "urgent": True}, "json"))
    first, second = messages()
    assert (first.customer_id, first.urgent, first.priority) == (19921, True, 100)
    assert (second.customer_id, second.urgent) == (7, True)


def test_plus_arriving_as_a_space_in_a_get_query(client, owner):
    _, token, device = owner
    response = client.get(f"/getdata/addsms?token={token}&sendto=+4915752982212,+4915752982213&body=Hi"
                          f"&device_id={device.id}")
    assert len(ok(response)["sms_ids"]) == 2
    assert [m.phone for m in messages()] == ["+4915752982212", "+4915752982213"]
    assert messages()[0].sendto == " 4915752982212"  # kept exactly as it arrived


def test_numbers_are_normalised_with_the_region_and_the_device_plus_rule(client, owner):
    account, token, device = owner
    ok(call(client, "addsms", {"token": token, "sendto": "015752982212", "body": "a", "device_id": device.id}))
    account.default_region = "DE"
    device.plus_prefixes = "91"
    db.session.commit()
    ok(call(client, "addsms", {"token": token, "sendto": "015752982212, +49 157 52982212", "body": "b",
                               "device_id": device.id}))
    ok(call(client, "addsms", {"token": token, "sendto": "919876543210", "body": "c", "device_id": device.id}))
    stored = [(m.sendto, m.phone) for m in messages()]
    assert stored == [("015752982212", "015752982212"), ("015752982212", "+4915752982212"),
                      ("+49 157 52982212", "+4915752982212"), ("919876543210", "+919876543210")]


def test_timetosend_is_in_the_account_zone_and_stored_utc(client, make_account, make_device):
    account, token = make_account(email="berlin@example.com", timezone="Europe/Berlin")
    device = make_device(account)
    ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "later", "device_id": device.id,
                               "timetosend": "2031-01-15 10:00"}))
    ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "past", "device_id": device.id,
                               "timetosend": "2019-07-01 23:50:00"}))
    later, past = messages()
    assert later.time_to_send == datetime(2031, 1, 15, 9, 0, tzinfo=UTC)
    assert later.due_at == later.time_to_send and later.ready is False
    assert past.ready is True and abs((past.due_at - utcnow()).total_seconds()) < 60
    listed = ok(call(client, "getallsms", {"token": token}))["smss"][str(later.id)]
    assert listed["timetosend"] == {"date": "2031-01-15 10:00:00.000000", "timezone_type": 3,
                                    "timezone": "Europe/Berlin"}
    sydney = ok(call(client, "getallsms", {"token": token, "timezone": "Australia/Sydney"}))["smss"][str(later.id)]
    assert sydney["timetosend"]["date"] == "2031-01-15 20:00:00.000000"
    assert sydney["timetosend"]["timezone"] == "Australia/Sydney"


def test_dates_in_a_fixed_utc_offset_as_php_writes_them(client, make_account, make_device):
    """``timezone=+02:00`` (PHP's DateTimeZone takes offsets) answers ``timezone_type`` 1, and a naive
    ``begindate`` is read in that offset."""
    account, token = make_account(email="offset@example.com", timezone="Europe/Berlin")
    device = make_device(account)
    sms_id = ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "later",
                                        "device_id": device.id, "timetosend": "2031-01-15 10:00"}))["sms_id"]
    message = db.session.get(Message, sms_id)
    message.created_at = device.last_seen_at = datetime(2031, 1, 10, 21, 30, tzinfo=UTC)
    db.session.commit()

    def timetosend(zone_parameter, encoding="form"):
        answer = ok(call(client, "getallsms", {"token": token, "timezone": zone_parameter}, encoding))
        return answer["smss"][str(sms_id)]["timetosend"]

    assert timetosend("+02:00") == {"date": "2031-01-15 11:00:00.000000", "timezone_type": 1, "timezone": "+02:00"}
    assert timetosend("-0530", "json")["date"] == "2031-01-15 03:30:00.000000"
    assert timetosend("-0530", "json")["timezone"] == "-05:30"
    assert timetosend("+5")["timezone"] == "+05:00"
    assert timetosend("-00:00")["timezone"] == "+00:00"
    unencoded = client.get(f"/getdata/getallsms?token={token}&timezone=+02:00")  # the "+" arrives as a space
    assert ok(unencoded)["smss"][str(sms_id)]["timetosend"]["timezone"] == "+02:00"

    def count(**dates):
        return ok(call(client, "getallsms", {"token": token, "timezone": "+03:00", "onlycount": 1, **dates}))["count"]

    assert count(begindate="2031-01-11 00:30") == 1  # 21:30 UTC on the 10th is 00:30 on the 11th at +03:00
    assert count(begindate="2031-01-11 00:31") == 0
    assert count(enddate="2031-01-10") == 0 and count(enddate="2031-01-11") == 1

    status = ok(call(client, "getdevicestatus", {"token": token, "device_id": device.id, "timezone": "+01:00"}))
    assert status["lastseen"] == {"date": "2031-01-10 22:30:00.000000", "timezone_type": 1, "timezone": "+01:00"}
    listed = ok(call(client, "getalldevices", {"token": token, "timezone": "-03:00"}))["device"][str(device.id)]
    assert listed["created"]["timezone"] == "-03:00"


def test_segments_and_encoding_are_stored(client, owner):
    _, token, device = owner
    for body in ("a" * 160, "a" * 161, "€" * 81, "é" * 160, "Привет" * 12, "x" * 1600):
        ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": body, "device_id": device.id}))
    assert [(m.segments, m.encoding) for m in messages()] == [
        (1, "GSM-7"), (2, "GSM-7"), (2, "GSM-7"), (1, "GSM-7"), (2, "UCS-2"), (11, "GSM-7")]


def test_sim_slots_follow_what_the_device_declared(client, owner):
    _, token, device = owner
    params = {"token": token, "sendto": "+4915752982212", "body": "Hi", "device_id": device.id}
    ok(call(client, "addsms", {**params, "sim": 1}))  # SIM cards unknown: allowed
    device.sim_cards = [{"slotIndex": 0, "simNumber": 1}]
    db.session.commit()
    refused(call(client, "addsms", {**params, "sim": 1}), "no second SIM")
    device.sim_cards = [{"slotIndex": 0, "simNumber": 1}, {"slotIndex": 1, "simNumber": 2}]
    device.extra_slots = "2,4"
    db.session.commit()
    for sim in (1, 2, 4):
        ok(call(client, "addsms", {**params, "sim": sim}))
    refused(call(client, "addsms", {**params, "sim": 3}), "sim 3", "WhatsApp", "not available")
    assert [m.sim for m in messages()] == [1, 1, 2, 4]


def test_a_sim_the_phone_reported_it_lacks_is_refused_naming_the_one_to_use(client, owner):
    """A phone whose only SIM is in its second slot: the app would fail a message for SIM 1."""
    _, token, device = owner
    device.sim_cards = [{"slotIndex": 1, "simNumber": 2}]
    db.session.commit()
    tag_id = ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]
    item = {"sendto": "+4915752982212", "body": "Hi", "device_id": device.id}
    why = f"sim 0 (SIM 1): device {device.id} has no first SIM card; use sim 1"
    refused(call(client, "addsms", {"token": token, **item, "sim": 0}), why)
    refused(call(client, "addsms", {"token": token, **item}), why)  # no sim: SIM 1
    refused(call(client, "addalotofsms", {"token": token, "smsdata": [item]}, "json"), f"smsdata[0].{why}")
    refused(call(client, "savepaket", {"token": token, "title": "Sale", "body": "b", "device_id": device.id,
                                       "tags": str(tag_id), "sim": 0}), why)
    assert row_counts(Message, Paket) == {"messages": 0, "pakets": 0}
    ok(call(client, "addsms", {"token": token, **item, "sim": 1}))
    assert [m.sim for m in messages()] == [1]


def test_addalotofsms_is_all_or_nothing_and_names_index_and_field(client, owner):
    _, token, device = owner
    good = {"sendto": "+4915752982212", "body": "ok", "device_id": device.id}
    batch = [good, good, good, {**good, "sendto": "no digits"}, good]
    before = row_counts()
    message = refused(call(client, "addalotofsms", {"token": token, "smsdata": batch}, "datajson"),
                      "smsdata[3].sendto")
    assert "not a phone number" in message
    assert row_counts() == before
    ids = ok(call(client, "addalotofsms", {"token": token, "smsdata": batch[:3]}, "form"))["sms_ids"]
    assert ids == [m.id for m in messages()] and len(ids) == 3


def test_addalotofsms_accepts_the_documented_datajson_with_token_inside(client, owner):
    _, token, device = owner
    datajson = ('{"token":"%s","smsdata":[{"sendto":"015752982212","body":"Test message","sim":0,'
                '"timetosend":"2019-07-01 23:50:00","device_id":%d},{"sendto":"+4915752982212",'
                '"body":"Test message 2","sim":0,"device_id":"%d","urgent":1}]}') % (token, device.id, device.id)
    data = ok(client.post("/getdata/addalotofsms", data={"datajson": datajson}))
    assert len(data["sms_ids"]) == 2
    assert [m.urgent for m in messages()] == [False, True]


def test_opted_out_numbers_follow_the_account_setting(client, owner):
    account, token, device = owner
    db.session.add(Contact(account_id=account.id, phone="+4915752982212", phone_raw="+4915752982212",
                           opted_out=True))
    db.session.commit()
    params = {"token": token, "sendto": "+4915752982212", "body": "OTP 1234", "device_id": device.id}
    ok(call(client, "addsms", params))
    account.allow_direct_to_opted_out = False
    db.session.commit()
    refused(call(client, "addsms", params), "opted out")
    refused(call(client, "addalotofsms", {"token": token, "smsdata": [
        {**params, "sendto": "+4915752982299"}, params]}, "json"), "smsdata[1].sendto", "opted out")
    assert len(messages()) == 1


def test_getallsms_filters(client, owner, make_device, monkeypatch):
    account, token, device = owner
    # One moment for the rows and for "today" below: read twice, the clock could pass midnight in between.
    now = pin_clock(monkeypatch, utcnow())
    second = make_device(account, name="Second")
    send = [
        {"sendto": "+4915752982212", "body": "a", "device_id": device.id, "customerid": 1},
        {"sendto": "+4915752982213", "body": "b", "device_id": device.id, "sim": 1},
        {"sendto": "+4915752982212", "body": "c", "device_id": second.id, "customerid": 2},
    ]
    ids = ok(call(client, "addalotofsms", {"token": token, "smsdata": send}, "json"))["sms_ids"]
    incoming = Message(account_id=account.id, device_id=device.id, sendto="+4917000000001", phone="+4917000000001",
                       body="reply", status=5, due_at=now, received_at=now)
    db.session.add(incoming)
    db.session.get(Message, ids[0]).status = 7
    db.session.commit()

    def listed(**filters):
        data = ok(call(client, "getallsms", {"token": token, **filters}))
        return data["count"], [int(key) for key in data["smss"]]

    assert listed() == (4, ids + [incoming.id])
    assert listed(device_id=device.id) == (3, [ids[0], ids[1], incoming.id])
    assert listed(status=5) == (1, [incoming.id])
    assert listed(status=7, device_id=device.id) == (1, [ids[0]])
    assert listed(sim=1) == (1, [ids[1]])
    assert listed(customerid=2) == (1, [ids[2]])
    assert listed(phone="+49 1575 2982212") == (2, [ids[0], ids[2]])
    assert listed(phone=" 4915752982212") == (2, [ids[0], ids[2]])
    second.default_region = "DE"  # messages are normalised with their device's region
    db.session.commit()
    national = ok(call(client, "addsms", {"token": token, "sendto": "0157 52982299", "body": "d",
                                          "device_id": second.id}))["sms_id"]
    assert listed(phone="015752982299") == (1, [national])
    assert listed(phone="+4915752982299") == (1, [national])
    db.session.delete(db.session.get(Message, national))
    db.session.commit()
    assert listed(orderbydesc=1) == (4, [incoming.id] + ids[::-1])
    today = now.strftime("%Y-%m-%d")
    assert listed(begindate=today, enddate=today)[0] == 4
    assert listed(enddate=(now - timedelta(days=1)).strftime("%Y-%m-%d")) == (0, [])
    assert listed(begindate=(now + timedelta(minutes=5)).strftime("%Y-%m-%d %H:%M:%S")) == (0, [])
    assert listed(limit=2) == (4, ids[:2])
    assert listed(limit=2, offset=2) == (4, [ids[2], incoming.id])
    counted = ok(call(client, "getallsms", {"token": token, "onlycount": 1, "device_id": device.id}))
    assert counted == {"error": 0, "message": "Ok", "count": 3}


def test_getallsms_caps_rows_but_counts_everything(app, client, owner):
    _, token, device = owner
    app.config["LIST_MAX_ROWS"] = 3
    ok(call(client, "addalotofsms", {"token": token, "smsdata": [
        {"sendto": "+4915752982212", "body": str(i), "device_id": device.id} for i in range(5)]}, "json"))
    data = ok(call(client, "getallsms", {"token": token, "limit": 100}))
    assert data["count"] == 5 and len(data["smss"]) == 3


def test_getallsms_row_fields(client, owner):
    account, token, device = owner
    paket = Paket(account_id=account.id, title="Sale", body="20% off", device_id=device.id)
    db.session.add(paket)
    db.session.commit()
    sms_id = ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi",
                                        "device_id": device.id, "customerid": 19921, "urgent": 1}))["sms_id"]
    plain_id = ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Plain",
                                          "device_id": device.id}))["sms_id"]
    message = db.session.get(Message, plain_id)
    message.paket_id, message.status, message.sent_at = paket.id, 6, datetime(2031, 1, 1, 12, 0, tzinfo=UTC)
    db.session.commit()
    smss = ok(call(client, "getallsms", {"token": token}))["smss"]
    row = smss[str(sms_id)]
    created = row.pop("created")
    assert created["timezone_type"] == 3 and created["timezone"] == "UTC"
    assert datetime.strptime(created["date"], "%Y-%m-%d %H:%M:%S.000000")
    assert row == {"id": sms_id, "sendto": "+4915752982212", "body": "Hi", "customerid": 19921, "status": 1,
                   "statustitle": "New", "deviceid": device.id, "urgent": True, "senttime": None,
                   "timetosend": None, "sim": 0, "paketid": None, "pakettitle": None, "paketbody": None}
    plain = smss[str(plain_id)]
    assert (plain["paketid"], plain["pakettitle"], plain["paketbody"]) == (paket.id, "Sale", "20% off")
    assert plain["urgent"] is None and plain["statustitle"] == "sent"
    assert plain["senttime"] == {"date": "2031-01-01 12:00:00.000000", "timezone_type": 3, "timezone": "UTC"}


def test_getallsms_keeps_a_deleted_newsletter_s_messages_as_direct_ones(client, owner):
    """The dashboard deletes a finished newsletter: its messages stay in the account's history, and
    getallsms lists them as before, only no longer with the newsletter (its fields null, as a direct
    message's)."""
    account, token, device = owner
    tag_id = ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]
    for phone in ("+4915752982212", "+4915752982213"):
        ok(call(client, "savecontact", {"token": token, "phone": phone, "tag_id": tag_id}))
    paket_id = ok(call(client, "savepaket", {"token": token, "title": "Sale", "device_id": device.id,
                                             "body": "20% off", "tags": str(tag_id)}))["paket_id"]
    assert campaigns.start_due_newsletters() == 1
    db.session.query(Message).update({"status": 7})
    assert campaigns.finish_completed() == 1
    db.session.commit()
    before = ok(call(client, "getallsms", {"token": token}))
    assert before["count"] == 2
    assert {(row["paketid"], row["pakettitle"], row["paketbody"]) for row in before["smss"].values()} == {
        (paket_id, "Sale", "20% off")}

    campaigns.delete_paket(account, paket_id)
    db.session.commit()
    after = ok(call(client, "getallsms", {"token": token}))
    detached = {"paketid": None, "pakettitle": None, "paketbody": None}
    assert after == {**before, "smss": {key: {**row, **detached} for key, row in before["smss"].items()}}


def test_getsmsstatus_reports_the_current_status(client, owner):
    _, token, device = owner
    sms_id = ok(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi",
                                        "device_id": device.id}))["sms_id"]
    db.session.get(Message, sms_id).status = 7
    db.session.commit()
    assert ok(call(client, "getsmsstatus", {"token": token, "sms_id": str(sms_id)})) == {
        "error": 0, "message": "OK", "sms_id": sms_id, "status": 7, "status_description": "delivered"}


def test_savetag_and_savecontact(client, owner):
    account, token, _ = owner
    tag_id = ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]
    assert ok(call(client, "savetag", {"token": token, "title": " vip "}))["tag_id"] == tag_id
    other_tag = ok(call(client, "savetag", {"token": token, "title": "Berlin"}))["tag_id"]
    first = ok(call(client, "savecontact", {"token": token, "phone": "+4915752982212", "ctag_id": tag_id,
                                            "name": "Ada"}))
    assert first["message"] == "ok"
    again = ok(call(client, "savecontact", {"token": token, "phone": "+49 1575 2982212", "tag_id": other_tag,
                                            "fullname": "Ada L."}))
    assert again["contact_id"] == first["contact_id"]
    contact = db.session.get(Contact, first["contact_id"])
    assert sorted(tag.id for tag in contact.tags) == sorted([tag_id, other_tag])
    assert db.session.query(Tag).count() == 2


def test_savetag_gives_the_existing_tag_for_a_title_differing_in_case_or_accents(client, owner):
    token = owner[1]
    tag_id = ok(call(client, "savetag", {"token": token, "title": "Café"}))["tag_id"]
    for title in ("CAFE", "cafe", "café"):
        assert ok(call(client, "savetag", {"token": token, "title": title}))["tag_id"] == tag_id
    assert [tag.title for tag in db.session.query(Tag)] == ["Café"]


def test_savepaket_stores_the_newsletter_and_its_tags(client, owner):
    _, token, device = owner
    tags = [ok(call(client, "savetag", {"token": token, "title": t}))["tag_id"] for t in ("A", "B")]
    paket_id = ok(call(client, "savepaket", {"token": token, "title": "Sale", "device_id": device.id,
                                             "body": "20% off", "tags": f"{tags[0]}, {tags[1]}", "sim": "0",
                                             "time_to_send": "01.07.2031 10:00:00"}))["paket_id"]
    paket = db.session.get(Paket, paket_id)
    assert (paket.title, paket.body, paket.device_id) == ("Sale", "20% off", device.id)
    assert sorted(tag.id for tag in paket.tags) == tags
    assert paket.time_to_send == datetime(2031, 7, 1, 10, 0, tzinfo=UTC)


def test_getalldevices_and_getdevicestatus(client, make_account, make_device, app):
    account, token = make_account(email="paris@example.com", timezone="Europe/Paris")
    seen = utcnow() - timedelta(seconds=30)
    device = make_device(account, name="SM-F", imei="358240051111110", serial_number="R58N", app_version="1.60.1",
                         phone_number="+33612345678", delay_between_each_sms=5, delay_between_request=10,
                         last_seen_at=seen, sim_cards=[{"slotIndex": 0, "simNumber": 1, "phoneNumber": "****5554",
                                                         "carrierName": "***ange", "iccid": "****0720"}])
    device.created_at = datetime(2020, 3, 28, 19, 10, 29, tzinfo=UTC)
    db.session.commit()
    data = ok(call(client, "getalldevices", {"token": token}))
    row = data["device"][str(device.id)]
    assert row["created"] == {"date": "2020-03-28 20:10:29.000000", "timezone_type": 3, "timezone": "Europe/Paris"}
    assert row["createdhumanformat"] == "28.03.2020 20:10:29"
    assert row["siminfo"] == [{"Slot": "0", "IccId": "****0720", "Number": "****5554", "Roaming": "0",
                               "CountryIso": "", "CarrierName": "***ange"}]
    assert (row["title"], row["number"], row["imei"], row["serialnumber"], row["appversion"]) == \
        ("SM-F", "+33612345678", "358240051111110", "R58N", "1.60.1")
    assert (row["isappversionactual"], row["delaybetweeneachsms"], row["delaybetweenrequest"],
            row["subscription"]) == (False, 5, 10, True)
    utc = ok(call(client, "getalldevices", {"token": token, "timezone": "UTC"}))["device"][str(device.id)]
    assert utc["createdhumanformat"] == "28.03.2020 19:10:29"

    status = ok(call(client, "getdevicestatus", {"token": token, "device_id": device.id}))
    assert status["online"] is True and 25 <= status["diffseconds"] <= 120
    assert (status["device_id"], status["title"], status["lastseen"]["timezone"]) == (device.id, "SM-F", "Europe/Paris")
    app.config["DEVICE_ONLINE_WINDOW_SECONDS"] = 10
    assert ok(call(client, "getdevicestatus", {"token": token, "device_id": device.id}))["online"] is False
    device.last_seen_at = None
    db.session.commit()
    never = ok(call(client, "getdevicestatus", {"token": token, "device_id": device.id}))
    assert (never["online"], never["lastseen"], never["diffseconds"]) == (False, None, None)


def test_revoked_devices_are_not_listed_nor_usable(client, owner):
    _, token, device = owner
    device.revoked_at = utcnow()
    db.session.commit()
    assert ok(call(client, "getalldevices", {"token": token}))["count"] == 0
    refused(call(client, "getdevicestatus", {"token": token, "device_id": device.id}), "not found")
    refused(call(client, "addsms", {"token": token, "sendto": "+4915752982212", "body": "Hi",
                                    "device_id": device.id}), "not found")


def test_addsms_with_an_image_file(client, owner):
    _, token, device = owner
    data = {"token": token, "sendto": "+4915752982212,+4915752982213", "device_id": str(device.id), "sim": "0",
            "body": "replaced by the link, as the contract says",
            "file": (__import__("io").BytesIO(png()), "photo.png", "image/png")}
    ids = ok(client.post("/getdata/addsms", data=data, content_type="multipart/form-data"))["sms_ids"]
    stored = db.session.query(StoredObject).one()
    rows = messages()
    assert [m.id for m in rows] == ids
    assert {m.media_object_id for m in rows} == {stored.id}
    assert rows[0].body == rows[0].media_url and rows[0].media_url.startswith("http")


def test_addsms_refuses_two_files(client, owner):
    import io

    _, token, device = owner
    before = row_counts()
    data = {"token": token, "sendto": "+4915752982212", "device_id": str(device.id),
            "file": [(io.BytesIO(png()), "a.png"), (io.BytesIO(png()), "b.png")]}
    refused(client.post("/getdata/addsms", data=data, content_type="multipart/form-data"), "exactly one image")
    assert row_counts() == before


def test_big_php_form_arrays_are_accepted(client, owner):
    """5,000 items as PHP form arrays: past Flask's default form limits (500 kB, 1,000 multipart parts)."""
    _, token, device = owner
    smsdata = [{"sendto": f"+4915{i:09d}", "body": f"Message number {i} for you", "device_id": device.id}
               for i in range(5000)]
    for encoding in ("form", "multipart"):
        assert len(ok(call(client, "addalotofsms", {"token": token, "smsdata": smsdata}, encoding))["sms_ids"]) == 5000
    assert db.session.query(Message).count() == 10_000


def test_smsdata_may_be_a_json_string_in_a_form(client, owner):
    _, token, device = owner
    smsdata = '[{"SendTo":"+4915752982212","Body":"Hi","Device_Id":%d}]' % device.id
    assert len(ok(client.post("/getdata/addalotofsms", data={"token": token, "smsdata": smsdata}))["sms_ids"]) == 1
    refused(client.post("/getdata/addalotofsms", data={"token": token, "smsdata": "[{"}), "smsdata is not valid JSON")
    assert len(messages()) == 1


def test_a_number_in_scientific_notation_is_refused(client, owner):
    """What a Sheets or Excel export makes of +4915752982212 when the column is a number column."""
    _, token, device = owner
    refused(call(client, "addsms", {"token": token, "sendto": "4.91576E+12", "body": "Hi", "device_id": device.id}),
            "sendto", "scientific notation", "as text")
    tag_id = ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]
    refused(call(client, "savecontact", {"token": token, "phone": "4,91576E+12", "tag_id": tag_id}),
            "scientific notation")
    assert row_counts(Message, Contact) == {"messages": 0, "contacts": 0}
