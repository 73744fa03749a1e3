"""The wake-up bus and the after-commit publishing, with real sockets and real processes."""
import multiprocessing
import shutil
import socket
import subprocess
import time

import pytest
from sqlalchemy import text

from smsplatform.events import WAKE_KEY, publish, subscribe, wake_after_commit
from smsplatform.events.bus import LocalBus, RedisBus, decode_notice, encode_notice
from smsplatform.extensions import db
from tests.support.servers import free_port


def _drain(subscription, timeout=2.0):
    return subscription.get(timeout=timeout)


def test_commit_publishes_the_devices_a_service_asked_for(app):
    with subscribe(7) as seven, subscribe(7) as seven_again, subscribe(8) as eight:
        wake_after_commit(db.session, [7, None])
        db.session.execute(text("SELECT 1"))
        assert _drain(seven, 0.2) is None  # nothing before the commit
        db.session.commit()
        assert _drain(seven) == "MessageEnqueued"
        assert _drain(seven_again) == "MessageEnqueued"  # every stream of the device
        assert _drain(eight, 0.2) is None  # and no other device
        assert _drain(seven, 0.2) is None  # once: many apps, one listener on the shared session


def test_rollback_drops_the_wake_ups(app):
    with subscribe(7) as seven:
        db.session.execute(text("SELECT 1"))  # a service always wrote something before asking
        wake_after_commit(db.session, [7])
        db.session.rollback()
        db.session.commit()  # a later, unrelated commit must not resurrect them
        assert WAKE_KEY not in db.session.info
        assert _drain(seven, 0.3) is None


def test_closed_subscription_gets_nothing_and_is_forgotten(app):
    bus = app.extensions["smsplatform_events"]
    subscription = subscribe(3)
    assert bus.hub.count() == 1
    subscription.close()
    assert bus.hub.count() == 0
    publish("MessageEnqueued", [3])
    assert _drain(subscription, 0.2) is None


def test_notices_are_chunked_and_malformed_ones_ignored():
    datagrams = encode_notice("MessageEnqueued", range(1000))
    assert len(datagrams) == 3 and all(len(d) < 8192 for d in datagrams)
    assert sum(len(decode_notice(d)[1]) for d in datagrams) == 1000
    for junk in (b"", b"\xff\xfe", b"[]", b'{"event": 1, "devices": [1]}', b'{"event": "X", "devices": ["a"]}',
                 b'{"event": "X"}'):
        assert decode_notice(junk) is None


def test_stale_sockets_are_removed(tmp_path):
    directory = tmp_path / "ev"
    directory.mkdir()
    stale = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stale.bind(str(directory / "999999-dead.sock"))
    stale.close()  # the file stays, nobody listens
    (directory / "not-a-socket.txt").write_text("ignored")
    bus = LocalBus(str(directory))
    with bus.subscribe(5) as five:
        bus.publish("MessageEnqueued", [5])
        assert _drain(five) == "MessageEnqueued"
    assert not (directory / "999999-dead.sock").exists()
    bus.close()
    assert list(directory.glob("*.sock")) == []


def _child_publishes(directory, device_id):
    LocalBus(directory).publish("MessageEnqueued", [device_id])


def test_a_wake_up_crosses_processes(tmp_path):
    """Another process (the scheduler, another web worker) publishes; this process's streams hear it."""
    directory = str(tmp_path / "ev")
    bus = LocalBus(directory)
    with bus.subscribe(11) as eleven:
        child = multiprocessing.get_context("fork").Process(target=_child_publishes, args=(directory, 11))
        child.start()
        child.join(30)
        assert child.exitcode == 0
        assert _drain(eleven, 5) == "MessageEnqueued"
    bus.close()


def test_a_folder_too_long_for_a_unix_socket_path_still_carries_wake_ups_across_processes(tmp_path):
    """A unix socket's path holds 107 bytes; the default folder is INSTANCE_PATH/events, inside the project, so
    a project checked out under a long path failed every phone's event stream ("AF_UNIX path too long")."""
    directory = tmp_path / ("d" * 60) / ("e" * 60)
    assert len(str(directory / "1234567-0123abcd.sock")) > 107
    bus = LocalBus(str(directory))
    with bus.subscribe(11) as eleven:
        child = multiprocessing.get_context("fork").Process(target=_child_publishes, args=(str(directory), 11))
        child.start()
        child.join(30)
        assert child.exitcode == 0
        assert _drain(eleven, 5) == "MessageEnqueued"
    stale = next(directory.glob("*.sock")).with_name("999999-dead.sock")
    stale.touch()  # a socket file nobody listens on any more: still cleared away
    bus.publish("MessageEnqueued", [11])
    assert not stale.exists()
    bus.close()
    assert list(directory.glob("*.sock")) == []


def test_publishing_with_nobody_listening_is_harmless(tmp_path):
    LocalBus(str(tmp_path / "missing")).publish("MessageEnqueued", [1])


@pytest.fixture
def redis_url(tmp_path):
    server = shutil.which("redis-server")
    if not server:
        pytest.skip("redis-server (Debian package redis-server) is not installed")
    port = free_port()
    process = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp_path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port), 0.2).close()
                break
            except OSError:
                time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        process.terminate()
        process.wait(10)


def test_redis_bus_reaches_every_subscriber(redis_url):
    listener_bus, publisher_bus = RedisBus(redis_url), RedisBus(redis_url)
    with listener_bus.subscribe(4) as four, listener_bus.subscribe(4) as four_again:
        time.sleep(0.2)  # the subscription reaches the server
        publisher_bus.publish("MessageEnqueued", [4, 5])
        assert _drain(four) == "MessageEnqueued"
        assert _drain(four_again) == "MessageEnqueued"
    listener_bus.close()
    publisher_bus.close()


def test_app_uses_redis_when_configured(redis_url, base_config, _schema):
    from smsplatform import create_app

    app = create_app({**base_config, "REDIS_URL": redis_url})
    with app.app_context():
        assert isinstance(app.extensions["smsplatform_events"], RedisBus)
        with subscribe(9) as nine:
            time.sleep(0.2)
            wake_after_commit(db.session, [9])
            db.session.commit()
            assert _drain(nine) == "MessageEnqueued"
        db.session.remove()
        app.extensions["smsplatform_events"].close()


def test_a_failing_bus_never_fails_the_commit(app, account, monkeypatch):
    """The data is already committed when the wake-up is published: a broken bus must not turn that into an error."""
    bus = app.extensions["smsplatform_events"]

    def broken(*_args):
        raise PermissionError("events directory not writable")

    monkeypatch.setattr(bus, "publish", broken)
    monkeypatch.setattr(app.logger, "disabled", False)
    wake_after_commit(db.session, [1])
    db.session.execute(text("SELECT 1"))
    db.session.commit()  # no exception
    assert WAKE_KEY not in db.session.info
