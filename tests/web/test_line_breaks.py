"""Message bodies typed in the dashboard keep their line breaks as LF: browsers submit a textarea's as CRLF,
which would cost two SMS units each where the page's counter (reading the textarea's value) counts one."""
from smsplatform.extensions import db
from smsplatform.models import Message, Paket
from tests.web.conftest import add_incoming

# 160 GSM-7 units with an LF: one SMS, as the counter shows it; with the CRLF a browser submits, 161 (two).
TYPED = "a" * 80 + "\n" + "b" * 79
SUBMITTED = TYPED.replace("\n", "\r\n")


def test_a_sent_message_stores_lf_and_is_the_one_sms_the_counter_showed(web, device):
    response = web.post("/send", data={"device_id": device.id, "sim": 0, "recipients": "+4915100000001",
                                       "body": SUBMITTED})
    assert response.status_code == 302
    message = db.session.query(Message).one()
    assert message.body == TYPED
    assert (message.segments, message.encoding) == (1, "GSM-7")
    assert ">Segments</dt><dd>1 (GSM-7)" in web.get(f"/messages/{message.id}").get_data(as_text=True)


def test_a_lone_cr_is_a_line_break_too(web, device):
    response = web.post("/send", data={"device_id": device.id, "sim": 0, "recipients": "+4915100000001",
                                       "body": "one\rtwo\r\nthree"})
    assert response.status_code == 302
    assert db.session.query(Message).one().body == "one\ntwo\nthree"


def test_a_reply_stores_lf(web, device):
    add_incoming(device, "+4915100000009", "Hello?")
    db.session.commit()
    response = web.post("/inbox/conversation?phone=%2B4915100000009", data={"body": SUBMITTED})
    assert response.status_code == 302
    reply = db.session.query(Message).filter(Message.body != "Hello?").one()
    assert reply.body == TYPED and reply.segments == 1


def test_a_newsletter_stores_lf(web, device, vip):
    response = web.post("/newsletters/new", data={"title": "Lines", "body": SUBMITTED, "device_id": device.id,
                                                  "sim": 0, "tag_ids": [vip.id], "intent": "draft"})
    assert response.status_code == 302
    assert db.session.query(Paket).one().body == TYPED
