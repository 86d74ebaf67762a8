"""The JSON columns of a table without a transform of its own, unpacked by the keys its catalog lists.

A database the lake was not built around (``catalog discover`` proposes the keys of each JSON column
from a sample) gets one silver column per listed key, ``<column>_<key>``, so analysts query values
instead of documents; the raw document stays in ``<column>``. Values are text (a string unquoted, a
number as written, an object or array as JSON): the same key holds a number in one row and a string
in the next in real data, so no type is guessed. A document that is not an object (an array, a
string, ``null``) is flagged ``dq_<column>_not_object`` instead of stopping the table.
"""

from __future__ import annotations

import re

import polars as pl

from techhub_lake.catalog import CatalogTable
from techhub_lake.silver.transforms.json_fields import json_raw


def key_slug(key: str) -> str:
    """A column-name-safe form of a JSON key, letters of any script kept: ``"due date"`` -> ``due_date``,
    ``"Комментарий"`` -> ``комментарий``."""
    return re.sub(r"\W+", "_", key.lower()).strip("_") or "key"


def _path(key: str) -> str:
    return f"$.{key}" if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", key) else "$['" + key.replace("'", "\\'") + "']"


def key_columns(column: str, keys: tuple[str, ...], taken: set[str]) -> dict[str, str]:
    """The silver column of each key (``<column>_<key slug>``, a numbered suffix where two keys or an
    existing column would share a name), by key."""
    names: dict[str, str] = {}
    used = set(taken)
    for key in keys:
        name, n = f"{column}_{key_slug(key)}", 2
        while name in used:
            name, n = f"{column}_{key_slug(key)}_{n}", n + 1
        names[key] = name
        used.add(name)
    return names


def unpack_json_keys(frame: pl.DataFrame, table: CatalogTable, skip: list[str]) -> pl.DataFrame:
    """Each listed key of each JSON column of ``table`` (but those in ``skip``: the multilingual texts,
    split elsewhere) as a text column, and the not-an-object flag of each such column."""
    columns = []
    for column, keys in table.json_columns.items():
        if column in skip or column not in frame.columns:
            continue
        document = pl.col(column).cast(pl.String).str.strip_chars()
        columns.append((document.is_not_null() & ~document.str.starts_with("{")).alias(f"dq_{column}_not_object"))
        for key, name in key_columns(column, keys, set(frame.columns)).items():
            columns.append(json_raw(column, _path(key)).alias(name))
    return frame.with_columns(columns) if columns else frame
