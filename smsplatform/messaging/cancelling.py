"""Cancelling direct messages by hand, while the server still holds them.

Only a pending message (status 1: scheduled, or waiting for its phone's next pull) can be cancelled.
One conditional UPDATE (``… WHERE status = 1``) decides against a phone claiming it at the same moment
(``queue.claim_for_device`` updates ``… WHERE status = 1`` too): whichever commits first wins, and the
other changes nothing. A cancelled message (13) is never claimed or released again: both ask for status 1.

A message already handed to a phone (2, 3) stays as it is: the app can drop one it has not sent yet
(mobile protocol §4.3, ``Cancelling``, app 1.67.0+), but this server does not speak that part of the
protocol (the phone API never hands out ``Cancelling``). A newsletter's messages are the newsletter's to
cancel or pause, so its progress and its own cancel stay the one account of them.
"""
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update

from smsplatform.errors import ConflictError, NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.models import AccountSettings, Message
from smsplatform.models.types import MAX_ROW_ID, parse_row_ids
from smsplatform.timeutil import utcnow

MAX_CANCEL = 500  # ids per call: a page of the message list is 50
CANCEL_REASON = "cancelled by hand"
ON_PHONE = "it was already handed to the phone, and this server cannot ask the phone app to drop a message it has"


def can_cancel(message: Message) -> bool:
    """Pending and no newsletter's (no query: the message list asks it of every row)."""
    return message.status == st.PENDING and message.paket_id is None


def why_not(message: Message) -> str | None:
    """Why this message cannot be cancelled by hand, or None when it can."""
    status = message.status
    if status == st.PENDING:
        if message.paket_id is not None:
            title = message.paket.title if message.paket is not None else f"#{message.paket_id}"
            return f"it belongs to the newsletter “{title}”: pause or cancel the newsletter on its page"
        return None
    if status in (st.TAKEN, st.QUEUED):
        return ON_PHONE
    if status == st.INCOMING:
        return "an incoming message cannot be cancelled"
    if status in (st.SENT, st.DELIVERED, st.NOT_DELIVERED):
        return "it was already sent"
    if status == st.CANCELLED:
        return "it is already cancelled"
    if status == st.OPTED_OUT:
        return "it was already withdrawn: the recipient opted out"
    return f"it has already failed ({st.title(status)})"


def _pending_direct(ids, account: AccountSettings, now: datetime):
    """The UPDATE that cancels those of ``ids`` still pending and of no newsletter; its rowcount is how many."""
    return (
        update(Message)
        .where(Message.id.in_(ids), Message.account_id == account.id, Message.status == st.PENDING,
               Message.paket_id.is_(None))
        .values(status=st.CANCELLED, ready=False, cancelled_at=now, updated_at=now, failure_reason=CANCEL_REASON)
    )


def cancel_message(account: AccountSettings, message_id: int, now: datetime | None = None) -> Message:
    """Cancel one of the account's pending direct messages; ConflictError says why not (handed to a phone
    meanwhile, sent, a newsletter's, …), NotFoundError for an id that is not the account's."""
    now = now or utcnow()
    message = None
    if isinstance(message_id, int) and not isinstance(message_id, bool) and 0 < message_id <= MAX_ROW_ID:
        message = db.session.scalar(select(Message).where(Message.id == message_id, Message.account_id == account.id))
    if message is None:
        raise NotFoundError(f"message {message_id} not found", field="message_id")
    won = db.session.execute(_pending_direct([message.id], account, now),
                             execution_options={"synchronize_session": False}).rowcount
    db.session.refresh(message)  # as it is now: cancelled by us, or what the phone (or anyone) made of it
    if not won:
        raise ConflictError(f"message {message.id} cannot be cancelled: {why_not(message)}", field="message_id")
    return message


@dataclass(frozen=True)
class CancelOutcome:
    """What ``cancel_messages`` did with the ids it was given (each counted once)."""

    cancelled: int
    on_phone: int      # already handed to a phone (2, 3)
    newsletter: int    # pending, but a newsletter's
    done: int          # sent, failed, incoming, or cancelled before


def cancel_messages(account: AccountSettings, message_ids, now: datetime | None = None) -> CancelOutcome:
    """Cancel those of the account's messages ``message_ids`` (numbers, or their decimal strings) that are
    pending and no newsletter's; the rest are counted by why not. An id that is not the account's
    (or past a BIGINT) is NotFoundError and nothing changes; a malformed one, ValidationError."""
    now = now or utcnow()
    ids = _parse_ids(message_ids)
    found = set(db.session.scalars(select(Message.id).where(Message.account_id == account.id, Message.id.in_(ids))))
    missing = sorted(set(ids) - found)
    if missing:
        raise NotFoundError(f"message {missing[0]} not found", field="message_ids")
    cancelled = db.session.execute(_pending_direct(ids, account, now),
                                   execution_options={"synchronize_session": False}).rowcount
    on_phone = newsletter = 0
    for status, paket_id in db.session.execute(select(Message.status, Message.paket_id).where(Message.id.in_(ids))):
        if status in (st.TAKEN, st.QUEUED):
            on_phone += 1
        elif status == st.PENDING and paket_id is not None:
            newsletter += 1
    return CancelOutcome(cancelled, on_phone, newsletter, len(ids) - cancelled - on_phone - newsletter)


def _parse_ids(values) -> list[int]:
    ids = parse_row_ids(values, "message_ids", expected="numbers", noun="message")
    if not ids:
        raise ValidationError("choose at least one message", field="message_ids")
    if len(ids) > MAX_CANCEL:
        raise ValidationError(f"at most {MAX_CANCEL} messages at once, got {len(ids)}", field="message_ids")
    return sorted(ids)
