"""Newsletter fixtures: a device of the account, and contacts written in bulk."""
import pytest
from sqlalchemy import insert, select

from smsplatform.contacts.services import tag_key
from smsplatform.extensions import db
from smsplatform.models import Contact, Tag, contact_tags
from smsplatform.timeutil import utcnow
from tests.conftest import create_device


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
