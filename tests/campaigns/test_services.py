"""Newsletters: savepaket validation, the state machine, fan-out, pause/resume/cancel, finishing and stats."""
from datetime import datetime, timedelta, timezone

import pytest
from sqlalchemy import select, update

from smsplatform.accounts import services as accounts
from smsplatform.campaigns import services
from smsplatform.contacts import optout
from smsplatform.contacts import services as contacts
from smsplatform.errors import ConflictError, NotFoundError, ValidationError
from smsplatform.events import WAKE_KEY
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.models import Message, Paket
from smsplatform.timeutil import utcnow
from tests.campaigns.conftest import BAD_CONTENT, bulk_contacts, make_tag, new_paket
from tests.conftest import create_device


def started(owner, device, tags, **kwargs):
    paket = new_paket(owner, device, tags, **kwargs)
    services.start_due_newsletters()
    db.session.commit()
    db.session.refresh(paket)
    return paket


def messages_of(paket):
    return list(db.session.scalars(select(Message).where(Message.paket_id == paket.id).order_by(Message.phone)))


# savepaket validation -----------------------------------------------------------------------------

def test_create_paket_schedules_it_now_with_legacy_inputs(owner, device):
    vip, berlin = make_tag(owner, "VIP"), make_tag(owner, "Berlin")
    before = utcnow()
    paket = services.create_paket(owner, title="", body="Hello", device_id=str(device.id), sim="0",
                                  tag_ids=f" {vip.id}, {berlin.id} ,", time_to_send=0)
    assert paket.status == services.SCHEDULED and paket.title == "Hello"
    assert before <= paket.time_to_send <= utcnow()
    assert {t.id for t in paket.tags} == {vip.id, berlin.id}


@pytest.mark.parametrize("value, expected", [
    ("24.12.2030 18:30:00", datetime(2030, 12, 24, 17, 30, tzinfo=timezone.utc)),
    ("2030-12-24 18:30", datetime(2030, 12, 24, 17, 30, tzinfo=timezone.utc)),
    ("2030-07-01", datetime(2030, 6, 30, 22, 0, tzinfo=timezone.utc)),
])
def test_time_to_send_formats_are_in_the_account_zone(owner, device, value, expected):
    owner.timezone = "Europe/Berlin"
    paket = new_paket(owner, device, [make_tag(owner, "VIP")], time_to_send=value)
    assert paket.time_to_send == expected


@pytest.mark.parametrize("change, error, text", BAD_CONTENT)
def test_bad_savepaket_input_is_refused_with_a_clear_message(owner, device, change, error, text):
    tag = make_tag(owner, "VIP")
    arguments = {"title": "T", "body": "Hi", "device_id": device.id, "sim": 0, "tag_ids": str(tag.id),
                 "time_to_send": "0", **change}
    with pytest.raises(error) as raised:
        services.create_paket(owner, **arguments)
    assert text in raised.value.message
    assert db.session.query(Paket).count() == 0


@pytest.mark.parametrize("value, expected", [
    ("12,13,14", [12, 13, 14]), (" 12 , 13 ,, 12", [12, 13]), (12, [12]), (12.0, [12]), ("12.0", [12]), (True, [1]),
    (["12", 13], [12, 13]), (["12", ""], [12]), ([12, "  ", "13"], [12, 13]), ((12, 12), [12]),
])
def test_tag_ids_are_read_in_every_form_legacy_clients_send(value, expected):
    assert services._tag_ids(value) == expected


@pytest.mark.parametrize("value, text", [
    (None, "tags is required"), ("", "tags is required"), ([""], "tags is required"), ([], "tags is required"),
    ("12,abc", "tags must be an integer"), ("12.5", "tags must be an integer"), (12.5, "tags must be an integer"),
    ({"id": 12}, "tags must be an integer"), (0, "tags must be at least 1"), ([12, None], "tags is required"),
])
def test_unreadable_tag_ids_are_refused(value, text):
    with pytest.raises(ValidationError) as raised:
        services._tag_ids(value)
    assert text in raised.value.message and raised.value.field == "tags"


def test_foreign_tags_and_devices_are_not_found(owner, device, make_account):
    stranger = make_account(email="stranger@example.com")[0]
    foreign_tag, foreign_device = make_tag(stranger, "Theirs"), create_device(stranger)
    mine = make_tag(owner, "Mine")
    with pytest.raises(NotFoundError):
        services.create_paket(owner, title="T", body="Hi", device_id=device.id, sim=0,
                              tag_ids=f"{mine.id},{foreign_tag.id}", time_to_send=None)
    with pytest.raises(NotFoundError):
        services.create_paket(owner, title="T", body="Hi", device_id=foreign_device.id, sim=0,
                              tag_ids=str(mine.id), time_to_send=None)
    paket = new_paket(owner, device, [mine])
    with pytest.raises(NotFoundError):
        services.pause_paket(stranger, paket.id)
    with pytest.raises(NotFoundError):
        services.preview_newsletter(stranger, "Hi", [mine.id])


# State machine ------------------------------------------------------------------------------------

def test_only_valid_transitions_are_allowed(owner, device):
    tag = make_tag(owner, "VIP")
    draft = new_paket(owner, device, [tag], schedule=False)
    assert draft.status == services.DRAFT
    for move in (services.pause_paket, services.resume_paket):
        with pytest.raises(ConflictError):
            move(owner, draft.id)
    services.start_paket_now(owner, draft.id)
    assert draft.status == services.SCHEDULED
    with pytest.raises(ConflictError):
        services.resume_paket(owner, draft.id)
    services.unschedule_paket(owner, draft.id)
    assert draft.status == services.DRAFT
    services.start_paket_now(owner, draft.id)
    services.start_due_newsletters()
    db.session.refresh(draft)
    assert draft.status == services.RUNNING
    with pytest.raises(ConflictError):
        services.resume_paket(owner, draft.id)
    with pytest.raises(ConflictError):
        services.start_paket_now(owner, draft.id)
    services.pause_paket(owner, draft.id)
    with pytest.raises(ConflictError):
        services.pause_paket(owner, draft.id)
    services.cancel_paket(owner, draft.id)
    for move in services.ACTION_CALLS.values():
        with pytest.raises(ConflictError) as error:
            move(owner, draft.id)
        assert "is cancelled" in error.value.message


@pytest.mark.parametrize("state, actions", [
    (services.DRAFT, ["start", "cancel"]),
    (services.SCHEDULED, ["start", "unschedule", "cancel"]),
    (services.RUNNING, ["pause", "cancel"]),
    (services.PAUSED, ["resume", "cancel"]),
    (services.CANCELLED, []),
    (services.FINISHED, []),
])
def test_available_actions_are_exactly_the_moves_the_services_allow(owner, device, state, actions):
    """What the newsletter page offers in each state, and each offered move succeeds, each other one is refused."""
    assert list(services.ACTION_CALLS) == list(services.ACTION_SOURCES)
    paket = new_paket(owner, device, [make_tag(owner, "VIP")], time_to_send="2099-01-01 10:00")
    for action, call in services.ACTION_CALLS.items():
        db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=state)
                           .execution_options(synchronize_session=False))
        db.session.refresh(paket)
        assert services.available_actions(paket) == actions
        if action in actions:
            call(owner, paket.id)
        else:
            with pytest.raises(ConflictError, match=f"is {state}"):
                call(owner, paket.id)


def test_start_now_schedules_a_draft_or_a_later_newsletter_for_now(owner, device, make_account):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+491111": [tag.id]})
    now = utcnow().replace(microsecond=0)
    draft = new_paket(owner, device, [tag], schedule=False)
    later = new_paket(owner, device, [tag], time_to_send="2099-01-01 10:00")
    for paket in (draft, later):
        assert services.start_paket_now(owner, paket.id, now=now) is paket
        assert (paket.status, paket.time_to_send, paket.updated_at) == (services.SCHEDULED, now, now)
    db.session.commit()
    assert services.start_due_newsletters(now=now) == 2  # the scheduler's next run starts both
    db.session.commit()

    running = draft
    with pytest.raises(ConflictError, match="is running; it cannot become scheduled"):
        services.start_paket_now(owner, running.id)
    services.cancel_paket(owner, later.id)
    with pytest.raises(ConflictError, match="is cancelled"):
        services.start_paket_now(owner, later.id)
    db.session.commit()
    db.session.expire_all()
    assert (running.status, later.status) == (services.RUNNING, services.CANCELLED)
    other, _token = make_account(email="other@example.com")
    with pytest.raises(NotFoundError):
        services.start_paket_now(other, draft.id)


def test_start_now_is_one_move_a_newsletter_started_meanwhile_stays_running(owner, device):
    """The state is read by the conditional UPDATE itself: a newsletter the scheduler claimed after the
    page was shown (its object still says 'scheduled') is refused, never sent back through draft."""
    paket = new_paket(owner, device, [make_tag(owner, "VIP")], time_to_send="2099-01-01 10:00")
    assert paket.status == services.SCHEDULED
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=services.RUNNING)
                       .execution_options(synchronize_session=False))  # the scheduler, in another process
    with pytest.raises(ConflictError, match="is running"):
        services.start_paket_now(owner, paket.id)
    assert paket.status == services.RUNNING


# Start and fan-out --------------------------------------------------------------------------------

def test_start_due_starts_only_due_newsletters_once(owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+4915752982212": [tag.id]})
    due = new_paket(owner, device, [tag], time_to_send="2020-01-01 00:00:00", past_means_now=True)  # savepaket's rule
    later = new_paket(owner, device, [tag], time_to_send="2099-01-01")
    assert services.start_due_newsletters() == 1
    db.session.commit()
    assert services.start_due_newsletters() == 0
    db.session.refresh(due), db.session.refresh(later)
    assert (due.status, later.status) == (services.RUNNING, services.SCHEDULED)
    assert due.total_recipients == 1 and due.fanout_completed_at is not None
    assert services.start_due_newsletters(now=datetime(2099, 1, 1, tzinfo=timezone.utc)) == 1


def test_fan_out_unites_tags_dedupes_and_skips_opted_out_and_other_accounts(owner, device, make_account):
    vip, berlin, other = make_tag(owner, "VIP"), make_tag(owner, "Berlin"), make_tag(owner, "Other")
    stranger = make_account(email="stranger@example.com")[0]
    bulk_contacts(owner, {
        "+491111": [vip.id, berlin.id], "+492222": [vip.id], "+493333": [berlin.id],
        "+494444": [vip.id], "+495555": [other.id], "+496666": [],
    }, opted_out=["+494444"])
    bulk_contacts(stranger, {"+497777": []})
    paket = started(owner, device, [vip, berlin])
    rows = messages_of(paket)
    assert [m.phone for m in rows] == ["+491111", "+492222", "+493333"]
    assert all(m.status == statuses.PENDING and m.ready and not m.urgent and m.device_id == device.id
               and m.body == "Big sale today" and m.segments == 1 and m.contact_id for m in rows)
    assert paket.total_recipients == 3
    assert services.fan_out(paket.id) == 3  # a re-run writes nothing new
    assert len(messages_of(paket)) == 3


def fanned_out(owner, device, status):
    """A newsletter to one contact, put straight into ``status`` (no state move), then fanned out."""
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+491111": [tag.id]})
    paket = new_paket(owner, device, [tag])
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=status))
    services.fan_out(paket.id)
    return paket


def test_fan_out_wakes_the_device_after_commit(owner, device):
    fanned_out(owner, device, services.RUNNING)
    assert device.id in db.session.info[WAKE_KEY]


def test_personalised_bodies_render_per_contact_with_segments(owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+491111": [tag.id], "+492222": [tag.id], "+493333": [tag.id]},
                  names={"+491111": "Anna Schmidt", "+493333": "Zoë Ωmega " + "x" * 60})
    paket = started(owner, device, [tag], body="Hi {first_name|friend}, your number {PHONE}. {unknown} stays")
    rows = {m.phone: m for m in messages_of(paket)}
    assert rows["+491111"].body == "Hi Anna, your number +491111. {unknown} stays"
    assert rows["+492222"].body == "Hi friend, your number +492222. {unknown} stays"
    assert rows["+493333"].encoding == "UCS-2" and rows["+493333"].segments == 1
    assert rows["+491111"].encoding == "GSM-7"


LONGEST_NAME = "Zoë " + "x" * 251  # 255 characters, the most a contact's name has


@pytest.mark.parametrize("body", ["{name} " * 300, "a" * 4750 + "{first_name}", "{phone|" + "b" * 4980 + "}{PHONE}"])
def test_a_body_whose_personalised_messages_could_pass_the_limit_is_refused(owner, device, body):
    """Each message must fit the body limit a direct message has; on MariaDB one past 64 KB was stored cut short
    without a word, at a byte count (300 × {name} of 255 characters: 76,500, stored as its first 10,964)."""
    tag = make_tag(owner, "VIP")
    with pytest.raises(ValidationError, match="body is too long once personalised: .* at most 5000") as refused:
        services.create_paket(owner, title="t", body=body, device_id=device.id, sim=0, tag_ids=str(tag.id),
                              time_to_send="0")
    assert refused.value.field == "body"
    draft = new_paket(owner, device, [tag], schedule=False)
    with pytest.raises(ValidationError, match="body is too long once personalised"):
        services.update_paket(owner, draft.id, title="t", body=body, device_id=device.id, sim=0, tag_ids=str(tag.id),
                              time_to_send=None)


def test_a_body_at_the_limit_with_the_longest_names_is_sent_whole(owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+491111": [tag.id], "+492222": [tag.id]}, names={"+491111": LONGEST_NAME})
    body = "{name|friend} " * 19 + "a" * (5000 - 19 * 256)  # at most 19 × 256 + the rest = 5,000 characters
    paket = started(owner, device, [tag], body=body)
    rows = {m.phone: m for m in messages_of(paket)}
    assert rows["+491111"].body == (LONGEST_NAME + " ") * 19 + "a" * 136 and len(rows["+491111"].body) == 5000
    assert (rows["+491111"].encoding, rows["+491111"].segments) == ("UCS-2", 75)
    assert rows["+492222"].body == "friend " * 19 + "a" * 136
    assert (rows["+492222"].encoding, rows["+492222"].segments) == ("GSM-7", 2)


def test_fan_out_of_a_paused_newsletter_writes_held_messages(owner, device):
    paket = fanned_out(owner, device, services.PAUSED)
    assert [m.ready for m in messages_of(paket)] == [False]
    services.resume_paket(owner, paket.id)
    assert [m.ready for m in messages_of(paket)] == [True]


def test_fan_out_refuses_newsletters_that_are_not_running(owner, device):
    tag = make_tag(owner, "VIP")
    paket = new_paket(owner, device, [tag])
    with pytest.raises(ConflictError):
        services.fan_out(paket.id)
    with pytest.raises(NotFoundError):
        services.fan_out(999999)


def test_pause_resume_cancel_act_on_pending_messages_only(owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {f"+4910000{i}": [tag.id] for i in range(4)})
    paket = started(owner, device, [tag])
    first, second, *_ = messages_of(paket)
    first.status = statuses.TAKEN
    second.status = statuses.DELIVERED
    db.session.commit()
    services.pause_paket(owner, paket.id)
    db.session.commit()
    assert [m.ready for m in messages_of(paket) if m.status == statuses.PENDING] == [False, False]
    db.session.expire_all()
    services.resume_paket(owner, paket.id)
    db.session.commit()
    assert [m.ready for m in messages_of(paket) if m.status == statuses.PENDING] == [True, True]
    services.cancel_paket(owner, paket.id)
    db.session.commit()
    db.session.expire_all()
    assert [m.status for m in messages_of(paket)] == [statuses.TAKEN, statuses.DELIVERED, 13, 13]
    assert services.paket_stats(paket) == {"total": 4, "pending": 0, "taken": 1, "sent": 0, "delivered": 1,
                                           "failed": 0, "opted_out": 0, "cancelled": 2}


def test_opt_out_after_fan_out_withdraws_the_message_and_stats_add_up(owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+491111": [tag.id], "+492222": [tag.id], "+493333": [tag.id]})
    paket = started(owner, device, [tag])
    optout.handle_incoming(owner, "+492222", "stop")
    rows = messages_of(paket)
    rows[0].status = statuses.FAILED_NO_SERVICE
    db.session.commit()
    stats = services.paket_stats(paket)
    assert stats == {"total": 3, "pending": 1, "taken": 0, "sent": 0, "delivered": 0, "failed": 1,
                     "opted_out": 1, "cancelled": 0}


def test_stats_of_several_newsletters_in_one_call_match_each_ones_stats(owner, device):
    vip, berlin = make_tag(owner, "VIP"), make_tag(owner, "Berlin")
    bulk_contacts(owner, {"+491111": [vip.id], "+492222": [vip.id, berlin.id], "+493333": [berlin.id]})
    first, second = started(owner, device, [vip]), started(owner, device, [berlin])
    draft = new_paket(owner, device, [vip], schedule=False)
    messages_of(first)[0].status = statuses.DELIVERED
    db.session.commit()
    by_id = services.paket_stats_by_id([first.id, second.id, draft.id])
    assert by_id[first.id] == {"total": 2, "pending": 1, "taken": 0, "sent": 0, "delivered": 1, "failed": 0,
                               "opted_out": 0, "cancelled": 0}
    assert by_id[second.id] == {"total": 2, "pending": 2, "taken": 0, "sent": 0, "delivered": 0, "failed": 0,
                                "opted_out": 0, "cancelled": 0}
    assert by_id[draft.id] == dict.fromkeys(["total", *services.STAT_BUCKETS], 0)
    assert services.paket_stats_by_id([]) == {}


def test_finish_completed_only_when_nothing_is_left_to_send(owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+491111": [tag.id], "+492222": [tag.id]})
    paket = started(owner, device, [tag])
    empty = started(owner, device, [make_tag(owner, "Nobody")])
    assert empty.total_recipients == 0
    assert services.finish_completed() == 1  # the empty one
    for message in messages_of(paket):
        message.status = statuses.SENT
    db.session.commit()
    assert services.finish_completed() == 1
    db.session.refresh(paket)
    assert paket.status == services.FINISHED and paket.finished_at is not None


def test_start_due_completes_a_fan_out_left_incomplete(owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {f"+4910000{i}": [tag.id] for i in range(5)})
    paket = new_paket(owner, device, [tag], body="Hi {name|there}")
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=services.RUNNING))
    db.session.commit()
    # A crashed batch run: two of five written, completion not recorded.
    services.fan_out(paket.id, batch_size=2, commit=lambda: None)
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(fanout_completed_at=None, total_recipients=None))
    db.session.execute(Message.__table__.delete().where(Message.phone.in_(["+49100002", "+49100003", "+49100004"])))
    db.session.commit()
    assert services.start_due_newsletters() == 0
    db.session.commit()
    db.session.refresh(paket)
    assert paket.total_recipients == 5 and len(messages_of(paket)) == 5


class _Crash(Exception):
    pass


def test_a_contact_renumbered_after_a_crashed_batch_gets_no_second_message(owner, device):
    """A batch run commits its first batch and dies. The account's default region is then set, so the
    contacts messaged at national digits get their international number (one merged into the contact that
    had it), and another messaged contact is deleted. Completing the fan-out must not write to them again at
    the new number (one message a contact), nor let the deleted one's message stop the rest."""
    tag = make_tag(owner, "VIP")
    ids = bulk_contacts(owner, {"015752982212": [tag.id], "015752982213": [tag.id], "+4915752982201": [tag.id],
                                "+4915752982213": [tag.id], "+4915752982299": [tag.id]})
    paket = new_paket(owner, device, [tag])
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=services.RUNNING))
    db.session.commit()

    def commit_then_crash():
        db.session.commit()
        raise _Crash

    with pytest.raises(_Crash):
        services.fan_out(paket.id, batch_size=3, commit=commit_then_crash)
    db.session.rollback()
    assert [m.phone for m in messages_of(paket)] == ["+4915752982201", "015752982212", "015752982213"]
    renumbered = accounts.update_settings(owner, default_region="DE")
    assert contacts.delete_contact(owner, ids["+4915752982201"]) is True
    db.session.commit()
    assert (renumbered.contacts, renumbered.merged) == (2, 1)

    services.start_due_newsletters()
    db.session.commit()
    db.session.refresh(paket)
    assert [(m.contact_id, m.phone) for m in messages_of(paket)] == [
        (None, "+4915752982201"), (ids["+4915752982299"], "+4915752982299"),
        (ids["015752982212"], "015752982212"), (ids["+4915752982213"], "015752982213")]
    assert paket.total_recipients == 4


def test_preview_and_audience(owner, device):
    vip, berlin = make_tag(owner, "VIP"), make_tag(owner, "Berlin")
    bulk_contacts(owner, {"+491111": [vip.id, berlin.id], "+492222": [berlin.id], "+493333": [vip.id]},
                  opted_out=["+493333"], names={"+491111": "Anna"})
    preview = services.preview_newsletter(owner, "Hallo {name|Kunde} 👋", f"{vip.id},{berlin.id}")
    assert preview.preview.text == "Hallo Anna 👋" and preview.preview.segments.encoding == "UCS-2"
    assert preview.audience == 2 and preview.sample_phone == "+491111"
    empty = services.preview_newsletter(owner, "Hallo {name|Kunde}", [make_tag(owner, "None").id])
    assert (empty.preview.text, empty.audience, empty.sample_phone) == ("Hallo Kunde", 0, None)


def test_long_body_segments(owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+491111": [tag.id]})
    paket = started(owner, device, [tag], body="a" * 161)
    assert messages_of(paket)[0].segments == 2
    euros = started(owner, device, [tag], body="€" * 81)  # GSM-7 extension characters count twice
    assert (messages_of(euros)[0].encoding, messages_of(euros)[0].segments) == ("GSM-7", 2)


def test_time_to_send_in_the_future_is_kept_until_due(owner, device):
    tag = make_tag(owner, "VIP")
    bulk_contacts(owner, {"+491111": [tag.id]})
    soon = utcnow() + timedelta(hours=1)
    paket = new_paket(owner, device, [tag], time_to_send=soon.strftime("%Y-%m-%d %H:%M:%S"))
    assert services.start_due_newsletters() == 0
    assert services.start_due_newsletters(now=soon + timedelta(seconds=1)) == 1
    db.session.refresh(paket)
    assert messages_of(paket)[0].time_to_send == paket.time_to_send
