"""Quality flags: how many rows of a silver table have each problem (reported on each materialization)."""

from __future__ import annotations

import polars as pl


def _is_positive(column: str) -> bool:
    # the data-lake plan names some flags for the good case (dq_has_email, dq_profile_complete, tin_valid)
    return column.endswith("_valid") or column.startswith("dq_has_") or column == "dq_profile_complete"


def quality_counts(frame: pl.DataFrame | pl.LazyFrame) -> dict[str, int]:
    """How many rows have each problem: True ``dq_*`` problem flags, and ``not_<flag>`` for the flags
    that name the good case (``*_valid``, ``dq_has_*``, ``dq_profile_complete``). A lazy frame (a
    scanned table) reads only the flag columns."""
    frame = frame.lazy()
    schema = frame.collect_schema()
    booleans = [c for c, dtype in schema.items() if dtype == pl.Boolean and (c.startswith("dq_") or _is_positive(c))]
    flags = [c for c in booleans if not _is_positive(c)]
    valid = [c for c in booleans if _is_positive(c)]
    if not flags and not valid:
        return {}
    totals = frame.select([pl.col(c).fill_null(False).sum().alias(c) for c in flags]
                          + [(~pl.col(c).fill_null(False)).sum().alias(f"not_{c}") for c in valid]).collect()
    return {k: int(v) for k, v in totals.row(0, named=True).items()}
