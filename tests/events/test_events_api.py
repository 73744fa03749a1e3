"""``GET /api/mobile/v1/events``: authentication, SSE framing, fan-out, keep-alive, presence."""
import time
from datetime import timedelta

import pytest
from sqlalchemy import select

from smsplatform import create_app, events
from smsplatform.accounts.services import hash_secret
from smsplatform.events import wake_after_commit
from smsplatform.extensions import db
from smsplatform.models import Device
from smsplatform.timeutil import utcnow
from tests.conftest import create_device

URL = "/api/mobile/v1/events"
ENQUEUED = b"event: MessageEnqueued\ndata: null\n\n"


@pytest.fixture
def stream_app(base_config, _schema, app):
    """The suite's app with quick keep-alives and presence updates (same database, emptied by ``app``)."""
    quick = create_app({**base_config, "EVENTS_KEEPALIVE_SECONDS": 0.2, "EVENTS_PRESENCE_SECONDS": 1})
    with quick.app_context():
        yield quick
        db.session.remove()


def _device(account, token, name="Google/oriole") -> int:
    """A paired device's id (ids, not objects: a request in the test's app context ends its session)."""
    return create_device(account, name=name, token_hash=hash_secret(token)).id


def _open(client, token):
    response = client.get(URL, headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream"},
                          buffered=False)
    return response, iter(response.response)


def _next(chunks):
    return next(chunks)


def test_stream_headers_and_the_first_connect_events(stream_app, account):
    device_id = _device(account[0], "tok-1")
    client = stream_app.test_client()
    response, chunks = _open(client, "tok-1")
    assert response.status_code == 200
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-cache"
    assert response.headers["X-Accel-Buffering"] == "no"
    assert _next(chunks) == b":keepalive\n\n"
    assert _next(chunks) == b"event: WebhooksUpdated\ndata: null\n\n"
    assert _next(chunks) == b"event: SettingsUpdated\ndata: null\n\n"
    assert _next(chunks) == b":keepalive\n\n"  # idle: a comment every keep-alive period
    response.close()
    # A reconnect is not a first connect: no catch-up events.
    response, chunks = _open(client, "tok-1")
    assert _next(chunks) == b":keepalive\n\n"
    assert _next(chunks) == b":keepalive\n\n"
    response.close()
    assert db.session.get(Device, device_id).first_stream_at is not None


def test_every_stream_of_the_device_gets_every_event_and_no_other_device_does(stream_app, account):
    mine = _device(account[0], "tok-a")
    _device(account[0], "tok-b", name="other")
    client = stream_app.test_client()
    first, first_chunks = _open(client, "tok-a")
    second, second_chunks = _open(client, "tok-a")
    elsewhere, elsewhere_chunks = _open(client, "tok-b")
    # The greeting: a keep-alive, plus the two catch-up events on each device's first stream.
    for chunks, greeting in ((first_chunks, 3), (second_chunks, 1), (elsewhere_chunks, 3)):
        for _ in range(greeting):
            _next(chunks)
    wake_after_commit(db.session, [mine])
    db.session.commit()
    assert _next(first_chunks) == ENQUEUED
    assert _next(second_chunks) == ENQUEUED
    assert _next(elsewhere_chunks) == b":keepalive\n\n"
    hub = stream_app.extensions["smsplatform_events"].hub
    assert hub.count() == 3
    for response in (first, second, elsewhere):
        response.close()
    assert hub.count() == 0  # a closed stream leaves nothing behind


def test_stream_holds_no_database_connection(stream_app, account):
    _device(account[0], "tok-c")
    db.session.remove()
    pool = db.engine.pool
    before = pool.checkedout()
    response, chunks = _open(stream_app.test_client(), "tok-c")
    _next(chunks)
    assert pool.checkedout() == before
    response.close()


def test_presence_is_refreshed_while_the_stream_is_open_and_revocation_ends_it(stream_app, account):
    device_id = _device(account[0], "tok-d")
    device = db.session.get(Device, device_id)
    device.last_seen_at = utcnow() - timedelta(hours=1)
    device.marked_offline_at = utcnow()
    db.session.commit()
    response, chunks = _open(stream_app.test_client(), "tok-d")
    started = time.monotonic()
    while time.monotonic() - started < 1.5:
        _next(chunks)
    db.session.expire_all()
    refreshed = db.session.get(Device, device_id)
    assert refreshed.last_seen_at > utcnow() - timedelta(seconds=5)
    assert refreshed.marked_offline_at is None
    refreshed.revoked_at = utcnow()
    db.session.commit()
    with pytest.raises(StopIteration):
        for _ in range(20):
            _next(chunks)
    response.close()


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer nope", "Basic dXNlcjpwYXNz", "Code abc",
                                    "Bearer " + "x" * 5000])
def test_bad_credentials_are_refused(client, account, header):
    _device(account[0], "tok-e")
    headers = {"Authorization": header} if header is not None else {}
    response = client.get(URL, headers=headers)
    assert response.status_code == 401
    assert response.is_json


def test_revoked_device_is_refused(client, account):
    device_id = _device(account[0], "tok-f")
    db.session.get(Device, device_id).revoked_at = utcnow()
    db.session.commit()
    assert client.get(URL, headers={"Authorization": "Bearer tok-f"}).status_code == 401
    assert db.session.scalar(select(Device.first_stream_at).where(Device.id == device_id)) is None


def test_publish_reaches_a_stream_for_other_event_names(stream_app, account):
    device_id = _device(account[0], "tok-g")
    response, chunks = _open(stream_app.test_client(), "tok-g")
    for _ in range(3):
        _next(chunks)
    events.publish("SettingsUpdated", [device_id])
    assert b"event: SettingsUpdated\ndata: null\n\n" in (_next(chunks), _next(chunks))
    response.close()
