"""Excel workbooks (.xlsx) in the contacts import: the sheet's cells as the CSV import reads them, numbers
whole, the report's lines the sheet's rows, and workbooks that cannot be read refused whole."""
import io
import zipfile

import pytest
from defusedxml import EntitiesForbidden
import openpyxl
from openpyxl import Workbook

from smsplatform.contacts import importer, workbook
from smsplatform.errors import ValidationError
from smsplatform.extensions import db
from smsplatform.models import Contact


def xlsx(*sheets: tuple[str, list[list]], active: int = 0) -> bytes:
    book = Workbook()
    book.remove(book.active)
    for title, rows in sheets:
        sheet = book.create_sheet(title)
        for row in rows:
            sheet.append(row)
    book.active = active
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def run(owner, data: bytes, **kwargs):
    return importer.import_contacts(owner, io.BytesIO(data), commit=db.session.commit, **kwargs)


def stored():
    return {c.phone: (c.name, sorted(t.title for t in c.tags), c.opted_out) for c in db.session.query(Contact)}


def test_a_german_excel_sheet_imports_with_whole_numbers_and_the_sheets_row_numbers(owner):
    rows = [
        ["Vorname", "Nachname", "Handy", "Gruppen", "Abgemeldet"],
        ["Ada", "Lovelace", 4915752982212, "VIP|Berlin", False],   # a number cell: shown as 4,91575E+12
        ["Grace", "Hopper\nMurray", 15752982213, "VIP", True],    # its 0 lost to the number format; Alt+Enter
        [],                                                       # a blank row keeps its number
        ["Carl", "", "+49 157 52982214", None, None],
        ["Bad", "Row", "abc", "VIP", None],
        ["Dora", "", 4915752982215.0, "Kunden, Berlin", "x"],
    ]
    report = run(owner, xlsx(("Kunden", rows)))
    assert (report.sheet, report.rows, report.created, report.opted_out, report.invalid) == ("Kunden", 5, 4, 2, 1)
    assert report.columns == {"phone": ["Handy"], "name": ["Vorname", "Nachname"], "tags": ["Gruppen"],
                              "opted_out": ["Abgemeldet"]}
    assert [(e.line, e.value) for e in report.errors] == [(6, "abc")]
    assert stored() == {
        "+4915752982212": ("Ada Lovelace", ["Berlin", "VIP"], False),
        "+4915752982213": ("Grace Hopper Murray", ["VIP"], True),
        "+4915752982214": ("Carl", [], False),
        "+4915752982215": ("Dora", ["Berlin", "Kunden"], True),
    }


def test_the_sheet_open_when_the_workbook_was_saved_is_read(owner):
    data = xlsx(("Notizen", [["Telefon"], ["+4915700000000"]]), ("Kontakte", [["Telefon"], ["+4915752982212"]]),
                active=1)
    assert run(owner, data).sheet == "Kontakte"
    assert list(stored()) == ["+4915752982212"]


def test_a_formula_counts_with_its_saved_value_and_one_never_calculated_is_empty(owner):
    report = run(owner, xlsx(("Liste", [["phone", "name"], ["=\"+49157\"&\"52982212\"", "Ada"],
                                        ["+4915752982213", "=UPPER(\"bob\")"]])))
    # openpyxl writes formulas without a calculated value, as a file no spreadsheet has opened yet
    assert [(e.line, e.reason) for e in report.errors] == [(2, "phone is empty")]
    assert stored() == {"+4915752982213": ("", [], False)}


@pytest.mark.parametrize("rows, message", [
    ([], "the file is empty"),
    ([["phone", "name"]], "the file has only its header row"),
    ([["name", "email"], ["Ada", "ada@example.com"]], "one of them must be 'phone'"),
])
def test_a_sheet_without_contacts_is_refused_as_a_csv_file_would_be(owner, rows, message):
    with pytest.raises(ValidationError) as refused:
        run(owner, xlsx(("Leer", rows)))
    assert message in refused.value.message and db.session.query(Contact).count() == 0


def test_a_workbook_that_unpacks_past_the_limit_is_refused_before_it_is_parsed(owner, monkeypatch):
    data = xlsx(("Kunden", [["phone"]] + [[f"+49157529{i:05d}"] for i in range(2000)]))
    monkeypatch.setattr(workbook, "MAX_UNPACKED_BYTES", 50_000)
    with pytest.raises(ValidationError) as refused:
        run(owner, data)
    assert "the workbook unpacks to 172.2 KB; the limit is 48.8 KB" in refused.value.message
    assert db.session.query(Contact).count() == 0


def with_entry(data: bytes, name: str, content: bytes) -> bytes:
    """The workbook with one of its parts replaced."""
    source, buffer = zipfile.ZipFile(io.BytesIO(data)), io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for entry in source.infolist():
            target.writestr(entry.filename, content if entry.filename == name else source.read(entry.filename))
    return buffer.getvalue()


LAUGHS = (b'<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
          + b"".join(b'<!ENTITY lol%d "%s">' % (i, (b"&lol%d;" % (i - 1) if i > 1 else b"&lol;") * 10)
                     for i in range(1, 10))
          + b']><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
            b'<row r="1"><c r="A1" t="inlineStr"><is><t>&lol9;</t></is></c></row></sheetData></worksheet>')


@pytest.mark.parametrize("name, content", [
    ("xl/worksheets/sheet1.xml", LAUGHS),                         # a billion laughs
    ("xl/worksheets/sheet1.xml", b"<worksheet><sheetData><row"),  # cut off
    ("xl/workbook.xml", b"not xml at all"),
])
def test_a_hostile_or_damaged_workbook_is_refused_whole(owner, name, content):
    data = with_entry(xlsx(("Kunden", [["phone", "name"], ["+4915752982212", "Ada"]])), name, content)
    with pytest.raises(ValidationError) as refused:
        run(owner, data)
    assert refused.value.message.startswith("the Excel workbook could not be read")
    if content is LAUGHS:  # refused by defusedxml before any entity is expanded
        assert EntitiesForbidden.__name__ in str(refused.value.__cause__).split(" < ")
    assert db.session.query(Contact).count() == 0


def test_without_defusedxml_no_workbook_is_parsed(owner, monkeypatch):
    monkeypatch.setattr(openpyxl, "DEFUSEDXML", False)
    with pytest.raises(ValidationError) as refused:
        run(owner, xlsx(("Kunden", [["phone"], ["+4915752982212"]])))
    assert "cannot read Excel workbooks safely" in refused.value.message
    assert db.session.query(Contact).count() == 0


MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"
TYPES = "application/vnd.openxmlformats-officedocument.spreadsheetml"


def shared_strings_workbook(strings: int, *, part: str = "xl/sharedStrings.xml", text: str = "phone",
                            prefix: str = "") -> bytes:
    """A one-cell sheet showing the first entry of a shared-strings table (at ``part``, its elements with
    ``prefix``) of ``strings`` copies of ``text``."""
    tag = f"{prefix}:" if prefix else ""
    namespace = f'xmlns:{prefix}="{MAIN}"' if prefix else f'xmlns="{MAIN}"'
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", (
            '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            f'<Override PartName="/xl/workbook.xml" ContentType="{TYPES}.sheet.main+xml"/>'
            f'<Override PartName="/xl/worksheets/sheet1.xml" ContentType="{TYPES}.worksheet+xml"/>'
            f'<Override PartName="/{part}" ContentType="{TYPES}.sharedStrings+xml"/></Types>'))
        archive.writestr("_rels/.rels", f'<Relationships xmlns="{PACKAGE}"><Relationship Id="rId1" '
                                        f'Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        archive.writestr("xl/workbook.xml", f'<workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}"><sheets>'
                                            '<sheet name="Kunden" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", (
            f'<Relationships xmlns="{PACKAGE}">'
            f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings" Target="/{part}"/></Relationships>'))
        archive.writestr("xl/worksheets/sheet1.xml", f'<worksheet xmlns="{MAIN}"><sheetData><row r="1">'
                                                     '<c r="A1" t="s"><v>0</v></c></row></sheetData></worksheet>')
        entry = f"<{tag}si><{tag}t>{text}</{tag}t></{tag}si>".encode()
        archive.writestr(part, f"<{tag}sst {namespace}>".encode() + entry * strings + f"</{tag}sst>".encode())
    return buffer.getvalue()


def test_a_workbook_with_a_table_of_shared_strings_imports(owner):
    data = shared_strings_workbook(3, text="phone")
    with pytest.raises(ValidationError) as refused:  # the header read through the table: a file with no rows
        run(owner, data)
    assert refused.value.message == "the file has only its header row, no contacts below it"


@pytest.mark.parametrize("part, prefix", [("xl/sharedStrings.xml", ""), ("xl/worksheets/strings.xml", "x")])
def test_a_shared_strings_bomb_is_refused_before_it_is_parsed(owner, part, prefix):
    data = shared_strings_workbook(workbook.MAX_SHARED_STRINGS + 1, part=part, prefix=prefix)
    assert len(data) < 100_000  # a small upload that unpacks to 21 MB of strings openpyxl would hold in memory
    with pytest.raises(ValidationError) as refused:
        run(owner, data)
    assert refused.value.message == ("the workbook's shared-strings table holds 1,000,001 entries; the limit is "
                                     "1,000,000: save the list as CSV and upload that")
    assert db.session.query(Contact).count() == 0


def test_a_workbook_within_the_counts_that_needs_too_much_memory_is_refused(owner, monkeypatch):
    monkeypatch.setattr(workbook, "READ_MEMORY_BYTES", 256 * 1024 * 1024)
    with pytest.raises(ValidationError) as refused:
        run(owner, shared_strings_workbook(1, text="0" * (120 * 1024 * 1024)))
    assert refused.value.message == ("the workbook needs more than 256 MB of memory to read: save the list as CSV "
                                     "and upload that")
    assert db.session.query(Contact).count() == 0


def test_a_workbook_that_needs_too_much_cpu_is_refused(owner, monkeypatch):
    monkeypatch.setattr(workbook, "READ_CPU_SECONDS", 1)
    with pytest.raises(ValidationError) as refused:
        run(owner, shared_strings_workbook(workbook.MAX_SHARED_STRINGS))  # about 12 s of CPU to read
    assert refused.value.message == ("the workbook needs more than 1 s of CPU to read: save the list as CSV and "
                                     "upload that")
    assert db.session.query(Contact).count() == 0
