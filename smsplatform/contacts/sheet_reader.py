"""Reads one uploaded workbook's sheet into CSV text, in a process of its own (``workbook`` starts it).

openpyxl reads a workbook's shared-strings table and styles whole into memory before the first row, and
parses in pure Python without a pause: in a web worker a hostile file could take gigabytes and minutes
and stall every other request of the worker. Here the kernel bounds both (``RLIMIT_AS``, ``RLIMIT_CPU``)
and the worker only waits on a pipe. Imports nothing of the app, so it starts in a fraction of a second.

Usage: ``python sheet_reader.py MEMORY_BYTES CPU_SECONDS < workbook > csv``; on success the sheet's name,
otherwise {"error": kind}, is the last line of stderr as JSON.
"""
import csv
import io
import json
import re
import resource
import sys
from datetime import date, datetime, time

from openpyxl import load_workbook
from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

_LINE_BREAKS = re.compile(r"\r\n|[\r\n\v\f\x85\u2028\u2029]")


def main(memory_bytes: int, cpu_seconds: int) -> int:
    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 1))  # SIGXCPU first, then SIGKILL
    try:
        book = load_workbook(io.BytesIO(sys.stdin.buffer.read()), read_only=True, data_only=True)
        sheet = book.active if book.active in book.worksheets else next(iter(book.worksheets), None)
        if sheet is None:
            return _fail("no sheet")
        sheet.reset_dimensions()  # read every row, whatever size the file claims its sheet has
        text = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="")
        writer = csv.writer(text)
        for row in sheet.iter_rows(values_only=True):
            writer.writerow([_cell_text(value) for value in row])
        text.flush()
    except MemoryError:
        return _fail("memory")
    except Exception as exc:  # openpyxl raises whatever its parsers meet: KeyError, XML errors, defusedxml's
        return _fail("unreadable", _chain(exc))
    print(json.dumps({"sheet": sheet.title}), file=sys.stderr)
    return 0


def _fail(kind: str, cause: str = "") -> int:
    print(json.dumps({"error": kind, "cause": cause}), file=sys.stderr)
    return 1


def _chain(error: BaseException | None) -> str:
    """The names of an exception and of those it came from: "ValueError < EntitiesForbidden"."""
    names = []
    while error is not None:
        names.append(type(error).__name__)
        error = error.__cause__ or error.__context__
    return " < ".join(names)


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


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2])))
