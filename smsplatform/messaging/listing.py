"""Listing an account's messages (outgoing and incoming) with the legacy ``getallsms`` filters.

Every query starts with ``account_id =`` and, for the usual filters, both statements (the ``count``
and the page) are range reads of one of the indexes in ``models/messages.py``; the page comes back in
``created_at, id`` order from the index where it can, so it never sorts the whole account. At most
``LIST_MAX_ROWS`` rows are returned per call (``limit``/``offset`` page through the rest); ``count``
is always the full total. Filter -> index:

- device, with or without dates and sim: account+device+created;
- device + status, with or without dates: account+device+status+created;
- status + dates: account+status+created;
- dates alone (or no filter): account+created;
- phone: account+phone+created; customer id (also with a device): account+customer+created. Both
  are selective (a few rows per number or customer); one customer's page comes in date order from
  its index. A number is matched in all its stored forms (``phone IN (…)``), so its page is sorted
  after reading.

``sim`` (0-5, mostly 0) has no index: with a device it is checked on that device's rows only (the
count reads each of them); alone it selects a large share of the account, where an index would not
beat reading the account. The plans are checked on SQLite and MariaDB in
``tests/messaging/test_listing.py``. SQLite chooses the phone index for the page only once it has
statistics (the scheduler's ``refresh-planner-statistics`` job, ``smsplatform.db_statistics``);
without them it reads that page in date order from account+created. MariaDB, at a million rows,
chose that same date-order read for a device's page (skipping the other devices' rows), so with a
device filter the page tells it not to order by account+created.
"""
from dataclasses import dataclass
from datetime import tzinfo

from flask import current_app
from sqlalchemy import func, select

from smsplatform.errors import NotFoundError
from smsplatform.extensions import db
from smsplatform.models import AccountSettings, Device, Message, Paket
from smsplatform.phones import normalize_phone
from smsplatform.timeutil import parse_local_datetime, parse_local_end

@dataclass(frozen=True)
class Filters:
    device_id: int | None = None
    status: int | None = None
    begin: str | None = None       # created at or after; naive values are in ``timezone``
    end: str | None = None         # created at or before, taken whole: a date alone is the whole day
    sim: int | None = None
    customer_id: int | None = None
    phone: str | None = None       # matches the normalised number, however it was written
    timezone: str | tzinfo = "UTC"  # a zone name or a tzinfo (a fixed offset)
    descending: bool = False
    limit: int | None = None       # capped at LIST_MAX_ROWS
    offset: int = 0
    only_count: bool = False


@dataclass(frozen=True)
class Listing:
    count: int
    rows: list  # rows with Message's columns plus paket_title, paket_body


def get_message(account: AccountSettings, message_id: int) -> Message:
    """One of the account's messages; a foreign or unknown id is reported the same way."""
    message = db.session.get(Message, message_id)
    if message is None or message.account_id != account.id:
        raise NotFoundError(f"sms_id {message_id} not found for this account", field="sms_id")
    return message


def list_messages(account: AccountSettings, filters: Filters) -> Listing:
    conditions = _conditions(account, filters)
    count = db.session.scalar(select(func.count()).select_from(Message).where(*conditions))
    if filters.only_count:
        return Listing(count=count, rows=[])
    cap = current_app.config["LIST_MAX_ROWS"]
    limit = min(filters.limit or cap, cap)
    order = (Message.created_at.desc(), Message.id.desc()) if filters.descending else (Message.created_at, Message.id)
    page = (
        select(
            Message.id, Message.phone, Message.body, Message.customer_id, Message.status, Message.device_id,
            Message.urgent, Message.created_at, Message.sent_at, Message.time_to_send, Message.sim,
            Message.paket_id, Paket.title.label("paket_title"), Paket.body.label("paket_body"),
        )
        .outerjoin(Paket, Paket.id == Message.paket_id)
        .where(*conditions)
        .order_by(*order)
        .limit(limit)
        .offset(filters.offset)
    )
    if filters.device_id is not None:
        # MariaDB (10.11, 1,000,000 rows) may read the whole account in date order and skip the other
        # devices' rows instead of reading the device's own index, which is in the same order.
        for dialect in ("mysql", "mariadb"):
            page = page.with_hint(Message, "IGNORE INDEX FOR ORDER BY (ix_messages_account_created)", dialect)
    return Listing(count=count, rows=db.session.execute(page).all())


def _conditions(account: AccountSettings, filters: Filters) -> list:
    conditions = [Message.account_id == account.id]
    if filters.device_id is not None:
        conditions.append(Message.device_id == filters.device_id)
    if filters.status is not None:
        conditions.append(Message.status == filters.status)
    if filters.begin is not None:
        conditions.append(Message.created_at >= parse_local_datetime(filters.begin, filters.timezone, "begindate"))
    if filters.end is not None:
        conditions.append(Message.created_at < parse_local_end(filters.end, filters.timezone, "enddate"))
    if filters.sim is not None:
        conditions.append(Message.sim == filters.sim)
    if filters.customer_id is not None:
        conditions.append(Message.customer_id == filters.customer_id)
    if filters.phone is not None:
        conditions.append(Message.phone.in_(_phone_forms(account, filters.phone)))
    return conditions


def _phone_forms(account: AccountSettings, raw: str) -> list[str]:
    """Every stored form the number may have: normalised with the account's region or any of its
    devices' regions (messages are normalised with their device's), with and without its ``+`` (digits
    sent without one are kept so where no rule added it), and as written."""
    regions = {account.default_region} | set(db.session.scalars(
        select(Device.default_region).where(Device.account_id == account.id, Device.default_region.is_not(None))))
    forms = {raw.strip()}
    for region in regions:
        normalized = normalize_phone(raw, region, field="phone").normalized
        digits = normalized.lstrip("+")
        forms.update({normalized, digits, "+" + digits})
    return sorted(forms)
