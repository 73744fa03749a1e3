"""``getallsms`` on 1,000,000 messages with a device filter: device + status + day, device + day, and
device alone (first page) (target: p95 < 100 ms).

Usage: ``.venv/bin/python bench/legacy_getallsms.py [--count 1000000] [--calls 200] [--database-url URL]``
(SQLite in a temporary directory by default, removed when the script exits; give a MariaDB URL of an
empty database for the other).

Seeding a million rows takes a while, so a seeded database is kept for the next run: the script
migrates it and never drops it, and a database seeded by an earlier run of this script is measured
again without re-seeding (after seeding, the script prints the ``--database-url`` to pass). To keep
a SQLite one, name its file: ``--database-url sqlite:////var/tmp/getallsms.db``; the default one in
the temporary directory is removed with it. Give it a database of its own: it adds the bench
account's tables and rows and leaves them there.

The table is seeded with one bulk insert per 20,000 rows: 10 devices, a year of messages, statuses
as a busy account has them (mostly delivered, some pending, sent, failed and incoming). Each case
makes ``--calls`` calls through the whole legacy edge (Flask test client: parsing, token, count,
rows, PHP dates, JSON):

- device + status + day: one device's delivered messages of one random day (about 160 rows);
- device + day: all of one device's messages of one random day (about 270 rows);
- device alone: one device's first 100 messages (``limit=100``), with the count of all its ~100,000.

The floor is the same two queries the edge runs (the count, then the page) as plain SQL through the
database driver, rows fetched, no ORM and no JSON: the index's cost.
"""
import argparse
import random
import statistics
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from flask_migrate import upgrade
from sqlalchemy import func, insert, make_url, select, text

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.accounts.services import create_account, issue_token
from smsplatform.db_statistics import refresh_planner_statistics
from smsplatform.extensions import db
from smsplatform.messaging.statuses import INCOMING
from smsplatform.models import Account, Conversation, Device, Message

DEVICES = 10
DAYS = 365
STATUSES = [7] * 12 + [1, 6, 6, 6, 8, 9, INCOMING, 2]  # 60% delivered
START = datetime(2025, 1, 1, tzinfo=timezone.utc)
COLUMNS = ("id, phone, body, customer_id, status, device_id, urgent, created_at, sent_at, time_to_send, sim, "
           "paket_id")
DAY = "AND created_at >= :begin AND created_at < :end"


@dataclass(frozen=True)
class Case:
    name: str
    params: dict      # getallsms parameters besides the token, the device and the day
    one_day: bool     # begindate = enddate = the query's day
    where: str        # the floor's WHERE clause
    limit: int        # the floor's LIMIT (the edge's cap, or the page asked for)


CASES = [
    Case("device+status+one day", {"status": 7}, True,
         f"account_id = :account AND device_id = :device AND status = 7 {DAY}", 10_000),
    Case("device+one day", {}, True, f"account_id = :account AND device_id = :device {DAY}", 10_000),
    Case("device alone, first 100", {"limit": 100}, False, "account_id = :account AND device_id = :device", 100),
]


def seed(account_id: int, device_ids: list[int], count: int) -> float:
    started = time.perf_counter()
    rng = random.Random(7)
    step = DAYS * 86400 / count
    chunk = 20_000
    for first in range(0, count, chunk):
        rows = []
        for i in range(first, min(first + chunk, count)):
            created = START + timedelta(seconds=i * step)
            phone = f"+4915{rng.randrange(10 ** 9):09d}"
            status = STATUSES[rng.randrange(len(STATUSES))]
            rows.append(common.message_row(
                account_id=account_id, device_id=device_ids[rng.randrange(DEVICES)], sendto=phone, phone=phone,
                body="Your order has shipped", customer_id=rng.randrange(10_000), status=status,
                due_at=created, created_at=created, updated_at=created,
                sent_at=created + timedelta(seconds=5) if status in (6, 7) else None, handed_count=1,
            ))
        db.session.execute(Message.__table__.insert(), rows)
        db.session.commit()
    # The rows went in directly; the Inbox's conversations (bench/dashboard_pages.py) are what storing each
    # incoming SMS would have counted.
    db.session.execute(insert(Conversation).from_select(
        ["account_id", "phone", "last_at", "received"],
        select(Message.account_id, Message.phone, func.max(Message.created_at), func.count())
        .where(Message.account_id == account_id, Message.status == INCOMING)
        .group_by(Message.account_id, Message.phone)))
    db.session.commit()
    return time.perf_counter() - started


def seeded_account(count: int, given_url: str | None, database_url: str) -> tuple[Account, list[int], int]:
    """The bench account, its devices' ids and the number of messages in the database: seeded now with
    ``count`` messages, or found as an earlier run (of this script or ``dashboard_pages.py``) left it."""
    account = db.session.scalar(select(Account).where(Account.email == common.BENCH_EMAIL))
    if account is not None:  # a database seeded by an earlier run: measure again without re-seeding
        device_ids = list(db.session.scalars(select(Device.id).where(Device.account_id == account.id)))
        total = db.session.scalar(select(func.count()).select_from(Message))
        print(f"reusing {total} messages seeded by an earlier run")
        return account, device_ids, total
    account = create_account(common.BENCH_EMAIL, common.BENCH_PASSWORD)
    devices = [Device(account_id=account.id, name=f"phone {i}", webhook_signing_key="k" * 32)
               for i in range(DEVICES)]
    db.session.add_all(devices)
    db.session.commit()
    device_ids = [device.id for device in devices]
    seconds = seed(account.id, device_ids, count)
    # Statistics as a running platform has them: the scheduler's job on SQLite, InnoDB's own
    # (made current now) on MariaDB.
    if not refresh_planner_statistics():
        db.session.execute(text("ANALYZE TABLE messages, conversations"))
    db.session.commit()
    print(f"seeded {count} messages in {seconds:.1f} s")
    if given_url:
        print(f"measure again without re-seeding: --database-url {make_url(database_url).render_as_string()}")
    else:
        print("(a temporary SQLite database, removed on exit: to keep one for re-use, give "
              "--database-url sqlite:////path/to/getallsms.db)")
    return account, device_ids, count


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, _ = common.make_app(args.database_url)
    with app.app_context():
        upgrade()
        account, device_ids, total = seeded_account(args.count, args.database_url, database_url)
        token = issue_token(account)
        db.session.commit()

        rng = random.Random(11)
        queries = []
        for _ in range(args.calls):
            day = START + timedelta(days=rng.randrange(DAYS - 1))
            queries.append((rng.choice(device_ids), day))
        client = app.test_client()
        results = [measure(client, token, account.id, queries, case) for case in CASES]
    backend = common.backend_name(database_url)
    print(f"getallsms, {backend}, {total} messages, {args.calls} calls per case")
    for case, (floor_ms, edge_ms, rows) in zip(CASES, results):
        print(f"{case.name}: median count {statistics.median(rows):.0f}")
        floor_p95, edge_p95 = common.percentile(floor_ms, 0.95), common.percentile(edge_ms, 0.95)
        print(f"  plain SQL (floor): p50 {common.percentile(floor_ms, 0.5):6.1f} ms   p95 {floor_p95:6.1f} ms")
        print(f"  getallsms        : p50 {common.percentile(edge_ms, 0.5):6.1f} ms   p95 {edge_p95:6.1f} ms")
        print(f"  ratio to floor (p95): {edge_p95 / floor_p95:.1f}x   (target: p95 < 100 ms)")


def measure(client, token: str, account_id: int, queries: list, case: Case) -> tuple[list, list, list]:
    """(floor ms, getallsms ms, count) of each query, after a warm-up of ten calls."""
    count_sql = text(f"SELECT count(*) FROM messages WHERE {case.where}")
    page_sql = text(f"SELECT {COLUMNS} FROM messages WHERE {case.where} ORDER BY created_at, id LIMIT {case.limit}")

    def edge_params(device_id, day):
        dates = {"begindate": day.strftime("%Y-%m-%d"), "enddate": day.strftime("%Y-%m-%d")} if case.one_day else {}
        return {"token": token, "device_id": device_id, **case.params, **dates}

    for device_id, day in queries[:10]:  # warm-up: caches, compiled statements
        client.get("/getdata/getallsms", query_string=edge_params(device_id, day))
    floor_ms, edge_ms, rows = [], [], []
    for device_id, day in queries:
        params = {"account": account_id, "device": device_id, "begin": day.replace(tzinfo=None),
                  "end": (day + timedelta(days=1)).replace(tzinfo=None)}
        started = time.perf_counter()
        with db.engine.connect() as conn:
            conn.execute(count_sql, params).scalar()
            conn.execute(page_sql, params).fetchall()
        floor_ms.append((time.perf_counter() - started) * 1000)

        started = time.perf_counter()
        answer = client.get("/getdata/getallsms", query_string=edge_params(device_id, day)).get_json()
        edge_ms.append((time.perf_counter() - started) * 1000)
        assert answer["error"] == 0, answer
        rows.append(answer["count"])
    return floor_ms, edge_ms, rows


if __name__ == "__main__":
    main()
