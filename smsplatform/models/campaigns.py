from datetime import datetime

from sqlalchemy import Column, ForeignKey, Index, SmallInteger, String, Table, Text, or_
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smsplatform.extensions import db
from smsplatform.models.types import UTCDateTime
from smsplatform.timeutil import utcnow

# A newsletter's states (campaigns.services holds the moves between them).
DRAFT, SCHEDULED, RUNNING, PAUSED, CANCELLED, FINISHED = "draft", "scheduled", "running", "paused", "cancelled", "finished"

paket_tags = Table(
    "paket_tags",
    db.metadata,
    Column("paket_id", ForeignKey("pakets.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
)


class Paket(db.Model):
    """A newsletter ("paket" in the legacy API). ``status``: draft, scheduled, running, paused, cancelled, finished."""

    __tablename__ = "pakets"
    __table_args__ = (Index("ix_pakets_status_time", "status", "time_to_send"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    sim: Mapped[int] = mapped_column(SmallInteger, default=0)
    status: Mapped[str] = mapped_column(String(16), default=DRAFT)
    time_to_send: Mapped[datetime | None] = mapped_column(UTCDateTime)
    media_object_id: Mapped[int | None] = mapped_column(ForeignKey("stored_objects.id", ondelete="SET NULL"))
    media_url: Mapped[str | None] = mapped_column(String(1024))
    total_recipients: Mapped[int | None] = mapped_column()  # frozen audience size, set when fan-out completes
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    fanout_completed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why the scheduler cancelled it when its time came instead of starting it (its device was removed, …);
    # NULL for every other newsletter, one the account cancelled too.
    cancel_reason: Mapped[str | None] = mapped_column(String(255))

    tags = relationship("Tag", secondary=paket_tags, lazy="selectin")
    device = relationship("Device")


# Started newsletters whose fan-out has not finished (the scheduler job finishes it).
FANNING_OUT = Paket.status.in_((RUNNING, PAUSED)) & Paket.fanout_completed_at.is_(None)
# Newsletters whose audience their tags still decide: not started yet, or still fanning out.
AUDIENCE_OPEN = or_(Paket.status.in_((DRAFT, SCHEDULED)), FANNING_OUT)


class StoredObject(db.Model):
    """An uploaded file in the storage backend (local or S3), referenced by messages and newsletters."""

    __tablename__ = "stored_objects"

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    backend: Mapped[str] = mapped_column(String(16))
    key: Mapped[str] = mapped_column(String(255), unique=True)
    content_type: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column()
    sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
