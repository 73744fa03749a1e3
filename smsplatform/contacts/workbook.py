"""Excel workbooks (.xlsx, .xlsm) in the contacts import: a sheet's cells written out as the CSV text the
importer reads.

One code path reads every upload: the header detection, the row checks and the report are the CSV
import's, and line N of the report is row N of the sheet (a line break inside a cell becomes a space).
A workbook keeps a number whole where a CSV file saved by Excel may not (a phone column shown as
``4,91575E+12`` is saved so in CSV, its last digits lost): a number cell is written as its digits.

A workbook is a ZIP archive of XML. What it unpacks to is checked against ``MAX_UNPACKED_BYTES`` before
anything is parsed (ZIP readers stop at an entry's declared size), and openpyxl parses the XML with
defusedxml (a requirement), which refuses entity expansion ("billion laughs").
"""
import csv
import io
import re
import tempfile
import zipfile
from datetime import date, datetime, time
from typing import BinaryIO

import openpyxl
from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from smsplatform import turns
from smsplatform.errors import ValidationError
from smsplatform.sizes import MB, size_text

MAX_UNPACKED_BYTES = 200 * MB
# What zipfile raises for an upload that only starts like a ZIP archive (the importer's checks share it).
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, ValueError)
_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")


def is_workbook(data: BinaryIO) -> bool:
    """Whether the upload is an Office Open XML workbook (an .xlsx or .xlsm)."""
    data.seek(0)
    if not data.read(4).startswith(b"PK\x03\x04"):
        return False
    data.seek(0)
    try:
        with zipfile.ZipFile(data) as archive:
            return "xl/workbook.xml" in archive.namelist()
    except ZIP_ERRORS:
        return False


def workbook_as_csv(data: BinaryIO) -> tuple[BinaryIO, str]:
    """The sheet that was open when the workbook was saved (else its first worksheet) as UTF-8 CSV, and
    the sheet's name. ValidationError when the workbook cannot be read."""
    if not openpyxl.DEFUSEDXML:  # openpyxl chose its XML parser at import: without defusedxml, an unsafe one
        raise ValidationError("this server cannot read Excel workbooks safely (the defusedxml package is missing); "
                              "save the list as CSV and upload that", field="file")
    _check_unpacked_size(data)
    data.seek(0)
    try:
        book = load_workbook(data, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises whatever its parsers meet: KeyError, XML errors, defusedxml's
        raise _unreadable() from exc
    try:
        sheet = book.active if book.active in book.worksheets else next(iter(book.worksheets), None)
        if sheet is None:
            raise ValidationError("the workbook has no worksheet", field="file")
        sheet.reset_dimensions()  # read every row, whatever size the file claims its sheet has
        out = tempfile.SpooledTemporaryFile(max_size=4 * 1024 * 1024)
        text = io.TextIOWrapper(out, encoding="utf-8", newline="")
        writer = csv.writer(text)
        try:
            for number, row in enumerate(sheet.iter_rows(values_only=True), start=1):
                writer.writerow([_cell_text(value) for value in row])
                turns.now_and_then(number)  # no transaction is open yet
        except Exception as exc:
            raise _unreadable() from exc
        text.flush()
        text.detach()
        out.seek(0)
        return out, sheet.title
    finally:
        book.close()


def _check_unpacked_size(data: BinaryIO) -> None:
    data.seek(0)
    try:
        with zipfile.ZipFile(data) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
    except ZIP_ERRORS as exc:
        raise _unreadable() from exc
    if unpacked > MAX_UNPACKED_BYTES:
        raise ValidationError(f"the workbook unpacks to {size_text(unpacked)}; the limit is "
                              f"{size_text(MAX_UNPACKED_BYTES)}: save the list as CSV and upload that", field="file")


def _unreadable() -> ValidationError:
    return ValidationError("the Excel workbook could not be read (damaged, or not a plain .xlsx); save it as CSV "
                           "(in Excel: File › Save As › 'CSV UTF-8') and upload that", field="file")


def _cell_text(value) -> str:
    """A cell as the text the importer reads. A whole number is its digits (4915752982212, not 4.91575E+12
    or 4915752982212.0); a formula counts with the value Excel last calculated and saved."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e17 else repr(value)
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S") if value.time() != time() else value.strftime("%Y-%m-%d")
    if isinstance(value, (date, time)):
        return value.isoformat()
    return ILLEGAL_CHARACTERS_RE.sub("", _LINE_BREAKS.sub(" ", str(value)))
