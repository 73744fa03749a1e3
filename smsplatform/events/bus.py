"""The wake-up bus: publish "device N has news" from any process; every process holding event streams hears it.

Two transports, chosen by configuration:

* ``LocalBus`` (default; one machine, nothing to install): every process that holds event streams binds
  one unix datagram socket in ``EVENTS_SOCKET_DIR``; a publisher sends each notice to every socket there
  and removes sockets whose process is gone. A datagram is atomic and needs no broker.
* ``RedisBus`` (``REDIS_URL`` set; several machines): one Redis pub/sub channel.

A notice is ``{"event": name, "devices": [ids]}``. A process hands it to its own subscribers through
``Hub``: one queue per open stream, so every stream of a device gets every event.
"""
import json
import logging
import os
import queue
import socket
import sys
import threading
import time
import uuid
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)

MESSAGE_ENQUEUED = "MessageEnqueued"
WEBHOOKS_UPDATED = "WebhooksUpdated"
SETTINGS_UPDATED = "SettingsUpdated"

# Device ids per datagram: keeps every datagram far below the kernel's limit for unix sockets.
_IDS_PER_DATAGRAM = 400
_SEND_TIMEOUT_SECONDS = 0.5
# A unix socket's path holds at most 107 bytes (Linux's sun_path, less its NUL).
_SOCKET_PATH_BYTES = 107
_LONGEST_SOCKET_NAME = len("/4194304-0123abcd.sock")  # "<pid>-<8 hex digits>.sock", a pid of up to 7 digits


@contextmanager
def _socket_folder(directory: Path):
    """How ``directory``'s sockets are named to bind() and sendto(): by the folder's own path, or on Linux, when
    that is too long for a unix socket (a project under a long path: the default folder is in its instance/),
    through /proc/self/fd/N of a descriptor of the folder held meanwhile, which names the same folder."""
    if len(os.fsencode(str(directory))) + _LONGEST_SOCKET_NAME <= _SOCKET_PATH_BYTES or sys.platform != "linux":
        yield str(directory)
        return
    descriptor = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        yield f"/proc/self/fd/{descriptor}"
    finally:
        os.close(descriptor)


class Subscription:
    """One open event stream's inbox. ``get`` returns the next event name, or None after ``timeout``."""

    def __init__(self, hub: "Hub", device_id: int):
        self.device_id = device_id
        self._hub = hub
        self._queue: queue.SimpleQueue = queue.SimpleQueue()

    def put(self, event: str) -> None:
        self._queue.put(event)

    def get(self, timeout: float | None = None) -> str | None:
        try:
            return self._queue.get(timeout=timeout)
        except queue.Empty:
            return None

    def close(self) -> None:
        self._hub.remove(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Hub:
    """This process's subscribers, by device id."""

    def __init__(self):
        self._lock = threading.Lock()
        self._by_device: dict[int, set[Subscription]] = {}

    def add(self, device_id: int) -> Subscription:
        subscription = Subscription(self, device_id)
        with self._lock:
            self._by_device.setdefault(device_id, set()).add(subscription)
        return subscription

    def remove(self, subscription: Subscription) -> None:
        with self._lock:
            group = self._by_device.get(subscription.device_id)
            if group is not None:
                group.discard(subscription)
                if not group:
                    del self._by_device[subscription.device_id]

    def dispatch(self, event: str, device_ids) -> int:
        """Hand ``event`` to every open stream of these devices; returns how many streams got it."""
        with self._lock:
            targets = [s for d in device_ids for s in self._by_device.get(d, ())]
        for subscription in targets:
            subscription.put(event)
        return len(targets)

    def count(self) -> int:
        with self._lock:
            return sum(len(group) for group in self._by_device.values())


def encode_notice(event: str, device_ids) -> list[bytes]:
    ids = sorted({int(d) for d in device_ids})
    return [
        json.dumps({"event": event, "devices": ids[i:i + _IDS_PER_DATAGRAM]}).encode()
        for i in range(0, len(ids), _IDS_PER_DATAGRAM)
    ]


def decode_notice(data: bytes) -> tuple[str, list[int]] | None:
    """Parse a notice; anything malformed is ignored (the bus is local, but never trust a socket)."""
    try:
        notice = json.loads(data)
        event = notice["event"]
        devices = [int(d) for d in notice["devices"]]
    except (ValueError, KeyError, TypeError):
        return None
    if not isinstance(event, str):
        return None
    return event, devices


class _BaseBus:
    """Shared part: a hub, and a listener started lazily in the process that first subscribes."""

    def __init__(self):
        self.hub = Hub()
        self._listener_pid: int | None = None
        self._start_lock = threading.Lock()

    def subscribe(self, device_id: int) -> Subscription:
        self._ensure_listening()
        return self.hub.add(int(device_id))

    def _ensure_listening(self) -> None:
        # After a fork (gunicorn workers) the parent's listener thread does not exist in the child.
        if self._listener_pid == os.getpid():
            return
        with self._start_lock:
            if self._listener_pid == os.getpid():
                return
            self.hub = Hub()
            self._start_listener()
            self._listener_pid = os.getpid()

    def _deliver(self, data: bytes) -> None:
        notice = decode_notice(data)
        if notice is not None:
            self.hub.dispatch(*notice)


class LocalBus(_BaseBus):
    """Unix datagram sockets, one per listening process, all in one directory."""

    def __init__(self, directory: str):
        super().__init__()
        self.directory = Path(directory)
        self._socket: socket.socket | None = None
        self._path: Path | None = None

    def publish(self, event: str, device_ids) -> None:
        datagrams = encode_notice(event, device_ids)
        if not datagrams:
            return
        try:  # scandir, not Path.glob: this runs after every accepted message
            listeners = [entry.name for entry in os.scandir(self.directory) if entry.name.endswith(".sock")]
        except FileNotFoundError:  # no process has listened yet
            return
        if not listeners:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sender, _socket_folder(self.directory) as folder:
            sender.settimeout(_SEND_TIMEOUT_SECONDS)
            for name in listeners:
                for datagram in datagrams:
                    try:
                        sender.sendto(datagram, f"{folder}/{name}")
                    except (ConnectionRefusedError, FileNotFoundError):
                        # Nobody listens any more: its process died without cleaning up.
                        (self.directory / name).unlink(missing_ok=True)
                        break
                    except OSError as exc:  # a full receive buffer (timeout) or similar: log, never raise
                        log.warning("event bus: could not notify %s: %s", name, exc)
                        break

    def _start_listener(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self.directory / f"{os.getpid()}-{uuid.uuid4().hex[:8]}.sock"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        with _socket_folder(self.directory) as folder:
            listener.bind(f"{folder}/{path.name}")
        self._socket, self._path = listener, path
        threading.Thread(target=self._listen, args=(listener,), name="events-bus", daemon=True).start()

    def _listen(self, listener: socket.socket) -> None:
        while True:
            try:
                data = listener.recv(65536)
            except OSError:
                return
            self._deliver(data)

    def close(self) -> None:
        if self._socket is not None and self._listener_pid == os.getpid():
            self._socket.close()
            if self._path is not None:
                self._path.unlink(missing_ok=True)
        self._socket = None
        self._listener_pid = None


class RedisBus(_BaseBus):
    """Redis pub/sub on one channel: every process (on every machine) subscribes to it."""

    def __init__(self, url: str, channel: str = "smsplatform:events"):
        super().__init__()
        import redis

        self.url = url
        self.channel = channel
        self._client = redis.Redis.from_url(url)
        self._pubsub = None
        self._closed = False

    def publish(self, event: str, device_ids) -> None:
        for datagram in encode_notice(event, device_ids):
            try:
                self._client.publish(self.channel, datagram)
            except Exception as exc:  # redis.RedisError and connection errors: a wake-up is best effort
                log.warning("event bus: redis publish failed: %s", exc)
                return

    def _start_listener(self) -> None:
        import redis

        # A fresh client: a connection inherited across fork must not be shared.
        self._client = redis.Redis.from_url(self.url)
        self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
        self._pubsub.subscribe(self.channel)
        threading.Thread(target=self._listen, name="events-bus-redis", daemon=True).start()

    def _listen(self) -> None:
        while not self._closed:
            try:
                for message in self._pubsub.listen():
                    if message.get("type") == "message":
                        self._deliver(message["data"])
            except Exception as exc:  # lost connection: resubscribe after a pause, keep the streams
                if not self._closed:
                    log.warning("event bus: redis subscription lost (%s); reconnecting", exc)
            if self._closed:
                return
            time.sleep(1)
            try:
                self._pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                self._pubsub.subscribe(self.channel)
            except Exception as exc:  # still down: the loop retries
                log.warning("event bus: redis resubscribe failed (%s)", exc)

    def close(self) -> None:
        self._closed = True
        if self._pubsub is not None:
            self._pubsub.close()
        self._client.close()
        self._listener_pid = None


def make_bus(config) -> LocalBus | RedisBus:
    if config.get("REDIS_URL"):
        return RedisBus(config["REDIS_URL"])
    return LocalBus(config["EVENTS_SOCKET_DIR"])
