"""Deleting a newsletter from its page: a POST with the CSRF token behind a confirmation, only for one
that sent nothing or is over; the refusal is flashed on its page and nothing changes."""
import re

import pytest
from sqlalchemy import func, select, update

from smsplatform import create_app
from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.models import Message, Paket, paket_tags
from smsplatform.models.types import MAX_ROW_ID
from tests.support.newsletters import newsletter_state
from tests.web.conftest import PASSWORD


@pytest.fixture
def draft(me, device, vip):
    paket = campaigns.create_paket(me, title="Spring sale", body="Hi {name}", device_id=device.id, sim=0,
                                   tag_ids=[vip.id], time_to_send=None, schedule=False)
    db.session.commit()
    return paket


def started(account, paket):
    """The draft started by the scheduler: running, its message fanned out."""
    campaigns.start_paket_now(account, paket.id)
    assert campaigns.start_due_newsletters() == 1
    db.session.commit()
    return paket


def buttons(web, paket) -> list[str]:
    html = web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    return re.findall(rf'action="/newsletters/{paket.id}/(\w+)"', html)


def exists(paket_id) -> bool:
    db.session.expire_all()
    return db.session.get(Paket, paket_id) is not None


def test_a_draft_is_deleted_after_a_confirmation_and_leaves_the_list(web, draft):
    html = web.get(f"/newsletters/{draft.id}").get_data(as_text=True)
    form = re.search(rf'<form method="post" action="/newsletters/{draft.id}/delete"[^>]*>', html).group(0)
    assert 'data-confirm="Delete this newsletter? This cannot be undone."' in form
    response = web.post(f"/newsletters/{draft.id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith("/newsletters")
    listing = web.get("/newsletters").get_data(as_text=True)
    assert "Newsletter “Spring sale” deleted." in listing and f'href="/newsletters/{draft.id}"' not in listing
    assert not exists(draft.id)
    assert db.session.scalar(select(func.count()).select_from(paket_tags)) == 0
    assert web.get(f"/newsletters/{draft.id}").status_code == 404


def test_a_finished_one_is_deleted_and_its_messages_stay(web, me, draft):
    started(me, draft)
    db.session.execute(update(Message).where(Message.paket_id == draft.id).values(status=st.DELIVERED))
    assert campaigns.finish_completed() == 1
    db.session.commit()
    html = web.get(f"/newsletters/{draft.id}").get_data(as_text=True)
    assert "Its messages stay in your message history, no longer linked to it." in html
    assert web.post(f"/newsletters/{draft.id}/delete").status_code == 302
    assert not exists(draft.id)
    [(body, status, paket_id)] = db.session.execute(select(Message.body, Message.status, Message.paket_id)).all()
    assert (body, status, paket_id) == ("Hi Ada Lovelace", st.DELIVERED, None)


@pytest.mark.parametrize("pause", [False, True])
def test_a_running_or_paused_one_has_no_delete_button_and_is_refused(web, me, draft, pause):
    started(me, draft)
    if pause:
        campaigns.pause_paket(me, draft.id)
        db.session.commit()
    assert "delete" not in buttons(web, draft)
    before = newsletter_state(draft.id)
    response = web.post(f"/newsletters/{draft.id}/delete")
    assert response.status_code == 302 and response.headers["Location"].endswith(f"/newsletters/{draft.id}")
    page = web.get(f"/newsletters/{draft.id}").get_data(as_text=True)
    state = "paused" if pause else "running"
    assert (f"Could not delete the newsletter: newsletter {draft.id} is {state}; cancel it first (only a draft, "
            "scheduled, finished or cancelled newsletter can be deleted)") in page
    assert newsletter_state(draft.id) == before
    assert db.session.scalar(select(Message.paket_id)) == draft.id


def test_the_states_that_show_the_delete_button(web, me, draft):
    assert buttons(web, draft) == ["start", "cancel", "delete", "duplicate"]
    campaigns.start_paket_now(me, draft.id)
    db.session.commit()
    assert "delete" in buttons(web, draft)  # scheduled
    campaigns.cancel_paket(me, draft.id)
    db.session.commit()
    assert buttons(web, draft) == ["delete", "duplicate"]


@pytest.mark.parametrize("path", [
    "/newsletters/999999999/delete",  # missing
    f"/newsletters/{MAX_ROW_ID + 1}/delete",  # past a BIGINT: never reaches the database
    "/newsletters/abc/delete", "/newsletters//delete", "/newsletters/-1/delete", "/newsletters/1.5/delete",
])
def test_a_missing_or_malformed_id_is_404(web, draft, path):
    assert web.post(path).status_code == 404
    assert exists(draft.id)


def test_only_a_post_deletes(web, draft):
    for method in ("get", "put", "delete"):
        assert getattr(web, method)(f"/newsletters/{draft.id}/delete").status_code == 405
    assert exists(draft.id)


def test_a_deletion_without_the_csrf_token_is_refused(base_config, me, draft):
    csrf_app = create_app({**base_config, "WTF_CSRF_ENABLED": True})
    client = csrf_app.test_client()
    paket_id = draft.id
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token"[^>]*value="([^"]+)"', page).group(1)
    assert client.post("/login", data={"email": "me@example.com", "password": PASSWORD,
                                       "csrf_token": token}).status_code == 302
    assert client.post(f"/newsletters/{paket_id}/delete").status_code == 400
    assert exists(paket_id)
    page = client.get(f"/newsletters/{paket_id}").get_data(as_text=True)
    form = page.split(f'action="/newsletters/{paket_id}/delete"')[1].split("</form>")[0]
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    assert client.post(f"/newsletters/{paket_id}/delete", data={"csrf_token": token}).status_code == 302
    db.session.rollback()  # a fresh snapshot: the other app committed on its own connection
    assert not exists(paket_id)


def test_signed_out_nothing_is_deleted(client, draft):
    response = client.post(f"/newsletters/{draft.id}/delete")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    assert exists(draft.id)
