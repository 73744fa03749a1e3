"""Settings from the environment (and a ``.env`` file), with defaults that run out of the box."""
import os
import sys
from pathlib import Path

from dotenv import load_dotenv
from sqlalchemy.engine import make_url

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def _bool(value: str | None, default: bool) -> bool:
    if value is None or value == "":
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, default: int) -> int:
    value = os.environ.get(name)
    return int(value) if value not in (None, "") else default


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


def load_config() -> dict:
    """Read every setting once, at app creation (never at import time)."""
    load_dotenv(PROJECT_ROOT / ".env", override=False)
    instance = Path(os.environ.get("INSTANCE_PATH", PROJECT_ROOT / "instance"))
    database_url = os.environ.get("DATABASE_URL") or f"sqlite:///{instance / 'smsplatform.db'}"
    return {
        "INSTANCE_PATH": str(instance),
        "SQLALCHEMY_DATABASE_URI": cooperative_database_url(database_url),
        "SECRET_KEY": os.environ.get("SECRET_KEY") or _dev_secret_key(instance),
        # Address the platform is reached at; used in every URL handed out (uploads, webhooks, pairing).
        "PUBLIC_BASE_URL": (os.environ.get("PUBLIC_BASE_URL") or _local_base_url()).rstrip("/"),
        # Requests larger than this are refused before they are parsed (bytes).
        "MAX_CONTENT_LENGTH": _int("MAX_REQUEST_BYTES", 20 * 1024 * 1024),
        "MAX_BATCH_SIZE": _int("MAX_BATCH_SIZE", 100_000),
        "MAX_BODY_CHARS": _int("MAX_BODY_CHARS", 5_000),
        "LIST_MAX_ROWS": _int("LIST_MAX_ROWS", 10_000),
        "DEVICE_ONLINE_WINDOW_SECONDS": _int("DEVICE_ONLINE_WINDOW_SECONDS", 120),
        "UNACKED_REDELIVERY_SECONDS": _int("UNACKED_REDELIVERY_SECONDS", 60),
        "UNACKED_FAIL_SECONDS": _int("UNACKED_FAIL_SECONDS", 6 * 3600),
        # Messages a phone holds fail (a guess its late report replaces) once it has been silent this long (0: never).
        "SILENT_PHONE_FAIL_SECONDS": _int("SILENT_PHONE_FAIL_SECONDS", 24 * 3600),
        "PAIRING_CODE_TTL_SECONDS": _int("PAIRING_CODE_TTL_SECONDS", 600),
        "WEBHOOK_MAX_SKEW_SECONDS": _int("WEBHOOK_MAX_SKEW_SECONDS", 300),
        "AUTH_FAILURE_WINDOW_SECONDS": _int("AUTH_FAILURE_WINDOW_SECONDS", 900),
        "AUTH_FAILURE_LIMIT_PER_ADDRESS": _int("AUTH_FAILURE_LIMIT_PER_ADDRESS", 20),
        "AUTH_FAILURE_LIMIT_PER_EMAIL": _int("AUTH_FAILURE_LIMIT_PER_EMAIL", 10),
        "AUTH_KNOWN_ADDRESS_DAYS": _int("AUTH_KNOWN_ADDRESS_DAYS", 90),
        # Number of reverse proxies in front of the app whose X-Forwarded-For/-Proto/-Host to trust (0: none).
        "TRUSTED_PROXIES": _int("TRUSTED_PROXIES", 0),
        "REDIS_URL": os.environ.get("REDIS_URL") or None,
        "EVENTS_SOCKET_DIR": os.environ.get("EVENTS_SOCKET_DIR") or str(instance / "events"),
        # Event streams: a keep-alive comment this often, and "last seen" refreshed this often while open.
        "EVENTS_KEEPALIVE_SECONDS": _int("EVENTS_KEEPALIVE_SECONDS", 15),
        "EVENTS_PRESENCE_SECONDS": _int("EVENTS_PRESENCE_SECONDS", 60),
        "STORAGE_BACKEND": (os.environ.get("STORAGE_BACKEND") or "local").lower(),
        "UPLOAD_DIR": os.environ.get("UPLOAD_DIR") or str(PROJECT_ROOT / "uploads"),
        "UPLOAD_MAX_BYTES": _int("UPLOAD_MAX_BYTES", 5 * 1024 * 1024),
        "S3_BUCKET": os.environ.get("S3_BUCKET") or None,
        "S3_PREFIX": os.environ.get("S3_PREFIX") or "",
        "S3_REGION": os.environ.get("S3_REGION") or None,
        "S3_ENDPOINT_URL": os.environ.get("S3_ENDPOINT_URL") or None,
        "S3_PUBLIC_BASE_URL": os.environ.get("S3_PUBLIC_BASE_URL") or None,
        "S3_PRESIGN_SECONDS": _int("S3_PRESIGN_SECONDS", 7 * 24 * 3600),
        "SESSION_LIFETIME_SECONDS": _int("SESSION_LIFETIME_SECONDS", 12 * 3600),
        "WTF_CSRF_ENABLED": _bool(os.environ.get("WTF_CSRF_ENABLED"), True),
        # SQLite only: the write-ahead log is copied into the database once it holds this many pages (4 KB each).
        "SQLITE_WAL_AUTOCHECKPOINT_PAGES": _int("SQLITE_WAL_AUTOCHECKPOINT_PAGES", 10_000),
        "SQLALCHEMY_ENGINE_OPTIONS": {"pool_pre_ping": True},
    }


def _dev_secret_key(instance: Path) -> str:
    """A random key kept in the instance folder, so a laptop run needs no setup and survives restarts."""
    instance.mkdir(parents=True, exist_ok=True)
    key_file = instance / "secret_key"
    if not key_file.exists():
        key_file.write_text(os.urandom(32).hex())
        key_file.chmod(0o600)
    return key_file.read_text().strip()
