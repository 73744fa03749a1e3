"""Where an ``addsms`` call's CPU goes, in-process (no HTTP): the figures behind BENCHMARKS.md 2 (b).

Usage: ``.venv/bin/python bench/addsms_inprocess.py [--calls 300] [--database-url URL]`` (SQLite in a
temporary directory by default; a given database must be empty: it is migrated for the run and left
empty again).

1. The whole call through the WSGI app (urlencoded form, as PHP curl posts it, to a new number each
   time) against the floor: a Flask view of the same app that answers the same JSON and does no work.
2. Its database part (token check, device lookup, insert, commit) three ways: as the service runs it (the
   session's transaction, the statements prepared: ``smsplatform.db_prepared``), through a plain Core
   connection's ``execute``, and through the raw driver with the same statements compiled once; the raw
   driver is the floor.
Each figure is the best of 5 runs of ``--calls`` calls, in CPU microseconds per call.
"""
import argparse
import contextvars
import io
import sys
import time
from urllib.parse import urlencode

import common  # first of the project's imports: it puts the project root on sys.path
import bare_endpoint
from smsplatform.accounts import services as accounts
from smsplatform.extensions import db
from smsplatform.messaging import service
from smsplatform.timeutil import utcnow


def cpu_per_call(call, calls: int) -> float:
    """Best of 5 runs, CPU microseconds per call (after a warm-up run)."""
    for _ in range(calls):
        call()
    best = float("inf")
    for _ in range(5):
        started = time.process_time()
        for _ in range(calls):
            call()
        best = min(best, (time.process_time() - started) / calls)
    return best * 1e6


def wsgi_post(app, path: str, body: bytes, content_type: str = "application/x-www-form-urlencoded") -> bytes:
    """The app's answer to a POST, called as a server calls it: in a context of its own, so the request gets
    its own app context and database session (removed at its end) instead of sharing the caller's, whose
    session would hold the caller's objects and expire them at every commit."""
    return contextvars.Context().run(_wsgi_post, app, path, body, content_type)


def _wsgi_post(app, path: str, body: bytes, content_type: str) -> bytes:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": path, "SCRIPT_NAME": "", "QUERY_STRING": "",
               "CONTENT_TYPE": content_type, "CONTENT_LENGTH": str(len(body)),
               "SERVER_NAME": "127.0.0.1", "SERVER_PORT": "8000", "SERVER_PROTOCOL": "HTTP/1.1",
               "REMOTE_ADDR": "127.0.0.1", "HTTP_HOST": "127.0.0.1:8000", "wsgi.input": io.BytesIO(body),
               "wsgi.url_scheme": "http", "wsgi.errors": sys.stderr, "wsgi.multithread": False,
               "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.version": (1, 0)}
    answer = app(environ, lambda status, headers: None)
    try:
        return b"".join(answer)
    finally:
        answer.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--database-url")
    args = parser.parse_args()
    app, database_url, _tmp = common.make_app(args.database_url)
    bare_endpoint.add_bare_endpoint(app)
    with common.scratch_schema(app):
        measure(app, args.calls, database_url)


def measure(app, calls: int, database_url: str) -> None:
    """Measure and print, in ``scratch_schema``'s app context."""
    account, token, device = common.account_with_device()
    account_id, device_id = account.id, device.id
    db.session.commit()  # no transaction left open in this context while the calls write
    numbers = iter(range(10**9))

    def form() -> bytes:
        return urlencode({"token": token, "sendto": f"+4915{next(numbers):09d}", "body": "Your code is 123456",
                          "device_id": device_id, "sim": 0, "urgent": 1}).encode()

    def addsms() -> None:
        assert b'"error":0' in wsgi_post(app, "/getdata/addsms", form())

    whole = cpu_per_call(addsms, calls)
    bare = cpu_per_call(lambda: wsgi_post(app, bare_endpoint.PATH, form()), calls)

    with app.app_context():
        token_hash = accounts.hash_secret(token)
        device_params = {"device_id": device_id, "account_id": account_id}

        def row() -> dict:
            now = utcnow()
            number = f"+4915{next(numbers):09d}"
            return {"account_id": account_id, "device_id": device_id, "sendto": number, "phone": number,
                    "body": "Your code is 123456", "segments": 1, "encoding": "GSM-7", "sim": 0, "customer_id": None,
                    "urgent": True, "priority": 100, "status": 1, "ready": True, "time_to_send": None, "due_at": now,
                    "created_at": now, "updated_at": now, "handed_count": 0, "failed_unacknowledged": False,
                    "media_object_id": None, "media_url": None}

        def through_session() -> None:
            accounts._ACCOUNT_BY_TOKEN_HASH.first({"token_hash": token_hash})
            service._LIVE_DEVICE.first(device_params)
            service._INSERT_MESSAGE.first(row())
            db.session.commit()
            db.session.remove()

        def through_core() -> None:
            with db.engine.connect() as connection:
                connection.execute(accounts._ACCOUNT_BY_TOKEN_HASH.statement, {"token_hash": token_hash}).first()
                connection.execute(service._LIVE_DEVICE.statement, device_params).first()
                connection.execute(service._INSERT_MESSAGES, row()).scalar_one()
                connection.commit()

        dialect = db.engine.dialect
        compiled = [statement.compile(dialect=dialect, column_keys=keys) for statement, keys in (
            (accounts._ACCOUNT_BY_TOKEN_HASH.statement, None), (service._LIVE_DEVICE.statement, None),
            (service._INSERT_MESSAGES, list(row())))]
        sqlite = dialect.name == "sqlite"

        def positional(statement, params: dict) -> list:
            values = [params[name] for name in statement.positiontup]
            return [v.isoformat(" ") if sqlite and hasattr(v, "isoformat") else v for v in values]

        def through_driver() -> None:
            connection = db.engine.raw_connection()
            try:
                cursor = connection.cursor()
                for statement, params in zip(compiled, ({"token_hash": token_hash}, device_params, row())):
                    cursor.execute(str(statement), positional(statement, params))
                    cursor.fetchone()
                connection.commit()
            finally:
                connection.close()

        session, core, driver = (cpu_per_call(call, calls) for call in (through_session, through_core,
                                                                             through_driver))
    print(f"addsms in-process, {common.backend_name(database_url)}, best of 5 x {calls} calls, CPU per call")
    print(f"  bare Flask endpoint (floor)       : {bare:7.0f} us")
    print(f"  addsms through the WSGI app       : {whole:7.0f} us   ratio to floor {whole / bare:.1f}x")
    print("  its database part (token, device, insert, commit):")
    print(f"    raw driver, compiled once (floor): {driver:7.0f} us")
    print(f"    plain Core connection            : {core:7.0f} us   ratio {core / driver:.1f}x")
    print(f"    as the service runs it (prepared): {session:7.0f} us   ratio {session / driver:.1f}x")


if __name__ == "__main__":
    main()
