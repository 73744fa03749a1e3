"""Setting an account's default region: its contacts saved as bare national digits get their E.164 number.

Runs in-process on a temporary SQLite database (or ``--database-url``, an empty database). The account
has ``--contacts`` contacts saved as national digits (``0171 0000001`` …, as before it had a region),
and every tenth of those numbers also as an E.164 contact already, so a tenth of the renumbered
contacts are merged. Prints the renumbering (``renumber_national_contacts`` and its commit, as a
settings save runs it) against a floor measured in the same run: the raw bulk insert of the same rows.
Usage: .venv/bin/python bench/contacts_renumber.py [--contacts N] [--database-url URL]
"""
import argparse

from sqlalchemy import insert

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.contacts.renumbering import renumber_national_contacts
from smsplatform.extensions import db
from smsplatform.models import Account, Contact


def contact_rows(account_id: int, count: int) -> list[dict]:
    national = [{"account_id": account_id, "phone": f"0171{i:07d}", "phone_raw": f"0171 {i:07d}", "name": f"Kunde {i}"}
                for i in range(count)]
    international = [{"account_id": account_id, "phone": f"+49171{i:07d}", "phone_raw": f"+49171{i:07d}", "name": ""}
                     for i in range(0, count, 10)]
    return national + international


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--database-url", help="an empty database (default: SQLite in a temporary directory)")
    args = parser.parse_args()
    app, database_url, _ = common.make_app(args.database_url, prefix="bench-renumber-")
    with common.scratch_schema(app):
        floor_account = Account(email="floor@example.com", password_hash="-")
        account = Account(email=common.BENCH_EMAIL, password_hash="-")
        db.session.add_all([floor_account, account])
        db.session.commit()
        with common.Stopwatch() as floor:
            db.session.execute(insert(Contact), contact_rows(floor_account.id, args.contacts))
            db.session.commit()
        db.session.execute(insert(Contact), contact_rows(account.id, args.contacts))
        account.default_region = "DE"
        db.session.commit()
        with common.Stopwatch() as watch:
            result = renumber_national_contacts(account)
            db.session.commit()
        assert (result.contacts, result.merged) == (args.contacts, len(range(0, args.contacts, 10))), result
        rows = args.contacts + len(range(0, args.contacts, 10))
        print(f"database: {common.backend_name(database_url)}; {args.contacts:,} national-digit contacts, "
              f"{result.merged:,} of them also saved as E.164")
        print(f"floor  raw bulk insert of the same {rows:,} rows: {floor.seconds:6.2f} s  (CPU {floor.cpu:5.2f} s)")
        print(f"renumber_national_contacts + commit:        {watch.seconds:6.2f} s  (CPU {watch.cpu:5.2f} s)  "
              f"ratio {watch.seconds / floor.seconds:.2f}× floor; {result.contacts:,} renumbered, "
              f"{result.merged:,} merged")


if __name__ == "__main__":
    main()
