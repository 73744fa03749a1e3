"""Segment counting: GSM-7 (160 in one, 153 per part; extension characters take two septets), else UCS-2
(70, 67 per part; a character beyond the BMP takes two code units)."""
from hypothesis import given
from hypothesis import strategies as st

from smsplatform.messaging.segments import GSM7_BASIC, GSM7_EXTENSION, count_segments

GSM7_TEXT = st.text(alphabet=sorted(GSM7_BASIC | GSM7_EXTENSION), max_size=700)
ANY_TEXT = st.text(alphabet=st.sampled_from(sorted(GSM7_BASIC | GSM7_EXTENSION) + ["ç", "Ж", "ı", "😀", "\u00a0"]),
                   max_size=700)


def by_each_character(text: str) -> tuple[str, int, int]:
    """The rules stated one character at a time."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENSION for ch in text):
        units = sum(2 if ch in GSM7_EXTENSION else 1 for ch in text)
        return "GSM-7", units, 1 if units <= 160 else -(-units // 153)
    units = sum(2 if ord(ch) > 0xFFFF else 1 for ch in text)
    return "UCS-2", units, 1 if units <= 70 else -(-units // 67)


@given(st.one_of(GSM7_TEXT, ANY_TEXT))
def test_every_text_counts_as_its_characters_say(text):
    info = count_segments(text)
    assert (info.encoding, info.units, info.segments) == by_each_character(text)


def test_the_boundaries():
    assert count_segments("a" * 160).segments == 1 and count_segments("a" * 161).segments == 2
    assert count_segments("a" * 306).segments == 2 and count_segments("a" * 307).segments == 3
    assert count_segments("€" * 80).segments == 1 and count_segments("€" * 80 + "a").segments == 2
    assert count_segments("ç" * 70).segments == 1 and count_segments("ç" * 71).segments == 2
    assert count_segments("😀" * 35).units == 70 and count_segments("😀" * 36).segments == 2
