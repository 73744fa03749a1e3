"""The messages export: its columns and one row per message, times in the account's zone."""
from collections.abc import Iterable, Iterator

from smsplatform.messaging import statuses as st
from smsplatform.spreadsheets import local_time

EXPORT_HEADER = ("sms_id", "created", "direction", "number", "sendto", "status", "status_title", "device_id",
                 "sim", "newsletter_id", "segments", "body", "sent", "delivered", "failure_reason")


def exported_rows(messages: Iterable, tz_name: str) -> Iterator[list]:
    """``EXPORT_HEADER``, then a row per ``Message``: ``number`` is the normalised phone, ``sendto`` what
    the client sent."""
    yield list(EXPORT_HEADER)
    for message in messages:
        yield [
            message.id, local_time(message.created_at, tz_name),
            "in" if message.status == st.INCOMING else "out", message.phone, message.sendto,
            message.status, st.title(message.status), message.device_id, message.sim, message.paket_id,
            message.segments, message.body, local_time(message.sent_at, tz_name),
            local_time(message.delivered_at, tz_name), message.failure_reason,
        ]
