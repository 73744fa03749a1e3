"""How often the live regions of a newsletter's and a message's pages refresh themselves (app.js, ``data-live``):
while something on them can change soon, and never by reloading the page, which would take the keyboard focus.
Something scheduled far ahead changes at its time, not before: its page stays still until then."""
from datetime import datetime, timedelta

from smsplatform.campaigns import services as campaigns
from smsplatform.messaging import statuses as st
from smsplatform.models import Message, Paket

# A scheduled item this close to its time (or past it, waiting for the scheduler) is watched for its start.
SOON = timedelta(minutes=5)
WHILE_RUNNING = 3  # seconds between refreshes while it changes
WHILE_DUE = 5      # seconds between refreshes while its time comes


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
