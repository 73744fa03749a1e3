"""The dashboard's routes that update pending messages a phone may be claiming at the same moment run their
whole request again when MariaDB picks them as a deadlock victim (``retry_on_deadlock``): the user sees the
change made, once, and never an error.

A deadlock is played by failing one statement, as InnoDB fails the victim's, with error 1213; the route
then rolls back and runs again.
"""
import re
from contextlib import contextmanager

from sqlalchemy import event

from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.messaging.service import accept_messages
from smsplatform.models import Message

DEADLOCK = "Deadlock found when trying to get lock; try restarting transaction"
CANCEL_UPDATE = "UPDATE messages SET status"  # a hand cancel's


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


def flashes(html: str) -> list[str]:
    return [re.sub(r"\s+", " ", text).strip() for text in re.findall(r'class="flash[^"]*"[^>]*>(.*?)</', html, re.S)]


def post(web, url, **form):
    response = web.post(url, data=form, follow_redirects=True)
    assert response.status_code == 200
    return flashes(response.get_data(as_text=True))


def committed(model, object_id):
    """As committed: the routes share this test's session, so what a rolled-back attempt left in it must
    not pass for stored."""
    db.session.rollback()
    return db.session.get(model, object_id)


def send(account, device, count=2) -> list[int]:
    numbers = ",".join(f"+49151000000{n:02d}" for n in range(count))
    messages = accept_messages(account, [{"sendto": numbers, "body": "hi", "device_id": device.id}], field_prefix=None)
    db.session.commit()
    return [m.id for m in messages]


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
