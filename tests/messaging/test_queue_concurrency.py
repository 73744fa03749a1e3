"""Concurrency proofs on MariaDB: real threads, each with its own session and connection."""
import threading

import pytest
from sqlalchemy import func, select, true

from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.models import Device, Message
from smsplatform.timeutil import utcnow
from tests.conftest import database_is_mariadb
from tests.devices.helpers import add_message, pair
from tests.support.threads import run_in_threads

pytestmark = pytest.mark.skipif(
    not database_is_mariadb(), reason="concurrent transactions with row locks (FOR UPDATE SKIP LOCKED) need MariaDB; SQLite serialises writers"
)
THREADS = 8


def _run(app, target, count=THREADS):
    """Start ``count`` threads at once, each in its own app context (own scoped session)."""
    return run_in_threads(app, *[target] * count)


def test_parallel_claims_never_hand_a_message_twice(app, account):
    device, _ = pair(account[0])
    for i in range(600):
        add_message(device, urgent=i % 7 == 0)
    db.session.commit()
    device_id = device.id

    def drain():
        taken = []
        while True:
            own = db.session.get(Device, device_id)
            batch = queue.claim_for_device(own, limit=25, redeliver_after_seconds=3600)
            ids = [m.id for m in batch]
            db.session.commit()
            if not ids:
                return taken
            taken += ids

    results = _run(app, drain)
    every = [i for r in results for i in r]
    assert len(every) == len(set(every)) == 600
    assert sum(1 for r in results if r) > 1  # the work really was shared
    db.session.commit()  # a fresh snapshot: see the threads' commits
    counts = dict(db.session.execute(select(Message.handed_count, func.count()).group_by(Message.handed_count)).all())
    assert counts == {1: 600}


def test_parallel_jobs_change_each_row_once(app, account):
    device, _ = pair(account[0])
    now = utcnow()
    for _ in range(300):
        add_message(device, ready=False, due_in=-5)
    for _ in range(100):
        add_message(device, status=2, taken_at=now.replace(year=now.year - 1), last_handed_at=now.replace(year=now.year - 1))
    db.session.commit()

    def jobs():
        released = queue.release_due_messages(now)
        db.session.commit()
        failed = queue.redeliver_or_fail_unacknowledged(app.config, now)["failed"]
        db.session.commit()
        return released, failed

    results = _run(app, jobs, count=4)
    assert sum(r[0] for r in results) == 300 and sum(r[1] for r in results) == 100
    db.session.commit()
    ready = db.session.scalar(select(func.count()).select_from(Message).where(Message.ready == true(), Message.status == 1))
    assert ready == 300


def test_parallel_incoming_and_pairing_races_store_once(app, account):
    from smsplatform.devices import pairing
    from smsplatform.errors import AuthenticationError
    from smsplatform.models import PairingCode

    device, _ = pair(account[0])
    code, _ = pairing.create_pairing_code(account[0], 600)
    db.session.commit()
    device_id = device.id

    def race():
        own = db.session.get(Device, device_id)
        stored = queue.record_incoming(own, phone="+15550001111", text="hi", received_at=utcnow(), external_id="sms-1")
        db.session.commit()
        try:
            pairing.consume_pairing_code(code)
            won = True
        except AuthenticationError:
            won = False
        db.session.commit()
        return stored is not None, won

    results = _run(app, race)
    assert sum(r[0] for r in results) == 1 and sum(r[1] for r in results) == 1
    db.session.commit()
    assert db.session.scalar(select(func.count()).select_from(Message)) == 1
    assert db.session.scalar(select(func.count()).select_from(PairingCode).where(PairingCode.used_at.is_not(None))) == 1


def test_parallel_reports_for_the_same_messages_only_move_forward(app, account):
    device, _ = pair(account[0])
    ids = [add_message(device, status=2, taken_at=utcnow(), last_handed_at=utcnow()).id for _ in range(40)]
    db.session.commit()
    device_id = device.id
    order = ["Pending", "Processed", "Sent", "Delivered", "Sent", "Processed", "Delivered", "Pending"]
    states = {"Pending": "2026-07-10T05:00:00.000Z", "Processed": "2026-07-10T05:00:01.000Z",
              "Sent": "2026-07-10T05:00:02.000Z", "Delivered": "2026-07-10T05:00:03.000Z"}
    counter = iter(range(THREADS))
    lock = threading.Lock()

    def report():
        with lock:
            state = order[next(counter)]
        own = db.session.get(Device, device_id)
        for message_id in ids:
            queue.apply_state_report(own, str(message_id), state, [], states)
            db.session.commit()
        return state

    _run(app, report)
    db.session.commit()
    rows = db.session.execute(select(Message.status, Message.queued_at, Message.sent_at, Message.delivered_at)).all()
    assert {r.status for r in rows} == {7}
    assert {(r.queued_at.second, r.sent_at.second, r.delivered_at.second) for r in rows} == {(0, 2, 3)}
