"""Device events that services ask for; they are published only after the transaction commits.

Services call ``wake_after_commit(session, device_ids)`` (new messages: ``MessageEnqueued``) or
``settings_changed_after_commit`` (``SettingsUpdated``: the phone fetches its settings again).
Session listeners (installed by ``init_app``) publish them to those devices once the transaction
commits and forget them when it rolls back, so a phone is never told of a change that was not
stored. The bus that carries them between processes is in ``smsplatform.events.bus``.
"""
from flask import current_app, has_app_context
from sqlalchemy import event

from smsplatform.events.bus import MESSAGE_ENQUEUED, SETTINGS_UPDATED, make_bus
from smsplatform.extensions import db

WAKE_KEY = "smsplatform_wake_devices"
SETTINGS_KEY = "smsplatform_settings_changed"
# Where a session keeps the devices owed each event until it commits.
_PENDING = {WAKE_KEY: MESSAGE_ENQUEUED, SETTINGS_KEY: SETTINGS_UPDATED}


def wake_after_commit(session, device_ids) -> None:
    """Remember that these devices must get ``MessageEnqueued`` once the current transaction commits."""
    _remember(session, WAKE_KEY, device_ids)


def settings_changed_after_commit(session, device_ids) -> None:
    """Remember that these devices must get ``SettingsUpdated`` once the current transaction commits."""
    _remember(session, SETTINGS_KEY, device_ids)


def _remember(session, key: str, device_ids) -> None:
    session.info.setdefault(key, set()).update(int(d) for d in device_ids if d is not None)


def init_app(app) -> None:
    """Attach this app's bus, and the session listeners that publish after commit."""
    app.extensions["smsplatform_events"] = make_bus(app.config)
    # ``db.session`` is one scoped session shared by every app: its listeners are installed once.
    if not event.contains(db.session, "after_commit", _publish_pending):
        event.listen(db.session, "after_commit", _publish_pending)
        event.listen(db.session, "after_soft_rollback", _drop_pending)


def get_bus(app=None):
    return (app or current_app).extensions["smsplatform_events"]


def publish(event_name: str, device_ids, app=None) -> None:
    """Send ``event_name`` to every open stream of these devices, in every process. Call after commit."""
    ids = [int(d) for d in device_ids if d is not None]
    if ids:
        get_bus(app).publish(event_name, ids)


def subscribe(device_id: int, app=None):
    """A ``Subscription`` receiving every event for this device until it is closed."""
    return get_bus(app).subscribe(device_id)


def _publish_pending(session) -> None:
    for key, event_name in _PENDING.items():
        device_ids = session.info.pop(key, None)
        if device_ids and has_app_context():
            try:
                publish(event_name, device_ids, app=current_app)
            except Exception:  # the data is committed: a lost event only delays the phone's next fetch
                current_app.logger.exception("events: could not publish %s for %s", event_name, sorted(device_ids))


def _drop_pending(session, previous_transaction) -> None:
    # Only the outermost rollback forgets them; a savepoint's rollback leaves the outer transaction's.
    # (A rollback() with no transaction begun fires nothing: services always write before they ask.)
    if previous_transaction.parent is None:
        for key in _PENDING:
            session.info.pop(key, None)
