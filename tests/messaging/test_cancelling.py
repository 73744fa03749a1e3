"""Cancelling direct messages by hand: only pending ones, never one a phone has, race-safe against a claim."""
from datetime import timedelta

import pytest
from flask import current_app
from sqlalchemy import event, select

from smsplatform.campaigns import services as campaigns
from smsplatform.db_retry import retry_on_deadlock
from smsplatform.contacts import services as contacts
from smsplatform.errors import ConflictError, NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import cancelling, queue
from smsplatform.messaging import statuses as st
from smsplatform.models import Account, Device, Message
from smsplatform.timeutil import utcnow
from tests.conftest import database_is_mariadb
from tests.devices.helpers import add_message, pair
from tests.support.threads import run_in_threads


def newsletter_of(account, device):
    tag = contacts.create_tag(account, "VIP")
    contacts.create_contact(account, "+4915100000001", "Ada", [tag.id])
    return campaigns.create_paket(account, title="Spring sale", body="Hi", device_id=device.id, sim=0,
                                  tag_ids=[tag.id], time_to_send=None, schedule=False)


def state(message_id):
    db.session.expire_all()
    return db.session.get(Message, message_id)


def test_a_cancelled_message_is_never_handed_out_or_released(account):
    owner = account[0]
    device, _ = pair(owner)
    waiting = add_message(device).id
    scheduled = add_message(device, ready=False, due_in=3600).id
    db.session.commit()
    now = utcnow()
    for message_id in (waiting, scheduled):
        cancelled = cancelling.cancel_message(owner, message_id, now=now)
        assert (cancelled.status, cancelled.ready, cancelled.cancelled_at, cancelled.updated_at) == (
            st.CANCELLED, False, now, now)
        assert cancelled.failure_reason == cancelling.CANCEL_REASON
    db.session.commit()
    assert queue.claim_for_device(db.session.get(Device, device.id)) == []
    assert queue.release_due_messages(now + timedelta(days=1)) == 0
    assert {state(i).status for i in (waiting, scheduled)} == {st.CANCELLED}
    with pytest.raises(ConflictError, match="already cancelled"):
        cancelling.cancel_message(owner, waiting)


def test_a_message_the_phone_claimed_first_is_not_cancelled(account):
    owner = account[0]
    device, _ = pair(owner)
    message_id = add_message(device).id
    db.session.commit()
    [claimed] = queue.claim_for_device(db.session.get(Device, device.id))
    db.session.commit()
    assert claimed.id == message_id
    with pytest.raises(ConflictError) as error:
        cancelling.cancel_message(owner, message_id)
    assert error.value.message == f"message {message_id} cannot be cancelled: {cancelling.ON_PHONE}"
    assert "already handed to the phone" in error.value.message
    db.session.rollback()
    after = state(message_id)
    assert (after.status, after.cancelled_at) == (st.TAKEN, None)


def _just_before(statement, action):
    """Run ``action`` (in another thread, with its own session, committed) once, just before the next
    statement for which ``statement(text)`` is true: the other side of a race, landing between a read
    and the conditional write."""
    done = []
    app = current_app._get_current_object()

    def hook(_connection, _cursor, text, _parameters, _context, _executemany):
        if not done and statement(text):
            done.append(True)
            run_in_threads(app, action)

    event.listen(db.engine, "before_cursor_execute", hook)
    return lambda: event.remove(db.engine, "before_cursor_execute", hook)


def test_a_claim_landing_between_the_cancel_s_read_and_its_update_wins(app, account):
    owner = account[0]
    device, _ = pair(owner)
    message_id, device_id = add_message(device).id, device.id
    db.session.commit()
    claimed = []

    def phone_pulls():
        claimed.extend(m.id for m in queue.claim_for_device(db.session.get(Device, device_id)))
        db.session.commit()

    stop = _just_before(lambda text: text.startswith("UPDATE messages SET status"), phone_pulls)
    try:
        with pytest.raises(ConflictError, match="already handed to the phone"):
            cancelling.cancel_message(owner, message_id)
    finally:
        stop()
    db.session.rollback()
    assert claimed == [message_id] and state(message_id).status == st.TAKEN


def test_a_cancel_landing_between_the_claim_s_read_and_its_update_wins(app, account):
    owner = account[0]
    device, _ = pair(owner)
    message_id, other_id = add_message(device).id, add_message(device).id
    db.session.commit()

    def dashboard_cancels():
        cancelling.cancel_message(db.session.get(Account, owner.id), message_id)
        db.session.commit()

    # MariaDB: before the claim locks its candidates (FOR UPDATE SKIP LOCKED, which checks them again);
    # SQLite: before its conditional UPDATE.
    mariadb = database_is_mariadb()
    stop = _just_before(lambda text: "FOR UPDATE" in text if mariadb else text.startswith("UPDATE messages SET"),
                        dashboard_cancels)
    try:
        claimed = [m.id for m in queue.claim_for_device(db.session.get(Device, device.id))]
        db.session.commit()
    finally:
        stop()
    assert claimed == [other_id]  # the phone never gets the cancelled one
    assert (state(message_id).status, state(other_id).status) == (st.CANCELLED, st.TAKEN)


def test_what_cannot_be_cancelled_says_why_and_stays(account):
    owner = account[0]
    device, _ = pair(owner)
    paket = newsletter_of(owner, device)
    cases = [
        ("it was already handed to the phone", dict(status=st.QUEUED)),
        ("it was already sent", dict(status=st.SENT)),
        ("it was already sent", dict(status=st.DELIVERED)),
        ("it has already failed (not sent: no service)", dict(status=st.FAILED_NO_SERVICE)),
        ("it was already withdrawn: the recipient opted out", dict(status=st.OPTED_OUT)),
        ("an incoming message cannot be cancelled", dict(status=st.INCOMING, ready=False)),
        ("it belongs to the newsletter “Spring sale”: pause or cancel the newsletter on its page",
         dict(paket_id=paket.id)),
    ]
    made = [(why, add_message(device, **fields)) for why, fields in cases]
    db.session.commit()
    before = {m.id: (m.status, m.updated_at) for _why, m in made}
    for why, message in made:
        with pytest.raises(ConflictError) as error:
            cancelling.cancel_message(owner, message.id)
        assert error.value.message.startswith(f"message {message.id} cannot be cancelled: {why}")
        db.session.rollback()
    db.session.expire_all()
    assert {m.id: (m.status, m.updated_at) for m in db.session.query(Message)} == before


def test_another_account_s_or_a_missing_id_is_not_found_and_nothing_changes(account, make_account):
    owner = account[0]
    stranger, _ = make_account(email="stranger@example.com")
    theirs = add_message(pair(stranger)[0]).id
    mine = add_message(pair(owner)[0]).id
    db.session.commit()
    for message_id in (theirs, 999_999_999, 0, -1, 2 ** 63, True, str(mine), None):
        with pytest.raises(NotFoundError):
            cancelling.cancel_message(owner, message_id)
    with pytest.raises(NotFoundError):
        cancelling.cancel_messages(owner, [mine, theirs])  # all or nothing: one of them is not ours
    db.session.rollback()
    assert (state(theirs).status, state(mine).status) == (st.PENDING, st.PENDING)


def test_cancel_many_counts_what_it_did_and_why_not_the_rest(account):
    owner = account[0]
    device, _ = pair(owner)
    paket = newsletter_of(owner, device)
    pending = [add_message(device).id, add_message(device, ready=False, due_in=60).id]
    taken = add_message(device, status=st.TAKEN).id
    newsletters = add_message(device, paket_id=paket.id).id
    sent = add_message(device, status=st.SENT).id
    db.session.commit()
    outcome = cancelling.cancel_messages(owner, [str(i) for i in (*pending, taken, newsletters, sent)] + [pending[0]])
    db.session.commit()
    assert outcome == cancelling.CancelOutcome(cancelled=2, on_phone=1, newsletter=1, done=1)
    db.session.expire_all()
    statuses = dict(db.session.execute(select(Message.id, Message.status)).all())
    assert statuses == {pending[0]: st.CANCELLED, pending[1]: st.CANCELLED, taken: st.TAKEN,
                        newsletters: st.PENDING, sent: st.SENT}
    assert cancelling.cancel_messages(owner, pending) == cancelling.CancelOutcome(0, 0, 0, 2)  # twice: nothing more


def test_cancel_many_refuses_malformed_empty_and_too_many_ids(account):
    owner = account[0]
    mine = add_message(pair(owner)[0]).id
    db.session.commit()
    for bad in (["abc"], [str(mine), "1.5"], [""], [None], [True], ["-3"], [[mine]], [], None,
                [str(i) for i in range(1, cancelling.MAX_CANCEL + 2)]):
        with pytest.raises(ValidationError):
            cancelling.cancel_messages(owner, bad)
    for bad in ([" 1_0 "], ["+3"], [str(mine), "0x10"]):
        with pytest.raises(ValidationError, match="message_ids must be numbers, got"):
            cancelling.cancel_messages(owner, bad)
    for past_bigint in (["9" * 19], [str(2 ** 63)], [2 ** 63], ["9" * 20], [" " + "9" * 5000]):
        with pytest.raises(NotFoundError):
            cancelling.cancel_messages(owner, past_bigint)
    assert state(mine).status == st.PENDING


@pytest.mark.skipif(not database_is_mariadb(), reason="concurrent transactions with row locks need MariaDB")
def test_parallel_claims_and_cancels_take_each_message_once(app, account):
    owner = account[0]
    device, _ = pair(owner)
    ids = [add_message(device).id for _ in range(300)]
    db.session.commit()
    device_id, account_id = device.id, owner.id

    # A claim's UPDATE and a cancel's may deadlock on the queue index (InnoDB then rolls one of them back):
    # each is run again, as the phone API's and the dashboard's retry_on_deadlock do.
    def pull():
        batch = [m.id for m in queue.claim_for_device(db.session.get(Device, device_id), limit=10)]
        db.session.commit()
        return batch

    def claim():
        taken = []
        while True:
            batch = retry_on_deadlock(pull)()
            if not batch:
                return "claim", taken
            taken += batch

    def cancel(chunk):
        def once(message_id):
            try:
                cancelling.cancel_message(db.session.get(Account, account_id), message_id)
            except ConflictError:
                db.session.rollback()
                return False
            db.session.commit()
            return True

        def run():
            return "cancel", [i for i in chunk if retry_on_deadlock(once)(i)]
        return run

    results = run_in_threads(app, claim, claim, claim, cancel(ids[::2]), cancel(ids[1::2]), cancel(ids[::-1]))
    claimed = [i for kind, got in results if kind == "claim" for i in got]
    cancelled = [i for kind, got in results if kind == "cancel" for i in got]
    assert len(claimed) == len(set(claimed)) and len(cancelled) == len(set(cancelled))
    assert claimed and cancelled  # both sides won some
    assert not set(claimed) & set(cancelled) and sorted(claimed + cancelled) == ids
    db.session.commit()
    statuses = dict(db.session.execute(select(Message.id, Message.status)).all())
    assert {i for i, s in statuses.items() if s == st.CANCELLED} == set(cancelled)
    assert {i for i, s in statuses.items() if s == st.TAKEN} == set(claimed)
