"""The product's WSGI app for ``bench/legacy_addsms.py``, plus a bare endpoint that exists only here.

``/bench-bare`` answers a fixed legacy-shaped JSON without touching Flask or the database: the cost
of the server, the worker and the HTTP round trip alone.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wsgi import app as product  # noqa: E402

BARE = b'{"error":0,"sms_id":1,"message":"Sms has been saved successfully"}'


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/bench-bare":
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BARE)))])
        return [BARE]
    return product(environ, start_response)
