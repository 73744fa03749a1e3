"""Newsletter fixtures: a device of the account, tags, contacts written in bulk, an uploaded image, a
committed newsletter, another account's draft, and the bad content both creating and editing one refuse."""
import pytest
from sqlalchemy import insert, select

from smsplatform.campaigns import services
from smsplatform.contacts.services import tag_key
from smsplatform.errors import NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.models import Contact, Tag, contact_tags
from smsplatform.storage.services import store_image
from smsplatform.timeutil import utcnow
from tests.conftest import create_device
from tests.storage.images import png


def make_tag(account, title):
    tag = Tag(account_id=account.id, title=title, title_key=tag_key(title))
    db.session.add(tag)
    db.session.flush()
    return tag


def bulk_contacts(account, phones_tags, *, opted_out=(), names=None):
    """Insert contacts: ``phones_tags`` maps a normalised phone to a list of tag ids. Committed."""
    now = utcnow()
    names = names or {}
    opted = set(opted_out)
    db.session.execute(insert(Contact), [
        {"account_id": account.id, "phone": p, "phone_raw": p, "name": names.get(p, ""), "opted_out": p in opted,
         "created_at": now, "updated_at": now}
        for p in phones_tags
    ])
    ids = dict(db.session.execute(select(Contact.phone, Contact.id).where(Contact.account_id == account.id)).all())
    links = [{"contact_id": ids[p], "tag_id": t} for p, tags in phones_tags.items() for t in set(tags)]
    if links:
        db.session.execute(insert(contact_tags), links)
    db.session.commit()
    return ids


@pytest.fixture
def owner(account):
    return account[0]


@pytest.fixture
def device(owner):
    return create_device(owner)


def image_of(account, name="sale.png"):
    """An uploaded PNG of ``account``, committed."""
    obj = store_image(account, name, png(), "image/png")
    db.session.commit()
    return obj


def new_paket(owner, device, tags, body="Big sale today", time_to_send="0", **kwargs):
    paket = services.create_paket(owner, title="Sale", body=body, device_id=device.id, sim=0,
                                  tag_ids=",".join(str(t.id) for t in tags), time_to_send=time_to_send, **kwargs)
    db.session.commit()
    return paket


@pytest.fixture
def their_draft(make_account):
    """Another account's draft newsletter, with its own device and tag: for the calls that must not find it."""
    stranger, _ = make_account(email="stranger@example.com")
    return new_paket(stranger, create_device(stranger, name="Theirs"), [make_tag(stranger, "Theirs")],
                     schedule=False)


# One bad field each, the error it gets and words of its message (creating and editing check alike).
BAD_CONTENT = [
    ({"tag_ids": "999999"}, NotFoundError, "tag 999999 not found"),
    ({"tag_ids": ""}, ValidationError, "tags is required"),
    ({"tag_ids": "12,abc"}, ValidationError, "tags must be an integer"),
    ({"device_id": 999999}, NotFoundError, "device 999999 not found"),
    ({"device_id": None}, ValidationError, "device_id is required"),
    ({"body": "   "}, ValidationError, "body is empty"),
    ({"body": None}, ValidationError, "body is required"),
    ({"time_to_send": "31/12/2030"}, ValidationError, "time_to_send must look like"),
    ({"time_to_send": "32.12.2030 10:00:00"}, ValidationError, "time_to_send is not a valid date"),
    ({"sim": 7}, ValidationError, "sim must be 0 to 5"),
    ({"sim": 2}, ValidationError, "sim 2 (WhatsApp Business) is not available"),
    ({"title": "t" * 300}, ValidationError, "title is too long"),
]
