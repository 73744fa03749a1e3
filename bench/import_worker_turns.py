"""How long a CSV import holds up the other requests of a gevent web worker (the product's worker class).

A second greenlet ticks every 5 ms, as a request or a phone's event stream waiting for its turn would;
the longest gap between its ticks while ``import_contacts`` runs in the same process is how long the
worker's other connections (and its heartbeat to gunicorn) waited. The floor is the longest gap over the
same number of ticks with nothing else running. SQLite in a temporary directory, or ``--database-url``
(a MariaDB URL is served by PyMySQL, as in the web workers).
Usage: .venv/bin/python bench/import_worker_turns.py [--rows 100000] [--database-url URL]
"""
from gevent import monkey

monkey.patch_all()  # first, as gunicorn.conf.py does for the web workers

import argparse  # noqa: E402
import io  # noqa: E402

import common  # noqa: E402  (puts the project root on sys.path)
from contacts_import import make_csv  # noqa: E402
from smsplatform.contacts.importer import import_contacts  # noqa: E402
from smsplatform.extensions import db  # noqa: E402
from worker_gaps import TICK, gaps_while, idle_gaps  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, _tmp = common.make_app(args.database_url)
    with common.scratch_schema(app):
        account, _token, _device = common.account_with_device()
        account.default_region = "DE"
        db.session.commit()
        data = make_csv(args.rows)
        gaps, seconds = gaps_while(lambda: import_contacts(account, io.BytesIO(data), commit=db.session.commit))
        idle = idle_gaps(len(gaps))
    print(f"CSV import of {args.rows:,} rows in a gevent worker, {common.backend_name(database_url)}: {seconds:.2f} s")
    print(f"  floor: longest gap between another greenlet's {TICK * 1000:.0f} ms ticks, idle: "
          f"{max(idle) * 1000:7.1f} ms")
    print(f"  longest gap while the import runs                       : {max(gaps) * 1000:7.1f} ms   "
          f"ratio {max(gaps) / max(idle):.0f}x   ({len(gaps)} ticks)")


if __name__ == "__main__":
    main()
