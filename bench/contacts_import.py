"""CSV import of 100,000 contacts, against a floor of the same work done by hand with no checks.

Runs in-process on a temporary SQLite database (or ``--database-url``, an empty database). The file has a header, 100,000
rows with names and one to three tags (``|``-separated), 2% duplicate numbers and 1% invalid rows.
Prints, in the same run: the floor (csv parse + phone normalisation + one raw executemany insert of
the contacts, no tags, no checks), ``import_contacts`` (whole-file checks, chunks of 5,000, tags,
per-row report, a commit per chunk), a re-import of the same file (everything exists already), the file
again with every name changed (each existing contact renamed), and the same rows as an Excel workbook (phone numbers as number cells) imported into a third account; with
ratios against the floor, the target (< 10 s) and the process's peak memory.
Usage: .venv/bin/python bench/contacts_import.py [--rows N] [--database-url URL]
"""
import argparse
import csv
import io
import resource

from sqlalchemy import func, insert, select

from openpyxl import Workbook

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.contacts.importer import import_contacts
from smsplatform.extensions import db
from smsplatform.models import Account, Contact, contact_tags
from smsplatform.phones import normalize_phone
from smsplatform.timeutil import utcnow

TARGET_SECONDS = 10.0
TAGS = ("VIP", "Berlin", "Hamburg", "Employees", "Newsletter", "Stammkunde")


def make_csv(rows: int) -> bytes:
    out = io.StringIO()
    out.write("phone;name;tags\n")
    for i in range(rows):
        number = i - 1 if i % 50 == 0 and i else i  # 2% repeat the previous number
        phone = "not-a-phone" if i % 100 == 99 else f"0157 {number:08d}"
        tags = "|".join(TAGS[(i + k) % len(TAGS)] for k in range(1 + i % 3))
        out.write(f"{phone};Kunde {i};{tags}\n")
    return out.getvalue().encode("utf-8")


def make_xlsx(data: bytes) -> bytes:
    """The CSV file's rows as a workbook, each valid number a number cell (+49 lost, as Excel keeps it).
    Not openpyxl's write-only mode: it writes no sheet dimension, which Excel always does, and without one
    the reader scans the whole sheet once more to size it."""
    book = Workbook()
    sheet = book.active
    sheet.title = "Kunden"
    for phone, name, tags in csv.reader(io.StringIO(data.decode("utf-8")), delimiter=";"):
        digits = phone.replace(" ", "")
        sheet.append([int("49" + digits[1:]) if digits.startswith("0") and digits.isdigit() else phone, name, tags])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def floor(account: Account, data: bytes) -> tuple[float, float]:
    """Parse, normalise and insert the same contacts in one executemany, with no checks and no tags."""
    with common.Stopwatch() as watch:
        now = utcnow()
        seen = {}
        reader = csv.reader(io.StringIO(data.decode("utf-8")), delimiter=";")
        next(reader)
        for phone, name, _tags in reader:
            try:
                seen[normalize_phone(phone, "DE").normalized] = (phone, name)
            except Exception:
                continue
        db.session.execute(insert(Contact), [
            {"account_id": account.id, "phone": p, "phone_raw": raw, "name": name, "opted_out": False,
             "created_at": now, "updated_at": now}
            for p, (raw, name) in seen.items()
        ])
        db.session.commit()
    return watch.seconds, watch.cpu


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temporary directory)")
    args = parser.parse_args()
    app, database_url, _ = common.make_app(args.database_url, prefix="bench-import-")
    with common.scratch_schema(app):
        floor_account = Account(email="floor@example.com", password_hash="-", default_region="DE")
        account = Account(email=common.BENCH_EMAIL, password_hash="-", default_region="DE")
        workbook_account = Account(email="workbook@example.com", password_hash="-", default_region="DE")
        db.session.add_all([floor_account, account, workbook_account])
        db.session.commit()
        data = make_csv(args.rows)
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        with common.Stopwatch() as watch:
            report = import_contacts(account, io.BytesIO(data), commit=db.session.commit)
        seconds, cpu = watch.seconds, watch.cpu
        with common.Stopwatch() as watch:
            again = import_contacts(account, io.BytesIO(data), commit=db.session.commit)
        reimport = watch.seconds
        with common.Stopwatch() as renaming:
            renamed = import_contacts(account, io.BytesIO(data.replace(b";Kunde ", b";Kundin ")), commit=db.session.commit)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        floor_seconds, floor_cpu = floor(floor_account, data)
        workbook = make_xlsx(data)
        with common.Stopwatch() as watch:
            from_workbook = import_contacts(workbook_account, io.BytesIO(workbook), commit=db.session.commit)
        assert (from_workbook.created, from_workbook.invalid) == (report.created, report.invalid)
        contacts = db.session.scalar(select(func.count()).select_from(Contact).where(Contact.account_id == account.id))
        links = db.session.scalar(select(func.count()).select_from(contact_tags))
        assert again.created == renamed.created == 0 and contacts == report.created
        print(f"database: {common.backend_name(database_url)}; file: {args.rows:,} rows, {len(data) / 1e6:.1f} MB")
        print(f"floor  parse + normalise + raw insert:   {floor_seconds:6.2f} s  (CPU {floor_cpu:5.2f} s)  "
              f"{args.rows / floor_seconds:9,.0f} rows/s")
        print(f"import_contacts (5,000-row chunks):      {seconds:6.2f} s  (CPU {cpu:5.2f} s)  "
              f"{args.rows / seconds:9,.0f} rows/s  ratio {seconds / floor_seconds:.2f}× floor "
              f"(target < {TARGET_SECONDS:.0f} s: {'ok' if seconds < TARGET_SECONDS else 'MISSED'})")
        print(f"re-import of the same file:              {reimport:6.2f} s  (all {again.updated:,} rows exist)")
        print(f"the file with every name changed:        {renaming.seconds:6.2f} s  "
              f"({renamed.updated:,} rows, each contact renamed)")
        print(f"the same rows from an .xlsx ({len(workbook) / 1e6:.1f} MB):    "
              f"{watch.seconds:6.2f} s  (CPU {watch.cpu:5.2f} s)  "
              f"{args.rows / watch.seconds:9,.0f} rows/s  ratio {watch.seconds / floor_seconds:.2f}× floor, "
              f"{watch.seconds / seconds:.2f}× the CSV import")
        print(f"result: {report.created:,} contacts, {links:,} tag links, {report.merged + again.merged:,} merged "
              f"duplicates over two runs, {report.invalid:,} invalid rows reported, {report.chunks} chunks")
        print(f"peak RSS after both imports: {rss_after / 1024:.0f} MB (was {rss_before / 1024:.0f} MB with the file "
              "in memory, before importing; the floor runs afterwards)")


if __name__ == "__main__":
    main()
