"""Newsletter controls against the real device queue: what a phone is handed after pause, resume, cancel
and opt-out, and how a newsletter ends when its phone vanishes."""
from datetime import timedelta

from sqlalchemy import update

from smsplatform.campaigns import services
from smsplatform.contacts import optout
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.messaging.queue import apply_state_report, claim_for_device, fail_left_on_silent_phones
from smsplatform.models import Message
from smsplatform.timeutil import utcnow
from tests.campaigns.conftest import bulk_contacts, make_tag


def _claim(device):
    claimed = claim_for_device(device, limit=100)
    db.session.commit()
    return sorted(m.phone for m in claimed)


def _start(owner, device, tag, title):
    paket = services.create_paket(owner, title=title, body=f"{title} for {{name|you}}", device_id=device.id, sim=0,
                                  tag_ids=str(tag.id), time_to_send="0")
    db.session.commit()
    return paket


def _running(owner, device, title, phones):
    """A tag "VIP" on ``phones``, and a newsletter to it, started and fanned out: (tag, phones, newsletter)."""
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {p: [tag.id] for p in phones})
    paket = _start(owner, device, tag, title)
    services.start_due_newsletters()
    db.session.commit()
    return tag, phones, paket


def test_pause_holds_resume_hands_out_only_what_is_left_and_cancel_withdraws(owner, device):
    tag, phones, paket = _running(owner, device, "Sale", [f"+4915100000{i:02d}" for i in range(6)])
    services.pause_paket(owner, paket.id)
    db.session.commit()
    assert _claim(device) == []  # paused: nothing is handed out
    services.resume_paket(owner, paket.id)
    db.session.commit()
    first = claim_for_device(device, limit=2)
    db.session.commit()
    assert len(first) == 2 and all(m.status == statuses.TAKEN for m in first)
    optout.handle_incoming(owner, phones[5], "STOP")
    db.session.commit()
    services.pause_paket(owner, paket.id)
    services.resume_paket(owner, paket.id)
    db.session.commit()
    handed = set(_claim(device))
    assert handed == set(phones[:5]) - {m.phone for m in first}  # the rest, once, minus the opted-out number
    assert _claim(device) == []

    second = _start(owner, device, tag, "Second")
    services.start_due_newsletters()
    services.cancel_paket(owner, second.id)
    db.session.commit()
    assert _claim(device) == []
    assert services.paket_stats(second)["cancelled"] == 5
    assert services.paket_stats(paket) == {"total": 6, "pending": 0, "taken": 5, "sent": 0, "delivered": 0,
                                           "failed": 0, "opted_out": 1, "cancelled": 0}


def test_a_newsletter_whose_phone_vanished_with_its_messages_finishes_once_they_fail(app, owner, device):
    _tag, _phones, paket = _running(owner, device, "Vanished", [f"+4915100001{i:02d}" for i in range(3)])
    claimed = claim_for_device(device, limit=100)
    db.session.commit()
    apply_state_report(device, str(claimed[0].id), "Delivered", [], {})
    for message in claimed[1:]:
        apply_state_report(device, str(message.id), "Processed", [], {})  # in the phone's queue, then silence
    db.session.commit()
    assert services.finish_completed() == 0
    db.session.commit()
    assert paket.status == "running"

    assert fail_left_on_silent_phones(app.config) == 0  # the phone was just seen
    long_ago = utcnow() - timedelta(seconds=app.config["SILENT_PHONE_FAIL_SECONDS"] + 60)
    db.session.execute(update(Message).where(Message.paket_id == paket.id).values(taken_at=long_ago))
    device.last_seen_at = long_ago  # and has been silent since
    assert fail_left_on_silent_phones(app.config) == 2
    assert services.finish_completed() == 1
    db.session.commit()
    db.session.refresh(paket)
    assert paket.status == "finished"
    assert services.paket_stats(paket) == {"total": 3, "pending": 0, "taken": 0, "sent": 0, "delivered": 1,
                                           "failed": 2, "opted_out": 0, "cancelled": 0}
