"""The newsletter form refuses a send time in the past beside the field, in the account's zone, and saves
nothing; a time within the last 5 minutes, a later time or none (send now) are saved."""
from datetime import timedelta

import pytest

from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.models import Paket
from smsplatform.timeutil import to_zone, utcnow
from tests.support.newsletters import newsletter_state
from tests.support.pages import error_for
from tests.support.rows import row_counts


def local(minutes_from_now: float, zone="Europe/Berlin", fmt="%Y-%m-%dT%H:%M") -> str:
    return to_zone(utcnow() + timedelta(minutes=minutes_from_now), zone).strftime(fmt)


@pytest.fixture
def berlin_time(me):
    me.timezone = "Europe/Berlin"
    db.session.commit()


def new_form(device, vip, **changes):
    return {"title": "Sale", "body": "Hi", "device_id": device.id, "sim": 0, "tag_ids": [vip.id],
            "intent": "schedule", **changes}


@pytest.mark.parametrize("intent", ["schedule", "draft"])
def test_a_new_newsletter_for_the_past_is_refused_beside_the_send_time(web, berlin_time, device, vip, intent):
    before = row_counts()
    send_at = local(-90)  # read once: a second reading may fall in the next minute
    response = web.post("/newsletters/new", data=new_form(device, vip, send_at=send_at, intent=intent))
    assert response.status_code == 400
    shown = send_at.replace("T", " ")
    assert error_for(response.get_data(as_text=True), "send_at").startswith(
        f"the send time {shown} (Europe/Berlin) has passed: it is now ")
    assert "choose a later time, or leave it empty to send now" in error_for(response.get_data(as_text=True),
                                                                                  "send_at")
    assert row_counts() == before


@pytest.mark.parametrize("send_at", ["", "now", "later"])
def test_half_a_minute_ago_a_later_time_or_none_is_saved(web, berlin_time, device, vip, send_at):
    value = {"": "", "now": local(-0.5, fmt="%Y-%m-%dT%H:%M:%S"), "later": local(60 * 24)}[send_at]
    response = web.post("/newsletters/new", data=new_form(device, vip, send_at=value))
    assert response.status_code == 302
    db.session.rollback()
    paket = db.session.query(Paket).one()
    assert paket.status == campaigns.SCHEDULED
    if send_at == "later":
        assert value == to_zone(paket.time_to_send, "Europe/Berlin").strftime("%Y-%m-%dT%H:%M")  # what was sent
    else:
        assert abs(paket.time_to_send - utcnow()) < timedelta(minutes=1, seconds=5)


def test_an_edit_to_a_past_time_is_refused_and_the_newsletter_keeps_its_time(web, me, berlin_time, device, vip):
    paket = campaigns.create_paket(me, title="Sale", body="Hi", device_id=device.id, sim=0, tag_ids=[vip.id],
                                   time_to_send="2099-01-01 10:00")
    db.session.commit()
    before = newsletter_state(paket.id)
    response = web.post(f"/newsletters/{paket.id}/edit", data=new_form(device, vip, title="Edited",
                                                                         send_at=local(-60 * 3)))
    assert response.status_code == 400
    assert "has passed" in error_for(response.get_data(as_text=True), "send_at")
    assert newsletter_state(paket.id) == before
    listing = web.get("/newsletters").get_data(as_text=True)
    assert "send time 2099-01-01 10:00" in listing  # the list shows the time it kept, in Berlin time


def test_a_send_time_before_the_year_1000_is_refused_as_out_of_range(web, device, vip):
    before = row_counts()
    response = web.post("/newsletters/new", data=new_form(device, vip, send_at="0999-12-31T23:00"))
    assert response.status_code == 400
    error = error_for(response.get_data(as_text=True), "send_at")
    assert error.startswith("the send time is out of range") and "0999-12-31 23:00" in error
    assert row_counts() == before
