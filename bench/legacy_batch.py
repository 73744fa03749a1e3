"""``addalotofsms`` with 10,000 messages over HTTP vs a raw bulk insert of the same rows (target: < 1 s, <= 3x).

Usage: ``.venv/bin/python bench/legacy_batch.py [--count 10000] [--repeat 5] [--database-url URL]``
(SQLite in a temporary directory by default; give a MariaDB URL of an empty database for the other).

The server is werkzeug's WSGI server on 127.0.0.1 (a free port) in this process; the client posts the
documented JSON body (``token`` + ``smsdata``) with ``requests``. The floor is the same 10,000 rows,
already built, written with one ``executemany`` and committed: the database's own cost of the batch.
The HTTP figure adds everything else: reading and parsing 1 MB of JSON, the token, validating every
item (numbers through ``phonenumbers``, dates, slots, segments), fetching the new ids and the answer.
"""
import argparse
import logging
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import requests  # noqa: E402
from flask_migrate import upgrade  # noqa: E402
from werkzeug.serving import make_server  # noqa: E402

from smsplatform import create_app  # noqa: E402
from smsplatform.accounts.services import create_account, issue_token  # noqa: E402
from smsplatform.extensions import db  # noqa: E402
from smsplatform.models import Device, Message  # noqa: E402
from smsplatform.timeutil import utcnow  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    tmp = tempfile.mkdtemp()
    app = create_app({
        "SQLALCHEMY_DATABASE_URI": args.database_url or f"sqlite:///{tmp}/bench.db",
        "INSTANCE_PATH": tmp, "EVENTS_SOCKET_DIR": f"{tmp}/events",
    })
    with app.app_context():
        upgrade()
        account = create_account("bench@example.com", "bench-password")
        token = issue_token(account)
        device = Device(account_id=account.id, name="bench phone", webhook_signing_key="k" * 32)
        db.session.add(device)
        db.session.commit()
        account_id, device_id = account.id, device.id
    smsdata = [{"sendto": f"+4915{i:09d}", "body": f"Your code is {i:06d}", "device_id": device_id, "sim": 0,
                "customerid": i, "urgent": i % 10 == 0, "timetosend": "2019-07-01 23:50:00"}
               for i in range(args.count)]

    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/getdata/addalotofsms"
    session = requests.Session()

    def over_http() -> tuple[float, float]:
        started, cpu = time.perf_counter(), time.process_time()
        answer = session.post(url, json={"token": token, "smsdata": smsdata}, timeout=60).json()
        elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
        assert answer["error"] == 0 and len(answer["sms_ids"]) == args.count, answer.get("message")
        return elapsed, cpu

    def raw_insert() -> tuple[float, float]:
        now = utcnow()
        rows = [{"account_id": account_id, "device_id": device_id, "sendto": item["sendto"], "phone": item["sendto"],
                 "body": item["body"], "segments": 1, "encoding": "GSM-7", "sim": 0, "customer_id": item["customerid"],
                 "urgent": item["urgent"], "priority": 100 if item["urgent"] else 0, "status": 1, "ready": True,
                 "time_to_send": now, "due_at": now, "created_at": now, "updated_at": now,
                 "media_object_id": None, "media_url": None} for item in smsdata]
        with app.app_context():
            started, cpu = time.perf_counter(), time.process_time()
            db.session.execute(Message.__table__.insert(), rows)
            db.session.commit()
            return time.perf_counter() - started, time.process_time() - cpu

    over_http()  # warm-up: imports, connection pool, phonenumbers metadata
    raw_insert()
    http_times, raw_times = [], []
    for _ in range(args.repeat):
        raw_times.append(raw_insert())
        http_times.append(over_http())
    server.shutdown()
    backend = "MariaDB" if (args.database_url or "").startswith("mysql") else "SQLite"
    print(f"addalotofsms {args.count} messages, {backend}, median of {args.repeat} "
          f"(wall clock; CPU seconds of this process, client and server, in brackets)")
    http, raw = (statistics.median(t[0] for t in http_times), statistics.median(t[0] for t in raw_times))
    http_cpu, raw_cpu = (statistics.median(t[1] for t in http_times), statistics.median(t[1] for t in raw_times))
    print(f"  raw bulk insert (floor): {raw:.3f} s  ({raw_cpu:.3f} s CPU)")
    print(f"  addalotofsms over HTTP : {http:.3f} s  ({http_cpu:.3f} s CPU)")
    print(f"  ratio to floor: {http / raw:.2f}x wall, {http_cpu / raw_cpu:.2f}x CPU   (target: < 1 s and <= 3x)")


if __name__ == "__main__":
    main()
