"""The contacts' CSV and Excel exports of 100,000 contacts, against a floor of the same CSV file written from the
raw driver.

Runs in-process on a temporary SQLite database (or ``--database-url``, an empty database). The account has
100,000 contacts with names and one to three tags (a tenth of them opted out), inserted in bulk. Prints, in
the same run: the floor (the raw driver's cursor: one SELECT of the contacts' columns, one of every tag link
with its title, then ``csv.writer`` into memory, no time zone, no escaping), then ``GET /contacts/export.csv``
through the dashboard (logged in, the whole streamed body read) and ``GET /contacts/export.xlsx``, with the ratios
and the process's peak memory.
Usage: .venv/bin/python bench/contacts_export.py [--contacts N] [--database-url URL]
"""
import argparse
import csv
import io
import resource

from sqlalchemy import insert, select

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.accounts.services import create_account
from smsplatform.extensions import db
from smsplatform.models import Contact, Tag, contact_tags
from smsplatform.timeutil import utcnow

TAGS = ("VIP", "Berlin", "Hamburg", "Employees", "Newsletter", "Stammkunde")
CHUNK = 10_000


def seed(account_id: int, count: int) -> None:
    now = utcnow()
    tag_ids = []
    for title in TAGS:
        tag = Tag(account_id=account_id, title=title, title_key=title.lower(), created_at=now)
        db.session.add(tag)
        db.session.flush()
        tag_ids.append(tag.id)
    for start in range(0, count, CHUNK):
        numbers = range(start, min(start + CHUNK, count))
        db.session.execute(insert(Contact), [
            {"account_id": account_id, "phone": f"+49157{i:08d}", "phone_raw": f"0157 {i:08d}", "name": f"Kunde {i}",
             "opted_out": i % 10 == 0, "opted_out_at": now if i % 10 == 0 else None,
             "opt_out_reason": "STOP" if i % 10 == 0 else None, "created_at": now, "updated_at": now}
            for i in numbers
        ])
        ids = dict(db.session.execute(select(Contact.phone, Contact.id).where(
            Contact.account_id == account_id, Contact.phone.in_([f"+49157{i:08d}" for i in numbers]))).all())
        db.session.execute(insert(contact_tags), [
            {"contact_id": ids[f"+49157{i:08d}"], "tag_id": tag_ids[(i + k) % len(TAGS)]}
            for i in numbers for k in range(1 + i % 3)
        ])
    db.session.commit()


def floor(account_id: int) -> tuple[float, float, int]:
    """The same rows and tag titles through the raw driver's cursor, written with csv.writer."""
    connection = db.engine.raw_connection()
    marker = "?" if db.engine.dialect.name == "sqlite" else "%s"
    try:
        with common.Stopwatch() as watch:
            cursor = connection.cursor()
            cursor.execute("SELECT ct.contact_id, t.title FROM contact_tags ct JOIN tags t ON t.id = ct.tag_id "
                           "JOIN contacts c ON c.id = ct.contact_id "
                           f"WHERE c.account_id = {marker} ORDER BY t.title_key",
                           (account_id,))
            titles: dict[int, list[str]] = {}
            for contact_id, title in cursor.fetchall():
                titles.setdefault(contact_id, []).append(title)
            cursor.execute("SELECT id, phone, name, opted_out, opted_out_at, opt_out_reason, created_at FROM contacts "
                           f"WHERE account_id = {marker} ORDER BY id DESC", (account_id,))
            out = io.StringIO()
            writer = csv.writer(out)
            writer.writerow(["phone", "name", "tags", "opted_out", "opted_out_at", "opt_out_reason", "created"])
            for cid, phone, name, opted_out, opted_out_at, reason, created in cursor.fetchall():
                writer.writerow([phone, name, "|".join(titles.get(cid, [])), "yes" if opted_out else "no",
                                 opted_out_at or "", reason or "", created])
            size = len(out.getvalue().encode())
        return watch.seconds, watch.cpu, size
    finally:
        connection.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temporary directory)")
    args = parser.parse_args()
    app, database_url, _ = common.make_app(args.database_url, prefix="bench-export-", SECRET_KEY="bench",
                                           WTF_CSRF_ENABLED=False)
    with common.scratch_schema(app):
        account = create_account(common.BENCH_EMAIL, common.BENCH_PASSWORD)
        account.timezone = "Europe/Berlin"
        db.session.commit()
        seed(account.id, args.contacts)
        account_id = account.id
        db.session.remove()
        client = app.test_client()
        login = client.post("/login", data={"email": common.BENCH_EMAIL, "password": common.BENCH_PASSWORD})
        assert login.status_code == 302, login.status_code
        floor_seconds, floor_cpu, floor_size = floor(account_id)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with common.Stopwatch() as watch:
            response = client.get("/contacts/export.csv", buffered=False)
            size = lines = 0
            for part in response.response:  # as a server writes it: piece by piece, never the whole file
                size, lines = size + len(part), lines + part.count(b"\n")
            response.close()
        assert lines == args.contacts + 1, lines
        with common.Stopwatch() as workbook_watch:
            workbook = client.get("/contacts/export.xlsx")
        assert workbook.status_code == 200, workbook.status_code
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        assert response.status_code == 200
        print(f"database: {common.backend_name(database_url)}; {args.contacts:,} contacts, 1–3 tags each")
        print(f"floor  raw driver + csv.writer:      {floor_seconds:6.2f} s  (CPU {floor_cpu:5.2f} s)  "
              f"{args.contacts / floor_seconds:9,.0f} contacts/s  {floor_size / 1e6:5.1f} MB")
        print(f"GET /contacts/export.csv (streamed): {watch.seconds:6.2f} s  (CPU {watch.cpu:5.2f} s)  "
              f"{args.contacts / watch.seconds:9,.0f} contacts/s  {size / 1e6:5.1f} MB  "
              f"ratio {watch.seconds / floor_seconds:.2f}× floor")
        print(f"GET /contacts/export.xlsx (built whole): {workbook_watch.seconds:6.2f} s  "
              f"(CPU {workbook_watch.cpu:5.2f} s)  {len(workbook.data) / 1e6:5.1f} MB  ratio {workbook_watch.seconds / floor_seconds:.2f}× floor, "
              f"{workbook_watch.seconds / watch.seconds:.2f}× the CSV export")
        print(f"peak RSS: {rss_after / 1024:.0f} MB after the CSV export, {rss_before / 1024:.0f} MB before it "
              "(the floor, which holds its whole file in memory, ran first)")


if __name__ == "__main__":
    main()
