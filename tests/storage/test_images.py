import struct

import pytest

from smsplatform.errors import ValidationError
from smsplatform.storage.images import GIF, JPEG, PNG, WEBP, detect_image
from tests.storage import images


@pytest.mark.parametrize(("data", "kind"), [
    (images.png(), PNG), (images.png(300, 1), PNG), (images.jpeg(), JPEG), (images.gif(), GIF),
    (images.WEBP_LOSSY, WEBP), (images.WEBP_LOSSLESS, WEBP), (images.WEBP_ALPHA, WEBP), (images.WEBP_ANIMATED, WEBP),
])
def test_complete_images_are_recognised_by_content(data, kind):
    assert detect_image(data) is kind


@pytest.mark.parametrize("data", [
    images.TEXT, images.SVG_WITH_SCRIPT, images.SVG_PLAIN, b"<html><script>alert(1)</script></html>",
    b"%PDF-1.7\n", b"BM" + b"\x00" * 60, b"\x00" * 64, b"\x89PNX\r\n\x1a\n",
])
def test_anything_but_the_four_formats_is_refused(data):
    with pytest.raises(ValidationError, match="only JPEG, PNG, WebP or GIF") as caught:
        detect_image(data)
    assert caught.value.field == "file"


@pytest.mark.parametrize("data", [
    images.png(), images.jpeg(), images.gif(), images.WEBP_LOSSY, images.WEBP_LOSSLESS, images.WEBP_ANIMATED,
], ids=["png", "jpeg", "gif", "webp-lossy", "webp-lossless", "webp-animated"])
def test_every_truncation_of_a_valid_image_is_refused(data):
    for length in range(1, len(data)):
        with pytest.raises(ValidationError):
            detect_image(data[:length])


def _png_without(chunk_type: bytes) -> bytes:
    data, pos, out = images.png(), 8, [images.png()[:8]]
    while pos < len(data):
        length = struct.unpack_from(">I", data, pos)[0]
        if data[pos + 4:pos + 8] != chunk_type:
            out.append(data[pos:pos + 12 + length])
        pos += 12 + length
    return b"".join(out)


def test_damaged_pngs_are_refused():
    good = images.png()
    flipped = bytearray(good)
    flipped[40] ^= 0xFF  # inside IDAT: its CRC no longer matches
    for damaged in (bytes(flipped), _png_without(b"IEND"), _png_without(b"IDAT"), _png_without(b"IHDR"),
                    images.png(width=0)):
        with pytest.raises(ValidationError, match="not a complete PNG"):
            detect_image(damaged)


def test_image_magic_followed_by_markup_is_refused():
    with pytest.raises(ValidationError, match="not a complete"):
        detect_image(b"\xff\xd8\xff\xe0<svg onload=alert(1)>")
    with pytest.raises(ValidationError, match="not a complete"):
        detect_image(b"GIF89a<script>alert(1)</script>")
