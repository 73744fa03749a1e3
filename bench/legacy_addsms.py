"""``addsms`` throughput under gunicorn vs a bare endpoint on the same server (target: >= 40% of it).

Usage: ``.venv/bin/python bench/legacy_addsms.py [--requests 2000] [--rounds 3] [--clients 8]
[--workers 2] [--database-url URL]`` (SQLite in a temporary directory by default; give a MariaDB URL
of an empty database for the other: it is migrated for the run and left empty again).

gunicorn runs with the product's ``gunicorn.conf.py`` (gevent workers) on 127.0.0.1 and a free port,
serving ``bench/legacy_addsms_wsgi.py``: the product app plus two bare endpoints. The floor is
``/getdata/bench-bare``, a Flask view of the same app that does no work and answers the same JSON
shape; ``/bench-wsgi`` (the same bytes without Flask: server, worker and HTTP alone) is printed
beside it. Clients are threads with one keep-alive connection each, posting urlencoded forms as PHP
curl does, each ``addsms`` to a different number. The three endpoints are measured in alternating
rounds (the machine's noise hits all three alike) and each figure is the median round; the server
CPU per request is read from ``/proc``. The server is stopped at the end.
"""
import argparse
import http.client
import threading
import time
from urllib.parse import urlencode

import common  # first of the project's imports: it puts the project root on sys.path
import bare_endpoint
from smsplatform.extensions import db
from smsplatform.models import Message


def load(port: int, path: str, bodies: list[bytes], clients: int) -> tuple[float, list[float]]:
    """Send every body once, spread over ``clients`` keep-alive connections; (requests per second,
    each request's latency in seconds)."""
    errors: list[bytes] = []
    latencies: list[float] = []

    def worker(share: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        for body in share:
            started = time.perf_counter()
            connection.request("POST", path, body, {"Content-Type": "application/x-www-form-urlencoded"})
            response = connection.getresponse()
            answer = response.read()
            latencies.append(time.perf_counter() - started)
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
    return len(bodies) / elapsed, latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000, help="requests per endpoint per round")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, tmp = common.make_app(args.database_url)
    with common.scratch_schema(app):
        _account, token, device = common.account_with_device()
        device_id = device.id
        db.session.commit()  # no transaction open while the server writes: the count below sees its rows
        stored = run(args, database_url, tmp, token, device_id)
    assert stored == args.requests * args.rounds + 100, stored


def run(args, database_url: str, tmp: str, token: str, device_id: int) -> int:
    """Measure and print; returns the messages stored."""
    def bodies(offset: int, count: int) -> list[bytes]:
        return [urlencode({"token": token, "sendto": f"+4915{offset + i:09d}", "body": f"Your code is {i:06d}",
                           "device_id": device_id, "sim": 0, "urgent": 1}).encode() for i in range(count)]

    endpoints = {"wsgi": "/bench-wsgi", "bare": bare_endpoint.PATH, "addsms": "/getdata/addsms"}
    rounds: dict[str, list[tuple[float, float]]] = {name: [] for name in endpoints}
    latencies: dict[str, list[float]] = {name: [] for name in endpoints}
    with common.gunicorn(database_url, tmp, "legacy_addsms_wsgi:app", WEB_CONCURRENCY=str(args.workers)) as (port, server):
        for path in endpoints.values():  # warm-up: both workers, every endpoint
            load(port, path, bodies(90_000_000, 100), args.clients)
        for round_number in range(args.rounds):
            for name, path in endpoints.items():
                batch = bodies(round_number * args.requests, args.requests)
                cpu = common.server_cpu(server.pid)
                rate, took = load(port, path, batch, args.clients)
                rounds[name].append((rate, (common.server_cpu(server.pid) - cpu) * 1000 / args.requests))
                latencies[name].extend(took)
    stored = db.session.query(Message).count()
    median = {name: sorted(results)[len(results) // 2] for name, results in rounds.items()}
    print(f"addsms under gunicorn ({args.workers} gevent workers), {common.backend_name(database_url)}, "
          f"{args.rounds} rounds of {args.requests} requests per endpoint, {args.clients} keep-alive clients "
          f"(median round; server CPU per request)")
    labels = {"wsgi": "raw WSGI answer (no Flask)", "bare": "bare Flask endpoint (floor)", "addsms": "addsms"}
    for name, (rate, cpu) in median.items():
        print(f"  {labels[name]:28s}: {rate:8.1f} requests/s   {cpu:.2f} ms CPU/request   latency p50 "
              f"{common.percentile(latencies[name], 0.5) * 1000:5.1f} ms, p99 {common.percentile(latencies[name], 0.99) * 1000:5.1f} ms, "
              f"max {max(latencies[name]) * 1000:5.1f} ms")
    print(f"  ratio to floor: {median['addsms'][0] / median['bare'][0]:.0%}   (target: >= 40%); "
          f"to the raw WSGI answer: {median['addsms'][0] / median['wsgi'][0]:.0%}")
    return stored


if __name__ == "__main__":
    main()
