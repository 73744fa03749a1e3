"""What reading an uploaded Excel workbook costs: a legitimate list of contacts against a shared-strings bomb.

Each case runs ``workbook_as_csv`` (the import's first step for a workbook) in a fresh process and prints its
wall time, CPU time (its own and its children's) and peak RSS (its own and a child's); the floor is the peak RSS of the same process before it reads anything.
The legitimate workbook has N rows of text cells (phone, name, one to three tags); the bomb is a small
.xlsx whose shared-strings part holds ``--bomb-strings`` copies of ``<si><t>phone</t></si>`` (the
security review's 450 KB file unpacked to 189 MB with 9,000,000).
Usage: .venv/bin/python bench/workbook_limits.py [--rows 100000] [--bomb-strings 9000000]
"""
import argparse
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from openpyxl import Workbook

import common  # first of the project's imports: it puts the project root on sys.path
from smsplatform.contacts.workbook import workbook_as_csv
from smsplatform.errors import ValidationError

TAGS = ("VIP", "Berlin", "Hamburg", "Employees", "Newsletter", "Stammkunde")
MAIN = "http://schemas.openxmlformats.org/spreadsheetml/2006/main"
RELATIONSHIPS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
PACKAGE = "http://schemas.openxmlformats.org/package/2006/relationships"


def legitimate_workbook(rows: int) -> bytes:
    book = Workbook()
    sheet = book.active
    sheet.append(["phone", "name", "tags"])
    for i in range(rows):
        sheet.append([f"+49157{i:08d}", f"Kunde {i}", "|".join(TAGS[(i + k) % len(TAGS)] for k in range(1 + i % 3))])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def shared_strings_bomb(strings: int) -> bytes:
    """A one-cell sheet and a shared-strings part of ``strings`` entries, compressed about 400:1."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", (
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
            '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
            '<Default Extension="xml" ContentType="application/xml"/>'
            '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.'
            'spreadsheetml.sheet.main+xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/'
            'vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/><Override PartName="/xl/sharedStrings.xml"'
            ' ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/></Types>'))
        archive.writestr("_rels/.rels", f'<?xml version="1.0"?><Relationships xmlns="{PACKAGE}"><Relationship '
                                        f'Id="rId1" Type="{RELATIONSHIPS}/officeDocument" Target="xl/workbook.xml"/>'
                                        '</Relationships>')
        archive.writestr("xl/workbook.xml", f'<?xml version="1.0"?><workbook xmlns="{MAIN}" xmlns:r="{RELATIONSHIPS}">'
                                            '<sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>')
        archive.writestr("xl/_rels/workbook.xml.rels", (
            f'<?xml version="1.0"?><Relationships xmlns="{PACKAGE}">'
            f'<Relationship Id="rId1" Type="{RELATIONSHIPS}/worksheet" Target="worksheets/sheet1.xml"/>'
            f'<Relationship Id="rId2" Type="{RELATIONSHIPS}/sharedStrings" Target="sharedStrings.xml"/>'
            '</Relationships>'))
        archive.writestr("xl/worksheets/sheet1.xml", f'<?xml version="1.0"?><worksheet xmlns="{MAIN}"><sheetData>'
                                                     '<row r="1"><c r="A1" t="s"><v>0</v></c></row></sheetData>'
                                                     '</worksheet>')
        with archive.open("xl/sharedStrings.xml", "w", force_zip64=True) as part:
            part.write(f'<?xml version="1.0"?><sst xmlns="{MAIN}">'.encode())
            block = b"<si><t>phone</t></si>" * 100_000
            for _ in range(strings // 100_000):
                part.write(block)
            part.write(b"<si><t>phone</t></si>" * (strings % 100_000) + b"</sst>")
    return out.getvalue()


def peak_rss_mb() -> float:
    """This process's peak resident memory (``ru_maxrss`` would count the parent's, kept across exec)."""
    status = Path("/proc/self/status").read_text()
    return int(status.split("VmHWM:")[1].split()[0]) / 1024


def read_once(path: str) -> None:
    """The child process: read the workbook as the import does, print the figures as JSON (CPU and memory
    of this process and of any process it starts)."""
    floor_rss = peak_rss_mb()
    started, cpu = time.perf_counter(), os.times()
    try:
        with open(path, "rb") as data:
            csv_text, _ = workbook_as_csv(data)
            outcome = f"read, {sum(1 for _ in csv_text) - 1:,} rows"
    except ValidationError as refused:
        outcome = f"refused: {refused.message}"
    now = os.times()
    print(json.dumps({"wall": time.perf_counter() - started,
                      "cpu": sum(now[:4]) - sum(cpu[:4]), "rss": peak_rss_mb(), "floor": floor_rss,
                      "children_rss": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
                      "outcome": outcome}))


def measure(label: str, data: bytes, workdir: str) -> None:
    path = Path(workdir) / f"{label}.xlsx"
    path.write_bytes(data)
    with zipfile.ZipFile(path) as archive:
        unpacked = sum(entry.file_size for entry in archive.infolist())
    done = subprocess.run([sys.executable, __file__, "--read", str(path)], capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    print(f"{label}: {len(data) / 1e6:.2f} MB, unpacks to {unpacked / 1e6:.1f} MB: {figures['wall']:6.2f} s "
          f"(CPU {figures['cpu']:5.2f} s), peak RSS {figures['rss']:5.0f} MB (floor {figures['floor']:.0f} MB "
          f"before reading), of a reading process {figures['children_rss']:.0f} MB — {figures['outcome'][:150]}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--bomb-strings", type=int, default=9_000_000)
    parser.add_argument("--read", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.read:
        read_once(args.read)
        return
    with tempfile.TemporaryDirectory(prefix="bench-workbook-") as workdir:
        measure(f"{args.rows:,} contacts", legitimate_workbook(args.rows), workdir)
        measure(f"bomb of {args.bomb_strings:,} shared strings", shared_strings_bomb(args.bomb_strings), workdir)


if __name__ == "__main__":
    main()
