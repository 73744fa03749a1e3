"""Read models for the dashboard pages: totals, the 30-day series, filtered history, conversations."""
import math
from bisect import bisect_right
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from sqlalchemy import Integer, Select, func, literal, literal_column, select

from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.messaging.queue import SMS_SLOTS
from smsplatform.models import Account, Contact, Conversation, Device, Message, Paket
from smsplatform.timeutil import UTC, utcnow, zone

PAGE_SIZE = 50

# Dashboard groups of the legacy status codes.
GROUPS = ("pending", "sent", "delivered", "failed", "cancelled", "incoming")
GROUP_STATUSES = {
    "pending": frozenset({st.PENDING, st.TAKEN, st.QUEUED}),
    "sent": frozenset({st.SENT}),
    "delivered": frozenset({st.DELIVERED}),
    "failed": st.FAILED,
    "cancelled": st.WITHDRAWN,
    "incoming": frozenset({st.INCOMING}),
}
_GROUP_OF = {code: group for group, codes in GROUP_STATUSES.items() for code in codes}


def group_of(status: int) -> str:
    return _GROUP_OF.get(status, "failed")


@dataclass
class Totals:
    counts: Counter = field(default_factory=Counter)

    def __getitem__(self, group: str) -> int:
        return self.counts[group]

    @property
    def success_rate(self) -> float | None:
        """Share of finished outgoing messages that went out: (sent + delivered) / (sent + delivered + failed)."""
        done = self.counts["sent"] + self.counts["delivered"]
        finished = done + self.counts["failed"]
        return None if finished == 0 else done / finished


def _totals_by_device(account: Account, device_id: int | None = None) -> dict[int | None, Totals]:
    """Messages by device and dashboard group, counted in the database (only ``device_id``'s rows when given)."""
    query = select(Message.device_id, Message.status, func.count()).where(Message.account_id == account.id)
    if device_id is not None:
        query = query.where(Message.device_id == device_id)
    per_device = defaultdict(Totals)
    for device, status, count in db.session.execute(query.group_by(Message.device_id, Message.status)):
        per_device[device].counts[group_of(status)] += count
    return dict(per_device)


def totals(account: Account) -> tuple[Totals, dict[int | None, Totals]]:
    """Account totals and per-device totals by dashboard group."""
    per_device = _totals_by_device(account)
    overall = Totals()
    for device in per_device.values():
        overall.counts.update(device.counts)
    return overall, per_device


def device_totals(account: Account, device_id: int) -> Totals:
    """One device's messages by dashboard group (its page), counted over that device's rows only."""
    return _totals_by_device(account, device_id).get(device_id, Totals())


# Spans the chart counts messages in, longest first: the longest that no local midnight falls inside.
_BUCKET_SECONDS = (3600, 900, 60, 1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def bucket_seconds(day_starts: list[datetime]) -> int:
    """The longest span (an hour, a quarter hour, a minute, a second) of which every one of ``day_starts`` (UTC)
    is a multiple since 1970: counted in such spans, no span straddles two local days. Whole-hour zones get hours;
    India, Nepal, Chatham, Newfoundland quarter hours."""
    offsets = {int((start - _EPOCH).total_seconds()) for start in day_starts}
    return next(size for size in _BUCKET_SECONDS if all(offset % size == 0 for offset in offsets))


def _time_bucket(column, seconds: int):
    """``column`` (a naive UTC time) as the number of whole ``seconds``-long spans since 1970 (no session zone
    involved on either database)."""
    if db.session.get_bind().dialect.name == "sqlite":
        since_epoch = func.cast(func.strftime("%s", column), Integer)
    else:
        since_epoch = func.timestampdiff(literal_column("SECOND"), literal("1970-01-01 00:00:00"), column)
    return since_epoch // seconds


def daily_series(account: Account, days: int = 30, now: datetime | None = None) -> tuple[list[date], dict[str, list[int]]]:
    """Messages per day (in the account's zone) for the last ``days`` days, by group.

    The database counts per span of ``bucket_seconds`` (portable and small: at most 24 × days × statuses rows
    in a whole-hour zone); each span is then placed on the local day it lies in, as the Messages date filter
    (``local_day_bounds``) draws the days.
    """
    tz = zone(account.timezone)
    today = (now or utcnow()).astimezone(tz).date()
    first = today - timedelta(days=days - 1)
    day_starts = [datetime.combine(first + timedelta(days=i), time.min, tz).astimezone(UTC) for i in range(days + 1)]
    size = bucket_seconds(day_starts)
    bucket = _time_bucket(Message.created_at, size)
    rows = db.session.execute(
        select(bucket, Message.status, func.count())
        .where(Message.account_id == account.id, Message.created_at >= day_starts[0])
        .group_by(bucket, Message.status)
    )
    day_list = [first + timedelta(days=i) for i in range(days)]
    series = {g: [0] * days for g in GROUPS}
    for span, status, count in rows:
        index = bisect_right(day_starts, _EPOCH + timedelta(seconds=int(span) * size)) - 1
        if 0 <= index < days:
            series[group_of(status)][index] += count
    return day_list, series


@dataclass
class Page:
    items: list
    number: int
    total: int
    size: int = PAGE_SIZE

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.size))


def paginate(query: Select, page: int, size: int = PAGE_SIZE, scalars: bool = True) -> Page:
    total = db.session.scalar(select(func.count()).select_from(query.order_by(None).subquery()))
    number = min(max(1, page), max(1, math.ceil(total / size)))
    result = db.session.execute(query.limit(size).offset((number - 1) * size))
    return Page(list(result.scalars() if scalars else result), number, total, size)


@dataclass
class MessageFilter:
    status: str = ""
    device_id: int | None = None
    sim: int | None = None
    direction: str = ""
    since: datetime | None = None   # UTC, inclusive
    until: datetime | None = None   # UTC, exclusive
    phone: str | None = None        # normalised
    paket_id: int | None = None


def local_day_bounds(day_from: date | None, day_to: date | None, tz_name: str) -> tuple[datetime | None, datetime | None]:
    tz = zone(tz_name)
    since = datetime.combine(day_from, time.min, tz).astimezone(UTC) if day_from else None
    until = datetime.combine(day_to + timedelta(days=1), time.min, tz).astimezone(UTC) if day_to else None
    return since, until


def messages_query(account: Account, flt: MessageFilter) -> Select:
    query = select(Message).where(Message.account_id == account.id)
    if flt.status in GROUP_STATUSES:
        query = query.where(Message.status.in_(GROUP_STATUSES[flt.status]))
    if flt.device_id is not None:
        query = query.where(Message.device_id == flt.device_id)
    if flt.sim is not None:
        query = query.where(Message.sim == flt.sim)
    if flt.direction == "in":
        query = query.where(Message.status == st.INCOMING)
    elif flt.direction == "out":
        query = query.where(Message.status != st.INCOMING)
    if flt.since is not None:
        query = query.where(Message.created_at >= flt.since)
    if flt.until is not None:
        query = query.where(Message.created_at < flt.until)
    if flt.phone:
        query = query.where(Message.phone == flt.phone)
    if flt.paket_id is not None:
        query = query.where(Message.paket_id == flt.paket_id)
    return query.order_by(Message.created_at.desc(), Message.id.desc())


def timeline(message: Message) -> list[tuple[datetime, str, str | datetime | None]]:
    """Each state the message went through with the first time it got there, oldest first; a step's detail is
    a reason, or the time it was scheduled for."""
    steps = [
        (message.created_at, "received from the phone" if message.status == st.INCOMING else "accepted", None),
        (message.received_at, "received by the phone", None),
        # Scheduling is a step taken when the message was accepted, the time it names its detail: at that time
        # itself it would read as a step after a cancellation that came first.
        (message.created_at if message.time_to_send and message.time_to_send > message.created_at else None,
         "scheduled for", message.time_to_send),
        (message.taken_at, "handed to the phone", None),
        (message.queued_at, "queued on the phone", None),
        (message.sent_at, "sent", None),
        (message.delivered_at, "delivered", None),
        (message.failed_at, st.title(message.status) if message.status in st.FAILED else "failed",
         message.failure_reason),
        (message.cancelled_at, st.title(message.status) if message.status in st.WITHDRAWN else "cancelled",
         message.failure_reason),
    ]
    return sorted((s for s in steps if s[0] is not None), key=lambda s: s[0])


def conversations(account: Account, page: int) -> Page:
    """Numbers that wrote to the account, newest incoming first, each with its count and latest incoming text:
    one page of the account's conversations (read in the order of their index), one latest message per number."""
    query = (
        select(Conversation.phone, Conversation.last_at, Conversation.received)
        .where(Conversation.account_id == account.id)
        .order_by(Conversation.last_at.desc(), Conversation.phone.desc())
    )
    result = paginate(query, page, scalars=False)
    phones = [row.phone for row in result.items]
    latest = _latest_incoming(account, phones)
    names = contact_names(account, phones)
    result.items = [(row.phone, row.last_at, row.received, latest.get(row.phone), names.get(row.phone))
                    for row in result.items]
    return result


def _latest_incoming(account: Account, phones: list[str]) -> dict[str, Message]:
    """Each number's newest incoming message: ranked per number in the database, one row per number read."""
    if not phones:
        return {}
    rank = func.row_number().over(partition_by=Message.phone,
                                  order_by=(Message.created_at.desc(), Message.id.desc())).label("rank")
    ranked = (
        select(Message.id, rank)
        .where(Message.account_id == account.id, Message.status == st.INCOMING, Message.phone.in_(phones))
        .subquery()
    )
    rows = db.session.scalars(select(Message).join(ranked, Message.id == ranked.c.id).where(ranked.c.rank == 1))
    return {message.phone: message for message in rows}


def conversation(account: Account, phone: str, page: int) -> Page:
    """One number's messages, both directions: paged and counted in the database, the newest page first,
    each page's messages oldest first (as a thread reads)."""
    result = paginate(messages_query(account, MessageFilter(phone=phone)), page)
    result.items.reverse()
    return result


@dataclass(frozen=True)
class ReplyRoute:
    device_id: int
    device_name: str
    sim: int  # an SMS slot: a number that wrote in over another channel (WhatsApp, RCS) is answered on SIM 1


def reply_route(account: Account, phone: str) -> ReplyRoute | None:
    """Device and SIM of the number's newest incoming message on a phone still paired: a reply goes out the way
    the number last wrote in, whichever page is shown. A number that never wrote in (or only to phones since
    removed) is written to from the account's first paired phone, on SIM 1; None when no phone is paired."""
    row = db.session.execute(
        select(Message.device_id, Device.name, Message.sim)
        .join(Device, Device.id == Message.device_id)
        .where(Message.account_id == account.id, Message.phone == phone, Message.status == st.INCOMING,
               Device.account_id == account.id, Device.revoked_at.is_(None))
        .order_by(Message.created_at.desc(), Message.id.desc())
        .limit(1)
    ).first()
    if row is not None:
        return ReplyRoute(row.device_id, row.name, row.sim if row.sim in SMS_SLOTS else SMS_SLOTS[0])
    first = db.session.execute(
        select(Device.id, Device.name).where(Device.account_id == account.id, Device.revoked_at.is_(None))
        .order_by(Device.id).limit(1)
    ).first()
    return None if first is None else ReplyRoute(first.id, first.name, SMS_SLOTS[0])


def contact_names(account: Account, phones: list[str]) -> dict[str, str]:
    if not phones:
        return {}
    return dict(db.session.execute(
        select(Contact.phone, Contact.name).where(Contact.account_id == account.id, Contact.phone.in_(phones))
    ).all())


def account_pakets(account: Account) -> list[Paket]:
    return list(db.session.scalars(
        select(Paket).where(Paket.account_id == account.id).order_by(Paket.created_at.desc(), Paket.id.desc())
    ))
