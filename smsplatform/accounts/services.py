"""Accounts, API tokens and brute-force limits."""
import functools
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import bindparam, delete, func, select, update
from werkzeug.security import check_password_hash, generate_password_hash

from smsplatform.contacts.optout import keyword_list_setting
from smsplatform.contacts.renumbering import Renumbered, renumber_national_contacts
from smsplatform.db_prepared import PreparedStatement
from smsplatform.db_unique import add_unless_taken, locked
from smsplatform.errors import (
    AuthenticationError, ConflictError, DomainError, NotFoundError, RateLimitedError, ValidationError,
)
from smsplatform.extensions import db
from smsplatform.models import Account, ApiToken, AuthFailure, DashboardSession, KnownLoginAddress
from smsplatform.phones import is_valid_region
from smsplatform.storage.services import delete_account_objects
from smsplatform.timeutil import ago, is_valid_zone, utcnow, zone, zone_country

EMAIL_RE = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,188}\.[^@\s]{2,63}$")
MIN_PASSWORD_LENGTH = 8
MAX_PASSWORD_LENGTH = 1024
# A token's last use is recorded at most this often, so hot paths do not write on every call.
TOKEN_USE_INTERVAL_SECONDS = 60


@dataclass(frozen=True, slots=True)
class TokenAccount:
    """The account behind an API token, as the machine calls use it (an ``AccountSettings``): read-only
    settings loaded with one Core query (an ORM object per call would cost more than the call's own insert)."""
    id: int
    timezone: str
    default_region: str | None
    allow_direct_to_opted_out: bool
    token_id: int
    token_last_used_at: datetime | None


# Built once: every legacy call runs them, and building a statement costs more than running it.
_ACCOUNT_BY_TOKEN_HASH = PreparedStatement(
    select(Account.id, Account.timezone, Account.default_region, Account.allow_direct_to_opted_out,
           ApiToken.id.label("token_id"), ApiToken.last_used_at)
    .join(ApiToken, ApiToken.account_id == Account.id)
    .where(ApiToken.token_hash == bindparam("token_hash"), ApiToken.revoked_at.is_(None))
)
_TOKEN_USED = update(ApiToken).where(ApiToken.id == bindparam("token_id")).values(last_used_at=bindparam("now"))


def hash_secret(secret: str) -> str:
    """SHA-256 of a high-entropy random secret (tokens, codes): fast to look up, useless if leaked."""
    return hashlib.sha256(secret.encode()).hexdigest()


def normalize_email(email) -> str:
    value = (email or "").strip().lower() if isinstance(email, str) else ""
    if not value:
        raise ValidationError("email is required", field="email")
    if not EMAIL_RE.match(value):
        raise ValidationError("email is not a valid address", field="email")
    return value


def validate_password(password) -> str:
    if not isinstance(password, str) or not password:
        raise ValidationError("password is required", field="password")
    if len(password) < MIN_PASSWORD_LENGTH:
        raise ValidationError(f"password must have at least {MIN_PASSWORD_LENGTH} characters", field="password")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ValidationError("password is too long", field="password")
    return password


class SignupRefused(ValidationError):
    """Every problem of a sign-up at once. The message lists them (``"; "`` between them), ``field`` is the
    first one's; ``problems`` keeps each ``(field, message)``. One problem reads exactly as its own error."""

    def __init__(self, problems: list[DomainError]):
        super().__init__("; ".join(p.message for p in problems), field=problems[0].field)
        self.problems = [(p.field, p.message) for p in problems]


def create_account(email: str, password: str, timezone: str = "UTC") -> Account:
    """A new account. Invalid input is refused with one SignupRefused naming every problem; an email that
    is taken, when it is the only problem, is a ConflictError."""
    problems: list[DomainError] = []
    try:
        email = normalize_email(email)
    except ValidationError as error:
        problems.append(error)
        email = None
    try:
        validate_password(password)
    except ValidationError as error:
        problems.append(error)
    if not is_valid_zone(timezone):
        problems.append(ValidationError(f"unknown time zone {timezone!r}", field="timezone"))
    if email is not None and db.session.scalar(select(Account.id).where(Account.email == email)) is not None:
        taken = ConflictError("an account with this email already exists", field="email")
        if not problems:
            raise taken
        problems.insert(0, taken)
    if problems:
        raise SignupRefused(problems)
    key = zone(timezone).key
    account = Account(email=email, password_hash=generate_password_hash(password), timezone=key,
                      default_region=_zone_region(key))
    stored = add_unless_taken(account, lambda: db.session.scalar(select(Account).where(Account.email == email)))
    if stored is not account:  # signed up meanwhile (a double-clicked "Sign up"): the first request's account
        raise ConflictError("an account with this email already exists", field="email")
    return account


def get_account_by_email(email: str) -> Account:
    account = db.session.scalar(select(Account).where(Account.email == normalize_email(email)))
    if account is None:
        raise NotFoundError("no account with this email", field="email")
    return account


def auth_failure_scopes(address: str | None, email: str | None) -> dict[str, str]:
    """The ``AuthFailure`` scopes a login attempt counts against (``"ip:1.2.3.4"``, ``"email:a@b.c"``),
    each under the name of the config limit that applies to it. Checking and recording both use this."""
    scopes = {}
    if address:
        scopes["AUTH_FAILURE_LIMIT_PER_ADDRESS"] = f"ip:{address}"
    if email:
        scopes["AUTH_FAILURE_LIMIT_PER_EMAIL"] = f"email:{email.strip().lower()[:254]}"
    return scopes


def check_auth_allowed(address: str | None, email: str | None, config, account: Account | None = None) -> None:
    """Raise RateLimitedError when this address or email has failed too often recently. The email's limit
    spares an address ``account`` (the email's owner) signed in from before: anyone may fail with the
    owner's email, and would otherwise keep the owner out."""
    for limit_name, scope in auth_failure_scopes(address, email).items():
        if _recent_attempts(scope, config) >= config[limit_name] and not (
                limit_name == "AUTH_FAILURE_LIMIT_PER_EMAIL" and _known_address(account, address, config)):
            raise RateLimitedError("too many failed login attempts; try again later")


def _known_address(account: Account | None, address: str | None, config) -> bool:
    if account is None or not address:
        return False
    return db.session.scalar(select(KnownLoginAddress.last_success_at).where(
        KnownLoginAddress.account_id == account.id, KnownLoginAddress.address == address[:64],
        KnownLoginAddress.last_success_at >= ago(config["AUTH_KNOWN_ADDRESS_DAYS"] * 86400))) is not None


def remember_login_address(account: Account, address: str | None) -> None:
    """Note that the account's password was given right from ``address`` (see ``check_auth_allowed``)."""
    if not address:
        return
    known = db.session.get(KnownLoginAddress, (account.id, address[:64]))
    if known is not None:
        known.last_success_at = utcnow()
    else:
        add_unless_taken(KnownLoginAddress(account_id=account.id, address=address[:64]),
                         lambda: db.session.get(KnownLoginAddress, (account.id, address[:64])))


def check_signup_allowed(address: str | None, config) -> None:
    """Raise RateLimitedError when this address has tried ``SIGNUP_LIMIT_PER_ADDRESS`` sign-ups within
    ``AUTH_FAILURE_WINDOW_SECONDS``. Each attempt costs a password hash, and tells whether an email has an
    account: unlimited, a script could burn the server's CPU or list who uses it."""
    if address and _recent_attempts(_signup_scope(address), config) >= config["SIGNUP_LIMIT_PER_ADDRESS"]:
        raise RateLimitedError("too many sign-ups from this address; try again later")


def record_signup_attempt(address: str | None) -> None:
    """Count a sign-up attempt (made or refused) against its address; the caller commits it either way."""
    if address:
        db.session.add(AuthFailure(scope=_signup_scope(address)))
        db.session.flush()


def _signup_scope(address: str) -> str:
    return f"signup:{address}"


def _recent_attempts(scope: str, config) -> int:
    """The ``AuthFailure`` rows of ``scope`` within ``AUTH_FAILURE_WINDOW_SECONDS``."""
    return db.session.scalar(select(func.count()).select_from(AuthFailure).where(
        AuthFailure.scope == scope, AuthFailure.created_at >= ago(config["AUTH_FAILURE_WINDOW_SECONDS"])))


def record_auth_failure(address: str | None, email: str | None) -> None:
    for scope in auth_failure_scopes(address, email).values():
        db.session.add(AuthFailure(scope=scope))
    db.session.flush()


def authenticate(email, password, address: str | None, config) -> Account:
    """Check email + password under the brute-force limits.

    A failure is recorded (and must be committed by the caller even though this raises), so the
    caller commits on AuthenticationError too.
    """
    email_text = email.strip().lower() if isinstance(email, str) else ""
    account = db.session.scalar(select(Account).where(Account.email == email_text)) if email_text else None
    check_auth_allowed(address, email_text or None, config, account)
    # An unknown email is checked against a hash of the same cost: the answer's time must not tell who has an account.
    stored_hash = account.password_hash if account is not None else _unknown_account_hash()
    ok = (
        isinstance(password, str)
        and 0 < len(password) <= MAX_PASSWORD_LENGTH
        and check_password_hash(stored_hash, password)
        and account is not None
    )
    if not ok:
        record_auth_failure(address, email_text or None)
        raise AuthenticationError("Login or password incorrect")
    remember_login_address(account, address)
    return account


@functools.cache
def _unknown_account_hash() -> str:
    """A hash no password matches, made as every account's is (same method and cost)."""
    return generate_password_hash(secrets.token_hex(32))


def change_password(account: Account, current: str, new: str) -> None:
    if not isinstance(current, str) or not check_password_hash(account.password_hash, current):
        raise AuthenticationError("current password is incorrect", field="current_password")
    validate_password(new)
    account.password_hash = generate_password_hash(new)
    account.session_version += 1
    db.session.flush()


def issue_token(account: Account, label: str = "") -> str:
    """Create a new API token and return it in clear; only its hash is stored."""
    token = secrets.token_hex(16)
    db.session.add(ApiToken(account_id=account.id, token_hash=hash_secret(token), hint=token[-4:], label=label[:100]))
    db.session.flush()
    return token


def login_token(account: Account, secret_key: str) -> str:
    """The token ``gettoken`` answers: the same one on every call while it stands, a new one once it is
    revoked. Integrations that log in before each request would otherwise add a token per request.

    Only hashes are stored, so the token is derived: an HMAC of the account and a per-token nonce under
    ``secret_key``. When the key has changed, the stored hash no longer matches and a new token is issued
    (the old one stays valid until revoked, as any token does).
    """
    token = _standing_login_token(account.id, secret_key)
    if token is not None:
        return token
    # None yet: a concurrent first gettoken (an integration's workers starting together) may be issuing one
    # now. Both lock the account and look again, so the second answers the token the first issued.
    db.session.execute(locked(select(Account.id).where(Account.id == account.id))).first()
    token = _standing_login_token(account.id, secret_key)
    if token is not None:
        return token
    nonce = secrets.token_hex(16)
    token = _derived_token(secret_key, account.id, nonce)
    db.session.add(ApiToken(account_id=account.id, token_hash=hash_secret(token), hint=token[-4:], label="gettoken",
                            derivation_nonce=nonce))
    db.session.flush()
    return token


def _standing_login_token(account_id: int, secret_key: str) -> str | None:
    """The newest live gettoken token, when ``secret_key`` derives it."""
    row = db.session.execute(
        select(ApiToken.derivation_nonce, ApiToken.token_hash)
        .where(ApiToken.account_id == account_id, ApiToken.derivation_nonce.is_not(None), ApiToken.revoked_at.is_(None))
        .order_by(ApiToken.id.desc()).limit(1)).first()
    if row is None:
        return None
    token = _derived_token(secret_key, account_id, row.derivation_nonce)
    return token if hmac.compare_digest(hash_secret(token), row.token_hash) else None


def _derived_token(secret_key: str, account_id: int, nonce: str) -> str:
    """32 lowercase hex characters, as the original service's tokens."""
    message = f"gettoken\0{account_id}\0{nonce}".encode()
    return hmac.new(secret_key.encode(), message, hashlib.sha256).hexdigest()[:32]


def account_for_token(token) -> TokenAccount:
    """The account of a live token. Reads only: the caller records the use with ``record_token_use``."""
    if not isinstance(token, str) or not token.strip():
        raise AuthenticationError("token is required", field="token")
    token = token.strip()
    if len(token) > 128:
        raise AuthenticationError("token is invalid", field="token")
    row = _ACCOUNT_BY_TOKEN_HASH.first({"token_hash": hash_secret(token)})
    if row is None:
        raise AuthenticationError("token is invalid or revoked", field="token")
    return TokenAccount(row.id, row.timezone, row.default_region, row.allow_direct_to_opted_out, row.token_id,
                        row.last_used_at)


def record_token_use(account: TokenAccount) -> None:
    """Stamp the token's last use, at most once a minute. A write, so a call runs it last, just before
    its commit: run first, it would open SQLite's write transaction (on MariaDB, lock the token's row)
    for the whole call, and a long call could not let the worker's other requests write meanwhile."""
    now = utcnow()
    last = account.token_last_used_at
    if last is None or (now - last).total_seconds() > TOKEN_USE_INTERVAL_SECONDS:
        db.session.connection().execute(_TOKEN_USED, {"token_id": account.token_id, "now": now})


def list_tokens(account: Account) -> list[ApiToken]:
    return list(db.session.scalars(
        select(ApiToken).where(ApiToken.account_id == account.id).order_by(ApiToken.created_at.desc(), ApiToken.id.desc())
    ))


def revoke_token(account: Account, token_id: int) -> ApiToken:
    row = db.session.get(ApiToken, token_id)
    if row is None or row.account_id != account.id:
        raise NotFoundError("no such token")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    db.session.flush()
    return row


def _zone_region(zone_key: str) -> str | None:
    """The default region a zone suggests (``Europe/Berlin`` → ``DE``), where phone numbers know that country."""
    region = zone_country(zone_key)
    return region if region is not None and is_valid_region(region) else None


def update_settings(account: Account, *, timezone=None, default_region=None, optout_keywords=None,
                    allow_direct_to_opted_out=None) -> Renumbered | None:
    """Change the given settings. A new time zone also sets the default region to its country when the
    account then has none (none kept, or given empty as the settings form sends it), so national numbers
    typed from then on become E.164. A new default region renumbers the contacts saved as national digits
    (``renumber_national_contacts``); what that did is returned (None when the region did not change)."""
    region_before = account.default_region
    zone_changed = False
    if timezone is not None:
        key = zone(timezone).key  # ValidationError for an unknown zone
        zone_changed = key != account.timezone
        account.timezone = key
    if default_region is not None:
        region = default_region.strip().upper() or None
        if not is_valid_region(region):
            raise ValidationError(f"unknown region {default_region!r}", field="default_region")
        account.default_region = region
    if zone_changed and account.default_region is None:
        account.default_region = _zone_region(account.timezone)
    if optout_keywords is not None:
        account.optout_keywords = keyword_list_setting(optout_keywords)
    if allow_direct_to_opted_out is not None:
        account.allow_direct_to_opted_out = bool(allow_direct_to_opted_out)
    if account.default_region is None or account.default_region == region_before:
        db.session.flush()
        return None
    return renumber_national_contacts(account)  # it flushes these changes once its parsing is done


def start_dashboard_session(account: Account) -> str:
    """A new dashboard session of the account; returns the id its cookie carries."""
    session_id = secrets.token_hex(16)
    db.session.add(DashboardSession(id_hash=_session_hash(session_id), account_id=account.id))
    db.session.flush()
    return session_id


def dashboard_session_open(account_id: int, session_id, config) -> bool:
    """Whether the cookie's session is still open: not logged out, not past SESSION_LIFETIME_SECONDS."""
    if not isinstance(session_id, str):
        return False
    return db.session.scalar(select(DashboardSession.account_id).where(
        DashboardSession.id_hash == _session_hash(session_id),
        DashboardSession.created_at >= ago(config["SESSION_LIFETIME_SECONDS"]))) == account_id


def end_dashboard_session(session_id) -> None:
    if isinstance(session_id, str):
        db.session.execute(delete(DashboardSession).where(DashboardSession.id_hash == _session_hash(session_id)))


def _session_hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


def prune_dashboard_sessions(config, now=None) -> int:
    """Scheduler job: forget sessions past their lifetime (their cookies are refused already)."""
    return db.session.execute(delete(DashboardSession).where(
        DashboardSession.created_at < ago(config["SESSION_LIFETIME_SECONDS"], now))).rowcount


def prune_auth_failures(config, now=None) -> int:
    """Scheduler job: forget failures older than the counting window, and addresses no longer known."""
    cutoff = ago(config["AUTH_FAILURE_WINDOW_SECONDS"], now)
    forgotten = db.session.execute(delete(KnownLoginAddress).where(
        KnownLoginAddress.last_success_at < ago(config["AUTH_KNOWN_ADDRESS_DAYS"] * 86400, now))).rowcount
    return db.session.execute(delete(AuthFailure).where(AuthFailure.created_at < cutoff)).rowcount + forgotten


def delete_account(account: Account) -> int:
    """Delete the account and all its data; returns how many stored objects go with it.

    Rows go by the database's ON DELETE CASCADE; the stored objects (local files or S3 objects) are
    removed once the deletion commits.
    """
    objects = delete_account_objects(account)
    db.session.execute(delete(Account).where(Account.id == account.id))
    db.session.expunge(account)
    return objects
