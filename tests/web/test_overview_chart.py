"""The Overview chart puts each message on the local day the Messages date filter lists it under, in every zone:
whole-hour ones, those a half or three quarters of an hour off (India, Nepal, Chatham, Newfoundland), and across
a change of summer time."""
from datetime import date, datetime, time, timedelta

import pytest

from smsplatform.extensions import db
from smsplatform.timeutil import UTC, zone
from smsplatform.web import queries
from tests.devices.helpers import add_message
from tests.support.clock import pin_clock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def day_of_each(me, device, zone_name: str, moments: list[datetime]) -> list[str]:
    """The chart's day of a message created at each of ``moments`` (one at a time, alone in the account)."""
    me.timezone = zone_name
    days = []
    for moment in moments:
        message = add_message(device, created=moment)
        db.session.commit()
        day_list, series = queries.daily_series(me, now=NOW)
        [day] = [day for day, count in zip(day_list, series["pending"]) if count]
        days.append(day.isoformat())
        db.session.delete(message)
        db.session.commit()
    return days


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize("zone_name, last_minute_of_the_22nd", [
    ("Asia/Kolkata", "2026-11-22 18:29"),         # +05:30
    ("Asia/Kathmandu", "2026-11-22 18:14"),       # +05:45
    ("Pacific/Chatham", "2026-11-22 10:14"),      # +13:45 in its summer
    ("America/St_Johns", "2026-11-23 03:29"),     # -03:30
    ("Australia/Eucla", "2026-11-22 15:14"),      # +08:45
])
def test_a_message_is_on_the_local_day_it_was_created(me, device, zone_name, last_minute_of_the_22nd):
    end = utc(last_minute_of_the_22nd)
    assert day_of_each(me, device, zone_name, [end + timedelta(seconds=59), end + timedelta(minutes=1)]) == [
        "2026-11-22", "2026-11-23"]


def test_across_a_change_of_summer_time_the_days_follow_the_new_offset(me, device):
    """Newfoundland left summer time (-02:30) on 1 November 2026 at 02:00 local, for -03:30."""
    assert day_of_each(me, device, "America/St_Johns", [
        utc("2026-10-31 02:29"), utc("2026-10-31 02:30"),   # midnight at -02:30
        utc("2026-11-02 03:29"), utc("2026-11-02 03:30"),   # midnight at -03:30
    ]) == ["2026-10-30", "2026-10-31", "2026-11-01", "2026-11-02"]


def test_the_chart_agrees_with_the_messages_date_filter(web, me, device, monkeypatch):
    """18:45 UTC is 00:15 on the 23rd in Kolkata: the 23rd's bar, and the filter for the 23rd, hold it."""
    pin_clock(monkeypatch, NOW)
    me.timezone = "Asia/Kolkata"
    message = add_message(device, created=utc("2026-11-22 18:45"))
    db.session.commit()
    html = web.get("/").get_data(as_text=True)
    assert "2026-11-23: Delivered 0, Sent 0, Pending 1," in html
    assert "2026-11-22: Delivered 0, Sent 0, Pending 0," in html
    listed = web.get("/messages?date_from=2026-11-23&date_to=2026-11-23").get_data(as_text=True)
    assert f'href="/messages/{message.id}"' in listed


@pytest.mark.parametrize("zone_name, seconds", [
    ("UTC", 3600), ("Europe/Berlin", 3600), ("America/New_York", 3600),
    ("Asia/Kolkata", 900), ("Asia/Kathmandu", 900), ("Pacific/Chatham", 900), ("America/St_Johns", 900),
])
def test_whole_hour_zones_are_counted_by_the_hour_others_by_the_quarter_hour(zone_name, seconds):
    """Over days that cross the end of summer time in Europe (25 October) and North America (1 November)."""
    tz = zone(zone_name)
    starts = [datetime.combine(date(2026, 10, 20) + timedelta(days=i), time.min, tz).astimezone(UTC)
              for i in range(15)]
    assert queries.bucket_seconds(starts) == seconds
