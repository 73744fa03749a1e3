"""The product's WSGI app for ``bench/legacy_addsms.py`` (``common.gunicorn`` serves it from ``bench/`` with
the project root on ``PYTHONPATH``), plus two bare endpoints.

``/getdata/bench-bare`` (``bare_endpoint.py``, also used in-process by ``addsms_inprocess.py``) is a
Flask view of the product app answering a fixed legacy-shaped JSON: the same server, worker, WSGI
stack, request and response objects as ``/getdata/addsms``, and no work (the floor of the issue's
target). ``/bench-wsgi``, which exists only here, answers the same bytes without reaching Flask at
all: the cost of the server, the worker and the HTTP round trip alone.
"""
from bare_endpoint import add_bare_endpoint
from wsgi import app as product

add_bare_endpoint(product)

BARE = b'{"error":0,"message":"Sms has been saved successfully","sms_id":1,"sms_ids":[1]}'


def app(environ, start_response):
    if environ.get("PATH_INFO") == "/bench-wsgi":
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(BARE)))])
        return [BARE]
    return product(environ, start_response)
