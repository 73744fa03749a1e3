"""Excel workbooks (.xlsx, .xlsm) in the contacts import: a sheet's cells written out as the CSV text the
importer reads.

One code path reads every upload: the header detection, the row checks and the report are the CSV
import's, and line N of the report is row N of the sheet (a line break inside a cell becomes a space).
A workbook keeps a number whole where a CSV file saved by Excel may not (a phone column shown as
``4,91575E+12`` is saved so in CSV, its last digits lost): a number cell is written as its digits.

A workbook is a ZIP archive of XML. What it unpacks to is checked against ``MAX_UNPACKED_BYTES``, and the
entries of its shared-strings table against ``MAX_SHARED_STRINGS``, before anything is parsed (ZIP readers
stop at an entry's declared size). openpyxl then reads the sheet in a process of its own
(``sheet_reader``), within ``READ_MEMORY_BYTES`` of address space and ``READ_CPU_SECONDS`` of CPU, while the
web worker waits on a pipe: whatever a file within the request limit makes openpyxl do, it costs at most
that, and the worker's other requests go on. openpyxl parses the XML with defusedxml (a requirement),
which refuses entity expansion ("billion laughs").
"""
import json
import re
import signal
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import BinaryIO

import openpyxl

from smsplatform import turns
from smsplatform.errors import ValidationError
from smsplatform.sizes import MB, size_text

MAX_UNPACKED_BYTES = 200 * MB
# openpyxl holds every shared string in memory (about 140 bytes each) and parses about 80,000 a second.
# 100,000 contacts with a text phone, name and tags hold about 200,000; a sheet of Excel's 1,048,576 rows
# with one text column of its own, about 1,000,000.
MAX_SHARED_STRINGS = 1_000_000
# The reading process's bounds: 100,000 contacts read in about 6 s of CPU and 100 MB; the largest workbook
# within MAX_UNPACKED_BYTES, about 1,000,000 rows, in about 60 s.
READ_MEMORY_BYTES = 1024 * MB
READ_CPU_SECONDS = 90
READ_WALL_SECONDS = 3 * READ_CPU_SECONDS  # a busy machine gives the child a share of a CPU, not a whole one
# What zipfile raises for an upload that only starts like a ZIP archive (the importer's checks share it).
ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, OSError, ValueError)
_SHARED_STRING = re.compile(rb"<(?:[A-Za-z_][\w.-]{0,63}:)?si[\s/>]")  # an <si> entry, with or without a prefix
_LONGEST_ENTRY = 69
_READER = Path(__file__).with_name("sheet_reader.py")
_BLOCK = 1 * MB


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
    _check_archive(data)
    data.seek(0)
    with tempfile.TemporaryFile() as source:
        while block := data.read(_BLOCK):
            source.write(block)
        source.seek(0)
        out = tempfile.TemporaryFile()
        try:
            reader = subprocess.run([sys.executable, "-I", str(_READER), str(READ_MEMORY_BYTES), str(READ_CPU_SECONDS)],
                                    stdin=source, stdout=out, stderr=subprocess.PIPE, timeout=READ_WALL_SECONDS)
        except subprocess.TimeoutExpired as exc:
            out.close()
            raise _too_costly(f"took longer than {READ_WALL_SECONDS} s to read") from exc
    answer = _last_json_line(reader.stderr)
    if reader.returncode != 0 or "sheet" not in answer:
        out.close()
        raise _refusal(reader.returncode, answer, reader.stderr)
    out.seek(0)
    return out, answer["sheet"]


def _check_archive(data: BinaryIO) -> None:
    """Refuse a workbook that unpacks to more than MAX_UNPACKED_BYTES, or whose parts hold more than
    MAX_SHARED_STRINGS ``<si>`` entries: every part is counted, whatever its name (the manifest names the
    shared-strings part)."""
    data.seek(0)
    try:
        with zipfile.ZipFile(data) as archive:
            unpacked = sum(entry.file_size for entry in archive.infolist())
            if unpacked > MAX_UNPACKED_BYTES:
                raise _too_big(f"the workbook unpacks to {size_text(unpacked)}; the limit is "
                               f"{size_text(MAX_UNPACKED_BYTES)}")
            count = sum(_shared_strings(archive, entry) for entry in archive.infolist())
    except ZIP_ERRORS as exc:
        raise _unreadable() from exc
    if count > MAX_SHARED_STRINGS:
        raise _too_big(f"the workbook's shared-strings table holds {count:,} entries; the limit is "
                       f"{MAX_SHARED_STRINGS:,}")


def _shared_strings(archive: zipfile.ZipFile, entry: zipfile.ZipInfo) -> int:
    """The ``<si>`` entries of one part, read a block at a time (other requests get a turn after each)."""
    count = 0
    with archive.open(entry) as part:
        tail = b""
        while block := part.read(_BLOCK):
            text = tail + block
            cut = text.rfind(b"<")  # an entry cut off at the block's end is counted with the next
            if cut < 0 or len(text) - cut > _LONGEST_ENTRY:
                cut = len(text)
            count += len(_SHARED_STRING.findall(text, 0, cut))
            tail = text[cut:]
            turns.let_others_run()
        return count + len(_SHARED_STRING.findall(tail))


def _too_big(problem: str) -> ValidationError:
    return ValidationError(f"{problem}: save the list as CSV and upload that", field="file")


def _last_json_line(stderr: bytes) -> dict:
    lines = stderr.decode("utf-8", "replace").strip().splitlines()
    try:
        answer = json.loads(lines[-1]) if lines else {}
    except ValueError:
        return {}
    return answer if isinstance(answer, dict) else {}


def _refusal(returncode: int, answer: dict, stderr: bytes) -> ValidationError:
    if answer.get("error") == "no sheet":
        return ValidationError("the workbook has no worksheet", field="file")
    if answer.get("error") == "memory":
        return _too_costly(f"needs more than {size_text(READ_MEMORY_BYTES)} of memory to read")
    if returncode == -signal.SIGXCPU:
        return _too_costly(f"needs more than {READ_CPU_SECONDS} s of CPU to read")
    error = _unreadable()
    error.__cause__ = UnreadableWorkbook(answer.get("cause") or stderr.decode("utf-8", "replace")[-500:])
    return error


class UnreadableWorkbook(Exception):
    """What the reading process met (an exception's name, or its last output)."""


def _too_costly(what: str) -> ValidationError:
    return ValidationError(f"the workbook {what}: save the list as CSV and upload that", field="file")


def _unreadable() -> ValidationError:
    return ValidationError("the Excel workbook could not be read (damaged, or not a plain .xlsx); save it as CSV "
                           "(in Excel: File › Save As › 'CSV UTF-8') and upload that", field="file")
