"""Deleting a tag while a newsletter or a contact is saved with it, in each order, on real threads.

``delete_tag`` refuses while a newsletter not yet fanned out targets the tag. The deletion and a save must
not interleave. A newsletter committed after the deletion's check found none would lose its audience
to the deletion and go to nobody. A save that read the tag just before the deletion committed would meet
its foreign key (a 500). Whichever comes first wins whole, and the other one waits for it. Then the
deletion is refused (or takes the contact's new tag with it), or the save names the tag as gone.
"""
import threading

import pytest
from sqlalchemy import event, select

from smsplatform.campaigns import services as campaigns
from smsplatform.contacts import services as contacts
from smsplatform.errors import ConflictError, NotFoundError
from smsplatform.extensions import db
from smsplatform.models import Account, Contact, Paket, Tag
from tests.conftest import create_device
from tests.support.threads import BARRIER_TIMEOUT, run_in_threads

# How long the first side, midway, gives the second to get through. A second side that can is the race
# this test is about; one that waits for the first side's lock comes back after the first has committed.
MIDWAY_WAIT = 1.5


def save_a_newsletter(account, tag_id, device_id):
    campaigns.create_paket(account, title="Spring sale", body="Sale", device_id=device_id, sim=0,
                           tag_ids=str(tag_id), time_to_send=None)


def add_a_contact(account, tag_id, _device_id):  # the dashboard's contact form
    contacts.create_contact(account, "+4915100000001", "Ada", [tag_id])


def savecontact(account, tag_id, _device_id):  # the legacy call
    contacts.save_contact(account, "+4915100000001", tag_id, name="Ada")


SAVES = {"newsletter": save_a_newsletter, "contact form": add_a_contact, "savecontact": savecontact}


def checked_for_newsletters(sql: str) -> bool:
    return sql.startswith("SELECT") and "paket_tags" in sql


def read_the_tag(sql: str) -> bool:
    return sql.startswith("SELECT") and "FROM tags" in sql


# Where each side pauses when it comes first: the deletion once it has checked for newsletters, a save once
# it has read the tag it attaches.
PAUSES_AFTER = {"deletion": checked_for_newsletters, **{save: read_the_tag for save in SAVES}}


@pytest.mark.parametrize("save", list(SAVES))
@pytest.mark.parametrize("first", ["deletion", "save"])
def test_a_tag_deletion_and_a_save_with_the_tag_never_interleave(app, account, first, save):
    owner = account[0]
    device = create_device(owner)
    tag = Tag(account_id=owner.id, title="VIP", title_key="vip")
    db.session.add(tag)
    db.session.commit()
    account_id, tag_id, device_id = owner.id, tag.id, device.id
    first_side = "deletion" if first == "deletion" else save

    role = threading.local()
    midway, second_done = threading.Event(), threading.Event()

    def pause_midway(_connection, _cursor, statement, _parameters, _context, _executemany):
        if getattr(role, "name", None) == first_side and PAUSES_AFTER[first_side](statement) and not midway.is_set():
            midway.set()
            second_done.wait(MIDWAY_WAIT)

    def side(name, work):
        def run():
            role.name = name
            if name != first_side:
                assert midway.wait(BARRIER_TIMEOUT)
            try:
                work(db.session.get(Account, account_id))
                db.session.commit()
                return "done"
            except (ConflictError, NotFoundError) as refused:
                db.session.rollback()
                return refused.message
            finally:
                if name != first_side:
                    second_done.set()
        return run

    event.listen(db.engine, "after_cursor_execute", pause_midway)
    try:
        deletion, saved = run_in_threads(app, side("deletion", lambda a: contacts.delete_tag(a, tag_id)),
                                         side(save, lambda a: SAVES[save](a, tag_id, device_id)))
    finally:
        event.remove(db.engine, "after_cursor_execute", pause_midway)

    assert midway.is_set()
    db.session.expire_all()
    newsletters, people = db.session.scalars(select(Paket)).all(), db.session.scalars(select(Contact)).all()
    if first == "deletion":  # the save waited for it, then found the tag gone: nothing of it is stored
        assert (deletion, saved) == ("done", f"tag {tag_id} not found")
        assert newsletters == [] and people == [] and db.session.scalars(select(Tag)).all() == []
    elif save == "newsletter":  # the deletion waited for the newsletter, then saw it
        assert saved == "done"
        assert deletion.startswith("tag “VIP” is the audience of newsletter “Spring sale” (scheduled)")
        assert [[t.id for t in paket.tags] for paket in newsletters] == [[tag_id]]
    else:  # the deletion waited for the contact, then took its new tag too
        assert (deletion, saved) == ("done", "done")
        assert [(c.phone, c.tags) for c in people] == [("+4915100000001", [])]
