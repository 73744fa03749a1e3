"""The files a test's upload directory holds."""
from pathlib import Path


def files_under(path: Path) -> list[Path]:
    """Every file below ``path``, sorted; none when it does not exist (nothing was ever stored)."""
    return sorted(p for p in path.rglob("*") if p.is_file())
