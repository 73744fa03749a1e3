"""One name per slot on every page: WhatsApp and RCS are not SIM cards, and the newsletter form offers only the
channels the account's phones have."""
import re

from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.messaging.service import accept_messages
from tests.support.pages import error_for
from tests.web.conftest import add_device


def options(html: str, select_id: str) -> list[tuple[str, str]]:
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select)


def test_whatsapp_messages_are_named_by_their_channel_on_the_list_and_their_page(web, me):
    phone = add_device(me, name="Shop phone", slots="2,3")
    business, plain = accept_messages(me, [
        {"sendto": "+4915100000001", "body": "via business", "device_id": phone.id, "sim": 2},
        {"sendto": "+4915100000002", "body": "via whatsapp", "device_id": phone.id, "sim": 3},
    ], field_prefix=None)
    db.session.commit()

    listed = web.get("/messages").get_data(as_text=True)
    assert "Shop phone · WhatsApp Business" in listed and "Shop phone · WhatsApp<" in listed
    assert "SIM 3" not in listed and "SIM 4" not in listed
    assert "Shop phone</a> · WhatsApp Business" in web.get(f"/messages/{business.id}").get_data(as_text=True)
    assert "Shop phone</a> · WhatsApp<" in web.get(f"/messages/{plain.id}").get_data(as_text=True)


def test_a_newsletter_page_names_its_channel(web, me, vip):
    phone = add_device(me, name="Shop phone", slots="2")
    paket = campaigns.create_paket(me, title="Sale", body="Hi", device_id=phone.id, sim=2, tag_ids=[vip.id],
                                   time_to_send=None, schedule=False)
    db.session.commit()
    html = web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    assert "Shop phone · WhatsApp Business" in html and "SIM 3" not in html


def test_the_newsletter_form_offers_only_the_channels_of_the_account_s_phones(web, me, vip):
    sms_only = add_device(me, name="Plain phone")
    db.session.commit()
    html = web.get("/newsletters/new").get_data(as_text=True)
    assert options(html, "sim") == [("0", "SIM 1"), ("1", "SIM 2")]
    assert f'data-slots="0,1" value="{sms_only.id}"' in html and 'data-channels-of="device_id"' in html

    response = web.post("/newsletters/new", data={"title": "Sale", "body": "Hi", "device_id": sms_only.id, "sim": 3,
                                                  "tag_ids": [vip.id], "intent": "draft"})
    assert response.status_code == 400
    assert error_for(response.get_data(as_text=True), "sim") == (
        f"Plain phone (#{sms_only.id}) cannot send through WhatsApp; it offers SIM 1, SIM 2.")

    add_device(me, name="WhatsApp phone", slots="3")
    db.session.commit()
    html = web.get("/newsletters/new").get_data(as_text=True)
    assert options(html, "sim") == [("0", "SIM 1"), ("1", "SIM 2"), ("3", "WhatsApp")]
