"""Release of 100,000 due scheduled messages by the scheduler's job, up to the wake-up on a listening stream.

Usage: ``.venv/bin/python bench/phone_release.py [--count 100000] [--devices 50] [--database-url URL]``
(SQLite in a temporary directory by default; give an empty MariaDB database's URL for the other).
Target: under 5 s.

Measured: the ``release-due-messages`` job exactly as the scheduler process runs it (``run_job``: a
fresh app context, ``release_due_messages``, one commit, the after-commit publish on the event bus),
until every device's subscription in this process has received ``MessageEnqueued``. The floor, in the
same run on the same rows, is the bare ``UPDATE messages SET ready = true WHERE status = 1 AND
ready = false AND due_at <= now`` with its commit. Both run twice, alternately, on freshly held rows.
"""
import argparse
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import insert, update  # noqa: E402

from smsplatform import create_app, events  # noqa: E402
from smsplatform.accounts.services import create_account  # noqa: E402
from smsplatform.extensions import db  # noqa: E402
from smsplatform.models import Device, Message  # noqa: E402
from smsplatform.scheduler.runner import run_job  # noqa: E402
from smsplatform.timeutil import utcnow  # noqa: E402

JOB = "smsplatform.messaging.queue.release_due_messages"


def hold_all() -> None:
    db.session.execute(update(Message).values(ready=False, status=1))
    db.session.commit()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        app = create_app({
            "SQLALCHEMY_DATABASE_URI": args.database_url or f"sqlite:///{scratch}/bench.db",
            "INSTANCE_PATH": scratch, "SECRET_KEY": "bench", "EVENTS_SOCKET_DIR": f"{scratch}/events",
        })
        with app.app_context():
            upgrade()
            account = create_account("bench@example.com", "correct horse battery")
            db.session.flush()
            devices = [Device(account_id=account.id, name=f"bench/{i}", webhook_signing_key="k" * 32)
                       for i in range(args.devices)]
            db.session.add_all(devices)
            db.session.flush()
            due = utcnow() - timedelta(seconds=1)
            rows = [{"account_id": account.id, "device_id": devices[i % len(devices)].id, "sendto": "+4915752982212",
                     "phone": "+4915752982212", "body": "scheduled", "status": 1, "ready": False, "due_at": due,
                     "time_to_send": due, "priority": 0} for i in range(args.count)]
            for start in range(0, len(rows), 10_000):
                db.session.execute(insert(Message), rows[start:start + 10_000])
            db.session.commit()
            device_ids = [d.id for d in devices]
            subscriptions = [events.subscribe(d) for d in device_ids]
            now = utcnow()

            floors, jobs = [], []
            for _ in range(2):
                hold_all()
                started = time.perf_counter()
                db.session.execute(update(Message).where(Message.status == 1, Message.ready.is_(False),
                                                         Message.due_at <= now).values(ready=True))
                db.session.commit()
                floors.append(time.perf_counter() - started)

                hold_all()
                started = time.perf_counter()
                released = run_job(app, JOB)
                for subscription in subscriptions:
                    if subscription.get(timeout=10) != "MessageEnqueued":
                        raise SystemExit("a device was not woken")
                jobs.append(time.perf_counter() - started)
                if released != args.count:
                    raise SystemExit(f"released {released}, expected {args.count}")

    floor, job = min(floors), min(jobs)
    dialect = "MariaDB" if args.database_url and args.database_url.startswith("mysql") else "SQLite"
    print(f"{dialect}: {args.count} due messages on {args.devices} devices")
    print(f"  floor (bare UPDATE + commit):           {floor:.3f} s")
    print(f"  scheduler job (release + commit + wake): {job:.3f} s   ratio {job / floor:.2f}")
    print(f"target < 5 s: {'OK' if job < 5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
