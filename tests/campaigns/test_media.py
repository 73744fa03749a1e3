"""Newsletters with an image: every message carries it (text, then the URL), and the SIM-slot rule."""
from datetime import timedelta

import pytest
from sqlalchemy import select

from smsplatform.campaigns import services
from smsplatform.errors import NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging.segments import count_segments
from smsplatform.models import Message, Paket, StoredObject
from smsplatform.storage import get_storage
from smsplatform.storage.services import delete_unreferenced, public_url
from smsplatform.timeutil import utcnow
from tests.campaigns.conftest import bulk_contacts, image_of, make_tag
from tests.conftest import create_device

PHONES = {"+4915100000001": "Ada Lovelace", "+4915100000002": "", "+4915100000003": "Grace Hopper"}


def run(owner, device, body, media, names=PHONES):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {phone: [tag.id] for phone in names}, names=names)
    paket = services.create_paket(owner, title="Sale", body=body, device_id=device.id, sim=0, tag_ids=[tag.id],
                                  time_to_send=None, media=media)
    db.session.commit()
    assert services.start_due_newsletters() == 1
    db.session.commit()
    return paket, list(db.session.scalars(select(Message).where(Message.paket_id == paket.id).order_by(Message.phone)))


def test_every_message_carries_the_image_after_the_text(owner, device):
    obj = image_of(owner)
    url = public_url(obj)
    paket, messages = run(owner, device, "Sale today", obj)
    assert (paket.media_object_id, paket.media_url) == (obj.id, url)
    assert len(messages) == 3
    for message in messages:
        assert (message.media_object_id, message.media_url) == (obj.id, url)
        assert message.body == f"Sale today\n{url}"
        info = count_segments(message.body)
        assert (message.segments, message.encoding) == (info.segments, info.encoding)


def test_personalised_text_is_followed_by_the_url_and_an_empty_rendering_sends_the_url_alone(owner, device):
    obj = image_of(owner)
    url = public_url(obj)
    _paket, messages = run(owner, device, "{first_name}", obj)
    assert [m.body for m in messages] == [f"Ada\n{url}", url, f"Grace\n{url}"]
    for message in messages:
        info = count_segments(message.body)
        assert (message.segments, message.encoding) == (info.segments, info.encoding)
        assert message.media_object_id == obj.id


@pytest.mark.parametrize("body", ["", "   ", None])
def test_an_empty_body_with_an_image_sends_the_url_alone(owner, device, body):
    obj = image_of(owner)
    paket, messages = run(owner, device, body, obj)
    assert paket.body == "" and paket.title == "Sale"
    assert [m.body for m in messages] == [public_url(obj)] * 3
    assert all(m.segments == count_segments(public_url(obj)).segments for m in messages)


def test_a_long_text_with_the_url_counts_every_segment(owner, device):
    obj = image_of(owner)
    _paket, messages = run(owner, device, "x" * 150, obj)
    assert {m.segments for m in messages} == {count_segments("x" * 150 + "\n" + public_url(obj)).segments} == {2}


def test_without_an_image_nothing_changes(owner, device):
    _paket, messages = run(owner, device, "Plain", None)
    assert {(m.body, m.media_object_id, m.media_url) for m in messages} == {("Plain", None, None)}


def test_an_empty_body_without_an_image_is_refused(owner, device):
    tag = make_tag(owner, "VIP")
    with pytest.raises(ValidationError, match="body"):
        services.create_paket(owner, title="T", body="", device_id=device.id, sim=0, tag_ids=[tag.id],
                              time_to_send=None)


def test_a_foreign_image_is_refused(owner, device, make_account):
    other, _token = make_account(email="other@example.com")
    theirs = image_of(other)
    tag = make_tag(owner, "VIP")
    with pytest.raises(NotFoundError, match="image not found"):
        services.create_paket(owner, title="T", body="Hi", device_id=device.id, sim=0, tag_ids=[tag.id],
                              time_to_send=None, media=theirs)
    db.session.rollback()
    assert db.session.scalar(select(Paket.id)) is None


def test_the_cleanup_job_keeps_a_newsletters_image(owner, device):
    obj = image_of(owner)
    tag = make_tag(owner, "VIP")
    services.create_paket(owner, title="Later", body="Hi", device_id=device.id, sim=0, tag_ids=[tag.id],
                          time_to_send=None, schedule=False, media=obj)  # a draft: no message references it
    stray = image_of(owner)
    kept_key, stray_id, stray_key = obj.key, stray.id, stray.key
    db.session.commit()
    assert delete_unreferenced(older_than_seconds=0, now=utcnow() + timedelta(seconds=5)) >= 1
    db.session.commit()
    assert db.session.get(StoredObject, obj.id) is not None
    assert db.session.get(StoredObject, stray_id) is None
    keys = {stored.key for stored in get_storage().list_keys()}
    assert kept_key in keys and stray_key not in keys


# The SIM-slot rule, the same as for direct messages ----------------------------------------------

def slot_device(owner, sim_cards, slots=""):
    device = create_device(owner, name="slots", slots=slots)
    device.sim_cards = sim_cards
    db.session.commit()
    return device


@pytest.mark.parametrize("sim_cards, sim, ok", [
    ([{"slotIndex": 0}], 1, False),            # one SIM: SIM 2 refused
    ([{"slotIndex": 0}, {"slotIndex": 1}], 1, True),
    ([{"slotIndex": 0}], 0, True),
    (None, 1, True),                             # nothing known yet: allowed, as for addsms
    ([{"slotIndex": 0}], 3, False),              # WhatsApp not declared
])
def test_the_slot_rule_applies_to_newsletters(owner, sim_cards, sim, ok):
    device = slot_device(owner, sim_cards)
    tag = make_tag(owner, "VIP")

    def create():
        return services.create_paket(owner, title="T", body="Hi", device_id=device.id, sim=sim, tag_ids=[tag.id],
                                     time_to_send=None)

    if ok:
        assert create().sim == sim
    else:
        with pytest.raises(ValidationError, match=f"^sim {sim} ") as error:
            create()
        assert error.value.field == "sim"


def test_a_declared_slot_is_accepted(owner):
    device = slot_device(owner, [{"slotIndex": 0}], slots="2,3")
    tag = make_tag(owner, "VIP")
    paket = services.create_paket(owner, title="T", body="Hi", device_id=device.id, sim=3, tag_ids=[tag.id],
                                  time_to_send=None)
    assert paket.sim == 3
