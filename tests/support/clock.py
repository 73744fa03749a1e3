"""Pinning the app's clock in a test, so that the test's "now" and the app's are one moment.

Every "now" of the app is ``smsplatform.timeutil.utcnow()`` (``datetime.now(UTC)`` there): pinning
``timeutil``'s ``datetime`` pins them all, in the services and in requests made with the test client. A
test that computes "now" itself and compares it with what a request answered could otherwise fail when a
minute (or a day, in some zone) turns between the two readings.
"""
from datetime import datetime

from smsplatform import timeutil


def pin_clock(monkeypatch, moment: datetime) -> datetime:
    """From now until the test ends, ``timeutil.utcnow()`` is ``moment`` (aware); returns it."""
    if moment.tzinfo is None:
        raise ValueError("pin the clock to an aware moment")

    class PinnedDatetime(datetime):
        @classmethod
        def now(cls, tz=None):
            return moment.astimezone(tz) if tz is not None else moment.astimezone().replace(tzinfo=None)

    monkeypatch.setattr(timeutil, "datetime", PinnedDatetime)
    assert timeutil.utcnow() == moment
    return moment
