"""The contact list: its bulk tag/untag returns to the list as it was searched and paged, and a page number
past the end shows the last page (as the message list does)."""
import re

import pytest

from smsplatform.contacts import services as contacts
from smsplatform.extensions import db
from smsplatform.models import Contact
from tests.support.pages import flashes


@pytest.fixture
def evas(me):
    """55 contacts named Eva (two pages of the list) and one Adam."""
    for n in range(55):
        contacts.create_contact(me, f"+49152000{n:05d}", f"Eva {n}")
    contacts.create_contact(me, "+4915199999999", "Adam")
    db.session.commit()


def bulk_action(html: str) -> str:
    return re.search(r'<form method="post" action="([^"]+)" id="bulk-form">', html).group(1).replace("&amp;", "&")


def test_bulk_tagging_returns_to_the_search_and_page_it_was_applied_on(web, me, evas, vip):
    html = web.get("/contacts?q=Eva&page=2").get_data(as_text=True)
    action = bulk_action(html)
    assert action == "/contacts/bulk?q=Eva&page=2"
    eva = db.session.query(Contact).filter_by(name="Eva 0").one()
    response = web.post(action, data={"contact_ids": [eva.id], "action": "tag", "tag_id": vip.id})
    assert response.status_code == 302 and response.location == "/contacts?q=Eva&page=2"
    assert flashes(web.get(response.location).get_data(as_text=True)) == ["1 contact tagged."]
    db.session.expire_all()
    assert vip in eva.tags


def test_a_refused_bulk_action_returns_to_the_search_and_page_too(web, me, evas, vip):
    response = web.post("/contacts/bulk?q=Eva&opted_out=no&tag=&page=2", data={"action": "tag", "tag_id": vip.id},
                        headers={"Referer": "http://localhost/contacts"})
    assert response.status_code == 302 and response.location == "/contacts?q=Eva&opted_out=no&page=2"
    assert flashes(web.get(response.location).get_data(as_text=True)) == ["Select at least one contact and a tag."]


def test_bulk_tagging_returns_only_to_the_contact_list(web, me, evas, vip):
    eva = db.session.query(Contact).filter_by(name="Eva 0").one()
    response = web.post("/contacts/bulk?q=Eva&_external=1&next=https://evil.example",
                        data={"contact_ids": [eva.id], "action": "tag", "tag_id": vip.id},
                        headers={"Referer": "https://evil.example/"})
    assert response.status_code == 302 and response.location == "/contacts?q=Eva"


def test_a_page_past_the_end_shows_the_last_page(web, me, evas):
    html = web.get("/contacts?page=99").get_data(as_text=True)
    assert "No contacts match." not in html
    assert "Page 2 of 2 (56 in all)" in html
    assert len(re.findall(r'name="contact_ids"', html)) == 6
    assert bulk_action(html) == "/contacts/bulk?page=2"

    html = web.get("/contacts?q=Adam&page=99").get_data(as_text=True)
    assert "Adam" in html and "No contacts match." not in html and 'class="pager"' not in html


def test_a_page_number_past_any_row_id_shows_the_last_page(web, me, evas):
    response = web.get(f"/contacts?page={10 ** 30}")
    assert response.status_code == 200 and "Page 2 of 2 (56 in all)" in response.get_data(as_text=True)
