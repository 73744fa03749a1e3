"""Contacts and tags: legacy savetag/savecontact semantics, CRUD, bulk tagging, search, account isolation."""
import pytest
from sqlalchemy import text

from smsplatform import db_casefold
from smsplatform.contacts import services
from smsplatform.errors import ConflictError, NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.models import Contact, Paket, Tag, contact_tags, paket_tags
from smsplatform.timeutil import utcnow
from tests.conftest import create_device, database_is_mariadb


@pytest.fixture
def owner(account):
    return account[0]


@pytest.fixture
def stranger(make_account):
    return make_account(email="stranger@example.com")[0]


def test_save_tag_is_case_insensitive_and_returns_the_existing_tag(owner):
    first = services.save_tag(owner, "VIP")
    again = services.save_tag(owner, "  vip ")
    assert again.id == first.id and again.title == "VIP"
    assert db.session.query(Tag).count() == 1


@pytest.mark.parametrize("again", ["CAFE", "cafe", "Cafe", "café", "CAFÉ", "cafe\u0301", "Ｃａｆé", " café "])
def test_titles_differing_in_case_or_accents_are_one_tag_on_every_database(owner, again):
    first = services.save_tag(owner, "Café")
    db.session.commit()
    assert services.save_tag(owner, again).id == first.id
    db.session.commit()
    assert [tag.title for tag in db.session.query(Tag)] == ["Café"]


@pytest.mark.parametrize("taken, create_as, rename_to, other, own_variants", [
    ("VIP", "vip", "VIP", "Berlin", ("vip", "BERLIN")),
    ("Café", "cafe", "CAFE", "Bar", ("Cafe", "Bär")),
], ids=["case", "accents"])
def test_a_variant_of_a_taken_title_conflicts_but_each_tag_may_take_its_own(owner, taken, create_as, rename_to,
                                                                             other, own_variants):
    tags = services.create_tag(owner, taken), services.create_tag(owner, other)
    why = "; tag names are the same when they differ only in case or accents"
    with pytest.raises(ConflictError) as refused:
        services.create_tag(owner, create_as)
    assert refused.value.message == f"a tag named {taken!r} already exists{why}"  # the tag that has it
    with pytest.raises(ConflictError) as refused:
        services.rename_tag(owner, tags[1].id, rename_to)
    assert refused.value.message.startswith(f"a tag named {taken!r} already exists")
    with pytest.raises(ConflictError) as refused:
        services.create_tag(owner, taken)
    assert refused.value.message == f"a tag named {taken!r} already exists"
    for tag, variant in zip(tags, own_variants):
        assert services.rename_tag(owner, tag.id, variant).title == variant


def test_other_letters_make_other_tags(owner):
    titles = ["Cafe", "Caff", "Cafe 2", "が", "कुल", "कल"]
    assert len({services.save_tag(owner, title).id for title in titles}) == len(titles)


def test_tag_key_folds_case_accents_and_compatibility_forms():
    assert {services.tag_key(t) for t in ["Straße", "STRASSE", "strasse"]} == {"strasse"}
    assert services.tag_key("ﬁsh  Ёлка") == "fish елка"


def test_a_title_that_spells_out_longer_than_its_column_is_saved(owner):
    title = "ß" * services.MAX_TAG_TITLE  # its key, "ss" per letter, is cut to the column's length
    assert services.tag_key(title) == "s" * services.MAX_TAG_TITLE
    tag = services.save_tag(owner, title)
    db.session.commit()
    assert services.save_tag(owner, "ẞ" * services.MAX_TAG_TITLE).id == tag.id  # capital sharp s


def test_tag_titles_are_per_account(owner, stranger):
    assert services.save_tag(owner, "VIP").id != services.save_tag(stranger, "VIP").id


@pytest.mark.parametrize("title", [None, "", "   ", "x" * 101])
def test_bad_tag_titles_are_refused(owner, title):
    with pytest.raises(ValidationError):
        services.save_tag(owner, title)


def test_deleting_a_tag_keeps_its_contacts(owner):
    vip = services.create_tag(owner, "VIP")
    contact = services.save_contact(owner, "+4915752982212", vip.id, name="Anna")
    services.delete_tag(owner, vip.id)
    db.session.commit()
    assert db.session.get(Contact, contact.id) is not None
    assert db.session.query(contact_tags).count() == 0


def test_a_tag_a_newsletter_still_needs_is_not_deleted(owner):
    device = create_device(owner)
    tags = {title: services.create_tag(owner, title) for title in ("VIP", "Draft", "Paused", "Running", "Fixed")}

    def newsletter(title, status, tag, fanned_out=False):
        db.session.add(Paket(account_id=owner.id, title=title, body="b", device_id=device.id, status=status,
                             tags=[tag], fanout_completed_at=utcnow() if fanned_out else None))

    newsletter("Spring sale", "scheduled", tags["VIP"])
    newsletter("Half draft", "draft", tags["Draft"])
    newsletter("Half paused", "paused", tags["Paused"])        # paused during its fan-out
    newsletter("Half running", "running", tags["Running"])
    newsletter("Old news", "finished", tags["Fixed"], fanned_out=True)
    newsletter("Going out", "running", tags["Fixed"], fanned_out=True)  # its audience is fixed: the tag may go
    services.save_contact(owner, "+4915752982212", tags["VIP"].id, name="Anna")
    services.tag_contacts(owner, [c.id for c in services.search_contacts(owner).contacts], tags["Draft"].id)
    db.session.commit()
    before = db.session.query(paket_tags).count(), db.session.query(contact_tags).count()
    with pytest.raises(ConflictError, match="tag “VIP” is the audience of newsletter “Spring sale” "
                                            r"\(scheduled\); take the tag out of it or cancel it first"):
        services.delete_tag(owner, tags["VIP"].id)
    for title, status in (("Draft", "draft"), ("Paused", "paused"), ("Running", "running")):
        with pytest.raises(ConflictError, match=f"“Half {status}” \\({status}\\)"):
            services.delete_tag(owner, tags[title].id)
    assert (db.session.query(paket_tags).count(), db.session.query(contact_tags).count()) == before == (6, 2)
    assert db.session.query(Tag).count() == 5
    services.delete_tag(owner, tags["Fixed"].id)
    assert db.session.query(Tag).count() == 4


def test_tag_counts_distinguish_reachable(owner):
    vip = services.save_tag(owner, "VIP")
    services.save_tag(owner, "Empty")
    services.save_contact(owner, "+4915752982212", vip.id)
    stopped = services.save_contact(owner, "+4915752982213", vip.id)
    stopped.opted_out = True
    db.session.flush()
    counts = {c.tag.title: (c.contacts, c.reachable) for c in services.tags_with_counts(owner)}
    assert counts == {"VIP": (2, 1), "Empty": (0, 0)}


def test_save_contact_upserts_by_normalised_number(owner):
    owner.default_region = "DE"
    vip = services.save_tag(owner, "VIP")
    berlin = services.save_tag(owner, "Berlin")
    first = services.save_contact(owner, "0157 52982212", vip.id, name="Anna")
    second = services.save_contact(owner, "+49 157 52982212", str(berlin.id))
    assert second.id == first.id
    assert first.phone == "+4915752982212" and first.phone_raw == "0157 52982212"
    assert first.name == "Anna"  # an empty name does not erase the stored one
    assert {t.title for t in first.tags} == {"VIP", "Berlin"}


def test_save_contact_with_foreign_or_unknown_tag_is_not_found(owner, stranger):
    foreign = services.save_tag(stranger, "Theirs")
    for tag_id in (foreign.id, 999999):
        with pytest.raises(NotFoundError):
            services.save_contact(owner, "+4915752982212", tag_id)
    with pytest.raises(ValidationError):
        services.save_contact(owner, "+4915752982212", "abc")
    with pytest.raises(ValidationError):
        services.save_contact(owner, "no digits", None)
    assert db.session.query(Contact).count() == 0


def test_contact_crud(owner):
    vip = services.save_tag(owner, "VIP")
    contact = services.create_contact(owner, "+4915752982212", "Anna  Schmidt", [vip.id])
    assert contact.name == "Anna Schmidt"
    with pytest.raises(ConflictError):
        services.create_contact(owner, "+49 1575 2982212")
    other = services.create_contact(owner, "+4915752982299")
    with pytest.raises(ConflictError):
        services.update_contact(owner, other.id, phone="+4915752982212")
    services.update_contact(owner, contact.id, name="Anna S.", tag_ids=[])
    assert contact.name == "Anna S." and contact.tags == []
    services.delete_contact(owner, contact.id)
    with pytest.raises(NotFoundError):
        services.get_contact(owner, contact.id)


def _steps_to_delete_a_contact(owner, messages: int) -> int:
    """SQLite virtual-machine steps (in hundreds) that deleting one contact takes, with ``messages`` messages stored:
    the database's own work, counted instead of timed."""
    from smsplatform.messaging.service import accept_message_ids

    device = create_device(owner)
    for start in range(0, messages, 1000):
        accept_message_ids(owner, [{"sendto": f"+49151{start + i:08d}", "body": "x", "device_id": device.id}
                                   for i in range(min(1000, messages - start))])
    contact = services.create_contact(owner, "+4915752982212")
    db.session.commit()
    raw = db.session.connection().connection.driver_connection
    steps = []
    raw.set_progress_handler(lambda: steps.append(1), 100)
    try:
        services.delete_contact(owner, contact.id)
        db.session.flush()
    finally:
        raw.set_progress_handler(None, 0)
    db.session.commit()
    return len(steps)


@pytest.mark.skipif(database_is_mariadb(), reason="SQLite's virtual machine: MariaDB indexes a foreign key itself")
def test_deleting_a_contact_does_not_read_every_message(owner, make_account):
    """messages.contact_id is ON DELETE SET NULL, so deleting a contact looks up its messages. Without an index
    SQLite read every message for each contact deleted: 0.28 s per contact at a million messages, 14 s to
    delete an account of 50 contacts, all of it holding the database's one write lock."""
    few = _steps_to_delete_a_contact(owner, 100)
    many = _steps_to_delete_a_contact(make_account(email="many@example.com")[0], 5000)
    assert many <= few + 2, (few, many)


def test_bulk_tag_and_untag_are_all_or_nothing(owner, stranger):
    vip = services.save_tag(owner, "VIP")
    mine = [services.create_contact(owner, f"+49157529822{i:02d}").id for i in range(5)]
    theirs = services.create_contact(stranger, "+4915752982299").id
    with pytest.raises(NotFoundError):
        services.tag_contacts(owner, mine + [theirs], vip.id)
    assert db.session.query(contact_tags).count() == 0
    assert services.tag_contacts(owner, mine, vip.id) == 5
    assert services.tag_contacts(owner, mine, vip.id) == 0
    assert services.untag_contacts(owner, mine[:2], vip.id) == 2
    assert services.search_contacts(owner, tag_id=vip.id).total == 3


def test_ids_are_read_as_parse_row_id_reads_them_signed(owner):
    """Spaces and a sign are allowed (a negative id names no contact); anything else that is not digits is
    refused; duplicates count once; a number past a BIGINT is not found, whatever its length."""
    vip = services.save_tag(owner, "VIP")
    mine = [services.create_contact(owner, f"+49157529822{i:02d}").id for i in range(2)]
    assert services.tag_contacts(owner, [f" {mine[0]} ", str(mine[0]), mine[0], f"+{mine[1]}"], vip.id) == 2
    assert services.tags_by_ids(owner, [vip.id, f" {vip.id}"]) == [vip]
    for bad in ("1_0", "1.0", "", True):
        with pytest.raises(ValidationError, match="contact_ids must be a number, got"):
            services.untag_contacts(owner, [mine[0], bad], vip.id)
    for missing, named in (("-1", "contact -1"), ("9" * 19, f"contact_ids {'9' * 19}"),
                           ("9" * 30, f"contact_ids {'9' * 30}")):
        with pytest.raises(NotFoundError, match=f"{named} not found"):
            services.untag_contacts(owner, [mine[0], missing], vip.id)
    with pytest.raises(NotFoundError, match="tag -5 not found"):
        services.get_tag(owner, "-5")
    assert services.search_contacts(owner, tag_id=vip.id).total == 2  # nothing untagged by the refusals


def test_search_by_text_tag_and_opt_out_never_crosses_accounts(owner, stranger):
    vip = services.save_tag(owner, "VIP")
    services.save_contact(owner, "+4915752982212", vip.id, name="Anna Schmidt")
    services.save_contact(owner, "+4915752982213", None, name="Bob 100%")
    services.save_contact(stranger, "+4915752982214", None, name="Anna Other")
    assert [c.name for c in services.search_contacts(owner, query="anna").contacts] == ["Anna Schmidt"]
    assert services.search_contacts(owner, query="2982213").contacts[0].name == "Bob 100%"
    assert services.search_contacts(owner, query="%").total == 1  # a literal percent sign, not a wildcard
    assert services.search_contacts(owner, opted_out=False).total == 2
    assert services.search_contacts(owner, tag_id=vip.id).total == 1
    with pytest.raises(NotFoundError):
        services.search_contacts(owner, tag_id=services.save_tag(stranger, "X").id)


@pytest.mark.parametrize("typed, name", [
    ("müller", "Jürgen Müller"), ("MÜLLER", "Jürgen Müller"), ("jürgen m", "Jürgen Müller"),
    ("JÜRGEN", "Jürgen Müller"), ("ÖDÖN", "Ödön Σωκράτης"), ("σωκράτης", "Ödön Σωκράτης"),
    ("ΣΩΚΡΆΤΗΣ", "Ödön Σωκράτης"),
])
def test_search_ignores_the_case_of_every_letter_not_only_ascii(owner, typed, name):
    services.save_contact(owner, "+4915752982212", None, name="Jürgen Müller")
    services.save_contact(owner, "+4915752982213", None, name="Ödön Σωκράτης")
    services.save_contact(owner, "+4915752982214", None, name="Anna")
    db.session.commit()
    found = services.search_contacts(owner, query=typed)
    assert [c.name for c in found.contacts] == [name] and found.total == 1


@pytest.mark.parametrize("typed, names", [
    ("Muller", ["Jürgen Müller", "Muller & Co"]), ("MULLER", ["Jürgen Müller", "Muller & Co"]),
    ("Müller", ["Jürgen Müller", "Muller & Co"]), ("jurgen", ["Jürgen Müller"]), ("odon", ["Ödön Σωκράτης"]),
    ("σωκρατης", ["Ödön Σωκράτης"]), ("ΣΩΚΡΑΤΗΣ", ["Ödön Σωκράτης"]), ("ｍüｌｌｅｒ", ["Jürgen Müller", "Muller & Co"]),
    ("ZOE", ["Zoë Ёлкина"]), ("ёлкина", ["Zoë Ёлкина"]), ("елкина", ["Zoë Ёлкина"]),
    # MariaDB matches a character against one: no expansion, and a letter of its own stays apart.
    ("STRAßE", ["Hauptstraße"]), ("strasse", []), ("oeuvre", []), ("Œ", ["Œuvre"]), ("Йорк", []), ("% &", []),
    ("％", ["100% Anna"]), ("_", []),
])
def test_search_ignores_accents_as_mariadb_s_collation_does_on_both_databases(owner, typed, names):
    """MariaDB's utf8mb4_unicode_ci decides what a search finds; SQLite folds each character to its class
    (db_casefold), and finds the same."""
    for index, name in enumerate(["Jürgen Müller", "Muller & Co", "Ödön Σωκράτης", "Zoë Ёлкина", "Hauptstraße",
                                  "Œuvre", "Иорк", "100% Anna"]):
        services.save_contact(owner, f"+49157529822{index:02d}", None, name=name)
    db.session.commit()
    found = services.search_contacts(owner, query=typed)
    assert sorted(c.name for c in found.contacts) == sorted(names) and found.total == len(names)


@pytest.mark.skipif(not database_is_mariadb(), reason="reads the classes from MariaDB's collation")
def test_the_classes_sqlite_folds_to_are_those_of_the_contacts_column_s_mariadb_collation(app):
    """collation_classes.txt is what this server's collation of ``contacts.name`` says (scripts/collation-classes
    writes it again when MariaDB's answer changes)."""
    connection = db.session.connection()
    collation = connection.execute(text(
        "SELECT collation_name FROM information_schema.columns WHERE table_schema = DATABASE() "
        "AND table_name = 'contacts' AND column_name = 'name'")).scalar()
    assert collation == db_casefold.COLLATION
    shipped = db_casefold.parse_classes(db_casefold.CLASSES_FILE.read_text(encoding="ascii").splitlines())
    assert db_casefold.collation_classes(connection, collation) == shipped


def test_the_classes_file_reads_back_as_written():
    classes = [[0x41, 0x61, 0xC0, 0xC1, 0xC2, 0xC3], [0x20, 0xA0, 0x2000, 0x2001], [0x25, 0xFF05]]
    assert db_casefold.parse_classes(db_casefold.format_classes(classes).splitlines()) == classes
    assert db_casefold.format_classes(classes).splitlines()[0] == "0041 0061 00C0-00C3"


@pytest.mark.parametrize("typed", ["015752982212", "0157 5298 2212", "0157/52982212", "+49 1575 2982212",
                                   "0049157-52982212", "52982212"])
def test_search_finds_a_number_in_any_spelling(owner, stranger, typed):
    owner.default_region = "DE"
    services.save_contact(owner, "+4915752982212", None, name="Anna")
    services.save_contact(owner, "+4915752982299", None, name="Ben")
    stranger.default_region = "DE"
    services.save_contact(stranger, "+4915752982212", None, name="Not mine")
    assert [c.name for c in services.search_contacts(owner, query=typed).contacts] == ["Anna"]


def test_search_text_that_is_no_number_or_no_number_of_the_region_still_searches(owner):
    services.save_contact(owner, "+4915752982212", None, name="Room 1 reception")
    assert [c.name for c in services.search_contacts(owner, query="Room 1").contacts] == ["Room 1 reception"]
    assert services.search_contacts(owner, query="0157 5298 2212").total == 0  # no region: no national numbers
