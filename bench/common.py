"""What the benchmarks share: an app on a fresh database, a bench account with its phones, message rows
for bulk seeding, held scheduled messages and the floor of releasing them, the product's gunicorn, a
stopwatch, and the CPU a server has used. A free port, the wait until a server answers and its stop
are the tests' own (``tests/support/servers.py``), re-exported.

Importing this module puts the project root on ``sys.path`` (the scripts run as ``bench/<name>.py``).
"""
import atexit
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import inspect, text, update  # noqa: E402

from smsplatform import create_app  # noqa: E402
from smsplatform.accounts.services import create_account, issue_token  # noqa: E402
from smsplatform.config import cooperative_database_url  # noqa: E402
from smsplatform.devices.services import DeviceFields, register_device  # noqa: E402
from smsplatform.extensions import db  # noqa: E402
from smsplatform.models import Account, Device, Message  # noqa: E402
from smsplatform.timeutil import utcnow  # noqa: E402
from tests.support.servers import free_port, stop, wait_http  # noqa: E402

BENCH_EMAIL = "bench@example.com"
BENCH_PASSWORD = "bench-password"


def make_app(database_url: str | None = None, *, prefix: str | None = None, workdir: str | None = None, **config):
    """The app on ``database_url`` (default: SQLite in ``workdir``, a new temporary directory unless given);
    returns (app, url, workdir). A directory made here is removed when the process exits, with the
    default SQLite database in it: a database to keep is named with ``database_url``."""
    if workdir is None:
        workdir = tempfile.mkdtemp(prefix=prefix)
        atexit.register(shutil.rmtree, workdir, True)
    # In a gevent-patched script a MariaDB URL is served by PyMySQL, as in the web workers.
    url = cooperative_database_url(database_url) if database_url else f"sqlite:///{workdir}/bench.db"
    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "INSTANCE_PATH": workdir,
                      "EVENTS_SOCKET_DIR": f"{workdir}/events", **config})
    return app, url, workdir


@contextmanager
def scratch_schema(app):
    """An app context on the schema, migrated into an empty database and dropped afterwards. A
    database that already has tables (a live platform's, say) is refused, never dropped."""
    with app.app_context():
        tables = inspect(db.engine).get_table_names()
        if tables:
            raise SystemExit(f"{db.engine.url.render_as_string()} already has tables ({', '.join(tables[:3])}, …): "
                             "give the benchmark an empty database")
        upgrade()
        try:
            yield
        finally:
            db.session.remove()
            db.drop_all()
            with db.engine.begin() as connection:
                connection.execute(text("DROP TABLE IF EXISTS alembic_version"))


def backend_name(database_url: str) -> str:
    return "MariaDB" if database_url.startswith("mysql") else "SQLite"


def account_with_device(email: str = BENCH_EMAIL, device_name: str = "bench phone") -> tuple[Account, str, Device]:
    """A committed account with an API token and one phone row (not paired: no device token)."""
    account = create_account(email, BENCH_PASSWORD)
    token = issue_token(account)
    device = Device(account_id=account.id, name=device_name, webhook_signing_key="k" * 32)
    db.session.add(device)
    db.session.commit()
    return account, token, device


def message_row(**fields) -> dict:
    """A ``messages`` row for a bulk insert: a ready one-segment GSM-7 SMS on SIM 0 unless ``fields`` say otherwise."""
    return {"segments": 1, "encoding": "GSM-7", "sim": 0, "urgent": False, "priority": 0, "status": 1,
            "ready": True, **fields}


def account_with_phones(count: int, email: str = BENCH_EMAIL) -> tuple[Account, list[tuple[Device, str]]]:
    """A committed account with ``count`` phones registered the way the app does it (1.68.0):
    (account, [(device, device token), …])."""
    account = create_account(email, BENCH_PASSWORD)
    phones = [register_device(account, DeviceFields(f"phone {i}", None, False, [], ""), "1.68.0")
              for i in range(count)]
    db.session.commit()
    return account, phones


def insert_held_due(account_id: int, device_ids: list[int], count: int, due, chunk: int = 10_000) -> None:
    """``count`` scheduled messages, due at ``due`` and still held (``ready`` false), spread over
    ``device_ids`` in turn; bulk-inserted and committed."""
    now = utcnow()
    row = message_row(account_id=account_id, sendto="+4915752982212", phone="+4915752982212", body="Sale today",
                      ready=False, due_at=due, time_to_send=due, created_at=now, updated_at=now, handed_count=0)
    for start in range(0, count, chunk):
        db.session.execute(Message.__table__.insert(), [
            {**row, "device_id": device_ids[i % len(device_ids)]} for i in range(start, min(start + chunk, count))])
    db.session.commit()


def hold_all() -> None:
    """Every message pending and held again, for the next round of a release benchmark."""
    db.session.execute(update(Message).values(ready=False, status=1))
    db.session.commit()


def release_floor(now) -> int:
    """The floor of releasing held messages: the bare statement, ``UPDATE messages SET ready = true
    WHERE status = 1 AND ready = false AND due_at <= now``, and its commit. Returns the rows released."""
    released = db.session.execute(
        update(Message).where(Message.status == 1, Message.ready.is_(False), Message.due_at <= now).values(ready=True)
    ).rowcount
    db.session.commit()
    return released


@contextmanager
def gunicorn(database_url: str, workdir: str, wsgi_app: str = "wsgi:app", **env: str):
    """The product's gunicorn (its ``gunicorn.conf.py``: gevent workers) serving ``wsgi_app`` on a free
    127.0.0.1 port, with ``env`` added to its environment; yields (port, server) once it answers HTTP
    and stops it afterwards. A ``wsgi_app`` from ``bench/`` is imported from there."""
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), wsgi_app],
        cwd=Path(__file__).resolve().parent, start_new_session=True,
        env={**os.environ, "PYTHONPATH": str(ROOT), "DATABASE_URL": database_url, "INSTANCE_PATH": workdir,
             "EVENTS_SOCKET_DIR": f"{workdir}/events", "SECRET_KEY": "bench", "HOST": "127.0.0.1",
             "PORT": str(port), "GUNICORN_LOG_LEVEL": "warning", **env})
    try:
        wait_http(f"http://127.0.0.1:{port}/api/mobile/v1/device", server)
        yield port, server
    finally:
        stop(server, timeout=30)


@dataclass
class Stopwatch:
    """Wall-clock and CPU seconds (of this process) of a ``with`` block."""
    seconds: float = 0.0
    cpu: float = 0.0

    def __enter__(self):
        self._wall, self._cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.seconds, self.cpu = time.perf_counter() - self._wall, time.process_time() - self._cpu
        return False


def server_cpu(master: int) -> float:
    """CPU seconds used so far by gunicorn's master and its workers (from /proc; Linux only)."""
    tick = os.sysconf("SC_CLK_TCK")
    children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
    total = 0.0
    for pid in [master, *map(int, children)]:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
    return total


def percentile(values: list[float], fraction: float) -> float:
    """Nearest-rank percentile (``fraction`` 0.95 for p95): the smallest value with at least that share
    of the values at or below it; every benchmark reports its latency percentiles by this one definition
    (the median of a few rounds or repeats is picked by each script)."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(round(fraction * len(ordered), 9)) - 1)]  # round: 0.07 * 100 is 7.000000000000001
