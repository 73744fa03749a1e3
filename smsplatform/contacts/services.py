"""Contacts and tags of one account: CRUD, tagging in bulk, search and counts.

A contact is one normalised number per account (``uq_contacts_account_phone``). Tag titles are unique
per account (``uq_tags_account_title`` on ``Tag.title_key``) ignoring case and accents: "Café", "CAFE"
and "cafe" are one tag on every database (``tag_key`` is the rule). Saving such a title again
(``savetag``, a CSV import) gives the existing tag, which keeps the title it was first saved with.

Why accents do not count: MariaDB's ``utf8mb4_unicode_ci`` columns compare "café" = "cafe", so its
unique index cannot hold both (accent-sensitive titles would need a binary column: a migration), and
for users it is the better rule anyway: a client that drops accents (ASCII-only integrations, a
spreadsheet export) still reaches the tag, and a newsletter's audience is never split between two
look-alike tags. ``tag_key`` folds case and accents in Python, so SQLite, which compares bytes, agrees.
MariaDB's collation equates a few titles more (hiragana and katakana, any two emoji); there its
comparison, the one its unique index enforces, decides: the existing tag is given.
Services flush; the caller commits.
"""
import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, func, literal, or_, select

from smsplatform import turns
from smsplatform.db_casefold import contains_any_case
from smsplatform.db_unique import add_unless_taken, insert_ignoring_duplicates, locked, update_unless_taken
from smsplatform.errors import ConflictError, NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.models import AccountSettings, Contact, Paket, Tag, contact_tags, paket_tags
from smsplatform.models.campaigns import AUDIENCE_OPEN
from smsplatform.models.types import parse_row_id, parse_row_ids
from smsplatform.phones import Phone, normalize_phone

MAX_TAG_TITLE = 100
MAX_NAME = 255
MAX_SEARCH_ROWS = 1000
EXPORT_CHUNK = 500


def normalize_contact_phone(account: AccountSettings, raw, field: str = "phone") -> Phone:
    return normalize_phone(raw, account.default_region, field=field)


# The combining diacritical marks that accented Latin, Greek and Cyrillic letters decompose into.
_ACCENTS = re.compile("[\u0300-\u036f]")
_KEY_LENGTH = Tag.__table__.c.title_key.type.length


def tag_key(title: str) -> str:
    """The form tag titles are compared in: two titles are the same tag when their keys are equal.

    Unicode's compatibility caseless form (D146: "Ｃａｆé", "ﬁ" and "ß" spell out) without
    accents (the marks of U+0300-U+036F: "é" is "e", "ё" is "е"; kana voicing marks and Indic vowel
    signs are kept), spaces collapsed, cut to the column's length.
    """
    folded = _caseless(_caseless(unicodedata.normalize("NFD", title)))
    return unicodedata.normalize("NFC", " ".join(_ACCENTS.sub("", folded).split()))[:_KEY_LENGTH]


def _caseless(text: str) -> str:
    return unicodedata.normalize("NFKD", text.casefold())


def clean_tag_title(title) -> str:
    value = " ".join(str(title).split()) if title is not None else ""
    if not value:
        raise ValidationError("title is required", field="title")
    if len(value) > MAX_TAG_TITLE:
        raise ValidationError(f"title is too long (at most {MAX_TAG_TITLE} characters)", field="title")
    return value


def clean_name(name, field: str = "name") -> str:
    value = " ".join(str(name).split()) if name is not None else ""
    if len(value) > MAX_NAME:
        raise ValidationError(f"{field} is too long (at most {MAX_NAME} characters)", field=field)
    return value


# Tags ---------------------------------------------------------------------------------------------

def get_tag(account: AccountSettings, tag_id, field: str = "tag_id", *, for_update: bool = False,
            for_share: bool = False) -> Tag:
    """The account's tag, or NotFoundError. Locked until the transaction ends (``locked``): ``for_update``
    to delete it, ``for_share`` to attach rows to it (``delete_tag`` then waits, or is waited for)."""
    if tag_id is None or tag_id == "":
        raise ValidationError(f"{field} is required", field=field)
    query = select(Tag).where(Tag.id == parse_row_id(tag_id, field, signed=True), Tag.account_id == account.id)
    if for_update or for_share:
        query = locked(query, shared=not for_update).execution_options(populate_existing=True)
    tag = db.session.scalar(query)
    if tag is None:
        raise NotFoundError(f"tag {tag_id} not found", field=field)
    return tag


def find_tag_by_title(account: AccountSettings, title: str) -> Tag | None:
    return db.session.scalar(select(Tag).where(Tag.account_id == account.id, Tag.title_key == tag_key(title)))


def save_tag(account: AccountSettings, title) -> Tag:
    """The tag with this title (the same ``tag_key``: case, accents and compatibility forms aside),
    created if the account has none yet."""
    title = clean_tag_title(title)
    existing = find_tag_by_title(account, title)
    if existing is not None:
        return existing
    return add_unless_taken(Tag(account_id=account.id, title=title, title_key=tag_key(title)),
                             lambda: find_tag_by_title(account, title))


def create_tag(account: AccountSettings, title) -> Tag:
    """A new tag; ConflictError when the title (its ``tag_key``) is taken."""
    title = clean_tag_title(title)
    existing = find_tag_by_title(account, title)
    if existing is not None:
        raise _title_taken(existing, title)
    return save_tag(account, title)


def _title_taken(existing: Tag, title: str) -> ConflictError:
    """Names the tag that holds the title, and why ``Buro`` is taken when the tag is ``Büro``."""
    why = "" if existing.title == title else "; tag names are the same when they differ only in case or accents"
    return ConflictError(f"a tag named {existing.title!r} already exists{why}", field="title")


def rename_tag(account: AccountSettings, tag_id, title) -> Tag:
    tag = get_tag(account, tag_id)
    title = clean_tag_title(title)
    other = find_tag_by_title(account, title)
    if other is None or other.id == tag.id:  # free: unless another call is saving it at this moment
        other = update_unless_taken(tag, {"title": title, "title_key": tag_key(title)},
                                    lambda: find_tag_by_title(account, title))
    if other is not None:
        raise _title_taken(other, title)
    return tag


def delete_tag(account: AccountSettings, tag_id) -> None:
    """Delete a tag; its contacts stay (they only lose this tag). Refused (ConflictError) while a newsletter
    whose audience is not fixed yet (draft, scheduled, or its fan-out unfinished) targets it: that
    newsletter would silently go to fewer people, or nobody.

    The tag is locked before that check: a newsletter (or a contact) being saved with it at the same moment
    either commits first (and the deletion is refused, or takes the contact's tag too) or waits and finds
    the tag gone (``for_share``)."""
    tag = get_tag(account, tag_id, for_update=True)
    waiting = db.session.execute(
        select(Paket.title, Paket.status).join(paket_tags, paket_tags.c.paket_id == Paket.id)
        .where(paket_tags.c.tag_id == tag.id, Paket.account_id == account.id, AUDIENCE_OPEN)
        .order_by(Paket.id).limit(3)).all()
    if waiting:
        named = ", ".join(f"“{title}” ({status})" for title, status in waiting)
        raise ConflictError(f"tag “{tag.title}” is the audience of newsletter {named}; take the tag out of it "
                            "or cancel it first", field="tag_id")
    db.session.execute(delete(contact_tags).where(contact_tags.c.tag_id == tag.id))
    db.session.execute(delete(paket_tags).where(paket_tags.c.tag_id == tag.id))
    db.session.delete(tag)
    db.session.flush()


@dataclass(frozen=True)
class TagCount:
    tag: Tag
    contacts: int      # all contacts holding the tag
    reachable: int     # of those, not opted out


def tags_with_counts(account: AccountSettings) -> list[TagCount]:
    """The account's tags by title with their contact counts (portable SQL: no ``FILTER`` clause)."""
    rows = db.session.execute(
        select(
            Tag,
            func.count(Contact.id),
            func.count(case((Contact.opted_out.is_(False), Contact.id))),
        )
        .outerjoin(contact_tags, contact_tags.c.tag_id == Tag.id)
        .outerjoin(Contact, Contact.id == contact_tags.c.contact_id)
        .where(Tag.account_id == account.id)
        .group_by(Tag.id)
        .order_by(Tag.title_key)
    ).all()
    return [TagCount(tag, total, reachable) for tag, total, reachable in rows]


def tags_by_ids(account: AccountSettings, tag_ids, field: str = "tags", *, for_share: bool = False) -> list[Tag]:
    """The account's tags for these ids (order kept); NotFoundError names the first unknown or foreign id.
    ``for_share``: as ``get_tag``'s, for tags about to be attached to a contact or a newsletter."""
    ids = parse_row_ids(tag_ids, field, signed=True)
    if not ids:
        return []
    query = select(Tag).where(Tag.account_id == account.id, Tag.id.in_(set(ids)))
    found = {t.id: t for t in db.session.scalars(locked(query, shared=True) if for_share else query)}
    for tag_id in ids:
        if tag_id not in found:
            raise NotFoundError(f"tag {tag_id} not found", field=field)
    return [found[i] for i in ids]


# Contacts -----------------------------------------------------------------------------------------

def get_contact(account: AccountSettings, contact_id) -> Contact:
    contact = db.session.scalar(
        select(Contact).where(Contact.id == parse_row_id(contact_id, "contact_id", signed=True),
                              Contact.account_id == account.id)
    )
    if contact is None:
        raise NotFoundError(f"contact {contact_id} not found", field="contact_id")
    return contact


def find_contact(account: AccountSettings, phone: str) -> Contact | None:
    """The contact with this normalised number, if any."""
    return db.session.scalar(select(Contact).where(Contact.account_id == account.id, Contact.phone == phone))


def upsert_contact(account: AccountSettings, phone: Phone, name: str = "") -> Contact:
    """The contact for this number, created if missing; a non-empty ``name`` replaces the stored one."""
    contact = find_contact(account, phone.normalized)
    if contact is None:
        new = Contact(account_id=account.id, phone=phone.normalized, phone_raw=phone.raw[:64], name=name)
        contact = add_unless_taken(new, lambda: find_contact(account, phone.normalized))
    if name and contact.name != name:
        contact.name = name
    db.session.flush()
    return contact


def save_contact(account: AccountSettings, phone, tag_id, name=None, name_field: str = "name") -> Contact:
    """Legacy ``savecontact``: add (or update) the contact and give it the tag. A foreign tag is NotFound.
    ``name_field`` is the parameter the name came in (``fullname`` or ``name``), for its error."""
    tag = get_tag(account, tag_id, field="tag_id", for_share=True) if tag_id not in (None, "") else None
    contact = upsert_contact(account, normalize_contact_phone(account, phone), clean_name(name, name_field))
    if tag is not None:
        add_tags(contact, [tag])
    return contact


def create_contact(account: AccountSettings, phone, name=None, tag_ids=()) -> Contact:
    """A new contact; ConflictError when the number is already a contact of this account."""
    number = normalize_contact_phone(account, phone)
    tags = tags_by_ids(account, tag_ids, for_share=True)
    existing = find_contact(account, number.normalized)
    if existing is not None:
        kept = " on the opt-out list (it asked to stop); edit that contact" if existing.opted_out else ""
        raise ConflictError(f"{number.normalized} is already a contact{kept}", field="phone")
    contact = upsert_contact(account, number, clean_name(name))
    add_tags(contact, tags)
    return contact


def update_contact(account: AccountSettings, contact_id, *, phone=None, name=None, tag_ids=None) -> Contact:
    """Change number, name and/or the full tag set (``tag_ids``) of a contact. Opt-out is not touched."""
    contact = get_contact(account, contact_id)
    if phone is not None:
        number = normalize_contact_phone(account, phone)
        other = find_contact(account, number.normalized)
        if other is None or other.id == contact.id:  # free: unless another call is saving it at this moment
            other = update_unless_taken(contact, {"phone": number.normalized, "phone_raw": number.raw[:64]},
                                        lambda: find_contact(account, number.normalized))
        if other is not None:
            raise ConflictError(f"{number.normalized} is already another contact", field="phone")
    if name is not None:
        contact.name = clean_name(name)
    if tag_ids is not None:
        contact.tags = tags_by_ids(account, tag_ids, for_share=True)
    db.session.flush()
    return contact


def delete_contact(account: AccountSettings, contact_id) -> bool:
    """Delete a contact; its messages stay (their ``contact_id`` becomes NULL). Returns False when only its
    name and tags went: an opted-out number stays, with its opt-out, so that adding or importing it again
    cannot make a number that asked to stop reachable."""
    contact = get_contact(account, contact_id)
    if contact.opted_out:
        contact.name = ""
        contact.tags = []
        db.session.flush()
        return False
    db.session.delete(contact)
    db.session.flush()
    return True


def add_tags(contact: Contact, tags: list[Tag]) -> None:
    """Give a stored contact these tags; one it has already (a concurrent call's too) is skipped."""
    missing = [{"contact_id": contact.id, "tag_id": tag.id} for tag in tags if tag not in contact.tags]
    if missing:
        db.session.execute(insert_ignoring_duplicates(contact_tags), missing)
        db.session.expire(contact, ["tags"])


def _account_contact_ids(account: AccountSettings, contact_ids) -> list[int]:
    ids = set(parse_row_ids(contact_ids, "contact_ids", signed=True))
    if not ids:
        return []
    owned = set(db.session.scalars(select(Contact.id).where(Contact.account_id == account.id, Contact.id.in_(ids))))
    missing = sorted(ids - owned)
    if missing:
        raise NotFoundError(f"contact {missing[0]} not found", field="contact_ids")
    return sorted(owned)


def tag_contacts(account: AccountSettings, contact_ids, tag_id) -> int:
    """Give the tag to all these contacts (all the account's, or nothing changes). Returns how many gained it."""
    tag = get_tag(account, tag_id, for_share=True)
    ids = _account_contact_ids(account, contact_ids)
    if not ids:
        return 0
    # One INSERT … SELECT that skips contacts already holding the tag (also those a concurrent call just tagged).
    result = db.session.execute(insert_ignoring_duplicates(contact_tags).from_select(
        ["contact_id", "tag_id"], select(Contact.id, literal(tag.id)).where(Contact.id.in_(ids))))
    db.session.expire_all()
    return result.rowcount


def untag_contacts(account: AccountSettings, contact_ids, tag_id) -> int:
    """Take the tag from these contacts. Returns how many lost it."""
    tag = get_tag(account, tag_id)
    ids = _account_contact_ids(account, contact_ids)
    if not ids:
        return 0
    result = db.session.execute(
        delete(contact_tags).where(contact_tags.c.tag_id == tag.id, contact_tags.c.contact_id.in_(ids))
    )
    db.session.expire_all()
    return result.rowcount


@dataclass(frozen=True)
class ContactPage:
    contacts: list[Contact]
    total: int


def search_contacts(account: AccountSettings, *, query: str | None = None, tag_id=None, opted_out: bool | None = None,
                    limit: int = 50, offset: int = 0) -> ContactPage:
    """Contacts matching a text (name or number, substring; a whole number in any spelling, national ones in
    the account's region), a tag and/or the opt-out flag, newest first."""
    limit = max(1, min(int(limit), MAX_SEARCH_ROWS))
    where = _contact_conditions(account, query, tag_id, opted_out)
    total = db.session.scalar(select(func.count()).select_from(Contact).where(*where))
    contacts = list(db.session.scalars(
        select(Contact).where(*where).order_by(Contact.id.desc()).limit(limit).offset(max(0, int(offset)))
    ))
    return ContactPage(contacts, total)


def _contact_conditions(account: AccountSettings, query: str | None, tag_id, opted_out: bool | None) -> list:
    where = [Contact.account_id == account.id]
    text = (query or "").strip()
    if text:
        digits = "".join(ch for ch in text if ch.isdigit())
        conditions = [contains_any_case(Contact.name, text), contains_any_case(Contact.phone_raw, text)]
        if digits:
            conditions.append(Contact.phone.like(f"%{digits}%"))
            try:  # "0171 2345678" is +491712345678 in Germany, which holds no substring of what was typed
                conditions.append(Contact.phone == normalize_contact_phone(account, text, field="q").normalized)
            except ValidationError:
                pass
        where.append(or_(*conditions))
    if tag_id not in (None, ""):
        tag = get_tag(account, tag_id)
        where.append(Contact.id.in_(select(contact_tags.c.contact_id).where(contact_tags.c.tag_id == tag.id)))
    if opted_out is not None:
        where.append(Contact.opted_out.is_(bool(opted_out)))
    return where


@dataclass(frozen=True, slots=True)
class ExportedContact:
    phone: str
    name: str
    tags: list[str]  # titles, in tag order (``tag_key``)
    opted_out: bool
    opted_out_at: datetime | None
    opt_out_reason: str | None
    created_at: datetime


def contacts_for_export(account: AccountSettings, *, query: str | None = None, tag_id=None,
                        opted_out: bool | None = None) -> Iterator[ExportedContact]:
    """Every contact ``search_contacts`` finds, newest first, without its row cap. The filter is checked
    here (a bad one raises before anything is written); the rows are read as the iterator is consumed."""
    return _exported_contacts(account.id, _contact_conditions(account, query, tag_id, opted_out))


def _exported_contacts(account_id: int, where: list) -> Iterator[ExportedContact]:
    """``EXPORT_CHUNK`` contacts per query, each chunk after the last id of the one before (no cursor is
    held open while the response is written), then the chunk's tag links by primary key, titled from the
    account's tags read once; a turn for the worker's other requests between chunks.

    MariaDB is told to walk ``ix_contacts_account_id``: left to itself it reads that index from the
    account's newest contact on and filters ``id <`` row by row, 60 ms a chunk at 100,000 contacts
    instead of 1 ms. 500 ids stay below its ``in_predicate_conversion_threshold`` (1,000), past which
    the tag query's ``IN`` list becomes a derived table joined the slow way."""
    columns = (select(Contact.id, Contact.phone, Contact.name, Contact.opted_out, Contact.opted_out_at,
                      Contact.opt_out_reason, Contact.created_at)
               .with_hint(Contact, "FORCE INDEX (ix_contacts_account_id)", dialect_name="mysql")
               .with_hint(Contact, "FORCE INDEX (ix_contacts_account_id)", dialect_name="mariadb")
               .where(*where).order_by(Contact.id.desc()))
    tags: dict[int, tuple[str, str]] = {}  # id -> (tag_key, title)
    last_id = None
    while True:
        chunk = db.session.execute(
            (columns if last_id is None else columns.where(Contact.id < last_id)).limit(EXPORT_CHUNK)).all()
        if not chunk:
            return
        links: dict[int, list[int]] = {}
        for contact_id, tag_id in db.session.execute(
                select(contact_tags.c.contact_id, contact_tags.c.tag_id)
                .where(contact_tags.c.contact_id.in_([row.id for row in chunk]))):
            links.setdefault(contact_id, []).append(tag_id)
        if any(tag_id not in tags for ids in links.values() for tag_id in ids):  # the first chunk, or a new tag
            tags = {row.id: (row.title_key, row.title) for row in db.session.execute(
                select(Tag.id, Tag.title_key, Tag.title).where(Tag.account_id == account_id))}
        for row in chunk:
            titles = sorted(tags[tag_id] for tag_id in links.get(row.id, ()) if tag_id in tags)
            yield ExportedContact(row.phone, row.name, [title for _key, title in titles], row.opted_out,
                                  row.opted_out_at, row.opt_out_reason, row.created_at)
        last_id = chunk[-1].id
        turns.let_others_run()
