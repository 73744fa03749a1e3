"""Release of due scheduled messages: ``release_due_messages`` on 100,000 held rows (target < 5 s).

Usage: ``.venv/bin/python bench/queue_release.py [--count 100000] [--devices 20] [--database-url URL]``
(SQLite in a temporary directory by default; give a MariaDB URL of an empty database for the other).

The floor is the bare statement on the same rows, ``UPDATE messages SET ready = true WHERE status = 1
AND ready = false AND due_at <= now``, measured in the same run; the service adds the newsletter
check (paused/cancelled pakets stay held), the distinct list of devices to wake and the commit.
Floor and service run alternately, twice each, on freshly held rows; the best of each is printed.
"""
import argparse
from datetime import timedelta

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.extensions import db
from smsplatform.messaging import queue
from smsplatform.timeutil import utcnow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, _ = common.make_app(args.database_url)
    with common.scratch_schema(app):
        account, phones = common.account_with_phones(args.devices)
        now = utcnow()
        common.insert_held_due(account.id, [device.id for device, _token in phones], args.count,
                               now - timedelta(seconds=1))

        floors, services = [], []
        for _round in range(2):  # alternate, each on freshly held rows; keep the best of each
            common.hold_all()
            with common.Stopwatch() as watch:
                bare = common.release_floor(now)
            floors.append(watch.seconds)

            common.hold_all()
            with common.Stopwatch() as watch:
                released = queue.release_due_messages(now)
                db.session.commit()
            services.append(watch.seconds)
        floor, service = min(floors), min(services)

        assert bare == released == args.count, (bare, released)
        print(f"{common.backend_name(database_url)}: {args.count} held messages on {args.devices} devices")
        print(f"floor (bare UPDATE + commit): {floor:.3f} s")
        print(f"release_due_messages + commit: {service:.3f} s  ratio to floor {service / floor:.2f}  "
              f"target < 5 s: {'met' if service < 5 else 'MISSED'}")


if __name__ == "__main__":
    main()
