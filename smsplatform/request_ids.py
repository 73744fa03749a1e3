"""Request ids: every HTTP answer carries one in ``X-Request-ID``, and the web server's access line and the app's
log records made while handling the request name it, so "my call failed at 10:32" leads to its log lines.

A client's (or a proxy's) own ``X-Request-ID`` is kept when it is a plain token (at most 128 characters of
``A-Z a-z 0-9 . _ : -``); anything else is replaced by a new random id, never echoed into a header or a log line.
The id lives in the request's WSGI environ: a gevent worker serves many requests at once, each with its own.
"""
import logging
import re
import secrets

from flask import has_request_context, request

HEADER = "X-Request-ID"
ENVIRON_KEY = "smsplatform.request_id"
_SANE = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_for(incoming: str | None) -> str:
    """The id of a request whose ``X-Request-ID`` header is ``incoming`` (None: no such header)."""
    if incoming is not None and _SANE.fullmatch(incoming):
        return incoming
    return secrets.token_hex(16)


def current_request_id() -> str | None:
    """The id of the request being handled, or None outside one (a CLI command, a scheduler job)."""
    return request.environ.get(ENVIRON_KEY) if has_request_context() else None


class RequestIds:
    """WSGI wrapper, outermost in the app: gives each request its id and adds it to every answer's headers,
    whatever inside made the answer (a view, an error handler, Flask's own 500)."""

    def __init__(self, wsgi_app):
        self.wsgi_app = wsgi_app

    def __call__(self, environ, start_response):
        request_id = environ[ENVIRON_KEY] = request_id_for(environ.get("HTTP_X_REQUEST_ID"))

        def start_with_id(status, headers, exc_info=None):
            headers.append((HEADER, request_id))
            if exc_info is None:
                return start_response(status, headers)
            return start_response(status, headers, exc_info)

        return self.wsgi_app(environ, start_with_id)


class RequestIdFilter(logging.Filter):
    """Sets ``record.request_id`` (``-`` outside a request), for a handler whose format shows ``%(request_id)s``."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id() or "-"
        return True
