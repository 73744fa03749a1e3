"""The scheduler's offline mark on the device list and the device page, in the account's time zone."""
from datetime import datetime, timedelta

from smsplatform.devices.auth import touch
from smsplatform.extensions import db
from smsplatform.timeutil import UTC
from tests.web.conftest import add_device

# 22:40 UTC is 04:10 the next day in Kolkata (+05:30): the date moves too.
MARKED_AT = datetime(2026, 3, 1, 22, 40, tzinfo=UTC)
SHOWN = "offline since 2026-03-02 04:10"


def marked(device, at=MARKED_AT):
    device.last_seen_at = at - timedelta(minutes=3)
    device.marked_offline_at = at


def pages(web, device) -> tuple[str, str]:
    return web.get("/devices").get_data(as_text=True), web.get(f"/devices/{device.id}").get_data(as_text=True)


def test_a_marked_device_shows_since_when_in_the_account_zone_until_it_calls_again(web, me, device):
    me.timezone = "Asia/Kolkata"
    marked(device)
    db.session.commit()
    for html in pages(web, device):
        assert f'<span class="badge bad">{SHOWN}</span>' in html
        assert "badge ok" not in html

    touch(device, "1.68.0")  # the phone's next call clears the mark
    db.session.commit()
    for html in pages(web, device):
        assert "offline since" not in html and '<span class="badge ok">online</span>' in html


def test_a_silent_device_the_job_has_not_marked_yet_is_offline_by_the_window_only(web, me, device):
    me.timezone = "Asia/Kolkata"
    silent = add_device(me, name="Silent")
    silent.last_seen_at = MARKED_AT
    marked(device)
    db.session.commit()
    listing, page = pages(web, silent)
    assert listing.count('<span class="badge bad">offline</span>') == 1 and listing.count(SHOWN) == 1
    assert '<span class="badge bad">offline</span>' in page and "offline since" not in page


def test_another_accounts_marked_device_never_appears(web, me, device, theirs):
    me.timezone = "Asia/Kolkata"
    marked(device)
    marked(theirs["device"], MARKED_AT + timedelta(hours=1))
    db.session.commit()
    listing, page = pages(web, device)
    assert listing.count("offline since") == 1 and SHOWN in listing and "Their phone" not in listing
    assert "offline since 2026-03-02 05:10" not in listing + page
    assert web.get(f"/devices/{theirs['device'].id}").status_code == 404
