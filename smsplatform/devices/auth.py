"""Device credentials: the ``Authorization`` header, device tokens, app versions and "last seen"."""
import re
import secrets
from datetime import datetime

from sqlalchemy import bindparam, select
from sqlalchemy.orm.attributes import flag_modified

from smsplatform.accounts.services import hash_secret
from smsplatform.errors import AuthenticationError
from smsplatform.extensions import db
from smsplatform.models import Device
from smsplatform.timeutil import utcnow

MAX_CREDENTIAL_LENGTH = 1024
# A busy phone calls several times a second; its presence is written at most this often.
TOUCH_INTERVAL_SECONDS = 5
# Built once: every phone call runs it, and building the statement costs more than running it.
_DEVICE_BY_TOKEN_HASH = select(Device).where(Device.token_hash == bindparam("token_hash"))
_USER_AGENT_RE = re.compile(r"me\.capcom\.smsgateway/(\d+(?:\.\d+){0,3})", re.IGNORECASE)


def parse_authorization(header: str | None) -> tuple[str, str]:
    """``("bearer", "abc")`` from ``"Bearer abc"``; the scheme is lower-cased, the credentials kept as typed.

    Raises AuthenticationError for a missing or shapeless header.
    """
    if not isinstance(header, str) or not header.strip():
        raise AuthenticationError("Authorization header is required")
    if len(header) > MAX_CREDENTIAL_LENGTH:
        raise AuthenticationError("Authorization header is too long")
    scheme, _, credentials = header.lstrip().partition(" ")
    if not credentials:
        raise AuthenticationError("Authorization header must be '<scheme> <credentials>'")
    return scheme.lower(), credentials


def new_device_token() -> tuple[str, str]:
    """A fresh device token and the hash that is stored."""
    token = secrets.token_urlsafe(32)
    return token, hash_secret(token)


def device_for_token(token: str) -> Device:
    """The live device holding this token; revoked or unknown tokens fail at once."""
    token = (token or "").strip()
    if not token:
        raise AuthenticationError("device token is required")
    device = db.session.scalar(_DEVICE_BY_TOKEN_HASH, {"token_hash": hash_secret(token)})
    if device is None or device.revoked_at is not None:
        raise AuthenticationError("device token is invalid or revoked")
    return device


def device_for_header(header: str | None) -> Device:
    """The device of an ``Authorization: Bearer <device token>`` header (scheme case-insensitive)."""
    scheme, credentials = parse_authorization(header)
    if scheme != "bearer":
        raise AuthenticationError("use 'Authorization: Bearer <device token>'")
    return device_for_token(credentials)


def app_version(user_agent: str | None) -> str | None:
    """``"1.68.0"`` from ``me.capcom.smsgateway/1.68.0``; None for other clients."""
    match = _USER_AGENT_RE.search(user_agent or "")
    return match.group(1) if match else None


# What an app built from source says it is (the release builds take their version from the git tag).
LOCAL_BUILD_VERSION = "1.0.0"


def version_at_least(version: str | None, minimum: str) -> bool:
    """Compatibility switches: an unknown client, and an app built from source, are treated as the newest app."""
    return version in (None, LOCAL_BUILD_VERSION) or version_tuple(version) >= version_tuple(minimum)


def version_tuple(version: str) -> tuple[int, ...]:
    """``"1.68.0"`` as ``(1, 68, 0)``; lenient: digits of each part, up to the first part without any."""
    parts = []
    for piece in version.strip().split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        if not digits:
            break
        parts.append(int(digits))
    return tuple(parts)


def touch(device: Device, version: str | None, address: str | None = None, now: datetime | None = None) -> None:
    """Record that the device called: last seen (coarsely), app version, address; back online."""
    now = now or utcnow()
    if version and device.app_version != version:
        device.app_version = version
    if address and device.external_ip != address[:64]:
        device.external_ip = address[:64]
    if device.last_seen_at is None or (now - device.last_seen_at).total_seconds() >= TOUCH_INTERVAL_SECONDS:
        device.last_seen_at = now
        # Written even when the mark looked clear (flag_modified): the offline job may have marked the device
        # since this request read it, and a fresh last_seen_at must not go out beside that mark.
        device.marked_offline_at = None
        flag_modified(device, "marked_offline_at")
    elif device.marked_offline_at is not None:
        device.marked_offline_at = None
