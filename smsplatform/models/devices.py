from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, JSON, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smsplatform.extensions import db
from smsplatform.models.types import UTCDateTime
from smsplatform.timeutil import utcnow


class Device(db.Model):
    """A paired phone. ``id`` is the legacy numeric ``device_id``; the phone sees it as a string."""

    __tablename__ = "devices"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(128))
    token_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    push_token: Mapped[str | None] = mapped_column(String(256))
    phone_number: Mapped[str | None] = mapped_column(String(64))
    imei: Mapped[str | None] = mapped_column(String(64))
    serial_number: Mapped[str | None] = mapped_column(String(64))
    app_version: Mapped[str | None] = mapped_column(String(32))
    sim_cards: Mapped[list | None] = mapped_column(JSON)  # as the phone reports them in simCards
    # Legacy slots beyond SMS (2, 3 WhatsApp; 4, 5 RCS) this device declared it can carry, e.g. "2,3".
    extra_slots: Mapped[str] = mapped_column(String(32), default="")
    delay_between_each_sms: Mapped[int | None] = mapped_column()
    delay_between_request: Mapped[int | None] = mapped_column(default=1)
    plus_prefixes: Mapped[str] = mapped_column(String(64), default="")  # "add a plus if it starts with", "91,49"
    default_region: Mapped[str | None] = mapped_column(String(2))
    webhook_signing_key: Mapped[str] = mapped_column(String(64))
    subscription: Mapped[bool] = mapped_column(Boolean, default=True)
    battery_level: Mapped[int | None] = mapped_column()
    battery_charging: Mapped[bool | None] = mapped_column(Boolean)
    external_ip: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    marked_offline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # First event stream after registration: it also gets WebhooksUpdated + SettingsUpdated (the app's
    # first-start fetches may have run before it had a token).
    first_stream_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    account = relationship("Account")

    def slot_list(self) -> set[int]:
        return parse_slots(self.extra_slots)

    def plus_prefix_list(self) -> tuple[str, ...]:
        return parse_plus_prefixes(self.plus_prefixes)


def parse_slots(extra_slots: str) -> set[int]:
    """``Device.extra_slots`` ("2,3") as a set of slot numbers."""
    return {int(s) for s in extra_slots.split(",") if s.strip().isdigit()}


def parse_plus_prefixes(plus_prefixes: str) -> tuple[str, ...]:
    """``Device.plus_prefixes`` ("91,49") as a tuple of prefixes."""
    return tuple(p.strip() for p in plus_prefixes.split(",") if p.strip())


class PairingCode(db.Model):
    """A one-time code a phone uses as ``Authorization: Code <code>``; only its hash is stored."""

    __tablename__ = "pairing_codes"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    code_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))


class WebhookReceipt(db.Model):
    """A webhook event id already processed for a device, so a replay changes nothing."""

    __tablename__ = "webhook_receipts"
    __table_args__ = (UniqueConstraint("device_id", "event_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    device_id: Mapped[int] = mapped_column(ForeignKey("devices.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
