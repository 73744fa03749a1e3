"""The floor of BENCHMARKS.md 2 (b): a Flask view of the product app that does no work and answers
the JSON an accepted ``addsms`` answers (the same app, request and response objects, no parsing, no
database). ``legacy_addsms_wsgi.py`` serves it under gunicorn, ``addsms_inprocess.py`` calls it in-process.
"""
from smsplatform.api.legacy.responses import ok
from smsplatform.extensions import csrf

PATH = "/getdata/bench-bare"


@csrf.exempt
def bench_bare():
    return ok("Sms has been saved successfully", sms_id=1, sms_ids=[1])


def add_bare_endpoint(app) -> None:
    app.add_url_rule(PATH, "bench_bare", bench_bare, methods=["GET", "POST"])
