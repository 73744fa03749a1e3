"""Sizes as the messages that refuse a file give them: ``20 MB``, ``1.5 MB``, ``48.8 KB``, ``999 bytes``."""

KB = 1024
MB = 1024 * KB


def size_text(size: int) -> str:
    """A whole number of MB without decimals; otherwise one decimal, in KB below 1 MB and bytes below 1 KB."""
    if size >= MB or round(size / KB, 1) >= 1024:  # not "1024.0 KB"
        return f"{size // MB} MB" if size % MB == 0 else f"{size / MB:.1f} MB"
    if size >= KB:
        return f"{size // KB} KB" if size % KB == 0 else f"{size / KB:.1f} KB"
    return f"{size} bytes"
