"""Opt-out: a reply whose whole text is a keyword (STOP, …) stops all newsletters to that number.

A reply is read as people type it: ``Stop.``, ``"STOP"``, ``STOP 🛑`` or a full-width ``ＳＴＯＰ`` is STOP, while
``please stop`` is not (the whole text must be the keyword). Missing a real STOP is the costly mistake.

Newsletters never go to opted-out contacts (the fan-out excludes them) and an opt-out withdraws the
number's pending newsletter messages (status 14). Direct messages (``addsms``) are not withdrawn.
"""
import unicodedata
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
MAX_KEYWORD_LENGTH = 40

# Invisible parts of emoji that are neither symbols nor format characters: variation selectors and the keycap.
_EMOJI_PARTS = frozenset(map(chr, (*range(0xFE00, 0xFE10), *range(0xE0100, 0xE01F0), 0x20E3)))


def _is_trimmed(char: str) -> bool:
    """Punctuation, symbols (emoji, skin tones), spaces, control and format characters (ZWJ, tags), emoji parts."""
    category = unicodedata.category(char)
    return category[0] in "PSZ" or category in ("Cc", "Cf") or char in _EMOJI_PARTS


def keyword_form(text) -> str:
    """The form replies and keywords are compared in: NFKC (full-width letters become ASCII), case folded,
    punctuation, symbols and spaces around it removed, inner spaces collapsed. ``' Stop! 🛑'`` → ``'stop'``."""
    folded = unicodedata.normalize("NFKC", unicodedata.normalize("NFKC", str(text)).casefold())
    start, end = 0, len(folded)
    while start < end and _is_trimmed(folded[start]):
        start += 1
    while end > start and _is_trimmed(folded[end - 1]):
        end -= 1
    return " ".join(folded[start:end].split())


_DEFAULT_KEYWORD_FORMS = frozenset(map(keyword_form, DEFAULT_OPTOUT_KEYWORDS))
_RESUBSCRIBE_KEYWORD_FORMS = frozenset(map(keyword_form, RESUBSCRIBE_KEYWORDS))


def keyword_list_setting(text: str) -> str:
    """The account setting as stored from what was typed: comma-separated keywords in their compared form, upper
    case for reading where that reads back the same (``Stop., quit`` → ``STOP,QUIT``), each once.
    ValidationError when none is left, or for a keyword that is too long or only punctuation or emoji (no
    reply could match it)."""
    words = []
    for typed in (part.strip() for part in text.split(",")):
        if not typed:
            continue
        word = keyword_form(typed)
        if not word:
            raise ValidationError(f"“{typed}” has no letter or digit: replies are matched without the punctuation "
                                  "and emoji around a keyword", field="optout_keywords")
        if len(word) > MAX_KEYWORD_LENGTH:
            raise ValidationError(f"an opt-out keyword is too long (at most {MAX_KEYWORD_LENGTH} characters)",
                                  field="optout_keywords")
        shown = word.upper()
        words.append(shown if keyword_form(shown) == word else word)  # "ı" upper-cased would read as "i"
    if not words:
        raise ValidationError("give at least one opt-out keyword", field="optout_keywords")
    return ",".join(dict.fromkeys(words))


def optout_keywords(account: Account) -> frozenset[str]:
    """The account's opt-out keywords (in ``keyword_form``; set in the account settings), or the platform
    defaults. A list stored before keywords were normalised is read the same way."""
    if account.optout_keywords is None:
        return _DEFAULT_KEYWORD_FORMS
    return frozenset(k for k in map(keyword_form, account.optout_keywords.split(",")) if k)


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
    """Act on an incoming SMS: ``"opted_out"`` or ``"resubscribed"`` when its whole text is a keyword (compared in
    ``keyword_form``), else None. The reason recorded names the keyword: ``replied STOP``."""
    if phone is None or text is None:
        return None
    word = keyword_form(text)
    if not word:
        return None
    is_optout = word in optout_keywords(account)
    is_optin = word in _RESUBSCRIBE_KEYWORD_FORMS
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
