"""The event stream's rules as services: what a new stream starts with, and presence while it is open."""
from datetime import timedelta

from smsplatform.devices import services
from smsplatform.events.bus import SETTINGS_UPDATED, WEBHOOKS_UPDATED
from smsplatform.extensions import db
from smsplatform.timeutil import utcnow
from tests.devices.helpers import pair


def test_only_the_first_stream_starts_with_webhooks_and_settings(app, account):
    device, _ = pair(account[0])
    now = utcnow() + timedelta(minutes=1)
    device.marked_offline_at = utcnow()
    db.session.commit()
    assert services.open_event_stream(device, "10.0.0.7", now=now) == [WEBHOOKS_UPDATED, SETTINGS_UPDATED]
    db.session.commit()
    db.session.refresh(device)
    assert (device.first_stream_at, device.last_seen_at, device.marked_offline_at, device.external_ip) == \
        (now, now, None, "10.0.0.7")
    assert services.open_event_stream(device, "10.0.0.7", now=now + timedelta(minutes=1)) == []
    db.session.commit()
    db.session.refresh(device)
    assert device.first_stream_at == now


def test_stream_presence_keeps_a_live_device_online_and_ends_with_revocation(app, account):
    device, _ = pair(account[0])
    now = utcnow() + timedelta(minutes=1)
    device.marked_offline_at = utcnow()
    db.session.commit()
    assert services.stream_presence(device.id, now=now) is True
    db.session.commit()
    db.session.refresh(device)
    assert (device.last_seen_at, device.marked_offline_at) == (now, None)
    services.revoke_device(account[0], device.id)
    db.session.commit()
    assert services.stream_presence(device.id, now=now + timedelta(minutes=1)) is False
    db.session.commit()
    db.session.refresh(device)
    assert device.last_seen_at == now
