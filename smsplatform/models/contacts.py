from datetime import datetime

from sqlalchemy import Boolean, Column, ForeignKey, Index, String, Table, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smsplatform.extensions import db
from smsplatform.models.types import UTCDateTime
from smsplatform.timeutil import utcnow

contact_tags = Table(
    "contact_tags",
    db.metadata,
    Column("contact_id", ForeignKey("contacts.id", ondelete="CASCADE"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id", ondelete="CASCADE"), primary_key=True),
    Index("ix_contact_tags_tag_contact", "tag_id", "contact_id"),
)


class Tag(db.Model):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("account_id", "title_key", name="uq_tags_account_title"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), index=True)
    title: Mapped[str] = mapped_column(String(100))
    # contacts.services.tag_key of the title (case, accents, compatibility forms), for uniqueness
    title_key: Mapped[str] = mapped_column(String(100))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class Contact(db.Model):
    __tablename__ = "contacts"
    __table_args__ = (
        UniqueConstraint("account_id", "phone", name="uq_contacts_account_phone"),
        Index("ix_contacts_account_opted_out", "account_id", "opted_out"),
        Index("ix_contacts_account_id", "account_id", "id"),  # newest first, without sorting the account's contacts
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    phone: Mapped[str] = mapped_column(String(32))       # normalised
    phone_raw: Mapped[str] = mapped_column(String(64))   # as first given
    name: Mapped[str] = mapped_column(String(255), default="")
    opted_out: Mapped[bool] = mapped_column(Boolean, default=False)
    opted_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    opt_out_reason: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    tags: Mapped[list[Tag]] = relationship(secondary=contact_tags, lazy="selectin")
