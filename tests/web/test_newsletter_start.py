"""A newsletter whose device was removed in the dashboard after it was saved: its "Start now" is refused on
its page, naming the device, and nothing changes; a scheduled one is cancelled when its time comes, and
its page and the newsletter list say why."""
import re
from datetime import timedelta

from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.models import Paket
from smsplatform.timeutil import utcnow
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


def test_a_scheduled_one_is_cancelled_when_its_time_comes_and_its_pages_say_why(web, me, device, vip):
    scheduled = newsletter(me, device, vip, time_to_send=(utcnow() + timedelta(hours=1)).strftime("%Y-%m-%d %H:%M"))
    remove(web, device)
    assert campaigns.start_due_newsletters(now=utcnow() + timedelta(hours=2)) == 0
    db.session.commit()
    html = web.get(f"/newsletters/{scheduled.id}").get_data(as_text=True)
    assert re.search(r'id="paket-status">cancelled<', html)
    reason = re.search(r'id="paket-cancel-reason">([^<]*)<', html).group(1)
    assert " ".join(reason.split()) == (f"Not started when its time came, and cancelled: its device Pixel "
                                        f"(#{device.id}) was removed. To send it after all, duplicate it, check "
                                        "the copy and schedule it.")
    listed = " ".join(web.get("/newsletters").get_data(as_text=True).split())
    assert f"· not started: its device Pixel (#{device.id}) was removed" in listed
