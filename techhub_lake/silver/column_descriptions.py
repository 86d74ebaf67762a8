"""What each column of a silver current-state table means, for the UI: the catalog's ``columns:``
descriptions (which ``catalog discover`` fills from the source's own comments), and a description
of every column silver derives (the row hash, the quality flags, unpacked JSON, the language split)."""

from __future__ import annotations

from collections.abc import Iterable

from techhub_lake.catalog import CatalogTable
from techhub_lake.silver.transforms.multilingual import LANGUAGES

_LAKE_COLUMNS = {
    "_row_hash": "Hash of the row's source columns: how silver tells a changed row from an unchanged one",
    "_source_xmin": "The row's version in the source at extraction (PostgreSQL's xmin, the transaction that "
                    "last wrote it): what the reconciliation compares",
    "_extracted_at": "When bronze read the row from the source (UTC)",
    "_deleted": "True when the source row was deleted (kept in the changelog only)",
}
LANGUAGE_NAMES = {"ru": "Russian", "kk": "Kazakh", "en": "English"}


def describe_silver_column(table: CatalogTable, name: str) -> str:
    """The description of one silver column of ``table`` ('' when nothing is known about it)."""
    if name in table.columns:
        return table.columns[name]
    if name in _LAKE_COLUMNS:
        return _LAKE_COLUMNS[name]
    if name.startswith("dq_"):
        return f"Quality flag: True where the row has this problem ({name.removeprefix('dq_').replace('_', ' ')})"
    for column in table.json_columns:
        if name == f"{column}_json":
            return f"The source's {column} JSON as it came (its languages are split into {column}_<language>)"
        for language in LANGUAGES:
            if name == f"{column}_{language}":
                return f"{column} in {LANGUAGE_NAMES.get(language, language)}"
        if name.startswith(f"{column}_"):
            return f"From the source's {column} JSON: {name.removeprefix(f'{column}_')}"
    return ""


def silver_column_descriptions(table: CatalogTable, names: Iterable[str]) -> dict[str, str]:
    """Each of ``names`` (a silver table's columns) with its description, where one is known."""
    return {name: text for name in names if (text := describe_silver_column(table, name))}
