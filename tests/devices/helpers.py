"""Helpers for the phone-protocol and queue tests: devices and messages made directly, as the app would."""
import base64
from datetime import timedelta


from smsplatform.devices import services
from smsplatform.extensions import db
from smsplatform.models import Message
from smsplatform.timeutil import utcnow

UA = {"User-Agent": "me.capcom.smsgateway/1.68.0"}
JSON = {"Content-Type": "application/json; charset=UTF-8"}
PREFIX = "/api/mobile/v1"
MILLIS_Z = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$"


def bearer(token: str, **extra) -> dict:
    return {"Authorization": f"Bearer {token}", **UA, **extra}


def basic(login: str, password: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{login}:{password}".encode()).decode(), **UA}


def pair(account, name="samsung/a52qnsxx", slots="", version="1.68.0"):
    """A paired device and its token, committed."""
    fields = services.DeviceFields(name=name, push_token=None, push_token_given=False, sim_cards=[],
                                   extra_slots=slots)
    device, token = services.register_device(account, fields, version)
    db.session.commit()
    return device, token


def add_message(device, phone="+15551234567", body="Hi", *, urgent=False, sim=0, ready=True, status=1,
                due_in=0, created=None, paket_id=None, **extra):
    """A queued message of ``device`` (flushed, not committed)."""
    now = utcnow()
    message = Message(
        account_id=device.account_id, device_id=device.id, sendto=phone, phone=phone, body=body, sim=sim,
        urgent=urgent, priority=100 if urgent else 0, status=status, ready=ready,
        due_at=now + timedelta(seconds=due_in), created_at=created or now, paket_id=paket_id, **extra,
    )
    db.session.add(message)
    db.session.flush()
    return message
