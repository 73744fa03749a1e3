from datetime import datetime

from sqlalchemy import BigInteger, Boolean, ForeignKey, Index, Integer, SmallInteger, String, Text, UniqueConstraint, false, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from smsplatform.extensions import db
from smsplatform.models.types import BigId, UTCDateTime
from smsplatform.timeutil import utcnow


class Message(db.Model):
    """One message to (or, status 5, from) one number. ``id`` is the legacy ``sms_id``.

    Queue fields: ``ready`` is true once the message may be handed to its device (accepted with no
    future ``time_to_send``, or released by the scheduler, and its newsletter not paused). The
    device's claim is ``UPDATE … SET status=2 WHERE status=1 AND ready``; urgent first, then oldest.
    """

    __tablename__ = "messages"
    __table_args__ = (
        # The device queue: its own ready pending messages, urgent first, oldest first.
        Index("ix_messages_queue", "device_id", "ready", "status", "priority", "id"),
        # Scheduler release of held messages and recovery of unacknowledged ones.
        Index("ix_messages_status_due", "status", "ready", "due_at"),
        # getallsms: account-wide listing and its device/status/date filters.
        Index("ix_messages_account_created", "account_id", "created_at"),
        Index("ix_messages_account_device_created", "account_id", "device_id", "created_at"),
        Index("ix_messages_account_device_status_created", "account_id", "device_id", "status", "created_at"),
        Index("ix_messages_account_status_created", "account_id", "status", "created_at"),
        # (created_at last: one number's or customer's page comes in date order from the index, which no
        # planner then trades for reading the whole account in date order)
        Index("ix_messages_account_phone_created", "account_id", "phone", "created_at"),
        # Partial on SQLite (the indexes below): rows without the value are never looked up by it, so a
        # message without a customer id, newsletter, contact or image (an OTP) is not written to them.
        Index("ix_messages_account_customer_created", "account_id", "customer_id", "created_at",
              sqlite_where=text("customer_id IS NOT NULL")),
        Index("ix_messages_paket_status", "paket_id", "status", sqlite_where=text("paket_id IS NOT NULL")),
        # Deleting a contact sets its messages' contact_id to NULL: without an index, SQLite scans every
        # message for each contact deleted (an account's deletion, a renumbering merge). MariaDB makes its
        # foreign key's index this one.
        Index("ix_messages_contact", "contact_id", sqlite_where=text("contact_id IS NOT NULL")),
        Index("ix_messages_media_object_id", "media_object_id", sqlite_where=text("media_object_id IS NOT NULL")),
        # A newsletter texts each number once, even when its fan-out is re-run.
        UniqueConstraint("paket_id", "phone", name="uq_messages_paket_phone"),
        # An incoming SMS reported twice (webhook retry) is stored once.
        UniqueConstraint("device_id", "external_id", name="uq_messages_device_external"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"))
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id", ondelete="SET NULL"))
    sendto: Mapped[str] = mapped_column(String(64))  # exactly as the client sent it
    phone: Mapped[str] = mapped_column(String(32))   # normalised (E.164 where possible)
    body: Mapped[str] = mapped_column(Text)
    segments: Mapped[int] = mapped_column(SmallInteger, default=1)
    encoding: Mapped[str] = mapped_column(String(8), default="GSM-7")
    sim: Mapped[int] = mapped_column(SmallInteger, default=0)
    customer_id: Mapped[int | None] = mapped_column(BigInteger)
    urgent: Mapped[bool] = mapped_column(Boolean, default=False)
    priority: Mapped[int] = mapped_column(SmallInteger, default=0)  # 100 when urgent (the app's bypass level)
    status: Mapped[int] = mapped_column(SmallInteger, default=1)
    ready: Mapped[bool] = mapped_column(Boolean, default=False)
    time_to_send: Mapped[datetime | None] = mapped_column(UTCDateTime)  # as requested
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)                # time_to_send or created_at
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # First time of each state (kept, never overwritten; only the failure time of a timeout failure,
    # our guess, gives way to the phone's late report: queue.apply_state_report).
    taken_at: Mapped[datetime | None] = mapped_column(UTCDateTime)      # 2: handed to the phone
    last_handed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    handed_count: Mapped[int] = mapped_column(default=0)
    queued_at: Mapped[datetime | None] = mapped_column(UTCDateTime)     # 3: on the phone's queue
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)       # 6
    delivered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 7
    failed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)     # 8-12, 100, 101
    cancelled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # 13, 14
    received_at: Mapped[datetime | None] = mapped_column(UTCDateTime)   # 5: when the phone received it
    failure_reason: Mapped[str | None] = mapped_column(String(2000))
    # Failed (9) by a recovery job because the phone never acknowledged it, or went silent while holding
    # it: our guess, not the phone's word, so a late report from the phone may replace it (and clears
    # this). The reason text is for display.
    failed_unacknowledged: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    paket_id: Mapped[int | None] = mapped_column(ForeignKey("pakets.id", ondelete="SET NULL"))
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id", ondelete="SET NULL"))
    media_object_id: Mapped[int | None] = mapped_column(ForeignKey("stored_objects.id", ondelete="SET NULL"))
    media_url: Mapped[str | None] = mapped_column(String(1024))
    external_id: Mapped[str | None] = mapped_column(String(64))

    paket = relationship("Paket")
    device = relationship("Device")


class Conversation(db.Model):
    """A number that wrote to the account: the Inbox's row, counted as each incoming SMS is stored
    (``messaging.conversations.count_incoming``). The Inbox reads one page of these in order; grouping every
    incoming message by number for each page took seconds once an account had tens of thousands of them."""

    __tablename__ = "conversations"
    __table_args__ = (Index("ix_conversations_account_last", "account_id", "last_at", "phone"),)

    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"), primary_key=True)
    phone: Mapped[str] = mapped_column(String(32), primary_key=True)  # as Message.phone of its incoming SMS
    last_at: Mapped[datetime] = mapped_column(UTCDateTime)  # created_at of its newest incoming SMS
    received: Mapped[int] = mapped_column(Integer)          # its incoming SMS
