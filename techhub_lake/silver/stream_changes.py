"""What the change stream brought since silver last applied it: a captured table's change files
(``bronze.changes``), typed as bronze types the table, and folded into one row or one delete per key.

PostgreSQL sends a change's values as text; ``typed`` casts them to the table's bronze types
(``source.arrow_types``), so a changed row compares and merges like a snapshot row. An update that
left a TOASTed value untouched does not carry it (``_unchanged``): ``fold`` takes it from the key's
earlier change in the same batch, else from the row silver holds. The last change of a key by LSN
wins; a delete deletes; a ``TRUNCATE`` empties the table before the changes after it.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from techhub_lake.bronze.changes import CHANGE_COLUMNS, change_dir, file_lsn
from techhub_lake.catalog import CatalogTable
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source.arrow_types import text_to_decimal

OP, LSN, COMMIT_LSN, COMMIT_TS, UNCHANGED = "op", "lsn", "commit_lsn", "commit_ts", "_unchanged"
# A captured table's changelog (silver/techhub/_changes/...) carries them under these names, beside
# the silver columns; the SCD2 dimensions read them from there.
LOGGED_OP, LOGGED_LSN, LOGGED_COMMIT_LSN, LOGGED_COMMIT_TS = "_op", "_lsn", "_commit_lsn", "_commit_ts"
CHANGELOG_COLUMNS = {OP: LOGGED_OP, LSN: LOGGED_LSN, COMMIT_LSN: LOGGED_COMMIT_LSN, COMMIT_TS: LOGGED_COMMIT_TS}
_TIMESTAMP_TZ = "%Y-%m-%d %H:%M:%S%.f%#z"  # as PostgreSQL prints timestamptz (ISO DateStyle)
_TIMESTAMP = "%Y-%m-%d %H:%M:%S%.f"


def change_files_after(lake: LakeFiles, table: CatalogTable, applied_lsn: int | None) -> list[str]:
    """The change files that may hold changes committed after ``applied_lsn`` (all for None): those
    named after a later commit LSN, and the last one named before it (a batch delivered again after
    a crash may have grown)."""
    files = sorted((f for f in lake.list_files(change_dir(table)) if f.endswith(".parquet")), key=file_lsn)
    if applied_lsn is None:
        return files
    before = [f for f in files if file_lsn(f) <= applied_lsn]
    return before[-1:] + [f for f in files if file_lsn(f) > applied_lsn]


def read_changes(lake: LakeFiles, files: list[str], after_lsn: int) -> pl.DataFrame:
    """The raw changes in ``files`` committed after ``after_lsn``, each LSN once, in commit order."""
    if not files:
        return pl.DataFrame(schema={n: pl.from_arrow(pa.schema([(n, t)]).empty_table()).schema[n]
                                    for n, t in CHANGE_COLUMNS.items()})
    frames = [pl.read_parquet(lake.uri(f), storage_options=lake.object_store_options() or None) for f in files]
    return (pl.concat(frames, how="diagonal")
            .filter(pl.col(COMMIT_LSN) > after_lsn)
            .unique(LSN, keep="last")
            .sort(COMMIT_LSN, LSN))


def _array_items(text: str | None) -> list[str | None] | None:
    """A one-dimensional PostgreSQL array literal (``{a,"b c",NULL}``) as its items' texts."""
    if text is None:
        return None
    body = text[text.index("{") + 1:text.rindex("}")] if "{" in text else text
    items: list[str | None] = []
    current: list[str] = []
    quoted = was_quoted = False
    index = 0
    while index < len(body):
        char = body[index]
        if quoted and char == "\\":
            index += 1
            current.append(body[index])
        elif char == '"':
            quoted, was_quoted = not quoted, True
        elif char == "," and not quoted:
            value = "".join(current)
            items.append(None if value == "NULL" and not was_quoted else value)
            current, was_quoted = [], False
        else:
            current.append(char)
        index += 1
    if body:
        value = "".join(current)
        items.append(None if value == "NULL" and not was_quoted else value)
    return items


def _cast_text(column: pl.Expr, target: pa.DataType) -> pl.Expr:
    """PostgreSQL's text of a value as the bronze type ``target`` (a value outside it, such as an
    infinite timestamp, as NULL, which silver then flags as bronze's would be)."""
    if pa.types.is_string(target) or pa.types.is_large_string(target):
        return column
    if pa.types.is_boolean(target):
        return column == "t"
    if pa.types.is_timestamp(target):
        if target.tz:
            return column.str.to_datetime(_TIMESTAMP_TZ, time_zone="UTC", time_unit="us", strict=False)
        return column.str.to_datetime(_TIMESTAMP, time_unit="us", strict=False)
    if pa.types.is_date(target):
        return column.str.to_date("%Y-%m-%d", strict=False)
    if pa.types.is_time(target):
        return column.str.to_time("%H:%M:%S%.f", strict=False)
    if pa.types.is_binary(target):
        return column.str.strip_prefix("\\x").str.decode("hex", strict=False)
    if pa.types.is_decimal(target):
        return column.map_batches(lambda s: pl.from_arrow(text_to_decimal(s.to_arrow(), target)),
                                  return_dtype=pl.from_arrow(pa.array([], target)).dtype)
    if pa.types.is_list(target):
        element = _cast_text(pl.element(), target.value_type)
        return column.map_elements(_array_items, return_dtype=pl.List(pl.String)).list.eval(element)
    dtype = pl.from_arrow(pa.array([], target)).dtype
    return column.cast(dtype, strict=False)


def typed(changes: pl.DataFrame, schema: pa.Schema) -> pl.DataFrame:
    """The changes with their row columns cast from text to the table's bronze types, in the
    schema's column order (a column the schema lacks stays text)."""
    row_columns = [c for c in changes.columns if c not in CHANGE_COLUMNS]
    types = {field.name: field.type for field in schema}
    ordered = [c for c in schema.names if c in row_columns] + [c for c in row_columns if c not in types]
    casts = [_cast_text(pl.col(c), types[c]).alias(c) if c in types else pl.col(c) for c in ordered]
    return changes.select(*CHANGE_COLUMNS, *casts)


def fill_unchanged(changes: pl.DataFrame, keys: list[str], current: pl.DataFrame | None) -> pl.DataFrame:
    """Values an update did not carry (TOASTed and untouched): from the key's previous change in
    the batch, else from ``current`` (the rows silver holds, by key)."""
    columns = sorted(set(changes[UNCHANGED].explode().drop_nulls().to_list()) & set(changes.columns))
    if not columns:
        return changes
    # a struct per value tells "not sent" (NULL struct) from a NULL that was sent
    carried = changes.with_columns(
        pl.when(pl.col(UNCHANGED).list.contains(c)).then(None).otherwise(pl.struct(pl.col(c).alias("v"))).alias(f"__{c}")
        for c in columns)
    carried = carried.with_columns(pl.col(f"__{c}").forward_fill().over(keys) for c in columns)
    if current is not None and current.height:
        have = [c for c in columns if c in current.columns]
        known = current.select(*keys, *(pl.struct(pl.col(c).alias("v")).alias(f"__{c}__now") for c in have))
        carried = carried.join(known, on=keys, how="left", nulls_equal=True).with_columns(
            pl.coalesce(f"__{c}", f"__{c}__now").alias(f"__{c}") for c in have)
    return carried.with_columns(pl.col(f"__{c}").struct.field("v").alias(c) for c in columns).select(changes.columns)


def fold(changes: pl.DataFrame, keys: list[str], op: str = OP) -> tuple[pl.DataFrame, pl.DataFrame, bool]:
    """(rows to upsert: each key's last change when it is not a delete, keys to delete, whether a
    TRUNCATE emptied the table first). ``changes`` are in commit order; ``op`` names the operation's column."""
    truncates = changes.with_row_index("__at").filter(pl.col(op) == "truncate")
    truncated = truncates.height > 0
    if truncated:
        changes = changes.slice(int(truncates["__at"].max()) + 1)
    last = changes.unique(keys, keep="last", maintain_order=True)
    deleted = last.filter(pl.col(op) == "delete").select(keys)
    upserts = last.filter(pl.col(op) != "delete")
    return upserts, deleted, truncated
