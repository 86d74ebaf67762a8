"""Silver current state: one row per primary key, the latest version, rows deleted in the source gone.

Each refresh merges only the bronze files landed since the last one (Delta MERGE, in chunks of
bounded size), keeps per key the version of the latest extraction (within one extraction, a
consistent snapshot, the latest watermark), drops the keys that a cheap
primary-key listing of the source no longer has (logged as tombstones). Upserts, deletes and the
new bronze cursor land in one Delta commit, so a crash never leaves them out of step. A full-load
table is simply replaced by its latest snapshot.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import polars as pl
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable

from techhub_lake.bronze.metadata_log import latest_bronze_schema
from techhub_lake.catalog import CatalogTable, Partitioning
from techhub_lake.faults import fault_point
from techhub_lake.lake.delta import open_delta, read_columns, table_schema, write_delta
from techhub_lake.lake.storage import FileStat, LakeFiles
from techhub_lake.silver.bronze_changes import (
    EXTRACTED_AT,
    BronzeChanges,
    bronze_changes,
    chunks_of,
    read_bronze,
    table_directory,
)
from techhub_lake.silver.schema_drift import cast_to, type_changes
from techhub_lake.silver.transforms import enrich, quality_counts
from techhub_lake.source.reads import arrow_snapshot

SILVER_ROOT = "silver/techhub"
TOMBSTONES = f"{SILVER_ROOT}/_tombstones"
CURSOR_KEY = "techhub.bronze_cursor"
# a captured table's stream cursor: the snapshot it was built from, the last commit LSN applied
STREAM_SNAPSHOT_KEY = "techhub.cdc_snapshot_lsn"
STREAM_APPLIED_KEY = "techhub.cdc_applied_lsn"
CURSOR_KEYS = (CURSOR_KEY, STREAM_SNAPSHOT_KEY, STREAM_APPLIED_KEY)
WIDENED_KEY = "techhub.widened_columns"
DELETED = "_deleted"
ROW_HASH = "_row_hash"  # of the source columns: an unchanged row re-extracted is not rewritten
# What one merge reads at a time: bounds memory on a first load of any size (Parquet expands ~5-10x
# in memory, and the MERGE holds the chunk, its target matches and the rewritten files).
BRONZE_BYTES_PER_MERGE = 48 * 1024 * 1024
# A first load appends chunks without reading the table back, so small chunks cost little: 8 MB of
# Parquet (~50-80 MB in memory; a 200 KB text row expands most) kept every table's first load
# under 1 GB peak RSS at scale 1 (`core_blog` 3,041 MB with 48 MB MERGEs, 802 MB so).
BRONZE_BYTES_PER_APPEND = 8 * 1024 * 1024

TOMBSTONE_SCHEMA = pa.schema([("table", pa.string()), ("key", pa.string()), ("deleted_at", pa.timestamp("us", tz="UTC")),
                              ("run_id", pa.string())])


def silver_table_path(table: CatalogTable) -> str:
    """``silver/techhub/<module>/<table>``."""
    return f"{SILVER_ROOT}/{table.module}/{table.short_name}"


@dataclass
class MergeOutcome:
    """What one refresh of a silver current-state table did."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    rows: int = 0
    version: int | None = None
    files_read: int = 0
    rows_read: int = 0
    cursor: dt.datetime | None = None
    replaced: bool = False
    quality: dict[str, int] = field(default_factory=dict)
    schema: pa.Schema | None = None
    widened: list[str] = field(default_factory=list)  # columns whose type silver widened ("col: old + new -> type")
    filled: list[str] = field(default_factory=list)  # columns added, computed for the rows written before them


def latest_commit_value(lake: LakeFiles, path: str, key: str) -> str | None:
    """The newest value a commit of the Delta table at ``path`` recorded under ``key`` (a cursor)."""
    delta = open_delta(lake, path)
    if delta is None:
        return None
    for commit in delta.history():  # newest first
        value = commit.get(key)
        if value:
            return value
    return None


def bronze_cursor(cursor: dt.datetime | None) -> dict[str, str]:
    """The commit metadata that records a bronze extraction time as the table's cursor."""
    return {CURSOR_KEY: cursor.isoformat()} if cursor else {}


def current_cursors(lake: LakeFiles, path: str) -> dict[str, str]:
    """Every cursor the table's commits recorded, newest values: what a commit that only reshapes
    the table (new columns filled, a type widened) carries on, so no cursor ages out of the log."""
    found = {key: latest_commit_value(lake, path, key) for key in CURSOR_KEYS}
    return {key: value for key, value in found.items() if value}


def silver_cursor(lake: LakeFiles, table: CatalogTable) -> dt.datetime | None:
    """The bronze extraction time the silver table has merged up to (from its own commit log)."""
    value = latest_commit_value(lake, silver_table_path(table), CURSOR_KEY)
    return dt.datetime.fromisoformat(value) if value else None


def latest_versions(rows: pl.DataFrame, table: CatalogTable) -> pl.DataFrame:
    """One row per key: the latest extraction, then the latest watermark (deterministic), with a
    hash of its source columns.

    The latest extraction wins over a higher watermark: a transaction that commits late with an
    older ``updated_at`` is still the row's current state, and an older file that still holds the
    row with a newer ``updated_at`` is stale (a snapshot holds each row once)."""
    order = [c for c in (EXTRACTED_AT, table.watermark) if c and c in rows.columns]
    source_columns = [c for c in rows.columns if c != EXTRACTED_AT]
    return (
        rows.sort([*order, *table.primary_key])
        .unique(subset=list(table.primary_key), keep="last", maintain_order=True)
        .with_columns(row_hash(source_columns))
    )


def row_hash(source_columns: list[str]) -> pl.Expr:
    """``_row_hash``: a hash of a row's source columns, so an unchanged row is never rewritten."""
    return pl.struct(source_columns).hash(seed=0).reinterpret(signed=True).alias(ROW_HASH)


def source_keys(url: str, table: CatalogTable, statement_timeout_ms: int | None) -> pl.DataFrame:
    """Every primary key the source has now: an index-only read in a read-only snapshot."""
    keys = ", ".join(f'"{k}"' for k in table.primary_key)
    with arrow_snapshot(url, application_name=f"techhub-lake silver keys {table.name}",
                        statement_timeout_ms=statement_timeout_ms) as cur:
        cur.execute(f"SELECT {keys} FROM {table.qualified_name}")
        return pl.from_arrow(cur.fetch_arrow_table())


def silver_rows(lake: LakeFiles, path: str, table: CatalogTable, rows: pl.DataFrame) -> pl.DataFrame:
    """The changed rows with silver's derived columns (dynamic ones known to the table included)."""
    target = open_delta(lake, path)
    known = set(table_schema(target).names) if target is not None else set()
    return enrich(table, rows, known)


def _key_predicate(table: CatalogTable) -> str:
    return " AND ".join(f"t.`{k}` = s.`{k}`" for k in table.primary_key)


def _newer_predicate(table: CatalogTable) -> str:
    """A source row replaces the target's when it changed and was extracted later (or, extracted at
    the same time, has a watermark at least as new): see ``latest_versions``. A captured table's
    changes come in commit order and are applied once each: a changed row always replaces."""
    changed = f"NOT s.{DELETED} AND (t.{ROW_HASH} IS NULL OR s.{ROW_HASH} <> t.{ROW_HASH})"
    if table.partitioning == Partitioning.STREAM:
        return changed
    wm = f"`{table.watermark}`"
    return (f"NOT s.{DELETED} AND (t.{ROW_HASH} IS NULL OR s.{ROW_HASH} <> t.{ROW_HASH}) AND "
            f"(t.{EXTRACTED_AT} IS NULL OR s.{EXTRACTED_AT} > t.{EXTRACTED_AT} OR "
            f"(s.{EXTRACTED_AT} = t.{EXTRACTED_AT} AND (t.{wm} IS NULL OR s.{wm} >= t.{wm})))")


def _merge(lake: LakeFiles, path: str, table: CatalogTable, source: pl.DataFrame,
           commit: dict[str, str] | None) -> dict:
    metadata = commit or {}
    delta = open_delta(lake, path)
    arrow = source.to_arrow()
    if delta is None:
        write_delta(lake, path, arrow.drop_columns([DELETED]).filter(pc.invert(arrow[DELETED])), "error",
                    commit_properties=CommitProperties(custom_metadata=metadata))
        return {"num_target_rows_inserted": int(pc.sum(pc.invert(arrow[DELETED])).as_py() or 0)}
    fault_point("silver.merge")
    return (
        delta.merge(arrow, predicate=_key_predicate(table), source_alias="s", target_alias="t", merge_schema=True,
                    commit_properties=CommitProperties(custom_metadata=metadata))
        .when_matched_delete(predicate=f"s.{DELETED}")
        .when_matched_update_all(predicate=_newer_predicate(table), except_cols=[DELETED])
        .when_not_matched_insert_all(predicate=f"NOT s.{DELETED}", except_cols=[DELETED])
        .execute()
    )


def current_keys(lake: LakeFiles, path: str, table: CatalogTable) -> pl.DataFrame:
    """The primary keys the silver table holds now (an empty frame before it exists)."""
    delta = open_delta(lake, path)
    if delta is None:
        return pl.DataFrame()
    return read_columns(delta, list(table.primary_key))


def merge_current_state(url: str, lake: LakeFiles, table: CatalogTable, *, run_id: str = "",
                        statement_timeout_ms: int | None = None,
                        first_load_chunk_bytes: int = BRONZE_BYTES_PER_APPEND) -> MergeOutcome:
    """Bring ``silver/<module>/<table>`` up to date with bronze and with the source's deletes
    (a table that does not exist yet is built by appends of ``first_load_chunk_bytes`` of bronze)."""
    path = silver_table_path(table)
    changes = bronze_changes(lake, table, silver_cursor(lake, table))
    outcome = MergeOutcome(files_read=len(changes.files), cursor=changes.cursor)
    if table.partitioning == Partitioning.SNAPSHOT:
        return _replace_with_snapshot(lake, path, table, changes, outcome)

    stats = lake.file_stats(table_directory(changes.files)) if changes.files else {}  # one listing per merge
    target = open_delta(lake, path)
    if changes.files and target is None:
        return _first_load(url, lake, path, table, changes, stats, outcome, statement_timeout_ms,
                           first_load_chunk_bytes)
    before = set(target.schema().to_arrow().names) if target is not None else set()
    chunks = chunks_of(changes.files, stats, BRONZE_BYTES_PER_MERGE) or [[]]
    for number, files in enumerate(chunks, start=1):
        last = number == len(chunks)
        rows = silver_rows(lake, path, table, latest_versions(read_bronze(lake, files, stats), table)) if files else None
        outcome.rows_read += 0 if rows is None else rows.height
        if not last:
            if rows is not None:  # upserts only; deletes and the cursor come with the last chunk
                apply_changes(lake, path, table, rows, rows.select(table.primary_key).clear(), None, outcome, run_id)
            continue
        # the last merge also removes what the source no longer has, and records the cursor
        live = source_keys(url, table, statement_timeout_ms)
        known = current_keys(lake, path, table)
        if rows is not None:
            known = pl.concat([known, rows.select(table.primary_key)], how="vertical_relaxed") if known.width else rows.select(table.primary_key)
        gone = known.unique().join(live, on=list(table.primary_key), how="anti") if known.width else known
        upserts = rows.join(gone, on=list(table.primary_key), how="anti") if rows is not None and gone.height else rows
        apply_changes(lake, path, table, upserts, gone, bronze_cursor(changes.cursor), outcome, run_id)
    if open_delta(lake, path) is None:
        create_empty(lake, path, table, bronze_cursor(changes.cursor))
    elif before:
        fill_new_columns(lake, path, table, before, outcome)
    record_table_state(lake, path, outcome)
    return outcome


def _first_load(url: str, lake: LakeFiles, path: str, table: CatalogTable, changes: BronzeChanges,
                stats: dict[str, FileStat], outcome: MergeOutcome, statement_timeout_ms: int | None,
                chunk_bytes: int) -> MergeOutcome:
    """A table that does not exist yet is built by appends, not MERGEs: bronze files newest
    extraction first, each key's first sighting is its latest version (``latest_versions``' rule,
    across chunks), keys the source no longer has are left out, and every chunk is appended
    without reading the table back (a MERGE of each chunk into the growing table re-read and
    rewrote its files), so peak memory is that of one chunk (``BRONZE_BYTES_PER_APPEND``). The
    last append records the cursor; a crash before it leaves a table without one, which the next
    refresh completes by MERGE (every bronze file again, the latest wins)."""
    keys = list(table.primary_key)
    live = source_keys(url, table, statement_timeout_ms)
    newest_first = sorted(changes.files, key=lambda f: (stats[f].mtime, f), reverse=True)  # one listing: all there
    chunks = chunks_of(newest_first, stats, chunk_bytes)
    written = live.clear()
    first_columns: set[str] = set()
    for number, files in enumerate(chunks, start=1):
        bronze = latest_versions(read_bronze(lake, files, stats), table)
        outcome.rows_read += bronze.height
        fresh = bronze.join(written, on=keys, how="anti").join(live, on=keys, how="semi")
        rows = silver_rows(lake, path, table, fresh)
        cursor = changes.cursor if number == len(chunks) else None
        if rows.height or (cursor is not None and open_delta(lake, path) is not None):
            append_rows(lake, path, rows, bronze_cursor(cursor), outcome)
            first_columns = first_columns or set(rows.columns)
        written = pl.concat([written, rows.select(keys)], how="vertical_relaxed")
    if open_delta(lake, path) is None:
        create_empty(lake, path, table, bronze_cursor(changes.cursor))
    elif first_columns:
        fill_new_columns(lake, path, table, first_columns, outcome)
    record_table_state(lake, path, outcome)
    return outcome


def fill_new_columns(lake: LakeFiles, path: str, table: CatalogTable, before: set[str], outcome: MergeOutcome) -> None:
    """Compute the columns this refresh added (a goal or a tag key first seen in its rows) for the
    rows written before them, which Delta's schema evolution left NULL; one overwrite commit, only
    when a column was added (rare: a new key in the source's JSON). Only the new columns are taken
    from the recomputation, so transforms that replace a source column are not applied twice."""
    target = open_delta(lake, path)
    added = [c for c in target.schema().to_arrow().names if c not in before]
    if not added:
        return
    current = pl.from_arrow(target.to_pyarrow_table())
    recomputed = enrich(table, current, set(current.columns))
    filled = current.with_columns(recomputed.select(added))
    write_delta(lake, path, filled, "overwrite", schema_mode="overwrite",
                commit_properties=CommitProperties(custom_metadata=current_cursors(lake, path)))
    outcome.filled.extend(added)


def append_rows(lake: LakeFiles, path: str, rows: pl.DataFrame, commit: dict[str, str] | None,
                outcome: MergeOutcome) -> None:
    """Append rows (new columns added to the table, types widened first) in one commit, with the
    cursor if given."""
    target = open_delta(lake, path)
    if target is not None and rows.height:
        rows = _widen_for(lake, path, target, rows, outcome)
    metadata = commit or {}
    write_delta(lake, path, rows, "append", schema_mode="merge" if target is not None else None,
                commit_properties=CommitProperties(custom_metadata=metadata))
    outcome.inserted += rows.height


# At most this many keys are replaced by a predicate overwrite (see ``apply_changes``); more go through
# a MERGE. delta-rs 1.6 crashed the process on an IN list of 30,000 keys and took 5,000.
REPLACE_MAX_KEYS = 5_000


def apply_changes(lake: LakeFiles, path: str, table: CatalogTable, upserts: pl.DataFrame | None, gone: pl.DataFrame,
                  commit: dict[str, str] | None, outcome: MergeOutcome, run_id: str) -> None:
    """Upsert rows and delete keys in one commit (with the cursor if given); log the deletes.

    Rows silver already holds as they are are dropped first. What is left, when it is at most
    ``REPLACE_MAX_KEYS`` keys of a table keyed by one column, replaces those keys' rows in a
    predicate overwrite (``replace_keys``); anything else goes through one MERGE. Both commit the
    same rows; the overwrite costs a fraction (measured at scale 1: 5,000 new `core_actionlog` rows
    0.28 s and 83 MB against the MERGE's 1.32 s and 1.5 GB, since delta-rs joins a MERGE's rows
    against every file of the table; 18 changed `core_blog` rows of 200 KB 1.7 s and 0.7 GB against
    3.5 s and 2.5 GB)."""
    target = open_delta(lake, path)
    if target is not None and upserts is not None and upserts.height:
        upserts = _widen_for(lake, path, target, upserts, outcome)
        target = open_delta(lake, path)
    held = held_versions(target, table) if target is not None else None
    if held is not None and upserts is not None and upserts.height and ROW_HASH in held.columns:
        versions = [*table.primary_key, ROW_HASH]
        upserts = upserts.join(held.select(versions).cast(upserts.select(versions).schema), on=versions, how="anti")
    replacement = replacement_of(table, target, held, upserts, gone)
    if replacement is not None:
        written = replace_keys(lake, path, table, replacement, commit, outcome)
    else:
        written = _merge_changes(lake, path, table, target, upserts, gone, commit, outcome)
    if not written and target is not None and commit and any(latest_commit_value(lake, path, k) != v
                                                              for k, v in commit.items()):
        # nothing changed, but bronze moved on: a commit without files records the new cursor
        write_delta(lake, path, table_schema(target).empty_table(), "append",
                    commit_properties=CommitProperties(custom_metadata=commit))
    if gone.height:
        _log_tombstones(lake, table, gone, run_id)


def held_versions(target: DeltaTable, table: CatalogTable) -> pl.DataFrame:
    """What silver holds of each key that decides whether a row replaces it: its ``_row_hash``,
    extraction time and watermark (only these columns of the table are read)."""
    names = set(table_schema(target).names)
    columns = [c for c in dict.fromkeys([*table.primary_key, ROW_HASH, EXTRACTED_AT, table.watermark]) if c in names]
    return read_columns(target, columns)


@dataclass(frozen=True)
class Replacement:
    """The rows that replace or join the table and the keys removed, as ``replace_keys`` writes them."""

    rows: pl.DataFrame
    keys: pl.Series  # every key whose rows are replaced: the rows' own and the deleted ones
    updated: int
    deleted: int


def _newer(table: CatalogTable, held: pl.DataFrame) -> pl.Expr:
    """``_newer_predicate`` for a frame of rows joined to ``held`` (its columns suffixed ``_held``):
    which rows replace the table's (or are new to it)."""
    def old(column: str) -> pl.Expr:
        return pl.col(f"{column}_held") if column in held.columns else pl.lit(None)

    changed = old(ROW_HASH).is_null() | (pl.col(ROW_HASH) != old(ROW_HASH))
    if table.partitioning == Partitioning.STREAM:
        return changed.fill_null(False)
    wm = table.watermark
    as_new = (old(wm).is_null() | (pl.col(wm) >= old(wm))) if wm else pl.lit(True)
    later = old(EXTRACTED_AT).is_null() | (pl.col(EXTRACTED_AT) > old(EXTRACTED_AT)) | (
        (pl.col(EXTRACTED_AT) == old(EXTRACTED_AT)) & as_new)
    return (changed & later).fill_null(False)


def replacement_of(table: CatalogTable, target: DeltaTable | None, held: pl.DataFrame | None,
                   upserts: pl.DataFrame | None, gone: pl.DataFrame) -> Replacement | None:
    """The changes as a replacement of keys, or None when they must go through a MERGE: no table
    yet, a key of several columns or of another type than integer or text, rows lacking a column
    of the table, or more than ``REPLACE_MAX_KEYS`` keys to replace."""
    if target is None or held is None or len(table.primary_key) != 1 or ROW_HASH not in held.columns:
        return None
    key = table.primary_key[0]
    if not (held.schema[key].is_integer() or held.schema[key] == pl.String):
        return None
    rows = upserts if upserts is not None else pl.from_arrow(table_schema(target).empty_table())
    if rows.height and not set(table_schema(target).names) <= set(rows.columns):
        return None
    if rows.height:
        suffixed = held.rename({c: f"{c}_held" for c in held.columns if c != key})
        rows = rows.join(suffixed, on=key, how="left").filter(_newer(table, held)).drop(suffixed.columns[1:])
    rows = rows.drop(DELETED, strict=False)
    deleted = gone.select(key).join(held.select(key), on=key, how="semi")
    keys = pl.concat([rows[key], deleted[key].cast(rows.schema[key])]).unique().sort()
    if keys.len() > REPLACE_MAX_KEYS:
        return None
    updated = rows.join(held.select(key), on=key, how="semi").height
    return Replacement(rows, keys, updated, deleted.height)


def _sql_literal(value) -> str:
    return str(value) if isinstance(value, int) else "'" + str(value).replace("'", "''") + "'"


def replace_keys(lake: LakeFiles, path: str, table: CatalogTable, replacement: Replacement,
                 commit: dict[str, str] | None, outcome: MergeOutcome) -> bool:
    """Replace the rows of ``replacement.keys`` by ``replacement.rows`` in one predicate overwrite
    (new columns added); delta-rs reads the key column of the files whose statistics may hold
    them and rewrites only the files that do. False when there is nothing to replace."""
    if not replacement.keys.len():
        return False
    key = table.primary_key[0]
    fault_point("silver.merge")
    predicate = f"`{key}` IN ({', '.join(_sql_literal(v) for v in replacement.keys.to_list())})"
    write_delta(lake, path, replacement.rows, "overwrite", predicate=predicate, schema_mode="merge",
                commit_properties=CommitProperties(custom_metadata=commit or {}))
    outcome.inserted += replacement.rows.height - replacement.updated
    outcome.updated += replacement.updated
    outcome.deleted += replacement.deleted
    return True


def _merge_changes(lake: LakeFiles, path: str, table: CatalogTable, target: DeltaTable | None,
                   upserts: pl.DataFrame | None, gone: pl.DataFrame, commit: dict[str, str] | None,
                   outcome: MergeOutcome) -> bool:
    """Upserts and deletes in one MERGE; False when there is neither."""
    parts = []
    if target is not None and gone.height:  # tombstone rows carry every column (as NULL) for the MERGE
        parts.append(pl.from_arrow(table_schema(target).empty_table())
                     .with_columns(pl.lit(False).alias(DELETED)))
    if upserts is not None and upserts.height:
        parts.append(upserts.with_columns(pl.lit(False).alias(DELETED)))
    if gone.height:
        parts.append(gone.with_columns(pl.lit(True).alias(DELETED)))
    if not parts:
        return False
    metrics = _merge(lake, path, table, pl.concat(parts, how="diagonal_relaxed"), commit)
    outcome.inserted += metrics.get("num_target_rows_inserted", 0)
    outcome.updated += metrics.get("num_target_rows_updated", 0)
    outcome.deleted += metrics.get("num_target_rows_deleted", 0)
    return True


def _widen_for(lake: LakeFiles, path: str, target: DeltaTable, upserts: pl.DataFrame, outcome: MergeOutcome) -> pl.DataFrame:
    """``upserts`` cast to the silver table's column types, after widening the table where a
    source column changed type (``schema_drift``). delta-rs has no ALTER COLUMN TYPE, so a widened
    table is rewritten once, in one overwrite commit: readers see the old table or the new one,
    and time travel keeps the old."""
    existing = pl.from_arrow(table_schema(target).empty_table()).schema
    changes = type_changes(existing, upserts.schema, where=f"silver {path}")
    if not changes:
        return upserts
    grown = {c.column: c.widened for c in changes if c.widened != c.old}
    if grown:
        current = cast_to(pl.from_arrow(target.to_pyarrow_table()), grown)
        described = "; ".join(c.describe() for c in changes if c.column in grown)
        write_delta(lake, path, current, "overwrite", schema_mode="overwrite",
                    commit_properties=CommitProperties(custom_metadata={WIDENED_KEY: described} | current_cursors(lake, path)))
        outcome.widened.extend(c.describe() for c in changes if c.column in grown)
    return cast_to(upserts, {c.column: c.widened for c in changes})


def create_empty(lake: LakeFiles, path: str, table: CatalogTable, commit: dict[str, str] | None) -> None:
    """An empty table with the bronze schema (and silver's columns), so readers always find one."""
    schema = latest_bronze_schema(lake, table.name)
    if schema is None:
        return  # bronze has never run: nothing to describe the table by yet
    empty = pl.from_arrow(schema.empty_table()).with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias(EXTRACTED_AT))
    rows = enrich(table, latest_versions(empty, table))
    write_delta(lake, path, rows, "error", commit_properties=CommitProperties(custom_metadata=commit or {}))


def _replace_with_snapshot(lake: LakeFiles, path: str, table: CatalogTable, changes, outcome: MergeOutcome) -> MergeOutcome:
    if changes.empty:
        record_table_state(lake, path, outcome)
        return outcome
    rows = enrich(table, read_bronze(lake, changes.files))
    previous = open_delta(lake, path)
    if previous is not None:
        before = pl.from_arrow(previous.to_pyarrow_table())
        key = list(table.primary_key)
        outcome.deleted = before.join(rows, on=key, how="anti").height
        outcome.inserted = rows.join(before, on=key, how="anti").height
        # updated: a row of both whose content differs (the extraction time aside), not every row kept
        compared = [c for c in rows.columns if c in before.columns and c != EXTRACTED_AT]
        digest = [*key, row_hash(compared)]
        changed = rows.select(digest).join(before.select(digest), on=[*key, ROW_HASH], how="anti").height
        outcome.updated = changed - outcome.inserted
    else:
        outcome.inserted = rows.height
    write_delta(lake, path, rows, "overwrite", schema_mode="overwrite",
                commit_properties=CommitProperties(custom_metadata=bronze_cursor(changes.cursor)))
    outcome.replaced = True
    outcome.rows_read = rows.height
    record_table_state(lake, path, outcome)
    return outcome


def record_table_state(lake: LakeFiles, path: str, outcome: MergeOutcome) -> None:
    """Fill in the table's version, row count, schema and quality totals after a change."""
    delta = open_delta(lake, path)
    if delta is not None:
        rows = pl.scan_delta(delta)  # only the flag columns are read
        outcome.version = delta.version()
        outcome.rows = rows.select(pl.len()).collect().item()
        outcome.schema = table_schema(delta)
        flagged = [c for c in outcome.schema.names if c.startswith("dq_") or c.endswith("_valid")]
        if flagged:
            outcome.quality = quality_counts(rows.select(flagged))


def _log_tombstones(lake: LakeFiles, table: CatalogTable, gone: pl.DataFrame, run_id: str) -> None:
    now = dt.datetime.now(dt.UTC)
    keys = ["|".join(str(v) for v in row) for row in gone.rows()]
    rows = pa.table({"table": [table.name] * len(keys), "key": keys, "deleted_at": [now] * len(keys),
                     "run_id": [run_id] * len(keys)}, schema=TOMBSTONE_SCHEMA)
    write_delta(lake, TOMBSTONES, rows, "append")
