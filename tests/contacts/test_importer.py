"""CSV import: format detection, per-row report, merge, modes, chunk transactions and hostile files."""
import codecs
import io
import os
import zipfile

import pytest
from sqlalchemy import insert
from sqlalchemy.exc import OperationalError

from smsplatform.contacts import importer, listfile, optout, services
from smsplatform.errors import NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.messaging import statuses
from smsplatform.models import Contact, Message, Paket, Tag, contact_tags
from tests.conftest import create_device, database_is_mariadb
from tests.support.races import after_statement


def run(owner, data: bytes | str, **kwargs):
    raw = data.encode() if isinstance(data, str) else data
    commits = []

    def commit():
        db.session.commit()
        commits.append(1)

    report = importer.import_contacts(owner, io.BytesIO(raw), commit=commit, **kwargs)
    return report, len(commits)


def contacts_by_phone():
    return {c.phone: c for c in db.session.query(Contact)}


def tag_titles(contact):
    return sorted(t.title for t in contact.tags)


def test_basic_import_with_tags_names_and_a_row_report(owner):
    report, commits = run(owner, (
        "Name,Phone,Tags\n"
        "Anna Schmidt,0157 52982212,VIP|Berlin\n"
        "Bob,+49 157 52982213,vip; Hamburg\n"
        "Nobody,,VIP\n"
        "Eve,not a number,VIP\n"
        "\n"
        "Carl,0157-52982214,\n"
    ))
    assert (report.rows, report.created, report.invalid, commits) == (5, 3, 2, 1)
    assert [(e.line, e.value, e.reason) for e in report.errors] == [
        (4, "", "phone is empty"),
        (5, "not a number", "phone contains characters that are not part of a phone number"),
    ]
    contacts = contacts_by_phone()
    assert tag_titles(contacts["+4915752982212"]) == ["Berlin", "VIP"]
    assert tag_titles(contacts["+4915752982213"]) == ["Hamburg", "VIP"]  # "vip" is the existing tag
    assert contacts["+4915752982212"].phone_raw == "0157 52982212"
    assert contacts["+4915752982214"].name == "Carl" and contacts["+4915752982214"].tags == []
    assert db.session.query(Tag).count() == 3


@pytest.mark.parametrize("delimiter", [";", "\t", ","])
def test_delimiter_is_detected_and_bom_is_ignored(owner, delimiter):
    text = f"\ufeffphone{delimiter}name{delimiter}tags\n+4915752982212{delimiter}Zoë{delimiter}\"A,B\"\n"
    report, _ = run(owner, text.encode("utf-8"))
    contact = contacts_by_phone()["+4915752982212"]
    assert report.created == 1 and contact.name == "Zoë" and tag_titles(contact) == ["A", "B"]


@pytest.mark.parametrize("header, phone_column", [
    ("Telefon;Name;Tags", "Telefon"), ("Telefonnummer;Name;Gruppe", "Telefonnummer"),
    ("HANDY;name;Gruppen", "HANDY"), ("Mobil;Name;Schlagwörter", "Mobil"),
    ("Mobilnummer;Name;SCHLAGWORTER", "Mobilnummer"), ("Rufnummer;Name;Stichwörter", "Rufnummer"),
    ("Nummer;Name;Kategorien", "Nummer"), ("Tel.-Nr.;Name;Tags", "Tel.-Nr."),
    ("Handy-Nummer;Name;Tags", "Handy-Nummer"), ("mobile_number;full_name;Labels", "mobile_number"),
    (" Phone  Number ;Full-Name;TAGS", "Phone Number"), ("Téléphone;Nom complet;Groupes", "Téléphone"),
    ("TELEFONO;Name;grupos", "TELEFONO"),
])
def test_header_names_are_recognised_in_german_and_other_spellings(owner, header, phone_column):
    report, _ = run(owner, f"{header}\n0157 52982212;Anna Müller;VIP|Kunden\n")
    contact = contacts_by_phone()["+4915752982212"]
    assert (contact.name, tag_titles(contact)) == ("Anna Müller", ["Kunden", "VIP"])
    assert report.columns["phone"] == [phone_column] and report.ignored_columns == []


@pytest.mark.parametrize("header, row, name, columns", [
    ("Vorname;Nachname;Handy", "Anna;Müller;0157 52982212", "Anna Müller", ["Vorname", "Nachname"]),
    ("Nachname;Vorname;Handy", "Müller;Anna;0157 52982212", "Anna Müller", ["Vorname", "Nachname"]),
    # German forms say "Name" for the family name beside "Vorname"
    ("Name;Vorname;Telefon", "Müller;Anna;0157 52982212", "Anna Müller", ["Vorname", "Name"]),
    ("Vorname;Telefon", "Anna;0157 52982212", "Anna", ["Vorname"]),
    ("Nachname;Telefon", "Müller;0157 52982212", "Müller", ["Nachname"]),
    ("First Name,Last Name,Phone", "Anna,,0157 52982212", "Anna", ["First Name", "Last Name"]),
    # a whole-name column wins over first and last names
    ("Vollständiger Name;Vorname;Nachname;Handy", "Dr. Anna Müller;Anna;Müller;0157 52982212", "Dr. Anna Müller",
     ["Vollständiger Name"]),
])
def test_first_and_last_name_columns_make_the_name(owner, header, row, name, columns):
    report, _ = run(owner, f"{header}\n{row}\n")
    assert contacts_by_phone()["+4915752982212"].name == name
    assert report.columns["name"] == columns


def test_a_mobile_column_is_preferred_to_a_landline_one_and_the_report_names_the_columns(owner):
    """Each row's number comes from the mobile column, or from the other phone column where that is empty
    (address lists often fill only one of them); a row with neither is skipped."""
    report, _ = run(owner, "Firma;Telefon;Handy;E-Mail;Vorname;Name\n"
                           "Bäckerei;030 1234567;0157 52982212;a@example.com;Anna;Müller\n"
                           "Bäckerei;0171 7654321;;b@example.com;Bernd;Meier\n"
                           "Bäckerei;;;c@example.com;Carla;Kurz\n")
    assert {phone: c.name for phone, c in contacts_by_phone().items()} == {
        "+4915752982212": "Anna Müller", "+491717654321": "Bernd Meier"}
    assert [(e.line, e.reason) for e in report.errors] == [(4, "phone is empty")]
    assert report.columns == {"phone": ["Handy", "Telefon"], "name": ["Vorname", "Name"]}
    assert report.ignored_columns == ["Firma", "E-Mail"]


def test_rows_a_missing_quote_swallowed_are_reported_not_lost(owner):
    report, _ = run(owner, 'phone,name\n'
                           '+4915752982212,"Anna\n'           # the quote is closed only on line 4
                           '+4915752982213,Bob\n'
                           '+4915752982214,Carl"\n'
                           '+4915752982215,Dan\n'
                           '+4915752982216,"Eve\n'            # and this one never
                           '+4915752982217,Fay\n')
    assert [(e.line, e.value, e.reason) for e in report.errors] == [
        (2, "+4915752982212", 'lines 2–4 were read as one row: a cell\'s quote (") opened on line 2 is closed only on '
                              'line 4, or never; check the quotes on line 2'),
        (6, "+4915752982216", 'lines 6–7 were read as one row: a cell\'s quote (") opened on line 6 is closed only on '
                              'line 7, or never; check the quotes on line 6'),
    ]
    assert list(contacts_by_phone()) == ["+4915752982215"]


def test_a_missing_quote_in_a_one_column_file_is_reported_too(owner):
    report, _ = run(owner, 'phone\n"+4915752982212\n+4915752982213"\n+4915752982214\n')
    assert [(e.line, e.reason[:35]) for e in report.errors] == [(2, "lines 2–3 were read as one row: a c")]
    assert list(contacts_by_phone()) == ["+4915752982214"]


def test_cells_with_line_breaks_are_still_read_and_later_rows_keep_their_line_numbers(owner):
    report, _ = run(owner, 'Name;Handy;Adresse;Notiz\r\n'
                           '"Müller GmbH\r\nEinkauf";0157 52982212;"Hauptstr. 1\r\n12345 Berlin";"Tel.\r\n030 1234567"\r\n'
                           'Bob;kein Handy;;\r\n')
    assert contacts_by_phone()["+4915752982212"].name == "Müller GmbH Einkauf"
    assert [(e.line, e.value) for e in report.errors] == [(6, "kein Handy")]  # the row above has lines 2–5


def test_mixed_line_endings_are_read_and_counted(owner):
    report, _ = run(owner, b"phone,name\r\n+4915752982212,A\n+4915752982213,B\r+4915752982214,C\r\n\nbad,D\r"
                           b"+4915752982215,E")
    assert (report.rows, report.created) == (5, 4)
    assert [(e.line, e.value) for e in report.errors] == [(6, "bad")]


def test_a_phone_excel_turned_into_scientific_notation_is_named_as_such(owner):
    report, _ = run(owner, "Telefon;Name\n4,91575E+12;Anna\n4.91575e+12;Bob\n")
    assert [e.line for e in report.errors] == [2, 3]
    assert all(e.reason.startswith("phone was saved as a number in scientific notation, which lost its last digits")
               for e in report.errors)


def test_every_row_read_is_counted_once_created_updated_merged_or_skipped(owner):
    services.save_contact(owner, "+4915752982299", None, name="Old")
    db.session.commit()
    report, _ = run(owner, "Handy;Vorname;Gruppen\n"
                           "0157 52982212;Anna;VIP\n"        # created
                           "+49 157 52982212;;Neu\n"         # merged into the row above
                           "0157 52982299;Olaf;\n"           # updated
                           ";Ohne Nummer;\n"                 # skipped: no phone
                           "=1+2;Formel;\n"                  # skipped: formula
                           "0157 x;Falsch;\n"                # skipped: not a number
                           ";;\n"                            # blank: not a row
                           "-Anna-;@Café;+VIP\n", chunk_size=2)
    assert report.rows == report.created + report.updated + report.merged + report.invalid == 7
    assert [e.line for e in report.errors] == [5, 6, 7, 9]


@pytest.mark.parametrize("data, message", [
    (b"phone,name\n", "the file has only its header row, no contacts below it"),
    (b"Telefon;Name;Tags\r\n;;\r\n;;\r\n", "the file has only its header row, no contacts below it"),
    ("\ufeffHandy\r\n".encode("utf-16-le"), "the file has only its header row, no contacts below it"),
])
def test_a_file_with_only_its_header_is_refused(owner, data, message):
    with pytest.raises(ValidationError) as error:
        run(owner, data)
    assert message in error.value.message


def test_duplicates_merge_into_one_contact_with_the_union_of_tags_across_chunks(owner):
    rows = ["phone,name,tags", "+4915752982212,Anna,A", "0157 52982212,,B", "+4915752982299,X,",
            "+4915752982298,Y,", "+49 1575 2982212,Anna S.,C"]
    report, commits = run(owner, "\n".join(rows), chunk_size=2)
    contact = contacts_by_phone()["+4915752982212"]
    assert tag_titles(contact) == ["A", "B", "C"] and contact.name == "Anna S."
    assert db.session.query(Contact).count() == 3
    assert commits == 2 and report.merged == 1 and report.created == 3 and report.updated == 1


def test_import_into_chosen_tags_and_rerun_is_idempotent(owner):
    campaign = services.save_tag(owner, "Campaign")
    db.session.commit()
    text = "phone\n+4915752982212\n+4915752982213\n"
    run(owner, text, tag_ids=[campaign.id])
    report, _ = run(owner, text, tag_ids=[campaign.id])
    assert report.created == 0 and report.updated == 2
    assert db.session.query(contact_tags).count() == 2


def test_a_second_import_renames_every_contact_whose_name_changed(owner):
    """1,200 contacts in one chunk: more renames than one statement holds (500), each to its own name."""
    run(owner, "phone,name\n" + "".join(f"+49157{i:08d},Old {i}\n" for i in range(1200)))
    names = "".join(f"+49157{i:08d},{'' if i % 4 == 0 else f'New {i}'}\n" for i in range(1200))
    report, _ = run(owner, "phone,name\n" + names)
    assert report.created == 0 and report.updated == 1200
    db.session.expire_all()
    assert {c.phone: c.name for c in db.session.query(Contact)} == {
        f"+49157{i:08d}": f"Old {i}" if i % 4 == 0 else f"New {i}" for i in range(1200)}  # an empty cell keeps the name


def test_foreign_target_tag_is_refused_before_reading(owner, make_account):
    other = make_account(email="other@example.com")[0]
    foreign = services.save_tag(other, "Theirs")
    db.session.commit()
    with pytest.raises(NotFoundError):
        run(owner, "phone\n+4915752982212\n", tag_ids=[foreign.id])
    assert db.session.query(Contact).count() == 0


def test_an_upsert_import_never_clears_an_opt_out(owner):
    optout.handle_incoming(owner, "+4915752982212", "STOP")
    db.session.commit()
    run(owner, "phone,name,tags\n+4915752982212,Anna,VIP\n")
    contact = contacts_by_phone()["+4915752982212"]
    assert contact.opted_out and contact.opt_out_reason == "replied STOP" and tag_titles(contact) == ["VIP"]


def test_blocklist_mode_opts_out_new_and_existing_numbers_and_withdraws_their_newsletters(owner):
    existing = services.save_contact(owner, "+4915752982212", None, name="Anna")
    device = create_device(owner)
    paket = Paket(account_id=owner.id, title="t", body="b", device_id=device.id, status="running")
    db.session.add(paket)
    db.session.flush()
    pending = Message(account_id=owner.id, device_id=device.id, sendto="x", phone=existing.phone, body="b",
                      status=statuses.PENDING, ready=True, due_at=existing.created_at, paket_id=paket.id)
    db.session.add(pending)
    db.session.commit()
    report, _ = run(owner, "phone\n+4915752982212\n+4915752982213\n", mode="blocklist")
    assert report.opted_out == 2
    assert all(c.opted_out and c.opt_out_reason == importer.BLOCKLIST_REASON for c in contacts_by_phone().values())
    db.session.refresh(pending)
    assert pending.status == statuses.OPTED_OUT


@pytest.mark.parametrize("cell, reason", [
    ("=cmd|' /C calc'!A0", "phone looks like a spreadsheet formula"),
    ('=HYPERLINK("http://evil","4915752982212")', "phone looks like a spreadsheet formula"),
    ("@SUM(1+1)", "phone looks like a spreadsheet formula"),
    ("-2+3+4915752982212", "phone looks like a spreadsheet formula"),
    ("+49cmd", "phone contains characters that are not part of a phone number"),
])
def test_formulas_in_the_phone_column_are_rejected_rows(owner, cell, reason):
    report, _ = run(owner, f'phone,name\n"{cell.replace(chr(34), chr(34) * 2)}",x\n+4915752982212,ok\n')
    assert [(e.line, e.reason) for e in report.errors] == [(2, reason)]
    assert list(contacts_by_phone()) == ["+4915752982212"]


def test_names_and_tags_that_look_like_formulas_are_stored_as_text(owner):
    report, _ = run(owner, 'phone,name,tags\n+4915752982212,"=1+2",\n+4915752982213,-Anna-,"ok|+SUM(A1)"\n'
                           "+4915752982214,@Café Müller,-alt\n+4915752982215,\"=cmd|' /C calc'!A0\",@home\n")
    assert (report.created, report.invalid) == (4, 0)
    contacts = contacts_by_phone()
    assert [(contacts[p].name, tag_titles(contacts[p])) for p in sorted(contacts)] == [
        ("=1+2", []), ("-Anna-", ["+SUM(A1)", "ok"]), ("@Café Müller", ["-alt"]), ("=cmd|' /C calc'!A0", ["@home"]),
    ]


def test_the_apostrophe_an_export_puts_before_a_formula_is_dropped(owner):
    report, _ = run(owner, "phone;name;tags\n'+4915752982212;'=1+2;'-alt|'plain\n")
    contact = contacts_by_phone()["+4915752982212"]
    assert (report.created, contact.phone_raw, contact.name, tag_titles(contact)) == (
        1, "+4915752982212", "=1+2", ["'plain", "-alt"])


@pytest.mark.parametrize("data, message", [
    (b"name,email\nAnna,a@example.com\n", "one of them must be 'phone' (or 'mobile', 'Telefon', 'Handy'…); found 'name', 'email'"),
    (b"", "the file is empty"),
    (b"\n\n  \n", "the file is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(200), "not a CSV text file"),
    (bytes(range(256)) * 4, "not a CSV text file"),
    ("phone\n+4915752982212\n".encode("utf-16-le"), "not a CSV text file"),  # UTF-16 needs its byte-order mark
])
def test_unusable_files_are_refused_whole_with_a_clear_error(owner, data, message):
    with pytest.raises(ValidationError) as error:
        run(owner, data)
    assert message in error.value.message
    assert db.session.query(Contact).count() == 0


@pytest.mark.parametrize("data", [
    "phone;name\r\n0157 52982212;Müller € „Straße“\r\n".encode("cp1252"),  # Excel's "CSV (;)" on Windows
    "\ufeffphone\tname\r\n+4915752982212\tMüller € „Straße“\r\n".encode("utf-16-le"),  # Excel's "Unicode text"
    "\ufeffphone,name\n+4915752982212,Müller € „Straße“\n".encode("utf-16-be"),
    "\ufeffphone;name\n+4915752982212;Müller € „Straße“\n".encode("utf-8"),
    "phone;name\n+4915752982212;Müller € „Straße“\n".encode("utf-8"),
])
def test_windows_1252_and_utf16_files_are_read_as_excel_writes_them(owner, data):
    report, _ = run(owner, data)
    assert (report.created, report.invalid) == (1, 0)
    assert contacts_by_phone()["+4915752982212"].name == "Müller € „Straße“"


@pytest.mark.parametrize("names", [
    ["Müller", "Jürgen Bäcker", "Schröder", "Straße"],
    ["MÜLLER", "JÜRGEN BÄCKER"],
    ["Hélène Lefèvre", "François", "Noël"],
    ["José Muñoz", "Martínez", "Peña"],
    ["Øyvind Sørensen", "Åsa Ångström"],
    ["Seán O’Brien", "Zoë d’Arc"],
    ["O’Brien", "D’Angelo"],  # apostrophes alone
    ["María García", "Rodríguez"],  # Mac Roman's í is Windows-1252's ’, but before a small letter
    ["Plain", "Names"],       # nothing to tell them apart
])
@pytest.mark.parametrize("encoding", ["cp1252", "mac_roman"])
def test_an_8_bit_file_from_excel_on_windows_or_on_a_mac_keeps_its_accents(owner, names, encoding):
    if encoding == "mac_roman" and "".join(names).isascii():
        pytest.skip("the same bytes in both")
    rows = "".join(f"+49157529{i:05d};{name}\r\n" for i, name in enumerate(names))
    report, _ = run(owner, ("phone;name\r\n" + rows).encode(encoding))
    assert (report.created, report.invalid) == (len(names), 0)
    assert [contacts_by_phone()[f"+49157529{i:05d}"].name for i in range(len(names))] == names


def test_a_mac_roman_file_whose_accents_come_after_the_first_block_is_told_by_them(owner):
    rows = "".join(f"+49157529{i:05d};Person {i}\n" for i in range(5000))  # about 120 kB of ASCII first
    report, _ = run(owner, ("phone;name\n" + rows + "+4915752999999;Jürgen Müller\n").encode("mac_roman"))
    assert (report.created, report.invalid) == (5001, 0)
    assert contacts_by_phone()["+4915752999999"].name == "Jürgen Müller"


def test_a_windows_1252_file_is_read_whole_past_the_first_block(owner):
    rows = "".join(f"+49157529{i:05d};Jürgen {i}\n" for i in range(5000))  # about 130 kB: two blocks and more
    report, _ = run(owner, ("phone;name\n" + rows + "+4915752999999;Ärger\n").encode("cp1252"))
    assert (report.created, report.invalid) == (5001, 0)
    assert contacts_by_phone()["+4915752999999"].name == "Ärger"
    assert contacts_by_phone()["+4915752900000"].name == "Jürgen 0"


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in entries.items():
            archive.writestr(name, content)
    return buffer.getvalue()


@pytest.mark.parametrize("data, message", [
    (_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}),
     "the Excel workbook could not be read (damaged, or not a plain .xlsx); save it as CSV"),
    (_zip({"[Content_Types].xml": b"<Types/>", "xl/workbook.bin": b"\x83\x01"}),
     "not a CSV text file: this is an Excel binary workbook (.xlsb); save it as 'Excel Workbook (.xlsx)'"),
    (_zip({"mimetype": b"application/vnd.oasis.opendocument.spreadsheet", "content.xml": b"<x/>"}),
     "this is an OpenDocument spreadsheet; save it as CSV"),
    (_zip({"people.csv": b"phone\n+4915752982212\n"}), "this is a ZIP archive"),
    (b"PK\x03\x04 truncated", "this is a ZIP archive"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(500), "this is an Excel 97-2003 workbook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + os.urandom(200), "not a CSV text file: this is a PNG image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF" + os.urandom(200), "this is a JPEG image"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n", "this is a PDF document"),
    (bytes(range(1, 256)) * 4, "not a CSV text file (binary data on line 1)"),  # no NUL, nor UTF-8: read as 1252
    (b"phone\n+4915752982212\n\x81\n", "not UTF-8 or Windows-1252 text (invalid bytes on line 3)"),
    (b"phone\r+4915752982212\r\x07\r", "binary data on line 3"),  # lines counted at a lone CR too
    (codecs.BOM_UTF16_LE + "phone\n+49157\n".encode("utf-16-le") + b"\x00\xdc", "not UTF-16 text (invalid bytes on line 3)"),
    (codecs.BOM_UTF16_LE + "phone\n+49157\n".encode("utf-16-le") + b"\x31", "it ends in the middle of a character"),
    (codecs.BOM_UTF16_LE + "phone\n\x01".encode("utf-16-le"), "binary data on line 2"),
    (codecs.BOM_UTF16_LE + "  \r\n".encode("utf-16-le"), "the file is empty"),
    (codecs.BOM_UTF8, "the file is empty"),
])
def test_files_that_are_no_csv_text_are_refused_saying_what_they_are(owner, data, message):
    with pytest.raises(ValidationError) as error:
        run(owner, data)
    assert message in error.value.message
    assert db.session.query(Contact).count() == 0


def test_mixed_encodings_change_nothing(owner):
    good = "".join(f"+49157529{i:05d},Zoë\n" for i in range(50)).encode("utf-8")
    data = b"phone,name\n" + good + "+4915752900999,Zoë\n".encode("latin-1")
    with pytest.raises(ValidationError) as error:
        run(owner, data, chunk_size=10)
    assert "line 52" in error.value.message
    assert db.session.query(Contact).count() == 0


def test_a_broken_csv_structure_is_refused_before_writing(owner):
    data = "phone,name\n+4915752982212,Anna\n+4915752982213,\"" + "x" * 200_000 + "\"\n"
    with pytest.raises(ValidationError) as error:
        run(owner, data)
    assert "not valid CSV near line 3" in error.value.message
    assert db.session.query(Contact).count() == 0


class _Unseekable(io.RawIOBase):
    """An upload stream that cannot seek (its size is only known by reading it)."""

    def __init__(self, size: int):
        self.left = size

    def readable(self):
        return True

    def readinto(self, buffer):
        n = min(len(buffer), self.left)
        buffer[:n] = b"1" * n
        self.left -= n
        return n


def test_oversized_files_are_refused(owner):
    fifty_mb = 50 * 1024 * 1024
    big = io.BytesIO(b"phone\n" + b"4915752982212\n" * (fifty_mb // 14))
    with pytest.raises(ValidationError) as error:
        importer.import_contacts(owner, big, commit=db.session.commit)
    assert "the limit is 20 MB" in error.value.message
    with pytest.raises(ValidationError) as error:
        importer.import_contacts(owner, io.BufferedReader(_Unseekable(fifty_mb)), commit=db.session.commit)
    assert "larger than the limit" in error.value.message
    with pytest.raises(ValidationError):
        run(owner, "phone\n+4915752982212\n", max_bytes=10)
    assert db.session.query(Contact).count() == 0


def test_unseekable_stream_within_the_limit_is_imported(owner):
    class Stream(io.RawIOBase):
        def __init__(self):
            self.data = io.BytesIO(b"phone\n+4915752982212\n")

        def readable(self):
            return True

        def readinto(self, buffer):
            chunk = self.data.read(len(buffer))
            buffer[:len(chunk)] = chunk
            return len(chunk)

    report = importer.import_contacts(owner, io.BufferedReader(Stream()), commit=db.session.commit)
    assert report.created == 1


def test_a_failing_chunk_leaves_nothing_of_itself_and_reports_progress(owner):
    rows = "".join(f"+49157529{i:05d},Name {i},T{i % 3}\n" for i in range(10))
    calls = []

    def commit():
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("COMMIT", {}, Exception("disk full"))
        db.session.commit()

    with pytest.raises(importer.ImportAborted) as error:
        importer.import_contacts(owner, io.BytesIO(("phone,name,tags\n" + rows).encode()), commit=commit, chunk_size=4)
    assert error.value.report.chunks == 1 and "line 9" in error.value.message
    db.session.expire_all()
    assert sorted(contacts_by_phone()) == [f"+49157529{i:05d}" for i in range(4)]
    assert db.session.query(contact_tags).count() == 4
    # Re-running the whole file completes it.
    report, _ = run(owner, "phone,name,tags\n" + rows, chunk_size=4)
    assert db.session.query(Contact).count() == 10 and report.created == 6


def test_a_chunk_meeting_a_number_saved_meanwhile_is_written_again_and_the_import_goes_on(owner):
    """Another call (savecontact, the contact form) commits one of the chunk's numbers between the chunk's read
    of the stored contacts and its insert: the unique key refuses the insert; the chunk is rolled back and
    written again, now updating that contact, instead of aborting the import.

    On SQLite only a chunk that locks no tag leaves that moment open: locking one takes the database's
    write lock for the whole chunk. On MariaDB the tag given to every row is linked again on the retry."""
    rows = "".join(f"+49157529{i:05d},Name {i}\n" for i in range(6))
    tags = [services.save_tag(owner, "Leads")] if database_is_mariadb() else []
    db.session.commit()
    save_one_meanwhile = after_statement("SELECT contacts.phone", lambda other: other.execute(
        insert(Contact).values(account_id=owner.id, phone="+4915752900003", phone_raw="0157 52900003",
                               name="Saved meanwhile")))
    with save_one_meanwhile as inserted:
        report, commits = run(owner, "phone,name\n" + rows, tag_ids=[tag.id for tag in tags])
    assert inserted
    assert (report.created, report.updated, report.chunks, commits) == (5, 1, 1, 1)
    db.session.expire_all()
    contacts = contacts_by_phone()
    assert len(contacts) == 6 and contacts["+4915752900003"].name == "Name 3"
    assert all(tag_titles(contact) == [tag.title for tag in tags] for contact in contacts.values())


def test_bad_mode_is_refused(owner):
    with pytest.raises(ValidationError):
        run(owner, "phone\n+4915752982212\n", mode="replace")


def test_tags_differing_in_case_or_accents_are_one_tag_in_an_import(owner):
    services.save_tag(owner, "Cafe")
    db.session.commit()
    report, _ = run(owner, "phone,tags\n+4915752982212,Café|CAFE\n+4915752982213,café\n")
    assert report.created == 2 and report.invalid == 0
    assert {t.title for t in db.session.query(Tag)} == {"Cafe"}  # case and accents do not count, on any database
    assert all(c.tags for c in contacts_by_phone().values())


def test_titles_only_the_database_collation_equates_use_its_tag(owner):
    services.save_tag(owner, "カフェ")
    db.session.commit()
    report, _ = run(owner, "phone,tags\n+4915752982212,かふぇ|カフェ\n+4915752982213,かふぇ\n")
    assert report.created == 2 and report.invalid == 0
    titles = {t.title for t in db.session.query(Tag)}
    # MariaDB's collation equates kana, tag_key does not
    assert titles == ({"カフェ"} if database_is_mariadb() else {"カフェ", "かふぇ"})
    assert all(c.tags for c in contacts_by_phone().values())


def test_an_opted_out_column_opts_those_rows_out_and_never_clears_an_opt_out(owner):
    services.save_contact(owner, "+4915752982212", None, name="Anna")
    stays_out = services.save_contact(owner, "+4915752982213", None, name="Bob")
    optout.opt_out_contact(owner, stays_out, "STOP by SMS")
    device = create_device(owner)
    paket = Paket(account_id=owner.id, title="t", body="b", device_id=device.id, status="running")
    db.session.add(paket)
    db.session.flush()
    pending = [Message(account_id=owner.id, device_id=device.id, sendto="x", phone=phone, body="b",
                       status=statuses.PENDING, ready=True, due_at=paket.created_at, paket_id=paket.id)
               for phone in ("+4915752982212", "+4915752982214")]
    db.session.add_all(pending)
    db.session.commit()
    report, _ = run(owner, "phone;Opted out;name\n+4915752982212;yes;\n+4915752982213;no;\n+4915752982214;Ja;Carl\n"
                           "+4915752982215;;Dora\n+4915752982216;x;\n+4915752982217;maybe;\n")
    assert (report.created, report.updated, report.opted_out, report.invalid) == (3, 2, 3, 1)
    assert report.columns["opted_out"] == ["Opted out"]
    assert [(e.line, e.reason) for e in report.errors] == [(7, "opted out must be yes or no (or empty), not 'maybe'")]
    contacts = contacts_by_phone()
    assert {p: (c.opted_out, c.opt_out_reason) for p, c in contacts.items()} == {
        "+4915752982212": (True, importer.OPTED_OUT_REASON),
        "+4915752982213": (True, "STOP by SMS"),  # "no" does not re-subscribe
        "+4915752982214": (True, importer.OPTED_OUT_REASON),
        "+4915752982215": (False, None),
        "+4915752982216": (True, importer.OPTED_OUT_REASON),
    }
    assert contacts["+4915752982214"].opted_out_at is not None and contacts["+4915752982215"].opted_out_at is None
    for message in pending:
        db.session.refresh(message)
    assert [m.status for m in pending] == [statuses.OPTED_OUT, statuses.OPTED_OUT]


def test_a_number_listed_twice_is_opted_out_when_either_row_says_so(owner):
    report, _ = run(owner, "phone,opted_out\n+4915752982212,yes\n0157 52982212,no\n+4915752982213,no\n")
    assert (report.created, report.merged, report.opted_out) == (2, 1, 1)
    assert {p: c.opted_out for p, c in contacts_by_phone().items()} == {"+4915752982212": True, "+4915752982213": False}


@pytest.mark.parametrize("cell, titles", [
    ("VIP|Berlin, Mitte", ["Berlin, Mitte", "VIP"]),    # a "|" alone separates where the cell holds one
    ("Berlin, Mitte|", ["Berlin, Mitte"]),              # how an export writes a lone title with a comma
    ("VIP; Berlin,Kunden", ["Berlin", "Kunden", "VIP"]),  # without one, ";" and "," do too
    ("| |VIP||", ["VIP"]),
])
def test_tag_cells_split_at_a_bar_where_there_is_one(owner, cell, titles):
    run(owner, f'phone,tags\n+4915752982212,"{cell}"\n')
    assert tag_titles(contacts_by_phone()["+4915752982212"]) == titles


@pytest.mark.parametrize("titles", [["VIP"], ["Berlin, Mitte"], ["a;b"], ["Berlin, Mitte", "VIP"], []])
def test_tags_cell_is_read_back_as_the_same_titles(titles):
    assert listfile.split_tags(listfile.tags_cell(titles)) == titles


def delete_tag_elsewhere(tag_id: int) -> None:
    """What ``delete_tag`` commits, from another connection."""
    with db.engine.begin() as other:
        other.execute(contact_tags.delete().where(contact_tags.c.tag_id == tag_id))
        other.execute(Tag.__table__.delete().where(Tag.__table__.c.id == tag_id))


def run_deleting_after_the_first_chunk(owner, data: str, tag_id: int, **kwargs):
    commits = []

    def commit():
        db.session.commit()
        commits.append(1)
        if len(commits) == 1:
            delete_tag_elsewhere(tag_id)

    return importer.import_contacts(owner, io.BytesIO(data.encode()), commit=commit, chunk_size=2, **kwargs)


def test_a_tag_given_to_every_row_deleted_during_the_import_stops_it_with_the_reason(owner):
    tag_id = services.save_tag(owner, "VIP").id
    db.session.commit()
    rows = "".join(f"+49157529{i:05d}\n" for i in range(4))
    with pytest.raises(importer.ImportAborted) as aborted:
        run_deleting_after_the_first_chunk(owner, "phone\n" + rows, tag_id, tag_ids=[tag_id])
    assert aborted.value.message == (
        "the import stopped at line 5: 1 chunk(s) before it were saved, this chunk was not (the tag “VIP” given to "
        "every row was deleted during the import); running the same import again is safe")
    db.session.expire_all()
    assert sorted(contacts_by_phone()) == ["+4915752900000", "+4915752900001"]  # the first chunk, nothing after it


def test_a_tag_the_file_names_deleted_during_the_import_is_made_again_for_the_rows_after(owner):
    tag_id = services.save_tag(owner, "VIP").id
    db.session.commit()
    rows = "".join(f"+49157529{i:05d},VIP\n" for i in range(4))
    report = run_deleting_after_the_first_chunk(owner, "phone,tags\n" + rows, tag_id)
    assert (report.created, report.chunks) == (4, 2)
    db.session.expire_all()
    [again] = db.session.query(Tag).all()
    assert again.title == "VIP"  # SQLite may give it the deleted one's id again
    assert {p: tag_titles(c) for p, c in contacts_by_phone().items()} == {
        "+4915752900000": [], "+4915752900001": [], "+4915752900002": ["VIP"], "+4915752900003": ["VIP"]}


@pytest.mark.parametrize("cell, stored", [
    ("4915752982212", "+4915752982212"),     # a number cell lost the "+": the account's own country code
    ("15752982213", "+4915752982213"),       # ... or the leading 0: +1 575… is valid too, but so is the national reading
    ("12025550143", "+12025550143"),         # another country's number, which read in Germany is none
    ("0157 52982212", "+4915752982212"),     # as before
    ("+4915752982212", "+4915752982212"),
])
def test_digits_a_spreadsheet_kept_of_an_international_number_get_their_plus_back(owner, cell, stored):
    run(owner, f"phone\n{cell}\n")
    assert list(contacts_by_phone()) == [stored]
    assert contacts_by_phone()[stored].phone_raw == cell  # what the file said is kept


def test_without_a_default_region_bare_digits_stay_as_they_are(owner):
    owner.default_region = None
    db.session.commit()
    run(owner, "phone\n4915752982212\n")
    assert list(contacts_by_phone()) == ["4915752982212"]
