"""The device queue: claiming work for a phone, applying its state reports, and the scheduler's jobs.

Every change here is a conditional UPDATE (``… WHERE status = …``), so two web workers, two scheduler
processes or two simultaneous pulls of one phone can run the same function at once without handing
a message out twice or moving a status backwards.
"""
import re
from datetime import datetime

from flask import current_app
from sqlalchemy import and_, bindparam, exists, false, func, not_, or_, select, true, update
from sqlalchemy.exc import IntegrityError

from smsplatform.contacts import optout
from smsplatform.db_unique import savepoint
from smsplatform.errors import ValidationError
from smsplatform.events import wake_after_commit
from smsplatform.extensions import db
from smsplatform.messaging import conversations, statuses
from smsplatform.messaging.segments import count_segments
from smsplatform.models import Account, Device, Message, Paket
from smsplatform.models.campaigns import CANCELLED as PAKET_CANCELLED, PAUSED as PAKET_PAUSED
from smsplatform.phones import normalize_phone
from smsplatform.timeutil import ago, parse_phone_datetime, utcnow

MAX_CLAIM = 100
FAILURE_REASON_MAX = Message.__table__.c.failure_reason.type.length
SMS_SLOTS = (0, 1)

# What a phone's "Failed" means, by the error text it reports (§5.4 of the protocol).
_FAILURE_CODES = (
    ("RESULT_ERROR_NO_SERVICE", statuses.FAILED_NO_SERVICE),
    ("RESULT_ERROR_NULL_PDU", statuses.FAILED_NULL_PDU),
    ("RESULT_ERROR_RADIO_OFF", statuses.FAILED_RADIO_OFF),
)
_PERMISSION_RE = re.compile(r"permission|securityexception|not allowed", re.IGNORECASE)
_ID_RE = re.compile(r"^\d{1,18}$")
# (status, priority) of a device's claimable rows. Built once: every pull runs it, and for an idle
# phone it is the whole claim, so building the statement would cost more than running it.
_PENDING_LEVELS = select(Message.status, Message.priority).where(
    Message.device_id == bindparam("device_id"), Message.ready == true(),
    ((Message.status == statuses.TAKEN)
     & (Message.last_handed_at < bindparam("cutoff", type_=Message.last_handed_at.type)))
    | ((Message.status == statuses.PENDING) & Message.sim.in_(bindparam("slots", expanding=True))),
).distinct()


def _row_locks() -> bool:
    """MariaDB/MySQL have row locks (``FOR UPDATE SKIP LOCKED``); SQLite serialises writers instead."""
    return db.session.get_bind().dialect.name in ("mysql", "mariadb")


def _take(where, values, limit: int, levels) -> list[int]:
    """Claim up to ``limit`` rows matching ``where``, urgent first then oldest; return the ids this call won.

    Candidates are read one priority at a time in id order, so the queue index serves the read.
    Between that read and the claim another transaction may change a candidate (another claim takes
    it, the dashboard moves it to another phone, a paused newsletter un-readies it), so the claim
    checks the whole of ``where`` again on the row as it is now. On MariaDB the candidates are locked
    by primary key with ``FOR UPDATE SKIP LOCKED`` (rows another claim holds are skipped; only record
    locks, so concurrent claims cannot deadlock on index gaps), and the ``UPDATE … WHERE id IN locked
    AND where`` wins each of them. SQLite has no ``SKIP LOCKED``; there the same conditional UPDATE runs
    with ``RETURNING`` to learn which rows it won.
    """
    locks = _row_locks()
    won: list[int] = []
    for level in sorted(levels, reverse=True):
        need = limit - len(won)
        if need <= 0:
            break
        # A wider window on MariaDB, so a claim racing another one still finds rows the other skipped.
        ids = list(db.session.scalars(
            select(Message.id).where(where, Message.priority == level).order_by(Message.id)
            .limit(need * 2 if locks else need)
        ))
        if locks and ids:
            ids = list(db.session.scalars(
                select(Message.id).where(Message.id.in_(ids), where).order_by(Message.id).limit(need)
                .with_for_update(skip_locked=True)
            ))
        if not ids:
            continue
        statement = update(Message).where(Message.id.in_(ids), where).values(**values)
        if locks:
            db.session.execute(statement, execution_options={"synchronize_session": False})
            won += ids
        else:
            won += db.session.scalars(statement.returning(Message.id),
                                      execution_options={"synchronize_session": False}).all()
    return won


def claimable_slots(device: Device) -> list[int]:
    """The slots whose waiting messages the device's claims take: both SIMs, and the WhatsApp/RCS slots it
    announced. A waiting message on any other slot of that device is never handed out."""
    return sorted(set(SMS_SLOTS) | device.slot_list())


def claim_for_device(device: Device, *, limit: int = MAX_CLAIM, order: str = "lifo", now: datetime | None = None,
                     redeliver_after_seconds: int | None = None) -> list[Message]:
    """Hand this device its due work: new messages (status 1 → 2) plus unacknowledged ones to resend.

    Which messages are taken is always urgent first, then oldest first, so a backlog drains in order
    and nothing starves; ``order`` ("lifo"/"fifo", as the app asks) only orders the returned list
    within one priority. A handed-out message not acknowledged within ``redeliver_after_seconds``
    (default ``UNACKED_REDELIVERY_SECONDS``) is handed out again; the phone de-duplicates by id.
    """
    now = now or utcnow()
    limit = max(1, min(int(limit), MAX_CLAIM))
    if redeliver_after_seconds is None:
        redeliver_after_seconds = current_app.config["UNACKED_REDELIVERY_SECONDS"]
    cutoff = ago(redeliver_after_seconds, now)
    slots = claimable_slots(device)
    # One cheap index read decides whether there is anything to do (an idle phone's pull stops here).
    found = db.session.execute(_PENDING_LEVELS, {"device_id": device.id, "cutoff": cutoff, "slots": slots}).all()
    if not found:
        return []
    handed = {"last_handed_at": now, "handed_count": Message.handed_count + 1, "updated_at": now}
    mine = (Message.device_id == device.id) & (Message.ready == true())
    unacked = (Message.status == statuses.TAKEN) & (Message.last_handed_at < cutoff)
    fresh = (Message.status == statuses.PENDING) & Message.sim.in_(slots)
    won = _take(mine & unacked, handed, limit, {p for s, p in found if s == statuses.TAKEN})
    if len(won) < limit:
        taken = {**handed, "status": statuses.TAKEN, "taken_at": func.coalesce(Message.taken_at, now)}
        won += _take(mine & fresh, taken, limit - len(won), {p for s, p in found if s == statuses.PENDING})
    if not won:
        return []
    messages = list(db.session.scalars(
        select(Message).where(Message.id.in_(won)).execution_options(populate_existing=True)
    ))
    newest_first = order != "fifo"
    messages.sort(key=lambda m: (-m.priority, -m.id if newest_first else m.id))
    return messages


def _target_status(state: str, current: Message, errors: list[str], states: dict) -> int | None:
    if state in ("Pending", "Processed"):
        return statuses.QUEUED
    if state == "Sent":
        return statuses.SENT
    if state == "Delivered":
        return statuses.DELIVERED
    if state == "Cancelled":
        # The app cancels only a message it has not sent yet (§5.1: Cancelled only from Pending), so a
        # Cancelled on one it has sent, or reported failed, is a stray and must not undo that.
        unsent = current.status in (statuses.TAKEN, statuses.QUEUED) or current.failed_unacknowledged
        return statuses.CANCELLED if unsent else None
    if state != "Failed":
        return None
    text = " ".join(errors)
    was_sent = current.status == statuses.SENT or current.sent_at is not None or "Sent" in states
    if was_sent or text.startswith("Delivery result"):
        return statuses.NOT_DELIVERED
    for marker, code in _FAILURE_CODES:
        if marker in text:
            return code
    if _PERMISSION_RE.search(text):
        return statuses.NOT_ALLOWED
    return statuses.FAILED_GENERIC


def _time_columns(target: int, states: dict, now: datetime, *, replace_guessed_failure: bool = False) -> dict:
    """First time of each state, from the phone's ``states`` map (lenient), never overwriting a kept one,
    except the failure time of a guessed failure (``replace_guessed_failure``), which the phone's report replaces."""
    def stamp(*names):
        for name in names:
            if name in states:
                return parse_phone_datetime(states[name], default=now)
        return None

    values = {"failed_at": None} if replace_guessed_failure else {}
    wanted = [("queued_at", ("Pending", "Processed"), statuses.QUEUED)]
    if target in statuses.WITHDRAWN:
        wanted.append(("cancelled_at", ("Cancelled",), target))
    else:
        wanted += [("sent_at", ("Sent",), statuses.SENT), ("delivered_at", ("Delivered",), statuses.DELIVERED)]
        if target in statuses.FAILED:
            wanted.append(("failed_at", ("Failed",), target))
    for column, names, status in wanted:
        when = stamp(*names)
        if when is None and status == target:
            when = now
        if when is not None:
            replace = replace_guessed_failure and column == "failed_at"
            values[column] = when if replace else func.coalesce(getattr(Message, column), when)
    return values


def apply_state_report(device: Device, message_id: str, state: str, recipients: list, states: dict,
                       now: datetime | None = None) -> None:
    """Move one of this device's messages forward by a phone report; anything else is ignored.

    Unknown, foreign or malformed ids, messages never handed to a phone (still pending: no phone can
    have them, so such a report is a stray or a forged id), unknown states and reports that would move
    a message backwards change nothing (the phone gets 204 either way and must not retry forever). A final
    status stays final, except the recovery jobs' "not acknowledged" and "silent phone" failures
    (``failed_unacknowledged``), which were only guesses.
    """
    now = now or utcnow()
    if not isinstance(message_id, str) or not _ID_RE.match(message_id) or not isinstance(state, str):
        return
    states = states if isinstance(states, dict) else {}
    errors = [r["error"] for r in recipients or [] if isinstance(r, dict) and isinstance(r.get("error"), str)]
    lookup = select(Message).where(
        Message.id == int(message_id), Message.device_id == device.id,
        Message.account_id == device.account_id, Message.status != statuses.INCOMING,
    ).execution_options(populate_existing=True)
    if _row_locks():
        # A locking read sees the latest committed status (a plain read would see this transaction's
        # snapshot, and a report racing another one could then never win its update).
        lookup = lookup.with_for_update()
    for _attempt in range(3):
        current = db.session.scalar(lookup)
        if current is None:
            return
        guessed = current.failed_unacknowledged
        if current.status == statuses.PENDING or (current.status in statuses.FINAL and not guessed):
            return
        target = _target_status(state, current, errors, states)
        rank = statuses.RANK[statuses.TAKEN] if guessed else statuses.RANK.get(current.status, 0)
        if target is None or statuses.RANK.get(target, 0) <= rank:
            return
        values = {"status": target, "updated_at": now, "taken_at": func.coalesce(Message.taken_at, now)}
        values.update(_time_columns(target, states, now, replace_guessed_failure=guessed))
        if guessed:  # the phone had it after all: its report replaces our timeout's verdict
            values.update(failure_reason=None, failed_unacknowledged=False)
        if target in statuses.FAILED and errors:
            values["failure_reason"] = "; ".join(errors)[:FAILURE_REASON_MAX]
        won = db.session.execute(
            update(Message).where(Message.id == current.id, Message.status == current.status,
                                  Message.failed_unacknowledged == guessed).values(**values),
            execution_options={"synchronize_session": False},
        ).rowcount
        if won:
            db.session.expire(current)
            return
        # SQLite: another report moved it between the read and the update; read again and decide again.


def release_due_messages(now: datetime | None = None) -> int:
    """Scheduler job: make held messages whose time has come ready, and wake their devices.

    One UPDATE for all of them (a newsletter of 100,000 is one statement); messages of a paused or
    cancelled newsletter stay held.
    """
    now = now or utcnow()
    blocked = exists().where(Paket.id == Message.paket_id, Paket.status.in_((PAKET_PAUSED, PAKET_CANCELLED)))
    due = and_(Message.status == statuses.PENDING, Message.ready == false(), Message.due_at <= now, not_(blocked))
    device_ids = set(db.session.scalars(select(Message.device_id).where(due).distinct()))
    released = db.session.execute(
        update(Message).where(due).values(ready=True), execution_options={"synchronize_session": False}
    ).rowcount
    if released:
        wake_after_commit(db.session, device_ids)
    return released


def redeliver_or_fail_unacknowledged(config, now: datetime | None = None) -> dict:
    """Scheduler job: recover work the phones did not acknowledge.

    - handed out (2) longer than ``UNACKED_FAIL_SECONDS`` ago: failed (9) with a reason, marked
      ``failed_unacknowledged``, never dropped (a late report from the phone still moves it on, see
      ``apply_state_report``);
    - handed out and unacknowledged for ``UNACKED_REDELIVERY_SECONDS``: wake the device so it pulls
      again (``GET /message`` hands such messages out again).

    Device housekeeping (presence, pairing codes, webhook receipts) is the devices' own jobs.
    """
    now = now or utcnow()
    fail_after = config["UNACKED_FAIL_SECONDS"]
    failed = db.session.execute(
        update(Message)
        .where(Message.status == statuses.TAKEN, Message.taken_at < ago(fail_after, now))
        .values(status=statuses.FAILED_GENERIC, failed_unacknowledged=True,
                failed_at=func.coalesce(Message.failed_at, now),
                failure_reason=f"not acknowledged by the phone within {fail_after} s", updated_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    stale_devices = set(db.session.scalars(
        select(Message.device_id).where(
            Message.status == statuses.TAKEN, Message.last_handed_at < ago(config["UNACKED_REDELIVERY_SECONDS"], now)
        ).distinct()
    ))
    wake_after_commit(db.session, stale_devices)
    return {"failed": failed, "woken_for_redelivery": len(stale_devices)}


def fail_left_on_silent_phones(config, now: datetime | None = None) -> int:
    """Scheduler job: messages a phone took (2) or queued (3) fail once that phone has been silent (not
    seen, or removed) for ``SILENT_PHONE_FAIL_SECONDS`` and had them at least that long.

    Such a phone will likely never report them, so their newsletter would stay running for ever. They
    fail (9) marked ``failed_unacknowledged``, like the recovery job's other guess: never handed to
    another phone (the vanished one may still send them), and a late report from it replaces the guess.
    A phone that is slowly working through a long queue keeps being seen, so its messages are left alone.
    """
    silence = config["SILENT_PHONE_FAIL_SECONDS"]
    if silence <= 0:
        return 0
    now = now or utcnow()
    cutoff = ago(silence, now)
    silent_devices = select(Device.id).where(
        or_(Device.last_seen_at.is_(None), Device.last_seen_at < cutoff, Device.revoked_at.is_not(None)))
    return db.session.execute(
        update(Message)
        .where(Message.status.in_((statuses.TAKEN, statuses.QUEUED)), Message.taken_at < cutoff,
               or_(Message.device_id.is_(None), Message.device_id.in_(silent_devices)))
        .values(status=statuses.FAILED_GENERIC, failed_unacknowledged=True,
                failed_at=func.coalesce(Message.failed_at, now),
                failure_reason=f"no word from its phone for {_duration(silence)} (it may still send it, and "
                               f"then report it)",
                updated_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount


def _duration(seconds: int) -> str:
    """``86400`` → ``24 h``, ``5400`` → ``90 min``, ``45`` → ``45 s``."""
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} s"


def record_incoming(device: Device, *, phone: str, text: str, received_at: datetime, external_id: str,
                    sim: int = 0, now: datetime | None = None) -> Message | None:
    """Store an SMS the phone received (status 5), once per (device, external id); then opt-out handling.

    Returns None for a repeat. The unique key (device, external id) decides: the row is inserted inside
    a SAVEPOINT, and a violation rolls back only that, so the caller's transaction goes on. A report
    racing the same SMS in another transaction waits for it (MariaDB) and is then refused the same way.
    Any other integrity error (the stored row is not found: no repeat) is raised.
    A sender that is not a phone number (an alphanumeric sender id) is kept as sent.
    """
    now = now or utcnow()
    external_id = str(external_id)[:64]
    account = db.session.get(Account, device.account_id)
    raw = str(phone or "")[:64]
    try:
        number = normalize_phone(raw, device.default_region or account.default_region,
                                 device.plus_prefix_list(), field="phoneNumber").normalized
    except ValidationError:
        number = raw[:32]
    body = str(text or "")
    info = count_segments(body)
    message = Message(
        account_id=device.account_id, device_id=device.id, sendto=raw, phone=number, body=body,
        segments=info.segments, encoding=info.encoding, sim=sim, status=statuses.INCOMING, ready=False,
        due_at=received_at, received_at=received_at, created_at=now, updated_at=now, external_id=external_id,
    )
    try:
        with savepoint():
            db.session.add(message)
    except IntegrityError:
        # The row a racing report committed is seen too (READ COMMITTED on MariaDB, one writer on SQLite).
        stored = select(Message.id).where(Message.device_id == device.id, Message.external_id == external_id)
        if db.session.scalar(stored) is None:
            raise  # not the unique key: another constraint failed (the device or account deleted meanwhile)
        return None  # this SMS is already stored (a repeated or concurrent report)
    conversations.count_incoming(account.id, number, now)
    optout.handle_incoming(account, number, body, now)
    return message
