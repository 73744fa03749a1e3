"""Settings from the environment (and a ``.env`` file), with defaults that run out of the box."""
import os
import sys
import tempfile
from pathlib import Path

from dotenv import load_dotenv
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

PROJECT_ROOT = Path(__file__).resolve().parent.parent


# The largest whole number a setting takes: 68 years in seconds, far past any sensible value, and small enough
# for every timedelta and column the settings reach.
MAX_SETTING = 2**31 - 1
TRUE_WORDS = {"1", "true", "yes", "on"}
FALSE_WORDS = {"0", "false", "no", "off"}
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")
STORAGE_BACKENDS = ("local", "s3")  # smsplatform.storage builds each
MAX_PRESIGN_SECONDS = 7 * 24 * 3600  # SigV4 presigned URLs cannot live longer


class ConfigError(ValueError):
    """Settings the platform cannot run with, every one named with what it takes: raised when a process
    starts (``report()`` is what it prints), instead of a traceback or a silent default later."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__("; ".join(problems))

    def report(self) -> str:
        lines = "".join(f"\n  {problem}" for problem in self.problems)
        return f"smsplatform: cannot start, invalid settings (environment or .env):{lines}"


class _Reader:
    """Reads settings from the environment, noting every bad value (``check`` raises them all at once)."""

    def __init__(self):
        self.problems: list[str] = []

    def integer(self, name: str, default: int, minimum: int = 1, maximum: int = MAX_SETTING) -> int:
        raw = os.environ.get(name)
        if raw is None:
            return default
        try:
            value = int(raw.strip())
        except ValueError:
            what = " is empty" if not raw.strip() else f"={raw!r} is not a whole number"
            self.problems.append(f"{name}{what}: give a whole number from {minimum} to {maximum}, "
                                 f"or leave it unset for the default ({default})")
            return default
        if not minimum <= value <= maximum:
            self.problems.append(f"{name}={value} is out of range: it takes {minimum} to {maximum}")
        return value

    def boolean(self, name: str, default: bool) -> bool:
        raw = os.environ.get(name)
        if raw is None:
            return default
        word = raw.strip().lower()
        if word in TRUE_WORDS | FALSE_WORDS:
            return word in TRUE_WORDS
        self.problems.append(f"{name}={raw!r} is neither true nor false: give one of "
                             f"{', '.join(sorted(TRUE_WORDS))} or {', '.join(sorted(FALSE_WORDS))}")
        return default

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        value = (os.environ.get(name) or default).strip().lower()
        if value not in choices:
            self.problems.append(f"{name}={value!r} is not one of {', '.join(choices)}")
        return value

    def check(self) -> None:
        if self.problems:
            raise ConfigError(self.problems)


def cooperative_database_url(database_url: str) -> str:
    """The URL to use in this process. Under gevent (the web server's workers) a MariaDB/MySQL URL is
    served by PyMySQL: mysqlclient's C calls would stop every greenlet of the worker, open event
    streams included, for the length of each query; PyMySQL speaks the same protocol over gevent's
    sockets. Elsewhere (scheduler, CLI) the URL is used as given."""
    if "gevent.monkey" not in sys.modules:
        return database_url
    from gevent import monkey

    url = make_url(database_url)
    if not monkey.is_module_patched("socket") or url.get_backend_name() not in ("mysql", "mariadb"):
        return database_url
    return url.set(drivername=f"{url.get_backend_name()}+pymysql").render_as_string(hide_password=False)


def listen_address() -> tuple[str, str]:
    """(HOST, PORT) the web server binds to, from the environment or ``.env``: gunicorn.conf.py binds
    there and ``PUBLIC_BASE_URL`` defaults to it, so the two cannot disagree."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    return os.environ.get("HOST") or "127.0.0.1", os.environ.get("PORT") or "8000"


def _local_base_url() -> str:
    """Where the web server listens, when no PUBLIC_BASE_URL says otherwise; a server on every
    interface is reached on loopback here (phones on the network need PUBLIC_BASE_URL)."""
    host, port = listen_address()
    if host in ("0.0.0.0", "::", "[::]"):
        host = "127.0.0.1"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    return f"http://{host}:{port}"


def _check_port(reader: _Reader) -> None:
    port = listen_address()[1]
    if not (port.strip().isdigit() and 1 <= int(port) <= 65535):
        reader.problems.append(f"PORT={port!r} is not a port number (1 to 65535)")


def _bind_address(host: str, port: str) -> str:
    """gunicorn's ``bind``: an IPv6 address in brackets (``[::1]:8000``), or gunicorn reads its colons as the port's."""
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


def web_server_settings() -> dict:
    """The web server's own settings (gunicorn.conf.py), from the environment or ``.env``, checked as the
    app's are: a bad value stops gunicorn before it starts, naming the variable (``ConfigError``)."""
    reader = _Reader()
    _check_port(reader)
    settings = {
        "bind": _bind_address(*listen_address()),
        "workers": reader.integer("WEB_CONCURRENCY", 2),
        "worker_connections": reader.integer("GUNICORN_WORKER_CONNECTIONS", 1000),
        # 0: no timeout (gunicorn's meaning).
        "timeout": reader.integer("GUNICORN_TIMEOUT", 30, minimum=0),
        "graceful_timeout": reader.integer("GUNICORN_GRACEFUL_TIMEOUT", 5, minimum=0),
        "accesslog": os.environ.get("GUNICORN_ACCESS_LOG") or None,
        "loglevel": reader.choice("GUNICORN_LOG_LEVEL", "info", LOG_LEVELS),
    }
    reader.check()
    return settings


def load_config() -> dict:
    """Read every setting once, at app creation (never at import time). Every bad value is reported at
    once (``ConfigError``), before anything is created."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    reader = _Reader()
    instance = Path(os.environ.get("INSTANCE_PATH") or PROJECT_ROOT / "instance")
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'smsplatform.db'}"
    try:
        make_url(database_url)
        database_url = cooperative_database_url(database_url)
    except ArgumentError:  # the value is not repeated: it may hold the database password
        reader.problems.append("DATABASE_URL is not a database URL: e.g. sqlite:///path/to/file.db or "
                               "mysql+mysqldb://user:password@host/db?charset=utf8mb4")
    _check_port(reader)
    public_base_url = (os.environ.get("PUBLIC_BASE_URL") or _local_base_url()).rstrip("/")
    if not public_base_url.lower().startswith(("http://", "https://")):
        reader.problems.append(f"PUBLIC_BASE_URL={public_base_url!r} must start with https:// (or http://)")
    storage_backend = reader.choice("STORAGE_BACKEND", "local", STORAGE_BACKENDS)
    if storage_backend == "s3" and not os.environ.get("S3_BUCKET"):
        reader.problems.append("S3_BUCKET must be set when STORAGE_BACKEND is s3")
    config = {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": database_url,
        # Address the platform is reached at; used in every URL handed out (uploads, webhooks, pairing).
        "PUBLIC_BASE_URL": public_base_url,
        # Requests larger than this are refused before they are parsed (bytes).
        "MAX_CONTENT_LENGTH": reader.integer("MAX_REQUEST_BYTES", 20 * 1024 * 1024),
        "MAX_BATCH_SIZE": reader.integer("MAX_BATCH_SIZE", 100_000),
        "MAX_BODY_CHARS": reader.integer("MAX_BODY_CHARS", 5_000),
        "LIST_MAX_ROWS": reader.integer("LIST_MAX_ROWS", 10_000),
        "DEVICE_ONLINE_WINDOW_SECONDS": reader.integer("DEVICE_ONLINE_WINDOW_SECONDS", 120),
        "UNACKED_REDELIVERY_SECONDS": reader.integer("UNACKED_REDELIVERY_SECONDS", 60),
        "UNACKED_FAIL_SECONDS": reader.integer("UNACKED_FAIL_SECONDS", 6 * 3600),
        # Messages a phone holds fail (a guess its late report replaces) once it has been silent this long (0: never).
        "SILENT_PHONE_FAIL_SECONDS": reader.integer("SILENT_PHONE_FAIL_SECONDS", 24 * 3600, minimum=0),
        "PAIRING_CODE_TTL_SECONDS": reader.integer("PAIRING_CODE_TTL_SECONDS", 600),
        "WEBHOOK_MAX_SKEW_SECONDS": reader.integer("WEBHOOK_MAX_SKEW_SECONDS", 300),
        "AUTH_FAILURE_WINDOW_SECONDS": reader.integer("AUTH_FAILURE_WINDOW_SECONDS", 900),
        "AUTH_FAILURE_LIMIT_PER_ADDRESS": reader.integer("AUTH_FAILURE_LIMIT_PER_ADDRESS", 20),
        "AUTH_FAILURE_LIMIT_PER_EMAIL": reader.integer("AUTH_FAILURE_LIMIT_PER_EMAIL", 10),
        "AUTH_KNOWN_ADDRESS_DAYS": reader.integer("AUTH_KNOWN_ADDRESS_DAYS", 90, minimum=0, maximum=36_500),
        "SIGNUP_LIMIT_PER_ADDRESS": reader.integer("SIGNUP_LIMIT_PER_ADDRESS", 10),
        # Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host to trust (0: none).
        "TRUSTED_PROXIES": reader.integer("TRUSTED_PROXIES", 0, minimum=0, maximum=100),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "EVENTS_SOCKET_DIR": os.environ.get("EVENTS_SOCKET_DIR") or str(instance / "events"),
        # Event streams: a keep-alive comment this often, and "last seen" refreshed this often while open.
        "EVENTS_KEEPALIVE_SECONDS": reader.integer("EVENTS_KEEPALIVE_SECONDS", 15),
        "EVENTS_PRESENCE_SECONDS": reader.integer("EVENTS_PRESENCE_SECONDS", 60),
        "STORAGE_BACKEND": storage_backend,
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR") or str(PROJECT_ROOT / "uploads"),
        "UPLOAD_MAX_BYTES": reader.integer("UPLOAD_MAX_BYTES", 5 * 1024 * 1024),
        "S3_BUCKET": os.environ.get("S3_BUCKET") or None,
        "S3_PREFIX": os.environ.get("S3_PREFIX") or "",
        "S3_REGION": os.environ.get("S3_REGION") or None,
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL") or None,
        "S3_PUBLIC_BASE_URL": os.environ.get("S3_PUBLIC_BASE_URL") or None,
        # SigV4 presigned URLs live at most seven days.
        "S3_PRESIGN_SECONDS": reader.integer("S3_PRESIGN_SECONDS", MAX_PRESIGN_SECONDS, maximum=MAX_PRESIGN_SECONDS),
        "SESSION_LIFETIME_SECONDS": reader.integer("SESSION_LIFETIME_SECONDS", 12 * 3600),
        "WTF_CSRF_ENABLED": reader.boolean("WTF_CSRF_ENABLED", True),
        # SQLite only: the write-ahead log is copied into the database once it holds this many pages (4 KB each).
        "SQLITE_WAL_AUTOCHECKPOINT_PAGES": reader.integer("SQLITE_WAL_AUTOCHECKPOINT_PAGES", 10_000),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }
    reader.check()
    config["SECRET_KEY"] = os.environ.get("SECRET_KEY") or _dev_secret_key(instance)
    return config


def _dev_secret_key(instance: Path) -> str:
    """A random key kept in the instance folder, so a laptop run needs no setup and survives restarts.
    Processes starting at once (gunicorn's workers, the scheduler) all end up with the one key: it is
    written whole to a private temporary file, then linked into place only if no other process got there
    first, so the key file is never seen empty, half written, or readable by others."""
    instance.mkdir(parents=True, exist_ok=True)
    key_file = instance / "secret_key"
    if not key_file.exists():
        descriptor, temporary = tempfile.mkstemp(dir=instance, prefix=".secret_key.")  # mode 0600
        try:
            with os.fdopen(descriptor, "w") as handle:
                handle.write(os.urandom(32).hex())
            os.link(temporary, key_file)
        except FileExistsError:
            pass  # another process's key is in place: use that one
        finally:
            os.unlink(temporary)
    key = key_file.read_text().strip()
    if not key:
        raise ConfigError([f"{key_file} is empty: delete it (a new key is made) or set SECRET_KEY"])
    return key
