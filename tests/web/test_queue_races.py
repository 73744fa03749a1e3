"""The dashboard's bulk changes of pending messages racing phones that claim the same rows, on MariaDB.

Removing a device (its queue cancelled or moved to another device) and a newsletter's pause, resume and
cancel each update many pending rows with one conditional ``UPDATE … WHERE status = 1`` while phones claim
them (``queue.claim_for_device``, also ``… WHERE status = 1``). Each message must go one way: claimed by one
phone, or cancelled / moved as the dashboard asked; none lost, none both. The two UPDATEs lock the queue
index and the rows in opposite orders, so InnoDB deadlocks them now and then (error 1213) and rolls back
the one that has done less: mostly the claim, at times the dashboard's (a queue move, whose first write is
that UPDATE). The victim runs again: the claim as the phone API does it, the dashboard's whole request by
the route's ``retry_on_deadlock``; the dashboard never answers an error.

Every test drives the real route through a signed-in client in one thread, against phones pulling in
others, and prints how many deadlocks (1213) and lock wait timeouts (1205) the engine saw.
"""
import re
import threading
from collections import Counter
from contextlib import contextmanager

import pytest
from sqlalchemy import event, select

from smsplatform.campaigns import services as campaigns
from smsplatform.db_retry import retry_on_deadlock
from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.messaging import statuses as st
from smsplatform.models import Device, Message, Paket
from tests.campaigns.conftest import bulk_contacts, make_tag
from tests.conftest import database_is_mariadb
from tests.devices.helpers import add_message
from tests.support.pages import flashes
from tests.support.threads import run_in_threads
from tests.web.conftest import add_device

pytestmark = pytest.mark.skipif(not database_is_mariadb(), reason="concurrent transactions with row locks need MariaDB")

CLAIMERS = 3  # phones pulling at once, each BATCH messages a pull
BATCH = 10
ROUNDS = 8  # each a fresh race: the dashboard's request and the phones' first pulls start together
PER_ROUND = 40


@contextmanager
def lock_errors():
    """Counts of the deadlocks (1213) and lock wait timeouts (1205) any connection of the engine hit inside
    the block, retried or not, by the side rolled back: a phone's claim, or the dashboard."""
    seen: Counter = Counter()

    def count(context):
        args = getattr(context.original_exception, "args", ())
        if args and args[0] in (1205, 1213):
            victim = "phone" if "handed_count" in (context.statement or "") else "dashboard"
            seen[f"{args[0]} {victim}"] += 1

    event.listen(db.engine, "handle_error", count)
    try:
        yield seen
    finally:
        event.remove(db.engine, "handle_error", count)


def phones(device_ids, finished: threading.Event):
    """A phone's pulling loop over ``device_ids`` (each pull retried as the phone API does), until the
    dashboard is done and a whole round finds nothing: the (device id, message id) pairs it won."""
    def pull(device_id):
        batch = [m.id for m in queue.claim_for_device(db.session.get(Device, device_id), limit=BATCH)]
        db.session.commit()
        return batch

    def run():
        won = []
        while True:
            done = finished.is_set()  # read before the round: a round after the last change finds what is left
            got = [(device_id, i) for device_id in device_ids for i in retry_on_deadlock(pull)(device_id)]
            won += got
            if not got and done:
                return "claim", won
            if not got:
                finished.wait(0.005)
    return run


def dashboard(client, requests, finished: threading.Event):
    """The signed-in user posting ``requests`` ((url, form) pairs) one after another: their responses'
    flashes, in order. Sets ``finished`` when done (or failed), so the phones stop."""
    def run():
        try:
            shown = []
            for url, form in requests:
                response = client.post(url, data=form, follow_redirects=True)
                assert response.status_code == 200, (url, response.status_code)
                shown.append(flashes(response.get_data(as_text=True)))
            return "dashboard", shown
        finally:
            finished.set()
    return run


def race(app, client, rounds):
    """Each of ``rounds`` ((device ids, requests) pairs) in turn: phones pulling those devices against the
    dashboard posting those requests, all released at once. What the phones won, as {message id: device id},
    and the dashboard's flashes, request by request. Fails if a message was won twice."""
    pairs, shown = [], []
    with lock_errors() as seen:
        try:
            for device_ids, requests in rounds:
                finished = threading.Event()
                results = run_in_threads(app, *(phones(device_ids, finished) for _ in range(CLAIMERS)),
                                         dashboard(client, requests, finished))
                pairs += [pair for kind, got in results if kind == "claim" for pair in got]
                shown += [got for kind, got in results if kind == "dashboard"][0]
        finally:
            print(f"\nlock errors: {dict(seen) or 'none'}")
    won = dict((message_id, device_id) for device_id, message_id in pairs)
    assert len(won) == len(pairs), "a message was claimed twice"
    return won, shown


def rows():
    """Every message as committed: {id: (status, device id, failure reason)}."""
    db.session.rollback()
    return {i: (status, device_id, reason) for i, status, device_id, reason in db.session.execute(
        select(Message.id, Message.status, Message.device_id, Message.failure_reason))}


def test_removing_devices_cancels_what_their_phones_have_not_claimed(app, web, me):
    devices = [add_device(me, name=f"Phone {n}") for n in range(ROUNDS)]
    ids = {device.id: [add_message(device).id for _ in range(PER_ROUND)] for device in devices}
    db.session.commit()

    won, shown = race(app, web, [([d], [(f"/devices/{d}/remove", {"queued": "fail"})]) for d in ids])

    assert all(flashed == [f"Phone {n} removed. Its queued messages were cancelled."]
               for n, flashed in enumerate(shown)), shown
    after = rows()
    assert sorted(after) == sorted(i for chunk in ids.values() for i in chunk)  # none lost
    for device_id, chunk in ids.items():
        for message_id in chunk:
            status, on, reason = after[message_id]
            assert on == device_id
            if message_id in won:  # the phone's: handed to it, never cancelled
                assert (status, won[message_id]) == (st.TAKEN, device_id)
            else:  # the dashboard's: cancelled, never handed out
                assert (status, reason) == (st.CANCELLED, "device was unpaired"), message_id
    assert won and len(won) < len(after)  # both sides won some
    assert all(db.session.get(Device, d).revoked_at is not None for d in ids)


def test_moving_queues_to_another_device_moves_what_the_phones_have_not_claimed(app, web, me):
    sources = [add_device(me, name=f"Old phone {n}") for n in range(ROUNDS)]
    target = add_device(me, name="New phone")
    ids = {device.id: [add_message(device).id for _ in range(PER_ROUND)] for device in sources}
    db.session.commit()
    target_id = target.id

    form = {"queued": "move", "target_device_id": target_id}
    won, shown = race(app, web, [([d, target_id], [(f"/devices/{d}/remove", form)]) for d in ids])

    after = rows()
    assert sorted(after) == sorted(i for chunk in ids.values() for i in chunk)  # none lost
    for source_id, chunk in ids.items():
        for message_id in chunk:
            status, on, _reason = after[message_id]
            assert on in (source_id, target_id), message_id
            if message_id in won:  # claimed once, by the phone that held it then
                assert (status, won[message_id]) == (st.TAKEN, on), message_id
            else:  # moved, still waiting for the new phone; nothing stays behind or is cancelled
                assert (status, on) == (st.PENDING, target_id), message_id
    # each removal reported what it moved (once, however often it was run): the new phone has just those
    moved = [int(re.fullmatch(rf"Old phone {n} removed\.(?: (\d+) queued messages? moved\.)?", flashed[0]).group(1)
                 or 0) for n, flashed in enumerate(shown)]
    assert sum(moved) == sum(1 for _status, on, _reason in after.values() if on == target_id)
    assert any(moved) and any(on != target_id for on in won.values())  # both sides won some
    assert all(db.session.get(Device, d).revoked_at is not None for d in ids)


def test_pausing_resuming_and_cancelling_newsletters_while_their_phone_claims(app, web, me):
    tag = make_tag(me, "VIP")
    bulk_contacts(me, {f"+49151000{n:05d}": [tag.id] for n in range(PER_ROUND)})
    pakets = {}
    for n in range(ROUNDS):  # each on its own phone, so a round's phones see only its newsletter
        device = add_device(me, name=f"Phone {n}")
        pakets[campaigns.create_paket(me, title=f"Sale {n}", body="Hi", device_id=device.id, sim=0,
                                      tag_ids=[tag.id], time_to_send="0").id] = device.id
    db.session.commit()
    campaigns.start_due_newsletters()
    db.session.commit()
    ids = dict(db.session.execute(select(Message.id, Message.paket_id)).all())
    assert len(ids) == ROUNDS * PER_ROUND

    # Every other newsletter is cancelled at once; the others are paused, resumed (the phone takes some
    # again), paused again, then cancelled: a pause, a resume and a cancel each race the phone's pulls.
    steps = {p: ("cancel",) if n % 2 == 0 else ("pause", "resume", "pause", "cancel") for n, p in enumerate(pakets)}
    won, shown = race(app, web, [([d], [(f"/newsletters/{p}/{action}", {}) for action in steps[p]])
                                 for p, d in pakets.items()])

    past = {"pause": "paused", "resume": "resumed", "cancel": "cancelled"}
    assert shown == [[f"Newsletter {past[action]}."] for p in pakets for action in steps[p]]
    after = rows()
    assert sorted(after) == sorted(ids)  # none lost
    for message_id, (status, _on, _reason) in after.items():
        # the phone's, or cancelled with its newsletter; nothing left pending
        assert status == (st.TAKEN if message_id in won else st.CANCELLED), message_id
    assert won and len(won) < len(after)  # both sides won some
    for paket_id in pakets:
        paket = db.session.get(Paket, paket_id)
        assert paket.status == campaigns.CANCELLED
        assert campaigns.paket_stats(paket)["cancelled"] == sum(
            1 for i, p in ids.items() if p == paket_id and i not in won)
