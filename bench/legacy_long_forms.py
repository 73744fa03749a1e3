"""What the longest legacy form bodies cost a worker before and after its token is checked.

Usage: ``.venv/bin/python bench/legacy_long_forms.py [--megabytes 18]`` (SQLite in a temporary directory).

Three bodies of up to ``--megabytes`` each, posted to ``/getdata/getalldevices`` through the WSGI app: PHP
array pairs urlencoded (``x[]=1&…``, as many as a body may hold, 800,100 by default), ``smsdata[i][sendto]``
pairs, and the same as a multipart form. Each is sent with an unknown token (what anyone can send) and with none;
the floor is the same body with a valid token, which is parsed whole (what a caller holding a token
may cost). Figures are CPU seconds of one call.
"""
import argparse
import time

import common  # first of the project's imports: it puts the project root on sys.path
from addsms_inprocess import wsgi_post
from smsplatform.api.legacy.routes import MESSAGE_FIELDS
from smsplatform.extensions import db


def bodies(megabytes: float, most_pairs: int) -> dict[str, tuple[bytes, str]]:
    size = int(megabytes * 1_000_000)
    php_pairs = b"x[]=1&" * min(size // 6, most_pairs - 10)
    sendto = b"&".join(b"smsdata[%d][sendto]=%%2B4915752982212" % i for i in range(size // 40))
    multipart = b"".join(b'--B\r\nContent-Disposition: form-data; name="s[%d][to]"\r\n\r\n+4915752982212\r\n' % i
                         for i in range(size // 80)) + b"--B--\r\n"
    return {"urlencoded x[]=1 pairs": (php_pairs, "application/x-www-form-urlencoded"),
            "urlencoded smsdata[i][sendto] pairs": (sendto, "application/x-www-form-urlencoded"),
            "multipart s[i][to] parts": (multipart, "multipart/form-data; boundary=B")}


def cpu_seconds(app, body: bytes, content_type: str, token: str | None) -> tuple[float, bytes]:
    sent = (b"token=" + token.encode() + b"&" + body if content_type.startswith("application") else
            b'--B\r\nContent-Disposition: form-data; name="token"\r\n\r\n' + token.encode() + b"\r\n" + body
            ) if token is not None else body
    started = time.process_time()
    answer = wsgi_post(app, "/getdata/getalldevices", sent, content_type)
    return time.process_time() - started, answer


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--megabytes", type=float, default=18)
    args = parser.parse_args()
    app, _url, _tmp = common.make_app()
    with common.scratch_schema(app):
        _account, token, _device = common.account_with_device()
        db.session.commit()
        print(f"legacy form bodies of about {args.megabytes:g} MB to getalldevices, CPU seconds per call")
        most_pairs = app.config["MAX_BATCH_SIZE"] * (len(MESSAGE_FIELDS) + 1) + 100  # the routes' own limit
        for name, (body, content_type) in bodies(args.megabytes, most_pairs).items():
            floor, answer = cpu_seconds(app, body, content_type, token)
            assert b'"error":0' in answer, answer[:200]
            print(f"  {name} ({len(body) / 1e6:.1f} MB)")
            print(f"    valid token, parsed whole (floor): {floor:7.3f} s")
            for label, sent_token in (("unknown token", "0" * 32), ("no token", None)):
                spent, answer = cpu_seconds(app, body, content_type, sent_token)
                assert b'"error":1' in answer, answer[:200]
                print(f"    {label:<33}: {spent:7.3f} s   ratio to floor {spent / floor:.3f}")


if __name__ == "__main__":
    main()
