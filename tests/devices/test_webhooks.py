"""The signed webhook endpoint the phone posts to: incoming SMS and states as a second path."""
import json
import time

import pytest
from sqlalchemy import select

from smsplatform.devices import services
from smsplatform.devices.webhooks import signature_for
from smsplatform.extensions import db
from smsplatform.models import Contact, Message, Paket, WebhookReceipt
from smsplatform.timeutil import utcnow
from tests.devices.helpers import PREFIX, add_message, bearer, pair
from tests.support.chunked import send_chunked
from tests.support.rows import row_counts


def _event(event="sms:received", event_id="evt-1", **payload):
    body = {"id": event_id, "webhookId": "w", "event": event, "deviceId": "1",
            "payload": payload or {"messageId": "abc123", "message": "Hello", "phoneNumber": "+15559876543",
                                   "simNumber": 2, "receivedAt": "2026-07-10T12:00:01.456+07:00"}}
    return json.dumps(body).encode()


def _post(client, device, raw, *, key=None, timestamp=None, signature=None):
    timestamp = str(int(time.time())) if timestamp is None else timestamp
    signature = signature or signature_for(key or device.webhook_signing_key, raw, timestamp)
    return client.post(f"{PREFIX}/hooks/{device.id}", data=raw,
                       headers={"Content-Type": "application/json", "X-Signature": signature,
                                "X-Timestamp": timestamp})


def test_incoming_sms_is_stored_once_as_status_5(app, client, account):
    device, _ = pair(account[0])
    raw = _event()
    response = _post(client, device, raw)
    assert response.status_code == 200 and response.get_json() == {"result": "stored"}
    message = db.session.scalar(select(Message))
    assert (message.status, message.phone, message.body, message.sim, message.device_id) == (5, "+15559876543", "Hello", 1, device.id)
    assert message.received_at.isoformat() == "2026-07-10T05:00:01.456000+00:00" and message.external_id == "abc123"
    # the phone retries the same event: nothing new
    assert _post(client, device, raw).get_json() == {"result": "duplicate"}
    # a new event id for the same SMS (export re-run) is still stored once
    assert _post(client, device, _event(event_id="evt-2")).get_json() == {"result": "stored"}
    assert row_counts(Message, WebhookReceipt) == {"messages": 1, "webhook_receipts": 2}


def test_an_oversized_chunked_webhook_is_413_as_with_a_content_length(app, client, account):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    device, _ = pair(account[0])
    raw = _event(messageId="m1", message="x" * 2000, phoneNumber="+15559876543", receivedAt="2026-07-10T05:00:00.000Z")
    timestamp = str(int(time.time()))
    headers = {"Content-Type": "application/json", "X-Timestamp": timestamp,
               "X-Signature": signature_for(device.webhook_signing_key, raw, timestamp)}
    announced = client.post(f"{PREFIX}/hooks/{device.id}", data=raw, headers=headers)
    streamed = send_chunked(client, "POST", f"{PREFIX}/hooks/{device.id}", raw, headers)
    assert (streamed.status_code, streamed.get_json()) == (413, announced.get_json())
    assert row_counts(Message, WebhookReceipt) == {"messages": 0, "webhook_receipts": 0}


def test_incoming_stop_opts_the_sender_out(app, client, account):
    device, _ = pair(account[0])
    raw = _event(messageId="m9", message="STOP", phoneNumber="+15559876543", receivedAt="2026-07-10T05:00:00.000Z")
    assert _post(client, device, raw).status_code == 200
    contact = db.session.scalar(select(Contact).where(Contact.phone == "+15559876543"))
    assert contact is not None and contact.opted_out


def test_a_stop_as_people_type_it_reported_by_the_phone_opts_out_and_withdraws_the_newsletter(app, client, account):
    """The phone reports the reply as it arrived, here as raw UTF-8 JSON: punctuated, with an emoji, full-width."""
    device, _ = pair(account[0])
    paket = Paket(account_id=account[0].id, title="t", body="b", device_id=device.id, status="running")
    db.session.add(paket)
    db.session.flush()
    waiting = add_message(device, "+15559876543", paket_id=paket.id)
    db.session.commit()

    def report(event_id, text):
        raw = json.dumps({"id": event_id, "event": "sms:received", "payload": {
            "messageId": event_id, "message": text, "phoneNumber": "+15559876543",
            "receivedAt": "2026-07-10T05:00:00.000Z"}}, ensure_ascii=False).encode()
        assert _post(client, device, raw).get_json() == {"result": "stored"}
        db.session.expire_all()
        return db.session.scalar(select(Contact).where(Contact.phone == "+15559876543"))

    assert report("e1", "don't stop") is None
    contact = report("e2", "Stop. 🛑")
    assert contact.opted_out and contact.opt_out_reason == "replied STOP"
    assert db.session.get(Message, waiting.id).status == 14
    assert not report("e3", "Start!").opted_out
    assert report("e4", "ＳＴＯＰ！").opted_out


def test_a_webhook_that_fails_after_its_receipt_is_applied_when_the_phone_sends_it_again(app, client, account,
                                                                                          monkeypatch):
    """The receipt (the event id, for repeats) is written first; when storing the SMS then fails, the whole
    request is rolled back, the receipt with it, so the phone's retry is applied, not taken for a repeat."""
    device, _ = pair(account[0])
    db.session.commit()
    raw = _event(messageId="m10", message="STOP", phoneNumber="+15559876543", receivedAt="2026-07-10T05:00:00.000Z")
    failing = []

    def fail_once(*args, **kwargs):
        failing.append(1)
        raise RuntimeError("the database went away")

    with monkeypatch.context() as patched:
        patched.setattr("smsplatform.devices.webhooks.queue.record_incoming", fail_once)
        with pytest.raises(RuntimeError):  # the test app lets it through; a server answers 500
            _post(client, device, raw)
    assert failing
    db.session.rollback()
    assert row_counts(Message, WebhookReceipt) == {"messages": 0, "webhook_receipts": 0}
    assert _post(client, device, raw).get_json() == {"result": "stored"}
    contact = db.session.scalar(select(Contact).where(Contact.phone == "+15559876543"))
    assert contact is not None and contact.opted_out


def test_alphanumeric_sender_is_kept(app, client, account):
    device, _ = pair(account[0])
    assert _post(client, device, _event(messageId="m1", message="Your code", phoneNumber="VODAFONE")).status_code == 200
    assert db.session.scalar(select(Message.phone)) == "VODAFONE"


@pytest.mark.parametrize("case", ["bad signature", "other key", "stale", "future", "no timestamp", "revoked", "unknown device"])
def test_rejected_posts_change_nothing(app, client, account, case):
    device, _ = pair(account[0])
    other, _ = pair(account[0], name="other")
    raw = _event()
    kwargs = {
        "bad signature": {"signature": "0" * 64},
        "other key": {"key": other.webhook_signing_key},
        "stale": {"timestamp": str(int(time.time()) - 400)},
        "future": {"timestamp": str(int(time.time()) + 400)},
        "no timestamp": {"timestamp": "", "signature": "0" * 64},
    }.get(case, {})
    if case == "revoked":
        services.revoke_device(account[0], device.id)
        db.session.commit()
    if case == "unknown device":
        response = client.post(f"{PREFIX}/hooks/999999", data=raw, headers={"X-Signature": "0" * 64, "X-Timestamp": "1"})
    else:
        response = _post(client, device, raw, **kwargs)
    assert response.status_code == 401 and response.mimetype == "application/json"
    assert row_counts(Message, WebhookReceipt) == {"messages": 0, "webhook_receipts": 0}


def test_signed_but_malformed_bodies_are_400(app, client, account):
    device, _ = pair(account[0])
    for raw in (b"{oops", b"[]", b"[" * 100_000 + b"]" * 100_000,  # nested past the parser's stack
                json.dumps({"id": "e", "event": "sms:received", "payload": {}}).encode(),
                json.dumps({"event": "sms:received", "payload": {"message": "x", "phoneNumber": "1"}}).encode(),
                json.dumps({"id": "e", "event": "sms:sent", "payload": {"phoneNumber": "1"}}).encode()):
        assert _post(client, device, raw).status_code == 400, raw
    assert row_counts(Message, WebhookReceipt) == {"messages": 0, "webhook_receipts": 0}


def test_unknown_events_are_acknowledged_and_ignored(app, client, account):
    device, _ = pair(account[0])
    raw = json.dumps({"id": "p1", "event": "system:ping", "payload": {"health": {}}}).encode()
    assert _post(client, device, raw).get_json() == {"result": "ignored"}
    assert row_counts(Message, WebhookReceipt) == {"messages": 0, "webhook_receipts": 0}


def test_state_events_are_a_second_path_for_reports(app, client, account, make_account):
    device, token = pair(account[0])
    foreign_device, _ = pair(make_account()[0])
    message = add_message(device)
    foreign = add_message(foreign_device)
    db.session.commit()
    client.get(f"{PREFIX}/message", headers=bearer(token))
    sent = json.dumps({"id": "s1", "event": "sms:sent", "payload": {
        "messageId": str(message.id), "phoneNumber": message.phone, "sentAt": "2026-07-10T05:00:09.001Z"}}).encode()
    assert _post(client, device, sent).status_code == 200
    failed = json.dumps({"id": "f1", "event": "sms:failed", "payload": {
        "messageId": str(message.id), "phoneNumber": message.phone, "failedAt": "2026-07-10T05:01:00.000Z",
        "reason": "Delivery result: 5"}}).encode()
    assert _post(client, device, failed).status_code == 200
    spoof = json.dumps({"id": "x1", "event": "sms:delivered", "payload": {
        "messageId": str(foreign.id), "phoneNumber": foreign.phone}}).encode()
    assert _post(client, device, spoof).status_code == 200
    db.session.refresh(message)
    db.session.refresh(foreign)
    assert message.status == 8 and message.sent_at.second == 9 and message.failure_reason == "Delivery result: 5"
    assert foreign.status == 1


def test_an_incoming_sms_with_a_received_time_out_of_range_is_stored_as_received_now(app, client, account):
    device, _ = pair(account[0])
    raw = _event(messageId="m1", message="Hi", phoneNumber="+15559876543", receivedAt="0001-01-01T00:00:00.000+14:00")
    before = utcnow()
    assert _post(client, device, raw).get_json() == {"result": "stored"}
    received = db.session.scalar(select(Message.received_at))
    assert before <= received <= utcnow()
