"""Release of 100,000 due scheduled messages by the scheduler's job, up to the wake-up on a listening stream.

Usage: ``.venv/bin/python bench/phone_release.py [--count 100000] [--devices 50] [--database-url URL]``
(SQLite in a temporary directory by default; give an empty MariaDB database's URL for the other).
Target: under 5 s.

Measured: the ``release-due-messages`` job exactly as the scheduler process runs it: resolved once
(``runner.prepare``, as ``build_scheduler`` does), then each run through ``runner.run_prepared`` (a
fresh app context, ``release_due_messages``, one commit, the after-commit publish on the event bus),
until every device's subscription in this process has received ``MessageEnqueued``. The floor, in the
same run on the same rows, is the bare ``UPDATE messages SET ready = true WHERE status = 1 AND
ready = false AND due_at <= now`` with its commit. Both run twice, alternately, on freshly held rows.
"""
import argparse
import sys
from datetime import timedelta

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform import events
from smsplatform.scheduler import runner
from smsplatform.scheduler.jobs import JOBS
from smsplatform.timeutil import utcnow

[JOB] = [job for job in JOBS if job.id == "release-due-messages"]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    release = runner.prepare(JOB.target, JOB.id)  # once, as the scheduler does when it is built
    app, database_url, _ = common.make_app(args.database_url)  # SQLite in a temporary directory by default
    with common.scratch_schema(app):
        account, phones = common.account_with_phones(args.devices)
        device_ids = [device.id for device, _token in phones]
        common.insert_held_due(account.id, device_ids, args.count, utcnow() - timedelta(seconds=1))
        subscriptions = [events.subscribe(device_id) for device_id in device_ids]
        now = utcnow()

        floors, jobs = [], []
        for _ in range(2):
            common.hold_all()
            with common.Stopwatch() as watch:
                common.release_floor(now)
            floors.append(watch.seconds)

            common.hold_all()
            with common.Stopwatch() as watch:
                released = runner.run_prepared(app, release)
                for subscription in subscriptions:
                    if subscription.get(timeout=10) != "MessageEnqueued":
                        raise SystemExit("a device was not woken")
            jobs.append(watch.seconds)
            if released != args.count:
                raise SystemExit(f"released {released}, expected {args.count}")

    floor, job = min(floors), min(jobs)
    print(f"{common.backend_name(database_url)}: {args.count} due messages on {args.devices} devices")
    print(f"  floor (bare UPDATE + commit):           {floor:.3f} s")
    print(f"  scheduler job (release + commit + wake): {job:.3f} s   ratio {job / floor:.2f}")
    print(f"target < 5 s: {'OK' if job < 5 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
