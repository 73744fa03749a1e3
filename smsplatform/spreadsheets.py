"""Exports as spreadsheets (Excel above all) read them: CSV files, and Excel workbooks.

A spreadsheet opening a CSV file runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab
or CR before one) as a formula: ``=HYPERLINK(…)`` or ``=cmd|…`` in a contact's name or an SMS would
run on the computer of whoever opens an export (OWASP "CSV injection"). Such text is stored as it was
given and neutralised where a CSV file is written, by a leading ``'``, which the import drops again.

Excel finds UTF-8 only behind a byte-order mark, and splits the columns at the list separator of its
language: ``,`` in English, ``;`` where the decimal separator is a comma (German, French, Spanish…).
And it reads ``+4915752982212`` in a CSV file as the number 4915752982212, shown as ``4,91575E+12``.
A workbook (``xlsx_file``) has none of that: every text is a text cell, never a formula nor a number,
and times are date cells.
"""
import csv
import io
import re
import tempfile
from datetime import datetime
from typing import BinaryIO, Iterable, Iterator

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

from smsplatform import turns
from smsplatform.timeutil import to_zone

XLSX_MIMETYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
DELIMITERS = {"comma": ",", "semicolon": ";"}  # the name an export URL gives (?delimiter=semicolon) -> the character
_PLAIN_PHONE = re.compile(r"\+[0-9]{1,20}")  # a spreadsheet reads it as a number, never as a formula


def escape_cell(value):
    """A cell a spreadsheet shows as the text it is: a ``'`` before one that starts like a formula (not
    before a plain international number such as ``+4915752982212``). Other values are returned as given."""
    if isinstance(value, str) and value.startswith(FORMULA_START) and not _PLAIN_PHONE.fullmatch(value):
        return "'" + value
    return value


def unescape_cell(value: str) -> str:
    """A cell read from a CSV file without the ``'`` that keeps a spreadsheet from running it as a formula."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_START) else value


def local_time(value, tz_name: str) -> datetime | None:
    """A stored (UTC) time as the account's wall-clock time, without a zone (as a spreadsheet shows it)."""
    return to_zone(value, tz_name).replace(tzinfo=None) if value else None


def _csv_cell(value):
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    return escape_cell(value)


def csv_lines(rows: Iterable[Iterable], delimiter: str = ",", block_size: int = 64 * 1024) -> Iterator[str]:
    """``rows`` (the header first) as CSV text for streaming, in blocks of about ``block_size`` characters
    (a server writes each block to the socket: a block per line would be a write per line): UTF-8's
    byte-order mark first, every text cell through :func:`escape_cell`, times as ``YYYY-MM-DD HH:MM:SS``."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=delimiter)
    for row in rows:
        writer.writerow([_csv_cell(cell) for cell in row])
        if out.tell() >= block_size:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue()


def xlsx_file(rows: Iterable[Iterable], sheet_title: str) -> BinaryIO:
    """``rows`` (the header first) as an Excel workbook of one sheet, in a temporary file. Text is written
    as text cells (``=HYPERLINK(…)`` stays text, ``+4915752982212`` is not a number), without the control
    characters XML cannot hold; times (naive, see ``local_time``) as date cells. openpyxl's write-only
    mode keeps one row in memory at a time; the worker's other requests get turns as rows are written."""
    book = Workbook(write_only=True)
    sheet = book.create_sheet(sheet_title)
    for number, row in enumerate(rows, start=1):
        sheet.append([_xlsx_cell(sheet, value) for value in row])
        turns.now_and_then(number)
    out = tempfile.TemporaryFile()
    book.save(out)
    out.seek(0)
    return out


def _xlsx_cell(sheet, value):
    if isinstance(value, str):
        cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("", value))
        cell.data_type = "s"  # set after the value: openpyxl takes a text starting with "=" for a formula
        return cell
    if isinstance(value, datetime):
        cell = WriteOnlyCell(sheet, value)
        cell.number_format = "yyyy-mm-dd hh:mm:ss"
        return cell
    return value
