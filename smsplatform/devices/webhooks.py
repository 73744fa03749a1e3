"""Webhooks the phone posts to us (the URLs ``GET /webhooks`` hands out): incoming SMS and states.

The phone signs each post with the per-device key from ``GET /settings``:
``X-Signature = hex(HMAC-SHA256(key, raw body + X-Timestamp))``. We check the signature, then the
timestamp window, then de-duplicate by the event ``id``, so a captured post cannot be replayed.
"""
import hashlib
import hmac
import json
from datetime import datetime

from sqlalchemy.exc import IntegrityError

from smsplatform.db_unique import savepoint
from smsplatform.devices.auth import touch
from smsplatform.errors import AuthenticationError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.models import Device, WebhookReceipt
from smsplatform.timeutil import parse_phone_datetime, utcnow

MAX_EVENT_ID = WebhookReceipt.__table__.c.event_id.type.length
# Our state events: the webhook event, the phone's state name, and the payload's time field.
STATE_EVENTS = {
    "sms:sent": ("Sent", "sentAt"),
    "sms:delivered": ("Delivered", "deliveredAt"),
    "sms:failed": ("Failed", "failedAt"),
}


def signature_for(key: str, raw_body: bytes, timestamp: str) -> str:
    return hmac.new(key.encode(), raw_body + timestamp.encode(), hashlib.sha256).hexdigest()


def _verified_device(device_id: int, raw_body: bytes, signature, timestamp, max_skew: int, now: datetime) -> Device:
    device = db.session.get(Device, device_id) if 0 < device_id < 2**31 else None
    rejected = AuthenticationError("webhook signature is missing or wrong")
    if device is None or device.revoked_at is not None or not signature or not timestamp:
        raise rejected
    if not hmac.compare_digest(signature_for(device.webhook_signing_key, raw_body, timestamp),
                               signature.strip().lower()):
        raise rejected
    try:
        sent_at = int(timestamp.strip())
    except ValueError as exc:
        raise AuthenticationError("X-Timestamp must be Unix seconds") from exc
    if abs(now.timestamp() - sent_at) > max_skew:
        raise AuthenticationError("X-Timestamp is outside the accepted window")
    return device


def handle_webhook(device_id: int, raw_body: bytes, signature: str | None, timestamp: str | None, config,
                   now: datetime | None = None) -> str:
    """Verify and apply one webhook post. Returns ``"stored"``, ``"duplicate"`` or ``"ignored"``.

    Raises AuthenticationError (bad signature, stale timestamp, unknown or revoked device) and
    ValidationError (a signed but malformed body); either way nothing is changed.
    """
    now = now or utcnow()
    device = _verified_device(device_id, raw_body, signature, timestamp, config["WEBHOOK_MAX_SKEW_SECONDS"], now)
    try:
        body = json.loads(raw_body)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:  # RecursionError: nested thousands deep
        raise ValidationError("body is not JSON") from exc
    if not isinstance(body, dict) or not isinstance(body.get("payload"), dict):
        raise ValidationError("body must be an object with a payload object", field="payload")
    event_id, event, payload = body.get("id"), body.get("event"), body["payload"]
    if not isinstance(event_id, str) or not event_id or len(event_id) > MAX_EVENT_ID:
        raise ValidationError(f"id must be a string of 1 to {MAX_EVENT_ID} characters", field="id")
    if event == "sms:received":
        incoming = _incoming(payload, event_id)
    elif event not in STATE_EVENTS:
        return "ignored"
    elif not isinstance(payload.get("messageId"), str):
        raise ValidationError("payload.messageId is required", field="payload.messageId")
    try:
        with savepoint():
            db.session.add(WebhookReceipt(device_id=device.id, event_id=event_id, received_at=now))
    except IntegrityError:
        return "duplicate"
    touch(device, None, now=now)
    if event == "sms:received":
        queue.record_incoming(device, **incoming, now=now)
    else:
        state, time_field = STATE_EVENTS[event]
        recipient = {"phoneNumber": payload.get("phoneNumber"), "state": state}
        if isinstance(payload.get("reason"), str):
            recipient["error"] = payload["reason"]
        queue.apply_state_report(device, payload["messageId"], state, [recipient],
                                 {state: payload.get(time_field)}, now=now)
    return "stored"


def _incoming(payload: dict, event_id: str) -> dict:
    phone, text = payload.get("phoneNumber"), payload.get("message")
    if not isinstance(phone, str) or not phone.strip():
        raise ValidationError("payload.phoneNumber is required", field="payload.phoneNumber")
    if not isinstance(text, str):
        raise ValidationError("payload.message is required", field="payload.message")
    sim_number = payload.get("simNumber")
    external_id = payload.get("messageId")
    return {
        "phone": phone,
        "text": text,
        "received_at": parse_phone_datetime(payload.get("receivedAt")),
        "external_id": external_id if isinstance(external_id, str) and external_id else event_id,
        "sim": sim_number - 1 if sim_number in (1, 2) else 0,
    }
