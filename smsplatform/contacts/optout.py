"""Opt-out: a reply whose whole text is a keyword (STOP, …) stops all newsletters to that number.

Newsletters never go to opted-out contacts (the fan-out excludes them) and an opt-out withdraws the
number's pending newsletter messages (status 14). Direct messages (``addsms``) are not withdrawn.
"""
from datetime import datetime

from sqlalchemy import update

from smsplatform.contacts.services import find_contact, normalize_contact_phone, upsert_contact
from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.models import Account, Contact, Message
from smsplatform.phones import Phone
from smsplatform.timeutil import utcnow

DEFAULT_OPTOUT_KEYWORDS = ("STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT")
RESUBSCRIBE_KEYWORDS = ("START", "UNSTOP")

OPTED_OUT = "opted_out"
BY_HAND_REASON = "opted out by hand in the dashboard"
RESUBSCRIBED = "resubscribed"


def _keyword(text) -> str:
    return " ".join(str(text).split()).casefold()


def optout_keywords(account: Account) -> frozenset[str]:
    """The account's opt-out keywords (casefolded; set in the account settings), or the platform defaults."""
    if account.optout_keywords is None:
        return frozenset(k.casefold() for k in DEFAULT_OPTOUT_KEYWORDS)
    return frozenset(k for k in (_keyword(part) for part in account.optout_keywords.split(",")) if k)


def withdraw_pending_newsletter_messages(account_id: int, phones, now: datetime) -> int:
    """Pending (not yet taken) newsletter messages to these numbers become status 14. Returns how many."""
    phones = list(phones)
    if not phones:
        return 0
    result = db.session.execute(
        update(Message)
        .where(Message.account_id == account_id, Message.phone.in_(phones), Message.paket_id.is_not(None),
               Message.status == statuses.PENDING)
        .values(status=statuses.OPTED_OUT, ready=False, cancelled_at=now, updated_at=now)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount


def opt_out(account: Account, phone: Phone, reason: str, now: datetime | None = None) -> Contact:
    """Mark the number opted out account-wide (creating the contact if needed) and withdraw its pending
    newsletter messages. An existing opt-out keeps its original time and reason."""
    contact = upsert_contact(account, phone)
    opt_out_contact(account, contact, reason, now)
    return contact


def opt_out_contact(account: Account, contact: Contact, reason: str, now: datetime | None = None) -> int:
    """``opt_out`` for a contact at hand; returns how many pending newsletter messages were withdrawn."""
    now = now or utcnow()
    if not contact.opted_out:
        contact.opted_out = True
        contact.opted_out_at = now
        contact.opt_out_reason = reason[:255]
    withdrawn = withdraw_pending_newsletter_messages(account.id, [contact.phone], now)
    db.session.flush()
    return withdrawn


def opt_in(account: Account, phone: Phone) -> Contact | None:
    """Clear the number's opt-out (an explicit re-subscribe). Withdrawn messages stay withdrawn."""
    contact = find_contact(account, phone.normalized)
    if contact is not None:
        opt_in_contact(contact)
    return contact


def opt_in_contact(contact: Contact) -> None:
    """``opt_in`` for a contact at hand (the dashboard's "Opt back in")."""
    if contact.opted_out:
        contact.opted_out = False
        contact.opted_out_at = None
        contact.opt_out_reason = None
        db.session.flush()


def handle_incoming(account: Account, phone, text, now: datetime | None = None) -> str | None:
    """Act on an incoming SMS: ``"opted_out"`` or ``"resubscribed"`` when its whole text is a keyword, else None."""
    if phone is None or text is None:
        return None
    word = _keyword(text)
    if not word:
        return None
    is_optout = word in optout_keywords(account)
    is_optin = word in {k.casefold() for k in RESUBSCRIBE_KEYWORDS}
    if not (is_optout or is_optin):
        return None
    try:
        number = normalize_contact_phone(account, phone)
    except ValidationError:
        return None
    if is_optout:
        opt_out(account, number, f"replied {word.upper()}", now)
        return OPTED_OUT
    opt_in(account, number)
    return RESUBSCRIBED
