"""accept_messages: validation of whole batches, one row per recipient, wake-ups for ready messages."""
from datetime import datetime, timedelta

import pytest

from smsplatform.errors import ValidationError
from smsplatform.events import WAKE_KEY
from smsplatform.extensions import db
from smsplatform.messaging.service import (
    accept_message_ids, accept_messages, as_flag, as_int, available_slots, check_slot, split_recipients,
)
from smsplatform.models import Message, StoredObject
from smsplatform.timeutil import UTC, utcnow
from tests.conftest import create_device


def test_one_row_per_recipient_in_order(account):
    owner = account[0]
    device = create_device(owner)
    stored = accept_messages(owner, [
        {"sendto": "+4915752982212, +4915752982213", "body": "a", "device_id": device.id},
        {"sendto": "+4915752982214", "body": "b", "device_id": str(device.id), "urgent": "1", "customerid": "5"},
    ])
    assert [(m.phone, m.body) for m in stored] == [("+4915752982212", "a"), ("+4915752982213", "a"),
                                                   ("+4915752982214", "b")]
    assert [m.id for m in stored] == sorted(m.id for m in stored)
    assert (stored[2].priority, stored[2].customer_id, stored[0].priority) == (100, 5, 0)
    assert all(m.status == 1 and m.ready and m.account_id == owner.id for m in stored)


def test_ready_messages_wake_their_device_after_commit(account):
    owner = account[0]
    now_device, later_device = create_device(owner), create_device(owner)
    future = (utcnow() + timedelta(days=2)).strftime("%Y-%m-%d %H:%M:%S")
    accept_message_ids(owner, [{"sendto": "+4915752982212", "body": "now", "device_id": now_device.id},
                               {"sendto": "+4915752982212", "body": "later", "device_id": later_device.id,
                                "timetosend": future}])
    assert db.session.info[WAKE_KEY] == {now_device.id}
    later = db.session.query(Message).filter_by(device_id=later_device.id).one()
    assert later.ready is False and later.due_at == later.time_to_send
    db.session.rollback()


def test_default_device_and_single_message_errors(account):
    owner = account[0]
    device = create_device(owner)
    [message] = accept_messages(owner, [{"sendto": "+4915752982212", "body": "x"}], default_device_id=device.id)
    assert message.device_id == device.id
    with pytest.raises(ValidationError) as error:
        accept_messages(owner, [{"sendto": "+4915752982212", "body": " "}], default_device_id=device.id,
                        field_prefix=None)
    assert (error.value.message, error.value.field) == ("body is empty", "body")


def test_errors_name_the_index_and_field_and_store_nothing(account):
    owner = account[0]
    device = create_device(owner)
    good = {"sendto": "+4915752982212", "body": "x", "device_id": device.id}
    cases = [
        ({**good, "timetosend": "soon"}, "smsdata[2].timetosend must look like"),
        ({**good, "urgent": "very"}, "smsdata[2].urgent must be 0 or 1"),
        ({**good, "device_id": None}, "smsdata[2].device_id is required"),
        ({**good, "device_id": 10 ** 6}, "smsdata[2].device_id: device 1000000 not found"),
        ({**good, "sendto": ",,"}, "smsdata[2].sendto is empty"),
        ({**good, "sendto": ["+4915752982212", {"x": 1}]}, "smsdata[2].sendto must be a string"),
        ("text", "smsdata[2] must be an object"),
    ]
    for bad, expected in cases:
        with pytest.raises(ValidationError) as error:
            accept_messages(owner, [good, good, bad, good])
        assert error.value.message.startswith(expected), error.value.message
        assert error.value.field.startswith("smsdata[2]")
    assert db.session.query(Message).count() == 0


def test_media_must_belong_to_the_account(account, make_account):
    owner = account[0]
    stranger, _ = make_account(email="stranger@example.com")
    device = create_device(owner)
    foreign = StoredObject(account_id=stranger.id, backend="local", key="k1", content_type="image/png", size=1,
                           sha256="0" * 64)
    db.session.add(foreign)
    db.session.commit()
    with pytest.raises(ValidationError, match="unknown upload"):
        accept_messages(owner, [{"sendto": "+4915752982212", "device_id": device.id, "media": foreign}])


def test_value_helpers():
    assert [as_int(v, "n") for v in ("260", 260, 260.0, True, " 7 ", "", None)] == [260, 260, 260, 1, 7, None, None]
    assert [as_flag(v, "f") for v in ("1", 1, True, "true", "0", 0, "", None, "false")] == \
        [True, True, True, True, False, False, False, False, False]
    assert split_recipients("+49 157,  0157 1, 4915,,") == ["+49 157", "0157 1", " 4915"]
    with pytest.raises(ValidationError, match="n must be an integer"):
        as_int("12abc", "n")


def test_available_slots_are_what_check_slot_accepts(account):
    owner = account[0]
    cases = [([{"slotIndex": 0}], "", [0]), (None, "", [0, 1]), ([], "2,4", [0, 1, 2, 4]),
             ([{"simNumber": 2}], "", [1]), ([{"slotIndex": 1, "simNumber": 2}], "3", [1, 3]),
             ([{"slotIndex": 0}, {"slotIndex": 0}], "9,x,3", [0, 3]), ([{"slotIndex": 0}, {"slotIndex": 2}], "", [0]),
             ([{}], "", [0]), ([{}, {"carrierName": "x"}], "", [0, 1]), ([{}, {"slotIndex": 0}], "", [0, 1]),
             ([{"slotIndex": 2}], "", [])]
    for sim_cards, slots, expected in cases:
        device = create_device(owner, slots=slots, sim_cards=sim_cards)
        assert available_slots(device) == expected, (sim_cards, slots)
        for sim in set(range(6)) - set(expected):
            with pytest.raises(ValidationError):
                check_slot(device, sim)


def test_a_past_send_time_is_refused_past_the_grace_unless_the_caller_keeps_the_legacy_rule(make_account):
    owner, _token = make_account(email="berlin@example.com", timezone="Europe/Berlin")
    device = create_device(owner)
    now = datetime(2026, 1, 15, 12, 0, tzinfo=UTC)  # 13:00 in Berlin
    item = {"sendto": "+4915752982212", "body": "x", "device_id": device.id}
    # The legacy API's contract: any past time is now.
    [legacy] = accept_messages(owner, [{**item, "timetosend": "2019-07-01 23:50"}], now=now, past_means_now=True)
    assert legacy.ready and legacy.due_at == now
    # Otherwise a time that passed within the 5 minutes' grace still means now; one further back is refused,
    # in the account's zone.
    for local, kept in (("2026-01-15 12:57", True), ("2026-01-15 12:55", True), ("2026-01-15 12:54:59", False),
                        ("2026-01-14 13:00", False), ("2019-07-01 23:50", False)):
        call = {"now": now, "field_prefix": None}
        if kept:
            [message] = accept_messages(owner, [{**item, "timetosend": local}], **call)
            assert message.ready and message.due_at == now and message.time_to_send < now, local
            continue
        with pytest.raises(ValidationError) as error:
            accept_messages(owner, [{**item, "timetosend": local}], **call)
        assert error.value.field == "timetosend"
        assert error.value.message == (f"the send time {local[:16]} (Europe/Berlin) has passed: it is now "
                                       "2026-01-15 13:00 there; choose a later time, or leave it empty to send now")
    [later] = accept_messages(owner, [{**item, "timetosend": "2026-01-15 13:01"}], now=now)
    assert not later.ready and later.due_at == datetime(2026, 1, 15, 12, 1, tzinfo=UTC)
    # In a batch the refusal names the item, and nothing of the batch is stored.
    before = db.session.query(Message).count()
    with pytest.raises(ValidationError) as error:
        accept_message_ids(owner, [item, {**item, "timetosend": "2026-01-15 12:00"}], now=now)
    assert error.value.message.startswith("smsdata[1].timetosend: the send time 2026-01-15 12:00 (Europe/Berlin)")
    assert db.session.query(Message).count() == before
