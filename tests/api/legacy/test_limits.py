"""Length limits a service defines are applied by that service alone: the legacy API accepts and refuses
exactly what the service does (titles and names count after their spaces are tidied), naming the field."""
import pytest

from smsplatform.campaigns.services import MAX_TITLE
from smsplatform.contacts.services import MAX_NAME, MAX_TAG_TITLE
from smsplatform.extensions import db
from smsplatform.models import Contact, Paket, Tag
from smsplatform.phones import MAX_RAW_LENGTH
from tests.api.legacy.conftest import call, ok, refused
from tests.support.rows import row_counts


def padded(words: str, length: int) -> str:
    """``words`` with runs of spaces around and inside, ``length`` characters in all."""
    head, _, tail = words.partition(" ")
    return (" " * 3 + head + " " * (length - len(words) - 6) + " " + tail + " " * 3)[:length]


@pytest.fixture
def tag_id(client, owner):
    return ok(call(client, "savetag", {"token": owner[1], "title": "VIP"}))["tag_id"]


def test_savetag_title_counts_as_the_service_stores_it(client, owner):
    token = owner[1]
    title = padded("Summer sale", MAX_TAG_TITLE + 20)
    tag = db.session.get(Tag, ok(call(client, "savetag", {"token": token, "title": title}))["tag_id"])
    assert tag.title == "Summer sale"
    before = row_counts()
    refused(call(client, "savetag", {"token": token, "title": "x" * (MAX_TAG_TITLE + 1)}),
            "title is too long", f"at most {MAX_TAG_TITLE}")
    assert row_counts() == before


def test_savecontact_name_and_phone_limits_are_the_services(client, owner, tag_id):
    token = owner[1]
    name = padded("Ada Lovelace", MAX_NAME + 20)
    contact_id = ok(call(client, "savecontact", {"token": token, "phone": "+4915752982212", "tag_id": tag_id,
                                                 "fullname": name}))["contact_id"]
    assert db.session.get(Contact, contact_id).name == "Ada Lovelace"
    before = row_counts()
    refused(call(client, "savecontact", {"token": token, "phone": "+4915752982213", "tag_id": tag_id,
                                         "name": "x" * (MAX_NAME + 1)}), "name is too long", f"at most {MAX_NAME}")
    refused(call(client, "savecontact", {"token": token, "phone": "1" * (MAX_RAW_LENGTH + 1), "tag_id": tag_id}),
            "phone is too long", f"at most {MAX_RAW_LENGTH}")
    refused(call(client, "getallsms", {"token": token, "phone": "1" * (MAX_RAW_LENGTH + 1)}),
            "phone is too long", f"at most {MAX_RAW_LENGTH}")
    assert row_counts() == before


def test_savepaket_title_counts_as_the_service_stores_it(client, owner, tag_id):
    _, token, device = owner
    params = {"token": token, "body": "20% off", "device_id": device.id, "tags": str(tag_id)}
    paket_id = ok(call(client, "savepaket", {**params, "title": padded("Summer sale", MAX_TITLE + 20)}))["paket_id"]
    assert db.session.get(Paket, paket_id).title == "Summer sale"
    before = row_counts()
    refused(call(client, "savepaket", {**params, "title": "x" * (MAX_TITLE + 1)}),
            "title is too long", f"at most {MAX_TITLE}")
    assert row_counts() == before
