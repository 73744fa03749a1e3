"""The web server's logging (gunicorn.conf.py's ``logger_class``).

- Access lines never carry a secret: the legacy API takes ``token`` and ``pass`` in the query string
  (``GET /getdata/getsmsstatus?token=…``), and a ``datajson`` there holds the token too. Their values are
  written as ``***``, in any letter case of the name (the API reads names case-insensitively), in the
  request line, the query and the referrer.
- The app's own records (``smsplatform.*``: a legacy call that failed, Flask's "Exception on …", the event
  bus) go where gunicorn's error log goes, with its time stamp, pid and level, at ``GUNICORN_LOG_LEVEL``;
  without this they were bare lines with neither time nor level, and informational ones were dropped.
- Request ids (smsplatform.request_ids): the access line gunicorn.conf.py sets ends with the answer's
  ``X-Request-ID`` (a format of one's own, ``--access-logformat``, shows it with ``%({x-request-id}o)s``), and an
  app record made while handling a request reads ``[request <id>] <message>``, its traceback below it.
"""
import logging
from urllib.parse import parse_qsl

from gunicorn import glogging

from smsplatform.request_ids import RequestIdFilter

SECRET_PARAMETERS = frozenset({"token", "pass", "password", "datajson", "code", "key", "secret"})
REDACTED = "***"
APP_LOGGER = "smsplatform"


def redact_query(query: str) -> str:
    """``query`` with the value of every secret parameter replaced by ``***``; the rest as sent."""
    if not query:
        return query
    parts = []
    for part in query.split("&"):
        name, equals, _value = part.partition("=")
        pairs = parse_qsl(name, keep_blank_values=True)
        decoded = pairs[0][0] if pairs else name
        parts.append(f"{name}={REDACTED}" if equals and _is_secret(decoded) else part)
    return "&".join(parts)


def redact_url(url: str) -> str:
    """A request target or URL with its query string redacted (``redact_query``)."""
    path, question, query = url.partition("?")
    return f"{path}?{redact_query(query)}" if question else url


def _is_secret(name: str) -> bool:
    bare = name.strip().lower()
    return bare in SECRET_PARAMETERS or bare.split("[", 1)[0] in SECRET_PARAMETERS  # datajson[…] as a PHP array


class Logger(glogging.Logger):
    def atoms(self, resp, req, environ, request_time):
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["r"] = "%s %s %s" % (environ["REQUEST_METHOD"], redact_url(environ["RAW_URI"]),
                                   environ["SERVER_PROTOCOL"])
        atoms["q"] = redact_query(environ.get("QUERY_STRING") or "")
        atoms["f"] = redact_url(environ.get("HTTP_REFERER", "-"))
        for name in ("{raw_uri}e", "{query_string}e", "{referer}i", "{http_referer}e"):
            if name in atoms:
                atoms[name] = redact_url(str(atoms[name]))
        return atoms

    def setup(self, cfg):
        super().setup(cfg)
        app_log = logging.getLogger(APP_LOGGER)
        for handler in list(app_log.handlers):  # a configuration reload sets them up again
            if getattr(handler, "_smsplatform", False):
                app_log.removeHandler(handler)
        for handler in self.error_log.handlers:
            app_log.addHandler(_Shared(handler))
        app_log.setLevel(self.loglevel)


class _Shared(logging.Handler):
    """Hands a record to one of gunicorn's error-log handlers, which it keeps (and closes on reopen); a record
    made while handling a request goes as a copy whose message starts with the request's id."""
    _smsplatform = True

    def __init__(self, target: logging.Handler):
        super().__init__()
        self.target = target
        self.addFilter(RequestIdFilter())

    def emit(self, record: logging.LogRecord) -> None:
        if record.request_id != "-":
            try:
                message = record.getMessage()
            except Exception:  # a bad format string: logging's own report, as the target would give it
                self.handleError(record)
                return
            record = logging.makeLogRecord({**record.__dict__, "msg": f"[request {record.request_id}] {message}",
                                            "args": None})
        self.target.handle(record)
