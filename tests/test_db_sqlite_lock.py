"""SQLite's write lock is waited for without stopping the process (``smsplatform.db_sqlite_lock``).

The gevent case runs in a subprocess, because monkey-patching must come before every other import. None of
these tests is timed: they record what happened and in which order.
"""
import json
import sqlite3
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from sqlalchemy import func, select

from smsplatform import create_app, db_sqlite_lock
from smsplatform.contacts.services import save_tag
from smsplatform.db_unique import begin_writing_on_sqlite
from smsplatform.extensions import db
from smsplatform.models import Tag
from tests.conftest import database_is_mariadb

pytestmark = pytest.mark.skipif(database_is_mariadb(), reason="SQLite's write lock; MariaDB locks rows")

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r'''
from gevent import monkey; monkey.patch_all()
import json, sys, gevent
from flask_migrate import upgrade
from sqlalchemy import func, select
from smsplatform import create_app
from smsplatform.accounts.services import create_account
from smsplatform.contacts.services import save_tag
from smsplatform.extensions import db
from smsplatform.models import Account, Tag

workdir = sys.argv[1]
app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/lock.db", "INSTANCE_PATH": workdir,
                  "EVENTS_SOCKET_DIR": f"{workdir}/events", "SECRET_KEY": "test"})
events = []

def holder(account_id):
    """A request that writes, then waits on the network (an image going to S3) before its commit."""
    with app.app_context():
        save_tag(db.session.get(Account, account_id), "held across a network wait")
        db.session.flush()
        events.append("holder has the lock")
        gevent.sleep(0.3)
        db.session.commit()
        events.append("holder committed")

def writer(account_id):
    """Another request on the same worker that writes while the first one holds the lock."""
    with app.app_context():
        events.append("writer starts")
        save_tag(db.session.get(Account, account_id), "written meanwhile")
        db.session.commit()
        events.append("writer committed")

def ticker():
    """The rest of the worker: phones' event streams, other reads."""
    while "writer committed" not in events:
        if events and events[-1] != "tick":
            events.append("tick")
        gevent.sleep(0.01)

with app.app_context():
    upgrade()
    account_id = create_account("lock@example.com", "correct horse battery").id
    db.session.commit()
greenlets = [gevent.spawn(holder, account_id), gevent.spawn_later(0.05, writer, account_id), gevent.spawn(ticker)]
gevent.joinall(greenlets, raise_error=True)
with app.app_context():
    tags = db.session.scalar(select(func.count()).select_from(Tag))
print(json.dumps({"events": events, "tags": tags}))
'''


def test_a_gevent_worker_goes_on_while_a_greenlet_waits_for_the_write_lock(tmp_path):
    """Before: the writer waited in SQLite's busy handler, which sleeps in C and so stopped the whole process,
    the lock's holder with it: nothing moved for the 30 s timeout, then the writer failed "database is locked"."""
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    events = result["events"]
    assert result["tags"] == 2
    assert events.index("holder committed") < events.index("writer committed"), events
    # The worker kept running while the writer waited: ticks between its start and the holder's commit.
    waiting = events[events.index("writer starts"):events.index("holder committed")]
    assert "tick" in waiting, events


@pytest.fixture
def other(app):
    """A second connection to the test's database file, made as the engine makes its connections; whatever
    it holds is rolled back at the end."""
    connection = sqlite3.connect(db.engine.url.database, factory=db_sqlite_lock.WriterConnection,
                                 isolation_level="", check_same_thread=False)
    connection.execute("PRAGMA busy_timeout=30000")
    yield connection
    connection.rollback()
    connection.close()


def test_a_writer_waits_for_another_connections_lock_then_writes(other, make_account):
    """Outside gevent the waits are plain sleeps: the second write goes in once the first commits."""
    account, _ = make_account()
    db.session.commit()
    db_sqlite_lock.begin_writing(other)
    other.execute("INSERT INTO tags (account_id, title, title_key, created_at) "
                  "VALUES (?, 'first', 'first', '2026-11-24 08:00:00')", (account.id,))
    committed = threading.Event()

    def commit_soon():
        committed.wait(0.3)
        other.commit()
        committed.set()

    releaser = threading.Thread(target=commit_soon)
    releaser.start()
    save_tag(account, "second")
    db.session.commit()  # waited for the other connection's commit
    releaser.join()
    assert committed.is_set()
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 2
    # The busy timeout of what else may wait is back to the usual one.
    assert db.session.connection().exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000


def test_a_lock_held_past_the_timeout_fails_as_sqlite_does(other, make_account, monkeypatch):
    account, _ = make_account()
    db.session.commit()
    db_sqlite_lock.begin_writing(other)
    monkeypatch.setattr(db_sqlite_lock, "BUSY_TIMEOUT_SECONDS", 0.2)
    with pytest.raises(Exception, match="database is locked"):
        save_tag(account, "never")
        db.session.flush()
    db.session.rollback()
    other.rollback()
    assert db.session.scalar(select(func.count()).select_from(Tag)) == 0


def test_begin_immediate_waits_the_same_way(other, make_account):
    """``begin_writing_on_sqlite`` (locked reads, savepoints) takes the lock as a first write does."""
    make_account()
    db.session.commit()
    db_sqlite_lock.begin_writing(other)
    threading.Timer(0.2, other.commit).start()
    begin_writing_on_sqlite()
    assert db.session.connection().connection.driver_connection.in_transaction
    db.session.rollback()


def test_the_log_is_copied_back_every_configured_number_of_pages(app, monkeypatch):
    """SQLite's default (1,000 pages) copied the log back about every 70 messages, inside the call that filled it
    (bench/sqlite_checkpoints.py); the platform's default is 10,000 pages, and the setting can change it."""
    assert db.session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 10_000
    monkeypatch.setenv("SQLITE_WAL_AUTOCHECKPOINT_PAGES", "2000")
    other_app = create_app({"SQLALCHEMY_DATABASE_URI": app.config["SQLALCHEMY_DATABASE_URI"],
                            "INSTANCE_PATH": app.config["INSTANCE_PATH"]})
    with other_app.app_context():
        assert db.session.connection().exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 2000
        db.session.remove()
        db.engine.dispose()
