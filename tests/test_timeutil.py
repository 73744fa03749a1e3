"""Zones a legacy call may name (zone names in any case, PHP's fixed UTC offsets), and the dates phones send."""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from smsplatform.errors import ValidationError
from smsplatform.timeutil import parse_phone_datetime, zone_choices, zone_or_offset


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


def test_the_zones_offered_are_region_city_names_and_utc_sorted():
    choices = zone_choices()
    assert {"UTC", "Europe/Berlin", "America/Argentina/Buenos_Aires", "Asia/Kolkata"} <= set(choices)
    assert not {"EST", "GMT", "CET", "Zulu"} & set(choices)
    assert choices == sorted(choices)


@pytest.mark.parametrize("text, words", [
    ("+14:30", "out of range"), ("+15", "out of range"), ("-02:99", "out of range"), ("02:00", "unknown time zone"),
    ("+02:00:00", "unknown time zone"), ("++02", "unknown time zone"), ("+", "unknown time zone"),
])
def test_refused(text, words):
    with pytest.raises(ValidationError, match=words):
        zone_or_offset(text)


NOW = datetime(2026, 7, 10, 12, 0, tzinfo=timezone.utc)


@pytest.mark.parametrize("text, expected", [
    ("2026-07-10T12:00:00.123+07:00", datetime(2026, 7, 10, 5, 0, 0, 123000)),
    ("2026-07-10T05:00:09.001+0000", datetime(2026, 7, 10, 5, 0, 9, 1000)),
    ("2026-07-10T00:00:10.000+-5:00", datetime(2026, 7, 10, 5, 0, 10)),      # Android < 7, UTC-5
    ("2026-07-09T19:00:10.000+-10:00", datetime(2026, 7, 10, 5, 0, 10)),     # UTC-10 (Hawaii)
    ("2026-07-10T01:30:10.000+-3:-30", datetime(2026, 7, 10, 5, 0, 10)),     # UTC-3:30 (Newfoundland)
    ("2026-07-10T10:00:10.000+5:00", datetime(2026, 7, 10, 5, 0, 10)),
    ("2026-07-10T05:00:10.000Z", datetime(2026, 7, 10, 5, 0, 10)),
    (1783659610000, datetime(2026, 7, 10, 5, 0, 10)),                        # epoch milliseconds
])
def test_phone_dates(text, expected):
    assert parse_phone_datetime(text, NOW) == expected.replace(tzinfo=timezone.utc)


@pytest.mark.parametrize("text", [
    "0001-01-01T00:00:00.000+14:00", "9999-12-31T23:59:59.999-14:00", "0999-01-01T00:00:00.000Z",
    "1969-12-31T23:59:59.000Z", "yesterday", "", None, True, [], 10**30, -10**15,
])
def test_phone_dates_that_cannot_be_read_or_are_out_of_range_are_now(text):
    assert parse_phone_datetime(text, NOW) == NOW
