"""The devices' scheduler jobs: presence, expired pairing codes, old webhook receipts — each on its own."""
from datetime import timedelta

from sqlalchemy import select, update

from smsplatform.devices import pairing, services
from smsplatform.extensions import db
from smsplatform.models import Device, Message, PairingCode, WebhookReceipt
from smsplatform.timeutil import utcnow
from tests.devices.helpers import add_message, pair
from tests.support.races import after_statement


def test_silent_devices_are_marked_offline_once(app, account):
    window = app.config["DEVICE_ONLINE_WINDOW_SECONDS"]
    now = utcnow()
    live, _ = pair(account[0], name="live")
    quiet, _ = pair(account[0], name="quiet")
    never, _ = pair(account[0], name="never seen")
    gone, _ = pair(account[0], name="revoked")
    live.last_seen_at = now - timedelta(seconds=window - 1)
    quiet.last_seen_at = now - timedelta(seconds=window + 1)
    never.last_seen_at = None
    gone.last_seen_at = now - timedelta(days=1)
    services.revoke_device(account[0], gone.id, now=now)
    db.session.commit()
    assert services.mark_silent_devices_offline(app.config, now=now) == 2
    db.session.commit()
    marked = dict(db.session.execute(select(Device.id, Device.marked_offline_at)).all())
    assert marked == {live.id: None, quiet.id: now, never.id: now, gone.id: None}
    # a second run (or a second scheduler process) changes nothing, nor moves the first mark
    assert services.mark_silent_devices_offline(app.config, now=now + timedelta(seconds=1)) == 0
    db.session.commit()
    db.session.refresh(quiet)
    assert quiet.marked_offline_at == now


def test_expired_pairing_codes_are_pruned_live_ones_kept(app, account):
    now = utcnow()
    _code, expired = pairing.create_pairing_code(account[0], 60, now=now - timedelta(minutes=5))
    _code2, live = pairing.create_pairing_code(account[0], 600, now=now)
    db.session.commit()
    assert services.prune_expired_pairing_codes(now=now) == 1
    db.session.commit()
    assert db.session.scalars(select(PairingCode.id)).all() == [live.id]
    assert services.prune_expired_pairing_codes(now=now) == 0


def test_webhook_receipts_older_than_the_retention_are_pruned(app, account):
    device, _ = pair(account[0])
    now = utcnow()
    keep = services.RECEIPT_RETENTION_SECONDS
    db.session.add_all([
        WebhookReceipt(device_id=device.id, event_id="old", received_at=now - timedelta(seconds=keep + 1)),
        WebhookReceipt(device_id=device.id, event_id="recent", received_at=now - timedelta(seconds=keep - 60)),
    ])
    db.session.commit()
    assert services.prune_webhook_receipts(app.config, now=now) == 1
    db.session.commit()
    assert db.session.scalars(select(WebhookReceipt.event_id)).all() == ["recent"]
    assert services.prune_webhook_receipts(app.config, now=now) == 0


def test_webhook_receipts_outlive_a_wider_skew_window(app, account):
    device, _ = pair(account[0])
    now = utcnow()
    two_days = 2 * 86400
    db.session.add(WebhookReceipt(device_id=device.id, event_id="inside", received_at=now - timedelta(days=1.5)))
    db.session.commit()
    assert services.prune_webhook_receipts({**app.config, "WEBHOOK_MAX_SKEW_SECONDS": two_days}, now=now) == 0
    assert services.prune_webhook_receipts(app.config, now=now) == 1  # with the default window a day is kept


def test_a_message_accepted_while_its_device_was_removed_is_cancelled_by_the_sweep(app, account):
    """``addsms`` checks the device, the dashboard removes it (cancelling its waiting messages) and commits,
    then the message is inserted and committed: the removal's cancelling never saw it, no phone will take
    it. The sweep cancels it as the removal would have."""
    acct, token = account
    device, _ = pair(acct)
    device_id = device.id
    db.session.commit()
    client = app.test_client()
    sent = {"token": token, "sendto": "+4915112345678", "body": "Your code is 123456", "device_id": device_id}
    assert client.post("/getdata/addsms", data=sent).get_json()["error"] == 0  # the token's use is recorded now

    def remove_it(other):
        other.execute(update(Device).where(Device.id == device_id).values(revoked_at=utcnow()))
        other.execute(update(Message).where(Message.device_id == device_id, Message.status == 1)
                      .values(status=13, failure_reason="device was unpaired"))

    with after_statement("SELECT devices.id, devices.default_region", remove_it) as removed:
        answer = client.post("/getdata/addsms", data=sent).get_json()
    assert removed and answer["error"] == 0
    db.session.rollback()
    left = db.session.get(Message, answer["sms_id"])
    assert (left.status, left.device_id) == (1, device_id)  # accepted, waiting for a phone that is gone

    live, _ = pair(acct, name="live")
    waiting = add_message(live)
    db.session.commit()
    now = utcnow()
    assert services.cancel_left_on_removed_devices(now=now) == 1
    db.session.commit()
    db.session.refresh(left)
    db.session.refresh(waiting)
    assert (left.status, left.failure_reason, left.cancelled_at) == (13, "device was unpaired", now)
    assert waiting.status == 1
    assert services.cancel_left_on_removed_devices(now=now) == 0
