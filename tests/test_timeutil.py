"""Zones a legacy call may name: zone names in any case, and PHP's fixed UTC offsets."""
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest

from smsplatform.errors import ValidationError
from smsplatform.timeutil import zone_or_offset


@pytest.mark.parametrize("text, name, minutes", [
    ("+02:00", "+02:00", 120), ("-0530", "-05:30", -330), ("+2", "+02:00", 120), (" 05:45", "+05:45", 345),
    ("+14:00", "+14:00", 840), ("-12:00", "-12:00", -720), ("-00:00", "+00:00", 0), ("+03:00 ", "+03:00", 180),
])
def test_fixed_offsets(text, name, minutes):
    tz = zone_or_offset(text)
    assert (tz.tzname(None), tz.utcoffset(None)) == (name, timedelta(minutes=minutes))


def test_zone_names_stay_zones():
    assert zone_or_offset("australia/sydney") == ZoneInfo("Australia/Sydney")
    assert zone_or_offset(None) == ZoneInfo("UTC")


@pytest.mark.parametrize("text, words", [
    ("+14:30", "out of range"), ("+15", "out of range"), ("-02:99", "out of range"), ("02:00", "unknown time zone"),
    ("+02:00:00", "unknown time zone"), ("++02", "unknown time zone"), ("+", "unknown time zone"),
])
def test_refused(text, words):
    with pytest.raises(ValidationError, match=words):
        zone_or_offset(text)
