"""The dashboard's routes that update pending messages a phone may be claiming at the same moment run their
whole request again when MariaDB picks them as a deadlock victim (``retry_on_deadlock``): the user sees the
change made, once, and never an error.

A deadlock is played by failing one statement, as InnoDB fails the victim's, with error 1213; the route
then rolls back and runs again. (Real deadlocks of these routes against phones claiming: test_queue_races.py.)
"""
from contextlib import contextmanager

import pytest
from sqlalchemy import event

from smsplatform.campaigns import services as campaigns
from smsplatform.contacts import services as contacts
from smsplatform.events import subscribe
from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.messaging.service import accept_messages
from smsplatform.models import Device, Message, Paket
from tests.support.pages import flashes
from tests.web.conftest import add_device

DEADLOCK = "Deadlock found when trying to get lock; try restarting transaction"
CANCEL_UPDATE = "UPDATE messages SET status"  # a hand cancel, a device's removal and a newsletter's cancel
READY_UPDATE = "UPDATE messages SET ready"  # a newsletter's pause and resume


@contextmanager
def deadlock_once(prefix: str):
    """The first statement starting with ``prefix`` fails as a deadlock victim's does (MariaDB error 1213,
    raised by the driver); yields the list of every statement run with that prefix."""
    error = db.engine.dialect.loaded_dbapi.OperationalError
    seen: list[str] = []

    def fail_the_first(_connection, _cursor, statement, _parameters, _context, _executemany):
        if statement.startswith(prefix):
            seen.append(statement)
            if len(seen) == 1:
                raise error(1213, DEADLOCK)

    event.listen(db.engine, "before_cursor_execute", fail_the_first)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", fail_the_first)


def post(web, url, **form):
    response = web.post(url, data=form, follow_redirects=True)
    assert response.status_code == 200
    return flashes(response.get_data(as_text=True))


def committed(model, object_id):
    """As committed: the routes share this test's session, so what a rolled-back attempt left in it must
    not pass for stored."""
    db.session.rollback()
    return db.session.get(model, object_id)


def committed_message(message_id) -> Message:
    return committed(Message, message_id)


def send(account, device, count=2) -> list[int]:
    numbers = ",".join(f"+49151000000{n:02d}" for n in range(count))
    messages = accept_messages(account, [{"sendto": numbers, "body": "hi", "device_id": device.id}], field_prefix=None)
    db.session.commit()
    return [m.id for m in messages]


def wake_ups(subscription, wait: float = 2.0) -> list[str]:
    """The events a device's stream got (the first may take up to ``wait`` seconds to arrive; then none more)."""
    got = []
    event_name = subscription.get(timeout=wait)
    while event_name is not None:
        got.append(event_name)
        event_name = subscription.get(timeout=0.3)
    return got


def test_cancelling_a_message_on_its_page_is_run_again_after_a_deadlock(web, me, device):
    [message_id] = send(me, device, 1)
    with deadlock_once(CANCEL_UPDATE) as run:
        shown = post(web, f"/messages/{message_id}/cancel")
    assert len(run) == 2  # the request ran again after the deadlock
    assert shown == [f"Message #{message_id} cancelled: it will not be sent."]
    assert committed(Message, message_id).status == st.CANCELLED


def test_cancelling_selected_messages_is_run_again_after_a_deadlock(web, me, device):
    ids = send(me, device)
    with deadlock_once(CANCEL_UPDATE) as run:
        shown = post(web, "/messages/cancel", message_ids=ids)
    assert len(run) == 2
    assert shown == ["2 messages cancelled."]  # counted once
    assert {committed(Message, i).status for i in ids} == {st.CANCELLED}


def test_removing_a_device_is_run_again_after_a_deadlock(web, me, device):
    ids = send(me, device)
    with deadlock_once(CANCEL_UPDATE) as run:
        shown = post(web, f"/devices/{device.id}/remove", queued="fail")
    assert len(run) == 2
    assert shown == ["Pixel removed. Its queued messages were cancelled."]
    assert committed(Device, device.id).revoked_at is not None
    assert {(m.status, m.failure_reason) for m in map(committed_message, ids)} == {(st.CANCELLED, "device was unpaired")}


def test_moving_a_removed_device_s_queue_is_run_again_after_a_deadlock_and_counted_once(web, me, device):
    other = add_device(me, name="Backup")
    db.session.commit()
    ids, other_id = send(me, device), other.id
    # The deadlock hits the removal's last statement, after the queue was moved and the new phone's
    # wake-up asked for: the second run moves the same messages again (the first run's move was rolled
    # back), reports them once, and the new phone is woken once, after the commit.
    with subscribe(other_id) as backup, deadlock_once(CANCEL_UPDATE) as run:
        shown = post(web, f"/devices/{device.id}/remove", queued="move", target_device_id=other_id)
        woken = wake_ups(backup)
    assert len(run) == 2
    assert shown == ["Pixel removed. 2 queued messages moved."]
    assert woken == ["MessageEnqueued"]  # once, for the run that was committed
    assert committed(Device, device.id).revoked_at is not None
    assert {(m.status, m.device_id) for m in map(committed_message, ids)} == {(st.PENDING, other_id)}


def running_newsletter(account, device, count=2) -> int:
    """A newsletter to ``count`` contacts, started: its messages wait for the phone."""
    tag = contacts.create_tag(account, "VIP")
    for n in range(count):
        contacts.create_contact(account, f"+49151000001{n:02d}", f"Contact {n}", [tag.id])
    paket = campaigns.create_paket(account, title="Spring", body="Hi", device_id=device.id, sim=0, tag_ids=[tag.id],
                                   time_to_send="0")
    db.session.commit()
    campaigns.start_due_newsletters()
    db.session.commit()
    return paket.id


@pytest.mark.parametrize("action, statement, past, state, ready, status", [
    ("pause", READY_UPDATE, "paused", campaigns.PAUSED, False, st.PENDING),
    ("resume", READY_UPDATE, "resumed", campaigns.RUNNING, True, st.PENDING),
    ("cancel", CANCEL_UPDATE, "cancelled", campaigns.CANCELLED, False, st.CANCELLED),
])
def test_a_newsletter_s_pause_resume_and_cancel_are_run_again_after_a_deadlock(web, me, device, action, statement,
                                                                              past, state, ready, status):
    paket_id, device_id = running_newsletter(me, device), device.id
    if action == "resume":
        campaigns.pause_paket(me, paket_id)
        db.session.commit()
    # The deadlock hits the messages' UPDATE, after the newsletter's own state change: that is rolled
    # back too, so the second run finds the newsletter as it was and makes the same change.
    with subscribe(device_id) as phone, deadlock_once(statement) as run:
        shown = post(web, f"/newsletters/{paket_id}/{action}")
        woken = wake_ups(phone, 2.0 if action == "resume" else 0.3)
    assert len(run) == 2
    assert shown == [f"Newsletter {past}."]
    assert woken == (["MessageEnqueued"] if action == "resume" else [])
    assert committed(Paket, paket_id).status == state
    db.session.rollback()
    assert {(m.status, m.ready) for m in db.session.query(Message).filter_by(paket_id=paket_id)} == {(status, ready)}


def test_deleting_a_newsletter_is_run_again_after_a_deadlock(web, me, device):
    # Its DELETE detaches the newsletter's messages (ON DELETE SET NULL), rows a phone's report may be
    # updating at the same moment.
    paket_id = running_newsletter(me, device)
    campaigns.cancel_paket(me, paket_id)
    db.session.commit()
    with deadlock_once("DELETE FROM pakets") as run:
        shown = post(web, f"/newsletters/{paket_id}/delete")
    assert len(run) == 2
    assert shown == ["Newsletter “Spring” deleted."]
    assert committed(Paket, paket_id) is None
    assert {m.paket_id for m in db.session.query(Message)} == {None}
