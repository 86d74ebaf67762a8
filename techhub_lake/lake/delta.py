"""Delta tables of the lake: open one, read one with polars, whether local or on S3."""

from __future__ import annotations

import polars as pl
from deltalake import DeltaTable
from deltalake.exceptions import TableNotFoundError

from techhub_lake.lake.storage import LakeFiles


def open_delta(lake: LakeFiles, relative: str) -> DeltaTable | None:
    """A Delta table of the lake, or None if it does not exist yet."""
    try:
        return DeltaTable(lake.uri(relative), storage_options=lake.storage_options())
    except TableNotFoundError:
        return None


def read_delta(lake: LakeFiles, relative: str) -> pl.DataFrame | None:
    """A Delta table of the lake as a polars frame, or None if it does not exist yet."""
    delta = open_delta(lake, relative)
    return None if delta is None else pl.from_arrow(delta.to_pyarrow_table())


def scan_delta(lake: LakeFiles, relative: str) -> pl.LazyFrame | None:
    """A Delta table of the lake as a lazy polars frame (only the columns and row groups a query
    needs are read), or None if it does not exist yet.

    polars' own Delta scan, not ``scan_pyarrow_dataset``: pushing a string filter into a pyarrow
    dataset fails on polars' string views (``equal(string, string_view)``).
    """
    delta = open_delta(lake, relative)
    return None if delta is None else pl.scan_delta(delta)
