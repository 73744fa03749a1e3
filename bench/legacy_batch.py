"""``addalotofsms`` with 10,000 messages over HTTP vs a raw bulk insert of the same rows (target: < 1 s, <= 3x).

Usage: ``.venv/bin/python bench/legacy_batch.py [--count 10000] [--repeat 5] [--database-url URL]``
(SQLite in a temporary directory by default; give a MariaDB URL of an empty database for the other:
it is migrated for the run and left empty again).

The server is werkzeug's WSGI server on 127.0.0.1 (a free port) in this process; the client posts the
documented JSON body (``token`` + ``smsdata``) with ``requests``. The floor is the same 10,000 rows,
already built, written with one ``executemany`` and committed: the database's own cost of the batch.
The HTTP figure adds everything else: reading and parsing 1 MB of JSON, the token, validating every
item (numbers through ``phonenumbers``, dates, slots, segments), fetching the new ids and the answer.
"""
import argparse
import logging
import statistics
import threading

import requests
from werkzeug.serving import make_server

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.extensions import db
from smsplatform.models import Message
from smsplatform.timeutil import utcnow


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, _ = common.make_app(args.database_url)
    with common.scratch_schema(app):
        account, token, device = common.account_with_device()
        account_id, device_id = account.id, device.id
        db.session.commit()  # no transaction left open in this context while the server writes
        run(app, args, database_url, token, account_id, device_id)


def run(app, args, database_url: str, token: str, account_id: int, device_id: int) -> None:
    """Measure and print."""
    smsdata = [{"sendto": f"+4915{i:09d}", "body": f"Your code is {i:06d}", "device_id": device_id, "sim": 0,
                "customerid": i, "urgent": i % 10 == 0, "timetosend": "2019-07-01 23:50:00"}
               for i in range(args.count)]

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/getdata/addalotofsms"
    session = requests.Session()

    def over_http() -> tuple[float, float]:
        with common.Stopwatch() as watch:
            answer = session.post(url, json={"token": token, "smsdata": smsdata}, timeout=60).json()
        assert answer["error"] == 0 and len(answer["sms_ids"]) == args.count, answer.get("message")
        return watch.seconds, watch.cpu

    def raw_insert() -> tuple[float, float]:
        now = utcnow()
        rows = [common.message_row(
            account_id=account_id, device_id=device_id, sendto=item["sendto"], phone=item["sendto"], body=item["body"],
            customer_id=item["customerid"], urgent=item["urgent"], priority=100 if item["urgent"] else 0,
            time_to_send=now, due_at=now, created_at=now, updated_at=now, media_object_id=None, media_url=None,
        ) for item in smsdata]
        with app.app_context(), common.Stopwatch() as watch:
            db.session.execute(Message.__table__.insert(), rows)
            db.session.commit()
        return watch.seconds, watch.cpu

    over_http()  # warm-up: imports, connection pool, phonenumbers metadata
    raw_insert()
    http_times, raw_times = [], []
    for _ in range(args.repeat):
        raw_times.append(raw_insert())
        http_times.append(over_http())
    server.shutdown()
    backend = common.backend_name(database_url)
    print(f"addalotofsms {args.count} messages, {backend}, median of {args.repeat} "
          f"(wall clock; CPU seconds of this process, client and server, in brackets)")
    http, raw = (statistics.median(t[0] for t in http_times), statistics.median(t[0] for t in raw_times))
    http_cpu, raw_cpu = (statistics.median(t[1] for t in http_times), statistics.median(t[1] for t in raw_times))
    print(f"  raw bulk insert (floor): {raw:.3f} s  ({raw_cpu:.3f} s CPU)")
    print(f"  addalotofsms over HTTP : {http:.3f} s  ({http_cpu:.3f} s CPU)")
    print(f"  ratio to floor: {http / raw:.2f}x wall, {http_cpu / raw_cpu:.2f}x CPU   (target: < 1 s and <= 3x)")


if __name__ == "__main__":
    main()
