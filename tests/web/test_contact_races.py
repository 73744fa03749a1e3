"""Renaming a tag, or giving a contact a new number, while another call saves that title or number.

The other call (an integration's ``savetag``/``savecontact``, another tab) commits just after our check
found the title or number free: the rename or the new number then meets the unique key, and the page
says the title or number is taken, as it does when it was taken before, instead of answering 500.
"""
from sqlalchemy import insert, select

from smsplatform.contacts import services as contacts
from smsplatform.extensions import db
from smsplatform.models import Contact, Tag
from smsplatform.timeutil import utcnow
from tests.support.pages import error_for, flashes
from tests.support.races import after_statement


def test_a_rename_to_a_title_another_call_has_just_saved_is_refused(web, me, vip):
    def another_call_saves_the_title(connection):
        connection.execute(insert(Tag).values(account_id=me.id, title="Munich", title_key="munich",
                                              created_at=utcnow()))

    with after_statement("SELECT", another_call_saves_the_title, containing="tags.title_key =") as fired:
        response = web.post(f"/tags/{vip.id}/rename", data={"title": "Munich"}, follow_redirects=True)
    assert fired, "the rename never looked the title up"
    assert response.status_code == 200
    assert "Tag not renamed: a tag named &#39;Munich&#39; already exists" in flashes(response.get_data(as_text=True))
    db.session.expire_all()
    assert sorted(db.session.scalars(select(Tag.title))) == ["Munich", "VIP"]


def test_a_number_another_call_has_just_saved_is_refused_beside_the_field(web, me, vip):
    ada = db.session.scalars(select(Contact)).one()

    def another_call_saves_the_number(connection):
        connection.execute(insert(Contact).values(account_id=me.id, phone="+4915100000009",
                                                  phone_raw="+4915100000009", name="Grace", created_at=utcnow(),
                                                  updated_at=utcnow()))

    with after_statement("SELECT", another_call_saves_the_number, containing="contacts.phone =") as fired:
        response = web.post(f"/contacts/{ada.id}", data={"phone": "+4915100000009", "name": "Ada L",
                                                         "tag_ids": [vip.id]})
    assert fired, "the change never looked the number up"
    assert response.status_code == 400
    assert "+4915100000009 is already another contact" in error_for(response.get_data(as_text=True), "phone")
    db.session.expire_all()
    assert sorted(db.session.execute(select(Contact.name, Contact.phone)).all()) == [
        ("Ada Lovelace", "+4915100000001"), ("Grace", "+4915100000009")]
    assert contacts.find_contact(me, "+4915100000001").tags == [vip]
