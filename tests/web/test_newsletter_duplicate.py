"""Duplicating a newsletter from its page: a POST that makes a new draft and opens its edit page."""
import re

import pytest
from sqlalchemy import func, select

from smsplatform import create_app
from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.models import Paket
from smsplatform.models.types import MAX_ROW_ID
from tests.support.newsletters import newsletter_state
from tests.web.conftest import PASSWORD


@pytest.fixture
def running(me, device, vip, berlin):
    paket = campaigns.create_paket(me, title="Spring sale", body="Hi {first_name|there}", device_id=device.id, sim=1,
                                   tag_ids=[vip.id, berlin.id], time_to_send=None)
    assert campaigns.start_due_newsletters() == 1
    db.session.commit()
    return paket


def pakets() -> int:
    db.session.rollback()
    return db.session.scalar(select(func.count()).select_from(Paket))


def test_a_running_one_is_copied_and_the_copy_s_edit_page_opens_filled_in(web, me, running, vip, berlin):
    me.timezone = "Europe/Berlin"
    db.session.commit()
    page = web.get(f"/newsletters/{running.id}").get_data(as_text=True)
    assert f'action="/newsletters/{running.id}/duplicate"' in page
    response = web.post(f"/newsletters/{running.id}/duplicate")
    assert response.status_code == 302
    copy_id = int(re.fullmatch(r".*/newsletters/(\d+)/edit", response.headers["Location"]).group(1))
    assert copy_id != running.id
    state = newsletter_state(copy_id)
    assert (state.title, state.body, state.sim, state.status, state.time_to_send, state.tag_ids) == (
        "Spring sale (copy)", "Hi {first_name|there}", 1, campaigns.DRAFT, None, sorted([vip.id, berlin.id]))
    html = web.get(response.headers["Location"]).get_data(as_text=True)
    assert "Copied as a new draft: check it, then save it or schedule it." in html
    assert re.search(r'id="title"[^>]*value="Spring sale \(copy\)"', html)
    assert 'id="send_at"' in html and not re.search(r'id="send_at"[^>]*value="\d', html)  # no send time
    assert newsletter_state(running.id).status == campaigns.RUNNING


@pytest.mark.parametrize("path", [
    "/newsletters/999999999/duplicate", f"/newsletters/{MAX_ROW_ID + 1}/duplicate", "/newsletters/abc/duplicate",
    "/newsletters/-1/duplicate", "/newsletters//duplicate",
])
def test_a_missing_or_malformed_id_is_404_and_copies_nothing(web, running, path):
    assert web.post(path).status_code == 404
    assert pakets() == 1


def test_only_a_post_copies(web, running):
    for method in ("get", "put", "delete"):
        assert getattr(web, method)(f"/newsletters/{running.id}/duplicate").status_code == 405
    assert pakets() == 1


def test_a_copy_without_the_csrf_token_is_refused(base_config, me, running):
    paket_id = running.id
    client = create_app({**base_config, "WTF_CSRF_ENABLED": True}).test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"email": "me@example.com", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    assert client.post(f"/newsletters/{paket_id}/duplicate").status_code == 400
    assert pakets() == 1
    page = client.get(f"/newsletters/{paket_id}").get_data(as_text=True)
    form = page.split(f'action="/newsletters/{paket_id}/duplicate"')[1].split("</form>")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post(f"/newsletters/{paket_id}/duplicate", data={"csrf_token": token}).status_code == 302
    assert pakets() == 2
