"""list_messages: filters, totals, the row cap, and that the usual filters are served by an index."""
from datetime import timedelta

from sqlalchemy import insert, text

from smsplatform.extensions import db
from smsplatform.messaging import listing
from smsplatform.models import Message
from smsplatform.timeutil import utcnow
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


def test_the_device_status_date_filter_uses_the_index(app, account):
    owner = account[0]
    device, start = _seed(owner)
    filters = listing.Filters(device_id=device.id, status=1, begin=start.strftime("%Y-%m-%d"))
    conditions = listing._conditions(owner, filters)
    query = db.select(Message.id).where(*conditions).order_by(Message.created_at, Message.id).limit(50)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    if database_is_mariadb():
        plan = " ".join(str(row) for row in db.session.execute(text(f"EXPLAIN {compiled}")))
    else:
        plan = " ".join(str(row) for row in db.session.execute(text(f"EXPLAIN QUERY PLAN {compiled}")))
    assert "ix_messages_account_device_status_created" in plan, plan
