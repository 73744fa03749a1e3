"""Each dashboard page: what it shows, what its forms change, and errors beside the field with nothing saved."""
import codecs
import csv
import io
import json
import re
import struct
import zipfile
import zlib
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from openpyxl import Workbook, load_workbook
from sqlalchemy import select

from smsplatform import create_app
from smsplatform.accounts import services as accounts
from smsplatform.contacts import services as contacts
from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.messaging.service import accept_messages
from smsplatform.models import Account, ApiToken, Contact, Device, Message, Paket, PairingCode
from smsplatform.timeutil import utcnow
from tests.support.pages import error_for, every_page_has_a_title_and_labels, flashes
from tests.web.conftest import (
    add_device, add_incoming, client_with_a_size_limit, loaded_messages, message_counts, sign_out, statements,
)


def tiny_png() -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00")) + chunk(b"IEND", b""))


def test_pages_render_with_titles_and_labelled_inputs(web, device, me):
    for url in ["/", "/devices", "/devices/add", f"/devices/{device.id}", "/send", "/messages", "/inbox", "/contacts",
                "/contacts/new", "/contacts/import", "/newsletters", "/newsletters/new", "/tokens", "/account"]:
        response = web.get(url)
        assert response.status_code == 200, url
        every_page_has_a_title_and_labels(response.get_data(as_text=True))
    web.post("/logout")
    for url in ["/login", "/signup"]:
        every_page_has_a_title_and_labels(web.get(url).get_data(as_text=True))


@pytest.mark.parametrize("base_url, problem", [
    ("http://localhost", "localhost is this computer itself"),
    ("http://127.0.0.1:8000", "127.0.0.1 is this computer itself"),
    ("http://[::1]:8000", "::1 is this computer itself"),
    ("https://sms.localhost", "sms.localhost is this computer itself"),
    ("http://192.168.1.20:8000", "refuses plain http://"),
    ("https://sms.example.com", None),
    ("https://203.0.113.7", None),
])
def test_add_device_says_when_phones_cannot_use_the_server_address(web, app, base_url, problem):
    app.config["PUBLIC_BASE_URL"] = base_url
    html = web.get("/devices/add").get_data(as_text=True)
    assert f'value="{base_url}/api/mobile/v1"' in html
    shown = re.search(r'<p class="flash flash-error" id="server-problem" role="alert">([^<]*)</p>', html)
    if problem is None:
        assert shown is None
    else:
        assert problem in shown.group(1)


def test_settings_save_and_invalid_input_changes_nothing(web, me):
    response = web.post("/account", data={"timezone": "Europe/Berlin", "default_region": "de",
                                          "optout_keywords": "stop, halt", "allow_direct_to_opted_out": ""})
    assert response.status_code == 302
    db.session.expire_all()
    assert (me.timezone, me.default_region, me.optout_keywords, me.allow_direct_to_opted_out) == \
        ("Europe/Berlin", "DE", "STOP,HALT", False)
    response = web.post("/account", data={"timezone": "Nowhere/Else", "default_region": "XX", "optout_keywords": "stop"})
    assert response.status_code == 400
    assert "unknown time zone" in error_for(response.get_data(as_text=True), "timezone")
    response = web.post("/account", data={"timezone": "UTC", "default_region": "XX", "optout_keywords": "stop"})
    assert "unknown region" in error_for(response.get_data(as_text=True), "default_region")
    response = web.post("/account", data={"timezone": "UTC", "default_region": "", "optout_keywords": " , "})
    assert "at least one" in error_for(response.get_data(as_text=True), "optout_keywords")
    db.session.expire_all()
    assert (me.timezone, me.default_region) == ("Europe/Berlin", "DE")


def test_opt_out_keywords_are_saved_and_shown_as_replies_are_compared(web, me):
    response = web.post("/account", data={"timezone": "UTC", "default_region": "",
                                          "optout_keywords": "Stop., ＨＡＬＴ!, stop 🛑"})
    assert response.status_code == 302
    html = web.get("/account").get_data(as_text=True)
    assert 'value="STOP,HALT"' in html
    response = web.post("/account", data={"timezone": "UTC", "default_region": "", "optout_keywords": "STOP, 🛑"})
    assert "“🛑” has no letter or digit" in error_for(response.get_data(as_text=True), "optout_keywords")
    db.session.expire_all()
    assert me.optout_keywords == "STOP,HALT"


def test_the_contact_list_shows_a_typed_stop_as_the_keyword_replied(web, device):
    add_incoming(device, "+4915752982212", "Halt… Stop! 🛑")  # not a keyword: left alone
    add_incoming(device, "+4915752982213", "“ＳＴＯＰ” 🙏")
    db.session.commit()
    html = web.get("/contacts?opted_out=yes").get_data(as_text=True)
    assert "+4915752982213" in html and "replied STOP" in html
    assert "+4915752982212" not in html


def test_a_token_created_then_its_page_reloaded_is_one_token_shown_once(web, me, app):
    """Post/Redirect/Get: the form's answer is a redirect, so reloading the page asks for it again and sends
    no form; the secret rides to that page sealed in the session, neither in the address nor readable in
    the cookie, and is gone from the session once shown."""
    before = db.session.query(ApiToken).count()
    response = web.post("/tokens", data={"label": "CRM"})
    assert response.status_code == 302 and response.location == "/tokens"
    row = db.session.query(ApiToken).filter_by(label="CRM").one()
    cookie = web.get_cookie("session").value
    held = app.session_interface.get_signing_serializer(app).loads(cookie)

    shown = web.get("/tokens")
    html = shown.get_data(as_text=True)
    token = re.search(r'id="new-token" value="([0-9a-f]{32})"', html).group(1)
    assert accounts.hash_secret(token) == row.token_hash
    assert shown.headers["Cache-Control"] == "no-store"  # Back does not show it again from the cache
    assert token not in response.location and token not in cookie and token not in json.dumps(held)
    assert token not in json.dumps(app.session_interface.get_signing_serializer(app).loads(
        web.get_cookie("session").value))

    for _ in range(2):  # reloaded: no new token, and the secret no more
        again = web.get("/tokens").get_data(as_text=True)
        assert 'id="new-token"' not in again and token not in again and f"…{row.hint}" in again
    assert db.session.query(ApiToken).count() == before + 1


def test_tokens_are_shown_once_listed_and_revoked(web, me):
    response = web.post("/tokens", data={"label": "CRM"}, follow_redirects=True)
    html = response.get_data(as_text=True)
    token = re.search(r'id="new-token" value="([0-9a-f]{32})"', html).group(1)
    row = db.session.query(ApiToken).filter_by(label="CRM").one()
    assert row.hint == token[-4:]
    listing = web.get("/tokens").get_data(as_text=True)
    assert token not in listing and f"…{row.hint}" in listing and "CRM" in listing
    assert web.post("/tokens", data={"label": "x" * 101}).status_code == 400
    assert web.post(f"/tokens/{row.id}/revoke").status_code == 302
    db.session.expire_all()
    assert row.revoked_at is not None
    assert "revoked" in web.get("/tokens").get_data(as_text=True)
    assert web.post("/tokens/999999/revoke").status_code == 404


def test_overview_totals_success_rate_and_chart(web, me, device):
    now = utcnow()
    for status, days_ago in [(st.DELIVERED, 0), (st.DELIVERED, 1), (st.SENT, 2), (st.FAILED_GENERIC, 3),
                             (st.PENDING, 0), (st.INCOMING, 5), (st.DELIVERED, 40)]:
        at = now - timedelta(days=days_ago)
        db.session.add(Message(account_id=me.id, device_id=device.id, sendto="+4915100000001",
                               phone="+4915100000001", body="x", status=status, due_at=at, created_at=at))
    db.session.commit()
    html = web.get("/").get_data(as_text=True)
    tiles = dict(re.findall(r'tile-label">([^<]+)</span><span class="tile-value">([^<]+)<', html))
    assert tiles == {"Sent": "4", "Delivered": "3", "Failed": "1", "Pending": "1", "Incoming": "1",
                     "Success rate": "80.0 %"}
    assert '<svg class="chart"' in html and "Messages per day, last 30 days" in html
    assert "Delivered: 2, Sent: 1, Pending: 1, Failed: 1, Cancelled: 0, Incoming: 1" in html  # 40 days ago is out
    assert html.count("<rect") > 6
    assert "Pixel" in html and "http" not in html.split("<svg", 1)[1].split("</svg>")[0].replace(
        "http://www.w3.org/2000/svg", "")


def test_the_settings_page_says_what_the_new_region_did(web, me):
    contacts.create_contact(me, "0170 1234567", name="Anna")
    contacts.create_contact(me, "+491701234567")
    contacts.create_contact(me, "0171 9998888")
    db.session.commit()
    response = web.post("/account", data={"timezone": "UTC", "default_region": "DE", "optout_keywords": "STOP"},
                        follow_redirects=True)
    html = response.get_data(as_text=True)
    assert ("2 contacts saved with a national number now have the international one; 1 of them was merged into "
            "the contact that already had that number") in html
    db.session.expire_all()
    assert {c.phone for c in db.session.scalars(select(Contact).where(Contact.account_id == me.id))} == {
        "+491701234567", "+491719998888"}


@pytest.mark.parametrize("numbers, note", [
    (["+491701234567"], ""),
    (["0171 9998888"], " 1 contact saved with a national number now has the international one."),
    (["0170 1234567", "+491701234567"], " 1 contact saved with a national number now has the international one; "
     "it was merged into the contact that already had that number (tags, messages and any opt-out kept)."),
    (["0170 1234567", "+491701234567", "0171 9998888", "+491719998888", "0151 2223334"],
     " 3 contacts saved with a national number now have the international one; 2 of them were merged into the "
     "contact that already had that number (tags, messages and any opt-out kept)."),
], ids=["none", "one", "one-merged", "three-two-merged"])
def test_the_renumbering_note_is_worded_for_its_numbers(web, me, numbers, note):
    for number in numbers:
        contacts.create_contact(me, number)
    db.session.commit()
    response = web.post("/account", data={"timezone": "UTC", "default_region": "DE", "optout_keywords": "STOP"},
                        follow_redirects=True)
    assert flashes(response.get_data(as_text=True)) == ["Settings saved." + note]


def test_devices_list_add_settings(web, me, device, app):
    html = web.get("/devices").get_data(as_text=True)
    assert "Pixel" in html and "online" in html and "80 %" in html and "1.68.0" in html
    page = web.get("/devices/add").get_data(as_text=True)
    assert "http://localhost/api/mobile/v1" in page and "pairing-code" not in page
    response = web.post("/devices/add", data={"rotate_token": "1"})
    html = response.get_data(as_text=True)
    code = re.search(r'<p class="code" id="pairing-code">([a-z0-9]+)</p>', html).group(1)
    assert "<svg" in html and "<path" in html  # server-side QR
    assert re.search(r'id="enrolment-token" value="[^"]{20,}"', html)
    assert db.session.query(PairingCode).filter_by(account_id=me.id).count() == 1
    from smsplatform.devices.pairing import consume_pairing_code
    assert consume_pairing_code(code).account_id == me.id

    response = web.post(f"/devices/{device.id}", data={"name": "Office", "delay_between_each_sms": "5",
                                                       "delay_between_request": "2", "plus_prefixes": "91, 49"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (device.name, device.delay_between_each_sms, device.delay_between_request, device.plus_prefixes) == \
        ("Office", 5, 2, "91,49")
    for data, field in [({"name": "", "plus_prefixes": ""}, "name"),
                        ({"name": "X", "delay_between_each_sms": "-1"}, "delay_between_each_sms"),
                        ({"name": "X", "delay_between_request": "abc"}, "delay_between_request"),
                        ({"name": "X", "plus_prefixes": "9a"}, "plus_prefixes")]:
        response = web.post(f"/devices/{device.id}", data=data)
        assert response.status_code == 400 and error_for(response.get_data(as_text=True), field), data
    db.session.expire_all()
    assert device.name == "Office"
    assert web.get("/devices/999999").status_code == 404


def test_device_page_totals_that_device_only(web, me, device):
    other = add_device(me, name="Backup")
    for dev, statuses in [(device, [st.DELIVERED] * 3 + [st.SENT, st.FAILED_GENERIC, st.PENDING, st.PENDING]),
                          (other, [st.SENT, st.TAKEN])]:
        for status in statuses:
            db.session.add(Message(account_id=me.id, device_id=dev.id, sendto="+4915100000001", phone="+4915100000001",
                                   body="x", status=status, due_at=utcnow()))
    add_incoming(device, "+4915100000002", "in")
    for i in range(5):
        add_incoming(other, f"+491510000001{i}", "in")
    db.session.commit()

    with statements() as seen:
        html = web.get(f"/devices/{device.id}").get_data(as_text=True)
    assert "Sent 4 · delivered 3 · failed 1 · pending 2 · received 1" in html
    [count] = message_counts(seen)
    assert "messages.device_id = " in count, count  # that device's rows, not the account's grouped by device
    html = web.get(f"/devices/{other.id}").get_data(as_text=True)
    assert "Sent 1 · delivered 0 · failed 0 · pending 1 · received 5" in html
    listing = web.get("/devices").get_data(as_text=True)  # the list still shows each device's own figures
    assert "<dd>4 / 1</dd>" in listing and "<dd>1 / 5</dd>" in listing


def test_remove_device_moves_or_cancels_its_queue(web, me, device):
    other = add_device(me, name="Backup")
    db.session.commit()
    accept_messages(me, [{"sendto": "+4915100000001,+4915100000002", "body": "hi", "device_id": device.id}],
                    field_prefix=None)
    db.session.commit()
    response = web.post(f"/devices/{device.id}/remove", data={"queued": "move", "target_device_id": device.id})
    assert response.status_code == 400
    assert "another device" in error_for(response.get_data(as_text=True), "target_device_id")
    response = web.post(f"/devices/{device.id}/remove", data={"queued": "move", "target_device_id": other.id})
    assert response.status_code == 302
    db.session.expire_all()
    assert db.session.get(Device, device.id).revoked_at is not None
    assert {m.device_id for m in db.session.query(Message)} == {other.id}
    assert web.get(f"/devices/{device.id}").status_code == 404
    response = web.post(f"/devices/{other.id}/remove", data={"queued": "fail"})
    assert response.status_code == 302
    db.session.expire_all()
    assert {m.status for m in db.session.query(Message)} == {st.CANCELLED}


def test_send_queues_one_message_per_recipient(web, me, device):
    response = web.post("/send", data={"device_id": device.id, "sim": 1, "recipients": "+4915100000001\n+4915100000002, +4915100000003",
                                       "body": "Hello", "urgent": "y", "send_at": "2099-01-02T03:04"})
    assert response.status_code == 302
    rows = db.session.query(Message).order_by(Message.id).all()
    assert [m.phone for m in rows] == ["+4915100000001", "+4915100000002", "+4915100000003"]
    assert all(m.sim == 1 and m.urgent and m.time_to_send.year == 2099 and not m.ready for m in rows)


def test_send_errors_are_beside_the_field_and_nothing_is_stored(web, me, device):
    cases = [
        ({"recipients": "+4915100000001\nnot a number", "body": "x"}, "recipients", "not a phone number"),
        ({"recipients": "", "body": "x"}, "recipients", "recipient"),
        ({"recipients": "+4915100000001", "body": ""}, "body", "the message is empty"),
        ({"recipients": "+4915100000001", "body": "x" * 5001}, "body", "5000"),
        ({"recipients": "+4915100000001", "body": "x", "sim": 3}, "sim", "cannot send through WhatsApp"),
        ({"recipients": "+4915100000001", "body": "x", "send_at": "tomorrow"}, "send_at", "Not a valid"),
        ({"recipients": "+4915100000001", "body": "x", "device_id": 999999}, "device_id", "not found"),
    ]
    for data, field, message in cases:
        payload = {"device_id": device.id, "sim": 0, **data}
        response = web.post("/send", data=payload)
        assert response.status_code == 400, data
        assert message in error_for(response.get_data(as_text=True), field), (data, response.get_data(as_text=True)[-3000:])
    assert db.session.query(Message).count() == 0


def test_send_with_an_image_and_a_bad_image(web, me, device):
    png = tiny_png()
    response = web.post("/send", data={"device_id": device.id, "sim": 0, "recipients": "+4915100000001", "body": "",
                                       "image": (io.BytesIO(b"<svg onload=alert(1)>"), "x.png")},
                        content_type="multipart/form-data")
    assert response.status_code == 400 and "not an image" in error_for(response.get_data(as_text=True), "image")
    assert db.session.query(Message).count() == 0
    response = web.post("/send", data={"device_id": device.id, "sim": 0, "recipients": "+4915100000001", "body": "",
                                       "image": (io.BytesIO(png), "pic.png")}, content_type="multipart/form-data")
    assert response.status_code == 302
    message = db.session.query(Message).one()
    assert message.media_object_id is not None and message.body == message.media_url
    # Text and image: the text is sent, with the image's link on a line below (as a newsletter's).
    response = web.post("/send", data={"device_id": device.id, "sim": 0, "recipients": "+4915100000002",
                                       "body": "Look at this", "image": (io.BytesIO(png), "pic.png")},
                        content_type="multipart/form-data")
    assert response.status_code == 302
    with_text = db.session.query(Message).filter_by(phone="+4915100000002").one()
    assert with_text.body == f"Look at this\n{with_text.media_url}" and with_text.media_url.endswith(".png")


def test_messages_filter_paginate_timeline_and_export(web, me, device):
    other = add_device(me, name="Second")
    accept_messages(me, [{"sendto": f"+49151000{i:05d}", "body": f"=cmd{i}", "device_id": device.id} for i in range(55)],
                    field_prefix=None)
    accept_messages(me, [{"sendto": "+4915199999999", "body": "on second", "device_id": other.id, "sim": 1}],
                    field_prefix=None)
    add_incoming(device, "+4915188888888", "incoming one")
    first = db.session.query(Message).filter_by(phone="+4915100000000").one()
    first.status, first.taken_at, first.sent_at, first.failed_at = st.NOT_DELIVERED, utcnow(), utcnow(), utcnow()
    first.failure_reason = "RESULT_ERROR_NO_SERVICE"
    db.session.commit()

    html = web.get("/messages").get_data(as_text=True)
    assert "Page 1 of 2 (57 in all)" in html
    assert "Page 2 of 2" in web.get("/messages?page=2").get_data(as_text=True)
    html = web.get(f"/messages?device_id={other.id}").get_data(as_text=True)
    assert "on second" in html and "cmd1" not in html
    assert "incoming one" in web.get("/messages?direction=in").get_data(as_text=True)
    assert "cmd" not in web.get("/messages?direction=in").get_data(as_text=True)
    html = web.get("/messages?status=failed").get_data(as_text=True)
    assert "(1 in all)" not in html and "=cmd0" in html and "=cmd1<" not in html
    assert "on second" in web.get("/messages?sim=1").get_data(as_text=True)
    assert "=cmd7" in web.get("/messages?number=%2B4915100000007").get_data(as_text=True)
    today = first.created_at.date().isoformat()  # the 55's day, not a later reading (the next day, past midnight)
    assert "Page 1 of 2" in web.get(f"/messages?date_from={today}&date_to={today}").get_data(as_text=True)
    assert "No messages match" in web.get("/messages?date_from=2001-01-01&date_to=2001-01-02").get_data(as_text=True)
    for bad, field in [("date_from=2026-13-45", "date_from"), ("number=abc", "number"), ("device_id=x", "device_id"),
                       ("device_id=%C2%B2", "device_id"), ("sim=%D9%A1", "sim"),  # "²" and an Arabic-Indic "1"
                       ("date_from=2026-02-02&date_to=2026-01-01", "date_to")]:
        response = web.get(f"/messages?{bad}")
        assert response.status_code == 400 and error_for(response.get_data(as_text=True), field), bad
    assert web.get("/messages/export.csv?number=abc").status_code == 400

    detail = web.get(f"/messages/{first.id}").get_data(as_text=True)
    assert re.search(r"accepted.*handed to the phone.*sent.*not delivered.*RESULT_ERROR_NO_SERVICE", detail, re.S)
    response = web.get(f"/messages/export.csv?device_id={device.id}")
    assert response.data.startswith(codecs.BOM_UTF8)  # Excel reads UTF-8 only behind the mark
    rows = list(csv.reader(io.StringIO(response.data.decode("utf-8-sig"))))
    assert rows[0][0] == "sms_id" and len(rows) == 1 + 55 + 1
    assert all(row[11].startswith("'=") for row in rows[1:] if row[2] == "out")  # formulas neutralised
    assert "attachment" in response.headers["Content-Disposition"]


def test_messages_export_neutralises_every_formula_cell_but_not_plain_numbers(web, me, device):
    accept_messages(me, [{"sendto": "+4915100000001", "body": "-5 Prozent; heute", "device_id": device.id}],
                    field_prefix=None)
    add_incoming(device, "=cmd|' /C calc'!A0", "@SUM(1)")  # a sender id is kept as the phone sent it
    db.session.commit()
    rows = list(csv.reader(io.StringIO(web.get("/messages/export.csv").data.decode("utf-8-sig"))))
    by_direction = {row[2]: row for row in rows[1:]}
    assert by_direction["out"][3:5] == ["+4915100000001", "+4915100000001"] and by_direction["out"][11] == "'-5 Prozent; heute"
    assert by_direction["in"][3:5] == ["'=cmd|' /C calc'!A0", "'=cmd|' /C calc'!A0"] and by_direction["in"][11] == "'@SUM(1)"


def test_messages_export_for_excel_with_semicolons(web, me, device):
    accept_messages(me, [{"sendto": "+4915100000001", "body": "Grüße; bis bald, Anna", "device_id": device.id}],
                    field_prefix=None)
    db.session.commit()
    html = web.get("/messages?direction=out").get_data(as_text=True)
    assert "/messages/export.csv?direction=out&amp;delimiter=semicolon" in html
    assert "/messages/export.csv?direction=out&amp;delimiter=comma" in html
    response = web.get("/messages/export.csv?direction=out&delimiter=semicolon")
    assert response.status_code == 200 and response.data.startswith(codecs.BOM_UTF8)
    text = response.data.decode("utf-8-sig")
    assert text.startswith("sms_id;created;direction;number;sendto;")
    rows = list(csv.reader(io.StringIO(text), delimiter=";"))
    assert len(rows) == 2 and rows[1][3] == "+4915100000001" and rows[1][11] == "Grüße; bis bald, Anna"
    comma = web.get("/messages/export.csv?direction=out&delimiter=comma").data.decode("utf-8-sig")
    assert comma == web.get("/messages/export.csv?direction=out").data.decode("utf-8-sig")
    assert comma.startswith("sms_id,created,direction,")
    assert web.get("/messages/export.csv?delimiter=tab").status_code == 400
    assert web.get("/messages/export.csv?delimiter=").status_code == 200  # an empty choice is the default


def test_messages_export_as_an_excel_workbook(web, me, device):
    me.timezone = "Europe/Berlin"
    accept_messages(me, [{"sendto": "+4915100000001", "body": "=cmd|' /C calc'!A0", "device_id": device.id},
                         {"sendto": "+4915100000002", "body": "ring\x07 the bell", "device_id": device.id}],
                    field_prefix=None)
    db.session.commit()
    html = web.get("/messages?direction=out").get_data(as_text=True)
    assert "/messages/export.xlsx?direction=out" in html and "Export Excel (.xlsx) (2)" in html
    response = web.get("/messages/export.xlsx?direction=out")
    assert response.status_code == 200 and response.headers["Content-Disposition"].endswith("messages.xlsx")
    sheet = load_workbook(io.BytesIO(response.data)).active
    rows = list(sheet.iter_rows())
    assert sheet.title == "Messages" and [c.value for c in rows[0]][:5] == ["sms_id", "created", "direction",
                                                                           "number", "sendto"]
    by_number = {row[3].value: row for row in rows[1:]}
    first = by_number["+4915100000001"]
    assert (first[3].data_type, first[11].value, first[11].data_type) == ("s", "=cmd|' /C calc'!A0", "s")
    assert by_number["+4915100000002"][11].value == "ring the bell"  # XML cannot hold the bell character
    created = db.session.query(Message).filter_by(phone="+4915100000001").one().created_at
    berlin = created.replace(tzinfo=timezone.utc).astimezone(ZoneInfo("Europe/Berlin")).replace(tzinfo=None)
    assert abs(first[1].value - berlin) < timedelta(milliseconds=1)  # a date cell, in the account's zone
    assert web.get("/messages/export.xlsx?number=abc").status_code == 400


def test_inbox_groups_conversations_newest_first_and_replies(web, me, device):
    now = utcnow()
    add_incoming(device, "+4915100000001", "old question", now - timedelta(hours=2))
    add_incoming(device, "+4915100000002", "newest", now - timedelta(minutes=1))
    add_incoming(device, "+4915100000001", "follow-up", now - timedelta(hours=1))
    contacts.create_contact(me, "+4915100000002", "Ada")
    db.session.commit()
    html = web.get("/inbox").get_data(as_text=True)
    assert html.index("Ada") < html.index("+4915100000001")
    assert "follow-up" in html and "old question" not in html and "2 received" in html
    thread = web.get("/inbox/conversation?phone=%2B4915100000001").get_data(as_text=True)
    assert thread.index("old question") < thread.index("follow-up")
    response = web.post("/inbox/conversation?phone=%2B4915100000001", data={"body": "Thanks!"})
    assert response.status_code == 302
    reply = db.session.query(Message).filter_by(body="Thanks!").one()
    assert (reply.phone, reply.device_id, reply.status) == ("+4915100000001", device.id, st.PENDING)
    response = web.post("/inbox/conversation?phone=%2B4915100000001", data={"body": ""})
    assert response.status_code == 400 and error_for(response.get_data(as_text=True), "body")
    assert web.get("/inbox/conversation?phone=%2B4915177777777").status_code == 404
    assert web.get("/inbox/conversation").status_code == 404


def test_a_large_inbox_shows_one_page_with_sql_totals_and_reads_one_message_per_number(web, me, device):
    now = utcnow()
    for i in range(60):  # 60 numbers with one message each, older than the chatty one
        add_incoming(device, f"+49151000{i:05d}", f"single {i}", now - timedelta(hours=2, minutes=i))
    for i in range(40):  # one number wrote 40 times; the newest (two at the same second) lead the inbox
        add_incoming(device, "+4915199999999", f"chat {i}", now - timedelta(minutes=40 - i) if i < 39
                     else now - timedelta(minutes=2))
    db.session.commit()
    db.session.expunge_all()

    with loaded_messages() as loaded:
        html = web.get("/inbox").get_data(as_text=True)
    assert "Page 1 of 2 (61 in all)" in html
    assert html.count('<a href="/inbox/conversation?phone=') == 50
    assert "40 received" in html and html.count("1 received") == 49
    assert "chat 39" in html and "chat 38" not in html  # the newest, by id among equal times
    assert "single 0" in html and "single 48" in html and "single 49" not in html
    assert len(loaded) <= 50, len(loaded)
    page2 = web.get("/inbox?page=2").get_data(as_text=True)
    assert "Page 2 of 2 (61 in all)" in page2 and page2.count('<a href="/inbox/conversation?phone=') == 11
    assert "single 49" in page2 and "single 59" in page2


def test_a_long_conversation_shows_one_page_in_reading_order_with_sql_totals(web, me, device, theirs):
    phone = theirs["incoming"].phone  # they have a message with this number too: never counted nor shown
    now = utcnow()
    for i in range(130):  # "msg 000" (oldest) … "msg 129" (newest), incoming and outgoing in turn
        at = now - timedelta(minutes=130 - i) if i != 79 else now - timedelta(minutes=130 - 80)
        message = add_incoming(device, phone, f"msg {i:03d}", at)  # 79 and 80 share a time: id decides
        if i % 2:
            message.status = st.DELIVERED
        elif i >= 100:
            message.sim = 1  # the newest incoming messages came in on the second SIM
    db.session.commit()
    device_id = device.id
    db.session.expunge_all()
    url = "/inbox/conversation?phone=%2B4915133333333"

    def shown(html: str) -> list[int]:
        return [int(n) for n in re.findall(r'<p class="sms-body">msg (\d{3})</p>', html)]

    with loaded_messages() as loaded, statements() as seen:
        html = web.get(url).get_data(as_text=True)
    assert "Page 1 of 3 (130 in all)" in html
    assert shown(html) == list(range(80, 130))  # the newest page, oldest first as a thread reads
    assert html.count('<li class="in"') == 25 and html.count('<li class="out"') == 25
    assert f'<a href="{url}&amp;page=2" rel="next">' in html and 'rel="prev"' not in html
    assert "their inbox" not in html and "Sent from Pixel, SIM 2." in html
    assert len(loaded) <= 50, len(loaded)  # one page of rows, never the whole thread
    reads = [s for s in seen if "FROM messages" in s]
    assert any("count(" in s.lower() for s in reads)  # the total is counted in the database
    assert all("LIMIT" in s for s in reads if "count(" not in s.lower()), reads

    page2 = web.get(f"{url}&page=2").get_data(as_text=True)
    assert "Page 2 of 3 (130 in all)" in page2 and shown(page2) == list(range(30, 80))
    assert f'<a href="{url}&amp;page=1" rel="prev">' in page2 and f'<a href="{url}&amp;page=3" rel="next">' in page2
    assert "Sent from Pixel, SIM 2." in page2  # a reply still goes out as the newest incoming one came in
    page3 = web.get(f"{url}&page=3").get_data(as_text=True)
    assert "Page 3 of 3 (130 in all)" in page3 and shown(page3) == list(range(0, 30)) and 'rel="next"' not in page3

    # Out of range or malformed numbers are handled as on the inbox and the message list: clamped or page 1.
    for bad, expected in [("99", page3), ("0", html), ("-2", html), ("abc", html), ("", html)]:
        response = web.get(f"{url}&page={bad}")
        assert response.status_code == 200 and response.get_data(as_text=True) == expected, bad

    response = web.post(f"{url}&page=2", data={"body": "Thanks!"})
    assert response.status_code == 302 and response.headers["Location"] == url  # back to the newest page
    reply = db.session.query(Message).filter_by(body="Thanks!").one()
    assert (reply.phone, reply.device_id, reply.sim) == (phone, device_id, 1)
    assert "Thanks!" in web.get(url).get_data(as_text=True)


def test_a_number_that_wrote_in_over_whatsapp_is_answered_by_sms_on_sim_1(web, me, device):
    message = add_incoming(device, "+4915100000001", "hi")
    message.sim = 3  # WhatsApp
    db.session.commit()
    device_id = device.id
    url = "/inbox/conversation?phone=%2B4915100000001"
    assert "Sent from Pixel, SIM 1." in web.get(url).get_data(as_text=True)
    assert web.post(url, data={"body": "Thanks!"}).status_code == 302
    reply = db.session.query(Message).filter_by(body="Thanks!").one()
    assert (reply.device_id, reply.sim) == (device_id, 0)


def test_contacts_add_edit_search_bulk_and_opt_out_visible(web, me):
    tag = contacts.create_tag(me, "VIP")
    other_tag = contacts.create_tag(me, "Berlin")
    db.session.commit()
    assert web.post("/contacts/new", data={"phone": "+4915100000001", "name": "Ada", "tag_ids": [tag.id]}).status_code == 302
    response = web.post("/contacts/new", data={"phone": "+49 151 00000001", "name": "Dup"})
    assert response.status_code == 400 and "already a contact" in error_for(response.get_data(as_text=True), "phone")
    response = web.post("/contacts/new", data={"phone": "hello", "name": "Bad"})
    assert response.status_code == 400 and error_for(response.get_data(as_text=True), "phone")
    response = web.post("/contacts/new", data={"phone": "+4915100000009", "tag_ids": [999999]})
    assert response.status_code == 400 and "not found" in error_for(response.get_data(as_text=True), "tag_ids")
    assert db.session.query(Contact).count() == 1
    ada = db.session.query(Contact).one()
    web.post("/contacts/new", data={"phone": "+4915100000002", "name": "Bob"})
    bob = db.session.query(Contact).filter_by(name="Bob").one()

    response = web.post(f"/contacts/{ada.id}", data={"phone": "+4915100000002", "name": "Ada"})
    assert response.status_code == 400 and "already another contact" in error_for(response.get_data(as_text=True), "phone")
    assert web.post(f"/contacts/{ada.id}", data={"phone": "+4915100000003", "name": "Ada L", "tag_ids": [other_tag.id]}).status_code == 302
    db.session.expire_all()
    assert (ada.phone, ada.name, [t.title for t in ada.tags]) == ("+4915100000003", "Ada L", ["Berlin"])

    html = web.get("/contacts?q=ada").get_data(as_text=True)
    assert "Ada L" in html and "Bob" not in html
    assert "Bob" not in web.get(f"/contacts?tag={other_tag.id}").get_data(as_text=True)

    assert web.post("/contacts/bulk", data={"contact_ids": [ada.id, bob.id], "action": "tag", "tag_id": tag.id}).status_code == 302
    db.session.expire_all()
    assert all(tag in c.tags for c in (ada, bob))
    web.post("/contacts/bulk", data={"contact_ids": [bob.id], "action": "untag", "tag_id": tag.id})
    db.session.expire_all()
    assert tag not in bob.tags and tag in ada.tags
    assert web.post("/contacts/bulk", data={"contact_ids": [ada.id, 999999], "action": "untag", "tag_id": tag.id}).status_code == 404
    db.session.expire_all()
    assert tag in ada.tags  # all-or-nothing

    from smsplatform.contacts.optout import opt_out
    from smsplatform.phones import normalize_phone
    opt_out(me, normalize_phone("+4915100000002"), "replied STOP")
    db.session.commit()
    html = web.get("/contacts?opted_out=yes").get_data(as_text=True)
    assert "Bob" in html and "replied STOP" in html and "Ada L" not in html
    assert "replied STOP" in web.get(f"/contacts/{bob.id}").get_data(as_text=True)

    assert web.post("/tags", data={"title": "vip"}).status_code == 302  # existing title, case-insensitive
    assert web.post(f"/tags/{other_tag.id}/rename", data={"title": "Munich"}).status_code == 302
    web.post(f"/tags/{other_tag.id}/rename", data={"title": "VIP"})  # taken: refused
    db.session.expire_all()
    assert other_tag.title == "Munich"
    assert web.post(f"/tags/{other_tag.id}/delete").status_code == 302
    assert web.post(f"/contacts/{ada.id}/delete").status_code == 302
    response = web.post(f"/contacts/{bob.id}/delete", follow_redirects=True)
    assert "the number stays on the opt-out list" in response.get_data(as_text=True)
    kept = db.session.query(Contact).one()  # Bob opted out: his number and opt-out stay, his name goes
    assert (kept.id, kept.name, kept.tags, kept.opted_out, kept.opt_out_reason) == (bob.id, "", [], True, "replied STOP")
    assert web.get("/contacts?tag=abc").status_code in (400, 404)


def test_a_tag_a_scheduled_newsletter_targets_is_not_deleted(web, me, device, vip):
    paket = Paket(account_id=me.id, title="Spring sale", body="b", device_id=device.id, status="scheduled", tags=[vip])
    db.session.add(paket)
    db.session.commit()
    response = web.post(f"/tags/{vip.id}/delete", follow_redirects=True)
    assert "Tag not deleted: tag “VIP” is the audience of newsletter “Spring sale” (scheduled)" in \
        response.get_data(as_text=True)
    db.session.expire_all()
    assert paket.tags == [vip]


def test_a_contact_is_opted_out_and_back_in_by_hand(web, me):
    contact = contacts.create_contact(me, "+4915100000001", "Ada")
    db.session.commit()
    before = utcnow()
    page = web.get(f"/contacts/{contact.id}").get_data(as_text=True)
    assert "Opt out" in page and "Opt back in" not in page
    response = web.post(f"/contacts/{contact.id}/opt-out", follow_redirects=True)
    assert "Opted out: newsletters skip +4915100000001 from now on." in response.get_data(as_text=True)
    db.session.expire_all()
    assert (contact.opted_out, contact.opt_out_reason) == (True, "opted out by hand in the dashboard")
    assert before <= contact.opted_out_at <= utcnow()
    assert "Opt back in" in response.get_data(as_text=True)
    assert web.get(f"/contacts/{contact.id}/opt-out").status_code == 405  # a change is a POST

    response = web.post(f"/contacts/{contact.id}/opt-in", follow_redirects=True)
    assert "Opted back in" in response.get_data(as_text=True)
    db.session.expire_all()
    assert (contact.opted_out, contact.opted_out_at, contact.opt_out_reason) == (False, None, None)


def test_csv_import_shows_the_per_row_report(web, me):
    data = "phone;name;tags\n+4915100000001;Ada;VIP|Berlin\nnot-a-phone;Bad;\n+4915100000001;Ada;Extra\n+4915100000002;Bob;\n"
    response = web.post("/contacts/import", data={"mode": "add", "tag_id": 0,
                                                  "file": (io.BytesIO(data.encode()), "people.csv")},
                        content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "4 rows read: 2 created" in html and "1 skipped" in html
    assert re.search(r"<td>3</td><td><code>not-a-phone</code></td>", html)
    assert db.session.query(Contact).count() == 2
    response = web.post("/contacts/import", data={"mode": "add", "tag_id": 0,
                                                  "file": (io.BytesIO(b"\x00\x01\x02binary"), "x.csv")},
                        content_type="multipart/form-data")
    assert response.status_code == 400 and error_for(response.get_data(as_text=True), "file")
    response = web.post("/contacts/import", data={"mode": "add", "tag_id": 0}, content_type="multipart/form-data")
    assert response.status_code == 400 and "choose a CSV or Excel file" in error_for(response.get_data(as_text=True), "file")
    response = web.post("/contacts/import", data={"mode": "blocklist", "tag_id": 0,
                                                  "file": (io.BytesIO(b"phone\n+4915100000002\n"), "b.csv")},
                        content_type="multipart/form-data")
    assert "1 opted out" in response.get_data(as_text=True)
    assert db.session.query(Contact).filter_by(opted_out=True).count() == 1


def test_csv_import_from_german_excel_names_the_columns_it_read(web, me):
    data = "Vorname;Name;Handy;E-Mail\r\nJürgen;Müller;0151 00000001;j@example.com\r\n".encode("cp1252")
    response = web.post("/contacts/import", data={"mode": "add", "tag_id": 0, "file": (io.BytesIO(data), "kunden.csv")},
                        content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "1 row read: 1 created" in html
    assert "Read phone from “Handy”, name from “Vorname” and “Name”; not read: “E-Mail”." in html
    assert db.session.query(Contact).one().name == "Jürgen Müller"
    workbook = io.BytesIO()
    with zipfile.ZipFile(workbook, "w") as archive:
        archive.writestr("xl/workbook.xml", "<workbook/>")
    response = web.post("/contacts/import", data={"mode": "add", "tag_id": 0,
                                                  "file": (io.BytesIO(workbook.getvalue()), "kunden.xlsx")},
                        content_type="multipart/form-data")
    assert response.status_code == 400
    assert "the Excel workbook could not be read" in error_for(response.get_data(as_text=True), "file")


def test_an_excel_workbook_imports_from_the_dashboard_and_the_report_names_its_sheet(web, me):
    me.default_region = "DE"
    db.session.commit()
    book = Workbook()
    book.active.title = "Kunden"
    for row in (["Vorname", "Nachname", "Handy", "Gruppen"], ["Jürgen", "Müller", 4915100000001, "VIP"]):
        book.active.append(row)
    data = io.BytesIO()
    book.save(data)
    html = web.get("/contacts/import").get_data(as_text=True)
    assert ".xlsx" in re.search(r'<input[^>]+type="file"[^>]*>', html).group(0)
    response = web.post("/contacts/import", data={"mode": "add", "tag_id": 0,
                                                  "file": (io.BytesIO(data.getvalue()), "kunden.xlsx")},
                        content_type="multipart/form-data")
    html = response.get_data(as_text=True)
    assert response.status_code == 200 and "1 row read: 1 created" in html
    assert "Sheet “Kunden”. Read phone from “Handy”, name from “Vorname” and “Nachname”, tags from “Gruppen”." in html
    contact = db.session.query(Contact).one()
    assert (contact.phone, contact.name, [t.title for t in contact.tags]) == ("+4915100000001", "Jürgen Müller", ["VIP"])


@pytest.mark.parametrize("csrf", [False, True], ids=["csrf-off", "csrf-on (production)"])
def test_csv_import_past_the_size_limit_is_told_beside_the_field(web, me, app, base_config, csrf):
    client = client_with_a_size_limit(app, base_config, web, me, csrf)
    data = b"phone\n" + b"+4915100000001\n" * (1024 * 1024 // 15 + 1)
    response = client.post("/contacts/import", data={"mode": "add", "tag_id": 0, "file": (io.BytesIO(data), "big.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert error_for(html, "file") == "the file is larger than the limit of 1 MB"
    assert "<h1>Import contacts from CSV or Excel</h1>" in html
    assert db.session.query(Contact).count() == 0
    # Signed out, no import page: the sign-in redirect, or with CSRF on the plain refusal (the check comes first).
    sign_out(client, html, csrf)
    response = client.post("/contacts/import", data={"file": (io.BytesIO(data), "big.csv")},
                           content_type="multipart/form-data")
    assert response.status_code == (413 if csrf else 302) and "Import contacts" not in response.get_data(as_text=True)


def test_newsletter_create_preview_actions_progress(web, me, device):
    tag = contacts.create_tag(me, "VIP")
    contacts.create_contact(me, "+4915100000001", "Ada Lovelace", [tag.id])
    contacts.create_contact(me, "+4915100000002", "", [tag.id])
    blocked = contacts.create_contact(me, "+4915100000003", "Out", [tag.id])
    blocked.opted_out = True
    db.session.commit()
    preview = web.get(f"/newsletters/preview?body=Hi+{{first_name|there}}&tag_ids={tag.id}").get_json()
    assert preview["audience"] == 2 and preview["segments"] == 1 and preview["text"].startswith("Hi ")
    assert web.get("/newsletters/preview?body=x&tag_ids=999999").status_code == 404
    response = web.get("/newsletters/preview?body=x")  # what the form's script asks before a tag is ticked
    assert response.status_code == 400 and "tags is required" in response.get_json()["message"]
    long = web.post("/newsletters/preview", data={"body": "€" * 4900, "tag_ids": [tag.id]}).get_json()
    assert (long["segments"], long["units"], long["audience"]) == (65, 9800, 2)  # as the form's script POSTs it
    assert web.post("/newsletters/preview", data={"body": "x" * 5001, "tag_ids": [tag.id]}).get_json()["units"] == 5000
    shown = web.post("/newsletters/preview", data={"body": "Hi", "tag_ids": [tag.id], "image": "1"}).get_json()
    assert re.fullmatch(r"Hi\nhttp://localhost/\S+\.jpg", shown["text"])
    for refused, words in (({"body": "x"}, "tags is required"), ({"body": "x", "tag_ids": ["abc"]}, "must be an integer")):
        response = web.post("/newsletters/preview", data=refused)
        assert response.status_code == 400 and words in response.get_json()["message"], refused
    assert web.post("/newsletters/preview", data={"body": "x", "tag_ids": [999999]}).status_code == 404

    response = web.post("/newsletters/new", data={"title": "", "body": "", "device_id": device.id, "sim": 0,
                                                  "tag_ids": [tag.id]})
    assert response.status_code == 400 and error_for(response.get_data(as_text=True), "body")
    response = web.post("/newsletters/new", data={"title": "Sale", "body": "x", "device_id": device.id, "sim": 0,
                                                  "tag_ids": [tag.id], "send_at": "2026-99-01T10:00"})
    assert response.status_code == 400 and error_for(response.get_data(as_text=True), "send_at")
    assert db.session.query(Paket).count() == 0
    response = web.post("/newsletters/new", data={"title": "Sale", "body": "Hi {first_name|there}", "device_id": device.id,
                                                  "sim": 0, "tag_ids": [tag.id], "intent": "draft"})
    assert response.status_code == 302
    paket = db.session.query(Paket).one()
    assert paket.status == "draft"
    page = web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    assert "Start now" in page and "<progress" in page
    assert 'data-confirm="Send this newsletter to its whole audience now?"' in page  # one click reaches everyone
    assert web.post(f"/newsletters/{paket.id}/pause").status_code == 302  # not running: refused, shown as a flash
    db.session.expire_all()
    assert paket.status == "draft"
    assert "cannot become paused" in web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    web.post(f"/newsletters/{paket.id}/start")
    db.session.expire_all()
    assert paket.status == "scheduled"
    # About to start: its progress refreshes itself in place, the page never reloads.
    page = web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    assert _live(page, "paket-progress") == "5" and 'http-equiv="refresh"' not in page
    page = web.get("/newsletters").get_data(as_text=True)
    assert _live(page, f"paket-{paket.id}-progress") == "5" and 'http-equiv="refresh"' not in page
    from smsplatform.campaigns.services import fan_out, start_due_newsletters
    start_due_newsletters()
    db.session.commit()
    fan_out(paket.id, commit=db.session.commit)
    db.session.commit()
    web.post(f"/newsletters/{paket.id}/pause")
    db.session.expire_all()
    assert paket.status == "paused"
    web.post(f"/newsletters/{paket.id}/resume")
    db.session.expire_all()
    assert paket.status == "running"
    html = web.get("/newsletters").get_data(as_text=True)
    assert "0 / 2 done" in html
    web.post(f"/newsletters/{paket.id}/cancel")
    db.session.expire_all()
    assert paket.status == "cancelled"
    assert "2 / 2 done" in web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    assert web.post(f"/newsletters/{paket.id}/explode").status_code == 404


def test_a_newsletter_without_a_tag_asks_for_one_in_the_dashboard_s_words(web, me, device):
    contacts.create_tag(me, "VIP")
    db.session.commit()
    response = web.post("/newsletters/new", data={"title": "Sale", "body": "Hi", "device_id": device.id, "sim": 0})
    assert response.status_code == 400
    assert error_for(response.get_data(as_text=True), "tag_ids") == "choose at least one tag"  # not the API's wording
    assert db.session.query(Paket).count() == 0


def test_newsletter_progress_and_stats_come_from_one_count(web, me, device):
    from smsplatform.campaigns import services as campaigns

    tag = contacts.create_tag(me, "VIP")
    for i in range(7):
        contacts.create_contact(me, f"+49151000000{i:02d}", "", [tag.id])
    paket = campaigns.create_paket(me, title="Sale", body="Hi", device_id=device.id, sim=0, tag_ids=[tag.id],
                                   time_to_send=None)
    campaigns.start_due_newsletters()
    rows = db.session.query(Message).filter_by(paket_id=paket.id).order_by(Message.id).all()
    for row, status in zip(rows, [st.DELIVERED, st.SENT, st.TAKEN, st.FAILED_GENERIC, st.OPTED_OUT, st.CANCELLED]):
        row.status = status  # the seventh stays pending
    db.session.commit()

    def only_one_count_of_messages(seen):
        reads = [s for s in seen if "FROM messages" in s]
        assert reads == message_counts(seen) and len(reads) == 1, reads

    with statements() as seen:
        page = web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    only_one_count_of_messages(seen)
    assert "5 / 7 done (71 %) · 1 delivered · 1 sent · 1 failed · 2 pending · 2 withdrawn" in page
    assert ("total 7 · pending 1 · taken 1 · sent 1 · delivered 1 · failed 1 · opted out 1 · cancelled 1"
            in page)
    with statements() as seen:
        listing = web.get("/newsletters").get_data(as_text=True)
    only_one_count_of_messages(seen)
    assert "5 / 7 done (71 %)" in listing


def test_newsletter_buttons_follow_its_state_and_start_now_moves_a_later_one_to_now(web, me, device):
    from smsplatform.campaigns import services as campaigns

    tag = contacts.create_tag(me, "VIP")
    contacts.create_contact(me, "+4915100000001", "", [tag.id])
    paket = campaigns.create_paket(me, title="Sale", body="Hi", device_id=device.id, sim=0, tag_ids=[tag.id],
                                   time_to_send="2099-01-01 10:00")
    db.session.commit()

    def buttons() -> list[str]:
        html = web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
        return re.findall(rf'action="/newsletters/{paket.id}/(\w+)"', html)

    assert buttons() == ["start", "unschedule", "cancel", "delete", "duplicate"]
    before = utcnow()
    assert web.post(f"/newsletters/{paket.id}/start").status_code == 302
    db.session.expire_all()
    assert paket.status == campaigns.SCHEDULED and before <= paket.time_to_send <= utcnow()
    assert "Newsletter scheduled to start now." in web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    web.post(f"/newsletters/{paket.id}/unschedule")
    assert buttons() == ["start", "cancel", "delete", "duplicate"]
    web.post(f"/newsletters/{paket.id}/start")
    campaigns.start_due_newsletters()
    db.session.commit()
    assert buttons() == ["pause", "cancel", "duplicate"]
    web.post(f"/newsletters/{paket.id}/pause")
    assert buttons() == ["resume", "cancel", "duplicate"]
    web.post(f"/newsletters/{paket.id}/cancel")
    assert buttons() == ["delete", "duplicate"]


def test_timezone_is_applied_to_shown_times(web, me, device):
    me.timezone = "Asia/Kolkata"
    message = add_incoming(device, "+4915100000001", "hi")
    message.created_at = message.created_at.replace(hour=0, minute=0, second=0, microsecond=0)
    db.session.commit()
    assert message.created_at.strftime("%Y-%m-%d") + " 05:30" in web.get("/messages").get_data(as_text=True)
    assert db.session.get(Account, me.id).timezone == "Asia/Kolkata"


def test_hostile_text_is_escaped_everywhere_it_is_shown(web, me, device):
    evil = '<script>alert("x")</script>'
    contacts.create_contact(me, "+4915100000001", evil)
    add_incoming(device, "+4915100000001", evil)
    accept_messages(me, [{"sendto": "+4915100000002", "body": evil, "device_id": device.id}], field_prefix=None)
    db.session.commit()
    for url in ["/contacts", "/inbox", "/inbox/conversation?phone=%2B4915100000001", "/messages"]:
        html = web.get(url).get_data(as_text=True)
        assert "<script>alert" not in html and "&lt;script&gt;" in html, url
    response = web.post("/send", data={"device_id": device.id, "sim": 0, "recipients": evil, "body": "x"})
    assert "<script>alert" not in response.get_data(as_text=True)
    assert web.get("/messages?number=" + "9" * 5000).status_code == 400


def test_session_cookie_is_secure_behind_https(base_config, _schema):
    
    assert create_app({**base_config, "PUBLIC_BASE_URL": "https://sms.example.com"}).config["SESSION_COOKIE_SECURE"]
    assert not create_app(base_config).config["SESSION_COOKIE_SECURE"]


def test_counts_read_as_english_one_and_many(web, me, app):
    """"1 contact", not "1 contacts" (nor "1 contact(s)"), wherever the dashboard counts."""
    one, two = contacts.create_tag(me, "One"), contacts.create_tag(me, "Two")
    ada = contacts.create_contact(me, "+4915100000001", tag_ids=[one.id, two.id])
    bob = contacts.create_contact(me, "+4915100000002", tag_ids=[two.id])
    db.session.commit()
    html = web.get("/contacts").get_data(as_text=True)
    assert "1 contact, 1 reachable" in html and "2 contacts, 2 reachable" in html
    flashed = web.post("/contacts/bulk", data={"contact_ids": [bob.id], "action": "tag", "tag_id": one.id},
                       follow_redirects=True).get_data(as_text=True)
    assert "1 contact tagged." in flashed
    flashed = web.post("/contacts/bulk", data={"contact_ids": [ada.id, bob.id], "action": "untag", "tag_id": one.id},
                       follow_redirects=True).get_data(as_text=True)
    assert "2 contacts untagged." in flashed
    app.config["PAIRING_CODE_TTL_SECONDS"] = 60
    assert "Valid once, for 1 minute." in web.post("/devices/add", data={}).get_data(as_text=True)
    app.config["PAIRING_CODE_TTL_SECONDS"] = 600
    assert "Valid once, for 10 minutes." in web.post("/devices/add", data={}).get_data(as_text=True)


def _live(html: str, region: str) -> str | None:
    """The refresh interval a page gives its live region (None: the region does not refresh itself)."""
    found = re.search(rf'<[a-z]+ [^>]*id="{region}"[^>]*>', html)
    assert found, f"no region {region}"
    interval = re.search(r'data-live="(\d+)"', found.group(0))
    return interval.group(1) if interval else None


def test_list_pages_mark_what_refreshes_itself_and_how_often(web, me, device):
    accept_messages(me, [{"sendto": f"+49151000{i:05d}", "body": f"note {i}", "device_id": device.id} for i in range(55)],
                    field_prefix=None)
    add_incoming(device, "+4915188888888", "a reply")
    db.session.commit()
    # Pending messages on the page: often. Once the page holds only final ones: now and then on the first page
    # (new messages appear there), never on a later one.
    assert _live(web.get("/messages").get_data(as_text=True), "message-list") == "5"
    assert _live(web.get("/messages?page=2").get_data(as_text=True), "message-list") == "5"
    db.session.query(Message).filter(Message.status == st.PENDING).update({"status": st.DELIVERED})
    db.session.commit()
    assert _live(web.get("/messages").get_data(as_text=True), "message-list") == "15"
    assert _live(web.get("/messages?page=2").get_data(as_text=True), "message-list") is None
    assert _live(web.get("/devices").get_data(as_text=True), "device-list") == "10"
    assert _live(web.get("/").get_data(as_text=True), "overview-figures") == "30"
    assert _live(web.get("/inbox").get_data(as_text=True), "conversation-list") == "10"
    html = web.get("/inbox/conversation?phone=%2B4915188888888").get_data(as_text=True)
    assert _live(html, "thread") == "5"
    # The reply form stays outside the thread that is swapped in place: what is being typed is kept.
    assert html.index('id="thread"') < html.index("</ol>") < html.index("<textarea")


def test_the_devices_page_without_a_phone_refreshes_itself_so_the_first_one_appears(web):
    html = web.get("/devices").get_data(as_text=True)
    assert _live(html, "device-list") == "10"
    assert html.index('id="device-list"') < html.index("No phone is paired yet")


def test_a_live_refresh_leaves_a_message_flashed_for_the_next_page_in_place(web, me):
    """Another tab's action flashed a message and its redirect is on its way: a live region fetching its page
    meanwhile (app.js sends ``X-Live-Refresh``) must not take the message, the next page shows it."""
    tag = contacts.create_tag(me, "Club")
    bob = contacts.create_contact(me, "+4915100000002")
    db.session.commit()
    response = web.post("/contacts/bulk", data={"contact_ids": [bob.id], "action": "tag", "tag_id": tag.id})
    assert response.status_code == 302  # the flash waits in the session for the page the redirect leads to
    for page in ("/messages", "/devices", "/", "/inbox"):
        refreshed = web.get(page, headers={"X-Live-Refresh": "1"})
        assert refreshed.status_code == 200 and flashes(refreshed.get_data(as_text=True)) == []
    assert flashes(web.get(response.location).get_data(as_text=True)) == ["1 contact tagged."]
    assert flashes(web.get("/contacts").get_data(as_text=True)) == []  # shown once
