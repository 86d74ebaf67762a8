"""Silver's row transforms: JSON unpacked, multilingual texts split, values cleaned, quality flagged.

Each is a plain function of a polars frame (no I/O), applied to the changed rows before they are
merged, so every silver current-state table carries its source columns plus the derived ones.
Flags named ``dq_*`` are True where a row has the problem; their totals are reported on each
materialization. One module per concern: ``json_fields`` (reading JSON values), ``multilingual``
(ru/kk/en texts), ``calendar`` (±infinity dates), ``tables`` (each TechHub table's own transform),
``json_keys`` (the listed JSON keys of any other table, as columns),
``signed_xml`` (techpark reports), ``quality_flags`` (the totals); ``enrich`` composes them.
"""

from __future__ import annotations

import polars as pl

from techhub_lake.catalog import CatalogTable
from techhub_lake.silver.transforms.calendar import clean_calendar_values
from techhub_lake.silver.transforms.json_keys import unpack_json_keys
from techhub_lake.silver.transforms.multilingual import expand_multilingual, is_multilingual
from techhub_lake.silver.transforms.quality_flags import quality_counts
from techhub_lake.silver.transforms.tables import TABLE_TRANSFORMS

# Credentials never reach silver: a password hash is no attribute to analyse, and silver is read by
# every analyst (bronze keeps the raw row, masked in every preview).
CREDENTIAL_COLUMNS = frozenset({"password"})


def multilingual_columns(table: CatalogTable) -> list[str]:
    """The JSON columns the catalog declares as ru/kk/en texts."""
    return [column for column, keys in table.json_columns.items() if is_multilingual(keys)]


def silver_column(table: CatalogTable, source_column: str) -> str:
    """Where a source column is carried in silver: multilingual JSON moves to ``<column>_json``."""
    return f"{source_column}_json" if source_column in multilingual_columns(table) else source_column


def enrich(table: CatalogTable, frame: pl.DataFrame, known: set[str] | None = None) -> pl.DataFrame:
    """The silver columns of some source rows: the source columns plus everything derived from them.

    ``known`` is the silver table's current columns, so dynamic columns (a goal, a tag key) seen in
    earlier batches are computed for these rows too.
    """
    known = known or set()
    frame = clean_calendar_values(frame.drop([c for c in frame.columns if c in CREDENTIAL_COLUMNS]), known)
    for column in multilingual_columns(table):
        if column in frame.columns:
            frame = expand_multilingual(frame, column)
    transform = TABLE_TRANSFORMS.get(table.name)
    return transform(frame, known) if transform else unpack_json_keys(frame, table, multilingual_columns(table))


__all__ = ["CREDENTIAL_COLUMNS", "enrich", "multilingual_columns", "quality_counts", "silver_column"]
