"""The web server's front door (smsplatform.webserver, through gunicorn.conf.py): a real gunicorn, spoken to over
raw sockets, since no HTTP library sends the request lines legacy integrations send: raw UTF-8 in the URL (PHP's
``file_get_contents``, curl's command line), long GET lines, malformed lines and headers."""
import json
import socket
from urllib.parse import quote, urlencode

import pytest

from smsplatform.extensions import db
from smsplatform.models import Message
from smsplatform.webserver import path_of_request_line, percent_encode_non_ascii
from tests.e2e.harness import Platform

LINE_LIMIT = 8190  # gunicorn.conf.py's limit_request_line, as Apache's LimitRequestLine and nginx's 8k


@pytest.fixture(scope="module")
def server(tmp_path_factory, database_url):
    """One gunicorn (one gevent worker) for the module, on the tests' database."""
    platform = Platform(tmp_path_factory.mktemp("webserver"), database_url)
    try:
        yield platform.start_web(workers=1).rsplit(":", 1)[1]
    finally:
        platform.stop()


def exchange(port: str, *requests: bytes) -> list[tuple[int, str, bytes]]:
    """Send ``requests`` on one connection (each a request line and its headers, without the blank line; the
    last one closes it) and return each answer's (status, content type, body)."""
    with socket.create_connection(("127.0.0.1", int(port)), timeout=30) as connection:
        for number, request in enumerate(requests, 1):
            closing = b"Connection: close\r\n" if number == len(requests) else b""
            connection.sendall(request + b"\r\nHost: 127.0.0.1\r\n" + closing + b"\r\n")
        received = b""
        while chunk := connection.recv(65536):
            received += chunk
    answers = []
    while received:
        head, _, rest = received.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        headers = dict(line.lower().split(": ", 1) for line in lines[1:])
        length = int(headers["content-length"])
        answers.append((int(lines[0].split()[1]), headers["content-type"], rest[:length]))
        received = rest[length:]
    assert len(answers) == len(requests), answers
    return answers


def get(port: str, target: bytes, *headers: bytes) -> tuple[int, str, bytes]:
    return exchange(port, b"\r\n".join((b"GET " + target + b" HTTP/1.1", *headers)))[0]


def addsms_target(token: str, device_id: int, body: bytes) -> bytes:
    """``/getdata/addsms?…&body=`` followed by ``body`` exactly as given (raw or encoded)."""
    query = urlencode({"token": token, "sendto": "+4915752982212", "device_id": device_id})
    return f"/getdata/addsms?{query}&body=".encode() + body


def legacy_answer(answer: tuple[int, str, bytes]) -> dict:
    status, content_type, body = answer
    assert content_type == "application/json", body
    return {"status": status, **json.loads(body)}


def stored_body(sms_id: int) -> str:
    db.session.expire_all()
    return db.session.get(Message, sms_id).body


def test_raw_utf8_in_the_url_is_read_as_a_client_that_encodes_sends_it(server, account, make_device):
    owner, token = account
    device_id = make_device(owner).id
    plain = b"GET " + addsms_target(token, device_id, b"Hello") + b" HTTP/1.1"
    # The raw one second, on a kept-alive connection: each request line is read on its own.
    first, raw = exchange(server, plain, b"GET " + addsms_target(token, device_id, "Grüße,👋".encode()) + b" HTTP/1.1")
    assert first[0] == 200
    answer = legacy_answer(raw)
    assert answer["status"] == 200 and answer["error"] == 0, answer
    assert stored_body(answer["sms_id"]) == "Grüße,👋"


def test_raw_bytes_that_are_no_utf8_are_refused_as_their_encoded_form_is(server, account, make_device):
    owner, token = account
    device_id = make_device(owner).id
    raw = legacy_answer(get(server, addsms_target(token, device_id, "Grüße".encode("latin-1"))))
    encoded = legacy_answer(get(server, addsms_target(token, device_id, b"Gr%FC%DFe")))
    assert raw == encoded
    assert raw["status"] == 200 and raw["error"] == 1 and raw["message"].startswith("body in the query string")
    assert db.session.query(Message).count() == 0


@pytest.mark.parametrize("character", [b"\x01", b"\x1b", b"\x7f", b"\t", b" "])
def test_control_characters_del_and_raw_spaces_stay_refused(server, character):
    answer = legacy_answer(get(server, b"/getdata/addsms?body=a" + character + b"b"))
    assert answer["status"] == 400 and answer["error"] == 1
    assert "percent-encoded" in answer["message"] or "%20" in answer["message"]


def test_a_get_addsms_of_8000_bytes_is_stored(server, account, make_device):
    owner, token = account
    device_id = make_device(owner).id
    text = "Доставка завтра. " * 87
    target = addsms_target(token, device_id, quote(text).encode())
    assert 7900 < len(b"GET " + target + b" HTTP/1.1") < LINE_LIMIT
    answer = legacy_answer(get(server, target))
    assert answer["error"] == 0, answer
    assert stored_body(answer["sms_id"]) == text


TOO_LONG = "the request line is longer than 8190 bytes: send the parameters in a POST body"


@pytest.mark.parametrize("target, headers, status, expected", [
    (b"/getdata/addsms?body=" + b"%D0%94" * 1400, (), 414, {"error": 1, "message": TOO_LONG}),
    (b"//getdata/addsms/?body=" + b"a" * 9000, (), 414, {"error": 1, "message": TOO_LONG}),
    (b"/api/mobile/v1/device?x=" + b"a" * 9000, (), 414, {"message": TOO_LONG, "code": 414}),
    (b"http://sms.example.com/getdata/gettoken?x=" + b"a" * 9000, (), 414, {"error": 1, "message": TOO_LONG}),
    (b"/getdata/gettoken", (b"Bad Header",), 400,
     {"error": 1, "message": "a request header is not valid (Invalid HTTP Header: 'Bad Header')"}),
    (b"/getdata", (b"X-Padding: " + b"a" * 9000,), 431, {
        "error": 1, "message": "the request headers are too large (limit request headers fields size): "
                               "send fewer or shorter headers"}),
])
def test_what_gunicorn_refuses_is_answered_in_the_shape_of_the_path(server, target, headers, status, expected):
    answered_status, content_type, body = get(server, target, *headers)
    assert (answered_status, content_type, json.loads(body)) == (status, "application/json", expected)


def test_only_legacy_and_api_paths_get_json_refusals(server):
    """People's pages keep gunicorn's plain page, as does a request line that names no path to go by."""
    answers = [exchange(server, line + b"\r\nBad Header")[0][:2] for line in (
        b"GET /getdata/addsms HTTP/1.1", b"GET /api/mobile/v1/device HTTP/1.1", b"GET /login HTTP/1.1",
        b"GARBAGE", b"GET * HTTP/1.1")]
    assert answers == [(400, "application/json")] * 2 + [(400, "text/html")] * 3


@pytest.mark.parametrize("start, path", [
    (b"GET /getdata/addsms?token=a&body=b HTTP/1.1\r\nHost: x", "/getdata/addsms"),
    (b"POST //getdata/addsms/#x HTTP/1.1", "/getdata/addsms/"),  # a base URL typed with a trailing slash
    (b"GET /getdata/addsms?body=" + b"a" * 100, "/getdata/addsms"),  # the start of a line too long to read
    (b"GET http://sms.example.com/getdata/savetag?title=a HTTP/1.1", "/getdata/savetag"),
    (b"GET /api/mobile/v1/device\x01 HTTP/1.1", "/api/mobile/v1/device\x01"),
    (b"GET /getdata/addsms\nHost: x", "/getdata/addsms"),  # a bare LF
    (b"GARBAGE", None), (b"GET * HTTP/1.1", None), (b"CONNECT sms.example.com:443 HTTP/1.1", None),
    (b"GET http://[::1/getdata/addsms HTTP/1.1", None),  # no URL at all
])
def test_the_path_of_a_refused_request_line(start, path):
    assert path_of_request_line(start) == path


def test_only_the_targets_non_ascii_bytes_are_encoded():
    assert percent_encode_non_ascii("GET /a?b=ü€ HTTP/1.1".encode()) == b"GET /a?b=%C3%BC%E2%82%AC HTTP/1.1"
    assert percent_encode_non_ascii("G\xe9T /\xe9 HTTP/1.1".encode("latin-1")) == b"G\xe9T /%E9 HTTP/1.1"
    assert percent_encode_non_ascii(b"GARBAGE\xff") == b"GARBAGE\xff"
