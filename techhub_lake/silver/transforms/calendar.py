"""Calendar values no reader can hold, cleaned in silver."""

from __future__ import annotations

import polars as pl

# PostgreSQL's 'infinity' and '-infinity' timestamps and dates arrive as the extreme values of their
# integer representation; no reader can print them (polars panics formatting one). Silver keeps the
# calendar years 1..9999 and turns anything else into NULL, flagged.
_DATETIME_US = (-62_135_596_800_000_000, 253_402_300_799_999_999)  # 0001-01-01 .. 9999-12-31, in µs
_DATE_DAYS = (-719_162, 2_932_896)


def _out_of_calendar(column: str, dtype: pl.DataType) -> pl.Expr | None:
    if isinstance(dtype, pl.Datetime) and dtype.time_unit in ("us", "ms"):  # bronze writes µs
        per_unit = 1 if dtype.time_unit == "us" else 1_000
        low, high = (bound // per_unit for bound in _DATETIME_US)
    elif dtype == pl.Date:
        low, high = _DATE_DAYS
    else:
        return None
    physical = pl.col(column).to_physical()
    return (physical < low) | (physical > high)


def clean_calendar_values(frame: pl.DataFrame, known: set[str]) -> pl.DataFrame:
    """Timestamps and dates outside the years 1..9999 (PostgreSQL's ±infinity) as NULL, with a
    ``dq_<column>_out_of_range`` flag on tables where one was ever seen."""
    for column, dtype in frame.schema.items():
        outside = _out_of_calendar(column, dtype) if not column.startswith("_") else None
        if outside is None:
            continue
        flag = f"dq_{column}_out_of_range"
        found = frame.select(outside.fill_null(False).any()).item()
        if found or flag in known:
            frame = frame.with_columns(outside.fill_null(False).alias(flag),
                                       pl.when(outside.fill_null(False)).then(None).otherwise(pl.col(column)).alias(column))
    return frame
