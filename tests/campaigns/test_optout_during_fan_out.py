"""A STOP that arrives while a newsletter is being fanned out, on MariaDB (real threads, real row locks).

The fan-out is one ``INSERT … SELECT`` over the audience. Under READ COMMITTED a plain SELECT reads the
contacts as they were when the statement began, so an opt-out committed while the statement runs (before
it reached that contact) was not seen by it, and the opt-out's withdrawal could not see the message the
fan-out had not written yet: the number that said STOP got the newsletter all the same. The fan-out's read
of the audience now locks the contacts it reads (shared): an opt-out either commits first and the
fan-out skips the number, or waits for the fan-out and withdraws the message it wrote.

To land the opt-out inside the statement every run, another connection holds the newsletter's phone (its
row in ``devices``), so the fan-out stops at its first message, whose foreign key waits for that row: its
statement has begun, and has read the contacts (MariaDB reads them all before it writes, as the statement
also reads ``messages``). Meanwhile the last contact's STOP comes in: before the fix it committed at once,
now it waits for the fan-out's lock on that contact. Then the other connection lets go.
"""
import threading
import time

import pytest
from sqlalchemy import select, text

from smsplatform.campaigns import services
from smsplatform.contacts import optout
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.models import Account, Device, Message
from tests.campaigns.conftest import bulk_contacts, make_tag
from tests.conftest import database_is_mariadb
from tests.support.threads import run_in_threads

pytestmark = pytest.mark.skipif(not database_is_mariadb(),
                                reason="concurrent writers need MariaDB (SQLite serialises them)")

AUDIENCE = [f"+491510000{i:04d}" for i in range(200)]


def _lock_waits(connection) -> int:
    """How many transactions wait for a row lock now."""
    return connection.execute(text(
        "SELECT COUNT(*) FROM information_schema.INNODB_TRX WHERE trx_state = 'LOCK WAIT'")).scalar()


def _wait_until(condition, what, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"never: {what}"
        time.sleep(0.2)  # INNODB_TRX is a cache, refreshed only when it was not read for 0.1 s


@pytest.mark.parametrize("body", ["Big sale today", "Hi {first_name|there}, big sale today"])
def test_a_stop_committed_while_the_fan_out_runs_is_never_sent_the_newsletter(app, owner, device, body):
    vip = make_tag(owner, "VIP")
    bulk_contacts(owner, {phone: [vip.id] for phone in AUDIENCE}, names={p: "Ann Lee" for p in AUDIENCE})
    last = AUDIENCE[-1]
    paket = services.create_paket(owner, title="Sale", body=body, device_id=device.id, sim=0, tag_ids=str(vip.id),
                                  time_to_send="0")
    db.session.commit()
    account_id, paket_id = owner.id, paket.id

    holder = db.engine.connect()  # another transaction holding the newsletter's phone
    holder.execute(select(Device.id).where(Device.id == device.id).with_for_update())
    watchers = [db.engine.connect(), db.engine.connect()]
    stop_done = threading.Event()

    def scheduler():
        started = services.start_due_newsletters()
        db.session.commit()
        return started

    def stop():
        _wait_until(lambda: _lock_waits(watchers[0]) == 1, "the fan-out waits for the held phone")
        try:
            outcome = optout.handle_incoming(db.session.get(Account, account_id), last, "STOP")
            db.session.commit()
            return outcome
        finally:
            stop_done.set()

    def let_go():
        """Once the STOP is committed, or waits for the fan-out (whichever the locks make it do)."""
        try:
            _wait_until(lambda: _lock_waits(watchers[1]) == 1, "the fan-out waits for the held phone")
            _wait_until(lambda: stop_done.is_set() or _lock_waits(watchers[1]) == 2, "the STOP is done or waits")
        finally:
            holder.rollback()

    try:
        started, outcome, _ = run_in_threads(app, scheduler, stop, let_go, timeout=90)
    finally:
        for connection in (holder, *watchers):
            connection.close()

    assert (started, outcome) == (1, optout.OPTED_OUT)
    db.session.expire_all()
    sent = dict(db.session.execute(select(Message.phone, Message.status).where(Message.paket_id == paket_id)).all())
    assert sent.get(last, statuses.OPTED_OUT) == statuses.OPTED_OUT, "the number that said STOP is still sent it"
    assert {phone for phone, status in sent.items() if status == statuses.PENDING} == set(AUDIENCE[:-1])
