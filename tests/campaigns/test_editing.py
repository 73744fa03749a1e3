"""Editing a newsletter before it starts: the same checks as a new one, all or nothing, never after it started."""
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import delete, event, select, update

from smsplatform.campaigns import services
from smsplatform.errors import ConflictError, NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.models import Account, Message, Paket, StoredObject
from smsplatform.storage import get_storage
from smsplatform.storage.services import delete_unreferenced, public_url
from smsplatform.timeutil import utcnow
from tests.campaigns.conftest import BAD_CONTENT, bulk_contacts, image_of, make_tag, new_paket
from tests.conftest import create_device, database_is_mariadb
from tests.support.newsletters import newsletter_state
from tests.support.threads import BARRIER_TIMEOUT, run_in_threads

LATER = "2099-01-01 10:00"


def edit(owner, paket, tags, **changes):
    arguments = {"title": "Edited", "body": "New text", "device_id": paket.device_id, "sim": 0,
                 "tag_ids": [t.id for t in tags], "time_to_send": LATER, **changes}
    return services.update_paket(owner, paket.id, **arguments)


def test_a_draft_is_rewritten_and_scheduled_and_sends_what_it_now_says(owner, device):
    owner.timezone = "Europe/Berlin"
    vip, berlin = make_tag(owner, "VIP"), make_tag(owner, "Berlin")
    bulk_contacts(owner, {"+4915100000001": [vip.id], "+4915100000002": [berlin.id]})
    second = create_device(owner, name="Second")
    draft = new_paket(owner, device, [vip], body="Old text", schedule=False)
    assert draft.status == services.DRAFT and services.is_editable(draft)

    edit(owner, draft, [berlin], device_id=second.id, sim=1, time_to_send="2020-01-01 12:00",
         now=datetime(2020, 1, 1, 10, 30, tzinfo=timezone.utc))  # saved half an hour before its time
    db.session.commit()
    assert newsletter_state(draft.id)[:6] == ("Edited", "New text", second.id, 1, services.SCHEDULED,
                                              datetime(2020, 1, 1, 11, 0, tzinfo=timezone.utc))
    assert [t.id for t in draft.tags] == [berlin.id]

    assert services.start_due_newsletters() == 1
    db.session.commit()
    sent = db.session.execute(select(Message.phone, Message.body, Message.device_id, Message.sim)
                              .where(Message.paket_id == draft.id)).all()
    assert sent == [("+4915100000002", "New text", second.id, 1)]


def test_saving_as_draft_takes_a_scheduled_one_back_and_keeps_a_given_time(owner, device):
    tag = make_tag(owner, "VIP")
    paket = new_paket(owner, device, [tag], time_to_send=LATER)
    edit(owner, paket, [tag], schedule=False)
    assert (paket.status, paket.time_to_send) == (services.DRAFT, datetime(2099, 1, 1, 10, tzinfo=timezone.utc))
    edit(owner, paket, [tag], schedule=False, time_to_send=None)
    assert (paket.status, paket.time_to_send) == (services.DRAFT, None)
    before = utcnow()
    edit(owner, paket, [tag], time_to_send="0")
    assert paket.status == services.SCHEDULED and before <= paket.time_to_send <= utcnow()


def assert_unchanged(paket_id, before) -> None:
    """Nothing of a refused edit is in the transaction (flushed first, so a half-write would show), then
    it is rolled back as the request's would be."""
    db.session.flush()
    assert newsletter_state(paket_id) == before
    db.session.rollback()


@pytest.mark.parametrize("change, error, text", BAD_CONTENT)
def test_bad_input_is_refused_and_changes_nothing(owner, device, change, error, text):
    vip, berlin = make_tag(owner, "VIP"), make_tag(owner, "Berlin")
    paket = new_paket(owner, device, [vip], time_to_send=LATER)
    before = newsletter_state(paket.id)
    arguments = {"tag_ids": str(berlin.id), **change}
    with pytest.raises(error) as raised:
        edit(owner, paket, [], **arguments)
    assert text in raised.value.message
    assert_unchanged(paket.id, before)


@pytest.mark.parametrize("state", [services.RUNNING, services.PAUSED, services.CANCELLED, services.FINISHED])
def test_a_newsletter_that_started_or_ended_cannot_be_edited(owner, device, state):
    tag = make_tag(owner, "VIP")
    paket = new_paket(owner, device, [tag], time_to_send=LATER)
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=state))
    db.session.commit()
    before = newsletter_state(paket.id)
    assert not services.is_editable(paket)
    with pytest.raises(ConflictError, match=f"is {state}; only a draft or a scheduled one can be edited"):
        edit(owner, paket, [make_tag(owner, "Other")])
    assert_unchanged(paket.id, before)


def test_an_edit_after_the_scheduler_started_it_elsewhere_is_refused(owner, device):
    """The page (and this object) still say 'scheduled'; the conditional UPDATE reads the real state."""
    vip, other = make_tag(owner, "VIP"), make_tag(owner, "Other")
    paket = new_paket(owner, device, [vip], time_to_send=LATER)
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=services.RUNNING)
                       .execution_options(synchronize_session=False))  # the scheduler, in another process
    assert paket.status == services.SCHEDULED
    with pytest.raises(ConflictError, match="is running"):
        edit(owner, paket, [other])
    assert (paket.title, paket.status, [t.id for t in paket.tags]) == ("Sale", services.RUNNING, [vip.id])


def test_the_scheduler_does_not_start_one_rescheduled_for_later_after_it_listed_it(owner, device):
    """Due when the job read the list; moved to later before the job claimed it: it keeps its new time."""
    paket = new_paket(owner, device, [make_tag(owner, "VIP")], time_to_send=LATER)
    assert services._claim_if_due(paket.id, utcnow()) is False
    assert services._claim_if_due(paket.id, datetime(2099, 1, 1, 10, tzinfo=timezone.utc)) is True


def test_another_account_s_newsletter_tags_and_devices_are_not_found(owner, device, make_account):
    stranger = make_account(email="stranger@example.com")[0]
    mine = make_tag(owner, "Mine")
    paket = new_paket(owner, device, [mine], time_to_send=LATER)
    before = newsletter_state(paket.id)
    theirs = new_paket(stranger, create_device(stranger), [make_tag(stranger, "Theirs")], time_to_send=LATER)
    with pytest.raises(NotFoundError):
        edit(stranger, paket, [make_tag(stranger, "Theirs2")])
    with pytest.raises(NotFoundError):
        edit(owner, paket, [mine, make_tag(stranger, "Theirs3")])
    with pytest.raises(NotFoundError):
        edit(owner, paket, [mine], device_id=theirs.device_id)
    with pytest.raises(NotFoundError):
        edit(owner, paket, [mine], media=image_of(stranger))
    assert_unchanged(paket.id, before)


def test_the_image_stays_is_replaced_or_is_removed(owner, device, upload_root):
    tag = make_tag(owner, "VIP")
    first = image_of(owner)
    paket = new_paket(owner, device, [tag], body="", time_to_send=LATER, media=first)

    edit(owner, paket, [tag], body="")  # kept: the body may stay empty
    db.session.commit()
    assert (paket.media_object_id, paket.media_url, paket.body) == (first.id, public_url(first), "")

    second = image_of(owner, "spring.png")
    edit(owner, paket, [tag], body="", media=second)
    db.session.commit()
    assert (paket.media_object_id, paket.media_url) == (second.id, public_url(second))

    with pytest.raises(ValidationError, match="body is empty"):  # no image left: a text is needed
        edit(owner, paket, [tag], body=" ", media=None)
    db.session.rollback()
    edit(owner, paket, [tag], body="Text only", media=None)
    db.session.commit()
    assert (paket.media_object_id, paket.media_url, paket.body) == (None, None, "Text only")

    # The images it no longer holds are collected like any unreferenced upload.
    keys = {first.key, second.key}
    assert delete_unreferenced(older_than_seconds=0, now=utcnow() + timedelta(seconds=1)) == 2
    db.session.commit()
    assert db.session.scalars(select(StoredObject.id)).all() == []
    assert keys.isdisjoint(stored.key for stored in get_storage().list_keys())


def test_an_image_deleted_since_is_not_kept_as_a_dead_link(owner, device, upload_root):
    """Its stored object gone (media_object_id set NULL, the URL left): keeping it is refused, as "Start now" is;
    replacing or removing it is saved."""
    tag = make_tag(owner, "VIP")
    image = image_of(owner)
    paket = new_paket(owner, device, [tag], body="Hi", time_to_send=LATER, media=image)
    db.session.execute(delete(StoredObject).where(StoredObject.id == image.id))
    db.session.commit()
    before = newsletter_state(paket.id)
    assert (before.media_object_id, before.media_url) == (None, public_url(image))
    with pytest.raises(ValidationError, match="its image was deleted") as refused:
        edit(owner, paket, [tag])
    assert refused.value.field == "media"
    db.session.rollback()
    assert newsletter_state(paket.id) == before
    edit(owner, paket, [tag], media=None)
    db.session.commit()
    assert (paket.media_object_id, paket.media_url) == (None, None)


@pytest.mark.skipif(not database_is_mariadb(), reason="concurrent writers need MariaDB (SQLite serialises them)")
@pytest.mark.parametrize("first, outcome", [("scheduler", "refused"), ("edit", "saved")])
def test_an_edit_racing_the_scheduler_either_wins_whole_or_is_refused(app, owner, device, first, outcome):
    """The scheduler starts a due newsletter while the account rewrites it (new text, new tag), in each order:
    the first one's UPDATE of the newsletter has run, uncommitted and holding the row's lock, when the
    other's is sent. An edit that comes second is refused; one that comes first is what the scheduler
    sends. Either way the messages match exactly one version: never the old text to the new audience."""
    old_tag, new_tag = make_tag(owner, "Old"), make_tag(owner, "New")
    old_audience = {f"+49151{i:08d}" for i in range(300)}
    new_audience = {f"+49160{i:08d}" for i in range(300)}
    bulk_contacts(owner, {**{p: [old_tag.id] for p in old_audience}, **{p: [new_tag.id] for p in new_audience}})
    paket = new_paket(owner, device, [old_tag], body="Old text", time_to_send="2020-01-01 00:00", past_means_now=True)
    account_id, paket_id, device_id, new_tag_id = owner.id, paket.id, device.id, new_tag.id

    role = threading.local()
    its_update = {"scheduler": lambda sql: sql.startswith("UPDATE pakets SET status"),  # the claim
                  "edit": lambda sql: sql.startswith("UPDATE pakets SET title")}
    first_ran, second_sent = threading.Event(), threading.Event()

    def before(_connection, _cursor, statement, _parameters, _context, _executemany):
        name = getattr(role, "name", None)
        if name is not None and name != first and its_update[name](statement):
            second_sent.set()  # it now waits on the first one's row lock

    def after(_connection, _cursor, statement, _parameters, _context, _executemany):
        name = getattr(role, "name", None)
        if name == first and its_update[name](statement) and not first_ran.is_set():
            first_ran.set()
            assert second_sent.wait(BARRIER_TIMEOUT)
            time.sleep(0.2)  # the second UPDATE reaches the server and waits (the outcome cannot depend on it)

    def scheduler():
        role.name = "scheduler"
        if first == "edit":
            assert first_ran.wait(BARRIER_TIMEOUT)
        services.start_due_newsletters()
        db.session.commit()

    def edit_it():
        role.name = "edit"
        if first == "scheduler":
            assert first_ran.wait(BARRIER_TIMEOUT)
        try:
            services.update_paket(db.session.get(Account, account_id), paket_id, title="Edited", body="New text",
                                  device_id=device_id, sim=0, tag_ids=[new_tag_id], time_to_send="0")
        except ConflictError:
            return "refused"
        db.session.commit()
        return "saved"

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        _, edited = run_in_threads(app, scheduler, edit_it, timeout=60)
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    assert first_ran.is_set() and second_sent.is_set()
    assert edited == outcome
    db.session.rollback()
    sent = set(db.session.execute(select(Message.phone, Message.body).where(Message.paket_id == paket_id)).all())
    if edited == "refused":
        assert sent == {(p, "Old text") for p in old_audience}
    else:
        assert sent == {(p, "New text") for p in new_audience}
