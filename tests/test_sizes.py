"""Sizes in the messages that refuse a file."""
import pytest

from smsplatform.sizes import size_text


@pytest.mark.parametrize("size, text", [
    (20 * 1024 * 1024, "20 MB"), (50 * 1000 * 1000, "47.7 MB"), (1024 * 1024, "1 MB"), (1024 * 1024 - 1, "1.0 MB"),
    (50_000, "48.8 KB"), (2048, "2 KB"), (1024, "1 KB"), (1023, "1023 bytes"), (0, "0 bytes"),
])
def test_size_text(size, text):
    assert size_text(size) == text
