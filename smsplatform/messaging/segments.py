"""SMS segment counting: GSM-7 (160/153, extension characters count two) or UCS-2 (70/67)."""
from dataclasses import dataclass

GSM7_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENSION = set("^{}\\[~]|€\f")
GSM7 = GSM7_BASIC | GSM7_EXTENSION


@dataclass(frozen=True)
class SegmentInfo:
    encoding: str     # "GSM-7" or "UCS-2"
    units: int        # septets (GSM-7) or UTF-16 code units (UCS-2)
    segments: int


def count_segments(text: str) -> SegmentInfo:
    # Set operations over the distinct characters, not a step per character: every message is counted.
    characters = set(text)
    if characters <= GSM7:
        units = len(text) + sum(text.count(ch) for ch in characters & GSM7_EXTENSION)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2
        single, multi, encoding = 70, 67, "UCS-2"
    if units <= single:
        return SegmentInfo(encoding, units, 1)
    return SegmentInfo(encoding, units, -(-units // multi))
