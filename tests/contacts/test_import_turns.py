"""A long CSV import leaves the web worker's other greenlets their turns (gevent, as the web server runs).

In a subprocess, because gevent's monkey-patching must come before every other import. Not timed: it
records the order of events, a tick of another greenlet between every two of the import's chunks.
"""
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
from gevent import monkey; monkey.patch_all()
import io, json, sys, gevent
from smsplatform import create_app
from smsplatform.accounts.services import create_account
from smsplatform.contacts.importer import import_contacts
from smsplatform.extensions import db
from flask_migrate import upgrade

workdir = sys.argv[1]
app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{workdir}/turns.db", "INSTANCE_PATH": workdir,
                  "EVENTS_SOCKET_DIR": f"{workdir}/events", "SECRET_KEY": "test"})
events, finished = [], []

def other_request():
    while not finished:
        if events[-1:] != ["tick"]:
            events.append("tick")
        gevent.sleep(0.0001)

def commit():
    db.session.commit()
    events.append("chunk")

with app.app_context():
    upgrade()
    account = create_account("turns@example.com", "correct horse battery")
    account.default_region = "DE"
    db.session.commit()
    rows = "".join(f"0157 {i:08d},Name {i}\n" for i in range(3000))
    other = gevent.spawn(other_request)  # it first runs at the import's first turn: no switch before
    report = import_contacts(account, io.BytesIO(("phone,name\n" + rows).encode()), commit=commit, chunk_size=1000)
    finished.append(1)
    other.join()
print(json.dumps({"created": report.created, "events": events}))
'''


def test_other_greenlets_run_between_the_chunks_of_an_import(tmp_path):
    done = subprocess.run([sys.executable, "-c", SCRIPT, str(tmp_path)], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["created"] == 3000
    events = result["events"]
    assert events.count("chunk") == 3
    # The other greenlet ran while the first chunk was being parsed (its turns every 500 rows), and
    # between every two chunks. Without the turns it ran only after the import: ["chunk", "chunk", "chunk"].
    assert events[0] == "tick", events
    chunks = [i for i, event in enumerate(events) if event == "chunk"]
    assert all(events[i + 1] == "tick" for i in chunks[:-1]), events
