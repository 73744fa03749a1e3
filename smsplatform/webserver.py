"""The web server's front door (gunicorn.conf.py's ``worker_class``): gunicorn's gevent worker, taking requests
as the nginx or Apache in front of the hosted gateway we replace took them from legacy integrations.

- Raw bytes of 0x80 and above in the request target (PHP's ``file_get_contents("…&body=$text")``, a URL typed
  on curl's command line) are percent-encoded before gunicorn checks the request line, which refuses them
  (RFC 9112): the app then sees what a client that encodes would have sent, and its parameter decoding takes
  UTF-8 and refuses other bytes naming the parameter. Control characters, raw spaces and DEL stay refused.
- A request gunicorn refuses before the app runs (a bad or too long request line, bad or too large headers)
  is answered in the shape the app answers at that path: the legacy envelope
  ``{"error":1,"message":…}`` under ``/getdata``, the API's ``{"message":…,"code":…}`` under ``/api/``, with the
  status gunicorn gives; elsewhere, and when no path can be read from the request line, gunicorn's own page.

Both work on gunicorn's Python parser (gunicorn.conf.py sets ``http_parser = "python"``).
"""
import json
import re
from urllib.parse import urlsplit

from gunicorn import util
from gunicorn.http.errors import (ExpectationFailed, InvalidHeader, InvalidHeaderName, InvalidHTTPVersion,
                                  InvalidRequestLine, InvalidRequestMethod, LimitRequestHeaders,
                                  LimitRequestLine, ObsoleteFolding, ParseException, UnsupportedTransferCoding)
from gunicorn.http.message import Request
from gunicorn.http.parser import RequestParser
from gunicorn.workers import ggevent

NON_ASCII_BYTE = re.compile(rb"[\x80-\xff]")
# gunicorn's statuses for what it refuses (gunicorn.workers.base.Worker.handle_error); 400 for the rest.
STATUSES = {LimitRequestLine: (414, "URI Too Long"), LimitRequestHeaders: (431, "Request Header Fields Too Large"),
            UnsupportedTransferCoding: (501, "Not Implemented"), ExpectationFailed: (417, "Expectation Failed")}


def percent_encode_non_ascii(line: bytes) -> bytes:
    """The request line with every byte >= 0x80 of its target written ``%XX``, as a client that encodes sends it."""
    parts = line.split(b" ", 2)
    if len(parts) != 3:
        return line
    method, target, version = parts
    return b" ".join((method, NON_ASCII_BYTE.sub(lambda byte: b"%%%02X" % byte[0][0], target), version))


def path_of_request_line(start: bytes) -> str | None:
    """The path a request line names, read from as much of the line as was read (a line too long is not read
    whole), leading slashes made one (``//getdata/addsms``: a base URL typed with a trailing slash). None when
    no target follows the method, or the target is no path (``*``, ``host:port``) nor a URL that has one."""
    parts = start.split(b"\n", 1)[0].split(b"\r", 1)[0].split(b" ", 2)
    if len(parts) < 2:
        return None
    target = parts[1].decode("latin-1")
    if not target.startswith("/"):  # absolute-form: http://host/path?query
        try:
            target = urlsplit(target).path
        except ValueError:
            return None
        if not target.startswith("/"):
            return None
    return "/" + re.split(r"[?#]", target, maxsplit=1)[0].lstrip("/")


class LegacyClientRequest(Request):
    """gunicorn's request, with non-ASCII target bytes percent-encoded, and the path it was for on a refusal
    (``refusal.request_path``): gunicorn's worker hands its error answer only the exception."""

    def __init__(self, *args, **kwargs):
        self.request_line_start = bytearray()
        try:
            super().__init__(*args, **kwargs)
        except ParseException as refusal:
            refusal.request_path = self.path if self.path is not None else path_of_request_line(
                bytes(self.request_line_start))
            raise

    def read_line(self, unreader, buf, limit=0):
        self.request_line_start = buf  # grows as gunicorn reads the line: what a refusal can tell the path by
        return super().read_line(unreader, buf, limit)

    def parse_request_line(self, line_bytes):
        super().parse_request_line(percent_encode_non_ascii(line_bytes))


def refusal_message(refusal: ParseException) -> str:
    """What is wrong with a refused request, said so that the integration's author can fix it."""
    if isinstance(refusal, LimitRequestLine):
        return f"the request line is longer than {refusal.max_size} bytes: send the parameters in a POST body"
    if isinstance(refusal, LimitRequestHeaders):
        return f"the request headers are too large ({refusal}): send fewer or shorter headers"
    if isinstance(refusal, InvalidHTTPVersion):
        return "the request line does not end in HTTP/1.x: a space in the URL must be sent as %20 (or + in the query)"
    if isinstance(refusal, InvalidRequestLine):
        return ("the request line is not METHOD /path?query HTTP/1.1: control characters, DEL and spaces in the URL "
                "must be percent-encoded")
    if isinstance(refusal, InvalidRequestMethod):
        return f"the request method is not valid ({refusal})"
    if isinstance(refusal, (InvalidHeader, InvalidHeaderName, ObsoleteFolding)):
        return f"a request header is not valid ({refusal})"
    return f"the request was refused before it was read ({refusal})"


def refusal_status(refusal: ParseException) -> tuple[int, str]:
    return next((status for kind, status in STATUSES.items() if isinstance(refusal, kind)), (400, "Bad Request"))


def refusal_answer(path: str, status: int, reason: str, message: str) -> bytes | None:
    """The HTTP answer to a refused request in the shape of the app's answers at ``path``, or None (gunicorn's)."""
    if path == "/getdata" or path.startswith("/getdata/"):
        payload = {"error": 1, "message": message}
    elif path.startswith("/api/"):
        payload = {"message": message, "code": status}
    else:
        return None
    body = json.dumps(payload, separators=(",", ":")).encode()
    head = (f"HTTP/1.1 {status} {reason}\r\nConnection: close\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n")
    return head.encode("latin-1") + body


class GeventWorker(ggevent.GeventWorker):
    """gunicorn's gevent worker with the front door described above."""

    def init_process(self):
        # gunicorn builds its parser inside handle(), with no way to pass another: its request class is set
        # here, in the worker's own process (forked from the arbiter, which never parses a request), before the
        # worker starts serving.
        RequestParser.mesg_class = LegacyClientRequest
        super().init_process()

    def handle_error(self, req, client, addr, exc):
        path = getattr(exc, "request_path", None)  # set on what gunicorn refused before the app ran
        answer = path and refusal_answer(path, *refusal_status(exc), refusal_message(exc))
        if not answer:
            super().handle_error(req, client, addr, exc)
            return
        # The path and the kind only: gunicorn's own line would log the request line, with its token.
        self.log.warning("Invalid request from ip=%s to %s: %s", (addr or ("",))[0], path, type(exc).__name__)
        try:
            util.write_nonblock(client, answer)
        except Exception:  # the client went away: nothing to answer (as in gunicorn's own handle_error)
            self.log.debug("Failed to send error message.")
