"""CSV import of contacts (an Excel workbook's sheet too, through ``workbook``), streamed in chunks.

Format: a header row naming the columns (any order; case, accents, spaces and punctuation do not
count): ``phone`` (required; also ``mobile``, ``Telefon``, ``Handy``, ``Mobil``, ``Rufnummer``…, a
mobile column preferred to a landline one, which is read where the mobile cell is empty), ``name`` (or
first and last name: ``Vorname`` and ``Nachname``, or ``Vorname`` and ``Name``), ``tags`` (also
``Gruppen``, ``Schlagwörter``…), ``opted out`` (yes opts the contact out). The delimiter (``,`` ``;``
or tab) is detected from the header. Several tags in one cell are separated by ``|``, ``;`` or ``,``
(by ``|`` alone in a cell holding one; quote the cell when that character is also the delimiter).
UTF-8 (with or without BOM), UTF-16 with BOM (Excel's "Unicode text"), or, when the file is not UTF-8,
Windows-1252 or Mac Roman (Excel's plain "CSV" on Windows and on a Mac), told apart by its accents.

The whole file is checked before anything is written (size, encoding, binary content — an old Excel
workbook or an image is named as such —, CSV structure, a phone column), so a bad file changes
nothing. Rows are then written in chunks, one transaction per chunk (the caller's ``commit``); a
failing chunk is rolled back whole. Re-running an import is safe: it only adds contacts, names and
tags. An import never clears an opt-out.
"""
import codecs
import csv
import io
import re
import tempfile
import unicodedata
import zipfile
from collections import Counter
from contextlib import closing
from dataclasses import dataclass, field
from datetime import datetime
from typing import BinaryIO, Callable

import phonenumbers
from sqlalchemy import Integer, insert, literal, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from smsplatform import turns
from smsplatform.contacts.listfile import split_tags
from smsplatform.contacts.optout import withdraw_pending_newsletter_messages
from smsplatform.contacts.services import (
    MAX_NAME, MAX_TAG_TITLE, normalize_contact_phone, tag_key, tags_by_ids,
)
from smsplatform.contacts.workbook import ZIP_ERRORS, is_workbook, workbook_as_csv
from smsplatform.db_bulk import update_each
from smsplatform.db_retry import is_retryable
from smsplatform.db_unique import insert_ignoring_duplicates, locked
from smsplatform.errors import DomainError, NotFoundError, ValidationError
from smsplatform.extensions import db
from smsplatform.models import Account, Contact, Tag, contact_tags
from smsplatform.phones import SCIENTIFIC_NOTATION
from smsplatform.sizes import size_text
from smsplatform.spreadsheets import unescape_cell
from smsplatform.timeutil import utcnow

MODE_UPSERT = "upsert"        # add contacts, names and tags
MODE_BLOCKLIST = "blocklist"  # the same, and mark every number opted out
MODES = (MODE_UPSERT, MODE_BLOCKLIST)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
DEFAULT_CHUNK_SIZE = 5_000
CHUNK_ATTEMPTS = 3  # a chunk that lost a race to another call is written again, at most this often
MAX_REPORTED_ERRORS = 1_000
BLOCKLIST_REASON = "imported as blocklist"
OPTED_OUT_REASON = "opted out in an imported file"

DELIMITERS = (",", ";", "\t")
# What an opt-out cell may say (casefolded); an empty cell says no.
OPTED_OUT_YES = frozenset({"yes", "y", "true", "1", "x", "ja", "j", "oui", "si", "sí", "opted out", "wahr"})
OPTED_OUT_NO = frozenset({"", "no", "n", "false", "0", "nein", "non", "falsch"})
PHONE_CHARS = re.compile(r"^\+?[0-9 ()./\-]+$")
PHONE_NUMBER = re.compile(r"^\+?[0-9][0-9 ()./\-]{4,}$")
_BLOCK = 64 * 1024
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16-le"), (codecs.BOM_UTF16_BE, "utf-16-be"))
_ENCODING_TITLES = {"utf-8": "UTF-8", "utf-16-le": "UTF-16", "utf-16-be": "UTF-16", "cp1252": "UTF-8 or Windows-1252"}
_UTF8_MULTIBYTE = re.compile(  # one well-formed UTF-8 sequence beyond ASCII (RFC 3629's table)
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}|\xed[\x80-\x9f][\x80-\xbf]"
    rb"|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}|\xf4[\x80-\x8f][\x80-\xbf]{2}")
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x19\x1b-\x1f]")  # not in text (tab, line breaks, form feed and ^Z may be)
_CONTROL_BYTES = re.compile(_CONTROL.pattern.encode())
_BETWEEN_LETTERS = re.compile(rb"([A-Za-z])([\x80-\xff])(?=([A-Za-z]))")  # an 8-bit file's accent inside a word
_ACCENTS_ENOUGH = 5_000
_SIGNATURES = (  # how files that are not text start
    (b"\x89PNG", "this is a PNG image"),
    (b"\xff\xd8\xff", "this is a JPEG image"),
    (b"GIF8", "this is a GIF image"),
    (b"%PDF", "this is a PDF document"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
     "this is an Excel 97-2003 workbook (or another old Office file, or a workbook with a password); save it as "
     "'Excel Workbook (.xlsx)' or as 'CSV UTF-8' (in Excel: File › Save As) and upload that"),
    (b"\x1f\x8b", "this is a gzip archive"),
    (b"Rar!", "this is a RAR archive"),
    (b"7z\xbc\xaf", "this is a 7-Zip archive"),
)


class ImportAborted(DomainError):
    """A chunk could not be written; earlier chunks are saved (see ``report``), this one is not."""

    def __init__(self, message: str, report: "ImportReport"):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class RowError:
    line: int
    value: str
    reason: str


@dataclass
class ImportReport:
    rows: int = 0          # data rows read (blank lines not counted)
    created: int = 0       # new contacts
    updated: int = 0       # rows applied to a contact that already existed
    merged: int = 0        # rows folded into an earlier row of the same number in the same chunk
    opted_out: int = 0     # contacts newly opted out (blocklist mode, or the file's opt-out column)
    invalid: int = 0       # rows skipped
    errors: list[RowError] = field(default_factory=list)  # the first MAX_REPORTED_ERRORS skipped rows
    chunks: int = 0        # chunks committed
    columns: dict[str, list[str]] = field(default_factory=dict)  # field -> the header cells it is read from
    ignored_columns: list[str] = field(default_factory=list)     # header cells of the columns not read
    sheet: str | None = None  # the name of the sheet read, for a workbook

    def skip(self, line: int, value: str, reason: str) -> None:
        self.invalid += 1
        if len(self.errors) < MAX_REPORTED_ERRORS:
            self.errors.append(RowError(line, value[:80], reason))


@dataclass
class _Entry:
    raw: str
    name: str
    tags: dict[str, str]  # tag key -> title
    opt_out: bool = False  # the file's opt-out column says so


@dataclass(frozen=True)
class _Encoding:
    name: str   # a Python codec
    start: int  # the byte-order mark's length


@dataclass(frozen=True)
class _Columns:
    encoding: _Encoding
    delimiter: str
    phone: int
    other_phones: tuple[int, ...]  # further phone columns, most wanted first: read where ``phone`` is empty
    name: int | None        # the whole name
    tags: int | None
    first_name: int | None  # used when there is no whole name
    last_name: int | None
    opted_out: int | None
    headers: tuple[str, ...]


def import_contacts(account: Account, stream: BinaryIO, *, commit: Callable[[], None], mode: str = MODE_UPSERT,
                    tag_ids=(), max_bytes: int = DEFAULT_MAX_BYTES, chunk_size: int = DEFAULT_CHUNK_SIZE,
                    now: datetime | None = None) -> ImportReport:
    """Import a CSV byte stream (or an Excel workbook's, see ``workbook``) into the account's contacts;
    ``tag_ids`` are given to every imported row.

    Raises ValidationError (nothing written) for a file that cannot be imported, ImportAborted when a
    chunk fails to write. ``commit`` is called once per chunk.
    """
    if mode not in MODES:
        raise ValidationError(f"mode must be one of {', '.join(MODES)}", field="mode")
    extra_tags = tags_by_ids(account, tag_ids, field="tag_ids")
    data = _spool(stream, max_bytes)
    sheet = None
    if is_workbook(data):
        data, sheet = workbook_as_csv(data)
    encoding = _check_text(data)
    columns = _read_header(data, encoding)
    _check_csv(data, columns)

    report = ImportReport(sheet=sheet)
    report.columns, report.ignored_columns = _describe(columns)
    writer = _ChunkWriter(account, mode, {t.id: t.title for t in extra_tags}, now or utcnow(), report)
    chunk: dict[str, _Entry] = {}
    last_line = 1
    with closing(_rows(data, columns)) as rows:
        for line, last_line, cells in rows:
            report.rows += 1
            turns.now_and_then(report.rows)  # parsing runs outside any transaction
            parsed = _parse_row(account, line, last_line, cells, columns, report)
            if parsed is None:
                continue
            phone, entry = parsed
            if phone in chunk:
                report.merged += 1
                kept = chunk[phone]
                kept.name = entry.name or kept.name
                kept.tags.update(entry.tags)
                kept.opt_out = kept.opt_out or entry.opt_out
            else:
                chunk[phone] = entry
            if len(chunk) >= chunk_size:
                _write(writer, chunk, commit, last_line)
                chunk = {}
    if chunk:
        _write(writer, chunk, commit, last_line)
    db.session.expire_all()
    return report


def _write(writer: "_ChunkWriter", chunk: dict[str, _Entry], commit: Callable[[], None], line: int) -> None:
    """Write and commit one chunk. A chunk that lost a race (another call saved one of its numbers or tags
    after the chunk read them, or MariaDB chose it as a deadlock victim) is rolled back and written again:
    its second read sees the other call's rows. Any other failure stops the import."""
    report = writer.report
    counts = (report.created, report.updated, report.opted_out)
    for attempt in range(1, CHUNK_ATTEMPTS + 1):
        try:
            writer.write(chunk)
            commit()
            break
        except (SQLAlchemyError, DomainError) as exc:
            db.session.rollback()
            writer.forget_tags()
            report.created, report.updated, report.opted_out = counts  # nothing of this chunk stayed
            if attempt == CHUNK_ATTEMPTS or not (isinstance(exc, IntegrityError) or is_retryable(exc)):
                why = exc.message if isinstance(exc, DomainError) else type(exc).__name__
                raise ImportAborted(
                    f"the import stopped at line {line}: {report.chunks} chunk(s) before it were saved, this chunk "
                    f"was not ({why}); running the same import again is safe", report,
                ) from exc
    report.chunks += 1
    turns.let_others_run()


# Whole-file checks (nothing is written until they pass) -------------------------------------------

def too_large(max_bytes: int) -> ValidationError:
    """The refusal of a file past ``max_bytes`` whose size is not known (an upload the web server stopped)."""
    return ValidationError(f"the file is larger than the limit of {size_text(max_bytes)}", field="file")


def _spool(stream: BinaryIO, max_bytes: int) -> BinaryIO:
    """A seekable copy of the upload (or the upload itself), refused above ``max_bytes``."""
    if stream.seekable():
        start = stream.tell()
        size = stream.seek(0, io.SEEK_END) - start
        stream.seek(start)
        if size > max_bytes:
            raise ValidationError(f"the file is {size_text(size)}; the limit is {size_text(max_bytes)}", field="file")
        if start == 0:
            return stream
    copy = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
    total = 0
    while block := stream.read(_BLOCK):
        total += len(block)
        if total > max_bytes:
            raise too_large(max_bytes)
        copy.write(block)
    copy.seek(0)
    return copy


def _check_text(data: BinaryIO) -> _Encoding:
    """The file's text encoding, or a ValidationError saying what the file is instead (naming the line).

    A byte-order mark decides (UTF-8, or UTF-16 as Excel's "Unicode text" writes it); without one the
    file is UTF-8 when all of it is, else Windows-1252 or Mac Roman (Excel's plain "CSV" on a Western
    Windows or a Mac).
    """
    _refuse_known_formats(data)
    data.seek(0)
    head = data.read(3)
    encoding = next((_Encoding(name, len(bom)) for bom, name in _BOMS if head.startswith(bom)), None)
    if encoding is None:
        encoding = _Encoding(_encoding_without_bom(data), 0)
    decoder = codecs.getincrementaldecoder(encoding.name)()
    data.seek(encoding.start)
    lines_before = 0
    seen_any = False
    while block := data.read(_BLOCK):
        pending = decoder.getstate()[0]
        try:
            text = decoder.decode(block)
        except UnicodeDecodeError as exc:
            line = lines_before + _line_breaks((pending + block)[:exc.start].decode(encoding.name, "replace")) + 1
            raise ValidationError(f"the file is not {_ENCODING_TITLES[encoding.name]} text (invalid bytes on line "
                                  f"{line}); save it as 'CSV UTF-8' and upload it again", field="file") from exc
        seen_any = seen_any or bool(text.strip())
        control = _CONTROL.search(text)
        if control:
            line = lines_before + _line_breaks(text[:control.start()]) + 1
            raise ValidationError(f"the file is not a CSV text file (binary data on line {line})", field="file")
        lines_before += _line_breaks(text)
    try:
        decoder.decode(b"", final=True)
    except UnicodeDecodeError as exc:
        raise ValidationError(f"the file is not {_ENCODING_TITLES[encoding.name]} text (it ends in the middle of a "
                              "character)", field="file") from exc
    if not seen_any:
        raise ValidationError("the file is empty", field="file")
    return encoding


def _encoding_without_bom(data: BinaryIO) -> str:
    """UTF-8 when the whole file is; when no part of it is UTF-8 beyond ASCII, Windows-1252 or Mac Roman
    (``_western_8_bit``).

    A file with both (rows pasted together from two sources) is refused: either reading would garble
    some of its names.
    """
    decoder = codecs.getincrementaldecoder("utf-8")()
    data.seek(0)
    lines_before = 0
    bad_line = None
    utf8_seen = False
    inside_words = Counter()
    while block := data.read(_BLOCK):
        control = _CONTROL_BYTES.search(block)  # the same bytes in UTF-8 and Windows-1252
        if control:
            line = lines_before + _line_breaks(block[:control.start()]) + 1
            raise ValidationError(f"the file is not a CSV text file (binary data on line {line})", field="file")
        if bad_line is None:
            pending = decoder.getstate()[0]
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                bad_line = lines_before + _line_breaks((pending + block)[:exc.start]) + 1
        # An 8-bit file's accents, from its first byte that is not UTF-8 (before it, the file was ASCII, or it
        # is refused below as mixed), until there are enough to tell Windows-1252 from Mac Roman.
        if bad_line is not None and inside_words.total() < _ACCENTS_ENOUGH:
            inside_words.update((left.islower(), byte[0], right.islower())
                                for left, byte, right in _BETWEEN_LETTERS.findall(block))
        utf8_seen = utf8_seen or _UTF8_MULTIBYTE.search(block) is not None
        lines_before += _line_breaks(block)
    if bad_line is None:
        try:
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            bad_line = lines_before + 1
    if utf8_seen:
        raise ValidationError(f"the file mixes encodings: it is UTF-8 text, but line {bad_line} is not; save it as "
                              "'CSV UTF-8' and upload it again", field="file")
    return _western_8_bit(inside_words)


def _western_8_bit(inside_words: Counter) -> str:
    """Windows-1252 (Excel's plain "CSV" on Windows) or Mac Roman (Excel's plain "CSV" on a Mac), whichever
    reads the file's accents more naturally; Windows-1252 on a tie.

    The vote is over the bytes beyond ASCII that sit between two ASCII letters, as most accents in names do
    (``inside_words``: left neighbour lower case, byte, right neighbour lower case → count). Before a
    capital, an apostrophe ("O’Brien", "d’Arc") takes the vote of its byte. Otherwise a byte counts for each
    encoding in which it is a letter of the case its place asks for: lower case before a lower-case letter
    ("Müller"), upper case between two capitals ("MÜLLER"). So Mac Roman's ü read as Windows-1252 (Ÿ in
    "MŸller") loses, and Windows-1252's ü read as Mac Roman (¸) does.
    """
    votes = Counter()
    for (left_lower, byte, right_lower), count in inside_words.items():
        chars = {encoding: bytes([byte]).decode(encoding, "ignore") for encoding in ("cp1252", "mac_roman")}
        apostrophe = next((encoding for encoding, char in chars.items() if char == "\u2019"), None)
        if apostrophe and not right_lower:
            votes[apostrophe] += count
            continue
        for encoding, char in chars.items():
            if right_lower:
                natural = char.islower()
            elif not left_lower:
                natural = char.isupper()
            else:
                natural = char.isalpha()
            if natural:
                votes[encoding] += count
    return "mac_roman" if votes["mac_roman"] > votes["cp1252"] else "cp1252"


def _refuse_known_formats(data: BinaryIO) -> None:
    """Say what an upload is when it starts like a known format that is not text (an .xls or a PDF chosen by
    mistake)."""
    data.seek(0)
    head = data.read(16)
    what = _zip_kind(data) if head.startswith(b"PK\x03\x04") else next(
        (title for magic, title in _SIGNATURES if head.startswith(magic)), None)
    if what:
        raise ValidationError(f"the file is not a CSV text file: {what}", field="file")


def _zip_kind(data: BinaryIO) -> str:
    data.seek(0)
    try:
        with zipfile.ZipFile(data) as archive:
            names = archive.namelist()
            mimetype = b""
            if "mimetype" in names:
                with archive.open("mimetype") as entry:
                    mimetype = entry.read(100)
    except ZIP_ERRORS:
        names, mimetype = [], b""
    if any(n.startswith("xl/") for n in names):  # an .xlsx or .xlsm is read (``workbook``); this is an .xlsb
        return ("this is an Excel binary workbook (.xlsb); save it as 'Excel Workbook (.xlsx)' or as 'CSV UTF-8' "
                "and upload that")
    if b"spreadsheet" in mimetype:
        return "this is an OpenDocument spreadsheet; save it as CSV (File › Save As › 'Text CSV') and upload that"
    return "this is a ZIP archive (an Office document?); save or export the list as CSV and upload that"


def _line_breaks(text) -> int:
    """Line breaks in ``text`` (str or bytes): CRLF, LF, or a lone CR (older Excel for Mac)."""
    lf, cr = ("\n", "\r") if isinstance(text, str) else (b"\n", b"\r")
    return text.count(lf) + text.count(cr) - text.count(cr + lf)


def _text(data: BinaryIO, encoding: _Encoding) -> io.TextIOWrapper:
    data.seek(encoding.start)
    return io.TextIOWrapper(data, encoding=encoding.name, newline="")


def _header_key(cell: str) -> str:
    """Header names compare without case, accents, spaces or punctuation: 'Handy-Nr.' is 'handynr'."""
    return "".join(c for c in unicodedata.normalize("NFKD", cell.casefold()) if c.isalnum())


def _aliases(*names: str) -> dict[str, int]:
    """Header key -> rank (0 is the most wanted) of the names a column may have."""
    ranks: dict[str, int] = {}
    for rank, name in enumerate(names):
        ranks.setdefault(_header_key(name), rank)
    return ranks


PHONE_HEADERS = _aliases(
    # Mobile numbers first: when a file has a landline and a mobile column, SMS go to the mobile.
    "mobile", "mobile number", "mobile phone", "cell", "cell phone", "msisdn", "Handy", "Handynummer", "Handy-Nr.",
    "Mobil", "Mobilnummer", "Mobil-Nr.", "Mobiltelefon", "Mobilfunknummer", "portable", "mobiel", "móvil", "celular",
    "cellulare",
    "phone", "phone number", "number", "tel", "telephone", "telephone number", "sendto", "Phone 1 - Value",
    "Telefon", "Telefonnummer", "Telefon-Nr.", "Tel.-Nr.", "Rufnummer", "Nummer", "téléphone", "numéro", "teléfono",
    "número", "telefono", "telefoon", "telefoonnummer",
)
NAME_HEADERS = _aliases("name", "full name", "contact", "contact name", "display name", "Anzeigename",
                        "vollständiger Name", "nom complet", "nombre completo")
FIRST_NAME_HEADERS = _aliases("first name", "given name", "forename", "Vorname", "prénom", "nombre", "nome", "voornaam")
LAST_NAME_HEADERS = _aliases("last name", "surname", "family name", "Nachname", "Familienname", "nom", "apellido",
                             "apellidos", "cognome", "achternaam")
TAGS_HEADERS = _aliases("tags", "tag", "groups", "group", "labels", "label", "categories", "category", "Gruppe",
                        "Gruppen", "Schlagwort", "Schlagwörter", "Stichwort", "Stichwörter", "Kategorie", "Kategorien",
                        "Etiketten", "groupe", "groupes", "grupo", "grupos", "gruppo", "gruppi", "groep", "groepen")
OPTED_OUT_HEADERS = _aliases("opted out", "opt out", "opt-out", "unsubscribed", "Abgemeldet", "Abmeldung",
                             "désabonné", "désinscrit", "dado de baja", "afgemeld")


def _read_header(data: BinaryIO, encoding: _Encoding) -> _Columns:
    """Find the delimiter (the one that splits the header into the most cells with a phone column among them)."""
    text = _text(data, encoding)
    try:
        header_line = text.readline()
    finally:
        text.detach()
    best: _Columns | None = None
    widest: list[str] = []
    for delimiter in DELIMITERS:
        headers = [" ".join(c.split()) for c in next(csv.reader([header_line], delimiter=delimiter), [])]
        widest = headers if len(headers) > len(widest) else widest
        keys = [_header_key(h) for h in headers]
        phones = _ranked(keys, PHONE_HEADERS)
        phone = phones[0] if phones else None
        if phone is not None and (best is None or len(headers) > len(best.headers)):
            name, first, last = _best(keys, NAME_HEADERS), _best(keys, FIRST_NAME_HEADERS), _best(keys, LAST_NAME_HEADERS)
            if first is not None and last is None:
                name, last = None, name  # "Vorname; Name": beside a first name, "Name" is the family name
            best = _Columns(encoding, delimiter, phone, tuple(phones[1:]), name, _best(keys, TAGS_HEADERS), first, last,
                            _best(keys, OPTED_OUT_HEADERS), tuple(headers))
    if best is None:
        shown = ", ".join(repr(h[:30]) for h in widest[:10] if h) or "nothing"
        raise ValidationError(
            "the first row must name the columns and one of them must be 'phone' (or 'mobile', 'Telefon', 'Handy'…); "
            f"found {shown}", field="file"
        )
    return best


def _best(keys: list[str], aliases: dict[str, int]) -> int | None:
    """The column named by the most wanted alias (the first such column)."""
    ranked = _ranked(keys, aliases)
    return ranked[0] if ranked else None


def _ranked(keys: list[str], aliases: dict[str, int]) -> list[int]:
    """Every column named by one of the aliases, the most wanted first (a mobile column before a landline one)."""
    return [index for _rank, index in sorted((aliases[key], index) for index, key in enumerate(keys) if key in aliases)]


def _describe(columns: _Columns) -> tuple[dict[str, list[str]], list[str]]:
    """Which header cells each field is read from, and the columns left unread (for the report)."""
    name = [columns.name] if columns.name is not None else [columns.first_name, columns.last_name]
    used = {"phone": [columns.phone, *columns.other_phones], "name": name, "tags": [columns.tags],
            "opted_out": [columns.opted_out]}
    read = {field: [columns.headers[i] for i in indexes if i is not None] for field, indexes in used.items()}
    taken = {i for indexes in used.values() for i in indexes}
    return {f: headers for f, headers in read.items() if headers}, [
        h for i, h in enumerate(columns.headers) if i not in taken and h]


def _check_csv(data: BinaryIO, columns: _Columns) -> None:
    """Valid CSV (as Python's reader takes it) with at least one row below the header."""
    try:
        with closing(_rows(data, columns)) as rows:
            if next(rows, None) is None:
                raise ValidationError("the file has only its header row, no contacts below it", field="file")
            for _ in rows:
                pass
    except csv.Error as exc:
        raise ValidationError(f"the file is not valid CSV near line {exc.args[1]}: {exc.args[0]}", field="file") from exc


def _rows(data: BinaryIO, columns: _Columns):
    """(first line, last line, cells) of every non-blank data row; csv.Error(message, line) for broken CSV."""
    text = _text(data, columns.encoding)
    reader = csv.reader(text, delimiter=columns.delimiter)
    try:
        next(reader, None)
        first = reader.line_num + 1
        for cells in reader:
            if any(c.strip() for c in cells):
                yield first, reader.line_num, cells
            first = reader.line_num + 1
    except csv.Error as exc:
        raise csv.Error(str(exc), reader.line_num) from exc
    finally:
        text.detach()


# Rows ---------------------------------------------------------------------------------------------

def _cell(cells: list[str], index: int | None) -> str:
    """The cell's text, without the ``'`` an export put before a formula-like start (see spreadsheets)."""
    return unescape_cell(cells[index].strip()) if index is not None and index < len(cells) else ""


def _parse_row(account: Account, line: int, last_line: int, cells: list[str], columns: _Columns,
               report: ImportReport) -> tuple[str, _Entry] | None:
    """The row's number and entry, or None when it is skipped, which ``report`` is told with the reason.

    The number is the most wanted phone column's, or the next one's where that cell is empty (an address
    list with "Handy" and "Telefon" often fills only one of them per row)."""
    raw = next((cell for cell in (_cell(cells, i) for i in (columns.phone, *columns.other_phones)) if cell), "")
    if last_line > line and _holds_rows(cells, columns):
        report.skip(line, raw.splitlines()[0] if raw else "", (
            f"lines {line}–{last_line} were read as one row: a cell's quote (\") opened on line {line} is closed only "
            f"on line {last_line}, or never; check the quotes on line {line}"))
        return None
    if not raw:
        report.skip(line, raw, "phone is empty")
        return None
    if raw.startswith(("=", "@", "-")):
        report.skip(line, raw, "phone looks like a spreadsheet formula")
        return None
    if SCIENTIFIC_NOTATION.match(raw):
        report.skip(line, raw, "phone was saved as a number in scientific notation, which lost its last digits: format "
                               "the column as text (or as a number without decimals) and save the CSV again")
        return None
    if not PHONE_CHARS.match(raw):
        report.skip(line, raw, "phone contains characters that are not part of a phone number")
        return None
    normalized = _with_lost_plus(account, raw)  # first: such digits would also parse, wrongly, as a national number
    if normalized is None:
        try:
            normalized = normalize_contact_phone(account, raw).normalized
        except ValidationError as exc:
            report.skip(line, raw, exc.message)
            return None
    name = " ".join((_cell(cells, columns.name) if columns.name is not None else
                     f"{_cell(cells, columns.first_name)} {_cell(cells, columns.last_name)}").split())
    if _refused(report, line, name, "name", MAX_NAME):
        return None
    opt_out = _cell(cells, columns.opted_out).casefold()
    if opt_out not in OPTED_OUT_YES and opt_out not in OPTED_OUT_NO:
        report.skip(line, raw, f"opted out must be yes or no (or empty), not {_cell(cells, columns.opted_out)[:20]!r}")
        return None
    tags: dict[str, str] = {}
    for title in split_tags(_cell(cells, columns.tags)):
        if _refused(report, line, title, "tag", MAX_TAG_TITLE):
            return None
        tags.setdefault(tag_key(title), title)
    return normalized, _Entry(raw[:64], name, tags, opt_out in OPTED_OUT_YES)


def _with_lost_plus(account: Account, raw: str) -> str | None:
    """The international number a spreadsheet's number cell lost its ``+`` from (a number cell keeps no
    ``+``, nor a leading ``0``): digits that, behind a ``+``, are a valid number and either start with the
    account's own country code (``4915752982212`` in Germany, where a national number starts with 0) or
    are no valid number read in the account's region. None when the cell is not such a number."""
    region = account.default_region
    if not region or not raw.isdigit() or raw.startswith("0"):
        return None
    try:
        international = phonenumbers.parse("+" + raw)
        if not phonenumbers.is_valid_number(international):
            return None
        if international.country_code != phonenumbers.country_code_for_region(region) and \
                phonenumbers.is_valid_number(phonenumbers.parse(raw, region)):
            return None
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(international, phonenumbers.PhoneNumberFormat.E164)


def _holds_rows(cells: list[str], columns: _Columns) -> bool:
    """Whether a cell holds lines that are rows of the file: a quote left open swallowed them.

    A cell may hold line breaks (Alt+Enter in Excel, an address); the phone cell never does, and a
    line of another cell that splits into cells with a phone number in the phone column is a row.
    """
    if "\n" in _cell(cells, columns.phone) or "\r" in _cell(cells, columns.phone):
        return True
    for cell in cells:
        for text in cell.splitlines()[1:]:
            inner = next(csv.reader([text], delimiter=columns.delimiter), [])
            if len(inner) > max(columns.phone, 1) and PHONE_NUMBER.match(inner[columns.phone].strip()):
                return True
    return False


def _refused(report: ImportReport, line: int, value: str, what: str, limit: int) -> bool:
    """Skip the row (and say why) when a text cell is too long. Text that looks like a spreadsheet formula
    is kept as text: CSV exports neutralise it (see spreadsheets)."""
    if len(value) > limit:
        report.skip(line, value, f"{what} is longer than {limit} characters")
        return True
    return False


# Writing a chunk ----------------------------------------------------------------------------------

class _ChunkWriter:
    """Writes one chunk with a handful of bulk statements (no ORM object per row).

    The tags a chunk links are read with a shared lock (``locked``): a tag deleted meanwhile is either
    waited for, or found gone before any row of the chunk is linked to it. Unlocked, MariaDB's
    ``INSERT IGNORE`` would skip the links to a deleted tag without a word."""

    def __init__(self, account: Account, mode: str, extra_tags: dict[int, str], now: datetime, report: ImportReport):
        self.account_id = account.id
        self.mode = mode
        self.extra_tags = extra_tags  # id -> title of the tags given to every row
        self.now = now
        self.report = report
        self.tag_ids: dict[str, int] = {}  # tag key -> id, of the tags the file's rows named so far

    def forget_tags(self) -> None:
        """Tags created by a rolled-back chunk no longer exist."""
        self.tag_ids = {}

    def write(self, chunk: dict[str, _Entry]) -> None:
        self._lock_known_tags(chunk)
        tag_ids = self._ensure_tags(chunk)
        phones = list(chunk)
        contacts = self._table_rows(phones)
        blocklist = self.mode == MODE_BLOCKLIST
        reason = BLOCKLIST_REASON if blocklist else OPTED_OUT_REASON
        opting_out = [p for p in phones if blocklist or chunk[p].opt_out]
        opted = set(opting_out)
        new = [p for p in phones if p not in contacts]
        existing = [p for p in phones if p in contacts]
        if new:
            db.session.execute(insert(Contact.__table__), [
                {"account_id": self.account_id, "phone": p, "phone_raw": chunk[p].raw, "name": chunk[p].name,
                 "opted_out": p in opted, "opted_out_at": self.now if p in opted else None,
                 "opt_out_reason": reason if p in opted else None, "created_at": self.now, "updated_at": self.now}
                for p in new
            ])
            self.report.created += len(new)
            self.report.opted_out += len(opted.intersection(new))
        self.report.updated += len(existing)
        renamed = {contacts[p][0]: chunk[p].name for p in existing if chunk[p].name and chunk[p].name != contacts[p][1]}
        if renamed:
            update_each(db.session.connection(), Contact.__table__, {"name": renamed}, updated_at=self.now)
        if opting_out:
            self._opt_out([contacts[p][0] for p in opting_out if p in contacts and not contacts[p][2]], reason)
            withdraw_pending_newsletter_messages(self.account_id, opting_out, self.now)
        self._link(chunk, tag_ids)

    def _table_rows(self, phones: list[str]) -> dict[str, tuple[int, str, bool]]:
        rows = db.session.execute(
            select(Contact.phone, Contact.id, Contact.name, Contact.opted_out)
            .where(Contact.account_id == self.account_id, Contact.phone.in_(phones))
        )
        return {phone: (cid, name, opted_out) for phone, cid, name, opted_out in rows}

    def _lock_known_tags(self, chunk: dict[str, _Entry]) -> None:
        """Lock the given tags and those an earlier chunk found. A given tag deleted since stops the import
        (NotFoundError); a file's tag deleted since is made again, as for a file naming a new tag."""
        known = {key: self.tag_ids[key] for entry in chunk.values() for key in entry.tags if key in self.tag_ids}
        wanted = set(self.extra_tags) | set(known.values())
        if not wanted:
            return
        live = set(db.session.scalars(locked(
            select(Tag.id).where(Tag.account_id == self.account_id, Tag.id.in_(wanted)), shared=True)))
        for tag_id, title in self.extra_tags.items():
            if tag_id not in live:
                raise NotFoundError(f"the tag “{title}” given to every row was deleted during the import",
                                    field="tag_ids")
        for key, tag_id in known.items():
            if tag_id not in live:
                del self.tag_ids[key]

    def _ensure_tags(self, chunk: dict[str, _Entry]) -> dict[str, int]:
        titles: dict[str, str] = {}
        for entry in chunk.values():
            for key, title in entry.tags.items():
                if key not in self.tag_ids:
                    titles.setdefault(key, title)
        if titles:
            keys = list(titles)
            found = self._tag_ids_for(keys)
            missing = [k for k in keys if k not in found]
            if missing:
                db.session.execute(insert_ignoring_duplicates(Tag.__table__), [
                    {"account_id": self.account_id, "title": titles[k], "title_key": k, "created_at": self.now}
                    for k in missing
                ])
                found.update(self._tag_ids_for(missing))
            for key in keys:
                # Titles differing in case or accents share their key. A key only the database's collation
                # equates with a stored one (MariaDB: "カフェ" = "かふぇ") was not inserted: it uses the
                # tag the unique index matched it with.
                self.tag_ids[key] = found[key] if key in found else db.session.scalar(locked(
                    select(Tag.id).where(Tag.account_id == self.account_id, Tag.title_key == key), shared=True))
        return self.tag_ids

    def _tag_ids_for(self, keys: list[str]) -> dict[str, int]:
        return dict(db.session.execute(locked(
            select(Tag.title_key, Tag.id).where(Tag.account_id == self.account_id, Tag.title_key.in_(keys)),
            shared=True)
        ).all())

    def _opt_out(self, contact_ids: list[int], reason: str) -> None:
        if not contact_ids:
            return
        result = db.session.execute(
            update(Contact.__table__)
            .where(Contact.__table__.c.id.in_(contact_ids), Contact.__table__.c.opted_out.is_(False))
            .values(opted_out=True, opted_out_at=self.now, opt_out_reason=reason, updated_at=self.now)
        )
        self.report.opted_out += result.rowcount

    def _link(self, chunk: dict[str, _Entry], tag_ids: dict[str, int]) -> None:
        """Give every row its tags: one ``INSERT … SELECT`` per tag; pairs that exist are skipped."""
        by_tag: dict[int, list[str]] = {t: list(chunk) for t in self.extra_tags}
        for phone, entry in chunk.items():
            for key in entry.tags:
                by_tag.setdefault(tag_ids[key], []).append(phone)
        for tag_id, phones in by_tag.items():
            source = select(Contact.id, literal(tag_id, Integer())).where(
                Contact.account_id == self.account_id, Contact.phone.in_(phones))
            db.session.execute(insert_ignoring_duplicates(contact_tags).from_select(["contact_id", "tag_id"], source))
