"""How often the live regions of the newsletters' and messages' pages and lists refresh themselves (app.js,
``data-live``): while something on them can change soon, and never by reloading the page, which would take the
keyboard focus. Something scheduled far ahead changes at its time, not before: its page, and a list page that
holds nothing else that can change, stays still until then."""
from collections.abc import Iterable
from datetime import datetime, timedelta

from smsplatform.campaigns import services as campaigns
from smsplatform.messaging import statuses as st
from smsplatform.models import Message, Paket

# A scheduled item this close to its time (or past it, waiting for the scheduler) is watched for its start.
SOON = timedelta(minutes=5)
WHILE_RUNNING = 3  # seconds between refreshes while it changes
WHILE_DUE = 5      # seconds between refreshes while its time comes
LIST_WHILE_CHANGING = 5  # a list page holding a message that can change soon
NEWEST_PAGE = 15         # the newest page of a list otherwise, where new messages appear


def _due_soon(due: datetime | None, now: datetime) -> bool:
    return due is None or due <= now + SOON


def newsletter_refresh(paket: Paket, now: datetime) -> int | None:
    """Seconds between refreshes of a newsletter's progress, or None while nothing can change soon."""
    if paket.status == campaigns.RUNNING:
        return WHILE_RUNNING
    if paket.status == campaigns.SCHEDULED and _due_soon(paket.time_to_send, now):
        return WHILE_DUE
    return None


def message_refresh(message: Message, now: datetime) -> int | None:
    """Seconds between refreshes of a message's status and timeline, or None when it is final or waits for a
    time further off than ``SOON``."""
    if message.status not in st.OUTGOING_OPEN:
        return None
    if message.status == st.PENDING and not _due_soon(message.due_at, now):
        return None
    return WHILE_RUNNING


def message_list_refresh(messages: Iterable[Message], now: datetime, newest_page: bool) -> int | None:
    """Seconds between refreshes of a page of the messages list: often while a message on it can change soon
    (``message_refresh``), now and then on the newest page, where new messages appear, else never."""
    if any(message_refresh(message, now) is not None for message in messages):
        return LIST_WHILE_CHANGING
    return NEWEST_PAGE if newest_page else None
