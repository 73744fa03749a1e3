"""Idle ``GET /api/mobile/v1/message`` throughput through the real web server (target >= 1,000 req/s).

Usage: ``.venv/bin/python bench/mobile_pull.py [--seconds 10] [--devices 50] [--connections 16]
[--database-url URL]`` (SQLite in a temporary directory by default; a given database must be empty: it
is migrated for the run and left empty again).

Starts gunicorn with the project's ``gunicorn.conf.py`` (gevent workers) on a free 127.0.0.1 port,
pairs ``--devices`` phones, then keeps ``--connections`` keep-alive connections busy from two client
processes. Each device pull is a real one: token lookup, presence, the claim of an empty queue, the
commit. The floor is the server's barest endpoint (``GET /api/mobile/v1/device`` without a token: no
database at all), measured in the same run with the same clients.
"""
import argparse
import http.client
import multiprocessing
import os
import threading
import time

import common  # first of the project's imports: it puts the project root on sys.path


def client_process(port: int, path: str, tokens: list[str], connections: int, seconds: float, out) -> None:
    """``connections`` threads, one keep-alive connection each, for ``seconds``; reports (ok, errors, when its
    threads started, when they ended), on the machine-wide monotonic clock: the process's own start is not
    part of the measured window."""
    counts = [[0, 0] for _ in range(connections)]
    started = time.monotonic()
    deadline = started + seconds

    def run(index):
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        headers = {"User-Agent": "me.capcom.smsgateway/1.68.0"}
        if tokens:
            headers["Authorization"] = f"Bearer {tokens[index % len(tokens)]}"
        while time.monotonic() < deadline:
            try:
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                response.read()
                counts[index][0 if response.status == 200 else 1] += 1
            except (OSError, http.client.HTTPException):
                counts[index][1] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((sum(c[0] for c in counts), sum(c[1] for c in counts), started, time.monotonic()))


def measure(port, path, tokens, connections, seconds) -> tuple[float, int, int]:
    """(requests per second, failed requests, answered requests) of ``connections`` connections spread over
    two client processes (one for a single connection)."""
    out = multiprocessing.Queue()
    shares = [share for share in (connections - connections // 2, connections // 2) if share]
    procs = [multiprocessing.Process(target=client_process, args=(
        port, path, tokens[i::len(shares)] if tokens else [], share, seconds, out)) for i, share in enumerate(shares)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    ok, errors = sum(r[0] for r in results), sum(r[1] for r in results)
    if not ok:
        raise SystemExit(f"no request to {path} was answered ({errors} failed): is the server up?")
    elapsed = max(r[3] for r in results) - min(r[2] for r in results)
    return ok / elapsed, errors, ok


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--devices", type=int, default=50)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, tmp = common.make_app(args.database_url)
    with common.scratch_schema(app):
        _account, phones = common.account_with_phones(args.devices)
        tokens = [token for _device, token in phones]
        with common.gunicorn(database_url, tmp) as (port, server):
            measure(port, "/api/mobile/v1/device", [], 4, 1)  # warm-up: workers import, connections open
            cpu = common.server_cpu(server.pid)
            floor, floor_errors, floor_answered = measure(port, "/api/mobile/v1/device", [], args.connections,
                                                          args.seconds)
            cpu, floor_cpu = common.server_cpu(server.pid), common.server_cpu(server.pid) - cpu
            pull, pull_errors, pull_answered = measure(port, "/api/mobile/v1/message?order=lifo", tokens,
                                                       args.connections, args.seconds)
            pull_cpu = common.server_cpu(server.pid) - cpu
    print(f"{common.backend_name(database_url)}: {args.devices} paired phones, {args.connections} keep-alive connections, "
          f"{os.environ.get('WEB_CONCURRENCY', '2')} gevent workers")
    print(f"floor GET /device (no token, no database): {floor:.0f} req/s  errors {floor_errors}  "
          f"server CPU {floor_cpu * 1000 / floor_answered:.2f} ms/request")
    print(f"idle GET /message (token, presence, claim, commit): {pull:.0f} req/s  errors {pull_errors}  "
          f"server CPU {pull_cpu * 1000 / pull_answered:.2f} ms/request  "
          f"ratio to floor {pull / floor:.2f}  target >= 1000 req/s: {'met' if pull >= 1000 else 'MISSED'}")


if __name__ == "__main__":
    main()
