"""list_messages: filters, totals, the row cap, and that the usual filters are served by an index."""
import re
from datetime import datetime, timedelta

import pytest
from sqlalchemy import event, insert, text

from smsplatform.db_statistics import refresh_planner_statistics
from smsplatform.extensions import db
from smsplatform.messaging import listing
from smsplatform.models import Message
from smsplatform.timeutil import UTC, utcnow
from tests.conftest import create_device, database_is_mariadb


def _seed(account, count=30):
    device = create_device(account)
    start = utcnow() - timedelta(days=count)
    rows = [{"account_id": account.id, "device_id": device.id, "sendto": f"+49157{i:08d}",
             "phone": f"+49157{i:08d}", "body": "b", "status": (1, 6, 7)[i % 3], "sim": i % 2,
             "customer_id": i % 5, "created_at": start + timedelta(days=i), "updated_at": start,
             "due_at": start} for i in range(count)]
    db.session.execute(insert(Message), rows)
    db.session.commit()
    return device, start


def test_dates_in_the_given_zone_and_paging(app, account):
    owner = account[0]
    device, start = _seed(owner)
    day = (start + timedelta(days=10)).strftime("%Y-%m-%d")
    found = listing.list_messages(owner, listing.Filters(begin=day, end=day))
    assert found.count == 1 and len(found.rows) == 1
    page = listing.list_messages(owner, listing.Filters(device_id=device.id, status=7, limit=3, offset=2,
                                                        descending=True))
    assert page.count == 10 and len(page.rows) == 3
    assert [row.id for row in page.rows] == sorted((row.id for row in page.rows), reverse=True)
    assert listing.list_messages(owner, listing.Filters(only_count=True, sim=1)).rows == []


@pytest.mark.parametrize("end, included", [
    ("2026-03-04", True), ("04.03.2026", True), ("2026-03-03", False),  # a date alone is its whole day
    ("2026-03-04 10:20:30", True), ("2026-03-04 10:20:29", False),      # the second the answers show
    ("04.03.2026 10:20", True), ("2026-03-04 10:19", False),            # the whole minute
    ("2026-03-04T10:20:30", True), ("2026-03-04T10:20:30.400", False),  # ISO: fractions are exact
    ("2026-03-04T11:20:30+01:00", True),
])
def test_an_end_date_includes_the_whole_unit_it_names(app, account, end, included):
    owner = account[0]
    device = create_device(owner)
    created = datetime(2026, 3, 4, 10, 20, 30, 654_321, tzinfo=UTC)  # stored with its fraction of a second
    db.session.execute(insert(Message), [{"account_id": owner.id, "device_id": device.id, "sendto": "+4915700000001",
                                          "phone": "+4915700000001", "body": "b", "status": 1, "created_at": created,
                                          "updated_at": created, "due_at": created}])
    db.session.commit()
    assert listing.list_messages(owner, listing.Filters(end=end, only_count=True)).count == int(included)


def test_a_number_is_found_with_or_without_its_plus(app, account):
    owner = account[0]
    device = create_device(owner)
    now = utcnow()
    db.session.execute(insert(Message), [
        {"account_id": owner.id, "device_id": device.id, "sendto": sent, "phone": stored, "body": "b", "status": 1,
         "created_at": now, "updated_at": now, "due_at": now}
        for sent, stored in [("+4915752982213", "+4915752982213"), ("4915752982213", "4915752982213")]])
    db.session.commit()
    for written in ("+4915752982213", "4915752982213", "004915752982213", " 4915752982213"):
        assert listing.list_messages(owner, listing.Filters(phone=written, only_count=True)).count == 2, written


# Which index serves each usual filter: (Filters arguments, with ``device_id=DEVICE`` for the seeded
# device and ``begin``/``end`` as days after the first seeded day; the index the page must use; any
# other index the count may use instead). The seed makes every filter selective enough that using
# its index is the right plan on both databases. (At this size MariaDB reads a device's page from its
# index even without the ORDER BY hint list_messages gives it; the hint matters at a million rows,
# see BENCHMARKS.md 2 (c). A hint naming a missing index would fail here on MariaDB.)
DEVICE = object()
PAGE_AND_COUNT = {
    "device": ({"device_id": DEVICE}, "ix_messages_account_device_created",
               {"ix_messages_account_device_status_created"}),
    "device+dates": ({"device_id": DEVICE, "begin": 3, "end": 5}, "ix_messages_account_device_created", set()),
    "device+sim": ({"device_id": DEVICE, "sim": 1}, "ix_messages_account_device_created",
                   {"ix_messages_account_device_status_created"}),
    "device+status+dates": ({"device_id": DEVICE, "status": 8, "begin": 3, "end": 5},
                            "ix_messages_account_device_status_created", set()),
    "status+dates": ({"status": 8, "begin": 3, "end": 5}, "ix_messages_account_status_created", set()),
    "dates": ({"begin": 3, "end": 3}, "ix_messages_account_created", set()),
    "phone": ({"phone": "+4915700000042"}, "ix_messages_account_phone_created", set()),
    "customerid": ({"customer_id": 42}, "ix_messages_account_customer_created", set()),
}
# A number is looked up in all its stored forms (``phone IN (…)``), which no index returns in date
# order: without statistics SQLite reads the account in date order from ix_messages_account_created
# instead. The scheduler's refresh-planner-statistics job gives it them; MariaDB keeps its own.
SQLITE_NEEDS_STATISTICS = {"phone"}


def _seed_for_plans(account, count=4000):
    """``count`` messages over 20 days on 20 devices: 200 a day, 10 per device and day; a tenth failed
    (status 8), half on sim 1, 8 per customer id and 4 per number. (With a few devices, one device's
    messages are a large share of the table, and MariaDB rightly reads the whole table instead.)"""
    devices = [create_device(account, name=f"phone {i}") for i in range(20)]
    start = utcnow().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=20)
    rows = [{"account_id": account.id, "device_id": devices[i % 20].id, "sendto": f"+49157{i % 1000:08d}",
             "phone": f"+49157{i % 1000:08d}", "body": "b", "status": 8 if i % 10 == 3 else (7, 7, 6, 1)[i % 4],
             "sim": i // 20 % 2, "customer_id": i % 500, "updated_at": start, "due_at": start,
             "created_at": start + timedelta(seconds=i * 20 * 86400 // count)} for i in range(count)]
    db.session.execute(insert(Message), rows)
    db.session.commit()
    return devices[0], start


def _indexes_used(owner, filters) -> tuple[list[str], list[str]]:
    """The indexes the count and the page of ``list_messages`` read ``messages`` with, from the plans of
    the very statements it runs (``SCAN`` for a full table read)."""
    statements = []

    def capture(conn, cursor, statement, parameters, context, executemany):
        if re.search(r"\bFROM messages\b", statement):
            statements.append((statement, parameters))

    event.listen(db.engine, "before_cursor_execute", capture)
    try:
        listing.list_messages(owner, filters)
    finally:
        event.remove(db.engine, "before_cursor_execute", capture)
    return tuple(_plan(statement, parameters) for statement, parameters in statements)


def _plan(statement, parameters) -> list[str]:
    connection = db.session.connection()
    if database_is_mariadb():  # the chosen access key, not possible_keys; "a|b" is a key plus a rowid filter
        rows = connection.exec_driver_sql(f"EXPLAIN {statement}", parameters).mappings()
        return [row["key"].split("|")[0] if row["key"] else "SCAN" for row in rows if row["table"] == "messages"]
    details = [row[3] for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {statement}", parameters)]
    return [match.group(1) if (match := re.search(r"USING (?:COVERING )?INDEX (\w+)", detail)) else "SCAN"
            for detail in details if re.match(r"(SEARCH|SCAN) messages\b", detail)]


def _assert_plans(owner, filters, page_index, other_count_indexes):
    count, page = _indexes_used(owner, filters)
    assert page == [page_index]
    assert len(count) == 1 and count[0] in {page_index} | other_count_indexes, count


@pytest.mark.parametrize("case", list(PAGE_AND_COUNT))
def test_each_usual_filter_is_served_by_its_index(app, account, case):
    arguments, page_index, other_count_indexes = PAGE_AND_COUNT[case]
    owner = account[0]
    device, start = _seed_for_plans(owner)
    values = {**arguments, **{name: (start + timedelta(days=arguments[name])).strftime("%Y-%m-%d")
                              for name in ("begin", "end") if name in arguments}}
    filters = listing.Filters(**values | ({"device_id": device.id} if values.get("device_id") is DEVICE else {}))
    if not database_is_mariadb() and case not in SQLITE_NEEDS_STATISTICS:
        _assert_plans(owner, filters, page_index, other_count_indexes)  # as a fresh database has it
    # With statistics: MariaDB's (InnoDB refreshes them in the background; ANALYZE makes it now), and
    # SQLite's once the scheduler's refresh-planner-statistics job has run.
    if database_is_mariadb():
        assert not refresh_planner_statistics()  # the job leaves MariaDB's own statistics alone
        db.session.execute(text("ANALYZE TABLE messages"))
    else:
        assert refresh_planner_statistics()
    db.session.commit()
    try:
        _assert_plans(owner, filters, page_index, other_count_indexes)
    finally:
        if not database_is_mariadb():  # the next test starts without statistics again
            db.session.execute(text("DROP TABLE IF EXISTS sqlite_stat1"))
            db.session.execute(text("DROP TABLE IF EXISTS sqlite_stat4"))
            db.session.commit()
