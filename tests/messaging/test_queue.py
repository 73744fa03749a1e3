"""The device queue services: release of due messages, recovery of unacknowledged ones, reports."""
from datetime import timedelta

import pytest
from sqlalchemy import event, func, select, update

from smsplatform.devices import pairing
from smsplatform.events import WAKE_KEY
from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.models import Message, PairingCode, Paket, WebhookReceipt
from smsplatform.timeutil import utcnow
from tests.devices.helpers import add_message, pair


def _paket(account, device, status):
    paket = Paket(account_id=account.id, title=status, body="b", device_id=device.id, status=status)
    db.session.add(paket)
    db.session.flush()
    return paket


def test_release_makes_due_messages_ready_and_wakes_their_devices(app, account):
    device, _ = pair(account[0])
    idle, _ = pair(account[0], name="idle")
    due = add_message(device, ready=False, due_in=-1)
    later = add_message(device, ready=False, due_in=3600)
    paused = add_message(device, ready=False, due_in=-1, paket_id=_paket(account[0], device, "paused").id)
    cancelled = add_message(device, ready=False, due_in=-1, paket_id=_paket(account[0], device, "cancelled").id)
    running = add_message(idle, ready=False, due_in=-1, paket_id=_paket(account[0], idle, "running").id)
    db.session.commit()
    assert queue.release_due_messages() == 2
    assert db.session.info[WAKE_KEY] == {device.id, idle.id}
    db.session.commit()
    assert queue.release_due_messages() == 0  # a second run finds nothing
    db.session.commit()
    ready = dict(db.session.execute(select(Message.id, Message.ready)).all())
    assert ready == {due.id: True, later.id: False, paused.id: False, cancelled.id: False, running.id: True}
    assert queue.release_due_messages(now=utcnow() + timedelta(hours=2)) == 1


def test_claim_hands_out_only_ready_due_messages_of_this_device(app, account, make_account):
    device, _ = pair(account[0])
    other, _ = pair(make_account()[0])
    mine = add_message(device)
    add_message(device, ready=False, due_in=60)
    add_message(other)
    add_message(device, status=5)
    db.session.commit()
    assert [m.id for m in queue.claim_for_device(device)] == [mine.id]
    db.session.commit()
    assert queue.claim_for_device(device) == []


def test_unacknowledged_messages_fail_with_a_reason_and_their_devices_are_woken(app, account):
    config = app.config
    device, _ = pair(account[0])
    now = utcnow()
    stuck = add_message(device, status=2, taken_at=now - timedelta(seconds=config["UNACKED_FAIL_SECONDS"] + 1),
                        last_handed_at=now - timedelta(seconds=config["UNACKED_FAIL_SECONDS"] + 1))
    waiting = add_message(device, status=2, taken_at=now - timedelta(seconds=config["UNACKED_REDELIVERY_SECONDS"] + 5),
                          last_handed_at=now - timedelta(seconds=config["UNACKED_REDELIVERY_SECONDS"] + 5))
    queued = add_message(device, status=3, taken_at=now - timedelta(days=2))
    db.session.commit()
    result = queue.redeliver_or_fail_unacknowledged(config, now=now)
    assert result == {"failed": 1, "woken_for_redelivery": 1}
    assert db.session.info[WAKE_KEY] == {device.id}
    db.session.commit()
    for m in (stuck, waiting, queued):
        db.session.refresh(m)
    assert stuck.status == 9 and stuck.failure_reason == f"not acknowledged by the phone within {config['UNACKED_FAIL_SECONDS']} s"
    assert stuck.failed_unacknowledged and not waiting.failed_unacknowledged
    assert stuck.failed_at == now and waiting.status == 2 and queued.status == 3
    assert queue.redeliver_or_fail_unacknowledged(config, now=now)["failed"] == 0


def test_messages_left_on_a_silent_phone_fail_as_a_guess_and_a_busy_phone_keeps_its_queue(app, account):
    """A phone that vanished with messages in its queue will never report them, so they fail instead of
    keeping their newsletter running for ever; a phone slowly sending a long queue is seen, and keeps it."""
    config = app.config
    now = utcnow()
    silence = timedelta(seconds=config["SILENT_PHONE_FAIL_SECONDS"])
    silent, _ = pair(account[0], name="silent")
    busy, _ = pair(account[0], name="busy")
    removed, _ = pair(account[0], name="removed")
    silent.last_seen_at = now - silence - timedelta(minutes=1)
    busy.last_seen_at = now - timedelta(minutes=1)
    removed.last_seen_at, removed.revoked_at = now, now
    long_ago = now - silence - timedelta(hours=1)
    queued = add_message(silent, status=3, taken_at=long_ago, queued_at=long_ago)
    taken = add_message(silent, status=2, taken_at=long_ago, last_handed_at=long_ago)
    just_taken = add_message(silent, status=3, taken_at=now - silence + timedelta(minutes=5))
    sent = add_message(silent, status=6, taken_at=long_ago, sent_at=long_ago)
    held = add_message(silent, status=1, ready=False, due_in=-200_000)
    working = add_message(busy, status=3, taken_at=long_ago)
    on_removed = add_message(removed, status=3, taken_at=long_ago)
    orphan = add_message(silent, status=3, taken_at=long_ago)
    orphan.device_id = None  # its device was deleted (ON DELETE SET NULL)
    db.session.commit()
    assert queue.fail_left_on_silent_phones(config, now=now) == 4
    db.session.commit()
    for m in (queued, taken, just_taken, sent, held, working, on_removed, orphan):
        db.session.refresh(m)
    reason = "no word from its phone for 24 h (it may still send it, and then report it)"
    for m in (queued, taken, on_removed, orphan):
        assert (m.status, m.failure_reason, m.failed_unacknowledged, m.failed_at) == (9, reason, True, now)
    assert (just_taken.status, sent.status, held.status, working.status) == (3, 6, 1, 3)
    assert queue.fail_left_on_silent_phones(config, now=now) == 0

    # The phone comes back and reports: its word replaces the guess.
    queue.apply_state_report(silent, str(queued.id), "Sent", [], {"Sent": "2026-07-10T05:00:00.000Z"})
    db.session.commit()
    db.session.refresh(queued)
    assert (queued.status, queued.failure_reason, queued.failed_unacknowledged) == (6, None, False)


def test_messages_on_silent_phones_never_fail_when_the_setting_is_zero(app, account):
    device, _ = pair(account[0])
    device.last_seen_at = utcnow() - timedelta(days=365)
    message = add_message(device, status=3, taken_at=utcnow() - timedelta(days=365))
    db.session.commit()
    assert queue.fail_left_on_silent_phones({**app.config, "SILENT_PHONE_FAIL_SECONDS": 0}) == 0
    db.session.refresh(message)
    assert message.status == 3


def test_the_recovery_job_leaves_device_housekeeping_to_the_device_jobs(app, account):
    """Presence, pairing codes and webhook receipts are jobs of their own (tests/devices/test_housekeeping.py)."""
    quiet, _ = pair(account[0], name="quiet")
    now = utcnow()
    quiet.last_seen_at = now - timedelta(days=1)
    pairing.create_pairing_code(account[0], 60, now=now - timedelta(days=1))
    db.session.add(WebhookReceipt(device_id=quiet.id, event_id="old", received_at=now - timedelta(days=30)))
    db.session.commit()
    queue.redeliver_or_fail_unacknowledged(app.config, now=now)
    db.session.commit()
    db.session.refresh(quiet)
    assert quiet.marked_offline_at is None
    assert db.session.scalar(select(func.count()).select_from(PairingCode)) == 1
    assert db.session.scalar(select(func.count()).select_from(WebhookReceipt)) == 1


def test_cancelled_report_and_unknown_states(app, account):
    device, _ = pair(account[0])
    message = add_message(device)
    db.session.commit()
    queue.claim_for_device(device)
    queue.apply_state_report(device, str(message.id), "Cancelling", [], {})
    db.session.refresh(message)
    assert message.status == 2
    queue.apply_state_report(device, str(message.id), "Cancelled", [], {"Cancelled": "2026-07-10T05:00:00.000Z"})
    db.session.refresh(message)
    assert message.status == 13 and message.cancelled_at.year == 2026
    queue.apply_state_report(device, str(message.id), "Sent", [], {})
    db.session.refresh(message)
    assert message.status == 13


def test_a_cancelled_report_ends_only_a_message_the_phone_has_not_sent(app, account):
    """The app cancels only a message still pending on it (§5.1): one handed out (2), queued on the phone (3),
    or failed by the timeout's guess (the phone had it after all)."""
    device, _ = pair(account[0])
    cancelled_at = {"Cancelled": "2026-07-10T05:00:00.000Z"}
    handed, queued, sent, delivered, failed, not_delivered = (add_message(device) for _ in range(6))
    db.session.commit()
    queue.claim_for_device(device)
    guessed = _failed_by_timeout(app, device)
    queue.apply_state_report(device, str(queued.id), "Pending", [], {})
    for message, state, error in ((sent, "Sent", None), (delivered, "Delivered", None),
                                  (failed, "Failed", "RESULT_ERROR_NO_SERVICE"), (not_delivered, "Sent", None)):
        queue.apply_state_report(device, str(message.id), state, [{"error": error}] if error else [], {})
    queue.apply_state_report(device, str(not_delivered.id), "Failed", [{"error": "Delivery result from SC: 64"}], {})
    db.session.commit()
    before = {m.id: (m.status, m.sent_at, m.failed_at) for m in (sent, delivered, failed, not_delivered)}
    assert [s for s, _, _ in before.values()] == [6, 7, 10, 8]
    for message in (handed, queued, guessed, sent, delivered, failed, not_delivered):
        queue.apply_state_report(device, str(message.id), "Cancelled", [{"state": "Cancelled"}], cancelled_at)
    db.session.commit()
    db.session.expire_all()
    for message in (handed, queued, guessed):
        assert (message.status, message.cancelled_at.year, message.failure_reason) == (13, 2026, None)
    assert not guessed.failed_unacknowledged
    for message in (sent, delivered, failed, not_delivered):
        assert (message.status, message.sent_at, message.failed_at) == before[message.id]
        assert message.cancelled_at is None


def _failed_by_timeout(app, device):
    """A handed-out message the recovery job failed because the phone did not acknowledge it."""
    now = utcnow()
    late = now - timedelta(seconds=app.config["UNACKED_FAIL_SECONDS"] + 1)
    message = add_message(device, status=2, taken_at=late, last_handed_at=late)
    db.session.commit()
    assert queue.redeliver_or_fail_unacknowledged(app.config, now=now)["failed"] == 1
    db.session.commit()
    db.session.refresh(message)
    assert message.status == 9 and message.failed_at is not None
    return message


def test_a_late_report_replaces_the_timeout_failure(app, account):
    device, _ = pair(account[0])
    message = _failed_by_timeout(app, device)
    queue.apply_state_report(device, str(message.id), "Sent", [], {"Sent": "2026-07-10T05:00:00.000Z"})
    db.session.commit()
    db.session.refresh(message)
    assert (message.status, message.failure_reason, message.failed_at, message.failed_unacknowledged) == (
        6, None, None, False)
    assert message.sent_at.year == 2026
    queue.apply_state_report(device, str(message.id), "Delivered", [], {})
    db.session.commit()
    db.session.refresh(message)
    assert message.status == 7 and message.delivered_at is not None


def test_a_late_failure_report_gives_the_phones_reason(app, account):
    device, _ = pair(account[0])
    message = _failed_by_timeout(app, device)
    queue.apply_state_report(device, str(message.id), "Failed", [{"error": "RESULT_ERROR_NO_SERVICE"}],
                             {"Failed": "2026-07-10T05:00:00.000Z"})
    db.session.commit()
    db.session.refresh(message)
    assert message.status == 10 and message.failure_reason == "RESULT_ERROR_NO_SERVICE"
    assert not message.failed_unacknowledged
    assert message.failed_at.year == 2026


def test_a_failure_the_phone_reported_stays_final(app, account):
    device, _ = pair(account[0])
    message = add_message(device)
    db.session.commit()
    queue.claim_for_device(device)
    queue.apply_state_report(device, str(message.id), "Failed", [{"error": "RESULT_ERROR_GENERIC_FAILURE"}], {})
    db.session.commit()
    db.session.refresh(message)
    assert message.status == 9
    queue.apply_state_report(device, str(message.id), "Delivered", [], {})
    db.session.commit()
    db.session.refresh(message)
    assert message.status == 9 and message.failure_reason == "RESULT_ERROR_GENERIC_FAILURE"


def test_a_failure_the_phone_reported_in_the_timeout_reasons_words_stays_final(app, account):
    """Only the recovery job's own mark makes a failure a guess, not the words of its reason."""
    device, _ = pair(account[0])
    message = add_message(device)
    db.session.commit()
    queue.claim_for_device(device)
    reason = f"not acknowledged by the phone within {app.config['UNACKED_FAIL_SECONDS']} s"
    queue.apply_state_report(device, str(message.id), "Failed", [{"error": reason}], {})
    db.session.commit()
    db.session.refresh(message)
    assert (message.status, message.failure_reason, message.failed_unacknowledged) == (9, reason, False)
    queue.apply_state_report(device, str(message.id), "Delivered", [], {})
    db.session.commit()
    db.session.refresh(message)
    assert (message.status, message.failure_reason, message.delivered_at) == (9, reason, None)


@pytest.mark.parametrize("change", ["moved to another phone", "its newsletter paused"])
def test_a_claim_does_not_take_a_message_changed_after_its_candidate_read(app, account, change):
    """Between the claim's candidate read and its UPDATE another transaction moves the message to another
    phone (the dashboard's "move queue") or un-readies it (pausing its newsletter): the claim must not take it."""
    device, _ = pair(account[0])
    other, _ = pair(account[0], name="other")
    message = add_message(device)
    db.session.commit()
    values = {"device_id": other.id} if change.startswith("moved") else {"ready": False}
    changed = []

    def change_it_once(_connection, _cursor, statement, _parameters, _context, _executemany):
        if not changed and statement.lstrip().startswith("SELECT messages.id"):
            changed.append(statement)
            with db.engine.connect() as concurrent:
                concurrent.execute(update(Message).where(Message.id == message.id).values(**values))
                concurrent.commit()

    event.listen(db.engine, "after_cursor_execute", change_it_once)
    try:
        assert queue.claim_for_device(device) == []
        db.session.commit()
    finally:
        event.remove(db.engine, "after_cursor_execute", change_it_once)
    assert changed  # the change did land between the candidate read and the claim
    row = db.session.execute(select(Message.device_id, Message.ready, Message.status, Message.handed_count)
                             .where(Message.id == message.id)).one()
    assert tuple(row) == ((other.id, True) if change.startswith("moved") else (device.id, False)) + (1, 0)
