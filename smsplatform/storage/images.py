"""Recognise an image by its content: JPEG, PNG, WebP or GIF, checked to be whole.

The file name and the declared content type are never trusted. Each format's structure is walked
far enough to know the file is complete (PNG chunks with CRCs up to IEND, JPEG segments up to a
scan and its EOI, GIF blocks up to the trailer, the WebP RIFF size), so a truncated upload, a text
file named ``.jpg`` or an SVG is refused. Pixels are not decoded.
"""
import struct
import zlib
from dataclasses import dataclass

from smsplatform.errors import ValidationError


@dataclass(frozen=True)
class ImageKind:
    label: str
    extension: str
    content_type: str


JPEG = ImageKind("JPEG", "jpg", "image/jpeg")
PNG = ImageKind("PNG", "png", "image/png")
WEBP = ImageKind("WebP", "webp", "image/webp")
GIF = ImageKind("GIF", "gif", "image/gif")
KINDS = (JPEG, PNG, WEBP, GIF)

ALLOWED = "JPEG, PNG, WebP or GIF"


class _Broken(Exception):
    """The file starts like an image of this kind but its structure is incomplete or wrong."""


def detect_image(data: bytes, field: str = "file") -> ImageKind:
    """The kind of a complete JPEG, PNG, WebP or GIF image; ValidationError for anything else."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        kind, check = PNG, _check_png
    elif data.startswith(b"\xff\xd8\xff"):
        kind, check = JPEG, _check_jpeg
    elif data[:6] in (b"GIF87a", b"GIF89a"):
        kind, check = GIF, _check_gif
    elif data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        kind, check = WEBP, _check_webp
    else:
        raise ValidationError(f"file is not an image: only {ALLOWED} images are accepted", field=field)
    try:
        check(data)
    except (_Broken, IndexError, struct.error):
        raise ValidationError(f"file is not a complete {kind.label} image (truncated or damaged)", field=field) from None
    return kind


def _check_png(data: bytes) -> None:
    pos, first, seen_data = 8, True, False
    while pos + 12 <= len(data):
        length, chunk_type = struct.unpack_from(">I4s", data, pos)
        end = pos + 12 + length
        if end > len(data):
            raise _Broken
        body = data[pos + 8:end - 4]
        if zlib.crc32(chunk_type + body) != struct.unpack_from(">I", data, end - 4)[0]:
            raise _Broken
        if first:
            width, height = struct.unpack_from(">II", body) if length == 13 else (0, 0)
            if chunk_type != b"IHDR" or not width or not height:
                raise _Broken
            first = False
        elif chunk_type == b"IDAT":
            seen_data = True
        elif chunk_type == b"IEND":
            if not seen_data:
                raise _Broken
            return
        pos = end
    raise _Broken


# Start-of-frame markers (baseline, progressive, lossless, arithmetic); C4, C8 and CC are not frames.
_JPEG_FRAMES = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _check_jpeg(data: bytes) -> None:
    pos, seen_frame = 2, False
    while True:
        if data[pos] != 0xFF:
            raise _Broken
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:  # markers without a length
            pos += 2
            continue
        if marker in (0xD8, 0xD9):
            raise _Broken  # a second SOI, or EOI before any scan
        length = struct.unpack_from(">H", data, pos + 2)[0]
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise _Broken
        if marker in _JPEG_FRAMES:
            if length < 8 or not struct.unpack_from(">H", data, pos + 7)[0]:  # zero width
                raise _Broken
            seen_frame = True
        elif marker == 0xDA:
            # Entropy-coded data escapes 0xFF as FF00, so FFD9 after the scan header is the real EOI.
            if not seen_frame or data.find(b"\xff\xd9", end) < 0:
                raise _Broken
            return
        pos = end


def _check_gif(data: bytes) -> None:
    width, height, packed = struct.unpack_from("<HHB", data, 6)
    if not width or not height:
        raise _Broken
    pos = 13 + (3 << ((packed & 7) + 1) if packed & 0x80 else 0)
    seen_image = False
    while True:
        block = data[pos]
        if block == 0x3B:  # trailer
            if not seen_image:
                raise _Broken
            return
        if block == 0x21:  # extension: label, then data sub-blocks
            pos = _skip_sub_blocks(data, pos + 2)
        elif block == 0x2C:  # image descriptor, optional local colour table, LZW code size, data
            local = data[pos + 9]
            pos += 10 + (3 << ((local & 7) + 1) if local & 0x80 else 0)
            pos = _skip_sub_blocks(data, pos + 1)
            seen_image = True
        else:
            raise _Broken


def _skip_sub_blocks(data: bytes, pos: int) -> int:
    while True:
        size = data[pos]
        pos += 1 + size
        if pos > len(data):
            raise _Broken
        if size == 0:
            return pos


def _check_webp(data: bytes) -> None:
    riff_end = 8 + struct.unpack_from("<I", data, 4)[0]
    if riff_end > len(data) or riff_end < 20:
        raise _Broken
    pos, chunks = 12, []
    while pos + 8 <= riff_end:
        fourcc, size = struct.unpack_from("<4sI", data, pos)
        start = pos + 8
        if start + size > riff_end:
            raise _Broken
        chunks.append((fourcc, data[start:start + size]))
        pos = start + size + (size & 1)
    if pos < riff_end or not chunks:
        raise _Broken
    first, payload = chunks[0]
    if first == b"VP8 ":
        if len(payload) < 10 or payload[3:6] != b"\x9d\x01\x2a":
            raise _Broken
    elif first == b"VP8L":
        if len(payload) < 5 or payload[0] != 0x2F:
            raise _Broken
    elif first == b"VP8X":
        if not any(fourcc in (b"VP8 ", b"VP8L", b"ANMF") for fourcc, _ in chunks[1:]):
            raise _Broken
    else:
        raise _Broken
