"""A phone's call clears the scheduler's offline mark, even a mark set after the call read the device; a mark
means offline everywhere."""
from datetime import timedelta

from sqlalchemy import select

from smsplatform.devices.auth import touch
from smsplatform.devices.queries import is_online
from smsplatform.devices.services import mark_silent_devices_offline
from smsplatform.extensions import db
from smsplatform.models import Device
from smsplatform.timeutil import utcnow
from tests.conftest import create_device


def test_a_call_clears_a_mark_the_job_set_after_the_call_read_the_device(app, account):
    owner, _token = account
    device_id = create_device(owner, last_seen_at=utcnow() - timedelta(hours=1)).id
    db.session.expunge_all()
    calling = db.session.get(Device, device_id)  # the phone's request has read its device: no mark yet
    assert calling.marked_offline_at is None

    with app.app_context():  # meanwhile the scheduler process marks the silent device (its own session)
        assert mark_silent_devices_offline(app.config) == 1
        db.session.commit()

    now = utcnow().replace(microsecond=0)
    touch(calling, "1.68.0", now=now)
    assert is_online(calling, app.config, now)  # already in this request, before the flush
    db.session.commit()
    db.session.expunge_all()
    seen_at, mark = db.session.execute(
        select(Device.last_seen_at, Device.marked_offline_at).where(Device.id == device_id)).one()
    assert (seen_at, mark) == (now, None)


def test_a_mark_means_offline_even_beside_a_recent_last_seen(app, account):
    """Only a lost race leaves both (the job marked after a call read the device; ``touch`` mends it at
    the next call): the mark wins, as the dashboard's badge shows it."""
    owner, _token = account
    now = utcnow()
    device = create_device(owner, last_seen_at=now - timedelta(seconds=5))
    assert is_online(device, app.config, now)
    device.marked_offline_at = now
    assert not is_online(device, app.config, now)
    device.marked_offline_at = None
    device.last_seen_at = now - timedelta(seconds=app.config["DEVICE_ONLINE_WINDOW_SECONDS"] + 1)
    assert not is_online(device, app.config, now)
