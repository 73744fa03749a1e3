"""Release of due scheduled messages: ``release_due_messages`` on 100,000 held rows (target < 5 s).

Usage: ``.venv/bin/python bench/queue_release.py [--count 100000] [--devices 20] [--database-url URL]``
(SQLite in a temporary directory by default; give a MariaDB URL of an empty database for the other).

The floor is the bare statement on the same rows, ``UPDATE messages SET ready = true WHERE status = 1
AND ready = false AND due_at <= now``, measured in the same run; the service adds the newsletter
check (paused/cancelled pakets stay held), the distinct list of devices to wake and the commit.
Floor and service run alternately, twice each, on freshly held rows; the best of each is printed.
"""
import argparse
import time
from datetime import timedelta

from flask_migrate import upgrade
from sqlalchemy import update

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.accounts.services import create_account
from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.models import Message
from smsplatform.timeutil import utcnow


def hold_all() -> None:
    db.session.execute(update(Message).values(ready=False, status=1))
    db.session.commit()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, _, _ = common.make_app(args.database_url)
    with app.app_context():
        upgrade()
        account = create_account(common.BENCH_EMAIL, common.BENCH_PASSWORD)
        devices = [device for device, _token in common.paired_phones(account, args.devices)]
        now = utcnow()
        row = common.message_row(account_id=account.id, sendto="+15551234567", phone="+15551234567",
                                 body="Sale today", ready=False, due_at=now - timedelta(seconds=1), created_at=now,
                                 updated_at=now, handed_count=0)
        for start in range(0, args.count, 5000):
            db.session.execute(Message.__table__.insert(), [
                {**row, "device_id": devices[i % args.devices].id} for i in range(start, min(start + 5000, args.count))
            ])
        db.session.commit()
        dialect = db.engine.dialect.name

        floors, services = [], []
        for _round in range(2):  # alternate, each on freshly held rows; keep the best of each
            hold_all()
            started = time.perf_counter()
            bare = db.session.execute(
                update(Message).where(Message.status == 1, Message.ready.is_(False), Message.due_at <= now)
                .values(ready=True)
            ).rowcount
            db.session.commit()
            floors.append(time.perf_counter() - started)

            hold_all()
            started = time.perf_counter()
            released = queue.release_due_messages(now)
            db.session.commit()
            services.append(time.perf_counter() - started)
        floor, service = min(floors), min(services)

        assert bare == released == args.count, (bare, released)
        print(f"{dialect}: {args.count} held messages on {args.devices} devices")
        print(f"floor (bare UPDATE + commit): {floor:.3f} s")
        print(f"release_due_messages + commit: {service:.3f} s  ratio to floor {service / floor:.2f}  "
              f"target < 5 s: {'met' if service < 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
