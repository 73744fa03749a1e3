"""Dashboard-only write rules no other area offers: a phone's dashboard settings and moving its queue."""
from datetime import datetime

from sqlalchemy import select, update

from smsplatform.devices.queries import get_device
from smsplatform.errors import ValidationError
from smsplatform.events import wake_after_commit
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.models import Account, Device, Message
from smsplatform.timeutil import utcnow

MAX_DELAY_SECONDS = 3600


def update_device_settings(account: Account, device_id: int, *, name: str, delay_between_each_sms: int | None,
                           delay_between_request: int | None, plus_prefixes: str) -> Device:
    device = get_device(account, device_id)
    name = (name or "").strip()
    if not name:
        raise ValidationError("name is required", field="name")
    if len(name) > 128:
        raise ValidationError("name is longer than 128 characters", field="name")
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
    device.name = name
    device.delay_between_each_sms = delay_between_each_sms
    device.delay_between_request = delay_between_request
    device.plus_prefixes = joined
    db.session.flush()
    return device


def move_pending_messages(account: Account, source_id: int, target_id: int, now: datetime | None = None) -> int:
    """Hand a device's not-yet-taken messages to another of the account's devices; returns how many moved.

    Refused when the target cannot carry a slot (WhatsApp/RCS) some of those messages use.
    """
    source, target = get_device(account, source_id), get_device(account, target_id)
    if source.id == target.id:
        raise ValidationError("choose another device to move the messages to", field="target_device_id")
    used_slots = set(db.session.scalars(select(Message.sim).distinct().where(
        Message.device_id == source.id, Message.status == statuses.PENDING)))
    missing = sorted(s for s in used_slots if s >= 2 and s not in target.slot_list())
    if missing:
        raise ValidationError(f"{target.name} cannot carry slot(s) {', '.join(map(str, missing))} "
                              f"that queued messages use", field="target_device_id")
    now = now or utcnow()
    moved = db.session.execute(
        update(Message).where(Message.device_id == source.id, Message.status == statuses.PENDING)
        .values(device_id=target.id, updated_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if moved:
        wake_after_commit(db.session, {target.id})
    return moved
