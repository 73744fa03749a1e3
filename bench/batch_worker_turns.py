"""How long an urgent ``addsms`` waits on a gevent web worker (the product's worker class) that is also
serving a big ``addalotofsms``.

In one process, as in one worker: an urgent ``addsms`` is posted every 20 ms through the WSGI app, each
on its own greenlet (as an OTP system's calls arrive on their own connections), while another greenlet
posts one ``addalotofsms`` of ``--items`` messages (a JSON body, a new number per item). An ``addsms``'s
wait is from the moment it was due to its answer; the figures are the longest and the 99th percentile
while the batch runs. The floor is the same over at least as many calls with no batch. SQLite in a temporary directory, or ``--database-url`` (an empty database; a MariaDB URL is
served by PyMySQL, as in the web workers).
Usage: .venv/bin/python bench/batch_worker_turns.py [--items 100000] [--database-url URL]
"""
from gevent import monkey

monkey.patch_all()  # first, as gunicorn.conf.py does for the web workers

import argparse  # noqa: E402
import json  # noqa: E402
import time  # noqa: E402

import gevent  # noqa: E402

import common  # noqa: E402  (puts the project root on sys.path)
from addsms_inprocess import wsgi_post  # noqa: E402
from smsplatform.extensions import db  # noqa: E402

EVERY = 0.020


def urgent_waits_while(app, token: str, device_id: int, work) -> tuple[list[float], float]:
    """The waits of urgent ``addsms`` calls, one due every 20 ms (each on its own greenlet, as separate
    connections are), while ``work()`` runs; and the seconds ``work()`` took."""
    waits, calls, finished, numbers = [], [], [], iter(range(10**9))

    def otp(due: float):
        body = (f"token={token}&sendto=%2B4917{next(numbers):08d}&body=Your+code+is+123456"
                f"&device_id={device_id}&urgent=1").encode()
        answer = wsgi_post(app, "/getdata/addsms", body)
        assert b'"error":0' in answer, answer
        waits.append(time.perf_counter() - due)

    def otp_sender():
        due = time.perf_counter()
        while not finished:
            due += EVERY
            gevent.sleep(max(0.0, due - time.perf_counter()))
            calls.append(gevent.spawn(otp, due))

    sender = gevent.spawn(otp_sender)
    gevent.sleep(EVERY)  # the sender is waiting on its timer, as an idle connection waits on its socket
    with common.Stopwatch() as watch:
        work()
    finished.append(1)
    sender.join()
    gevent.joinall(calls, raise_error=True)
    return waits, watch.seconds


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--items", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, _tmp = common.make_app(args.database_url, MAX_BATCH_SIZE=max(args.items, 100_000))
    with common.scratch_schema(app):
        _account, token, device = common.account_with_device()
        device_id = device.id
        db.session.commit()
        batch = json.dumps({"token": token, "smsdata": [
            {"sendto": f"+4915{n:09d}", "body": "Our summer sale starts today", "device_id": device_id}
            for n in range(args.items)]}).encode()

        def post_batch():
            answer = wsgi_post(app, "/getdata/addalotofsms", batch, "application/json")
            assert b'"error":0' in answer, answer[:300]

        waits, seconds = urgent_waits_while(app, token, device_id, post_batch)
        idle, _ = urgent_waits_while(app, token, device_id, lambda: gevent.sleep(EVERY * max(len(waits), 100)))
    print(f"addalotofsms of {args.items:,} items in a gevent worker, {common.backend_name(database_url)}: "
          f"{seconds:.2f} s ({len(batch) / 1e6:.1f} MB of JSON)")
    print(f"  floor, no batch: urgent addsms due every {EVERY * 1000:.0f} ms wait at most {max(idle) * 1000:6.1f} ms, "
          f"p99 {common.percentile(idle, 0.99) * 1000:5.1f} ms ({len(idle)} calls)")
    print(f"  while the batch runs:                          at most {max(waits) * 1000:6.1f} ms, "
          f"p99 {common.percentile(waits, 0.99) * 1000:5.1f} ms, median {common.percentile(waits, 0.5) * 1000:5.1f} ms "
          f"({len(waits)} calls)   longest ratio to floor {max(waits) / max(idle):.0f}x")


if __name__ == "__main__":
    main()
