"""Links the dashboard shows lead somewhere: a contact's conversation before any message, a removed phone's
name on its messages' pages; and a cancelled scheduled message's timeline reads in the order things happened."""
import re
from urllib.parse import quote

from smsplatform.contacts import services as contacts
from smsplatform.devices import services as devices
from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.messaging.service import accept_messages
from smsplatform.models import Message
from tests.web.conftest import add_device


def test_a_contact_with_no_messages_has_an_empty_conversation_to_write_in(web, me, device, theirs):
    contact = contacts.create_contact(me, "+4915100000001", "Ada Lovelace")
    db.session.commit()
    url = f"/inbox/conversation?phone={quote(contact.phone)}"
    assert f'href="{url}"' in web.get(f"/contacts/{contact.id}").get_data(as_text=True)

    response = web.get(url)
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    assert "Ada Lovelace" in html and "No messages with this number yet." in html
    assert f"Sent from {device.name}, SIM 1." in html and "<textarea" in html

    assert web.post(url, data={"body": "Hello Ada"}).status_code == 302
    sent = db.session.query(Message).filter_by(phone=contact.phone).one()
    assert (sent.body, sent.device_id, sent.sim, sent.status) == ("Hello Ada", device.id, 0, st.PENDING)
    # Another account's contact is still no conversation of ours.
    assert web.get(f"/inbox/conversation?phone={quote(theirs['contact'].phone)}").status_code == 404


def test_without_a_paired_phone_the_empty_conversation_says_to_pair_one(web, me):
    contact = contacts.create_contact(me, "+4915100000001", "Ada Lovelace")
    db.session.commit()
    html = web.get(f"/inbox/conversation?phone={quote(contact.phone)}").get_data(as_text=True)
    assert "No paired phone can send this" in html and 'href="/devices"' in html and "<textarea" not in html


def unpaired_with_a_scheduled_message(account):
    """A phone of ``account`` holding a message scheduled for 2099, then removed (which cancels the message)."""
    phone = add_device(account, name="Old phone")
    [message] = accept_messages(account, [{"sendto": "+4915100000001", "body": "later", "device_id": phone.id,
                                           "timetosend": "2099-01-01 10:00:00"}], field_prefix=None)
    devices.revoke_device(account, phone.id)
    db.session.commit()
    return phone, message


def test_a_removed_phone_is_named_on_its_messages_without_a_link_to_its_gone_page(web, me):
    phone, message = unpaired_with_a_scheduled_message(me)
    html = web.get(f"/messages/{message.id}").get_data(as_text=True)
    assert "Old phone (removed)" in html and f'href="/devices/{phone.id}"' not in html


def test_a_schedule_cancelled_before_its_time_reads_before_the_cancellation(web, me):
    _phone, message = unpaired_with_a_scheduled_message(me)
    html = web.get(f"/messages/{message.id}").get_data(as_text=True)
    timeline = re.search(r'<ol class="timeline"[^>]*>(.*?)</ol>', html, re.S).group(1)
    # Each step without the time it happened at (its first <time>), tags and runs of spaces dropped.
    steps = [" ".join(re.sub(r"<[^>]+>", " ", step.split("</time>", 1)[1]).split())
             for step in re.findall(r"<li>(.*?)</li>", timeline, re.S)]
    assert steps == ["accepted", "scheduled for 2099-01-01 10:00", "cancelled: device was unpaired"]
