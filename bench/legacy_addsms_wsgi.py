"""The product's WSGI app for ``bench/legacy_addsms.py``, plus two bare endpoints that exist only here.

``/getdata/bench-bare`` (``bare_endpoint.py``) is a Flask view of the product app answering a fixed
legacy-shaped JSON: the same server, worker, WSGI stack, request and response objects as
``/getdata/addsms``, and no work (the floor of the issue's target). ``/bench-wsgi`` answers the same bytes without reaching
Flask at all: the cost of the server, the worker and the HTTP round trip alone.
"""
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from wsgi import app as product  # noqa: E402

from bare_endpoint import add_bare_endpoint  # noqa: E402  (gunicorn runs in bench/)

add_bare_endpoint(product)

BARE = b'{"error":0,"message":"Sms has been saved successfully","sms_id":1,"sms_ids":[1]}'


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/bench-wsgi":
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BARE)))])
        return [BARE]
    return product(environ, start_response)
