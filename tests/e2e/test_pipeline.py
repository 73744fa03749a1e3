"""The whole delivery pipeline as real processes: thousands of messages, a phone and a scheduler killed mid-run.

gunicorn server(s) with gevent workers, scheduler process(es), three simulated phones speaking only
the public protocol. On SQLite: one web server and one scheduler. On MariaDB: two web servers and two
schedulers. Every message must reach the final state its phone chose, none sent twice (the phones'
own logs, across restarts), none lost.
"""
import os
import signal
import time
from collections import Counter
from datetime import datetime, timedelta, timezone

from sqlalchemy import create_engine, select, text
from sqlalchemy.orm import Session

from smsplatform.models import Message

from tests.conftest import TEST_DATABASE_URL, database_is_mariadb
from tests.e2e.harness import Platform, fresh_database, submit_batch

# The full proof: 10,000 messages (E2E_MESSAGES=2000 for a quicker local run).
TOTAL = int(os.environ.get("E2E_MESSAGES", "10000"))
BATCH = 500
DEADLINE_SECONDS = max(180, TOTAL // 10)
EXPECTED_STATUS = {"delivered": 7, "delivery_failed": 8, "failed": 9, "no_service": 10, "null_pdu": 11,
                   "radio_off": 12}
FINAL = tuple(EXPECTED_STATUS.values())


def _plan(devices: dict[str, int], total: int) -> list[dict]:
    """normal, urgent, scheduled a few seconds ahead, and WhatsApp-slot messages, spread over the phones."""
    later = (datetime.now(timezone.utc) + timedelta(seconds=8)).strftime("%Y-%m-%d %H:%M:%S")
    items = []
    for i in range(total):
        kind = i % 10
        item = {"sendto": f"+49157{i:08d}", "body": f"e2e message {i}", "sim": i % 2, "customerid": i}
        if kind in (0, 1, 2):  # WhatsApp slots go to the phone that declared them
            item.update(device_id=devices["wa"], sim=2 + (i % 2))
        else:
            item["device_id"] = devices["a"] if kind in (3, 4, 5) else devices["b"]
        if kind in (4, 7):
            item["urgent"] = 1
        if kind in (5, 8):
            item["timetosend"] = later
        items.append(item)
    return items


def _count(engine, where: str) -> int:
    with engine.connect() as connection:
        return connection.execute(text(f"SELECT COUNT(*) FROM messages WHERE {where}")).scalar()


def _wait(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.25)
    raise AssertionError(f"timed out waiting for {what}")


def _diagnosis(engine, platform) -> str:
    """What was left where, and what the phones said: enough to tell a stuck phone from a stuck server."""
    with engine.connect() as connection:
        left = connection.execute(text(
            "SELECT device_id, status, ready, COUNT(*) FROM messages WHERE status <> 5 GROUP BY device_id, status, ready"
        )).all()
    tails = {name: (platform.workdir / f"phone-{name}.log").read_text()[-800:] for name in platform.phones}
    return f"messages by (device, status, ready): {left}\nphone logs: {tails}"


def test_every_message_sent_exactly_once_through_kills_and_restarts(tmp_path):
    mariadb = database_is_mariadb()
    with fresh_database(TEST_DATABASE_URL, tmp_path) as database_url:
        platform = Platform(tmp_path, database_url, env={
            "UNACKED_REDELIVERY_SECONDS": "3",
            "EVENTS_KEEPALIVE_SECONDS": "5",
            "MAX_BATCH_SIZE": str(BATCH),
        })
        engine = create_engine(database_url)
        try:
            platform.migrate()
            token = platform.cli_json("accounts", "create", "--email", "e2e@example.com",
                                      "--password", "correct horse battery")["token"]
            servers = [platform.start_web(workers=1 if mariadb else 2)]
            if mariadb:
                servers.append(platform.start_web(workers=1))
            for _ in range(2 if mariadb else 1):
                platform.start_scheduler()

            phone_args = {"a": ("--fail-rate", "0.05"), "b": (), "wa": ("--whatsapp",)}
            codes = platform.pairing_codes("e2e@example.com", len(phone_args))
            for index, (name, args) in enumerate(phone_args.items()):
                platform.start_phone(name, servers[index % len(servers)], codes[index], *args, via_flask=index == 0)
            devices = {name: platform.phone_device_id(name) for name in phone_args}

            items = _plan(devices, TOTAL)
            started = time.monotonic()
            for offset in range(0, TOTAL, BATCH):
                submit_batch(servers[(offset // BATCH) % len(servers)], token, items[offset:offset + BATCH])
                if offset == BATCH * 2:
                    # The scheduler dies with work in flight and comes back.
                    platform.schedulers[0].send_signal(signal.SIGKILL)
                    platform.schedulers[0].wait()
                    platform.schedulers[0] = platform.start_scheduler()
            assert _count(engine, "status <> 5") == TOTAL

            # Phone b is killed mid-run (no goodbye) and restarted from its state file.
            _wait(lambda: len(platform.sent_lines("b")) >= TOTAL * 0.3 * 0.3, 120, "phone b to get going")
            platform.phones["b"].send_signal(signal.SIGKILL)
            platform.phones["b"].wait()
            time.sleep(1)
            platform.start_phone("b", servers[-1], None)

            try:
                _wait(lambda: _count(engine, f"status IN {FINAL}") == TOTAL, DEADLINE_SECONDS, "every final state")
            except AssertionError as error:
                raise AssertionError(f"{error}\n{_diagnosis(engine, platform)}") from None
            elapsed = time.monotonic() - started
        finally:
            platform.stop()

        with Session(engine) as session:
            rows = session.execute(
                select(Message.id, Message.device_id, Message.status, Message.sim, Message.time_to_send,
                       Message.taken_at).where(Message.status != 5)
            ).all()
        engine.dispose()

    sent = Counter()
    outcome = {}
    sent_by = {}
    for name in ("a", "b", "wa"):
        for _, message_id, result, _numbers in platform.sent_lines(name):
            sent[message_id] += 1
            outcome[message_id] = result
            sent_by[message_id] = devices[name]
    assert [m for m, n in sent.items() if n > 1] == []  # none twice, across phones and restarts
    assert set(sent) == {str(row.id) for row in rows}  # none lost
    for row in rows:
        assert row.status == EXPECTED_STATUS[outcome[str(row.id)]], row
        assert sent_by[str(row.id)] == row.device_id  # only its own device
        if row.sim >= 2:
            assert row.device_id == devices["wa"]
        if row.time_to_send is not None:  # held on the server until due, then released by the scheduler
            assert row.taken_at >= row.time_to_send, row
    resumed = [line for line in (tmp_path / "phone-b.log").read_text().splitlines() if '"resumed": true' in line]
    assert len(resumed) == 1  # the restarted phone b came back as the same device
    print(f"\n{TOTAL} messages final in {elapsed:.1f} s ({TOTAL / elapsed:.0f}/s) on "
          f"{'MariaDB' if mariadb else 'SQLite'}; phone b after its kill: {resumed[0]}")
