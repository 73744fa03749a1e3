"""Editing a newsletter in the dashboard: filled in, errors beside the fields, nothing half-saved, and
refused (with the reason on its page) once it has started."""
import io
import re
from datetime import datetime, timezone

import pytest
from sqlalchemy import update

from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.models import Paket, StoredObject
from smsplatform.storage.services import public_url, store_image
from tests.storage.images import TEXT, png
from tests.support.newsletters import NewsletterState, newsletter_state
from tests.support.files import files_under
from tests.support.pages import error_for, every_page_has_a_title_and_labels
from tests.support.races import after_statement
from tests.web.conftest import add_device


@pytest.fixture
def draft(me, device, vip, berlin):
    paket = campaigns.create_paket(me, title="Spring sale", body="Hi {first_name|there}", device_id=device.id, sim=0,
                                   tag_ids=[vip.id], time_to_send="2099-03-01 09:30", schedule=False)
    db.session.commit()
    return paket


def form(paket, **changes):
    data = {"title": paket.title, "body": paket.body, "device_id": paket.device_id, "sim": paket.sim,
            "tag_ids": [t.id for t in paket.tags], "send_at": "", "intent": "draft"}
    data.update(changes)
    return data


def post(web, paket, data, image=None):
    if image is not None:
        data = {**data, "image": (io.BytesIO(image[1]), image[0])}
    return web.post(f"/newsletters/{paket.id}/edit", data=data, content_type="multipart/form-data")


def test_the_form_is_filled_in_with_the_newsletter_in_the_account_s_zone(web, me, draft, vip, berlin):
    me.timezone = "Europe/Berlin"
    db.session.commit()
    page = web.get(f"/newsletters/{draft.id}").get_data(as_text=True)
    assert f'href="/newsletters/{draft.id}/edit"' in page
    response = web.get(f"/newsletters/{draft.id}/edit")
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    every_page_has_a_title_and_labels(html)
    assert "<h1>Edit newsletter</h1>" in html and "Save and schedule" in html
    assert re.search(r'id="title"[^>]*value="Spring sale"', html)
    assert re.search(r">\s*Hi \{first_name\|there\}</textarea>", html)
    assert re.search(rf'checked[^>]*value="{vip.id}"|value="{vip.id}"[^>]*checked', html)
    assert not re.search(rf'checked[^>]*value="{berlin.id}"|value="{berlin.id}"[^>]*checked', html)
    assert 'value="2099-03-01T10:30"' in html  # created as 09:30 UTC, shown in Berlin time


def test_saving_rewrites_it_and_schedules_it_in_the_account_s_zone(web, me, draft, berlin):
    me.timezone = "Europe/Berlin"
    second = add_device(me, name="Second")
    db.session.commit()
    response = post(web, draft, form(draft, title="Summer sale", body="Hello {name}", device_id=second.id, sim=1,
                                     tag_ids=[berlin.id], send_at="2099-07-01T10:00", intent="schedule"))
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/newsletters/{draft.id}")
    assert newsletter_state(draft.id) == NewsletterState(
        title="Summer sale", body="Hello {name}", device_id=second.id, sim=1, status=campaigns.SCHEDULED,
        time_to_send=datetime(2099, 7, 1, 8, 0, tzinfo=timezone.utc), media_object_id=None, media_url=None,
        tag_ids=[berlin.id])
    assert "Newsletter saved and scheduled." in web.get(f"/newsletters/{draft.id}").get_data(as_text=True)


@pytest.mark.parametrize("changes, field, message", [
    ({"title": ""}, "title", "This field is required."),
    ({"body": "  "}, "body", "write a message or choose an image"),
    ({"tag_ids": []}, "tag_ids", "choose at least one tag"),
    ({"tag_ids": [999999]}, "tag_ids", "tag 999999 not found"),
    ({"sim": 3}, "sim", "cannot send through WhatsApp; it offers SIM 1, SIM 2."),
    ({"device_id": 999999}, "device_id", "device 999999 not found"),
    ({"body": "x" * 5001}, "body", "Field cannot be longer than 5000 characters."),
])
def test_a_bad_field_is_shown_beside_it_and_nothing_changes(web, draft, changes, field, message):
    before = newsletter_state(draft.id)
    response = post(web, draft, form(draft, **changes))
    assert response.status_code == 400
    assert message in error_for(response.get_data(as_text=True), field)
    assert newsletter_state(draft.id) == before


def test_a_newsletter_that_started_has_no_edit_page(web, draft):
    db.session.execute(update(Paket).where(Paket.id == draft.id).values(status=campaigns.RUNNING))
    db.session.commit()
    before = newsletter_state(draft.id)
    assert 'href="/newsletters/%d/edit"' % draft.id not in web.get(f"/newsletters/{draft.id}").get_data(as_text=True)
    for response in (web.get(f"/newsletters/{draft.id}/edit"), post(web, draft, form(draft, title="Too late"))):
        assert response.status_code == 302 and response.headers["Location"].endswith(f"/newsletters/{draft.id}")
    assert "only a draft or a scheduled one can be edited" in web.get(f"/newsletters/{draft.id}").get_data(as_text=True)
    assert newsletter_state(draft.id) == before


def started_elsewhere_before_the_save(paket_id):
    """Once the page's own check has passed (just after the form's device choices are read), another
    connection (the scheduler process) starts the newsletter and commits: the save's conditional UPDATE
    decides. (Any later, the save holds its tags' lock, and on SQLite the scheduler would wait for it.)"""
    return after_statement("SELECT", lambda scheduler: scheduler.execute(
        update(Paket).where(Paket.id == paket_id).values(status=campaigns.RUNNING)), containing="FROM devices")


def test_a_save_that_arrives_after_the_scheduler_started_it_is_refused_on_its_page(web, draft):
    with started_elsewhere_before_the_save(draft.id) as fired:
        response = post(web, draft, form(draft, title="Too late"))
    assert fired and response.status_code == 302
    assert response.headers["Location"].endswith(f"/newsletters/{draft.id}")
    page = web.get(f"/newsletters/{draft.id}").get_data(as_text=True)
    assert f"Not saved: newsletter {draft.id} is running; only a draft or a scheduled one can be edited" in page
    after = newsletter_state(draft.id)
    assert (after.title, after.status) == ("Spring sale", campaigns.RUNNING)


def test_the_image_is_kept_replaced_or_removed(web, me, draft, upload_root):
    first = store_image(me, "first.png", png(), "image/png")
    # The stored URL may be stale (a presigned S3 URL expires): the page asks storage for a fresh one.
    db.session.execute(update(Paket).where(Paket.id == draft.id)
                       .values(media_object_id=first.id, media_url="http://expired.example/1.png"))
    db.session.commit()
    html = web.get(f"/newsletters/{draft.id}/edit").get_data(as_text=True)
    assert 'id="current-image"' in html and f'data-current-image="{public_url(first)}"' in html
    assert "expired.example" not in html
    assert 'name="remove_image"' in html

    assert post(web, draft, form(draft, body="")).status_code == 302  # kept: no text needed
    assert newsletter_state(draft.id).media_object_id == first.id

    response = post(web, draft, form(draft, body="", remove_image="y"))  # removed and no text: refused
    assert response.status_code == 400
    assert "write a message or choose an image" in error_for(response.get_data(as_text=True), "body")
    assert newsletter_state(draft.id).media_object_id == first.id

    response = post(web, draft, form(draft, body=""), image=("photo.jpg", TEXT))  # a bad replacement: nothing stored
    assert response.status_code == 400
    assert "only JPEG, PNG, WebP or GIF" in error_for(response.get_data(as_text=True), "image")
    assert newsletter_state(draft.id).media_object_id == first.id and db.session.query(StoredObject).count() == 1

    assert post(web, draft, form(draft, body=""), image=("second.png", png())).status_code == 302
    replaced = newsletter_state(draft.id).media_object_id
    assert replaced not in (None, first.id) and len(files_under(upload_root)) == 2

    assert post(web, draft, form(draft, body="Text only", remove_image="y")).status_code == 302
    after = newsletter_state(draft.id)
    assert (after.body, after.media_object_id) == ("Text only", None)

    # A new image with "remove" ticked as well: the upload is what the form asks for.
    assert post(web, draft, form(draft, remove_image="y"), image=("third.png", png())).status_code == 302
    assert newsletter_state(draft.id).media_object_id not in (None, first.id, replaced)
