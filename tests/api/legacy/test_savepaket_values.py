"""savepaket hands ``time_to_send`` to the newsletter service as sent: one rule (the one messages use)
reads it. Likewise the tag ids: every encoding hands each form through (how a form is read, and which
are refused, is pinned once, in tests/campaigns/test_services.py)."""
from datetime import UTC, datetime

import pytest

from smsplatform.campaigns.services import start_due_newsletters
from smsplatform.extensions import db
from smsplatform.models import Message, Paket
from smsplatform.timeutil import utcnow
from tests.api.legacy.conftest import call, ok, refused
from tests.support.rows import row_counts


@pytest.fixture
def paket_params(client, owner):
    _, token, device = owner
    tag_id = ok(call(client, "savetag", {"token": token, "title": "VIP"}))["tag_id"]
    return {"token": token, "title": "Sale", "body": "20% off", "device_id": device.id, "tags": str(tag_id)}


def saved(client, params, encoding="json") -> Paket:
    return db.session.get(Paket, ok(call(client, "savepaket", params, encoding))["paket_id"])


@pytest.mark.parametrize("value", ["0", 0, 0.0, "", "   ", None])
def test_what_means_now_for_a_message_means_now_for_a_newsletter(client, owner, paket_params, value):
    before = utcnow()
    sms_id = ok(call(client, "addsms", {"token": owner[1], "sendto": "+4915752982212", "body": "Hi",
                                        "device_id": owner[2].id, "timetosend": value}, "json"))["sms_id"]
    paket = saved(client, {**paket_params, "time_to_send": value})
    message = db.session.get(Message, sms_id)
    after = utcnow()
    # the message: no time of its own, due at once and released to the phone at once
    assert message.time_to_send is None and message.ready
    assert before <= message.due_at <= after
    assert before <= paket.time_to_send <= after


@pytest.mark.parametrize("value", ["01.07.2031 10:00:00", "2031-07-01 10:00", "2031-07-01T12:00:00+02:00"])
def test_dates_in_every_accepted_shape(client, paket_params, value):
    assert saved(client, {**paket_params, "time_to_send": value}).time_to_send == datetime(2031, 7, 1, 10, 0,
                                                                                          tzinfo=UTC)


@pytest.mark.parametrize("value", ["2019-07-01 23:50:00", "01.07.2019 23:50:00", "2019-07-01"])
def test_a_time_in_the_past_means_now_and_is_kept_as_given(client, paket_params, value):
    """The contract: "A time in the past means 'send now'" (the dashboard refuses one instead). The newsletter
    starts at the scheduler's next run and keeps the time it was given, which its messages report."""
    paket = saved(client, {**paket_params, "time_to_send": value})
    assert paket.status == "scheduled" and paket.time_to_send.date() == datetime(2019, 7, 1).date()
    assert start_due_newsletters() == 1


@pytest.mark.parametrize("value", [True, {"at": "2031-07-01"}, ["2031-07-01"], "someday", "31.02.2031 10:00:00"])
def test_unreadable_times_are_refused_naming_the_field(client, paket_params, value):
    before = row_counts()
    refused(call(client, "savepaket", {**paket_params, "time_to_send": value}, "json"), "time_to_send")
    assert row_counts() == before


def test_every_encoding_hands_the_tag_id_forms_to_the_newsletter(client, owner, paket_params):
    token = owner[1]
    a, b = (ok(call(client, "savetag", {"token": token, "title": t}))["tag_id"] for t in ("A", "B"))
    for tags, encoding, expected in [
        (f"{a},{b}", "form", [a, b]), (f" {a} , {b} ,, {a}", "query", [a, b]), (a, "json", [a]),
        ([a, str(b)], "json", [a, b]), ([str(a), str(b), ""], "form", [a, b]), (float(a), "json", [a]),
    ]:
        paket = saved(client, {**paket_params, "tags": tags}, encoding)
        assert sorted(tag.id for tag in paket.tags) == expected, (tags, encoding)


@pytest.mark.parametrize("tags, words", [("", "tags is required"), (" , ", "tags is required"),
                                         ("a,b", "tags must be an integer")])
def test_unreadable_tags_are_named_before_the_newsletter_s_other_checks(client, paket_params, tags, words):
    before = row_counts()
    for change in ({"device_id": 999999}, {"title": "t" * 300}):
        refused(call(client, "savepaket", {**paket_params, **change, "tags": tags}, "json"), words)
    assert row_counts() == before
