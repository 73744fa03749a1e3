"""Text search that folds case and accents as MariaDB does, on both databases.

MariaDB compares the dashboard's text columns in ``utf8mb4_unicode_ci`` (UCA 4.0.0): its LIKE matches a
character against one character, and takes two as equal when their collation weights are: ``MÜLLER``,
``Muller`` and ``müller`` all find "Müller", ``σωκρατης`` finds "Σωκράτης", a fullwidth ``Ａ`` is an ``a``,
``٣`` is a ``3``. It does not expand: ``strasse`` does not find "Straße", nor ``oe`` "œ"; and it keeps
apart letters that only look accented, such as Cyrillic ``й`` and ``и``.

SQLite compares bytes (its LIKE folds ASCII letters only), so every SQLite connection gets a
``search_fold()`` function (``register_search_fold``) that maps each character to the one its MariaDB class
is represented by, and on SQLite ``contains_any_case`` puts both sides of the LIKE through it. The classes
are MariaDB's own, read from a server (``collation_classes``) into ``collation_classes.txt`` beside this
module; a MariaDB test reads them again and compares. They cover the Basic Multilingual Plane, where every
script's letters are; beyond it (emoji, rare ideographs) SQLite matches a character only itself, where
MariaDB takes any two as equal.

The searches this serves start with ``%``, which no index can serve: they read the account's rows through
its ``account_id`` index either way, and the function costs a call per such row, not an index.

``scripts/collation-classes DATABASE_URL`` writes the classes file again from a MariaDB server.
"""
import re
from pathlib import Path

from sqlalchemy import func, text

from smsplatform.extensions import db

CLASSES_FILE = Path(__file__).with_name("collation_classes.txt")
COLLATION = "utf8mb4_unicode_ci"
_LIKE_SPECIAL = ("\\", "%", "_")
_BATCH = 2000  # characters per query while reading a server's classes


def parse_classes(lines) -> list[list[int]]:
    """The classes of a classes file: each line a class of code points in hexadecimal (``00C0-00C5`` a run of
    them), its representative first; ``#`` starts a comment line."""
    classes = []
    for line in lines:
        if not line.strip() or line.startswith("#"):
            continue
        points = []
        for item in line.split():
            first, _, last = item.partition("-")
            points.extend(range(int(first, 16), int(last or first, 16) + 1))
        classes.append(points)
    return classes


def format_classes(classes: list[list[int]]) -> str:
    """``classes`` as the lines of a classes file, runs of consecutive code points written as ranges."""
    lines = []
    for points in classes:
        items, start = [], 0
        for index in range(1, len(points) + 1):
            if index == len(points) or points[index] != points[index - 1] + 1:
                run = points[start:index]
                items.extend([f"{run[0]:04X}-{run[-1]:04X}"] if len(run) > 2 else (f"{p:04X}" for p in run))
                start = index
        lines.append(" ".join(items))
    return "\n".join(lines) + "\n"


def _fold_table() -> dict[int, int]:
    lines = CLASSES_FILE.read_text(encoding="ascii").splitlines()
    return {point: points[0] for points in parse_classes(lines) for point in points[1:]}


_FOLD = _fold_table()


def search_fold(value: str) -> str:
    """``value`` with each character replaced by its class's representative: equal for two texts exactly when
    MariaDB's collation takes them as equal character by character."""
    return value.translate(_FOLD)


def register_search_fold(dbapi_connection) -> None:
    """On a new SQLite connection: the ``search_fold()`` SQL function."""
    dbapi_connection.create_function("search_fold", 1, _search_fold_sql, deterministic=True)


def _search_fold_sql(value):
    return value.translate(_FOLD) if isinstance(value, str) else value


def _like_escaped(value: str) -> str:
    for special in _LIKE_SPECIAL:
        value = value.replace(special, "\\" + special)
    return value


def contains_any_case(column, typed: str):
    """``column`` contains ``typed``, in any letter case and with or without accents, as MariaDB's collation
    compares them. On SQLite the typed text is folded before its LIKE wildcards are escaped: a fullwidth ``％``
    folds to ``%``, and stays a percent sign to look for."""
    if db.session.get_bind().dialect.name == "sqlite":
        return func.search_fold(column).like(f"%{_like_escaped(search_fold(typed))}%", escape="\\")
    return column.like(f"%{_like_escaped(typed)}%", escape="\\")


def collation_classes(connection, collation: str = COLLATION) -> list[list[int]]:
    """The classes of BMP characters that a MariaDB server's ``collation`` takes as equal in a LIKE, one
    character against one, with two members or more, each sorted (its lowest code point represents it):
    characters of equal WEIGHT_STRING, less those its LIKE tells apart all the same (CJK radicals from their
    ideographs)."""
    if not re.fullmatch(r"[a-z0-9_]+", collation):
        raise ValueError(f"not a collation name: {collation!r}")
    characters = [point for point in range(1, 0x10000) if not 0xD800 <= point <= 0xDFFF]  # surrogates are none
    weights: dict[str, list[int]] = {}
    for start in range(0, len(characters), _BATCH):
        batch = characters[start:start + _BATCH]
        columns = ", ".join(f"HEX(WEIGHT_STRING(CONVERT(:c{i} USING utf8mb4) COLLATE {collation}))"
                            for i in range(len(batch)))
        row = connection.execute(text(f"SELECT {columns}"), {f"c{i}": chr(p) for i, p in enumerate(batch)}).one()
        for point, weight in zip(batch, row):
            weights.setdefault(weight, []).append(point)
    classes = [points for points in weights.values() if len(points) > 1]
    pairs = [(point, points[0]) for points in classes for point in points[1:]]
    alike = set()
    for start in range(0, len(pairs), _BATCH):
        batch = pairs[start:start + _BATCH]
        columns = ", ".join(f"CONVERT(:a{i} USING utf8mb4) COLLATE {collation} LIKE :b{i}" for i in range(len(batch)))
        values = {}
        for i, (point, first) in enumerate(batch):
            values[f"a{i}"], values[f"b{i}"] = chr(point), _like_escaped(chr(first))
        row = connection.execute(text(f"SELECT {columns}"), values).one()
        alike.update(pair for pair, matches in zip(batch, row) if matches)
    classes = [[points[0]] + [p for p in points[1:] if (p, points[0]) in alike] for points in classes]
    return sorted((points for points in classes if len(points) > 1), key=lambda points: points[0])


def write_classes_file(database_url: str) -> None:
    """``collation_classes.txt`` as the MariaDB server at ``database_url`` compares (scripts/collation-classes)."""
    from sqlalchemy import create_engine

    engine = create_engine(database_url)
    try:
        with engine.connect() as connection:
            version = connection.execute(text("SELECT VERSION()")).scalar()
            classes = collation_classes(connection)
    finally:
        engine.dispose()
    header = (f"# The characters MariaDB's {COLLATION} takes as equal in a LIKE, one against one: a class a line,\n"
              f"# in hexadecimal code points, the one a search folds them to first (db_casefold). Read from\n"
              f"# MariaDB {version} by scripts/collation-classes.\n")
    CLASSES_FILE.write_text(header + format_classes(classes), encoding="ascii")
