"""Incoming SMS (``queue.record_incoming``): once per (device, external id), at the caller's clock, each
counted once in its number's conversation (the Inbox's row).

A repeat is refused by the unique key inside a SAVEPOINT, so the caller's transaction — the webhook
request's — goes on and commits what else it did.
"""
import json
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from smsplatform.devices import webhooks
from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.models import Contact, Conversation, Device, Message
from tests.conftest import database_is_mariadb
from tests.devices.helpers import pair
from tests.support.rows import row_counts
from tests.support.threads import BARRIER_TIMEOUT, run_in_threads

NOW = datetime(2026, 3, 4, 5, 6, 7, tzinfo=timezone.utc)
RECEIVED = datetime(2026, 3, 4, 5, 6, 1, tzinfo=timezone.utc)


def _incoming(device, external_id="sms-1", text="hi", **extra):
    return queue.record_incoming(device, phone="+15550001111", text=text, received_at=RECEIVED,
                                 external_id=external_id, **extra)


def _conversations() -> list[tuple]:
    return [tuple(row) for row in db.session.execute(
        select(Conversation.account_id, Conversation.phone, Conversation.last_at, Conversation.received)
        .order_by(Conversation.account_id, Conversation.phone))]


def _contact(account, phone):
    contact = Contact(account_id=account.id, phone=phone, phone_raw=phone)
    db.session.add(contact)
    db.session.flush()
    return contact


def test_a_repeated_report_is_stored_once_and_the_transaction_goes_on(app, account):
    device, _ = pair(account[0])
    assert _incoming(device) is not None
    db.session.commit()
    # a later request: something else first, then the same SMS again, then something else
    _contact(account[0], "+15550002222")
    assert _incoming(device, text="hi again") is None
    _contact(account[0], "+15550003333")
    db.session.commit()
    assert row_counts(Message, Contact) == {"messages": 1, "contacts": 2}
    assert db.session.scalar(select(Message.body)) == "hi"
    # the same external id on another device is another SMS
    other, _ = pair(account[0], name="other")
    assert _incoming(other) is not None


def test_the_number_is_kept_as_the_phone_wrote_it_and_a_repeat_written_otherwise_is_the_same_sms(app, account):
    device, _ = pair(account[0])
    first = queue.record_incoming(device, phone="0157 52982212", text="hi", received_at=RECEIVED, external_id="x1")
    assert first is not None and first.status == 5
    assert (first.sendto, first.phone) == ("0157 52982212", "015752982212")  # as written; the normalised form
    assert queue.record_incoming(device, phone="+4915752982212", text="hi", received_at=RECEIVED,
                                 external_id="x1") is None
    db.session.commit()
    assert row_counts(Message) == {"messages": 1}


def test_each_sms_counts_once_in_the_conversation_of_its_number_and_account(app, account, make_account):
    device, _ = pair(account[0])
    other_phone, _ = pair(account[0], name="other")
    other_account, _ = make_account(email="other@example.com")
    foreign, _ = pair(other_account)
    earlier = NOW - timedelta(minutes=5)
    assert queue.record_incoming(device, phone="+4915752982212", text="1", received_at=RECEIVED, external_id="a",
                                 now=NOW) is not None
    # the same number written otherwise, on the account's other phone, stored by a worker whose clock
    # read earlier: counted, and the conversation's time stays at its newest SMS
    assert queue.record_incoming(other_phone, phone="+49 1575 2982212", text="2", received_at=RECEIVED,
                                 external_id="b", now=earlier) is not None
    assert queue.record_incoming(device, phone="+4915752982212", text="1", received_at=RECEIVED, external_id="a",
                                 now=NOW + timedelta(minutes=1)) is None  # reported twice: not counted again
    later = NOW + timedelta(minutes=2)
    assert queue.record_incoming(device, phone="+4915752982212", text="3", received_at=RECEIVED, external_id="c",
                                 now=later) is not None
    assert queue.record_incoming(device, phone="SHOP", text="offer", received_at=RECEIVED, external_id="d",
                                 now=earlier) is not None  # a sender name, kept as the phone gave it
    assert queue.record_incoming(foreign, phone="+4915752982212", text="elsewhere", received_at=RECEIVED,
                                 external_id="a", now=earlier) is not None
    db.session.commit()
    assert _conversations() == [
        (account[0].id, "+4915752982212", later, 3),
        (account[0].id, "SHOP", earlier, 1),
        (other_account.id, "+4915752982212", earlier, 1),
    ]


def test_a_rolled_back_report_leaves_no_count(app, account):
    device, _ = pair(account[0])
    assert _incoming(device, external_id="x1", now=NOW) is not None
    db.session.commit()
    assert _incoming(device, external_id="x2", now=NOW + timedelta(seconds=1)) is not None
    db.session.rollback()  # the webhook request failed after storing it: the phone reports it again
    assert _conversations() == [(account[0].id, "+15550001111", NOW, 1)]


def test_an_integrity_error_other_than_a_repeat_is_raised(app, account):
    """None means "already stored" only when the (device, external id) row exists: here the device was
    deleted meanwhile (another transaction's work, here this one's) and its foreign key fails."""
    device, _ = pair(account[0])
    assert _incoming(device, external_id="x1") is not None
    db.session.commit()
    db.session.execute(delete(Device).where(Device.id == device.id), execution_options={"synchronize_session": False})
    with pytest.raises(IntegrityError):
        _incoming(device, external_id="x2")
    assert db.session.scalars(select(Message.external_id)).all() == ["x1"]  # only the SAVEPOINT was undone
    db.session.rollback()


def test_the_given_clock_is_the_stored_time(app, account):
    device, _ = pair(account[0])
    message = _incoming(device, text="STOP", now=NOW)
    db.session.commit()
    db.session.refresh(message)
    assert (message.created_at, message.updated_at, message.received_at) == (NOW, NOW, RECEIVED)
    contact = db.session.scalar(select(Contact).where(Contact.phone == "+15550001111"))
    assert contact.opted_out and contact.opted_out_at == NOW


def test_the_webhook_stores_an_incoming_sms_at_its_own_clock(app, account):
    device, _ = pair(account[0])
    raw = json.dumps({"id": "evt-1", "event": "sms:received", "payload": {
        "messageId": "m1", "message": "Hello", "phoneNumber": "+15559876543",
        "receivedAt": "2026-03-04T05:06:01.000Z"}}).encode()
    timestamp = str(int(NOW.timestamp()))
    signature = webhooks.signature_for(device.webhook_signing_key, raw, timestamp)
    assert webhooks.handle_webhook(device.id, raw, signature, timestamp, app.config, now=NOW) == "stored"
    db.session.commit()
    assert db.session.execute(select(Message.created_at, Message.received_at)).one() == (NOW, RECEIVED)


@pytest.mark.skipif(not database_is_mariadb(), reason="concurrent writers need MariaDB; SQLite serialises them")
def test_concurrent_duplicates_store_once_without_an_error(app, account):
    device, _ = pair(account[0])
    device_id, account_id = device.id, account[0].id
    barrier = threading.Barrier(8, timeout=BARRIER_TIMEOUT)  # lines up the inserts, after each load

    def report(index):
        def run():
            own = db.session.get(Device, device_id)
            barrier.wait()
            _contact(own.account, f"+1555000{index:04d}")  # the request's other work still commits
            stored = _incoming(own) is not None
            db.session.commit()
            return stored
        return run

    results = run_in_threads(app, *(report(i) for i in range(8)))
    assert sorted(results) == [False] * 7 + [True]
    db.session.commit()
    assert row_counts(Message) == {"messages": 1}
    assert [received for *_, received in _conversations()] == [1]
    assert db.session.scalar(select(func.count()).select_from(Contact).where(Contact.account_id == account_id)) == 8


@pytest.mark.skipif(not database_is_mariadb(), reason="concurrent writers need MariaDB; SQLite serialises them")
def test_a_duplicate_waiting_on_an_uncommitted_insert_is_refused_once_that_commits(app, account):
    """The race the unique key decides: the second insert waits for the first transaction, then fails
    as a duplicate, and only its SAVEPOINT is rolled back."""
    device, _ = pair(account[0])
    device_id = device.id
    inserted, release, started = threading.Event(), threading.Event(), threading.Event()

    def first():
        stored = _incoming(db.session.get(Device, device_id))
        inserted.set()
        release.wait(timeout=60)
        db.session.commit()
        return stored is not None

    def second():
        own = db.session.get(Device, device_id)
        inserted.wait(timeout=60)
        _contact(own.account, "+15550009999")
        started.set()
        stored = _incoming(own, text="the same SMS, reported twice")
        db.session.commit()
        return stored is not None

    def conductor():
        started.wait(timeout=60)
        time.sleep(0.5)  # the second insert is now waiting on the first one's row lock
        release.set()

    assert run_in_threads(app, first, second, conductor) == [True, False, None]
    db.session.commit()
    assert row_counts(Message, Contact) == {"messages": 1, "contacts": 1}
    assert [received for *_, received in _conversations()] == [1]
    assert db.session.scalar(select(Message.body)) == "hi"


@pytest.mark.skipif(not database_is_mariadb(), reason="concurrent writers need MariaDB; SQLite serialises them")
def test_sms_from_one_number_stored_at_once_on_two_phones_all_count(app, account):
    """Eight different SMS of one number, reported at the same moment to four workers per phone: each one's
    transaction adds one to the same conversation row, none is lost."""
    first, _ = pair(account[0])
    second, _ = pair(account[0], name="second")
    device_ids = [first.id, second.id]
    barrier = threading.Barrier(8, timeout=BARRIER_TIMEOUT)

    def report(index):
        def run():
            own = db.session.get(Device, device_ids[index % 2])
            barrier.wait()
            stored = _incoming(own, external_id=f"sms-{index}", now=NOW + timedelta(seconds=index))
            db.session.commit()
            return stored is not None
        return run

    assert run_in_threads(app, *(report(i) for i in range(8))) == [True] * 8
    db.session.commit()
    assert _conversations() == [(account[0].id, "+15550001111", NOW + timedelta(seconds=7), 8)]
