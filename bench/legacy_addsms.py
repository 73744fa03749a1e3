"""``addsms`` throughput under gunicorn vs a bare endpoint on the same server (target: >= 40% of it).

Usage: ``.venv/bin/python bench/legacy_addsms.py [--requests 2000] [--clients 8] [--workers 2]
[--database-url URL]`` (SQLite in a temporary directory by default; give a MariaDB URL of an empty
database for the other).

gunicorn runs with the product's ``gunicorn.conf.py`` (gevent workers) on 127.0.0.1 and a free port,
serving ``bench/legacy_addsms_wsgi.py``: the product app plus ``/bench-bare``, a fixed answer that
never reaches Flask (the floor: server, worker and HTTP round trip). Clients are threads with one
keep-alive connection each, posting urlencoded forms as PHP curl does, each to a different number.
Both endpoints get the same number of requests; the server is stopped at the end.
"""
import argparse
import http.client
import os
import subprocess
import sys
import threading
import time
from urllib.parse import urlencode

from flask_migrate import upgrade

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.extensions import db
from smsplatform.models import Message


def load(port: int, path: str, bodies: list[bytes], clients: int) -> float:
    """Send every body once, spread over ``clients`` keep-alive connections; requests per second."""
    errors = []

    def worker(share: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for body in share:
            connection.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
            response = connection.getresponse()
            answer = response.read()
            if response.status != 200 or b'"error":0' not in answer:
                errors.append(answer[:200])
        connection.close()

    threads = [threading.Thread(target=worker, args=(bodies[i::clients],)) for i in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} failed requests, e.g. {errors[0]!r}")
    return len(bodies) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, tmp = common.make_app(args.database_url)
    env = {**os.environ, "DATABASE_URL": database_url, "INSTANCE_PATH": tmp, "EVENTS_SOCKET_DIR": f"{tmp}/events",
           "SECRET_KEY": "bench", "HOST": "127.0.0.1", "PORT": str(common.free_port()),
           "WEB_CONCURRENCY": str(args.workers), "GUNICORN_LOG_LEVEL": "warning"}
    with app.app_context():
        upgrade()
        _account, token, device = common.account_with_device()
        device_id = device.id

    def bodies(offset: int) -> list[bytes]:
        return [urlencode({"token": token, "sendto": f"+4915{offset + i:09d}", "body": f"Your code is {i:06d}",
                           "device_id": device_id, "sim": 0, "urgent": 1}).encode() for i in range(args.requests)]

    port = int(env["PORT"])
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(common.ROOT / "gunicorn.conf.py"), "legacy_addsms_wsgi:app"],
        cwd=common.ROOT / "bench", env={**env, "PYTHONPATH": str(common.ROOT)}, start_new_session=True)
    try:
        common.wait_until_up(port, server)
        load(port, "/getdata/addsms", bodies(10_000_000)[:50], args.clients)  # warm-up both workers
        load(port, "/bench-bare", bodies(0)[:50], args.clients)
        cpu = common.server_cpu(server.pid)
        bare = load(port, "/bench-bare", bodies(0), args.clients)
        cpu, bare_cpu = common.server_cpu(server.pid), common.server_cpu(server.pid) - cpu
        addsms = load(port, "/getdata/addsms", bodies(0), args.clients)
        addsms_cpu = common.server_cpu(server.pid) - cpu
    finally:
        server.terminate()
        server.wait(timeout=30)
    with app.app_context():
        stored = db.session.query(Message).count()
    assert stored == args.requests + 50, stored
    backend = common.backend_name(database_url)
    print(f"addsms under gunicorn ({args.workers} gevent workers), {backend}, {args.requests} requests, "
          f"{args.clients} keep-alive clients")
    per_request = 1000 / args.requests
    print(f"  bare endpoint (floor): {bare:8.1f} requests/s   server CPU {bare_cpu * per_request:.2f} ms/request")
    print(f"  addsms               : {addsms:8.1f} requests/s   server CPU {addsms_cpu * per_request:.2f} ms/request")
    print(f"  ratio to floor: {addsms / bare:.0%}   (target: >= 40%)")


if __name__ == "__main__":
    main()
