"""Cancelling a message by hand: on its page and from the message list; what cannot be cancelled says why."""
import re

import pytest

from smsplatform import create_app
from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.messaging import statuses as st
from smsplatform.messaging.service import accept_messages
from smsplatform.models import Device, Message
from tests.support.pages import flashes
from tests.web.conftest import PASSWORD

WHY_ON_PHONE = "already handed to the phone, and this server cannot ask the phone app to drop a message it has"


def send(account, device, *numbers, **fields) -> list[int]:
    messages = accept_messages(account, [{"sendto": ",".join(numbers), "body": "hi", "device_id": device.id, **fields}],
                               field_prefix=None)
    db.session.commit()
    return [m.id for m in messages]


def status_of(message_id) -> int:
    """As committed: the routes share this test's session, so a route that forgot to commit would
    otherwise still look right."""
    db.session.rollback()
    return db.session.get(Message, message_id).status


def test_a_pending_message_is_cancelled_from_its_page(web, me, device):
    [message_id] = send(me, device, "+4915100000001", timetosend="2099-01-01 10:00")
    html = web.get(f"/messages/{message_id}").get_data(as_text=True)
    form = re.search(rf'<form method="post" action="/messages/{message_id}/cancel"[^>]*>', html).group(0)
    assert f'data-confirm="Cancel message #{message_id} to +4915100000001? It will not be sent."' in form
    assert "it waits for 2099-01-01 10:00" in html

    response = web.post(f"/messages/{message_id}/cancel", follow_redirects=True)
    assert response.request.path == f"/messages/{message_id}"
    html = response.get_data(as_text=True)
    assert f"Message #{message_id} cancelled: it will not be sent." in flashes(html)
    assert "/cancel" not in html and "Cannot be cancelled" not in html  # nothing more to offer
    assert 'class="badge st-cancelled">cancelled</span>' in html
    assert re.search(r"</time> cancelled: <span class=\"reason\">cancelled by hand</span></li>", html)  # the timeline
    db.session.expire_all()
    message = db.session.get(Message, message_id)
    assert (message.status, message.ready) == (st.CANCELLED, False)
    assert message.cancelled_at is not None and message.updated_at == message.cancelled_at
    assert queue.claim_for_device(db.session.get(Device, device.id)) == []  # never handed out afterwards
    # Again (a second tab, a double click): refused, and says why.
    response = web.post(f"/messages/{message_id}/cancel", follow_redirects=True)
    shown = flashes(response.get_data(as_text=True))
    assert f"Message {message_id} cannot be cancelled: it is already cancelled." in shown


def test_the_phone_claimed_it_while_the_page_was_open(web, me, device):
    [message_id] = send(me, device, "+4915100000001")
    assert f'action="/messages/{message_id}/cancel"' in web.get(f"/messages/{message_id}").get_data(as_text=True)
    [claimed] = queue.claim_for_device(db.session.get(Device, device.id))  # the phone's pull wins the race
    db.session.commit()
    response = web.post(f"/messages/{message_id}/cancel", follow_redirects=True)
    html = response.get_data(as_text=True)
    assert f"Message {message_id} cannot be cancelled: it was {WHY_ON_PHONE}." in flashes(html)
    assert f"Cannot be cancelled: it was {WHY_ON_PHONE}." in html  # and the page says so from now on
    assert f'action="/messages/{message_id}/cancel"' not in html
    assert status_of(message_id) == st.TAKEN


def test_a_newsletter_s_message_points_to_the_newsletter(web, me, device, vip):
    from smsplatform.campaigns import services as campaigns

    paket = campaigns.create_paket(me, title="Spring", body="Hi", device_id=device.id, sim=0, tag_ids=[vip.id],
                                   time_to_send=None)
    campaigns.start_due_newsletters()
    db.session.commit()
    message = db.session.query(Message).filter_by(paket_id=paket.id).one()
    message.ready = False  # as a scheduled newsletter's message waits
    db.session.commit()
    html = web.get(f"/messages/{message.id}").get_data(as_text=True)
    assert ("Cannot be cancelled: it belongs to the newsletter “Spring”: pause or cancel the newsletter on its "
            "page.") in html
    response = web.post(f"/messages/{message.id}/cancel", follow_redirects=True)
    assert "pause or cancel the newsletter on its page" in flashes(response.get_data(as_text=True))[0]
    assert status_of(message.id) == st.PENDING
    assert f'name="message_ids" value="{message.id}"' not in web.get("/messages").get_data(as_text=True)


def test_bad_requests_change_nothing(web, me, device, theirs):
    [mine] = send(me, device, "+4915100000001")
    assert web.get(f"/messages/{mine}/cancel").status_code == 405
    assert web.get("/messages/cancel").status_code == 405
    for url in ("/messages/999999999/cancel", "/messages/abc/cancel", "/messages/-1/cancel", "/messages//cancel",
                f"/messages/{'9' * 19}/cancel", f"/messages/{theirs['message'].id}/cancel"):
        assert web.post(url).status_code == 404, url
    foreign = web.post(f"/messages/{theirs['message'].id}/cancel")
    assert foreign.data == web.post("/messages/999999999/cancel").data  # theirs looks exactly like a missing one
    for ids in ([theirs["message"].id], [mine, theirs["message"].id], ["9" * 19], ["9" * 20], [999_999_999]):
        assert web.post("/messages/cancel", data={"message_ids": ids}).status_code == 404, ids
    for data, why in (({}, "choose at least one message"), ({"message_ids": ["x"]}, "must be numbers"),
                      ({"message_ids": [str(mine), "1e3"]}, "must be numbers"), ({"message_ids": [""]}, "numbers")):
        response = web.post("/messages/cancel?status=pending", data=data)
        assert response.status_code == 302 and response.location == "/messages?status=pending"
        shown = flashes(web.get("/").get_data(as_text=True))
        assert any(f.startswith("Nothing cancelled: ") and why in f for f in shown), (data, shown)
    assert status_of(mine) == status_of(theirs["message"].id) == st.PENDING


def test_the_message_list_cancels_the_selected_rows(web, me, device):
    pending = send(me, device, "+4915100000001", "+4915100000002", "+4915100000003")
    [taken] = send(me, device, "+4915100000004")
    message = db.session.get(Message, taken)
    message.status = st.TAKEN
    db.session.commit()
    html = web.get("/messages?status=pending").get_data(as_text=True)
    form = re.search(r'<form method="post" action="([^"]+)" id="cancel-form" data-confirm="([^"]+)">', html)
    assert form.groups() == ("/messages/cancel?status=pending&amp;page=1",
                             "Cancel the selected messages? They will not be sent.")
    assert sorted(int(i) for i in re.findall(r'name="message_ids" value="(\d+)"', html)) == pending  # not the taken one
    assert 'data-select-all="message_ids"' in html and 'name="csrf_token"' in html

    # Meanwhile the phone takes the second one; the taken one is sent along (a stale page).
    db.session.get(Message, pending[1]).status = st.TAKEN
    db.session.commit()
    response = web.post("/messages/cancel?status=pending&page=1&_external=1&next=https://evil.example",
                        data={"message_ids": [pending[0], pending[1], taken]})
    assert response.status_code == 302 and response.location == "/messages?status=pending&page=1"
    assert flashes(web.get("/").get_data(as_text=True)) == [
        "1 message cancelled. 2 messages already handed to the phone: this server cannot take them back."]
    assert [status_of(i) for i in pending] == [st.CANCELLED, st.TAKEN, st.PENDING]
    html = web.get("/messages?status=cancelled").get_data(as_text=True)
    assert "cancel-form" not in html  # nothing there to cancel


def test_the_report_of_a_mixed_selection_says_what_became_of_each(web, me, device, vip, berlin):
    """The whole flash, each refusal in its own words and number: one cancelled, one on the phone (“it”),
    two of a newsletter, one sent; then the same selection again, when nothing is left to cancel."""
    from smsplatform.campaigns import services as campaigns

    paket = campaigns.create_paket(me, title="Spring", body="Hi", device_id=device.id, sim=0,
                                   tag_ids=[vip.id, berlin.id], time_to_send=None)
    campaigns.start_due_newsletters()
    db.session.commit()
    newsletters = [m.id for m in db.session.query(Message).filter_by(paket_id=paket.id)]
    assert len(newsletters) == 2
    pending, queued, sent = send(me, device, "+4915100000011", "+4915100000012", "+4915100000013")
    db.session.get(Message, queued).status = st.QUEUED
    db.session.get(Message, sent).status = st.SENT
    db.session.commit()

    def cancel_selected() -> tuple[str, list[str]]:
        """Press Cancel selected with all five ticked: the flash's kind and its text."""
        web.post("/messages/cancel", data={"message_ids": [pending, queued, *newsletters, sent]})
        html = web.get("/").get_data(as_text=True)
        return re.search(r'class="flash flash-(\w+)"', html).group(1), flashes(html)

    refused = ("1 message already handed to the phone: this server cannot take it back. "
               "2 messages of a newsletter: pause or cancel the newsletter on its page.")
    assert cancel_selected() == (
        "success", [f"1 message cancelled. {refused} 1 message already sent, failed or cancelled."])
    assert cancel_selected() == (
        "error", [f"0 messages cancelled. {refused} 2 messages already sent, failed or cancelled."])
    assert [status_of(i) for i in (pending, queued, *newsletters, sent)] == [
        st.CANCELLED, st.QUEUED, st.PENDING, st.PENDING, st.SENT]


def test_without_the_csrf_token_nothing_is_cancelled(app, base_config, me, device):
    csrf_app = create_app({**base_config, "WTF_CSRF_ENABLED": True})
    [message_id] = send(me, device, "+4915100000001")
    client = csrf_app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"email": me.email, "password": PASSWORD, "csrf_token": token}).status_code == 302
    assert client.post(f"/messages/{message_id}/cancel").status_code == 400
    assert client.post("/messages/cancel", data={"message_ids": [message_id]}).status_code == 400
    db.session.rollback()
    assert status_of(message_id) == st.PENDING
    page = client.get(f"/messages/{message_id}").get_data(as_text=True)
    cancel_form = page.split(f"/messages/{message_id}/cancel")[1]
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', cancel_form).group(1)
    assert client.post(f"/messages/{message_id}/cancel", data={"csrf_token": token}).status_code == 302
    db.session.rollback()  # a fresh snapshot: the other app committed on its own connection
    assert status_of(message_id) == st.CANCELLED


@pytest.mark.parametrize("status, why", [(st.QUEUED, f"it was {WHY_ON_PHONE}"), (st.SENT, "it was already sent"),
                                         (st.DELIVERED, None), (st.FAILED_GENERIC, None), (st.INCOMING, None)])
def test_no_cancel_button_where_nothing_can_be_cancelled(web, me, device, status, why):
    [message_id] = send(me, device, "+4915100000001")
    db.session.get(Message, message_id).status = status
    db.session.commit()
    html = web.get(f"/messages/{message_id}").get_data(as_text=True)
    assert f"/messages/{message_id}/cancel" not in html
    if why:  # still on its way: the page says why it stays
        assert f"Cannot be cancelled: {why}." in html
    else:
        assert "Cannot be cancelled" not in html
    assert web.post(f"/messages/{message_id}/cancel").status_code == 302
    assert status_of(message_id) == status
