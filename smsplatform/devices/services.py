"""Device rules: registering a phone to an account, updating it, revoking it, and what it is told;
the dashboard's settings of a phone and moving its queue to another phone; the scheduler's device
housekeeping (presence, expired pairing codes, old webhook receipts)."""
import base64
import binascii
import secrets
import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, or_, select, update

from smsplatform.accounts import services as accounts
from smsplatform.devices import pairing
from smsplatform.devices.auth import new_device_token, touch, version_at_least
from smsplatform.devices.queries import get_device
from smsplatform.errors import AuthenticationError, ConflictError, ValidationError
from smsplatform.events import settings_changed_after_commit, wake_after_commit
from smsplatform.events.bus import SETTINGS_UPDATED, WEBHOOKS_UPDATED
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.messaging.service import available_slots, channel_label
from smsplatform.models import Account, Device, Message, PairingCode, WebhookReceipt
from smsplatform.timeutil import ago, utcnow

MAX_NAME = 128
MAX_PUSH_TOKEN = 256
MAX_SIM_CARDS = 8
MAX_SIM_TEXT = 64
EXTRA_SLOTS = (2, 3, 4, 5)
MAX_DELAY_SECONDS = 3600
MIN_APP_PASSWORD = 14  # the app refuses shorter new passwords; we hold the same line
_CHUNK = 500  # removed devices per statement of the sweep
WEBHOOK_PATH = "/api/mobile/v1/hooks/{device_id}"
# Webhook events we ask the phone to post to us, with the first app version that knows each.
WEBHOOK_EVENTS = (("sms:received", "1.15.0"), ("sms:sent", "1.18.0"), ("sms:delivered", "1.19.0"),
                  ("sms:failed", "1.19.0"))
_WEBHOOK_NAMESPACE = uuid.UUID("5b3c1f9e-6a0f-4d2b-9c59-1f1f0d9a8e21")
# Webhook receipts only guard against replays inside the timestamp window (WEBHOOK_MAX_SKEW_SECONDS,
# 5 min by default) and against a phone re-posting an event; a day is ample, unless the window is wider.
RECEIPT_RETENTION_SECONDS = 24 * 3600


@dataclass(frozen=True)
class DeviceFields:
    """A phone's self-description from ``POST``/``PATCH /device``, validated."""
    name: str | None
    push_token: str | None
    push_token_given: bool
    sim_cards: list | None
    extra_slots: str | None


def parse_device_fields(body, *, require_name: bool) -> DeviceFields:
    """Validate the JSON object a phone sent about itself (plus our ``slots`` extension)."""
    if not isinstance(body, dict):
        raise ValidationError("body must be a JSON object")
    name = body.get("name")
    if name is not None or require_name:
        name = _clean_name(name)
    push_token = body.get("pushToken")
    if push_token is not None and (not isinstance(push_token, str) or len(push_token) > MAX_PUSH_TOKEN):
        raise ValidationError(f"pushToken must be a string of at most {MAX_PUSH_TOKEN} characters", field="pushToken")
    return DeviceFields(
        name=name,
        push_token=push_token or None,
        push_token_given="pushToken" in body,
        sim_cards=_sim_cards(body["simCards"]) if body.get("simCards") is not None else None,
        extra_slots=_slots(body["slots"]) if body.get("slots") is not None else None,
    )


def _sim_cards(value) -> list:
    if not isinstance(value, list) or len(value) > MAX_SIM_CARDS:
        raise ValidationError(f"simCards must be a list of at most {MAX_SIM_CARDS} objects", field="simCards")
    cards = []
    for index, card in enumerate(value):
        if not isinstance(card, dict):
            raise ValidationError(f"simCards[{index}] must be an object", field="simCards")
        clean = {}
        for key in ("slotIndex", "simNumber"):
            number = card.get(key)
            if number is not None:
                if isinstance(number, bool) or not isinstance(number, int) or not 0 <= number <= 16:
                    raise ValidationError(f"simCards[{index}].{key} must be a small number", field="simCards")
                clean[key] = number
        for key in ("phoneNumber", "carrierName", "iccid"):
            text = card.get(key)
            if text is not None:
                if not isinstance(text, str):
                    raise ValidationError(f"simCards[{index}].{key} must be a string", field="simCards")
                clean[key] = text[:MAX_SIM_TEXT]
        cards.append(clean)
    return cards


def _slots(value) -> str:
    if not isinstance(value, list) or any(isinstance(s, bool) or s not in EXTRA_SLOTS for s in value):
        raise ValidationError("slots must be a list of 2, 3, 4 or 5 (WhatsApp and RCS slots)", field="slots")
    return ",".join(str(s) for s in sorted(set(value)))


def account_for_registration(scheme: str, credentials: str, address: str | None, config,
                             now: datetime | None = None) -> tuple[Account, object]:
    """Who a registering phone belongs to, from ``Code``, ``Basic`` or ``Bearer`` (enrolment token).

    Returns the account and, for a pairing code, its row (to link the new device). Failures are
    recorded for the brute-force limits, so the caller commits on AuthenticationError too.
    """
    if scheme == "basic":
        return account_for_basic(credentials, address, config), None
    accounts.check_auth_allowed(address, None, config)
    try:
        if scheme == "code":
            code = pairing.consume_pairing_code(credentials, now)
            return db.session.get(Account, code.account_id), code
        if scheme == "bearer":
            return pairing.account_for_enrolment_token(credentials), None
        raise AuthenticationError("use 'Code <pairing code>', 'Basic <login:password>' or 'Bearer <enrolment token>'")
    except AuthenticationError:
        accounts.record_auth_failure(address, None)
        raise


def account_for_basic(credentials: str, address: str | None, config) -> Account:
    """The account of ``Basic`` credentials (base64 of ``login:password``), under the brute-force limits.

    A wrong password is recorded (the caller commits on AuthenticationError too).
    """
    try:
        text = base64.b64decode(credentials.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise AuthenticationError("Basic credentials are not valid base64 of login:password") from exc
    email, sep, password = text.partition(":")
    if not sep:
        raise AuthenticationError("Basic credentials are not valid base64 of login:password")
    return accounts.authenticate(email, password, address, config)


def create_login_code(scheme: str, credentials: str, address: str | None, config,
                      now: datetime | None = None) -> tuple[str, PairingCode]:
    """``GET /user/code``: a one-time pairing code for another phone, asked for with ``Basic`` login and
    password. Returns the code in clear and its row; failures count as in ``account_for_basic``."""
    if scheme != "basic":
        raise AuthenticationError("use 'Authorization: Basic <login:password>'")
    account = account_for_basic(credentials, address, config)
    return pairing.create_pairing_code(account, config["PAIRING_CODE_TTL_SECONDS"], now)


def register_device(account: Account, fields: DeviceFields, version: str | None, address: str | None = None,
                    pairing_code=None, now: datetime | None = None) -> tuple[Device, str]:
    """Create a device for ``account``; returns it and its token in clear (only the hash is kept)."""
    now = now or utcnow()
    token, token_hash = new_device_token()
    device = Device(
        account_id=account.id, name=fields.name, token_hash=token_hash, push_token=fields.push_token,
        sim_cards=fields.sim_cards or [], extra_slots=fields.extra_slots or "",
        webhook_signing_key=secrets.token_hex(32), created_at=now,
    )
    db.session.add(device)
    touch(device, version, address, now)
    db.session.flush()
    if pairing_code is not None:
        pairing_code.device_id = device.id
        db.session.flush()
    return device, token


def update_device(device: Device, device_id, fields: DeviceFields, version: str | None) -> Device:
    """``PATCH /device``: push token and SIM cards. Another device's id is refused."""
    if str(device_id) != str(device.id):
        raise ConflictError("this token belongs to another device", field="id")
    if fields.push_token_given or version_at_least(version, "1.65.0"):
        # Since 1.65.0 the app always sends this call; no pushToken then means "use the event stream".
        device.push_token = fields.push_token
    if fields.name is not None:
        device.name = fields.name
    if fields.sim_cards is not None:
        device.sim_cards = fields.sim_cards
    if fields.extra_slots is not None:
        device.extra_slots = fields.extra_slots
    db.session.flush()
    return device


def revoke_device(account: Account, device_id: int, now: datetime | None = None) -> Device:
    """Unpair a device: its token stops working at once and its waiting messages are cancelled."""
    now = now or utcnow()
    device = get_device(account, device_id)
    device.revoked_at = now
    device.token_hash = None
    device.push_token = None
    _cancel_waiting(Message.device_id == device.id, now)
    db.session.flush()
    return device


def cancel_left_on_removed_devices(now: datetime | None = None) -> int:
    """Scheduler job: waiting messages (1) of a removed device (or of none: deleted), cancelled as its
    removal cancels them. A message accepted, or a newsletter fanned out, while the device was being removed
    can commit after the removal's own cancelling, which did not see it: no phone would ever take it, and
    its newsletter would stay running for ever."""
    now = now or utcnow()
    # By device, through the queue index: never a scan of every waiting message.
    removed = list(db.session.scalars(select(Device.id).where(Device.revoked_at.is_not(None)).order_by(Device.id)))
    cancelled = _cancel_waiting(Message.device_id.is_(None), now)
    for start in range(0, len(removed), _CHUNK):
        cancelled += _cancel_waiting(Message.device_id.in_(removed[start:start + _CHUNK]), now)
    return cancelled


def _cancel_waiting(whose, now: datetime) -> int:
    return db.session.execute(
        update(Message).where(whose, Message.status == statuses.PENDING)
        .values(status=statuses.CANCELLED, cancelled_at=now, updated_at=now, failure_reason="device was unpaired"),
        execution_options={"synchronize_session": False},
    ).rowcount


def _clean_name(name) -> str:
    """A device name, from the phone or the dashboard: required, trimmed, at most ``MAX_NAME`` characters."""
    if not isinstance(name, str) or not name.strip():
        raise ValidationError("name is required", field="name")
    name = name.strip()
    if len(name) > MAX_NAME:
        raise ValidationError(f"name is longer than {MAX_NAME} characters", field="name")
    return name


def update_device_settings(account: Account, device_id: int, *, name: str, delay_between_each_sms: int | None,
                           delay_between_request: int | None, plus_prefixes: str) -> Device:
    device = get_device(account, device_id)
    name = _clean_name(name)
    for field, value in (("delay_between_each_sms", delay_between_each_sms),
                         ("delay_between_request", delay_between_request)):
        if value is not None and not 0 <= value <= MAX_DELAY_SECONDS:
            raise ValidationError(f"must be between 0 and {MAX_DELAY_SECONDS} seconds", field=field)
    prefixes = [p.strip().lstrip("+") for p in (plus_prefixes or "").split(",") if p.strip()]
    if any(not p.isdigit() or len(p) > 6 for p in prefixes):
        raise ValidationError("give digits only, comma-separated, e.g. 91,49", field="plus_prefixes")
    joined = ",".join(dict.fromkeys(prefixes))
    if len(joined) > 64:
        raise ValidationError("too many prefixes (at most 64 characters)", field="plus_prefixes")
    if device.delay_between_each_sms != delay_between_each_sms:  # the phone's send interval (GET /settings)
        settings_changed_after_commit(db.session, [device.id])
    device.name = name
    device.delay_between_each_sms = delay_between_each_sms
    device.delay_between_request = delay_between_request
    device.plus_prefixes = joined
    db.session.flush()
    return device


def move_pending_messages(account: Account, source_id: int, target_id: int, now: datetime | None = None) -> int:
    """Hand a device's not-yet-taken messages to another of the account's devices; returns how many moved.

    Refused when the target cannot carry a slot some of those messages use (``check_slot``'s rule: a
    WhatsApp/RCS slot it did not declare, a SIM it reported it lacks). Only messages on slots the target
    carries are moved, and what that leaves behind is looked for afterwards, in the same transaction: a
    message accepted for the source just before the move cannot slip through to a phone that would never
    take it, or fail it.
    """
    source, target = get_device(account, source_id), get_device(account, target_id)
    if source.id == target.id:
        raise ValidationError("choose another device to move the messages to", field="target_device_id")
    now = now or utcnow()
    waiting = (Message.device_id == source.id) & (Message.status == statuses.PENDING)
    moved = db.session.execute(
        update(Message).where(waiting, Message.sim.in_(available_slots(target)))
        .values(device_id=target.id, updated_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    missing = sorted(db.session.scalars(select(Message.sim).distinct().where(waiting)))
    if missing:
        raise ValidationError(f"{target.name} (#{target.id}) cannot send through "
                              f"{', '.join(map(channel_label, missing))}, which queued messages use",
                              field="target_device_id")
    if moved:
        wake_after_commit(db.session, {target.id})
    return moved


def device_settings(device: Device, version: str | None) -> dict:
    """``GET /settings``: an object of objects, only with values this app version understands.

    ``cloud_url``/``private_token`` are never sent (a null ``cloud_url`` would point the phone at
    the public server).
    """
    delay = device.delay_between_each_sms
    settings = {
        "messages": {"send_interval_min": delay, "send_interval_max": delay},
        "webhooks": {"signing_key": device.webhook_signing_key},
    }
    if version_at_least(version, "1.53.0"):
        settings["gateway"] = {"notification_channel": "SSE_ONLY"}
    return settings


def device_webhooks(device: Device, version: str | None, public_base_url: str) -> list[dict]:
    """``GET /webhooks``: our own endpoint for each event the app version knows; ids are stable."""
    url = public_base_url.rstrip("/") + WEBHOOK_PATH.format(device_id=device.id)
    return [
        {"id": str(uuid.uuid5(_WEBHOOK_NAMESPACE, f"{device.id}:{event}")), "deviceId": str(device.id),
         "url": url, "event": event}
        for event, since in WEBHOOK_EVENTS
        if version_at_least(version, since)
    ]


def open_event_stream(device: Device, address: str | None, now: datetime | None = None) -> list[str]:
    """``GET /events`` opens: the device is seen (and back online). Returns the events its stream starts with.

    The device's first stream after registration also gets ``WebhooksUpdated`` and ``SettingsUpdated``:
    the app's first-start fetches of those may have run before it had a token. "First" is won by a
    conditional update, so two streams opening at once send them once.
    """
    now = now or utcnow()
    touch(device, None, address, now=now)
    first_stream = db.session.execute(
        update(Device).where(Device.id == device.id, Device.first_stream_at.is_(None)).values(first_stream_at=now)
    ).rowcount == 1
    return [WEBHOOKS_UPDATED, SETTINGS_UPDATED] if first_stream else []


def stream_presence(device_id: int, now: datetime | None = None) -> bool:
    """An open event stream keeps its device online: seen now, not marked offline.

    Returns False once the device is revoked (its stream then ends).
    """
    return db.session.execute(
        update(Device).where(Device.id == device_id, Device.revoked_at.is_(None))
        .values(last_seen_at=now or utcnow(), marked_offline_at=None),
        execution_options={"synchronize_session": False},
    ).rowcount > 0


def change_password(device: Device, current, new, address: str | None, config) -> None:
    """``PATCH /user/password`` from a phone: the account's password, under the brute-force limits."""
    account = db.session.get(Account, device.account_id)
    if not isinstance(new, str) or len(new) < MIN_APP_PASSWORD:
        raise ValidationError(f"newPassword must have at least {MIN_APP_PASSWORD} characters", field="newPassword")
    accounts.check_auth_allowed(address, account.email, config, account)
    try:
        accounts.change_password(account, current, new)
    except AuthenticationError:
        accounts.record_auth_failure(address, account.email)
        raise


def mark_silent_devices_offline(config, now: datetime | None = None) -> int:
    """Scheduler job: live devices silent for ``DEVICE_ONLINE_WINDOW_SECONDS`` are marked offline, once.

    Returns how many were marked. The next call of the phone (``touch``) or its open event stream
    clears the mark again.
    """
    now = now or utcnow()
    silent_since = ago(config["DEVICE_ONLINE_WINDOW_SECONDS"], now)
    return db.session.execute(
        update(Device)
        .where(Device.marked_offline_at.is_(None), Device.revoked_at.is_(None),
               or_(Device.last_seen_at.is_(None), Device.last_seen_at < silent_since))
        .values(marked_offline_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount


def prune_expired_pairing_codes(now: datetime | None = None) -> int:
    """Scheduler job: delete pairing codes past their expiry (they are refused anyway); returns how many."""
    now = now or utcnow()
    return db.session.execute(delete(PairingCode).where(PairingCode.expires_at < now)).rowcount


def prune_webhook_receipts(config, now: datetime | None = None) -> int:
    """Scheduler job: delete webhook receipts older than ``RECEIPT_RETENTION_SECONDS`` (or twice the
    accepted clock skew, if that is longer: a replay inside the window must still find its receipt)."""
    now = now or utcnow()
    keep = max(RECEIPT_RETENTION_SECONDS, 2 * config["WEBHOOK_MAX_SKEW_SECONDS"])
    return db.session.execute(delete(WebhookReceipt).where(WebhookReceipt.received_at < ago(keep, now))).rowcount
