"""Newsletters ("pakets"): create, edit, schedule, fan out, pause/resume/cancel, finish, progress.

States and the only allowed moves (anything else is a ConflictError)::

    draft → scheduled → running → finished       scheduled → draft (unschedule)
    running ⇄ paused                             draft, scheduled, running, paused → cancelled
    draft, scheduled → scheduled for now (start now; refused if it could not be sent: check_startable)
    scheduled → cancelled by the scheduler instead of running, when its time comes and it could not be sent
    draft, scheduled → rewritten, then scheduled or a draft (update_paket; nothing is fanned out before it runs)
    draft, scheduled, finished, cancelled → deleted (delete_paket; its sent messages stay, detached)

``savepaket`` creates a newsletter *scheduled* (at once or at ``time_to_send``); the scheduler job
``start_due_newsletters`` (every few seconds) claims each due one with a conditional
``UPDATE … WHERE status='scheduled'`` (and still due) and fans it out in the same transaction, so a
legacy client's newsletter starts sending within seconds without the web request building it.

Fan-out freezes the audience: contacts holding any target tag, one per normalised number (contacts
are unique per number), minus opted-out ones. Rows are written with ``INSERT … SELECT`` (personalised
bodies are rendered by the database) that skips numbers already holding a message of this newsletter,
on top of the ``uq_messages_paket_phone`` constraint (``INSERT OR IGNORE``/``INSERT IGNORE``). So a
fan-out that is killed and re-run, or run twice at once, writes exactly one message per number.
Every fan-out step first touches the paket row (an ``UPDATE`` of its ``updated_at``), which
serialises it with other fan-outs and with pause/resume/cancel on both SQLite and MariaDB.
"""
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from flask import current_app
from sqlalchemy import Boolean, Integer, SmallInteger, String, case, delete, exists, func, literal, or_, select, update
from sqlalchemy.exc import IntegrityError

from smsplatform.campaigns import personalisation
from smsplatform.contacts.services import tags_by_ids
from smsplatform.db_unique import insert_ignoring_duplicates, savepoint
from smsplatform.devices.queries import get_device
from smsplatform.errors import ConflictError, DomainError, NotFoundError, ValidationError
from smsplatform.events import wake_after_commit
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.messaging.segments import count_segments
from smsplatform.messaging.service import MAX_SLOT, as_int, as_text, body_as_sent, check_slot, clean_body
from smsplatform.models import Account, AccountSettings, Contact, Message, Paket, StoredObject, contact_tags
from smsplatform.storage import get_storage
from smsplatform.storage.images import JPEG
from smsplatform.storage.services import delete_if_unreferenced, new_key, public_url
from smsplatform.models.campaigns import CANCELLED, DRAFT, FANNING_OUT, FINISHED, PAUSED, RUNNING, SCHEDULED
from smsplatform.models.types import UTCDateTime
from smsplatform.timeutil import PAST_SEND_TIME_GRACE, means_now, parse_local_datetime, past_send_time_error, utcnow

# The moves an account asks for, each with the states it may start from: the service functions move only
# from these, and the dashboard shows a button for each one the newsletter's state allows. Creating or
# editing makes a draft or a scheduled one (EDITABLE); the scheduler alone moves scheduled → running
# (start_due_newsletters) and running → finished.
ACTION_SOURCES = {
    "start": (DRAFT, SCHEDULED),  # to scheduled, for now
    "unschedule": (SCHEDULED,),  # back to draft
    "pause": (RUNNING,),
    "resume": (PAUSED,),  # to running; starting a scheduled one is the scheduler's job
    "cancel": (DRAFT, SCHEDULED, RUNNING, PAUSED),
}

FANOUT_BATCH = 5_000  # contacts per committed part when the CLI runs a fan-out
MAX_TITLE = 255
# Messages a phone may still send: a running newsletter with none of these left is finished.
UNFINISHED = (statuses.PENDING, statuses.TAKEN, statuses.QUEUED)


# Creating and scheduling --------------------------------------------------------------------------

def parse_time_to_send(account: AccountSettings, value) -> datetime | None:
    """UTC send time from ``YYYY-MM-DD[ HH:MM[:SS]]`` or ``DD.MM.YYYY H:i:s`` in the account's zone; None = now."""
    if means_now(value):
        return None
    return parse_local_datetime(as_text(value, "time_to_send"), account.timezone, "time_to_send")


def _tag_ids(value) -> list[int]:
    """Tag ids in every form legacy clients send: ``"12,13,14"``, one number (``12``, ``12.0``, ``true``)
    or a list (blank entries, as ``tags[]=12&tags[]=`` gives, are skipped); each id once, order kept."""
    if isinstance(value, (list, tuple, set)):
        parts = list(value)
    elif isinstance(value, str):
        parts = value.split(",")
    else:
        parts = [] if value is None else [value]
    ids = [as_int(p, "tags", required=True, minimum=1) for p in parts if not (isinstance(p, str) and not p.strip())]
    if not ids:
        raise ValidationError("tags is required: tag ids separated by commas, e.g. 12,13,14", field="tags")
    return list(dict.fromkeys(ids))


@dataclass(frozen=True)
class _Content:
    """A newsletter's validated content: what creating and editing one check alike."""

    title: str
    body: str
    device_id: int
    sim: int
    tags: list


def _validated_content(account: AccountSettings, *, title, body, device_id, sim, tag_ids,
                       media: StoredObject | None) -> _Content:
    if media is not None and (not isinstance(media, StoredObject) or media.account_id != account.id):
        raise NotFoundError("image not found for this account", field="media")
    tag_id_list = _tag_ids(tag_ids)  # read first: savepaket names unreadable tags before any other problem
    max_chars = current_app.config["MAX_BODY_CHARS"]
    text = clean_body(body, media, max_chars)
    longest = personalisation.longest_rendering(text)
    if longest > max_chars:
        # Each message must fit the limit a direct message has (and its column: past 64 KB MariaDB cut
        # the rendered body short without a word, at a byte count, and SQLite stored hundreds of segments).
        raise ValidationError(
            f"body is too long once personalised: a contact's name (up to {personalisation.FIELD_MAX['name']} "
            f"characters) or number in its placeholders could make a message of {longest} characters, "
            f"at most {max_chars}", field="body")
    name = " ".join((as_text(title, "title") or "").split()) or " ".join(text.split())[:60] or "Image newsletter"
    if len(name) > MAX_TITLE:
        raise ValidationError(f"title is too long (at most {MAX_TITLE} characters)", field="title")
    device = get_device(account, as_int(device_id, "device_id", required=True, minimum=1))
    slot = as_int(sim, "sim", minimum=0, maximum=MAX_SLOT) or 0
    check_slot(device, slot)
    tags = tags_by_ids(account, tag_id_list, field="tags", for_share=True)
    return _Content(name, text, device.id, slot, tags)


def _send_time(account: AccountSettings, time_to_send, schedule: bool, now: datetime,
               past_means_now: bool = False) -> datetime | None:
    """Scheduled: at ``time_to_send``, or now when absent. A draft keeps a given time, or none.

    A time more than ``PAST_SEND_TIME_GRACE`` before ``now`` is refused (ValidationError, showing it and the time now in
    the account's zone): it would start at once while the newsletter showed a send time that never was.
    "Now" is asked for by leaving the time out (or with "Start now"). ``past_means_now``: the legacy
    savepaket contract instead, where a time in the past means "send now" (it starts at once and keeps
    the time it was given, which its messages report as their ``timetosend``).
    """
    when = parse_time_to_send(account, time_to_send)
    if when is not None and not past_means_now and when < now - PAST_SEND_TIME_GRACE:
        raise past_send_time_error(when, now, account.timezone, "time_to_send")
    return when or (now if schedule else None)


def create_paket(account: AccountSettings, *, title, body, device_id, sim, tag_ids, time_to_send, schedule: bool = True,
                 media: StoredObject | None = None, past_means_now: bool = False,
                 now: datetime | None = None) -> Paket:
    """A validated newsletter, scheduled to start at ``time_to_send`` (now when absent), or a draft.

    ``media`` (an uploaded image of the account) goes with every message: its URL follows the text,
    which may then be empty. A send time in the past is refused unless ``past_means_now`` (the legacy
    savepaket's rule, see ``_send_time``).
    """
    content = _validated_content(account, title=title, body=body, device_id=device_id, sim=sim, tag_ids=tag_ids,
                                 media=media)
    paket = Paket(account_id=account.id, title=content.title, body=content.body, device_id=content.device_id,
                  sim=content.sim, tags=content.tags, status=SCHEDULED if schedule else DRAFT,
                  time_to_send=_send_time(account, time_to_send, schedule, now or utcnow(), past_means_now),
                  media_object_id=media.id if media is not None else None,
                  media_url=public_url(media) if media is not None else None)
    db.session.add(paket)
    db.session.flush()
    return paket


# The states in which a newsletter may still be rewritten: nothing of it has been fanned out yet.
EDITABLE = (DRAFT, SCHEDULED)
NOT_EDITABLE = "only a draft or a scheduled one can be edited"
KEEP_MEDIA = object()  # update_paket's default: the newsletter keeps the image it has


def is_editable(paket: Paket) -> bool:
    return paket.status in EDITABLE


def update_paket(account: AccountSettings, paket_id, *, title, body, device_id, sim, tag_ids, time_to_send,
                 schedule: bool = True, media=KEEP_MEDIA, now: datetime | None = None) -> Paket:
    """A draft or scheduled newsletter rewritten with the same checks as a new one, and scheduled again
    (at ``time_to_send``, now when absent; a time in the past is refused, ``_send_time``) or kept as a
    draft. ``media``: a new image, None to drop the image, or KEEP_MEDIA. A dropped image is deleted by
    the hourly ``delete_unreferenced`` once it is a day old (counted from its upload) and nothing
    references it.

    One conditional move (``_move``), before the tags are replaced: if the scheduler started the newsletter first,
    nothing changes and the edit is a ConflictError; if the edit comes first, the scheduler's claim waits
    for it and fans out the new content.
    """
    paket = get_paket(account, paket_id)
    now = now or utcnow()
    if media is KEEP_MEDIA:
        media = _kept_media(paket)
        media_url = paket.media_url
    else:
        media_url = public_url(media) if isinstance(media, StoredObject) else None
    content = _validated_content(account, title=title, body=body, device_id=device_id, sim=sim, tag_ids=tag_ids,
                                 media=media)
    _move(paket, SCHEDULED if schedule else DRAFT, now, sources=EDITABLE,
          refusal=NOT_EDITABLE,
          title=content.title, body=content.body, device_id=content.device_id, sim=content.sim,
          time_to_send=_send_time(account, time_to_send, schedule, now),
          media_object_id=media.id if media is not None else None, media_url=media_url)
    paket.tags = content.tags
    db.session.flush()
    return paket


def _kept_media(paket: Paket) -> StoredObject | None:
    """The image a saved newsletter has, None without one; refused (ValidationError) when its stored image was
    deleted since (the row's ``media_object_id`` was then set NULL, its ``media_url`` points at nothing)."""
    if paket.media_object_id is not None:
        return db.session.get(StoredObject, paket.media_object_id)
    if paket.media_url is not None:
        raise ValidationError("its image was deleted", field="media")
    return None


def check_startable(account: AccountSettings, paket: Paket) -> None:
    """A saved newsletter checked again, with the checks saving it ran, before it starts ("Start now", and the
    scheduler when its time comes): since it was saved its device may have been removed (unpaired, or deleted:
    ``device_id`` NULL) or lost the SIM or channel it sends through, its tags deleted (no recipients left),
    its image deleted. Raises the refusal naming what is wrong (a DomainError); changes nothing."""
    device = paket.device
    if device is None or device.revoked_at is not None:
        named = f" {device.name} (#{device.id})" if device is not None else ""
        raise ValidationError(f"its device{named} was removed", field="device_id")
    if not paket.tags:
        raise ValidationError("its tags were deleted: it has no recipients", field="tags")
    _validated_content(account, title=paket.title, body=paket.body, device_id=paket.device_id, sim=paket.sim,
                       tag_ids=[tag.id for tag in paket.tags], media=_kept_media(paket))


COPY_SUFFIX = " (copy)"


def duplicate_paket(account: AccountSettings, paket_id) -> Paket:
    """A new draft with the newsletter's title (plus " (copy)", the title cut to fit), text, device and SIM,
    tags and image, in any state of the original; not its send time, state, progress or messages.

    The copy is a draft to be checked and saved: what the original points to may have changed since
    (a removed device leaves it without one, a deleted tag is not in it), and editing it applies every
    check a new newsletter gets. The image is shared, not copied: the stored object stays while either
    newsletter uses it (delete_paket). A deletion of the original running at the same time (which deletes
    its image if nothing else uses it) is either done first (the copy is refused: not found) or waits for
    the copy: on MariaDB the original is read ``FOR UPDATE``; SQLite takes no lock for a read, so there the
    copy's insert may meet the image gone (a foreign-key failure) and the copy is refused the same way.
    """
    source = get_paket(account, paket_id, for_update=True)
    suffix_room = MAX_TITLE - len(COPY_SUFFIX)
    title = source.title if len(source.title) <= suffix_room else source.title[:suffix_room].rstrip()
    copy = Paket(account_id=account.id, title=title + COPY_SUFFIX, body=source.body, device_id=source.device_id,
                 sim=source.sim, tags=list(source.tags), status=DRAFT, time_to_send=None,
                 media_object_id=source.media_object_id, media_url=media_url_now(source))
    try:
        with savepoint():
            db.session.add(copy)
    except IntegrityError:
        raise NotFoundError(f"newsletter {paket_id} not found (it was just deleted)", field="paket_id") from None
    return copy


def media_url_now(paket: Paket) -> str | None:
    """The image URL to send: a fresh one from storage (presigned S3 URLs expire), else the stored one."""
    if paket.media_object_id is None:
        return paket.media_url
    obj = db.session.get(StoredObject, paket.media_object_id)
    return public_url(obj) if obj is not None else paket.media_url


def get_paket(account: AccountSettings, paket_id, *, for_update: bool = False) -> Paket:
    """The account's newsletter, or NotFoundError (an id past a BIGINT is out of range: ``as_int``).
    ``for_update``: its row locked (on MariaDB) until the transaction ends, and read again."""
    number = as_int(paket_id, "paket_id", required=True)
    query = select(Paket).where(Paket.id == number, Paket.account_id == account.id)
    if for_update:
        query = query.with_for_update().execution_options(populate_existing=True)
    paket = db.session.scalar(query)
    if paket is None:
        raise NotFoundError(f"newsletter {paket_id} not found", field="paket_id")
    return paket


def _move(paket: Paket, target: str, now: datetime, sources: tuple[str, ...], refusal: str | None = None,
          **values) -> None:
    """Conditional state change: only from one of ``sources``, and only if nobody moved it first; else a
    ConflictError naming the state it is in (and ``refusal``, if given, instead of "it cannot become …")."""
    result = db.session.execute(
        update(Paket).where(Paket.id == paket.id, Paket.status.in_(sources))
        .values(status=target, updated_at=now, **values).execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        _refuse(paket, refusal or f"it cannot become {target}")
    db.session.refresh(paket)


def _refuse(paket: Paket, refusal: str):
    """A conditional change of ``paket`` matched no row: a ConflictError naming the state it is in now, or a
    NotFoundError if it was deleted meanwhile."""
    paket_id = paket.id
    status = db.session.scalar(select(Paket.status).where(Paket.id == paket_id))
    if status is None:
        raise NotFoundError(f"newsletter {paket_id} not found", field="paket_id")
    db.session.refresh(paket)
    raise ConflictError(f"newsletter {paket_id} is {status}; {refusal}", field="status")


def available_actions(paket: Paket) -> list[str]:
    """The moves an account may ask for in the newsletter's state (ACTION_SOURCES' order)."""
    return [action for action, sources in ACTION_SOURCES.items() if paket.status in sources]


def start_paket_now(account: AccountSettings, paket_id, now: datetime | None = None) -> Paket:
    """"Start now": a draft, or a newsletter scheduled for later, becomes scheduled for now; the scheduler
    starts it within seconds. What it was saved with is checked again first (``check_startable``: its device
    may have been removed since, …): a newsletter that could not be sent is refused, unchanged. One
    conditional move, so a newsletter that started meanwhile stays running (ConflictError) instead of
    passing through draft."""
    paket = get_paket(account, paket_id)
    now = now or utcnow()
    if paket.status in ACTION_SOURCES["start"]:  # else the move below names the state it is in
        check_startable(account, paket)
    _move(paket, SCHEDULED, now, sources=ACTION_SOURCES["start"], time_to_send=now)
    return paket


def unschedule_paket(account: AccountSettings, paket_id, now: datetime | None = None) -> Paket:
    """scheduled → draft (before it started)."""
    paket = get_paket(account, paket_id)
    _move(paket, DRAFT, now or utcnow(), sources=ACTION_SOURCES["unschedule"])
    return paket


def pause_paket(account: AccountSettings, paket_id, now: datetime | None = None) -> Paket:
    """running → paused: its pending messages stop being handed out (the device claim requires ``ready``)."""
    paket = get_paket(account, paket_id)
    now = now or utcnow()
    _move(paket, PAUSED, now, sources=ACTION_SOURCES["pause"])
    db.session.execute(
        update(Message).where(Message.paket_id == paket.id, Message.status == statuses.PENDING)
        .values(ready=False).execution_options(synchronize_session=False)
    )
    return paket


def resume_paket(account: AccountSettings, paket_id, now: datetime | None = None) -> Paket:
    """paused → running: what is still pending (and due) is handed out again; nothing is re-sent."""
    paket = get_paket(account, paket_id)
    now = now or utcnow()
    _move(paket, RUNNING, now, sources=ACTION_SOURCES["resume"])
    result = db.session.execute(
        update(Message).where(Message.paket_id == paket.id, Message.status == statuses.PENDING,
                              Message.due_at <= now)
        .values(ready=True).execution_options(synchronize_session=False)
    )
    if result.rowcount:
        wake_after_commit(db.session, [paket.device_id])
    return paket


def cancel_paket(account: AccountSettings, paket_id, now: datetime | None = None) -> Paket:
    """→ cancelled: pending messages become status 13; those already on a phone are left to finish."""
    paket = get_paket(account, paket_id)
    now = now or utcnow()
    _move(paket, CANCELLED, now, sources=ACTION_SOURCES["cancel"], finished_at=now)
    db.session.execute(
        update(Message).where(Message.paket_id == paket.id, Message.status == statuses.PENDING)
        .values(status=statuses.CANCELLED, ready=False, cancelled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return paket


# The states in which a newsletter may be deleted: nothing of it fanned out yet, or over.
DELETABLE = (DRAFT, SCHEDULED, FINISHED, CANCELLED)
NOT_DELETABLE = "cancel it first (only a draft, scheduled, finished or cancelled newsletter can be deleted)"


def is_deletable(paket: Paket) -> bool:
    return paket.status in DELETABLE


def delete_paket(account: AccountSettings, paket_id) -> None:
    """Delete a newsletter that has sent nothing yet or is over; a running or paused one is refused
    (ConflictError, nothing changes): it still has messages to send, or a fan-out to finish, so cancel it first.

    - Draft or scheduled: nothing has been fanned out; the newsletter goes with its tag links.
    - Finished or cancelled: its messages are the account's message history (the messages pages, the
      exports and legacy ``getallsms`` list them) and are kept, detached from it: ``messages.paket_id``
      becomes NULL (the foreign key's ON DELETE SET NULL), so they read as messages sent without a
      newsletter: getallsms answers ``paketid``, ``pakettitle`` and ``paketbody`` null for them, as for
      any direct message. Their texts, numbers, statuses and times stay as they were; those of a
      cancelled one still on a phone (status 2 or 3) carry on and report as before. Refusing instead
      would leave a finished newsletter in the list for ever; deleting its messages would rewrite the
      history the account (and its integrations, through getallsms) already saw.
    - Its tag links go with it (``paket_tags``' ON DELETE CASCADE); the tags and contacts stay.
    - Its image goes too (the row now, the stored file once the deletion commits), unless another
      newsletter (a copy made with "Duplicate") or a message (a finished one's own messages) still
      uses it.

    One conditional ``DELETE … WHERE status IN DELETABLE``: if the scheduler starts a scheduled one first,
    the deletion waits for it and is refused; if the deletion comes first, the scheduler finds nothing
    to start.
    """
    paket = get_paket(account, paket_id)
    media_object_id = paket.media_object_id
    result = db.session.execute(
        delete(Paket).where(Paket.id == paket.id, Paket.status.in_(DELETABLE))
        .execution_options(synchronize_session=False)  # judged by the row, never by the loaded object
    )
    if result.rowcount != 1:
        _refuse(paket, NOT_DELETABLE)
    db.session.expunge(paket)
    if media_object_id is not None:
        delete_if_unreferenced(media_object_id)


# The service call behind each of ACTION_SOURCES' actions (the newsletter page's buttons).
ACTION_CALLS = {"start": start_paket_now, "unschedule": unschedule_paket, "pause": pause_paket,
                "resume": resume_paket, "cancel": cancel_paket}


# Scheduler jobs -----------------------------------------------------------------------------------

def start_due_newsletters(now: datetime | None = None) -> int:
    """Scheduler job: start every scheduled newsletter whose time has come and fan it out; finish any
    fan-out an earlier run left incomplete. Safe to run twice at once. Returns how many it started.

    One that could not be sent (``check_startable``: its device was removed since it was scheduled, …) is
    cancelled instead, the refusal kept as its ``cancel_reason`` for its page: started, it would stay
    running for ever, its messages waiting for a phone that never fetches them.
    """
    now = now or utcnow()
    due = list(db.session.scalars(select(Paket.id).where(*_due(now)).order_by(Paket.time_to_send, Paket.id)))
    started = 0
    for paket_id in due:
        if _claim_if_due(paket_id, now):
            refusal = _why_not_startable(paket_id)
            if refusal is not None:
                _cancel_unstartable(paket_id, refusal, now)
                continue
            started += 1
            fan_out(paket_id, now=now)
    incomplete = list(db.session.scalars(select(Paket.id).where(FANNING_OUT)))
    for paket_id in incomplete:
        try:
            fan_out(paket_id, now=now)
        except ConflictError:
            continue  # cancelled since the query above: nothing more to write
    return started


def _due(now: datetime) -> tuple:
    """A scheduled newsletter whose time has come."""
    return Paket.status == SCHEDULED, or_(Paket.time_to_send.is_(None), Paket.time_to_send <= now)


def _claim_if_due(paket_id: int, now: datetime) -> bool:
    """scheduled → running, only if it is still scheduled and still due: an edit or a "back to draft" and
    re-schedule for later, committed since the list of due ones was read, keeps its new time."""
    claimed = db.session.execute(
        update(Paket).where(Paket.id == paket_id, *_due(now))
        .values(status=RUNNING, started_at=now, updated_at=now).execution_options(synchronize_session=False)
    )
    return claimed.rowcount == 1


def _why_not_startable(paket_id: int) -> str | None:
    """``check_startable``'s refusal of a newsletter just claimed (read again), or None when it may start."""
    paket = db.session.scalars(
        select(Paket).where(Paket.id == paket_id).execution_options(populate_existing=True)).one()
    try:
        check_startable(db.session.get(Account, paket.account_id), paket)
    except DomainError as exc:
        return exc.message
    return None


def _cancel_unstartable(paket_id: int, reason: str, now: datetime) -> None:
    """A newsletter this job just claimed (running, no message written), cancelled instead of started."""
    db.session.execute(
        update(Paket).where(Paket.id == paket_id, Paket.status == RUNNING, Paket.fanout_completed_at.is_(None))
        .values(status=CANCELLED, started_at=None, finished_at=now, updated_at=now, cancel_reason=reason[:255])
        .execution_options(synchronize_session=False)
    )


def finish_completed(now: datetime | None = None) -> int:
    """Scheduler job: running newsletters whose fan-out is complete and that have nothing left to send."""
    now = now or utcnow()
    left = exists().where(Message.paket_id == Paket.id, Message.status.in_(UNFINISHED))
    result = db.session.execute(
        update(Paket).where(Paket.status == RUNNING, Paket.fanout_completed_at.is_not(None), ~left)
        .values(status=FINISHED, finished_at=now, updated_at=now).execution_options(synchronize_session=False)
    )
    return result.rowcount


# Fan-out ------------------------------------------------------------------------------------------

def audience(account_id: int, tag_ids: list[int]):
    """SELECT of the contacts a newsletter to these tags reaches: any tag, not opted out, one per number."""
    return select(Contact.id, Contact.phone, Contact.name).where(
        Contact.account_id == account_id,
        Contact.opted_out.is_(False),
        exists().where(contact_tags.c.contact_id == Contact.id, contact_tags.c.tag_id.in_(tag_ids)),
    )


@dataclass(frozen=True)
class AudiencePreview:
    preview: personalisation.Preview  # the body as the sample contact gets it, with its segments
    sample_phone: str | None
    audience: int


def preview_newsletter(account: AccountSettings, body: str, tag_ids, *, with_image: bool = False) -> AudiencePreview:
    """Dashboard preview: rendered for the first contact of the audience, and the audience size.

    ``with_image``: an image is chosen but not uploaded yet; a link of the same shape follows the text,
    so the segment count is the one the messages will have.
    """
    tags = tags_by_ids(account, _tag_ids(tag_ids), field="tags")
    ids = [t.id for t in tags]
    sample = db.session.execute(audience(account.id, ids).order_by(Contact.id).limit(1)).first()
    size = db.session.scalar(select(func.count()).select_from(audience(account.id, ids).subquery()))
    name, phone = (sample.name, sample.phone) if sample else (None, None)
    shown = personalisation.preview(body, name, phone)
    if with_image:
        text = body_as_sent(shown.text, get_storage().url(new_key(JPEG)))
        shown = personalisation.Preview(text, count_segments(text))
    return AudiencePreview(shown, phone, size)


def _lock(paket_id: int, now: datetime):
    """Touch the paket row (serialising fan-out steps and state changes) and read its current state."""
    db.session.execute(
        update(Paket).where(Paket.id == paket_id).values(updated_at=now).execution_options(synchronize_session=False)
    )
    state = db.session.execute(
        select(Paket.status, Paket.fanout_completed_at).where(Paket.id == paket_id).with_for_update()
    ).one_or_none()
    if state is None:
        raise NotFoundError(f"newsletter {paket_id} not found", field="paket_id")
    return state


def _not_yet_messaged(paket_id: int):
    """The contact has no message of this newsletter: none to its number, nor one to its id, written before it
    was renumbered (or to a contact since merged into it) by an interrupted fan-out's committed batch.
    Messages of deleted contacts (no id) are left out of the ``NOT IN``: one NULL would exclude everyone."""
    messaged_contacts = select(Message.contact_id).where(Message.paket_id == paket_id, Message.contact_id.is_not(None))
    return ~exists().where(Message.paket_id == paket_id, Message.phone == Contact.phone) \
        & Contact.id.not_in(messaged_contacts)


def fan_out(paket_id: int, *, batch_size: int | None = None, commit: Callable[[], None] | None = None,
            now: datetime | None = None) -> int:
    """Write one pending message per audience number for a running (or paused) newsletter; idempotent.

    Each part is one ``INSERT … SELECT`` (personalised bodies are rendered by the database), over the
    whole audience or, with ``batch_size``, over the next ``batch_size`` contacts in id order.
    ``commit`` (the CLI passes it) is called after each part so progress survives a crash; the
    scheduler job leaves both out and commits everything at once. Returns the total recipients.
    """
    now = now or utcnow()
    paket = db.session.get(Paket, paket_id)
    if paket is None:
        raise NotFoundError(f"newsletter {paket_id} not found", field="paket_id")
    spec = _FanOut(paket, now)
    while True:
        state = _lock(paket_id, now)
        if state.fanout_completed_at is not None:
            break
        if state.status not in (RUNNING, PAUSED):
            raise ConflictError(f"newsletter {paket_id} is {state.status}; only a running one is fanned out",
                                field="status")
        ready = state.status == RUNNING
        written = spec.write(ready, batch_size)
        if written and ready:
            wake_after_commit(db.session, [spec.device_id])
        if written is None:
            # Nothing left: freeze the total, counted inside the same conditional statement.
            total = select(func.count()).select_from(Message).where(Message.paket_id == paket_id).scalar_subquery()
            db.session.execute(
                update(Paket).where(Paket.id == paket_id, Paket.fanout_completed_at.is_(None))
                .values(total_recipients=total, fanout_completed_at=now, updated_at=now)
                .execution_options(synchronize_session=False)
            )
        if commit:
            commit()
        if written is None:
            break
    db.session.refresh(paket)
    return paket.total_recipients or 0


_CONSTANT_TYPES = {"ready": Boolean(), "urgent": Boolean(), "time_to_send": UTCDateTime(), "due_at": UTCDateTime(),
                   "created_at": UTCDateTime(), "updated_at": UTCDateTime(), "encoding": String(),
                   "segments": SmallInteger(), "sim": SmallInteger(), "priority": SmallInteger(),
                   "status": SmallInteger(), "media_url": String()}
_SEGMENT_UPDATE_CHUNK = 1_000


class _FanOut:
    """One newsletter's fan-out: the values every message shares, and how to write the next part."""

    def __init__(self, paket: Paket, now: datetime):
        self.paket_id = paket.id
        self.account_id = paket.account_id
        self.device_id = paket.device_id
        self.tag_ids = [t.id for t in paket.tags]
        self.body = paket.body
        self.media_url = media_url_now(paket)  # one constant for the whole newsletter
        self.personalised = personalisation.is_personalised(paket.body)
        # Segments of a contact with empty fields; personalised rows that differ are corrected after insert.
        guess = count_segments(body_as_sent(
            personalisation.render(paket.body, personalisation.contact_fields("", "")), self.media_url))
        self.default_segments = (guess.segments, guess.encoding)
        self.shared = {
            "account_id": paket.account_id, "device_id": paket.device_id, "sim": paket.sim, "customer_id": None,
            "urgent": False, "priority": 0, "status": statuses.PENDING, "time_to_send": paket.time_to_send,
            "due_at": now, "created_at": now, "updated_at": now, "handed_count": 0, "paket_id": paket.id,
            "segments": guess.segments, "encoding": guess.encoding,
            "media_object_id": paket.media_object_id, "media_url": self.media_url,
        }
        self.last_contact_id = 0
        self.done = False

    def write(self, ready: bool, batch_size: int | None) -> int | None:
        """Write the next part: rows written (0 if a concurrent run wrote them), None when nothing is left."""
        if self.done or not self.tag_ids:
            return None
        pending = audience(self.account_id, self.tag_ids).where(
            Contact.id > self.last_contact_id, _not_yet_messaged(self.paket_id))
        upper = None
        if batch_size:
            upper = db.session.scalar(pending.with_only_columns(Contact.id).order_by(Contact.id)
                                      .offset(batch_size - 1).limit(1))
        if upper is None:
            self.done = True
        else:
            pending = pending.where(Contact.id <= upper)
            self.last_contact_id = upper
        first_new_id = db.session.scalar(select(func.max(Message.id))) or 0
        written = db.session.execute(self._insert(pending, ready)).rowcount
        if self.personalised and written:
            self._correct_segments(first_new_id)
        if self.done and not written:
            return None
        return written

    def _insert(self, pending, ready: bool):
        """``INSERT … SELECT`` of the part's messages. The contacts are read with a shared lock (MariaDB's
        ``LOCK IN SHARE MODE``; SQLite's one writer needs none): under READ COMMITTED a plain read would see
        them as they were when the statement began, so an opt-out committed while it runs, before it reached
        that contact, would not be seen, nor could the opt-out's withdrawal see the message not written yet,
        and the number that said STOP would be sent the newsletter. Locked, an opt-out either commits first
        (the contact is read as it is then, and skipped) or waits for this transaction, then withdraws the
        message. The contacts a part writes messages to are the rows whose foreign key it locks anyway."""
        constants = dict(self.shared, ready=ready)
        names = list(constants)
        if not self.personalised:
            body = literal(body_as_sent(self.body, self.media_url), String())
        elif self.media_url:
            text = personalisation.sql_render(self.body, Contact.name, Contact.phone)
            body = case((text == "", literal(self.media_url, String())),
                        else_=text.concat(literal("\n" + self.media_url, String())))
        else:
            body = personalisation.sql_render(self.body, Contact.name, Contact.phone)
        source = pending.with_only_columns(
            *[literal(constants[n], _CONSTANT_TYPES.get(n, Integer())).label(n) for n in names],
            body.label("body"), Contact.phone.label("sendto"), Contact.phone.label("phone"),
            Contact.id.label("contact_id"),
        ).with_for_update(read=True)
        columns = names + ["body", "sendto", "phone", "contact_id"]
        # Rows a concurrent run wrote first break uq_messages_paket_phone and are skipped.
        return insert_ignoring_duplicates(Message.__table__).from_select(columns, source)

    def _correct_segments(self, after_id: int) -> None:
        """Count the segments of each rendered body; rewrite only rows that differ from the shared guess."""
        rows = db.session.execute(
            select(Message.id, Message.body).where(Message.id > after_id, Message.paket_id == self.paket_id)
            .execution_options(yield_per=_SEGMENT_UPDATE_CHUNK)
        )
        differing: dict[tuple[int, str], list[int]] = {}
        for message_id, body in rows:
            info = count_segments(body)
            key = (info.segments, info.encoding)
            if key != self.default_segments:
                differing.setdefault(key, []).append(message_id)
        for (segments, encoding), ids in differing.items():
            for start in range(0, len(ids), _SEGMENT_UPDATE_CHUNK):
                db.session.execute(
                    update(Message).where(Message.id.in_(ids[start:start + _SEGMENT_UPDATE_CHUNK]))
                    .values(segments=segments, encoding=encoding).execution_options(synchronize_session=False)
                )


# Progress -----------------------------------------------------------------------------------------

STAT_BUCKETS = ("pending", "taken", "sent", "delivered", "failed", "opted_out", "cancelled")


def _bucket(status: int) -> str:
    if status == statuses.PENDING:
        return "pending"
    if status in (statuses.TAKEN, statuses.QUEUED):
        return "taken"
    if status == statuses.SENT:
        return "sent"
    if status == statuses.DELIVERED:
        return "delivered"
    if status == statuses.OPTED_OUT:
        return "opted_out"
    if status == statuses.CANCELLED:
        return "cancelled"
    return "failed"  # every failure code, and anything unexpected, so the buckets always add up


def paket_stats(paket: Paket) -> dict[str, int]:
    """total, pending, taken (2/3), sent, delivered, failed, opted_out, cancelled; the buckets sum to total."""
    return paket_stats_by_id([paket.id])[paket.id]


def paket_stats_by_id(paket_ids: list[int]) -> dict[int, dict[str, int]]:
    """``paket_stats`` of several newsletters from one ``GROUP BY``; every id given gets an entry."""
    counts = {paket_id: dict.fromkeys(STAT_BUCKETS, 0) for paket_id in paket_ids}
    if paket_ids:
        rows = db.session.execute(
            select(Message.paket_id, Message.status, func.count())
            .where(Message.paket_id.in_(paket_ids)).group_by(Message.paket_id, Message.status)
        )
        for paket_id, status, count in rows:
            counts[paket_id][_bucket(status)] += count
    return {paket_id: {"total": sum(buckets.values()), **buckets} for paket_id, buckets in counts.items()}
