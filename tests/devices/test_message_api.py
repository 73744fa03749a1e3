"""GET/PATCH /message, /settings and /webhooks, replayed with the app's exact requests (§3.4–3.8, §4)."""
import re
from datetime import datetime, timedelta, timezone

from sqlalchemy import event, select

from smsplatform.devices.queries import is_app_version_actual
from smsplatform.extensions import db
from smsplatform.models import Message
from smsplatform.timeutil import utcnow
from tests.devices.helpers import JSON, MILLIS_Z, PREFIX, add_message, bearer, pair


def _pull(client, token, order="lifo", **headers):
    return client.get(f"{PREFIX}/message?order={order}", headers=bearer(token, **headers))


def _report(client, token, message_id, state, recipients_state=None, error=None, states=None, phone="+15551234567"):
    recipient = {"phoneNumber": phone, "state": recipients_state or state}
    if error:
        recipient["error"] = error
    body = [{"id": str(message_id), "state": state, "recipients": [recipient], "states": states or {}}]
    return client.patch(f"{PREFIX}/message", json=body, headers=bearer(token, **JSON))


def test_pull_returns_the_exact_dto_and_marks_taken(app, client, account):
    device, token = pair(account[0])
    created = datetime(2026, 7, 10, 5, 0, 0, 123456, tzinfo=timezone.utc)
    message = add_message(device, body="Hello World!", created=created)
    db.session.commit()
    response = _pull(client, token)
    assert response.status_code == 200 and response.mimetype == "application/json"
    assert response.get_json() == [{
        "id": str(message.id), "message": "Hello World!", "textMessage": {"text": "Hello World!"},
        "phoneNumbers": ["+15551234567"], "simNumber": 1, "withDeliveryReport": True, "priority": 0,
        "state": "Pending", "createdAt": "2026-07-10T05:00:00.123Z",
    }]
    db.session.refresh(message)
    assert message.status == 2 and message.taken_at is not None and message.handed_count == 1
    assert _pull(client, token).get_json() == []  # handed out, not yet due for redelivery


def test_pull_urgent_first_slots_media_and_nothing_foreign(app, client, account, make_account):
    device, token = pair(account[0], slots="2")
    other_device, _ = pair(make_account()[0])
    normal = add_message(device, sim=1)
    urgent = add_message(device, urgent=True)
    whatsapp = add_message(device, sim=2, media_url="http://localhost/uploads/a.png")
    rcs = add_message(device, sim=4)  # this device did not declare slot 4
    held = add_message(device, ready=False, due_in=3600)
    add_message(other_device)
    db.session.commit()
    items = _pull(client, token, order="fifo").get_json()
    assert [i["id"] for i in items] == [str(urgent.id), str(normal.id), str(whatsapp.id)]
    assert items[0]["priority"] == 100 and items[1]["simNumber"] == 2
    assert "simNumber" not in items[2] and items[2]["slot"] == 2 and items[2]["mediaUrl"].endswith("a.png")
    for m in (rcs, held):
        db.session.refresh(m)
        assert m.status == 1


def test_lifo_orders_newest_first_within_a_priority(app, client, account):
    device, token = pair(account[0])
    first, second = add_message(device), add_message(device)
    db.session.commit()
    assert [i["id"] for i in _pull(client, token).get_json()] == [str(second.id), str(first.id)]


def test_pull_at_most_100(app, client, account):
    device, token = pair(account[0])
    for _ in range(120):
        add_message(device)
    db.session.commit()
    assert len(_pull(client, token).get_json()) == 100
    assert len(_pull(client, token).get_json()) == 20


def test_full_lifecycle_with_the_apps_date_formats(app, client, account):
    device, token = pair(account[0])
    message = add_message(device)
    db.session.commit()
    _pull(client, token)
    states = {"Pending": "2026-07-10T12:00:00.123+07:00", "Processed": "2026-07-10T12:00:01.456+07:00"}
    assert _report(client, token, message.id, "Processed", states=states).status_code == 204
    db.session.refresh(message)
    assert message.status == 3 and message.queued_at == datetime(2026, 7, 10, 5, 0, 0, 123000, tzinfo=timezone.utc)
    states["Sent"] = "2026-07-10T05:00:09.001+0000"
    assert _report(client, token, message.id, "Sent", states=states).status_code == 204
    states["Delivered"] = "2026-07-10T00:00:10.000+-5:00"
    assert _report(client, token, message.id, "Delivered", states=states).status_code == 204
    db.session.refresh(message)
    assert message.status == 7
    assert message.sent_at == datetime(2026, 7, 10, 5, 0, 9, 1000, tzinfo=timezone.utc)
    assert message.delivered_at == datetime(2026, 7, 10, 5, 0, 10, tzinfo=timezone.utc)
    # a late, repeated or backwards report changes nothing
    for state in ("Sent", "Processed", "Pending", "Delivered", "Failed"):
        assert _report(client, token, message.id, state, states={"Sent": "2030-01-01T00:00:00.000Z"}).status_code == 204
    db.session.refresh(message)
    assert message.status == 7 and message.sent_at.year == 2026 and message.failure_reason is None


def test_a_cancelled_report_on_a_sent_message_changes_nothing(app, client, account):
    device, token = pair(account[0])
    message = add_message(device)
    db.session.commit()
    _pull(client, token)
    _report(client, token, message.id, "Sent", states={"Sent": "2026-11-24T04:35:00.000Z"})
    body = [{"id": str(message.id), "state": "Cancelled", "recipients": [{"phoneNumber": "x", "state": "Cancelled"}],
             "states": {"Cancelled": "2026-11-24T04:36:00.000Z"}}]
    assert client.patch(f"{PREFIX}/message", json=body, headers=bearer(token, **JSON)).status_code == 204
    db.session.refresh(message)
    assert (message.status, message.cancelled_at, message.sent_at.minute) == (6, None, 35)


def test_report_times_that_cannot_be_stored_are_the_time_of_the_report(app, client, account):
    """Year 1 at +14:00 lies before year 1 in UTC, year 9999 at -14:00 after 9999 (Python cannot hold either),
    and years below 1000 do not fit MariaDB: a broken phone clock, recorded as now instead of refusing the report."""
    device, token = pair(account[0])
    message = add_message(device)
    db.session.commit()
    _pull(client, token)
    before = utcnow()
    states = {"Processed": "0001-01-01T00:00:00.000+14:00", "Sent": "9999-12-31T23:59:59.999-14:00",
              "Delivered": "0999-06-01T00:00:00.000Z"}
    assert _report(client, token, message.id, "Delivered", states=states).status_code == 204
    db.session.refresh(message)
    assert message.status == 7
    assert all(before <= moment <= utcnow() for moment in (message.queued_at, message.sent_at, message.delivered_at))


def test_out_of_order_reports_keep_the_highest_state_and_first_times(app, client, account):
    device, token = pair(account[0])
    message = add_message(device)
    db.session.commit()
    _pull(client, token)
    full = {"Pending": "2026-07-10T05:00:00.000Z", "Processed": "2026-07-10T05:00:01.000Z",
            "Sent": "2026-07-10T05:00:02.000Z"}
    _report(client, token, message.id, "Sent", states=full)
    _report(client, token, message.id, "Processed", states={"Processed": "2026-07-10T05:00:01.000Z"})
    db.session.refresh(message)
    assert message.status == 6 and message.queued_at.second == 0 and message.sent_at.second == 2


def test_failures_map_to_legacy_codes(app, client, account):
    device, token = pair(account[0])
    cases = [
        ("Send result: RESULT_ERROR_NO_SERVICE (Failed because service is currently unavailable)", 10),
        ("Send result: RESULT_ERROR_NULL_PDU (Failed because no PDU provided)", 11),
        ("Send result: RESULT_ERROR_RADIO_OFF (Failed because radio was explicitly turned off)", 12),
        ("Can't send message: Permission Denial: READ_PHONE_STATE", 100),
        ("Send result: RESULT_ERROR_GENERIC_FAILURE (Generic failure cause)", 9),
        ("TTL expired", 9),
    ]
    messages = [add_message(device) for _ in cases]
    db.session.commit()
    _pull(client, token)
    for message, (error, _code) in zip(messages, cases):
        _report(client, token, message.id, "Failed", error=error, states={"Failed": "2026-07-10T05:00:00.000Z"})
    for message, (error, code) in zip(messages, cases):
        db.session.refresh(message)
        assert (message.status, message.failure_reason) == (code, error)
        assert message.failed_at == datetime(2026, 7, 10, 5, tzinfo=timezone.utc)


def test_failed_after_sent_is_not_delivered_and_long_reasons_are_cut(app, client, account):
    device, token = pair(account[0])
    first, second = add_message(device), add_message(device)
    db.session.commit()
    _pull(client, token)
    _report(client, token, first.id, "Sent")
    _report(client, token, first.id, "Failed", error="Delivery result from SC +123: 64")
    _report(client, token, second.id, "Failed", error="x" * 5000, states={"Sent": "2026-07-10T05:00:00.000Z"})
    db.session.refresh(first)
    db.session.refresh(second)
    assert first.status == 8 and first.failure_reason == "Delivery result from SC +123: 64"
    assert second.status == 8 and len(second.failure_reason) == 2000


def test_reports_on_foreign_unknown_or_malformed_ids_change_nothing(app, client, account, make_account):
    device, token = pair(account[0])
    mine_other_device, _ = pair(account[0], name="second")
    foreign_device, _ = pair(make_account()[0])
    sibling = add_message(mine_other_device)
    foreign = add_message(foreign_device)
    incoming = add_message(device, status=5)
    never_handed = add_message(device, ready=False, due_in=3600)  # its own, held: no phone has it yet
    db.session.commit()
    before = [(m.id, m.status, m.updated_at) for m in db.session.scalars(select(Message).order_by(Message.id))]
    for message_id in (sibling.id, foreign.id, incoming.id, never_handed.id, 999999, "abc", "1|2", "", None,
                       "9" * 40):
        response = client.patch(f"{PREFIX}/message", json=[{"id": message_id, "state": "Delivered", "recipients": []}],
                                headers=bearer(token))
        assert response.status_code == 204
    for body in ([{"state": "Sent"}], [1, "x", None], [{"id": str(sibling.id), "state": "Bogus"}], []):
        assert client.patch(f"{PREFIX}/message", json=body, headers=bearer(token)).status_code == 204
    db.session.expire_all()
    after = [(m.id, m.status, m.updated_at) for m in db.session.scalars(select(Message).order_by(Message.id))]
    assert after == before


def test_unparseable_report_bodies_are_400(app, client, account):
    _device, token = pair(account[0])
    for data in ("{broken", "", "[" * 100_000 + "]" * 100_000):
        response = client.patch(f"{PREFIX}/message", data=data, headers=bearer(token, **JSON))
        assert response.status_code == 400 and response.get_json()["message"]


def test_a_single_report_object_is_applied_like_an_array_of_one(app, client, account):
    device, token = pair(account[0])
    message = add_message(device, status=2)
    db.session.commit()
    response = client.patch(f"{PREFIX}/message", json={"id": str(message.id), "state": "Sent"}, headers=bearer(token))
    assert response.status_code == 204
    db.session.refresh(message)
    assert message.status == 6


def test_other_well_formed_report_bodies_are_204_and_change_nothing(app, client, account):
    """A body the app would never send still gets 204: any other answer makes it retry, then drop the report."""
    device, token = pair(account[0])
    message = add_message(device, status=2)
    db.session.commit()
    for data in ("5", '"Sent"', "true", "null", "{}", '[[{"id": "%d", "state": "Sent"}]]' % message.id):
        assert client.patch(f"{PREFIX}/message", data=data, headers=bearer(token, **JSON)).status_code == 204
    db.session.refresh(message)
    assert message.status == 2


def test_every_report_of_a_long_body_is_applied_a_hundred_to_a_transaction(app, client, account):
    """On MariaDB each report holds its message's row lock until the commit; a long body must not hold them all."""
    device, token = pair(account[0])
    messages = [add_message(device, status=2) for _ in range(250)]
    db.session.commit()
    body = [{"id": str(m.id), "state": "Sent", "recipients": [{"phoneNumber": m.phone, "state": "Sent"}]}
            for m in messages]
    commits = []

    def count(_connection):
        commits.append(1)

    event.listen(db.engine, "commit", count)
    try:
        response = client.patch(f"{PREFIX}/message", json=body, headers=bearer(token, **JSON))
    finally:
        event.remove(db.engine, "commit", count)
    assert response.status_code == 204
    assert db.session.scalars(select(Message.status).where(Message.device_id == device.id)).all() == [6] * 250
    assert len(commits) == 3


def test_unacknowledged_messages_are_handed_out_again(app, client, account):
    device, token = pair(account[0])
    message = add_message(device)
    db.session.commit()
    _pull(client, token)
    message.last_handed_at = utcnow() - timedelta(seconds=app.config["UNACKED_REDELIVERY_SECONDS"] + 1)
    db.session.commit()
    assert [i["id"] for i in _pull(client, token).get_json()] == [str(message.id)]
    db.session.refresh(message)
    assert message.handed_count == 2 and message.status == 2
    _report(client, token, message.id, "Pending")  # the phone's "I have it"
    message.last_handed_at = utcnow() - timedelta(hours=1)
    db.session.commit()
    assert _pull(client, token).get_json() == []


def test_settings_object_of_objects(app, client, account):
    device, token = pair(account[0])
    device.delay_between_each_sms = 7
    db.session.commit()
    response = client.get(f"{PREFIX}/settings", headers=bearer(token))
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert body == {"gateway": {"notification_channel": "SSE_ONLY"},
                    "messages": {"send_interval_min": 7, "send_interval_max": 7},
                    "webhooks": {"signing_key": device.webhook_signing_key}}
    old = client.get(f"{PREFIX}/settings", headers={"Authorization": f"Bearer {token}",
                                                   "User-Agent": "me.capcom.smsgateway/1.40.0"}).get_json()
    assert "gateway" not in old and all(isinstance(v, dict) for v in old.values())
    assert "cloud_url" not in response.get_data(as_text=True) and "private_token" not in response.get_data(as_text=True)


def test_webhooks_are_our_own_endpoints_filtered_by_app_version(app, client, account):
    device, token = pair(account[0])
    body = client.get(f"{PREFIX}/webhooks", headers=bearer(token)).get_json()
    assert [h["event"] for h in body] == ["sms:received", "sms:sent", "sms:delivered", "sms:failed"]
    assert {h["url"] for h in body} == {f"http://localhost/api/mobile/v1/hooks/{device.id}"}
    assert len({h["id"] for h in body}) == 4
    assert client.get(f"{PREFIX}/webhooks", headers=bearer(token)).get_json() == body  # ids are stable
    old = client.get(f"{PREFIX}/webhooks", headers={"Authorization": f"Bearer {token}",
                                                   "User-Agent": "me.capcom.smsgateway/1.18.3"}).get_json()
    assert [h["event"] for h in old] == ["sms:received", "sms:sent"]
    # an app built from source says 1.0.0 (§2.1): it is today's app, not the first release
    local_build = {"Authorization": f"Bearer {token}", "User-Agent": "me.capcom.smsgateway/1.0.0"}
    assert client.get(f"{PREFIX}/webhooks", headers=local_build).get_json() == body
    assert client.get(f"{PREFIX}/settings", headers=local_build).get_json()["gateway"] == {"notification_channel": "SSE_ONLY"}
    assert is_app_version_actual("1.0.0") and not is_app_version_actual("1.18.3")  # getalldevices agrees


def test_dates_are_milliseconds_z(app, client, account):
    device, token = pair(account[0])
    add_message(device)
    db.session.commit()
    item = _pull(client, token).get_json()[0]
    assert re.match(MILLIS_Z, item["createdAt"])


def test_old_apps_without_order_get_lifo(app, client, account):
    device, token = pair(account[0], version="1.40.0")
    first, second = add_message(device), add_message(device)
    db.session.commit()
    response = client.get(f"{PREFIX}/message", headers={"Authorization": f"Bearer {token}",
                                                       "User-Agent": "me.capcom.smsgateway/1.40.0"})
    assert [i["id"] for i in response.get_json()] == [str(second.id), str(first.id)]
