"""Source columns that change type: silver widens to a type that holds old and new values, or says why not.

A Django migration can turn ``boolean`` into ``text`` or ``integer`` into ``bigint``. Bronze keeps
each day's file in the type it was extracted with, so old and new files differ; silver holds one
type per column. The rule is the one Polars uses to concatenate frames: the column takes the
common supertype of its old and new types (``boolean`` + ``text`` -> text, ``"true"``/``"false"``
as PostgreSQL prints them; ``integer`` + ``bigint`` -> bigint; ``integer`` + ``numeric`` ->
float). Silver only ever widens, so values never change meaning and a type never flips back and
forth. Types with no common supertype (``boolean`` -> ``date``) stop that table's merge with one
line naming the table, the column, both types and the remedy; other tables carry on.
"""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl


class SchemaDrift(ValueError):
    """A column's new type has nothing in common with its old one: one line naming where, the
    column and both types (the asset that hits it adds the remedy)."""


@dataclass(frozen=True)
class TypeChange:
    """One column whose type silver must widen: its old type, the type it arrives in, and the result."""

    column: str
    old: pl.DataType
    new: pl.DataType
    widened: pl.DataType

    def describe(self) -> str:
        return f"{self.column}: {self.old} + {self.new} -> {self.widened}"


def supertype(column: str, old: pl.DataType, new: pl.DataType, *, where: str) -> pl.DataType:
    """The narrowest type holding both ``old`` and ``new`` values (Polars' concatenation rule), or
    ``SchemaDrift`` when there is none."""
    if new == pl.Null:
        return old
    if old == pl.Null:
        return new
    try:
        return pl.concat([pl.DataFrame(schema={column: old}), pl.DataFrame(schema={column: new})],
                         how="vertical_relaxed").schema[column]
    except pl.exceptions.PolarsError:
        raise SchemaDrift(f"{where}: column {column!r} changed type from {old} to {new}, "
                          "and no type holds both") from None


# Delta Lake has no unsigned integers: delta-rs stores a UInt32 column as Int32 (and so on), so
# an unsigned column read back is signed. Comparing the stored type keeps such a column (a count
# from ``list.len()``) from looking like a source type change on every write after the first.
_AS_STORED: dict[pl.DataType, pl.DataType] = {pl.UInt8: pl.Int8, pl.UInt16: pl.Int16, pl.UInt32: pl.Int32,
                                              pl.UInt64: pl.Int64}


def as_stored(dtype: pl.DataType) -> pl.DataType:
    """The type a column of ``dtype`` has once written to a Delta table and read back."""
    return _AS_STORED.get(dtype, dtype)


def type_changes(existing: pl.Schema, incoming: pl.Schema, *, where: str) -> list[TypeChange]:
    """The columns present in both schemas whose stored types differ, with the type each must take."""
    return [TypeChange(name, existing[name], incoming[name],
                       supertype(name, existing[name], as_stored(incoming[name]), where=where))
            for name in existing.names() if name in incoming and existing[name] != as_stored(incoming[name])]


def cast_to(frame: pl.DataFrame, types: dict[str, pl.DataType]) -> pl.DataFrame:
    """``frame`` with the given columns cast (strictly: a widening never loses a value)."""
    present = {name: dtype for name, dtype in types.items() if name in frame.columns and frame.schema[name] != dtype}
    return frame.with_columns(pl.col(name).cast(dtype, strict=True) for name, dtype in present.items()) if present else frame


def unify_frames(frames: list[pl.DataFrame], *, where: str) -> pl.DataFrame:
    """Concatenate frames whose column types disagree (oldest first), each column widened to the
    supertype of all its types; columns missing from a frame are NULL there."""
    types: dict[str, pl.DataType] = {}
    for frame in frames:
        for name, dtype in frame.schema.items():
            types[name] = supertype(name, types[name], dtype, where=where) if name in types else dtype
    return pl.concat([cast_to(frame, types) for frame in frames], how="diagonal_relaxed")
