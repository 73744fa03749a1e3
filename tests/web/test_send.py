"""The Send page: the channels each phone offers, a send time in the past, and what the form refuses."""
import io
import re
from html import unescape
from datetime import timedelta

import pytest

from smsplatform.extensions import db
from smsplatform.models import Message, StoredObject
from smsplatform.timeutil import to_zone, utcnow
from tests.storage.images import png
from tests.support.clock import pin_clock
from tests.support.files import files_under
from tests.support.pages import error_for
from tests.web.conftest import add_device, client_with_a_size_limit, sign_out


def options(html: str, select_id: str) -> list[tuple[str, str]]:
    """(value, text) of each option of the select ``select_id``."""
    select = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', html, re.S).group(1)
    return re.findall(r'<option[^>]*value="([^"]*)"[^>]*>([^<]*)</option>', select)


def device_slots(html: str) -> dict[str, str]:
    """Each device option's value and its ``data-slots``."""
    select = re.search(r'<select[^>]*id="device_id"[^>]*>(.*?)</select>', html, re.S).group(1)
    return {value: slots for slots, value in re.findall(r'<option data-slots="([^"]*)" value="([^"]*)"', select)}


def test_the_channel_select_offers_only_what_the_phone_has(web, me):
    one_sim = add_device(me, name="One SIM", sim_cards=[{"slotIndex": 0}])
    db.session.commit()
    html = web.get("/send").get_data(as_text=True)
    assert options(html, "sim") == [("0", "SIM 1")]
    assert device_slots(html) == {str(one_sim.id): "0"}
    assert "<noscript>" not in html  # one phone: nothing to tell apart

    silent = add_device(me, name="Silent", sim_cards=[])  # reports nothing about its SIMs: SIM 2 may exist
    whatsapp = add_device(me, name="WhatsApp phone", sim_cards=[{"slotIndex": 0}, {"slotIndex": 1}], slots="3,5")
    db.session.commit()
    html = web.get("/send").get_data(as_text=True)
    assert device_slots(html) == {str(one_sim.id): "0", str(silent.id): "0,1", str(whatsapp.id): "0,1,3,5"}
    # Without the script the select lists every phone's channels (and only those); the script narrows it.
    assert options(html, "sim") == [("0", "SIM 1"), ("1", "SIM 2"), ("3", "WhatsApp"), ("5", "RCS 2")]
    assert 'data-channels-of="device_id"' in html
    assert f"One SIM (#{one_sim.id}): SIM 1;" in html and f"(#{whatsapp.id}): SIM 1, SIM 2, WhatsApp, RCS 2." in html


def test_a_channel_the_chosen_phone_lacks_is_refused_beside_the_select(web, me):
    one_sim = add_device(me, name="One SIM", sim_cards=[{"slotIndex": 0}])
    two_sims = add_device(me, name="Two SIMs", slots="3")
    db.session.commit()
    base = {"recipients": "+4915100000001", "body": "x"}
    cases = [
        (one_sim, "1", "One SIM (#{}) cannot send through SIM 2; it offers SIM 1."),  # another phone has SIM 2
        (one_sim, "3", "One SIM (#{}) cannot send through WhatsApp; it offers SIM 1."),
        # RCS 1: no phone has it
        (two_sims, "4", "Two SIMs (#{}) cannot send through RCS 1; it offers SIM 1, SIM 2, WhatsApp."),
        (two_sims, "9", "Two SIMs (#{}) cannot send through channel 9; it offers SIM 1, SIM 2, WhatsApp."),
        (two_sims, "-1", "Two SIMs (#{}) cannot send through channel -1; it offers SIM 1, SIM 2, WhatsApp."),
    ]
    for device, sim, message in cases:
        response = web.post("/send", data={**base, "device_id": device.id, "sim": sim})
        assert response.status_code == 400, sim
        assert error_for(response.get_data(as_text=True), "sim") == message.format(device.id), sim
    response = web.post("/send", data={**base, "device_id": two_sims.id, "sim": "SIM 2"})
    assert response.status_code == 400 and "Invalid Choice" in error_for(response.get_data(as_text=True), "sim")
    assert db.session.query(Message).count() == 0
    for device, sim in ((one_sim, 0), (two_sims, 1), (two_sims, 3)):
        assert web.post("/send", data={**base, "device_id": device.id, "sim": sim}).status_code == 302
    assert sorted((m.device_id, m.sim) for m in db.session.query(Message)) == [
        (one_sim.id, 0), (two_sims.id, 1), (two_sims.id, 3)]


def test_a_send_time_in_the_past_is_refused_in_the_account_s_zone_unless_it_just_passed(web, me, device,
                                                                                       monkeypatch):
    me.timezone = "America/New_York"
    db.session.commit()
    # The page says what time it is now in New York: the app's clock is this test's, or New York's midnight
    # (or a minute) turning between the two readings would fail the test.
    local_now = to_zone(pin_clock(monkeypatch, utcnow()), "America/New_York").replace(tzinfo=None)
    base = {"device_id": device.id, "sim": 0, "recipients": "+4915100000001", "body": "x"}
    yesterday = (local_now - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    response = web.post("/send", data={**base, "send_at": yesterday})
    assert response.status_code == 400
    error = error_for(response.get_data(as_text=True), "send_at")
    assert error == (f"the send time {yesterday.replace('T', ' ')} (America/New_York) has passed: it is now "
                     f"{local_now:%Y-%m-%d %H:%M} there; choose a later time, or leave it empty to send now")
    assert db.session.query(Message).count() == 0

    # A minute ago: it passed while the form was filled in, so it goes out now, and the page says so.
    just_now = (local_now - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M")
    response = web.post("/send", data={**base, "send_at": just_now}, follow_redirects=True)
    assert response.status_code == 200
    assert (f"1 message queued to send now: the send time {just_now.replace('T', ' ')} (America/New_York) had just "
            "passed.") in response.get_data(as_text=True)
    message = db.session.query(Message).one()
    assert message.ready and message.due_at == message.created_at

    later = (local_now + timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M")
    response = web.post("/send", data={**base, "send_at": later}, follow_redirects=True)
    assert f"1 message scheduled for {later.replace('T', ' ')} (America/New_York)." in response.get_data(as_text=True)
    response = web.post("/send", data=base, follow_redirects=True)
    assert "1 message queued." in response.get_data(as_text=True)
    assert db.session.query(Message).count() == 3


@pytest.mark.parametrize("csrf", [False, True], ids=["csrf-off", "csrf-on (production)"])
def test_an_image_past_the_size_limit_is_told_beside_the_field(web, me, device, app, base_config, upload_root, csrf):
    """The Send page with the limit beside its image field (status 413), not werkzeug's bare 413 page; nothing
    is queued or stored. Signed out, no Send page."""
    client = client_with_a_size_limit(app, base_config, web, me, csrf)
    data = {"device_id": device.id, "sim": 0, "recipients": "+4915100000001", "body": "Look",
            "image": (io.BytesIO(png(padding=1024 * 1024)), "big.png")}
    response = client.post("/send", data=data, content_type="multipart/form-data")
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert error_for(html, "image") == "the image is too large: at most 1 MB is accepted"
    assert "<h1>Send</h1>" in html and options(html, "device_id") == [(str(device.id), f"Pixel (#{device.id})")]
    assert db.session.query(Message).count() == 0 and db.session.query(StoredObject).count() == 0
    assert files_under(upload_root) == []

    sign_out(client, html, csrf)
    data["image"] = (io.BytesIO(png(padding=1024 * 1024)), "big.png")
    response = client.post("/send", data=data, content_type="multipart/form-data")
    assert response.status_code == (413 if csrf else 302) and "<h1>Send</h1>" not in response.get_data(as_text=True)


def test_the_image_limit_named_is_the_lower_of_the_two(web, me, device, app, upload_root):
    """An image must meet UPLOAD_MAX_BYTES and fit in MAX_REQUEST_BYTES: a request past the latter names the lower."""
    app.config.update(MAX_CONTENT_LENGTH=3 * 1024 * 1024, UPLOAD_MAX_BYTES=2 * 1024 * 1024)
    response = web.post("/send", data={"device_id": device.id, "recipients": "+4915100000001",
                                       "image": (io.BytesIO(png(padding=3 * 1024 * 1024)), "big.png")},
                        content_type="multipart/form-data")
    assert response.status_code == 413
    assert error_for(response.get_data(as_text=True), "image") == "the image is too large: at most 2 MB is accepted"


def test_refusals_name_the_form_s_fields_in_its_own_words(web, me, device):
    base = {"device_id": device.id, "sim": 0, "recipients": "+4915100000001", "body": "x"}
    response = web.post("/send", data={**base, "recipients": "abc"})
    assert unescape(error_for(response.get_data(as_text=True), "recipients")) == "recipient 'abc' is not a phone number"
    response = web.post("/send", data={**base, "body": ""})
    assert error_for(response.get_data(as_text=True), "body") == "the message is empty"
    assert db.session.query(Message).count() == 0


@pytest.mark.parametrize("device_field", [{}, {"device_id": ""}], ids=["no device field", "empty device field"])
def test_sending_without_a_paired_phone_says_to_pair_one_first(web, me, device_field):
    response = web.post("/send", data={"sim": 0, "recipients": "+4915100000001", "body": "x", **device_field})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert error_for(html, "device_id") == "no phone is paired yet: pair one on the Devices page first"
    assert 'href="/devices' in html
    assert db.session.query(Message).count() == 0


def test_a_send_time_before_the_year_1000_is_refused_as_out_of_range(web, me, device):
    response = web.post("/send", data={"device_id": device.id, "sim": 0, "recipients": "+4915100000001", "body": "x",
                                       "send_at": "0001-01-01T05:00"})
    assert response.status_code == 400
    error = error_for(response.get_data(as_text=True), "send_at")
    assert error.startswith("the send time is out of range") and "0001-01-01 05:00" in error
    assert db.session.query(Message).count() == 0
