"""Deleting a newsletter: one that sent nothing goes whole; one that is over goes and its messages stay
in the history, detached; one still sending is refused and nothing changes."""
import threading
import time
from contextlib import contextmanager

import pytest
from sqlalchemy import delete, event, func, select, update

from smsplatform.campaigns import services
from smsplatform.errors import ConflictError, NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.messaging.service import accept_messages
from smsplatform.models import Account, Contact, Message, Paket, StoredObject, Tag, paket_tags
from tests.campaigns.conftest import bulk_contacts, image_of, make_tag, new_paket
from tests.conftest import database_is_mariadb
from tests.support.files import files_under
from tests.support.newsletters import newsletter_state
from tests.support.races import before_statement
from tests.support.threads import BARRIER_TIMEOUT, run_in_threads

PHONES = ("+4915100000001", "+4915100000002", "+4915100000003")


@pytest.fixture
def vip(owner):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {phone: [tag.id] for phone in PHONES})
    return tag


def links_of(paket_id) -> int:
    return db.session.scalar(select(func.count()).select_from(paket_tags).where(paket_tags.c.paket_id == paket_id))


def messages_of(paket_id) -> list[tuple]:
    return db.session.execute(select(Message.id, Message.phone, Message.body, Message.status, Message.paket_id)
                              .where(Message.paket_id == paket_id).order_by(Message.id)).all()


def started(owner, device, tags, **kwargs) -> Paket:
    paket = new_paket(owner, device, tags, **kwargs)
    assert services.start_due_newsletters() == 1
    db.session.commit()
    return paket


def finished(owner, device, tags, **kwargs) -> Paket:
    paket = started(owner, device, tags, **kwargs)
    db.session.execute(update(Message).where(Message.paket_id == paket.id).values(status=statuses.DELIVERED))
    assert services.finish_completed() == 1
    db.session.commit()
    return paket


def gone(paket_id) -> bool:
    db.session.expire_all()
    return db.session.get(Paket, paket_id) is None


def test_a_draft_goes_with_its_tag_links_and_its_image(owner, device, vip, upload_root):
    berlin = make_tag(owner, "Berlin")
    image = image_of(owner)
    paket = new_paket(owner, device, [vip, berlin], schedule=False, media=image)
    image_id = image.id
    assert links_of(paket.id) == 2 and len(files_under(upload_root)) == 1

    services.delete_paket(owner, paket.id)
    db.session.commit()
    assert gone(paket.id) and links_of(paket.id) == 0
    assert db.session.get(StoredObject, image_id) is None and files_under(upload_root) == []
    # the tags and their contacts are the account's, not the newsletter's
    assert {t.title for t in db.session.scalars(select(Tag))} == {"VIP", "Berlin"}
    assert db.session.scalar(select(func.count()).select_from(Contact)) == 3


def test_a_scheduled_one_is_deleted_before_the_scheduler_starts_it(owner, device, vip):
    paket = new_paket(owner, device, [vip], time_to_send="0")
    assert paket.status == services.SCHEDULED
    services.delete_paket(owner, str(paket.id))  # ids as the edges hand them
    db.session.commit()
    assert services.start_due_newsletters() == 0
    db.session.commit()
    assert gone(paket.id) and db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_a_finished_one_goes_and_its_messages_stay_in_the_history_detached(owner, device, vip, upload_root):
    image = image_of(owner)
    paket = finished(owner, device, [vip], body="Sale", media=image)
    before = messages_of(paket.id)
    assert len(before) == 3 and {row.status for row in before} == {statuses.DELIVERED}

    services.delete_paket(owner, paket.id)
    db.session.commit()
    assert gone(paket.id) and links_of(paket.id) == 0
    after = db.session.execute(select(Message.id, Message.phone, Message.body, Message.status, Message.paket_id,
                                      Message.media_object_id).order_by(Message.id)).all()
    assert [row[:4] for row in after] == [row[:4] for row in before]  # same messages, texts and statuses
    assert {row.paket_id for row in after} == {None}
    # the image its messages carry stays with them
    assert {row.media_object_id for row in after} == {image.id}
    assert db.session.get(StoredObject, image.id) is not None and len(files_under(upload_root)) == 1


def test_a_cancelled_one_goes_and_a_message_still_on_a_phone_carries_on(owner, device, vip):
    paket = started(owner, device, [vip])
    on_phone = messages_of(paket.id)[0].id
    db.session.execute(update(Message).where(Message.id == on_phone).values(status=statuses.TAKEN))
    services.cancel_paket(owner, paket.id)
    db.session.commit()

    services.delete_paket(owner, paket.id)
    db.session.commit()
    assert gone(paket.id)
    rows = db.session.execute(select(Message.id, Message.status, Message.paket_id).order_by(Message.id)).all()
    assert [(row.status, row.paket_id) for row in rows] == [
        (statuses.TAKEN, None), (statuses.CANCELLED, None), (statuses.CANCELLED, None)]


@pytest.mark.parametrize("state", [services.RUNNING, services.PAUSED])
def test_one_still_sending_is_refused_and_nothing_changes(owner, device, vip, state):
    image = image_of(owner)
    paket = started(owner, device, [vip], media=image)
    if state == services.PAUSED:
        services.pause_paket(owner, paket.id)
        db.session.commit()
    before, sent = newsletter_state(paket.id), messages_of(paket.id)

    with pytest.raises(ConflictError) as refused:
        services.delete_paket(owner, paket.id)
    assert refused.value.message == (f"newsletter {paket.id} is {state}; cancel it first (only a draft, scheduled, "
                                     "finished or cancelled newsletter can be deleted)")
    db.session.flush()  # a half-done deletion would show now
    assert newsletter_state(paket.id) == before and messages_of(paket.id) == sent
    assert links_of(paket.id) == 1 and db.session.get(StoredObject, image.id) is not None
    db.session.rollback()


def test_an_image_still_used_elsewhere_stays(owner, device, vip, upload_root):
    shared, sent_alone = image_of(owner, "shared.png"), image_of(owner, "direct.png")
    shared_id, sent_alone_id = shared.id, sent_alone.id
    first = new_paket(owner, device, [vip], schedule=False, media=shared)
    copy = new_paket(owner, device, [vip], schedule=False, media=shared)
    third = new_paket(owner, device, [vip], schedule=False, media=sent_alone)
    accept_messages(owner, [{"sendto": "+4915199999999", "body": "", "device_id": device.id, "media": sent_alone}],
                    field_prefix=None)
    db.session.commit()

    services.delete_paket(owner, first.id)
    services.delete_paket(owner, third.id)
    db.session.commit()
    assert db.session.get(StoredObject, shared_id) is not None  # the copy still has it
    assert db.session.get(StoredObject, sent_alone_id) is not None  # a direct message carries it
    assert len(files_under(upload_root)) == 2

    services.delete_paket(owner, copy.id)
    db.session.commit()
    assert db.session.get(StoredObject, shared_id) is None and len(files_under(upload_root)) == 1


def test_a_refused_deletion_keeps_the_image_file(owner, device, vip, upload_root):
    """The stored file goes only when the deletion commits: one rolled back keeps it."""
    image = image_of(owner)
    paket = new_paket(owner, device, [vip], schedule=False, media=image)
    paket_id, image_id = paket.id, image.id
    services.delete_paket(owner, paket_id)
    db.session.rollback()
    assert not gone(paket_id) and db.session.get(StoredObject, image_id) is not None
    assert len(files_under(upload_root)) == 1


@pytest.mark.parametrize("paket_id, error, text", [
    (None, ValidationError, "paket_id is required"),
    ("", ValidationError, "paket_id is empty"),
    ("abc", ValidationError, "paket_id must be an integer"),
    ("1.5", ValidationError, "paket_id must be an integer"),
    (999_999_999, NotFoundError, "newsletter 999999999 not found"),
    (2 ** 63, ValidationError, "paket_id is out of range"),  # past a BIGINT: SQLite could not even bind it
    ("9" * 19, ValidationError, "paket_id is out of range"),  # the same as text
    (-1, NotFoundError, "not found"),
])
def test_a_missing_or_malformed_id_changes_nothing(owner, device, vip, paket_id, error, text):
    paket = new_paket(owner, device, [vip], schedule=False)
    with pytest.raises(error) as raised:
        services.delete_paket(owner, paket_id)
    assert text in raised.value.message
    db.session.rollback()
    assert not gone(paket.id)


def test_another_accounts_newsletter_is_not_found_and_stays(owner, their_draft):
    with pytest.raises(NotFoundError):
        services.delete_paket(owner, their_draft.id)
    db.session.rollback()
    assert not gone(their_draft.id) and links_of(their_draft.id) == 1


def test_a_deletion_after_the_scheduler_started_it_is_refused(owner, device, vip):
    paket = new_paket(owner, device, [vip], time_to_send="0")
    paket_id = paket.id
    with before_statement("DELETE FROM pakets", lambda other: other.execute(
            update(Paket).where(Paket.id == paket_id).values(status=services.RUNNING))) as fired:
        with pytest.raises(ConflictError) as refused:
            services.delete_paket(owner, paket_id)
    assert fired and f"newsletter {paket_id} is running; cancel it first" in refused.value.message
    db.session.rollback()
    assert not gone(paket_id) and links_of(paket_id) == 1


def test_a_state_change_after_a_deletion_elsewhere_is_not_found(owner, device, vip):
    """Cancel pressed in one tab after Delete in another: not found (the page's 404), not a server error."""
    paket = new_paket(owner, device, [vip], time_to_send="2099-01-01 10:00")
    paket_id = paket.id
    with before_statement("UPDATE pakets SET status", lambda other: other.execute(
            delete(Paket).where(Paket.id == paket_id))) as fired:
        with pytest.raises(NotFoundError):
            services.cancel_paket(owner, paket_id)
    assert fired
    db.session.rollback()
    assert gone(paket_id)


def test_an_id_past_a_bigint_is_refused_by_every_newsletter_call(owner):
    """get_paket (behind every call naming a newsletter) refuses it as out of range before the database:
    SQLite cannot bind such a number (it was an OverflowError, a 500)."""
    for call in (services.get_paket, services.cancel_paket, services.start_paket_now):
        with pytest.raises(ValidationError, match="paket_id is out of range"):
            call(owner, 2 ** 63)


@contextmanager
def in_this_order(first: str, statements: dict):
    """Two threads, each naming itself in ``role.name``: ``first``'s statement (``statements[name]`` says
    which) has run, uncommitted and holding its row's lock, when the other one's is sent; so the
    second one waits on the lock, and sees the first one's outcome."""
    role = threading.local()
    first_ran, second_sent = threading.Event(), threading.Event()

    def before(_connection, _cursor, statement, _parameters, _context, _executemany):
        name = getattr(role, "name", None)
        if name is not None and name != first and statements[name](statement):
            second_sent.set()

    def after(_connection, _cursor, statement, _parameters, _context, _executemany):
        name = getattr(role, "name", None)
        if name == first and statements[name](statement) and not first_ran.is_set():
            first_ran.set()
            assert second_sent.wait(BARRIER_TIMEOUT)
            time.sleep(0.2)  # the second statement reaches the server and waits

    def wait_turn(name):
        role.name = name
        if name != first:
            assert first_ran.wait(BARRIER_TIMEOUT)

    event.listen(db.engine, "before_cursor_execute", before)
    event.listen(db.engine, "after_cursor_execute", after)
    try:
        yield wait_turn
    finally:
        event.remove(db.engine, "before_cursor_execute", before)
        event.remove(db.engine, "after_cursor_execute", after)
    assert first_ran.is_set() and second_sent.is_set()


def _deletion(account_id, paket_id):
    try:
        services.delete_paket(db.session.get(Account, account_id), paket_id)
    except (ConflictError, NotFoundError) as refused:
        return type(refused).__name__
    db.session.commit()
    return "deleted"


@pytest.mark.skipif(not database_is_mariadb(), reason="concurrent writers need MariaDB (SQLite serialises them)")
@pytest.mark.parametrize("first, deleted, started", [("scheduler", "ConflictError", 1), ("delete", "deleted", 0)])
def test_a_deletion_racing_the_scheduler_either_wins_or_is_refused(app, owner, device, vip, first, deleted, started):
    paket = new_paket(owner, device, [vip], time_to_send="0")
    account_id, paket_id = owner.id, paket.id
    statements = {"scheduler": lambda sql: sql.startswith("UPDATE pakets SET status"),
                  "delete": lambda sql: sql.startswith("DELETE FROM pakets")}
    with in_this_order(first, statements) as wait_turn:
        def scheduler():
            wait_turn("scheduler")
            count = services.start_due_newsletters()
            db.session.commit()
            return count

        def delete_it():
            wait_turn("delete")
            return _deletion(account_id, paket_id)

        assert run_in_threads(app, scheduler, delete_it, timeout=60) == [started, deleted]
    db.session.rollback()
    assert gone(paket_id) == (deleted == "deleted")
    assert len(messages_of(paket_id)) == 3 * started  # never messages of a deleted newsletter


@pytest.mark.skipif(not database_is_mariadb(), reason="concurrent writers need MariaDB (SQLite serialises them)")
@pytest.mark.parametrize("first", ["duplicate", "delete"])
def test_a_copy_racing_the_deletion_of_its_original_never_loses_the_image(app, owner, device, vip, first):
    image = image_of(owner)
    paket = new_paket(owner, device, [vip], schedule=False, media=image)
    account_id, paket_id, image_id = owner.id, paket.id, image.id
    statements = {"duplicate": lambda sql: sql.startswith("SELECT") and "FOR UPDATE" in sql,
                  "delete": lambda sql: sql.startswith("DELETE FROM pakets")}
    with in_this_order(first, statements) as wait_turn:
        def duplicate():
            wait_turn("duplicate")
            try:
                copy = services.duplicate_paket(db.session.get(Account, account_id), paket_id)
            except NotFoundError:
                return None
            db.session.commit()
            return copy.id

        def delete_it():
            wait_turn("delete")
            return _deletion(account_id, paket_id)

        copy_id, deleted = run_in_threads(app, duplicate, delete_it, timeout=60)
    db.session.rollback()
    assert deleted == "deleted" and gone(paket_id)
    if first == "duplicate":
        assert newsletter_state(copy_id).media_object_id == image_id
        assert db.session.get(StoredObject, image_id) is not None  # the copy holds it
    else:
        assert copy_id is None and db.session.scalar(select(func.count()).select_from(Paket)) == 0
        assert db.session.get(StoredObject, image_id) is None
