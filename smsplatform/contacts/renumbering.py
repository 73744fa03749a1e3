"""National numbers become international once the account has a default region, merging duplicates.

A contact saved while the account had no default region keeps its number as bare national digits
(``01701234567``): the phone can dial it, but it is not the ``+491701234567`` a reply comes from, nor the
one a later import with the region stores. The same person would be two contacts, and a STOP from
``+49…`` would opt out only one of them. When the account's region is set or changed, such contacts are
renumbered under it; a contact whose new number another contact already has is merged into that one.
Services flush; the caller commits.
"""
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

from sqlalchemy import Integer, delete, not_, select, update

from smsplatform.contacts.optout import withdraw_pending_newsletter_messages
from smsplatform.db_bulk import id_params, param_name, per_row, update_each
from smsplatform.db_unique import begin_writing_on_sqlite, insert_ignoring_duplicates
from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.models import AccountSettings, Contact, Message, contact_tags
from smsplatform.phones import normalize_phone
from smsplatform.timeutil import utcnow
from smsplatform.turns import now_and_then

_CHUNK = 500
_COLUMNS = (Contact.id, Contact.phone, Contact.phone_raw, Contact.name, Contact.opted_out, Contact.opted_out_at,
            Contact.opt_out_reason)
_KEPT_COLUMNS = ("phone", "name", "opted_out", "opted_out_at", "opt_out_reason")  # a merge's survivor gets new ones
_CONTACTS = Contact.__table__
_MESSAGES = Message.__table__


@dataclass(frozen=True)
class Renumbered:
    contacts: int  # national numbers that became international
    merged: int    # of those, merged into a contact that already had the number


def renumber_national_contacts(account: AccountSettings, now: datetime | None = None) -> Renumbered:
    """Give the account's bare-digit contacts their E.164 number under its default region, where they parse.

    A merge keeps the contact that already had the number (or the oldest of several renumbered to it):
    it gains the others' tags and their messages, their name when it has none, and an opt-out of any of
    them (the earliest, with its reason); waiting newsletter messages to an opted-out number are withdrawn.
    """
    region = account.default_region
    if region is None:
        return Renumbered(0, 0)
    now = now or utcnow()
    with db.session.no_autoflush:  # nothing written yet: on SQLite, no write lock while the parsing takes turns
        parsed = _parsed_numbers(account.id, region)
    begin_writing_on_sqlite()
    db.session.flush()  # the caller's changes (the account's new region)
    # Read again under the write lock: the rows may have changed meanwhile; only the parsing carries over.
    # Streamed (on MariaDB a server-side cursor), so that the turns below also come while the rows are decoded.
    bare = db.session.execute(select(*_COLUMNS).where(
        Contact.account_id == account.id, not_(Contact.phone.startswith("+"))).order_by(Contact.id)
        .execution_options(yield_per=2000))
    groups: dict[str, list] = {}
    for done, row in enumerate(bare):
        now_and_then(done)
        phone = parsed[row.phone_raw] if row.phone_raw in parsed else _parsed(row.phone_raw, region)
        if phone is not None and phone.startswith("+"):
            groups.setdefault(phone, []).append(row)
    holders = {}
    phones = sorted(groups)
    for start in range(0, len(phones), _CHUNK):
        holders.update((row.phone, row) for row in db.session.execute(select(*_COLUMNS).where(
            Contact.account_id == account.id, Contact.phone.in_(phones[start:start + _CHUNK]))))
    plain, keepers, moves, withdraw = {}, [], {}, []
    for phone, group in groups.items():
        if phone not in holders and len(group) == 1:  # the usual case: nobody else has the new number
            plain[group[0].id] = phone
            continue
        keeper = holders.get(phone) or group[0]
        others = [row for row in group if row.id != keeper.id]
        keepers.append(_kept(phone, keeper, others, now))
        moves.update((row.id, keeper.id) for row in others)
        if keepers[-1]["opted_out"]:  # newsletters waiting for any spelling of the number
            withdraw += [phone, keeper.phone, *(row.phone for row in others)]
    connection = db.session.connection()
    # Merged contacts go before the survivors take their numbers; no two rows ever hold one number.
    merges = list(moves.items())
    for start in range(0, len(merges), _CHUNK):
        _merge(connection, dict(merges[start:start + _CHUNK]))
    if keepers:
        update_each(connection, _CONTACTS, {name: {kept["id"]: kept[name] for kept in keepers} for name in _KEPT_COLUMNS},
                    updated_at=now)
    if plain:
        update_each(connection, _CONTACTS, {"phone": plain}, updated_at=now)
    for start in range(0, len(withdraw), _CHUNK):
        withdraw_pending_newsletter_messages(account.id, withdraw[start:start + _CHUNK], now)
    if groups:
        db.session.expire_all()  # contacts loaded before are stale now
    return Renumbered(sum(len(group) for group in groups.values()), len(moves))


def _parsed_numbers(account_id: int, region: str) -> dict[str, str | None]:
    """The account's bare-digit numbers as they read under ``region`` (None: not a number today's rules take).

    Parsing is most of a renumbering (about 3 s per 100,000 contacts). It runs before anything is written,
    taking turns as a long loop does: the web worker's other requests (an urgent message, a phone's event
    stream) go on meanwhile, and on SQLite can also write, as no write lock is held yet."""
    raws = db.session.execute(select(Contact.phone_raw).distinct().where(
        Contact.account_id == account_id, not_(Contact.phone.startswith("+"))).execution_options(yield_per=2000)).scalars()
    parsed = {}
    for done, raw in enumerate(raws):
        parsed[raw] = _parsed(raw, region)
        now_and_then(done)
    return parsed


def _parsed(raw: str, region: str) -> str | None:
    try:
        return normalize_phone(raw, region, field="phone").normalized
    except ValidationError:  # saved before today's rules; left as it is
        return None


def _kept(phone: str, keeper, others: list, now: datetime) -> dict:
    """The surviving contact's new values: its name (the others' when it has none), the earliest opt-out."""
    opted_out = [row for row in (keeper, *others) if row.opted_out]
    first = min(opted_out, key=lambda row: (row.opted_out_at is None, row.opted_out_at or now)) if opted_out else None
    return {"id": keeper.id, "phone": phone, "name": keeper.name or next((row.name for row in others if row.name), ""),
            "opted_out": first is not None, "opted_out_at": first and (first.opted_out_at or now),
            "opt_out_reason": first.opt_out_reason if first is not None else None}


def _merge(connection, keeper_of: dict[int, int]) -> None:
    """Contacts merged into others (their ids → the keeper's): the keepers gain their tags and their messages,
    then they go."""
    params = {}
    for i, (other, keeper) in enumerate(keeper_of.items()):
        params[param_name("other", i)], params[param_name("keeper", i)] = other, keeper
    for statement in _merge_statements(len(keeper_of)):
        connection.execute(statement, params)


@lru_cache(maxsize=4)
def _merge_statements(size: int) -> tuple:
    """For ``size`` merged contacts (:other_0 … into :keeper_0 …): copy their tags, move their messages, drop both.
    One statement each for many contacts, built once per size (see ``db_bulk``)."""
    others = id_params("other", size)
    tags, messages = contact_tags.c, _MESSAGES.c
    return (
        insert_ignoring_duplicates(contact_tags).from_select(["contact_id", "tag_id"], select(
            per_row(tags.contact_id, others, "keeper", Integer()), tags.tag_id).where(tags.contact_id.in_(others))),
        update(_MESSAGES).where(messages.contact_id.in_(others)).values(
            contact_id=per_row(messages.contact_id, others, "keeper", Integer())),
        delete(contact_tags).where(tags.contact_id.in_(others)),
        delete(_CONTACTS).where(_CONTACTS.c.id.in_(others)),
    )
