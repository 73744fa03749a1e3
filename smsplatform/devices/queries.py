"""Read-only device queries shared by the edges (legacy API, dashboard)."""
from datetime import datetime

from sqlalchemy import select

from smsplatform.devices.auth import version_at_least
from smsplatform.errors import NotFoundError
from smsplatform.extensions import db
from smsplatform.models import AccountSettings, Device
from smsplatform.timeutil import utcnow

# The newest release of the Android app we know of; older versions are reported as not actual.
LATEST_APP_VERSION = "1.68.0"


def list_devices(account: AccountSettings) -> list[Device]:
    """The account's paired (not revoked) devices, oldest first."""
    return list(db.session.scalars(
        select(Device).where(Device.account_id == account.id, Device.revoked_at.is_(None)).order_by(Device.id)
    ))


def get_device(account: AccountSettings, device_id: int) -> Device:
    """One of the account's paired devices; a foreign, revoked or unknown id is reported the same way."""
    device = db.session.get(Device, device_id) if isinstance(device_id, int) else None
    if device is None or device.account_id != account.id or device.revoked_at is not None:
        raise NotFoundError(f"device {device_id} not found for this account", field="device_id")
    return device


def is_online(device: Device, config, now: datetime | None = None) -> bool:
    """Seen within ``DEVICE_ONLINE_WINDOW_SECONDS`` and not marked offline by the scheduler since: every
    call of the phone clears the mark, so a marked phone has not called after it (the dashboard, the
    legacy ``online`` flag and the CLI all go by this one rule)."""
    if device.last_seen_at is None or device.marked_offline_at is not None:
        return False
    age = ((now or utcnow()) - device.last_seen_at).total_seconds()
    return age <= config["DEVICE_ONLINE_WINDOW_SECONDS"]


def is_app_version_actual(version: str | None) -> bool:
    """The legacy ``isappversionactual``: a known version at least the latest release (an app built from source
    counts as current, as in every compatibility switch)."""
    return version is not None and version_at_least(version, LATEST_APP_VERSION)
