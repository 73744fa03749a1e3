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

from sqlalchemy import delete, literal, not_, select, update

from smsplatform.contacts.optout import withdraw_pending_newsletter_messages
from smsplatform.contacts.services import insert_ignoring_duplicates
from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.models import AccountSettings, Contact, Message, contact_tags
from smsplatform.phones import normalize_phone
from smsplatform.timeutil import utcnow

_CHUNK = 500
_COLUMNS = (Contact.id, Contact.phone, Contact.phone_raw, Contact.name, Contact.opted_out, Contact.opted_out_at,
            Contact.opt_out_reason)


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
    bare = db.session.execute(select(*_COLUMNS).where(
        Contact.account_id == account.id, not_(Contact.phone.startswith("+"))).order_by(Contact.id)).all()
    groups: dict[str, list] = {}
    for row in bare:
        try:
            phone = normalize_phone(row.phone_raw, region, field="phone").normalized
        except ValidationError:  # saved before today's rules; left as it is
            continue
        if phone.startswith("+"):
            groups.setdefault(phone, []).append(row)
    holders = {}
    phones = sorted(groups)
    for start in range(0, len(phones), _CHUNK):
        holders.update((row.phone, row) for row in db.session.execute(select(*_COLUMNS).where(
            Contact.account_id == account.id, Contact.phone.in_(phones[start:start + _CHUNK]))))
    merged = 0
    for phone, group in groups.items():
        keeper = holders.get(phone) or group[0]
        others = [row for row in group if row.id != keeper.id]
        merged += len(others)
        _merge(account, phone, keeper, others, now)
    if groups:
        db.session.expire_all()  # contacts loaded before are stale now
    return Renumbered(sum(len(group) for group in groups.values()), merged)


def _merge(account: AccountSettings, phone: str, keeper, others: list, now: datetime) -> None:
    values = {"phone": phone, "updated_at": now}
    if not keeper.name:
        values["name"] = next((row.name for row in others if row.name), "")
    opted_out = [row for row in (keeper, *others) if row.opted_out]
    if opted_out:
        first = min(opted_out, key=lambda row: (row.opted_out_at is None, row.opted_out_at or now))
        values.update(opted_out=True, opted_out_at=first.opted_out_at or now, opt_out_reason=first.opt_out_reason)
    other_ids = [row.id for row in others]
    if other_ids:
        db.session.execute(insert_ignoring_duplicates(contact_tags).from_select(
            ["contact_id", "tag_id"],
            select(literal(keeper.id), contact_tags.c.tag_id).where(contact_tags.c.contact_id.in_(other_ids))))
        db.session.execute(update(Message).where(Message.contact_id.in_(other_ids)).values(contact_id=keeper.id),
                           execution_options={"synchronize_session": False})
        db.session.execute(delete(contact_tags).where(contact_tags.c.contact_id.in_(other_ids)))
        db.session.execute(delete(Contact).where(Contact.id.in_(other_ids)),
                           execution_options={"synchronize_session": False})
    db.session.execute(update(Contact).where(Contact.id == keeper.id).values(**values),
                       execution_options={"synchronize_session": False})
    if opted_out:  # newsletters waiting for any spelling of the number
        withdraw_pending_newsletter_messages(account.id, [phone, keeper.phone, *(row.phone for row in others)], now)
