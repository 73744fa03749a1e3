"""How a phone joins an account: one-time pairing codes and the per-account enrolment token.

Both are random secrets of which only the SHA-256 is stored. A pairing code is consumed by a
conditional UPDATE, so two phones racing with the same code cannot both win it.
"""
import ipaddress
import secrets
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from sqlalchemy import select, update

from smsplatform.accounts.services import hash_secret
from smsplatform.errors import AuthenticationError
from smsplatform.extensions import db
from smsplatform.models import Account, PairingCode
from smsplatform.timeutil import utcnow

# The app's own alphabet (no 0/1/i/l/o), so a code read off a screen is typed right.
CODE_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"
CODE_LENGTH = 8
MAX_CODE_LENGTH = 64


def server_address_problem(server_url: str) -> str | None:
    """Why a phone could not use ``server_url`` (the platform's ``PUBLIC_BASE_URL``), or None.

    A loopback address is this computer itself, on the phone too; the app's release build refuses plain
    ``http://``. A laptop trying the simulated phone needs neither, so this is shown, never enforced.
    """
    parts = urlsplit(server_url)
    host = (parts.hostname or "").lower()
    try:
        loopback = host == "localhost" or host.endswith(".localhost") or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if loopback:
        return (f"{host} is this computer itself: a phone cannot reach it. Start the platform with HOST=0.0.0.0 "
                f"and PUBLIC_BASE_URL set to an address the phone can reach (this computer's address on your "
                f"network, or the public https:// address of a reverse proxy in front of it).")
    if parts.scheme != "https":
        return ("The app's release build refuses plain http:// addresses: put the platform behind HTTPS and set "
                "PUBLIC_BASE_URL to its https:// address.")
    return None


def create_pairing_code(account: Account, ttl_seconds: int, now: datetime | None = None) -> tuple[str, PairingCode]:
    """A new single-use code for ``account``; returns the code in clear and its row."""
    now = now or utcnow()
    code = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    row = PairingCode(account_id=account.id, code_hash=hash_secret(code), created_at=now,
                      expires_at=now + timedelta(seconds=ttl_seconds))
    db.session.add(row)
    db.session.flush()
    return code, row


def consume_pairing_code(code: str, now: datetime | None = None) -> PairingCode:
    """Use up a live code (case-insensitive, as typed otherwise); wrong, expired or used codes fail alike."""
    now = now or utcnow()
    code = (code or "").strip().lower()
    if not code or len(code) > MAX_CODE_LENGTH:
        raise AuthenticationError("pairing code is wrong, expired or already used")
    code_hash = hash_secret(code)
    won = db.session.execute(
        update(PairingCode)
        .where(PairingCode.code_hash == code_hash, PairingCode.used_at.is_(None), PairingCode.expires_at > now)
        .values(used_at=now),
        execution_options={"synchronize_session": False},
    ).rowcount
    if not won:
        raise AuthenticationError("pairing code is wrong, expired or already used")
    return db.session.scalar(
        select(PairingCode).where(PairingCode.code_hash == code_hash).execution_options(populate_existing=True)
    )


def rotate_enrolment_token(account: Account) -> str:
    """Replace the account's enrolment token (the app's "Private Token"); the old one stops working."""
    token = secrets.token_urlsafe(24)
    account.enrolment_token_hash = hash_secret(token)
    db.session.flush()
    return token


def account_for_enrolment_token(token: str) -> Account:
    token = (token or "").strip()
    if not token:
        raise AuthenticationError("enrolment token is required")
    account = db.session.scalar(select(Account).where(Account.enrolment_token_hash == hash_secret(token)))
    if account is None:
        raise AuthenticationError("enrolment token is invalid")
    return account
