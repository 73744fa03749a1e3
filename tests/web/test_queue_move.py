"""Removing a device and moving its queue to another: the slots the other device can carry.

A WhatsApp or RCS slot (2 and up) exists only on phones that announced it; a message on such a slot moved
to a phone without it would wait there for ever (no phone claims it). A SIM the phone reported it lacks
would fail there. The move is refused then, and
the device stays as it was, also when that message was accepted just before the move began.
"""
from sqlalchemy import insert, select

from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.models import Device, Message
from smsplatform.timeutil import utcnow
from tests.devices.helpers import add_message
from tests.support.pages import error_for
from tests.support.races import before_statement
from tests.web.conftest import add_device


def where_messages_are() -> list[tuple[int, int, int]]:
    db.session.expire_all()
    return sorted(tuple(row) for row in db.session.execute(select(Message.device_id, Message.sim, Message.status)))


def move(web, source, target):
    return web.post(f"/devices/{source.id}/remove", data={"queued": "move", "target_device_id": target.id})


def test_a_queue_with_a_slot_the_target_lacks_is_not_moved_and_the_device_stays(web, me):
    source, target = add_device(me, name="Old phone", slots="2"), add_device(me, name="New phone")
    for sim in (0, 2, 2):
        add_message(source, sim=sim)
    db.session.commit()

    response = move(web, source, target)
    assert response.status_code == 400
    assert error_for(response.get_data(as_text=True), "target_device_id") == (
        f"New phone (#{target.id}) cannot send through WhatsApp Business, which queued messages use")
    assert where_messages_are() == [(source.id, 0, st.PENDING), (source.id, 2, st.PENDING), (source.id, 2, st.PENDING)]
    assert db.session.get(Device, source.id).revoked_at is None


def test_a_queue_on_a_sim_the_target_reported_it_lacks_is_not_moved(web, me):
    """The app fails a message for a SIM it does not have ("SIM 2 not found"): the same rule as accepting one."""
    source = add_device(me, name="Old phone")
    only_sim_2 = add_device(me, name="Second slot only", sim_cards=[{"slotIndex": 1, "simNumber": 2}])
    only_sim_1 = add_device(me, name="First slot only", sim_cards=[{"slotIndex": 0, "simNumber": 1}])
    for sim in (0, 1):
        add_message(source, sim=sim)
    db.session.commit()

    for target, lacking in ((only_sim_2, 0), (only_sim_1, 1)):
        response = move(web, source, target)
        assert response.status_code == 400
        assert f"{target.name} (#{target.id}) cannot send through SIM {lacking + 1}, which queued messages use" in error_for(
            response.get_data(as_text=True), "target_device_id")
    assert where_messages_are() == [(source.id, 0, st.PENDING), (source.id, 1, st.PENDING)]
    assert db.session.get(Device, source.id).revoked_at is None


def test_a_target_with_that_slot_takes_the_whole_queue(web, me):
    source, target = add_device(me, name="Old phone", slots="2,3"), add_device(me, name="New phone", slots="2,3")
    for sim in (1, 2, 3):
        add_message(source, sim=sim)
    db.session.commit()

    response = move(web, source, target)
    assert response.status_code == 302
    assert where_messages_are() == [(target.id, 1, st.PENDING), (target.id, 2, st.PENDING), (target.id, 3, st.PENDING)]
    assert db.session.get(Device, source.id).revoked_at is not None


def test_a_slot_message_accepted_just_before_the_move_stops_it(web, me):
    """An integration's addsms for the old phone's WhatsApp slot commits after the dashboard's page was
    checked, just before the move: it must not reach the new phone, which has no such slot."""
    source, target = add_device(me, name="Old phone", slots="2"), add_device(me, name="New phone")
    add_message(source, sim=0)
    db.session.commit()

    def an_integration_adds_a_whatsapp_message(connection):
        now = utcnow()
        connection.execute(insert(Message).values(
            account_id=me.id, device_id=source.id, sendto="+4915100000009", phone="+4915100000009", body="Hi",
            sim=2, status=st.PENDING, ready=True, due_at=now, created_at=now, updated_at=now))

    with before_statement("UPDATE messages SET device_id", an_integration_adds_a_whatsapp_message) as fired:
        response = move(web, source, target)
    assert fired, "the move never updated the queue"
    assert response.status_code == 400
    assert "cannot send through WhatsApp Business," in error_for(response.get_data(as_text=True), "target_device_id")
    assert where_messages_are() == [(source.id, 0, st.PENDING), (source.id, 2, st.PENDING)]
    assert db.session.get(Device, source.id).revoked_at is None
