"""Accepting outgoing messages: validate a whole batch first, then store it with one bulk insert.

A batch is all-or-nothing: every item is checked (and every recipient normalised) before the first
row is written, and an error names the item's index and field. Rows are inserted with one
``executemany`` of plain dicts, not one ORM object per message, so 10,000 messages stay cheap.
"""
import re
from datetime import datetime

from flask import current_app
from sqlalchemy import Row, bindparam, select

from smsplatform import turns
from smsplatform.db_prepared import PreparedStatement
from smsplatform.errors import ValidationError
from smsplatform.events import wake_after_commit
from smsplatform.extensions import db
from smsplatform.messaging.segments import count_segments
from smsplatform.messaging.statuses import PENDING
from smsplatform.models import AccountSettings, Contact, Device, Message, StoredObject
from smsplatform.models.devices import parse_plus_prefixes, parse_slots
from smsplatform.models.types import MAX_ROW_ID
from smsplatform.phones import SPACE_FOR_PLUS, Phone, normalize_phone
from smsplatform.storage.services import public_url
from smsplatform.timeutil import (
    NULL_WORDS, PAST_SEND_TIME_GRACE, means_now, parse_local_datetime, past_send_time_error, utcnow,
)

URGENT_PRIORITY = 100  # the Android app skips its delays and limits at priority >= 100
# The one name of each slot (``sim``) that people read: on every dashboard page, in its choices, and in every
# refusal that names a channel (the legacy API's too).
CHANNEL_LABELS = {0: "SIM 1", 1: "SIM 2", 2: "WhatsApp Business", 3: "WhatsApp", 4: "RCS 1", 5: "RCS 2"}
MAX_SLOT = 5
INTEGER_RANGE = (-MAX_ROW_ID - 1, MAX_ROW_ID)  # what a BIGINT column holds (signed 64 bits): every id and count
_CHUNK = 500  # ids per IN (...) lookup; well under every database's bound-parameter limit
# A whole number: ASCII digits (\d would take "١٢" too), maybe written as a float-typed client writes it ("2.0").
_INTEGER = re.compile(r"^([+-]?[0-9]+)(?:\.0*)?$")
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"", "0", "false", "no", "off", *NULL_WORDS}
# Built once: every addsms runs them, and building a statement costs more than running it. They are
# Core statements: an ORM entity per device (or per id) would cost more than the insert itself; the
# single-row ones are prepared (``db_prepared``): an addsms runs only those.
_INSERT_MESSAGES = Message.__table__.insert().returning(Message.__table__.c.id)
_INSERT_MESSAGE = PreparedStatement(_INSERT_MESSAGES)
# What accepting a message needs of a device (rows with these attribute names, not Device objects).
_DEVICE_RULES = select(Device.id, Device.default_region, Device.plus_prefixes, Device.extra_slots, Device.sim_cards)
_LIVE_DEVICE = PreparedStatement(_DEVICE_RULES.where(
    Device.id == bindparam("device_id"), Device.account_id == bindparam("account_id"), Device.revoked_at.is_(None)))


def as_int(value, field: str, *, required: bool = False, minimum: int | None = None,
           maximum: int | None = None) -> int | None:
    """An integer given as a JSON number, a numeric string or a boolean; None, empty, ``null`` and
    ``undefined`` are absent."""
    text = value.strip() if isinstance(value, str) else None
    if value is None or text == "" or (text is not None and text.lower() in NULL_WORDS):
        if required:
            state = "required" if value is None else "empty" if text == "" else f"required, got {text!r}"
            raise ValidationError(f"{field} is {state}", field=field)
        return None
    if isinstance(value, bool):
        number = int(value)
    elif isinstance(value, int):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif text is not None and (number := _whole_number(text)) is not None:
        pass
    else:
        raise ValidationError(f"{field} must be an integer, got {_show(value)}", field=field)
    if not INTEGER_RANGE[0] <= number <= INTEGER_RANGE[1]:
        raise ValidationError(f"{field} is out of range, got {_show(value)}", field=field)
    if (minimum is not None and number < minimum) or (maximum is not None and number > maximum):
        bounds = f"{minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ValidationError(f"{field} must be {bounds}, got {number}", field=field)
    return number


def _whole_number(text: str) -> int | None:
    """The integer a text writes (``"42"``, ``"+42"``, ``"42.0"``), or None; one of more than 19 digits (too
    long for any integer parameter) is read only as far as telling that it is out of range."""
    match = _INTEGER.match(text)
    if match is None:
        return None
    whole = match.group(1)
    if len(whole.lstrip("+-").lstrip("0")) > 19:
        return INTEGER_RANGE[1] + 1 if whole[0] != "-" else INTEGER_RANGE[0] - 1
    return int(whole)


def as_flag(value, field: str) -> bool:
    """A 0/1 flag: 1, "1", true, "true", "yes", "on" are set; 0, "", false, null are not."""
    if value is None or isinstance(value, bool):
        return bool(value)
    if isinstance(value, (int, float)):
        return value != 0
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        number = _whole_number(text)
        if number is not None:
            return number != 0
    raise ValidationError(f"{field} must be 0 or 1, got {_show(value)}", field=field)


def as_text(value, field: str, *, required: bool = False) -> str | None:
    """A string parameter (numbers are accepted and written out; a whole float below 1e15, as PHP writes
    it: ``4915752982212.0`` is ``"4915752982212"``, not a number with one more digit); None is absent."""
    if value is None:
        if required:
            raise ValidationError(f"{field} is required", field=field)
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValidationError(f"{field} must be a string, got {_show(value)}", field=field)
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return value if isinstance(value, str) else str(value)


def _show(value) -> str:
    if isinstance(value, (dict, list)):
        return "an object" if isinstance(value, dict) else "a list"
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def split_recipients(sendto: str) -> list[str]:
    """Comma-separated numbers, each kept as sent (a leading space before a digit 1-9 is a ``+``)."""
    parts = []
    for part in sendto.split(","):
        part = part.rstrip()
        if not part.strip():
            continue
        parts.append(part if SPACE_FOR_PLUS.match(part) else part.strip())  # the space that is a "+" stays
    return parts


def accept_messages(account: AccountSettings, items: list[dict], *, default_device_id=None, now: datetime | None = None,
                    field_prefix: str | None = "smsdata", past_means_now: bool = False) -> list[Message]:
    """Validate every item, then store one pending message per recipient; the stored rows, in order.

    Item keys: sendto, body, device_id, sim, timetosend, customerid, urgent, media (a StoredObject
    whose public URL follows the body on a line of its own, or is the body when there is no text).
    Errors name ``<field_prefix>[index].field`` (only the field when ``field_prefix`` is None, for
    single-message calls).

    A ``timetosend`` more than ``PAST_SEND_TIME_GRACE`` before now is refused (a wrong day or zone is then
    not sent at once); one that passed within it (while a form was filled in) means now. The same rule as
    a newsletter's send time. ``past_means_now``: the legacy API's contract instead, any past time is now.
    """
    ids = accept_message_ids(account, items, default_device_id=default_device_id, now=now,
                             field_prefix=field_prefix, past_means_now=past_means_now)
    found: dict[int, Message] = {}
    for start in range(0, len(ids), _CHUNK):
        for message in db.session.scalars(select(Message).where(Message.id.in_(ids[start:start + _CHUNK]))):
            found[message.id] = message
    return [found[message_id] for message_id in ids]


def accept_message_ids(account: AccountSettings, items: list[dict], *, default_device_id=None,
                       now: datetime | None = None, field_prefix: str | None = "smsdata",
                       past_means_now: bool = False) -> list[int]:
    """``accept_messages`` returning only the new ids, for big batches (no ORM object per message)."""
    rows, ready_devices = _validated_rows(account, items, default_device_id, now or utcnow(), field_prefix,
                                          past_means_now)
    # One row (an addsms) is one prepared insert; more are an executemany per chunk. Autoincrement ids
    # are assigned in row order, so sorted ids follow the rows. Between chunks the worker's other
    # requests get a turn; on MariaDB they can also write meanwhile, on SQLite their writes wait for this one.
    if len(rows) == 1:
        ids = [_INSERT_MESSAGE.first(rows[0]).id]
    else:
        connection = db.session.connection()
        ids = []
        for start in range(0, len(rows), turns.EVERY):
            turns.now_and_then(start)
            ids += connection.execute(_INSERT_MESSAGES, rows[start:start + turns.EVERY]).scalars()
        ids.sort()
    wake_after_commit(db.session, ready_devices)
    return ids


def _validated_rows(account: AccountSettings, items, default_device_id, now: datetime,
                    field_prefix: str | None, past_means_now: bool = False) -> tuple[list[dict], set[int]]:
    config = current_app.config
    max_batch = config["MAX_BATCH_SIZE"]
    if not isinstance(items, list) or not items:
        raise ValidationError(f"{field_prefix or 'message'} is empty: give at least one message",
                              field=field_prefix)
    if len(items) > max_batch:
        raise ValidationError(f"batch has {len(items)} messages; at most {max_batch} per call", field=field_prefix)
    device_ids = []
    for index, item in enumerate(items):
        turns.now_and_then(index)
        try:
            if not isinstance(item, dict):
                raise ValidationError("must be an object with sendto, body and device_id")
            device_id = item.get("device_id")
            device_ids.append(as_int(default_device_id if device_id is None else device_id, "device_id",
                                     required=True, minimum=1))
        except ValidationError as error:
            raise _located(error, field_prefix, index) from None
    devices = _own_devices(account, set(device_ids))
    batch = _Batch(account, devices, now, config["MAX_BODY_CHARS"], max_batch, past_means_now)
    for index, (item, device_id) in enumerate(zip(items, device_ids)):
        try:
            batch.add(item, device_id, index)
        except ValidationError as error:
            raise _located(error, field_prefix, index) from None
    if not account.allow_direct_to_opted_out:
        _refuse_opted_out(account, batch.rows, batch.row_items, field_prefix)
    return batch.rows, batch.ready_devices


def _located(error: ValidationError, prefix: str | None, index: int) -> ValidationError:
    """``sim must be …`` of item 3 becomes ``smsdata[3].sim must be …``."""
    if not prefix:
        return error
    field = error.field or ""
    where = f"{prefix}[{index}].{field}" if field else f"{prefix}[{index}]"
    if field and error.message.startswith(field):
        return ValidationError(where + error.message[len(field):], field=where)
    return ValidationError(f"{where}: {error.message}" if field else f"{where} {error.message}", field=where)


class _Batch:
    """The rows of one call, built item by item; caches what repeats across a big batch."""

    def __init__(self, account: AccountSettings, devices: dict[int, Row], now: datetime, max_body: int, max_rows: int,
                 past_means_now: bool = False):
        self.account, self.devices, self.now, self.max_body, self.max_rows = account, devices, now, max_body, max_rows
        self.past_means_now = past_means_now
        self.rows: list[dict] = []
        self.row_items: list[int] = []  # the item index of each row, for error messages
        self.ready_devices: set[int] = set()
        self._media_urls: dict[int, str] = {}
        self._segments: dict[str, tuple[int, str]] = {}
        self._phones: dict[tuple, Phone] = {}
        self._times: dict[str, datetime] = {}
        self._device_rules: dict[int, tuple] = {}

    def add(self, item: dict, device_id: int, index: int) -> None:
        device = self.devices.get(device_id)
        if device is None:
            raise ValidationError(f"device_id: device {device_id} not found for this account", field="device_id")
        region, prefixes, slots = self._rules(device)
        media = item.get("media")
        body = clean_body(item.get("body"), media, self.max_body)
        media_url = None
        if media is not None:
            if not isinstance(media, StoredObject) or media.account_id != self.account.id:
                raise ValidationError("file: unknown upload", field="file")
            if media.id not in self._media_urls:
                self._media_urls[media.id] = public_url(media)
            media_url = self._media_urls[media.id]
            body = body_as_sent(body, media_url)
        sim = as_int(item.get("sim"), "sim", minimum=0, maximum=MAX_SLOT) or 0
        check_slot(device, sim, slots=slots)
        time_to_send = self._time(item.get("timetosend"))
        if time_to_send is not None and not self.past_means_now and time_to_send < self.now - PAST_SEND_TIME_GRACE:
            raise past_send_time_error(time_to_send, self.now, self.account.timezone, "timetosend")
        due = max(time_to_send, self.now) if time_to_send is not None else self.now
        customer_id = as_int(item.get("customerid"), "customerid")  # any BIGINT (as_int's own range)
        urgent = as_flag(item.get("urgent"), "urgent")
        if body not in self._segments:
            info = count_segments(body)
            self._segments[body] = (info.segments, info.encoding)
        segments, encoding = self._segments[body]
        sendto = item.get("sendto")
        if isinstance(sendto, list):  # a JSON list of numbers is the same as a comma-separated string
            sendto = ",".join(as_text(number, "sendto", required=True) for number in sendto)
        recipients = split_recipients(as_text(sendto, "sendto", required=True))
        if not recipients:
            raise ValidationError("sendto is empty: give a phone number", field="sendto")
        if len(self.rows) + len(recipients) > self.max_rows:
            raise ValidationError(f"sendto: more than {self.max_rows} recipients in one call", field="sendto")
        ready = due <= self.now
        if ready:
            self.ready_devices.add(device_id)
        for raw in recipients:
            turns.now_and_then(len(self.rows))  # a big batch: the worker's other requests
            key = (raw, region, prefixes)
            phone = self._phones.get(key)
            if phone is None:
                phone = self._phones[key] = normalize_phone(raw, region, prefixes, field="sendto")
            self.rows.append({
                "account_id": self.account.id, "device_id": device_id, "sendto": phone.raw,
                "phone": phone.normalized, "body": body, "segments": segments, "encoding": encoding, "sim": sim,
                "customer_id": customer_id, "urgent": urgent, "priority": URGENT_PRIORITY if urgent else 0,
                "status": PENDING, "ready": ready, "time_to_send": time_to_send, "due_at": due,
                "created_at": self.now, "updated_at": self.now, "handed_count": 0, "failed_unacknowledged": False,
                "media_object_id": media.id if media is not None else None, "media_url": media_url,
            })
            self.row_items.append(index)

    def _rules(self, device: Row) -> tuple:
        """(region, plus prefixes, extra slots) of a device; its own region wins over the account's."""
        if device.id not in self._device_rules:
            self._device_rules[device.id] = (device.default_region or self.account.default_region,
                                             parse_plus_prefixes(device.plus_prefixes),
                                             parse_slots(device.extra_slots))
        return self._device_rules[device.id]

    def _time(self, value) -> datetime | None:
        """``timetosend`` in the account's zone, as UTC; None when absent, empty or ``0`` (now)."""
        if means_now(value):
            return None
        text = as_text(value, "timetosend")
        if text not in self._times:
            self._times[text] = parse_local_datetime(text, self.account.timezone, "timetosend")
        return self._times[text]


def body_as_sent(text: str, media_url: str | None) -> str:
    """A message's body: the text, then the image URL on a line of its own (the URL alone without text).

    SMS slots thus carry a link to the image; phones that can send media also get ``mediaUrl``.
    """
    if not media_url:
        return text
    return f"{text}\n{media_url}" if text else media_url


def clean_body(value, media, max_chars: int) -> str:
    """A message or newsletter text: required unless an image goes with it, at most ``max_chars``."""
    if media is not None and (value is None or (isinstance(value, str) and not value.strip())):
        return ""
    text = as_text(value, "body", required=True)
    if not text.strip():
        raise ValidationError("body is empty", field="body")
    if len(text) > max_chars:
        raise ValidationError(f"body is too long: {len(text)} characters, at most {max_chars}", field="body")
    return text


def channel_label(sim: int) -> str:
    return CHANNEL_LABELS.get(sim, f"channel {sim}")


def check_slot(device: Device | Row, sim: int, field: str = "sim", *, slots: set[int] | None = None) -> None:
    """Slots 2-5 only where the device declared them; SIM 1 and SIM 2 only where the phone reported a card, once
    it reported its cards (one that never did may have either). The app fails a message for a SIM it lacks.

    ``device`` is a Device or a ``_DEVICE_RULES`` row; ``slots`` its parsed ``extra_slots`` when the
    caller already has them (a batch caches them).
    """
    if sim >= 2 and sim not in (parse_slots(device.extra_slots) if slots is None else slots):
        raise ValidationError(
            f"{field} {sim} ({channel_label(sim)}) is not available on device {device.id}", field=field)
    if sim < 2 and device.sim_cards:
        sims = _reported_sims(device.sim_cards)
        if sim not in sims:
            other = 1 - sim
            advice = f"; use sim {other}" if other in sims else ""
            raise ValidationError(f"{field} {sim} ({channel_label(sim)}): device {device.id} has no "
                                  f"{('first', 'second')[sim]} SIM card{advice}", field=field)


def available_slots(device: Device | Row) -> list[int]:
    """The slots ``check_slot`` lets through on this device, in order: what a form may offer for it."""
    slots = parse_slots(device.extra_slots)
    offered = []
    for sim in range(MAX_SLOT + 1):
        try:
            check_slot(device, sim, slots=slots)
        except ValidationError:
            continue
        offered.append(sim)
    return offered


def _reported_sims(sim_cards: list) -> set[int]:
    """The SIMs (legacy ``sim`` 0, 1) a phone reported cards in: each card's ``slotIndex`` (``simNumber`` is one
    more). A card naming neither (the app always names it) takes the first SIM no other card names."""
    sims, unnamed = set(), 0
    for card in sim_cards:
        card = card if isinstance(card, dict) else {}
        slot = card.get("slotIndex")
        if slot is None and card.get("simNumber") is not None:
            slot = card["simNumber"] - 1
        if slot is None:
            unnamed += 1
        else:
            sims.add(slot)
    for sim in (0, 1):
        if unnamed and sim not in sims:
            sims.add(sim)
            unnamed -= 1
    return sims


def _own_devices(account: AccountSettings, device_ids: set[int]) -> dict[int, Row]:
    """The sending rules (``_DEVICE_RULES``) of the account's live devices among ``device_ids``
    (one primary-key lookup for the usual single device)."""
    if len(device_ids) == 1:
        device = _LIVE_DEVICE.first({"device_id": next(iter(device_ids)), "account_id": account.id})
        return {device.id: device} if device is not None else {}
    connection = db.session.connection()
    found: dict[int, Row] = {}
    ordered = sorted(device_ids)
    for start in range(0, len(ordered), _CHUNK):
        chunk = ordered[start:start + _CHUNK]
        for device in connection.execute(_DEVICE_RULES.where(
                Device.id.in_(chunk), Device.account_id == account.id, Device.revoked_at.is_(None))):
            found[device.id] = device
    return found


def _refuse_opted_out(account: AccountSettings, rows: list[dict], row_items: list[int], prefix: str | None) -> None:
    phones = sorted({row["phone"] for row in rows})
    opted_out: set[str] = set()
    for start in range(0, len(phones), _CHUNK):
        turns.now_and_then(start)
        opted_out.update(db.session.scalars(select(Contact.phone).where(
            Contact.account_id == account.id, Contact.opted_out.is_(True),
            Contact.phone.in_(phones[start:start + _CHUNK]))))
    for row, index in zip(rows, row_items):
        if row["phone"] in opted_out:
            error = ValidationError(f"sendto: {row['phone']} has opted out of messages from this account",
                                    field="sendto")
            raise _located(error, prefix, index)
