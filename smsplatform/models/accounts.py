from datetime import datetime
from typing import Protocol

from sqlalchemy import Boolean, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smsplatform.extensions import db
from smsplatform.models.types import UTCDateTime
from smsplatform.timeutil import utcnow


class AccountSettings(Protocol):
    """What the services read of an account: an ``Account``, or the read-only ``TokenAccount`` that a
    machine call's token check returns (``accounts.services``)."""

    @property
    def id(self) -> int: ...

    @property
    def timezone(self) -> str: ...

    @property
    def default_region(self) -> str | None: ...

    @property
    def allow_direct_to_opted_out(self) -> bool: ...


class Account(db.Model):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    default_region: Mapped[str | None] = mapped_column(String(2))  # ISO 3166 alpha-2 for national numbers
    # Comma-separated; NULL means the platform defaults (contacts.optout.DEFAULT_OPTOUT_KEYWORDS).
    optout_keywords: Mapped[str | None] = mapped_column(Text)
    allow_direct_to_opted_out: Mapped[bool] = mapped_column(Boolean, default=True)
    # Per-account device enrolment token (the app's "Private Token"); only its hash is kept.
    enrolment_token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    session_version: Mapped[int] = mapped_column(default=1)  # bumped on password change to end other sessions
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tokens: Mapped[list["ApiToken"]] = relationship(back_populates="account", cascade="all, delete-orphan")


class ApiToken(db.Model):
    """A legacy/API token. Only the SHA-256 of the token is stored; tokens are 128 random bits."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    hint: Mapped[str] = mapped_column(String(8))  # last characters, to recognise a token in a list
    label: Mapped[str] = mapped_column(String(100), default="")
    # Set on the token ``gettoken`` answers: the token is derived from SECRET_KEY and this nonce, so the
    # same token can be answered again while only its hash is stored (``accounts.services.login_token``).
    derivation_nonce: Mapped[str | None] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account: Mapped[Account] = relationship(back_populates="tokens")


class DashboardSession(db.Model):
    """A signed-in dashboard session. The session cookie carries its id, of which only the SHA-256 is kept:
    logging out deletes the row, so a copy of the cookie (another browser, a stolen one) ends with it."""

    __tablename__ = "dashboard_sessions"

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class KnownLoginAddress(db.Model):
    """An address the account signed in from with its password: the per-email brute-force limit spares it,
    so that failures from elsewhere (someone trying the owner's email) cannot lock the owner out."""

    __tablename__ = "known_login_addresses"

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)  # as request.remote_addr gives it
    last_success_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class AuthFailure(db.Model):
    """One failed login or token request, counted per address and per email for brute-force limits; or one
    sign-up attempt, counted per address."""

    __tablename__ = "auth_failures"
    __table_args__ = (Index("ix_auth_failures_scope_created", "scope", "created_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(300))  # "ip:1.2.3.4", "email:a@b.c" or "signup:1.2.3.4"
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
