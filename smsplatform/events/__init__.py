"""Device wake-ups: services ask for them; they are published only after the transaction commits.

Services call ``wake_after_commit(session, device_ids)``; nothing is sent if the transaction rolls
back, so a phone is never woken for a message that was not stored.
"""
WAKE_KEY = "smsplatform_wake_devices"


def wake_after_commit(session, device_ids) -> None:
    """Remember that these devices must get ``MessageEnqueued`` once the current transaction commits."""
    pending = session.info.setdefault(WAKE_KEY, set())
    pending.update(int(d) for d in device_ids if d is not None)
