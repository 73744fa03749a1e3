"""Duplicating a newsletter: a new draft with its title (+ " (copy)"), text, device, SIM, tags and image,
never its send time, state, progress or messages; the shared image outlives either one's deletion."""
import threading

import pytest
from sqlalchemy import func, select, update

from smsplatform.campaigns import services
from smsplatform.contacts.services import delete_tag
from smsplatform.errors import NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.models import Message, Paket, StoredObject
from smsplatform.storage.services import public_url
from tests.campaigns.conftest import bulk_contacts, image_of, make_tag, new_paket
from tests.conftest import database_is_mariadb
from tests.support.files import files_under
from tests.support.newsletters import NewsletterState, newsletter_state


@pytest.fixture
def tags(owner):
    vip, berlin = make_tag(owner, "VIP"), make_tag(owner, "Berlin")
    bulk_contacts(owner, {"+4915100000001": [vip.id], "+4915100000002": [berlin.id]})
    return vip, berlin


def copy_of(owner, paket_id) -> Paket:
    copy = services.duplicate_paket(owner, paket_id)
    db.session.commit()
    return copy


def test_a_scheduled_one_is_copied_as_a_draft_without_its_time(owner, device, tags, upload_root):
    image = image_of(owner)
    original = new_paket(owner, device, list(tags), body="Hi {first_name|there}", time_to_send="2099-01-01 10:00",
                         media=image)
    original.sim = 1
    db.session.commit()
    before = newsletter_state(original.id)
    copy = copy_of(owner, original.id)
    assert copy.id != original.id and copy.account_id == owner.id
    assert newsletter_state(copy.id) == NewsletterState(
        title="Sale (copy)", body="Hi {first_name|there}", device_id=device.id, sim=1, status=services.DRAFT,
        time_to_send=None, media_object_id=image.id, media_url=public_url(image),
        tag_ids=sorted(t.id for t in tags))
    assert newsletter_state(original.id) == before  # the original is untouched
    assert len(files_under(upload_root)) == 1  # the image is shared, not stored twice
    copy = db.session.get(Paket, copy.id)
    assert (copy.started_at, copy.finished_at, copy.fanout_completed_at, copy.total_recipients) == (None,) * 4


def test_a_finished_one_is_copied_without_its_progress_and_the_copy_sends_anew(owner, device, tags):
    original = new_paket(owner, device, list(tags), time_to_send="0")
    assert services.start_due_newsletters() == 1
    db.session.execute(update(Message).values(status=statuses.DELIVERED))
    assert services.finish_completed() == 1
    db.session.commit()

    copy = copy_of(owner, original.id)
    assert copy.status == services.DRAFT and services.paket_stats(copy)["total"] == 0
    services.start_paket_now(owner, copy.id)
    assert services.start_due_newsletters() == 1
    db.session.commit()
    assert services.paket_stats(copy)["total"] == 2 and services.paket_stats(original)["delivered"] == 2


def test_a_long_title_is_cut_to_fit_the_suffix(owner, device, tags):
    original = new_paket(owner, device, list(tags), schedule=False)
    original.title = "x" * 250 + " yz"  # 253 characters
    db.session.commit()
    copy = copy_of(owner, original.id)
    assert len(copy.title) <= services.MAX_TITLE and copy.title == "x" * 248 + " (copy)"
    assert copy_of(owner, copy.id).title == copy.title  # no room for a second suffix
    short = new_paket(owner, device, list(tags), schedule=False)
    assert copy_of(owner, copy_of(owner, short.id).id).title == "Sale (copy) (copy)"


def test_what_changed_since_is_left_for_the_edit_to_ask(owner, device, tags):
    """A removed device (its newsletters' device_id is set NULL), a deleted tag: the copy is a draft
    without them, and the edit form asks for them."""
    vip, berlin = tags
    original = new_paket(owner, device, [vip, berlin], schedule=False)
    db.session.execute(update(Paket).where(Paket.id == original.id).values(device_id=None))
    services.cancel_paket(owner, original.id)  # a tag a draft targets cannot be deleted
    delete_tag(owner, berlin.id)
    db.session.commit()
    copy = copy_of(owner, original.id)
    state = newsletter_state(copy.id)
    assert (state.device_id, state.tag_ids, state.status) == (None, [vip.id], services.DRAFT)


def test_deleting_either_keeps_the_shared_image_until_both_are_gone(owner, device, tags, upload_root):
    image = image_of(owner)
    image_id = image.id
    original = new_paket(owner, device, list(tags), schedule=False, media=image)
    copy = copy_of(owner, original.id)
    services.delete_paket(owner, original.id)
    db.session.commit()
    assert db.session.get(StoredObject, image_id) is not None and len(files_under(upload_root)) == 1
    services.delete_paket(owner, copy.id)
    db.session.commit()
    assert db.session.get(StoredObject, image_id) is None and files_under(upload_root) == []


@pytest.mark.parametrize("paket_id, error", [
    (None, ValidationError), ("", ValidationError), ("abc", ValidationError), (999_999_999, NotFoundError),
    (2 ** 63, ValidationError), (-5, NotFoundError),  # past a BIGINT: out of range
])
def test_a_missing_or_malformed_id_copies_nothing(owner, device, tags, paket_id, error):
    new_paket(owner, device, list(tags), schedule=False)
    with pytest.raises(error):
        services.duplicate_paket(owner, paket_id)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Paket)) == 1


def test_another_accounts_newsletter_is_not_found(owner, their_draft):
    with pytest.raises(NotFoundError):
        services.duplicate_paket(owner, their_draft.id)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Paket)) == 1


@pytest.mark.skipif(database_is_mariadb(), reason="MariaDB locks the original (FOR UPDATE): the deletion waits "
                                                   "for the copy (test_deleting's racing tests)")
def test_a_copy_whose_original_is_deleted_between_its_read_and_its_insert_is_not_found(app, owner, device, tags,
                                                                                       monkeypatch):
    """SQLite takes no lock for the copy's read: a deletion committed in between removes the shared image,
    and the copy's insert then fails its foreign key. The copy is refused as not found, not a 500."""
    image = image_of(owner)
    paket = new_paket(owner, device, [tags[0]], schedule=False, media=image)
    db.session.commit()
    account_id, paket_id = owner.id, paket.id
    read_image_url = services.media_url_now

    def deleted_meanwhile(source):
        def delete_elsewhere():
            with app.app_context():
                services.delete_paket(db.session.get(type(owner), account_id), paket_id)
                db.session.commit()
                db.session.remove()

        thread = threading.Thread(target=delete_elsewhere)
        thread.start()
        thread.join(30)
        return read_image_url(source)

    monkeypatch.setattr(services, "media_url_now", deleted_meanwhile)
    with pytest.raises(NotFoundError, match="it was just deleted"):
        services.duplicate_paket(owner, paket_id)
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Paket)) == 0
