"""A newsletter's and a message's pages, and the lists, refresh only what changes, in place (app.js live regions,
updated without taking the keyboard focus), and only while it can change soon: never for something scheduled
months ahead, never by reloading the whole page."""
import re
from datetime import datetime, timedelta

from sqlalchemy import update

from smsplatform.campaigns import services as campaigns
from smsplatform.extensions import db
from smsplatform.messaging import statuses as st
from smsplatform.messaging.service import accept_messages
from smsplatform.models import Message, Paket
from smsplatform.timeutil import UTC
from tests.support.clock import pin_clock

NOW = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


def live_regions(html: str) -> dict[str, str]:
    """Each live region of the page by its id, with its refresh interval in seconds."""
    regions = {}
    for tag in re.findall(r"<[a-z]+ [^>]*data-live=[^>]*>", html):
        regions[re.search(r'id="([^"]+)"', tag).group(1)] = re.search(r'data-live="(\d+)"', tag).group(1)
    return regions


def controls_inside(html: str, region: str) -> list[str]:
    """The buttons, links and fields inside the live region ``region``."""
    start = html.index(f'id="{region}"')
    tag = html[:start].rsplit("<", 1)[1].split()[0]
    inner = html[start:html.index(f"</{tag}>", start)]
    return re.findall(r"<(?:button|a|input|select|textarea)\b", inner)


def region(html: str, region_id: str) -> str:
    """The markup of the element ``region_id``, up to the first end tag of its kind."""
    start = html.index(f'id="{region_id}"')
    tag = html[:start].rsplit("<", 1)[1].split()[0]
    return html[start:html.index(f"</{tag}>", start)]


def newsletter(me, device, tag, when: datetime | None, status: str) -> Paket:
    paket = campaigns.create_paket(me, title="Sale", body="Hi", device_id=device.id, sim=0, tag_ids=[tag.id],
                                   time_to_send=when.strftime("%Y-%m-%d %H:%M:%S") if when else None, schedule=False)
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=status, time_to_send=when))
    db.session.commit()
    return paket


def test_a_newsletter_scheduled_months_ahead_does_not_refresh_itself(web, me, device, vip, monkeypatch):
    pin_clock(monkeypatch, NOW)
    paket = newsletter(me, device, vip, datetime(2027, 4, 1, 9, 0, tzinfo=UTC), campaigns.SCHEDULED)
    for url in (f"/newsletters/{paket.id}", "/newsletters"):
        html = web.get(url).get_data(as_text=True)
        assert 'http-equiv="refresh"' not in html and live_regions(html) == {}, url


def test_a_newsletter_about_to_start_is_watched_in_place(web, me, device, vip, monkeypatch):
    pin_clock(monkeypatch, NOW)
    paket = newsletter(me, device, vip, NOW + timedelta(minutes=2), campaigns.SCHEDULED)
    html = web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html
    assert live_regions(html) == {"paket-progress": "5", "paket-actions": "5", "paket-facts": "5"}
    assert controls_inside(html, "paket-progress") == [] and "Cancel</button>" in html


def test_a_running_newsletter_s_progress_updates_in_place_without_its_controls(web, me, device, vip, monkeypatch):
    pin_clock(monkeypatch, NOW)
    paket = newsletter(me, device, vip, None, campaigns.RUNNING)
    other = newsletter(me, device, vip, datetime(2027, 4, 1, 9, 0, tzinfo=UTC), campaigns.SCHEDULED)
    html = web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html
    assert live_regions(html) == {"paket-progress": "3", "paket-actions": "3", "paket-facts": "3"}
    assert controls_inside(html, "paket-progress") == [] and "<progress" in html and "Pause</button>" in html
    listed = web.get("/newsletters").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in listed and live_regions(listed) == {f"paket-{paket.id}-progress": "3"}
    assert controls_inside(listed, f"paket-{paket.id}-progress") == [] and f"paket-{other.id}-progress" in listed


def test_a_running_newsletter_s_buttons_follow_its_state_and_stop_with_it(web, me, device, vip, monkeypatch):
    """The buttons are a live region of their own, refreshed with the progress: once the newsletter has
    finished, the fetched page offers Delete instead of Pause and Cancel, and nothing of it is live any more."""
    pin_clock(monkeypatch, NOW)
    paket = newsletter(me, device, vip, None, campaigns.RUNNING)
    html = web.get(f"/newsletters/{paket.id}").get_data(as_text=True)
    actions = region(html, "paket-actions")
    assert "Pause</button>" in actions and "Cancel</button>" in actions and "Delete</button>" not in actions
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=campaigns.FINISHED, finished_at=NOW))
    db.session.commit()
    html = web.get(f"/newsletters/{paket.id}", headers={"X-Live-Refresh": "1"}).get_data(as_text=True)
    actions = region(html, "paket-actions")
    assert "Pause</button>" not in actions and "Cancel</button>" not in actions and "Delete</button>" in actions
    assert live_regions(html) == {} and "Finished</dt>" in region(html, "paket-facts")


def test_a_message_scheduled_far_ahead_does_not_refresh_itself(web, me, device, monkeypatch):
    pin_clock(monkeypatch, NOW)
    [message] = accept_messages(me, [{"sendto": "+4915100000001", "body": "x", "device_id": device.id,
                                      "timetosend": "2200-01-01 00:00:00"}], field_prefix=None)
    db.session.commit()
    html = web.get(f"/messages/{message.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html and live_regions(html) == {}


def test_a_message_in_flight_updates_its_status_and_timeline_in_place(web, me, device, monkeypatch):
    pin_clock(monkeypatch, NOW)
    [message] = accept_messages(me, [{"sendto": "+4915100000001", "body": "x", "device_id": device.id}],
                                field_prefix=None)
    db.session.commit()
    html = web.get(f"/messages/{message.id}").get_data(as_text=True)
    assert 'http-equiv="refresh"' not in html
    assert live_regions(html) == {"message-status": "3", "message-timeline": "3", "cancel": "3"}
    assert controls_inside(html, "message-status") == [] and controls_inside(html, "message-timeline") == []
    assert "Cancel message</button>" in region(html, "cancel")

    db.session.execute(update(Message).where(Message.id == message.id).values(status=st.TAKEN))
    db.session.commit()
    html = web.get(f"/messages/{message.id}").get_data(as_text=True)
    assert "Cancel message" not in html and "Cannot be cancelled" in region(html, "cancel")

    db.session.execute(update(Message).where(Message.id == message.id).values(status=st.DELIVERED))
    db.session.commit()
    assert live_regions(web.get(f"/messages/{message.id}").get_data(as_text=True)) == {}


def test_a_messages_list_whose_open_messages_are_all_scheduled_far_ahead_is_not_watched_for_them(
        web, me, device, monkeypatch):
    """The list follows message_refresh: a message scheduled months ahead changes at its time, not before. The
    newest page is still looked at now and then for new messages; an older page holding only such messages is
    not live at all, until one of them comes within minutes of its time."""
    pin_clock(monkeypatch, NOW)
    accept_messages(me, [{"sendto": f"+49151000{i:05d}", "body": "later", "device_id": device.id,
                          "timetosend": "2200-01-01 00:00:00"} for i in range(55)], field_prefix=None)
    db.session.commit()
    assert live_regions(web.get("/messages").get_data(as_text=True)) == {"message-list": "15"}
    assert live_regions(web.get("/messages?page=2").get_data(as_text=True)) == {}

    oldest = db.session.query(Message).order_by(Message.id).first()
    soon = NOW + timedelta(minutes=2)
    db.session.execute(update(Message).where(Message.id == oldest.id).values(time_to_send=soon, due_at=soon))
    db.session.commit()
    assert live_regions(web.get("/messages?page=2").get_data(as_text=True)) == {"message-list": "5"}
