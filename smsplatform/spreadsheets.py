"""CSV files as spreadsheets (Excel above all) read them.

A spreadsheet opening a CSV file runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab
or CR before one) as a formula: ``=HYPERLINK(…)`` or ``=cmd|…`` in a contact's name or an SMS would
run on the computer of whoever opens an export (OWASP "CSV injection"). Such text is stored as it was
given and neutralised where a CSV file is written, by a leading ``'``, which the import drops again.

Excel finds UTF-8 only behind a byte-order mark, and splits the columns at the list separator of its
language: ``,`` in English, ``;`` where the decimal separator is a comma (German, French, Spanish…).
"""
import csv
import io
import re
from typing import Iterable, Iterator

from smsplatform.timeutil import to_zone

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


def time_cell(value, tz_name: str) -> str:
    """A stored (UTC) time as a cell in the account's zone, in a form spreadsheets read as a date; empty for none."""
    return to_zone(value, tz_name).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def csv_lines(rows: Iterable[Iterable], delimiter: str = ",", block_size: int = 64 * 1024) -> Iterator[str]:
    """``rows`` (the header first) as CSV text for streaming, in blocks of about ``block_size`` characters
    (a server writes each block to the socket: a block per line would be a write per line): UTF-8's
    byte-order mark first, every cell through :func:`escape_cell`."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out, delimiter=delimiter)
    for row in rows:
        writer.writerow([escape_cell(cell) for cell in row])
        if out.tell() >= block_size:
            yield out.getvalue()
            out.seek(0)
            out.truncate()
    if out.tell():
        yield out.getvalue()
