"""Setting an account's default region: its contacts saved as bare national digits get their E.164 number.

Runs in-process, monkey-patched as a gevent web worker is, on a temporary SQLite database (or
``--database-url``, an empty database; MariaDB through PyMySQL, as in the web workers). The account has
``--contacts`` contacts saved as national digits (``0171 0000001`` …, as before it had a region), and every
tenth of those numbers also as an E.164 contact already, so a tenth of the renumbered contacts are merged.
Prints the settings save (``update_settings`` with the new region and its commit, as the dashboard runs it)
against a floor measured in the same run, the raw bulk insert of the same rows; and what the save costs
the rest of the platform meanwhile: the longest gap between another greenlet's ticks (the worker's other
requests wait that long), and the time from its first write to its commit (on SQLite every other writer,
in every process, waits that long).
Usage: .venv/bin/python bench/contacts_renumber.py [--contacts N] [--database-url URL]
"""
from gevent import monkey

monkey.patch_all()  # first, as gunicorn.conf.py does for the web workers

import argparse  # noqa: E402
import time  # noqa: E402

from sqlalchemy import event, insert  # noqa: E402

import common  # noqa: E402  (puts the project root on sys.path)
from smsplatform.accounts.services import update_settings  # noqa: E402
from smsplatform.extensions import db  # noqa: E402
from smsplatform.models import Account, Contact  # noqa: E402
from worker_gaps import gaps_while, idle_gaps  # noqa: E402

WRITES = ("BEGIN", "INSERT", "UPDATE", "DELETE")


def contact_rows(account_id: int, count: int) -> list[dict]:
    national = [{"account_id": account_id, "phone": f"0171{i:07d}", "phone_raw": f"0171 {i:07d}", "name": f"Kunde {i}"}
                for i in range(count)]
    international = [{"account_id": account_id, "phone": f"+49171{i:07d}", "phone_raw": f"+49171{i:07d}", "name": ""}
                     for i in range(0, count, 10)]
    return national + international


class WriteSpan:
    """From the first write statement on the engine to the next commit: how long the save holds its writes."""

    def __init__(self, engine):
        self.first_write = self.committed = None
        event.listen(engine, "before_cursor_execute", self._statement)
        event.listen(engine, "commit", self._commit)

    def _statement(self, conn, cursor, statement, parameters, context, executemany):
        if self.first_write is None and statement.lstrip().upper().startswith(WRITES):
            self.first_write = time.perf_counter()

    def _commit(self, conn):
        if self.first_write is not None and self.committed is None:
            self.committed = time.perf_counter()

    @property
    def seconds(self) -> float:
        return self.committed - self.first_write


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
        db.session.commit()
        outcome = {}

        def save_settings():
            outcome["renumbered"] = update_settings(account, default_region="DE")
            db.session.commit()

        span = WriteSpan(db.engine)
        with common.Stopwatch() as watch:
            gaps, _seconds = gaps_while(save_settings)
        idle = idle_gaps(len(gaps))
        result = outcome["renumbered"]
        assert (result.contacts, result.merged) == (args.contacts, len(range(0, args.contacts, 10))), result
        rows = args.contacts + len(range(0, args.contacts, 10))
        print(f"database: {common.backend_name(database_url)}; {args.contacts:,} national-digit contacts, "
              f"{result.merged:,} of them also saved as E.164")
        print(f"floor  raw bulk insert of the same {rows:,} rows: {floor.seconds:6.2f} s  (CPU {floor.cpu:5.2f} s)")
        print(f"settings save with the new region + commit:  {watch.seconds:6.2f} s  (CPU {watch.cpu:5.2f} s)  "
              f"ratio {watch.seconds / floor.seconds:.2f}× floor; {result.contacts:,} renumbered, "
              f"{result.merged:,} merged")
        print(f"  from its first write to its commit:        {span.seconds:6.2f} s")
        print(f"  longest gap of another greenlet's ticks:   {max(gaps) * 1000:6.0f} ms  "
              f"(idle floor {max(idle) * 1000:.0f} ms, {len(gaps)} ticks)")


if __name__ == "__main__":
    main()
