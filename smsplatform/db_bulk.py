"""Writes that give many rows each its own value, in one statement per chunk of rows.

An executemany of an UPDATE runs one statement per row on MariaDB: PyMySQL, the web workers' driver,
batches only INSERTs. 100,000 renumbered contacts took 35 s that way. Here a chunk of rows is one
statement, ``SET column = CASE id WHEN :row_0 THEN :set_column_0 … END WHERE id IN (:row_0, …)``, built once per
shape (chunks are of one size but the last) so that SQLAlchemy compiles it once too.
"""
from functools import lru_cache

from sqlalchemy import Integer, bindparam, case, update

CHUNK = 500


def update_each(connection, table, values: dict[str, dict[int, object]], **same) -> None:
    """Set each row's own values: ``values`` maps a column's name to {row id: value} (every column the same
    ids); ``same`` gives columns one value for every row (``updated_at=now``)."""
    names = tuple(values)
    ids = list(values[names[0]])
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start:start + CHUNK]
        params = {f"same_{name}": value for name, value in same.items()}
        for i, row_id in enumerate(chunk):
            params[param_name("row", i)] = row_id
            for name in names:
                params[param_name(f"set_{name}", i)] = values[name][row_id]
        connection.execute(_update_statement(table, names, tuple(same), len(chunk)), params)


@lru_cache(maxsize=32)
def _update_statement(table, names: tuple[str, ...], same: tuple[str, ...], size: int):
    ids = id_params("row", size)
    return update(table).where(table.c.id.in_(ids)).values(
        **{name: per_row(table.c.id, ids, f"set_{name}", table.c[name].type) for name in names},
        **{name: bindparam(f"same_{name}", type_=table.c[name].type) for name in same})


def param_name(name: str, i: int) -> str:
    """The ``i``-th parameter of the series ``name`` (``row_0``, ``set_phone_0``)."""
    return f"{name}_{i}"


def id_params(name: str, size: int) -> list:
    """``size`` integer parameters, :<name>_0 …"""
    return [bindparam(param_name(name, i), type_=Integer) for i in range(size)]


def per_row(key_column, keys: list, name: str, type_):
    """``CASE key_column WHEN :key_0 THEN :<name>_0 … END``: for each of ``keys`` (parameters), its own value."""
    return case(*[(key, bindparam(param_name(name, i), type_=type_)) for i, key in enumerate(keys)],
                value=key_column)
