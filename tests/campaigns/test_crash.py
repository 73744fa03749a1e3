"""Fan-out under real process kills and real concurrency: no duplicate, no gap.

The fan-out runs in a separate process (``flask newsletters fan-out``, committing every batch) against
the test database; the test SIGKILLs it midway and runs it again. On MariaDB two fan-outs of the same
newsletter run at once (processes), and two scheduler runs race to start the same newsletter (threads).
"""
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from smsplatform.campaigns import services
from smsplatform.extensions import db
from smsplatform.models import Message, Paket
from tests.campaigns.conftest import bulk_contacts, make_tag
from tests.conftest import database_is_mariadb

ROOT = Path(__file__).resolve().parents[2]
FLASK = str(Path(sys.executable).with_name("flask"))
AUDIENCE = 8_000


def _running_newsletter(owner, device, size=AUDIENCE, body="Hi {first_name|there}, sale today"):
    vip, berlin = make_tag(owner, "VIP"), make_tag(owner, "Berlin")
    # Overlapping tags: every third number holds both; every seventh has opted out.
    phones = {f"+4915{i:09d}": ([vip.id] if i % 2 else [berlin.id]) + ([berlin.id] if i % 3 == 0 else [])
              for i in range(size)}
    opted = [p for i, p in enumerate(phones) if i % 7 == 0]
    bulk_contacts(owner, phones, opted_out=opted, names={p: f"Name{i}" for i, p in enumerate(phones)})
    paket = services.create_paket(owner, title="Crash", body=body, device_id=device.id, sim=0,
                                  tag_ids=f"{vip.id},{berlin.id}", time_to_send="0")
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=services.RUNNING))
    db.session.commit()
    return paket, set(phones) - set(opted)


def _fan_out_process(paket_id, database_url, instance, batch_size=100):
    env = dict(os.environ, DATABASE_URL=database_url, INSTANCE_PATH=str(instance),
               EVENTS_SOCKET_DIR=str(instance / "events"))
    return subprocess.Popen(
        [FLASK, "--app", "wsgi", "newsletters", "fan-out", str(paket_id), "--batch-size", str(batch_size)],
        cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )


def _written(paket_id) -> int:
    db.session.rollback()  # a fresh snapshot on every poll (MariaDB's REPEATABLE READ)
    return db.session.scalar(select(func.count()).select_from(Message).where(Message.paket_id == paket_id))


def _assert_exactly_once(paket, expected):
    db.session.rollback()
    phones = list(db.session.scalars(select(Message.phone).where(Message.paket_id == paket.id)))
    assert len(phones) == len(set(phones)), "a number got two messages"
    assert set(phones) == expected, "the audience differs (a gap or a stranger)"
    db.session.refresh(paket)
    assert paket.total_recipients == len(expected) and paket.fanout_completed_at is not None


def _kill_once_written(process, paket_id, rows: int) -> None:
    """SIGKILL the fan-out once it has written ``rows`` messages, wherever in a batch it is.

    It is stopped (SIGSTOP) while the test counts, so it runs only during the test's short sleeps: a
    count that a loaded machine makes slow cannot let it finish before the kill.
    """
    deadline = time.monotonic() + 60
    try:
        while True:
            assert process.poll() is None, f"fan-out ended before the kill: {process.communicate()}"
            process.send_signal(signal.SIGSTOP)
            if _written(paket_id) >= rows:
                break
            assert time.monotonic() < deadline, "fan-out made no progress"
            process.send_signal(signal.SIGCONT)
            time.sleep(0.01)
    finally:  # also when an assertion failed: a stopped process could hold SQLite's write lock
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)


def test_sigkill_midway_then_rerun_gives_no_duplicate_and_no_gap(owner, device, database_url, tmp_path):
    paket, expected = _running_newsletter(owner, device)
    process = _fan_out_process(paket.id, database_url, tmp_path)
    _kill_once_written(process, paket.id, rows=300)
    assert process.returncode == -signal.SIGKILL
    killed_at = _written(paket.id)
    db.session.refresh(paket)
    assert 0 < killed_at < len(expected) and paket.fanout_completed_at is None

    rerun = _fan_out_process(paket.id, database_url, tmp_path, batch_size=5_000)
    out, err = rerun.communicate(timeout=120)
    assert rerun.returncode == 0, err.decode()[-2000:]
    assert f'"total_recipients": {len(expected)}' in out.decode()
    _assert_exactly_once(paket, expected)


@pytest.mark.skipif(not database_is_mariadb(), reason="concurrent writers need MariaDB (SQLite serialises them)")
def test_two_fan_outs_of_the_same_newsletter_at_once(owner, device, database_url, tmp_path):
    paket, expected = _running_newsletter(owner, device, size=6_000)
    processes = [_fan_out_process(paket.id, database_url, tmp_path, batch_size=200) for _ in range(2)]
    for process in processes:
        out, err = process.communicate(timeout=180)
        assert process.returncode == 0, err.decode()[-2000:]
    _assert_exactly_once(paket, expected)


@pytest.mark.skipif(not database_is_mariadb(), reason="concurrent writers need MariaDB (SQLite serialises them)")
def test_two_scheduler_runs_start_a_newsletter_once(app, owner, device):
    paket, expected = _running_newsletter(owner, device, size=3_000, body="Plain body")
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=services.SCHEDULED))
    db.session.commit()
    results, errors = [], []
    barrier = threading.Barrier(2)

    def job():
        with app.app_context():
            try:
                barrier.wait()
                results.append(services.start_due_newsletters())
                db.session.commit()
            except Exception as exc:  # surfaced below
                errors.append(exc)
            finally:
                db.session.remove()

    threads = [threading.Thread(target=job) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not errors and sorted(results) == [0, 1]
    _assert_exactly_once(paket, expected)
