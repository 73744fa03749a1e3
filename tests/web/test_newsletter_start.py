"""A newsletter whose device was removed in the dashboard after it was saved: its "Start now" is refused on
its page, naming the device, and nothing changes."""

from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.models import Paket
from tests.support.newsletters import newsletter_state


def newsletter(me, device, vip, **kwargs) -> Paket:
    paket = campaigns.create_paket(me, title="Spring sale", body="Hi {first_name|there}", device_id=device.id, sim=0,
                                   tag_ids=[vip.id], **kwargs)
    db.session.commit()
    return paket


def remove(web, device) -> None:
    response = web.post(f"/devices/{device.id}/remove", data={"queued": "fail"})
    assert response.status_code == 302 and response.headers["Location"] == "/devices"


def test_start_now_after_the_device_was_removed_is_refused_naming_it(web, me, device, vip):
    draft = newsletter(me, device, vip, time_to_send=None, schedule=False)
    remove(web, device)
    before = newsletter_state(draft.id)
    response = web.post(f"/newsletters/{draft.id}/start")
    assert response.status_code == 302 and response.headers["Location"] == f"/newsletters/{draft.id}"
    html = web.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Could not start the newsletter: its device Pixel (#{device.id}) was removed" in html
    assert newsletter_state(draft.id) == before and before.status == campaigns.DRAFT
