"""Urgent ``addsms`` answered → the message in a connected phone's hands, with 200 phones holding event streams.

Usage: ``.venv/bin/python bench/phone_wakeup_latency.py [--phones 200] [--trials 300] [--workers 2]``
(SQLite in a temporary directory; ``--database-url`` for another, empty database, whose tables the run
leaves behind: drop them before the next run).

Real processes: one gunicorn server (gevent workers) and, in this process, ``--phones`` lightweight
phones (one thread each) holding ``GET /events`` open. Each trial sends one urgent ``addsms`` to a
random phone; that phone reacts to ``MessageEnqueued`` with ``GET /message`` like the app does. The
figure is the time from the ``addsms`` answer to that ``GET /message`` answer holding the message.

The floor, measured in the same run (alternating with the trials), is the best a phone could do
without any wake-up: a phone with no event stream whose ``GET /message`` is issued by the benchmark
itself the instant the ``addsms`` answer arrives.
"""
import argparse
import json
import random
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.phone_sim.protocol import MobileClient, ProtocolError, read_events
from tests.e2e.harness import Platform

EMAIL, PASSWORD = common.BENCH_EMAIL, common.BENCH_PASSWORD


class BenchPhone:
    """A phone reduced to what is timed: the event stream, and a pull on every MessageEnqueued."""

    def __init__(self, base: str, registration: dict):
        self.client = MobileClient(base, registration["token"])
        self.device_id = int(registration["id"])
        self.arrivals: dict[str, float] = {}
        self.connected = threading.Event()
        self.lock = threading.Lock()
        self.reconnects = 0
        self.events = 0
        self.errors: list[str] = []

    def run(self) -> None:
        while True:
            try:
                with self.client.open_events(read_timeout=600) as response:
                    self.connected.set()
                    self.pull()  # the app pulls on every successful open
                    for event in read_events(response):
                        self.events += 1
                        if event == "MessageEnqueued":
                            self.pull()
            except (requests.RequestException, ProtocolError) as error:
                self.errors.append(str(error)[:200])
            self.reconnects += 1
            time.sleep(0.5)

    def pull(self) -> None:
        messages = self.client.get_messages(order="lifo")
        now = time.perf_counter()
        with self.lock:
            for message in messages:
                self.arrivals.setdefault(str(message["id"]), now)


def register(base: str, count: int) -> list[dict]:
    """Pair ``count`` phones with the account login (``Authorization: Basic``), as the app's Sign-In does."""
    session = requests.Session()
    registrations = []
    for i in range(count):
        response = session.post(f"{base}/device", auth=(EMAIL, PASSWORD), timeout=30,
                                 json={"name": f"bench/{i}", "simCards": [{"slotIndex": 0, "simNumber": 1}]})
        response.raise_for_status()
        registrations.append(response.json())
    return registrations


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phones", type=int, default=200)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as scratch:
        workdir = Path(scratch)
        platform = Platform(workdir, args.database_url or f"sqlite:///{workdir / 'bench.db'}")
        try:
            platform.migrate()
            token = platform.cli_json("accounts", "create", "--email", EMAIL, "--password", PASSWORD)["token"]
            base = platform.start_web(workers=args.workers)
            api = f"{base}/api/mobile/v1"
            registrations = register(api, args.phones + 1)
            floor_registration = registrations.pop()
            floor_client = MobileClient(api, floor_registration["token"])
            floor_device = int(floor_registration["id"])
            phones = [BenchPhone(api, r) for r in registrations]
            for phone in phones:
                threading.Thread(target=phone.run, daemon=True).start()
            for phone in phones:
                if not phone.connected.wait(60):
                    raise SystemExit("a phone could not open its event stream")
            time.sleep(1.0)  # the first-connect catch-up events and pulls settle

            legacy = requests.Session()

            def addsms(device_id: int) -> tuple[str, float]:
                response = legacy.post(f"{base}/getdata/addsms", timeout=30, data={
                    "token": token, "sendto": f"+4915752{random.randint(100000, 999999)}", "body": "Your code: 123456",
                    "device_id": device_id, "sim": 0, "urgent": 1})
                answered = time.perf_counter()
                body = response.json()
                if body.get("error") != 0:
                    raise SystemExit(f"addsms failed: {body}")
                return str(body["sms_id"]), answered

            latencies, floors = [], []
            for trial in range(args.trials):
                phone = random.choice(phones)
                message_id, answered = addsms(phone.device_id)
                deadline = time.perf_counter() + 10
                while message_id not in phone.arrivals and time.perf_counter() < deadline:
                    time.sleep(0.0005)
                if message_id not in phone.arrivals:
                    raise SystemExit(f"message {message_id} never reached phone {phone.device_id} "
                                     f"(its events: {phone.events}, reconnects: {phone.reconnects}, errors: {phone.errors[-3:]})")
                latencies.append(max(0.0, phone.arrivals[message_id] - answered))
                # Floor: a phone without an event stream that pulls the instant the answer arrives.
                message_id, answered = addsms(floor_device)
                if message_id not in {str(m["id"]) for m in floor_client.get_messages(order="lifo")}:
                    raise SystemExit("the floor pull did not get its message")
                floors.append(time.perf_counter() - answered)
                time.sleep(random.uniform(0.005, 0.03))
        finally:
            platform.stop()

    def ms(value: float) -> str:
        return f"{value * 1000:.1f}"

    result = {
        "phones": args.phones, "trials": len(latencies), "floor_trials": len(floors),
        "p50_ms": ms(common.percentile(latencies, 0.5)), "p95_ms": ms(common.percentile(latencies, 0.95)),
        "p99_ms": ms(common.percentile(latencies, 0.99)), "max_ms": ms(max(latencies)),
        "floor_p50_ms": ms(common.percentile(floors, 0.5)), "floor_p99_ms": ms(common.percentile(floors, 0.99)),
    }
    result["ratio_p99_to_floor_p99"] = f"{common.percentile(latencies, 0.99) / common.percentile(floors, 0.99):.2f}"
    print(json.dumps(result, indent=2))
    print(f"p99 {result['p99_ms']} ms (target < 250 ms): {'OK' if common.percentile(latencies, 0.99) < 0.25 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
