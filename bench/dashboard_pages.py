"""The dashboard's self-refreshing pages on an account of 1,000,000 messages: each page's time, against the
same page of a new account with no messages (the floor: rendering, session, the account's own rows).

Usage: ``.venv/bin/python bench/dashboard_pages.py [--count 1000000] [--calls 20] [--database-url URL]``

It seeds the messages as ``legacy_getallsms.py`` does (10 phones, a year, 5 % of them incoming from
numbers that wrote once or twice) and re-uses a database that script or this one seeded before: give
the same ``--database-url`` (SQLite in a temporary directory by default, removed when the script exits;
a MariaDB URL of a database of its own for the other).

Each page is fetched as its live region fetches it (``X-Live-Refresh``), ``--calls`` times after two
warm-ups, through the Flask test client signed in as the account; the figure is the median. The pages
and how often an open one is fetched again: the Overview (30 s), Messages, first page (5 s while a
message on it can change, else 15 s), Devices (10 s), Inbox (10 s), and the conversation of the number
that wrote most (5 s).
"""
import argparse
import statistics
import time

from flask_migrate import upgrade
from sqlalchemy import func, select

import common  # first of the project's imports: it puts the project root on sys.path
import legacy_getallsms
from smsplatform.accounts.services import create_account
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.models import Account, Conversation, Message

EMPTY_EMAIL = "bench-empty@example.com"
PAGES = ["/", "/messages", "/devices", "/inbox", "/inbox/conversation?phone={phone}"]


def page_times(app, email: str, paths: list[str], calls: int) -> list[float]:
    """Median milliseconds of each path for ``email``'s session."""
    client = app.test_client()
    login = client.post("/login", data={"email": email, "password": common.BENCH_PASSWORD})
    assert login.status_code == 302, login.status_code
    medians = []
    for path in paths:
        times = []
        for attempt in range(calls + 2):
            started = time.perf_counter()
            response = client.get(path, headers={"X-Live-Refresh": "1"})
            if attempt >= 2:
                times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        medians.append(statistics.median(times))
    return medians


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, _ = common.make_app(args.database_url, SECRET_KEY="bench", WTF_CSRF_ENABLED=False)
    with app.app_context():
        upgrade()
        account, _, _ = legacy_getallsms.seeded_account(args.count, args.database_url, database_url)
        if db.session.scalar(select(Account.id).where(Account.email == EMPTY_EMAIL)) is None:
            create_account(EMPTY_EMAIL, common.BENCH_PASSWORD)
            db.session.commit()
        total = db.session.scalar(select(func.count()).select_from(Message).where(Message.account_id == account.id))
        incoming = db.session.scalar(select(func.count()).select_from(Message).where(
            Message.account_id == account.id, Message.status == statuses.INCOMING))
        chatty = db.session.execute(
            select(Conversation.phone, Conversation.received).where(Conversation.account_id == account.id)
            .order_by(Conversation.received.desc()).limit(1)).one()
        db.session.remove()
    paths = [path.format(phone=chatty.phone.replace("+", "%2B")) for path in PAGES]
    busy = page_times(app, common.BENCH_EMAIL, paths, args.calls)
    floor = page_times(app, EMPTY_EMAIL, [path.replace("/inbox/conversation", "/inbox") for path in paths], args.calls)
    print(f"dashboard pages, {common.backend_name(database_url)}: {total:,} messages, {incoming:,} incoming; "
          f"median of {args.calls} fetches, as a live region makes them")
    print(f"  {'page':34s} {'this account':>14s} {'no messages (floor)':>20s} {'ratio':>7s}")
    for path, busy_ms, floor_ms in zip(PAGES, busy, floor):
        print(f"  {path.replace('{phone}', '…'):34s} {busy_ms:11.1f} ms {floor_ms:17.1f} ms {busy_ms / floor_ms:6.1f}x")
    print(f"  (the conversation is the one of {chatty.received} incoming SMS; the floor for it is the empty Inbox)")


if __name__ == "__main__":
    main()
