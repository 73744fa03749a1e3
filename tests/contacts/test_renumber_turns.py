"""A settings save that renumbers many contacts leaves the web worker's other requests their turns, and on
SQLite lets them write meanwhile: an urgent message saved during it is not held up until it ends.

In a subprocess, because gevent's monkey-patching must come before every other import. Not timed: it
records the order of events. Runs on the pass's database (a fresh one on the MariaDB server).
"""
import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import TEST_DATABASE_URL
from tests.e2e.harness import fresh_database

ROOT = Path(__file__).resolve().parents[2]

SCRIPT = r'''
from gevent import monkey; monkey.patch_all()
import json, sys, gevent
from sqlalchemy import func, insert, select
from smsplatform import create_app
from smsplatform.accounts.services import create_account, update_settings
from smsplatform.contacts.services import save_contact
from smsplatform.extensions import db
from smsplatform.models import Account, Contact
from flask_migrate import upgrade

database_url, workdir = sys.argv[1:3]
app = create_app({"SQLALCHEMY_DATABASE_URI": database_url, "INSTANCE_PATH": workdir,
                  "EVENTS_SOCKET_DIR": f"{workdir}/events", "SECRET_KEY": "test"})
events, finished = [], []

def other_account_saves_contacts(account_id):
    """Another request on the same worker: it writes and commits, again and again."""
    with app.app_context():
        while not finished:
            save_contact(db.session.get(Account, account_id), f"+4915{len(events):09d}", None, name="urgent")
            db.session.commit()
            events.append("other wrote")
            gevent.sleep(0.0001)

with app.app_context():
    upgrade()
    me = create_account("renumber@example.com", "correct horse battery")
    other = create_account("other@example.com", "correct horse battery")
    db.session.commit()
    db.session.execute(insert(Contact), [{"account_id": me.id, "phone": f"0171{i:07d}", "phone_raw": f"0171 {i:07d}"}
                                         for i in range(3000)])
    db.session.commit()
    writer = gevent.spawn(other_account_saves_contacts, other.id)  # first runs at the save's first turn
    renumbered = update_settings(me, default_region="DE")
    db.session.commit()
    events.append("settings saved")
    finished.append(1)
    writer.join()
    international = db.session.scalar(select(func.count()).select_from(Contact).where(
        Contact.account_id == me.id, Contact.phone.startswith("+49171")))
print(json.dumps({"renumbered": renumbered.contacts, "international": international, "events": events}))
'''


def test_other_requests_write_while_a_region_change_renumbers_contacts(tmp_path):
    with fresh_database(TEST_DATABASE_URL, tmp_path, "smsplatform_renumber_turns") as database_url:
        done = subprocess.run([sys.executable, "-c", SCRIPT, database_url, str(tmp_path)], cwd=ROOT,
                              capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["renumbered"] == result["international"] == 3000
    # Without the turns the other request ran only after the save: ["settings saved"].
    events = result["events"]
    assert events.index("settings saved") > 0, events
    assert events[0] == "other wrote"
