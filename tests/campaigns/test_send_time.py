"""A newsletter's send time in the past: refused when created or edited (the dashboard), shown in the
account's zone, with 5 minutes' grace (PAST_SEND_TIME_GRACE); savepaket's contract keeps "a time in the past means now"."""
from datetime import datetime, timedelta, timezone

import pytest

from smsplatform.campaigns import services
from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.models import Paket
from smsplatform.timeutil import PAST_SEND_TIME_GRACE, utcnow
from tests.campaigns.conftest import make_tag
from tests.support.newsletters import newsletter_state
from tests.support.rows import row_counts

UTC = timezone.utc
NOW = datetime(2030, 1, 1, 10, 0, 30, tzinfo=UTC)  # 11:00:30 in Berlin


@pytest.fixture
def berlin(owner):
    owner.timezone = "Europe/Berlin"
    db.session.commit()
    return owner


def create(owner, device, tag, time_to_send, **kwargs):
    return services.create_paket(owner, title="Sale", body="Hi", device_id=device.id, sim=0, tag_ids=[tag.id],
                                 time_to_send=time_to_send, **kwargs)


@pytest.mark.parametrize("schedule", [True, False])
@pytest.mark.parametrize("value, shown", [
    ("2030-01-01 10:54", "2030-01-01 10:54"),  # six minutes ago
    ("01.01.2030 09:00:00", "2030-01-01 09:00"),
    ("2029-12-31", "2029-12-31 00:00"),
    ("2030-01-01T09:00:00Z", "2030-01-01 10:00"),  # an offset given: shown in the account's zone
])
def test_a_time_in_the_past_is_refused_showing_it_in_the_account_s_zone(berlin, device, value, shown, schedule):
    tag = make_tag(berlin, "VIP")
    db.session.commit()
    before = row_counts()
    with pytest.raises(ValidationError) as refused:
        create(berlin, device, tag, value, schedule=schedule, now=NOW)
    assert refused.value.field == "time_to_send"
    assert refused.value.message == (f"the send time {shown} (Europe/Berlin) has passed: it is now 2030-01-01 11:00 "
                                     "there; choose a later time, or leave it empty to send now")
    assert row_counts() == before


@pytest.mark.parametrize("value, expected", [
    ("2030-01-01 11:00", datetime(2030, 1, 1, 10, 0, tzinfo=UTC)),  # this minute, typed to the minute
    ("2030-01-01 10:55:30", datetime(2030, 1, 1, 9, 55, 30, tzinfo=UTC)),  # the last moment of the grace
    ("2030-01-01 11:05", datetime(2030, 1, 1, 10, 5, tzinfo=UTC)),
    ("0", NOW), (None, NOW), ("", NOW),  # now, asked for as now
])
def test_now_the_current_minute_and_later_are_accepted(berlin, device, value, expected):
    paket = create(berlin, device, make_tag(berlin, "VIP"), value, now=NOW)
    assert (paket.status, paket.time_to_send) == (services.SCHEDULED, expected)


def test_the_grace_ends_five_minutes_back_as_on_the_send_page(owner, device):
    tag = make_tag(owner, "VIP")
    now = datetime(2030, 1, 1, 10, 0, 0, tzinfo=UTC)
    assert create(owner, device, tag, "2030-01-01 09:55:00", now=now).time_to_send == now - PAST_SEND_TIME_GRACE
    with pytest.raises(ValidationError, match="the send time 2030-01-01 09:54 \\(UTC\\) has passed"):
        create(owner, device, tag, "2030-01-01 09:54:59", now=now)


def test_savepaket_s_rule_keeps_a_past_time_and_starts_at_once(owner, device):
    tag = make_tag(owner, "VIP")
    paket = create(owner, device, tag, "2020-01-01 00:00", past_means_now=True)
    assert (paket.status, paket.time_to_send) == (services.SCHEDULED, datetime(2020, 1, 1, tzinfo=UTC))
    db.session.commit()
    assert services.start_due_newsletters() == 1


def test_an_edit_to_a_past_time_is_refused_and_nothing_changes(berlin, device):
    tag = make_tag(berlin, "VIP")
    paket = create(berlin, device, tag, "2030-01-02 09:00", now=NOW)
    db.session.commit()
    before = newsletter_state(paket.id)
    for schedule in (True, False):
        with pytest.raises(ValidationError, match=r"the send time 2030-01-01 08:00 \(Europe/Berlin\) has passed"):
            services.update_paket(berlin, paket.id, title="Edited", body="New", device_id=device.id, sim=0,
                                  tag_ids=[tag.id], time_to_send="2030-01-01 08:00", schedule=schedule, now=NOW)
        db.session.flush()
        assert newsletter_state(paket.id) == before
        db.session.rollback()


def test_a_draft_that_kept_a_time_now_past_must_be_given_another_to_be_saved(owner, device):
    """A draft's time passed while it waited: saving it again with that time is refused, without it or
    with a later one it is saved (and "Start now" needs no time at all)."""
    tag = make_tag(owner, "VIP")
    paket = create(owner, device, tag, "2030-01-01 12:00", schedule=False, now=NOW)
    db.session.commit()
    later = NOW + timedelta(days=1)
    edit = {"title": "Sale", "body": "Hi", "device_id": device.id, "sim": 0, "tag_ids": [tag.id],
            "schedule": False, "now": later}
    with pytest.raises(ValidationError):
        services.update_paket(owner, paket.id, time_to_send="2030-01-01 12:00", **edit)
    db.session.rollback()
    assert services.update_paket(owner, paket.id, time_to_send=None, **edit).time_to_send is None
    services.start_paket_now(owner, paket.id, now=later)
    assert db.session.get(Paket, paket.id).time_to_send == later


def test_the_real_clock_is_the_default(owner, device):
    tag = make_tag(owner, "VIP")
    past = (utcnow() - timedelta(minutes=10)).strftime("%Y-%m-%d %H:%M")
    with pytest.raises(ValidationError, match="has passed"):
        create(owner, device, tag, past)
