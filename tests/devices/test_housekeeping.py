"""The devices' scheduler jobs: presence, expired pairing codes, old webhook receipts — each on its own."""
from datetime import timedelta

from sqlalchemy import select

from smsplatform.devices import pairing, services
from smsplatform.extensions import db
from smsplatform.models import Device, PairingCode, WebhookReceipt
from smsplatform.timeutil import utcnow
from tests.devices.helpers import pair


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
