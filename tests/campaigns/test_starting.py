"""Starting a newsletter whose saved content went stale since it was saved (its device removed, a SIM or
channel gone, its tags deleted, its image deleted): "Start now" checks it again as saving does and refuses
it, unchanged; the scheduler cancels a scheduled one when its time comes instead of sending nothing for
ever, and says why."""
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from smsplatform.campaigns import services
from smsplatform.contacts.services import delete_tag
from smsplatform.devices.services import revoke_device
from smsplatform.errors import ConflictError, ValidationError
from smsplatform.extensions import db
from smsplatform.models import Device, Message, Paket, StoredObject
from smsplatform.timeutil import utcnow
from tests.campaigns.conftest import bulk_contacts, image_of, make_tag, new_paket
from tests.conftest import create_device
from tests.support.newsletters import newsletter_state

LATER = "2099-01-01 10:00"


@pytest.fixture
def vip(owner):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+4915100000001": [tag.id], "+4915100000002": [tag.id]})
    return tag


def device_removed(owner, device, paket):
    revoke_device(owner, device.id)
    return paket.id, f"its device Test phone (#{device.id}) was removed"


def device_deleted(owner, device, paket):
    db.session.execute(delete(Device).where(Device.id == device.id))  # its newsletters' device_id: NULL
    return paket.id, "its device was removed"


def second_sim_gone(owner, device, paket):
    paket.sim = 1
    db.session.flush()
    device.sim_cards = [{"slotIndex": 0}]
    return paket.id, f"sim 1 (SIM 2): device {device.id} has no second SIM card; use sim 0"


def channel_gone(owner, device, paket):
    paket.sim = 3
    db.session.flush()
    device.extra_slots = ""
    return paket.id, f"sim 3 (WhatsApp) is not available on device {device.id}"


def image_deleted(owner, device, paket):
    db.session.execute(delete(StoredObject).where(StoredObject.id == paket.media_object_id))  # media_object_id: NULL
    return paket.id, "its image was deleted"


def tags_deleted(owner, device, paket):
    """A tag a draft targets cannot be deleted; a copy of a cancelled newsletter whose tags were deleted has none."""
    services.cancel_paket(owner, paket.id)
    for tag in list(paket.tags):
        delete_tag(owner, tag.id)
    return services.duplicate_paket(owner, paket.id).id, "its tags were deleted: it has no recipients"


def personalised_past_the_limit(owner, device, paket):
    """Saved before a body was checked as personalised: 300 names of up to 255 characters each (on MariaDB
    such messages were cut short at 64 KB without a word)."""
    paket.body = "{name} " * 300
    db.session.flush()
    return paket.id, ("body is too long once personalised: a contact's name (up to 255 characters) or number in "
                      "its placeholders could make a message of 76800 characters, at most 5000")


STALE = [device_removed, device_deleted, second_sim_gone, channel_gone, image_deleted, personalised_past_the_limit]


@pytest.fixture
def phone(owner):
    """A phone with two SIMs and WhatsApp (slot 3), so every newsletter below was valid when saved."""
    return create_device(owner, slots="3", sim_cards=[{"slotIndex": 0}, {"slotIndex": 1}])


@pytest.mark.parametrize("stale", [*STALE, tags_deleted], ids=lambda f: f.__name__)
@pytest.mark.parametrize("time_to_send, schedule", [(None, False), (LATER, True)], ids=["draft", "scheduled later"])
def test_start_now_refuses_what_saving_would_refuse_and_changes_nothing(owner, phone, vip, upload_root, stale,
                                                                        time_to_send, schedule):
    paket = new_paket(owner, phone, [vip], time_to_send=time_to_send, schedule=schedule, media=image_of(owner))
    paket_id, message = stale(owner, phone, paket)
    db.session.commit()
    before = newsletter_state(paket_id)
    with pytest.raises(ValidationError) as refused:
        services.start_paket_now(owner, paket_id)
    assert refused.value.message == message
    db.session.rollback()
    assert newsletter_state(paket_id) == before
    assert db.session.scalar(select(func.count()).select_from(Message)) == 0


def test_start_now_of_a_newsletter_that_started_meanwhile_names_its_state_not_its_device(owner, phone, vip):
    paket = new_paket(owner, phone, [vip])
    services.start_due_newsletters()
    revoke_device(owner, phone.id)
    db.session.commit()
    with pytest.raises(ConflictError, match="is running"):
        services.start_paket_now(owner, paket.id)


def test_start_now_of_a_sound_draft_still_starts(owner, phone, vip, upload_root):
    paket = new_paket(owner, phone, [vip], time_to_send=None, schedule=False, media=image_of(owner))
    paket.sim = 3
    db.session.commit()
    services.start_paket_now(owner, paket.id)
    assert services.start_due_newsletters() == 1
    db.session.commit()
    assert services.paket_stats(paket)["total"] == 2


@pytest.mark.parametrize("stale", STALE, ids=lambda f: f.__name__)
def test_the_scheduler_cancels_a_newsletter_that_can_no_longer_be_sent_and_says_why(owner, phone, vip, upload_root,
                                                                                     stale):
    """Before, it was started: running for ever, its messages waiting for a phone that never fetches them."""
    paket = new_paket(owner, phone, [vip], time_to_send=LATER, media=image_of(owner))
    sound = new_paket(owner, create_device(owner, name="Other phone"), [vip], time_to_send=LATER)  # due as well
    _, message = stale(owner, phone, paket)
    db.session.commit()
    due = utcnow() + timedelta(days=365 * 100)
    assert services.start_due_newsletters(now=due) == 1
    db.session.commit()
    db.session.expire_all()
    paket, sound = db.session.get(Paket, paket.id), db.session.get(Paket, sound.id)
    assert (paket.status, paket.cancel_reason, paket.started_at, paket.finished_at) == (
        services.CANCELLED, message, None, due)
    assert services.paket_stats(paket)["total"] == 0  # nothing written for a phone that will not send it
    assert sound.status == services.RUNNING and services.paket_stats(sound)["total"] == 2
    assert services.start_due_newsletters(now=due) == 0 and services.finish_completed(now=due) == 0
    assert db.session.get(Paket, paket.id).status == services.CANCELLED
