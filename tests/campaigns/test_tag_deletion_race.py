"""Deleting a tag while a newsletter is saved with it as its audience, in each order, on real threads.

``delete_tag`` refuses while a newsletter not yet fanned out targets the tag. Its check and the newsletter's
save must not interleave: a newsletter committed after the check found none would lose its audience to
the deletion and go to nobody. Whichever comes first wins whole: the other one waits for it, then the
deletion is refused or the newsletter names the tag as gone.
"""
import threading

import pytest
from sqlalchemy import event, select

from smsplatform.campaigns import services
from smsplatform.contacts import services as contacts
from smsplatform.errors import ConflictError, NotFoundError
from smsplatform.extensions import db
from smsplatform.models import Account, Paket, Tag
from tests.campaigns.conftest import make_tag
from tests.support.threads import BARRIER_TIMEOUT, run_in_threads

# How long the first side, midway, gives the second to get through. A second side that can is the race
# this test is about; one that waits for the first side's lock comes back after the first has committed.
MIDWAY_WAIT = 1.5


@pytest.mark.parametrize("first", ["deletion", "newsletter"])
def test_a_tag_deletion_and_a_newsletter_saved_with_it_never_leave_the_newsletter_without_audience(
        app, owner, device, first):
    tag = make_tag(owner, "VIP")
    db.session.commit()
    account_id, tag_id, device_id = owner.id, tag.id, device.id

    role = threading.local()
    midway, second_done = threading.Event(), threading.Event()
    # Where the first side pauses: the deletion once it has checked for newsletters, the newsletter once its
    # audience is written (uncommitted).
    pauses_after = {"deletion": lambda sql: sql.startswith("SELECT") and "paket_tags" in sql,
                    "newsletter": lambda sql: sql.startswith("INSERT INTO paket_tags")}

    def pause_midway(_connection, _cursor, statement, _parameters, _context, _executemany):
        if getattr(role, "name", None) == first and pauses_after[first](statement) and not midway.is_set():
            midway.set()
            second_done.wait(MIDWAY_WAIT)

    def side(name, work):
        def run():
            role.name = name
            if name != first:
                assert midway.wait(BARRIER_TIMEOUT)
            try:
                work(db.session.get(Account, account_id))
                db.session.commit()
                return "done"
            except (ConflictError, NotFoundError) as refused:
                db.session.rollback()
                return refused.message
            finally:
                if name != first:
                    second_done.set()
        return run

    def delete_the_tag(account):
        contacts.delete_tag(account, tag_id)

    def save_a_newsletter(account):
        services.create_paket(account, title="Spring sale", body="Sale", device_id=device_id, sim=0,
                              tag_ids=str(tag_id), time_to_send=None)

    event.listen(db.engine, "after_cursor_execute", pause_midway)
    try:
        deletion, newsletter = run_in_threads(app, side("deletion", delete_the_tag),
                                              side("newsletter", save_a_newsletter))
    finally:
        event.remove(db.engine, "after_cursor_execute", pause_midway)

    assert midway.is_set()
    db.session.expire_all()
    newsletters = db.session.scalars(select(Paket)).all()
    if first == "deletion":  # the newsletter waited for it, then found the tag gone
        assert (deletion, newsletter) == ("done", f"tag {tag_id} not found")
        assert newsletters == [] and db.session.scalars(select(Tag)).all() == []
    else:  # the deletion waited for the newsletter, then saw it
        assert newsletter == "done"
        assert deletion.startswith("tag “VIP” is the audience of newsletter “Spring sale” (scheduled)")
        assert [[t.id for t in paket.tags] for paket in newsletters] == [[tag_id]]
