"""Inserts that race on a unique key (``smsplatform.db_unique``) stay part of the caller's transaction."""
from sqlalchemy import select

from smsplatform.contacts import services as contacts
from smsplatform.db_unique import add_unless_taken
from smsplatform.extensions import db
from smsplatform.models import Contact, Tag
from smsplatform.phones import normalize_phone


def test_a_row_added_in_its_savepoint_is_undone_by_the_caller_s_rollback(account):
    """The service flushes, the caller commits or rolls back. On SQLite the driver opens a transaction only
    before INSERT, UPDATE and DELETE: a savepoint opened first would begin one of its own, and its release
    would commit the row, out of reach of the request's rollback (a refused call must change nothing)."""
    owner = account[0]
    db.session.commit()  # the request starts with nothing written, as a legacy call does
    add_unless_taken(Tag(account_id=owner.id, title="Fresh", title_key="fresh"), lambda: None)
    contacts.upsert_contact(owner, normalize_phone("+4915112345678", None))
    db.session.rollback()
    assert db.session.scalars(select(Tag.title)).all() == []
    assert db.session.scalars(select(Contact.phone)).all() == []


def test_the_row_is_stored_when_the_caller_commits(account):
    owner = account[0]
    db.session.commit()
    tag = add_unless_taken(Tag(account_id=owner.id, title="Kept", title_key="kept"), lambda: None)
    db.session.commit()
    assert db.session.scalars(select(Tag.id)).all() == [tag.id]
