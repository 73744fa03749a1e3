"""A client of the phone protocol, written from the contract only: HTTP with ``requests`` and an SSE reader.

Nothing here imports the server: this module is the protocol's reference client (tests, demo, benchmarks).
"""
import hashlib
import hmac
import json
import threading
import time
from datetime import datetime, timedelta, timezone

import requests

APP_USER_AGENT = "me.capcom.smsgateway/1.68.0"
SSE_USER_AGENT = "okhttp/4.10.0"  # the app opens /events with a plain OkHttp client
# The app formats dates in the phone's own zone with milliseconds, e.g. 2026-07-10T12:00:01.456+07:00.
PHONE_ZONE = timezone(timedelta(hours=7))


class ProtocolError(Exception):
    def __init__(self, message: str, status: int | None = None):
        super().__init__(message)
        self.status = status


def phone_time(moment: datetime | None = None) -> str:
    return (moment or datetime.now(timezone.utc)).astimezone(PHONE_ZONE).isoformat(timespec="milliseconds")


class MobileClient:
    """The calls the Android app makes, with its headers and body shapes."""

    def __init__(self, base_url: str, token: str | None = None, timeout: float = 15.0):
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout = timeout
        self._local = threading.local()

    @property
    def http(self) -> requests.Session:
        """One keep-alive session per thread (the phone reports from several workers, like WorkManager)."""
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            session.headers["User-Agent"] = APP_USER_AGENT
        return session

    def _url(self, path: str) -> str:
        return f"{self.base_url}/{path}"

    def _bearer(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def _check(self, response: requests.Response, what: str) -> requests.Response:
        if not 200 <= response.status_code < 300:
            raise ProtocolError(f"{what}: HTTP {response.status_code} {response.text[:200]}", response.status_code)
        return response

    def register_with_code(self, code: str, name: str, sim_cards: list, slots: list | None) -> dict:
        body = {"name": name, "simCards": sim_cards}
        if slots:
            body["slots"] = slots
        response = self.http.post(self._url("device"), json=body, headers={"Authorization": f"Code {code}"},
                                  timeout=self.timeout, allow_redirects=False)
        registration = self._check(response, "POST /device").json()
        self.token = registration["token"]
        return registration

    def update_device(self, device_id: str, sim_cards: list, slots: list | None) -> None:
        body = {"id": device_id, "simCards": sim_cards}
        if slots:
            body["slots"] = slots
        response = self.http.patch(self._url("device"), json=body, headers=self._bearer(),
                                   timeout=self.timeout, allow_redirects=False)
        self._check(response, "PATCH /device")

    def get_messages(self, order: str = "fifo") -> list:
        response = self.http.get(self._url("message"), params={"order": order}, headers=self._bearer(),
                                 timeout=self.timeout, allow_redirects=False)
        messages = self._check(response, "GET /message").json()
        if not isinstance(messages, list):
            raise ProtocolError("GET /message: not a JSON array")
        return messages

    def report(self, message_id: str, state: str, recipients: list, states: dict) -> None:
        """``PATCH /message`` exactly as the app's SendStateWorker does: a one-item array."""
        body = [{"id": message_id, "state": state, "recipients": recipients, "states": states}]
        response = self.http.patch(self._url("message"), json=body, headers=self._bearer(),
                                   timeout=self.timeout, allow_redirects=False)
        self._check(response, "PATCH /message")

    def get_webhooks(self) -> list:
        response = self.http.get(self._url("webhooks"), headers=self._bearer(), timeout=self.timeout)
        return self._check(response, "GET /webhooks").json()

    def get_settings(self) -> dict:
        response = self.http.get(self._url("settings"), headers=self._bearer(), timeout=self.timeout)
        return self._check(response, "GET /settings").json()

    def post_webhook(self, url: str, signing_key: str, body: dict) -> int:
        """What the app's webhook worker sends: the JSON body, signed with HMAC-SHA256 over body + timestamp."""
        raw = json.dumps(body).encode()
        timestamp = str(int(time.time()))
        signature = hmac.new(signing_key.encode(), raw + timestamp.encode(), hashlib.sha256).hexdigest()
        response = self.http.post(url, data=raw, timeout=self.timeout, headers={
            "Content-Type": "application/json", "X-Signature": signature, "X-Timestamp": timestamp,
        })
        return response.status_code

    def open_events(self, read_timeout: float) -> requests.Response:
        response = requests.get(
            self._url("events"), stream=True, timeout=(self.timeout, read_timeout),
            headers={**self._bearer(), "Accept": "text/event-stream", "User-Agent": SSE_USER_AGENT},
        )
        if response.status_code != 200 or not response.headers.get("Content-Type", "").startswith("text/event-stream"):
            status = response.status_code
            response.close()
            raise ProtocolError(f"GET /events: HTTP {status}", status)
        return response


def read_events(response: requests.Response):
    """Yield event names from an open SSE response as they arrive (comments are skipped).

    Follows the OkHttp reader the app uses: an event is dispatched at a blank line if it had a
    ``data:`` line; with no ``event:`` line it counts as ``MessageEnqueued``.
    """
    buffer = b""
    name, has_data = None, False
    for chunk in response.iter_content(chunk_size=None):
        buffer += chunk
        while b"\n" in buffer:
            line, buffer = buffer.split(b"\n", 1)
            line = line.rstrip(b"\r").decode("utf-8", "replace")
            if line == "":
                if has_data:
                    yield name or "MessageEnqueued"
                name, has_data = None, False
            elif line.startswith(":"):
                continue
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                has_data = True
