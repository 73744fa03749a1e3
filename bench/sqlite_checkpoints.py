"""``addsms`` on SQLite with the write-ahead log copied back every 1,000 pages (SQLite's default) and
every 10,000 (``SQLITE_WAL_AUTOCHECKPOINT_PAGES``, the platform's default).

Usage: ``.venv/bin/python bench/sqlite_checkpoints.py [--calls 3000] [--rounds 3] [--pages 1000,10000]``

In-process, no HTTP: each setting gets its own app and SQLite file, and the settings run in alternating
rounds of ``--calls`` ``addsms`` calls (urlencoded forms to new numbers, as in ``addsms_inprocess.py``), so
the machine's noise falls on all alike. A checkpoint runs inside the commit that fills the log, in the
worker that made it, and copies every page changed since the last one into the database file: the call
waits on that I/O, which CPU time does not show. So each figure is the wall time per call (with the CPU
time beside it and the slowest calls) of the median round, against the floor: a bare Flask endpoint of
the same app, measured in the same rounds.
"""
import argparse
import time
from contextlib import ExitStack
from urllib.parse import urlencode

import common  # first of the project's imports: it puts the project root on sys.path
import bare_endpoint
from addsms_inprocess import wsgi_post
from smsplatform.extensions import db


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--pages", default="1000,10000", help="checkpoint intervals to compare, in pages")
    args = parser.parse_args()
    settings = [int(pages) for pages in args.pages.split(",")]
    results: dict[object, list[tuple[float, float, float, float]]] = {key: [] for key in [*settings, "floor"]}
    with ExitStack() as schemas:  # each setting's schema is dropped at the end, the last made first
        runs = {pages: Run(pages, schemas) for pages in settings}
        for run in runs.values():
            run.calls(300)  # warm-up
        for _ in range(args.rounds):
            results["floor"].append(runs[settings[0]].calls(args.calls, bare=True))
            for pages, run in runs.items():
                results[pages].append(run.calls(args.calls))
    print(f"addsms in-process on SQLite, {args.rounds} alternating rounds of {args.calls} calls per setting "
          "(median round by wall time)")
    floor = median(results["floor"])[0]
    print(f"  bare Flask endpoint (floor)           : {floor:6.0f} us wall per call")
    for pages in settings:
        wall, cpu, p99, slowest = median(results[pages])
        print(f"  checkpoint every {pages:6d} pages       : {wall:6.0f} us wall, {cpu:4.0f} us CPU per call, "
              f"p99 {p99:5.1f} ms, slowest {slowest:5.1f} ms   ratio to floor {wall / floor:4.1f}x")


def median(rounds: list[tuple]) -> tuple:
    return sorted(rounds)[len(rounds) // 2]


class Run:
    """One setting: its own app and database, an account with a phone, and its calls."""

    def __init__(self, pages: int, schemas: ExitStack):
        self.app, _url, _tmp = common.make_app(SQLITE_WAL_AUTOCHECKPOINT_PAGES=pages)
        bare_endpoint.add_bare_endpoint(self.app)
        schemas.enter_context(common.scratch_schema(self.app))
        _account, self.token, device = common.account_with_device()
        self.device_id = device.id
        db.session.commit()
        self.numbers = iter(range(10**9))

    def calls(self, count: int, bare: bool = False) -> tuple[float, float, float, float]:
        """(wall µs per call, CPU µs per call, p99 ms, slowest ms) of ``count`` calls."""
        path = bare_endpoint.PATH if bare else "/getdata/addsms"
        took = []
        with self.app.app_context():
            started, cpu = time.perf_counter(), time.process_time()
            for _ in range(count):
                body = urlencode({"token": self.token, "sendto": f"+4915{next(self.numbers):09d}",
                                  "body": "Your code is 123456", "device_id": self.device_id, "sim": 0,
                                  "urgent": 1}).encode()
                call_started = time.perf_counter()
                answer = wsgi_post(self.app, path, body)
                took.append(time.perf_counter() - call_started)
                assert b'"error":0' in answer, answer
            wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        return (wall / count * 1e6, cpu / count * 1e6, common.percentile(took, 0.99) * 1000, max(took) * 1000)


if __name__ == "__main__":
    main()
