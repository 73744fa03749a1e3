"""The contact list: a page number past the end shows the last page (as the message list does)."""
import re

import pytest

from smsplatform.contacts import services as contacts
from smsplatform.extensions import db


@pytest.fixture
def evas(me):
    """55 contacts named Eva (two pages of the list) and one Adam."""
    for n in range(55):
        contacts.create_contact(me, f"+49152000{n:05d}", f"Eva {n}")
    contacts.create_contact(me, "+4915199999999", "Adam")
    db.session.commit()


def test_a_page_past_the_end_shows_the_last_page(web, me, evas):
    html = web.get("/contacts?page=99").get_data(as_text=True)
    assert "No contacts match." not in html
    assert "Page 2 of 2 (56 in all)" in html
    assert len(re.findall(r'name="contact_ids"', html)) == 6

    html = web.get("/contacts?q=Adam&page=99").get_data(as_text=True)
    assert "Adam" in html and "No contacts match." not in html and 'class="pager"' not in html


def test_a_page_number_past_any_row_id_shows_the_last_page(web, me, evas):
    response = web.get(f"/contacts?page={10 ** 30}")
    assert response.status_code == 200 and "Page 2 of 2 (56 in all)" in response.get_data(as_text=True)
