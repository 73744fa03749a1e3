"""The newsletter form with an image: the same upload path as the send form, nothing half-saved."""
import io
import re
from urllib.parse import urlsplit

import pytest

from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.models import Paket, StoredObject
from smsplatform.storage.services import public_url
from tests.storage.images import TEXT, png
from tests.support.files import files_under
from tests.support.newsletters import newsletter_state
from tests.support.pages import error_for
from tests.web.conftest import client_with_a_size_limit, sign_out


def post(web, device, tag, body, image=None, **extra):
    data = {"title": "Spring sale", "body": body, "device_id": device.id, "sim": 0, "tag_ids": [tag.id],
            "intent": "draft", **extra}
    if image is not None:
        data["image"] = (io.BytesIO(image[1]), image[0])
    return web.post("/newsletters/new", data=data, content_type="multipart/form-data")


def test_a_newsletter_with_an_image_shows_it_and_the_body_as_sent(web, me, device, vip, upload_root):
    response = post(web, device, vip, "Hi {first_name|there}", ("spring.jpg", png()))
    assert response.status_code == 302, response.get_data(as_text=True)[-2000:]
    paket = db.session.query(Paket).one()
    obj = db.session.get(StoredObject, paket.media_object_id)
    assert obj.account_id == me.id and obj.content_type == "image/png" and obj.key.endswith(".png")
    assert paket.media_url == public_url(obj) and len(files_under(upload_root)) == 1

    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert re.search(rf'<img src="{re.escape(paket.media_url)}"[^>]*alt="[^"]+"', page)
    assert re.search(rf'id="paket-body">Hi {{first_name\|there}}\n{re.escape(paket.media_url)}</p>', page)
    served = web.get(urlsplit(paket.media_url).path)
    assert served.status_code == 200 and served.data == png() and served.mimetype == "image/png"


def test_an_image_alone_is_enough(web, me, device, vip, upload_root):
    response = post(web, device, vip, "", ("only.png", png()))
    assert response.status_code == 302
    paket = db.session.query(Paket).one()
    assert paket.body == "" and paket.media_object_id is not None
    page = web.get(response.headers["Location"]).get_data(as_text=True)
    assert f'id="paket-body">{paket.media_url}</p>' in page


@pytest.mark.parametrize("image, message", [
    (("photo.jpg", TEXT), "only JPEG, PNG, WebP or GIF"),
    (("empty.png", b""), "the image is empty"),
    (("../../etc/passwd.png", png()), "path"),
])
def test_a_bad_image_is_refused_beside_the_field_and_nothing_is_saved(web, device, vip, upload_root, image, message):
    response = post(web, device, vip, "Hi", image)
    assert response.status_code == 400
    assert message in error_for(response.get_data(as_text=True), "image")
    assert db.session.query(Paket).count() == 0 and db.session.query(StoredObject).count() == 0
    assert files_under(upload_root) == []


def test_a_good_image_with_a_bad_field_is_not_kept(web, device, vip, upload_root):
    response = post(web, device, vip, "Hi", ("ok.png", png()), sim=3)  # WhatsApp is not declared on the phone
    assert response.status_code == 400 and "cannot send through WhatsApp" in error_for(response.get_data(as_text=True), "sim")
    assert db.session.query(Paket).count() == 0 and db.session.query(StoredObject).count() == 0
    assert files_under(upload_root) == []


def test_neither_text_nor_image_is_an_error_beside_the_body(web, device, vip, upload_root):
    response = post(web, device, vip, "  ")
    assert response.status_code == 400
    assert "write a message or choose an image" in error_for(response.get_data(as_text=True), "body")
    assert db.session.query(Paket).count() == 0


def test_the_form_uploads_and_the_preview_counts_the_link(web, device, vip, upload_root):
    page = web.get("/newsletters/new").get_data(as_text=True)
    assert 'enctype="multipart/form-data"' in page and 'type="file"' in page and 'id="preview-image"' in page
    plain = web.get(f"/newsletters/preview?body=Hi+{{first_name}}&tag_ids={vip.id}").get_json()
    shown = web.get(f"/newsletters/preview?body=Hi+{{first_name}}&tag_ids={vip.id}&image=1").get_json()
    assert plain["text"] == "Hi Ada"
    assert re.fullmatch(r"Hi Ada\nhttp://localhost/\S+\.jpg", shown["text"])
    assert shown["units"] == len(shown["text"]) and shown["audience"] == 1


@pytest.mark.parametrize("csrf", [False, True], ids=["csrf-off", "csrf-on (production)"])
@pytest.mark.parametrize("editing", [False, True], ids=["new", "edit"])
def test_an_image_past_the_size_limit_is_told_beside_the_field(web, me, device, vip, app, base_config, upload_root,
                                                               editing, csrf):
    """The newsletter form with the limit beside its image field (status 413), not werkzeug's bare 413 page;
    nothing is saved or stored (an edited one keeps what it had, and its form shows that). Signed out, no form."""
    draft = campaigns.create_paket(me, title="Spring sale", body="Hi", device_id=device.id, sim=0, tag_ids=[vip.id],
                                   time_to_send=None, schedule=False) if editing else None
    db.session.commit()
    before = newsletter_state(draft.id) if editing else None
    client = client_with_a_size_limit(app, base_config, web, me, csrf)
    url = f"/newsletters/{draft.id}/edit" if editing else "/newsletters/new"

    def post():
        data = {"title": "Summer sale", "body": "Hello", "device_id": device.id, "sim": 0, "tag_ids": [vip.id],
                "intent": "schedule", "image": (io.BytesIO(png(padding=1024 * 1024)), "big.png")}
        return client.post(url, data=data, content_type="multipart/form-data")

    response = post()
    assert response.status_code == 413
    html = response.get_data(as_text=True)
    assert error_for(html, "image") == "the image is too large: at most 1 MB is accepted"
    assert f"<h1>{'Edit' if editing else 'New'} newsletter</h1>" in html and f'value="{vip.id}"' in html
    assert ('value="Spring sale"' in html) == editing  # the edit form as saved: what was typed is lost
    if editing:
        assert newsletter_state(draft.id) == before and db.session.query(Paket).count() == 1
    else:
        assert db.session.query(Paket).count() == 0
    assert db.session.query(StoredObject).count() == 0 and files_under(upload_root) == []

    sign_out(client, html, csrf)
    response = post()
    assert response.status_code == (413 if csrf else 302) and "newsletter</h1>" not in response.get_data(as_text=True)


def test_past_the_size_limit_a_newsletter_not_to_be_edited_here_gets_no_form(web, me, device, vip, app, base_config,
                                                                             theirs):
    """Another account's newsletter: the plain 413, as for a missing one; a started one: its page says why not.
    (CSRF on: the size limit is met before the view's own checks.)"""
    client = client_with_a_size_limit(app, base_config, web, me, csrf=True)

    def post(paket_id):
        data = {"title": "x", "image": (io.BytesIO(png(padding=1024 * 1024)), "big.png")}
        return client.post(f"/newsletters/{paket_id}/edit", data=data, content_type="multipart/form-data")

    for paket_id in (theirs["paket"].id, 999_999):
        response = post(paket_id)
        assert response.status_code == 413 and "newsletter</h1>" not in response.get_data(as_text=True)

    started = campaigns.create_paket(me, title="Started", body="Hi", device_id=device.id, sim=0, tag_ids=[vip.id],
                                     time_to_send=None)
    campaigns.start_due_newsletters()
    db.session.commit()
    response = post(started.id)
    assert response.status_code == 302 and response.headers["Location"] == f"/newsletters/{started.id}"
    assert "This newsletter is running; only a draft or a scheduled one can be edited." in \
        client.get(response.headers["Location"]).get_data(as_text=True)
