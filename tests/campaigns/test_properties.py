"""Property tests: for random contacts, tags, overlaps and opt-outs, the fan-out reaches exactly the unique,
non-opted-out numbers holding a target tag, however it is interrupted; the stats always add up."""
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from smsplatform.campaigns import personalisation, services
from smsplatform.contacts import optout
from smsplatform.contacts import services as contacts
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.messaging.segments import count_segments
from smsplatform.models import Account, Contact, Message, Paket
from tests.conftest import create_device

# The same subscriber written in different ways: all normalise to +49157529822NN (region DE).
FORMATS = ("+49157529822{:02d}", "0157 529822{:02d}", "0049 157 529822{:02d}", "+49 (157) 5298-22{:02d}")
ALL_STATUSES = [statuses.PENDING, statuses.TAKEN, statuses.QUEUED, statuses.SENT, statuses.DELIVERED,
                statuses.NOT_DELIVERED, statuses.FAILED_GENERIC, statuses.CANCELLED, statuses.OPTED_OUT,
                statuses.NOT_ALLOWED]

contact_rows = st.lists(
    st.tuples(st.integers(0, 25), st.sampled_from(FORMATS), st.sets(st.integers(0, 3), max_size=3),
              st.sampled_from(["", "Anna", "Zoë Ω", "Anna Maria Schmidt", "€uro [x]"])),
    max_size=30,
)
SETTINGS = settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class Crash(Exception):
    pass


_counter = iter(range(10**6))


def _world(rows, opted, targets, body):
    account = Account(email=f"prop{next(_counter)}@example.com", password_hash="-", default_region="DE")
    db.session.add(account)
    db.session.flush()
    device = create_device(account)
    tags = [contacts.save_tag(account, f"T{i}") for i in range(4)]
    expected_tags: dict[str, set[int]] = {}
    for number, fmt, tag_indexes, name in rows:
        phone = f"+49157529822{number:02d}"
        expected_tags.setdefault(phone, set())
        if not tag_indexes:
            contacts.save_contact(account, fmt.format(number), None, name=name)
        for index in tag_indexes:
            contacts.save_contact(account, fmt.format(number), tags[index].id, name=name)
            expected_tags[phone].add(index)
    for number in opted:
        optout.handle_incoming(account, FORMATS[1].format(number), "STOP")
    opted_phones = {f"+49157529822{n:02d}" for n in opted}
    paket = services.create_paket(account, title="p", body=body, device_id=device.id, sim=0,
                                  tag_ids=[tags[i].id for i in targets], time_to_send="0")
    db.session.execute(update(Paket).where(Paket.id == paket.id).values(status=services.RUNNING))
    db.session.commit()
    expected = {p for p, held in expected_tags.items() if held & targets and p not in opted_phones}
    return account, paket, expected


def _phones(paket):
    return list(db.session.scalars(select(Message.phone).where(Message.paket_id == paket.id)))


@SETTINGS
@given(rows=contact_rows, opted=st.sets(st.integers(0, 25), max_size=6),
       targets=st.sets(st.integers(0, 3), min_size=1), personalised=st.booleans(),
       batch=st.integers(1, 7), crash_after=st.integers(0, 4))
def test_fan_out_reaches_exactly_the_unique_reachable_numbers(app, rows, opted, targets, personalised, batch,
                                                              crash_after):
    body = "Hi {first_name|you} {LAST_NAME} ({name|?}) {phone} " + "x" * 140 if personalised else "Hi all"
    _, paket, expected = _world(rows, opted, targets, body)
    commits = []

    def crashing_commit():
        if len(commits) == crash_after:
            raise Crash
        commits.append(1)
        db.session.commit()

    try:
        services.fan_out(paket.id, batch_size=batch, commit=crashing_commit)
    except Crash:
        db.session.rollback()
    total = services.fan_out(paket.id, batch_size=batch, commit=db.session.commit)
    phones = _phones(paket)
    assert len(phones) == len(set(phones)) == total
    assert set(phones) == expected
    for message in db.session.scalars(select(Message).where(Message.paket_id == paket.id)):
        contact = db.session.get(Contact, message.contact_id)
        rendered = personalisation.render(body, personalisation.contact_fields(contact.name, contact.phone))
        info = count_segments(rendered)
        assert (message.body, message.segments, message.encoding) == (rendered, info.segments, info.encoding)


@SETTINGS
@given(rows=contact_rows, targets=st.sets(st.integers(0, 3), min_size=1),
       changes=st.lists(st.tuples(st.integers(0, 40), st.sampled_from(ALL_STATUSES)), max_size=20),
       later_optouts=st.sets(st.integers(0, 25), max_size=4), cancel=st.booleans())
def test_stats_always_add_up(app, rows, targets, changes, later_optouts, cancel):
    account, paket, expected = _world(rows, set(), targets, "Hi")
    services.fan_out(paket.id)
    ids = list(db.session.scalars(select(Message.id).where(Message.paket_id == paket.id).order_by(Message.id)))
    for index, status in changes:
        if ids:
            db.session.execute(update(Message).where(Message.id == ids[index % len(ids)]).values(status=status))
    for number in later_optouts:
        optout.handle_incoming(account, FORMATS[0].format(number), "STOP")
    if cancel:
        services.cancel_paket(account, paket.id)
    db.session.commit()
    stats = services.paket_stats(paket)
    assert stats["total"] == len(expected) == sum(v for k, v in stats.items() if k != "total")
    if cancel:
        assert stats["pending"] == 0
