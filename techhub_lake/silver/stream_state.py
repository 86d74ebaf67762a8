"""Silver current state of a captured table (``strategy: cdc``): its stream's snapshot, then every
change after it in commit order, each commit LSN applied once.

The table's Delta commits record where it stands: the snapshot it was built from
(``techhub.cdc_snapshot_lsn``) and the last commit LSN applied (``techhub.cdc_applied_lsn``), in the
same commit as the rows, so a crash never leaves them out of step and a re-delivered change is
never applied twice. When bronze holds a newer snapshot (the first one, or one taken after the slot
was lost), the table is brought to it first: rows upserted, keys the snapshot lacks deleted. Every
applied change is also appended, typed and with silver's columns, to the table's changelog
(``silver/techhub/_changes/<module>/<table>``), which the SCD2 dimensions read to open one version
per committed change. No primary-key listing and no row-hash reconciliation: deletes and updates
that leave ``updated_at`` alone arrive as changes like any other.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg
import polars as pl
import pyarrow.parquet as pq
from deltalake import CommitProperties

from techhub_lake.bronze.changes import CHANGE_COLUMNS, change_dir
from techhub_lake.bronze.metadata_log import latest_bronze_schema
from techhub_lake.bronze.stream import read_stream_state, snapshot_file
from techhub_lake.catalog import CatalogTable
from techhub_lake.faults import fault_point
from techhub_lake.lake.delta import open_delta, scan_delta, write_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver.bronze_changes import EXTRACTED_AT, chunks_of
from techhub_lake.silver.current_state import (
    BRONZE_BYTES_PER_APPEND,
    SILVER_ROOT,
    STREAM_APPLIED_KEY,
    STREAM_SNAPSHOT_KEY,
    MergeOutcome,
    append_rows,
    apply_changes,
    create_empty,
    current_keys,
    fill_new_columns,
    latest_commit_value,
    latest_versions,
    record_table_state,
    row_hash,
    silver_rows,
    silver_table_path,
)
from techhub_lake.silver.stream_changes import (
    CHANGELOG_COLUMNS,
    COMMIT_LSN,
    COMMIT_TS,
    LOGGED_COMMIT_LSN,
    LOGGED_LSN,
    LOGGED_OP,
    UNCHANGED,
    change_files_after,
    fill_unchanged,
    fold,
    read_changes,
    typed,
)
from techhub_lake.silver.transforms import silver_column
from techhub_lake.source.cdc import lsn_text

CHANGELOG_ROOT = f"{SILVER_ROOT}/_changes"
# A snapshot is applied in chunks of rows, as many as hold about BRONZE_BYTES_PER_APPEND of its Parquet
# (at most SNAPSHOT_ROWS_PER_CHUNK): service_servicerequest's 57,588 rows at scale 1 (185 MB of JSON)
# in one chunk of 100,000 rows peaked at 1.6 GB.
SNAPSHOT_ROWS_PER_CHUNK = 100_000


def snapshot_rows_per_chunk(snapshot: pq.ParquetFile) -> int:
    """Rows per chunk of a snapshot file: about ``BRONZE_BYTES_PER_APPEND`` of its compressed data."""
    meta = snapshot.metadata
    compressed = sum(meta.row_group(g).column(c).total_compressed_size
                     for g in range(meta.num_row_groups) for c in range(meta.num_columns))
    share = meta.num_rows * BRONZE_BYTES_PER_APPEND // max(compressed, 1)
    return min(SNAPSHOT_ROWS_PER_CHUNK, max(1_000, share))
# Changes are applied in chunks of change files, one commit (and cursor) each: a chunk's text, typed
# values, silver columns and MERGE are what a refresh holds in memory at a time.
CHANGE_BYTES_PER_APPLY = 16 * 1024 * 1024


def changelog_path(table: CatalogTable) -> str:
    """``silver/techhub/_changes/<module>/<table>``: every applied change of a captured table."""
    return f"{CHANGELOG_ROOT}/{table.module}/{table.short_name}"


def stream_cursor(lake: LakeFiles, path: str) -> tuple[int | None, int | None]:
    """(the snapshot LSN the table was built from, the last commit LSN applied) of a silver table."""
    values = [latest_commit_value(lake, path, key) for key in (STREAM_SNAPSHOT_KEY, STREAM_APPLIED_KEY)]
    return tuple(int(v) if v else None for v in values)  # type: ignore[return-value]


def stream_metadata(lake: LakeFiles, table: CatalogTable) -> dict[str, dg.MetadataValue]:
    """Where a captured table's silver stands in its stream, for the UI."""
    built_from, applied = stream_cursor(lake, silver_table_path(table))
    metadata = {"changelog_path": dg.MetadataValue.path(lake.uri(changelog_path(table)))}
    if built_from is not None:
        metadata["stream/snapshot_lsn"] = dg.MetadataValue.text(lsn_text(built_from))
    if applied is not None and applied >= (built_from or 0):
        metadata["stream/applied_lsn"] = dg.MetadataValue.text(lsn_text(applied))
    return metadata


def stream_commit(snapshot_lsn: int, applied_lsn: int) -> dict[str, str]:
    """The commit metadata that records a stream cursor (see ``stream_cursor``)."""
    return {STREAM_SNAPSHOT_KEY: str(snapshot_lsn), STREAM_APPLIED_KEY: str(applied_lsn)}


def _apply_snapshot(lake: LakeFiles, path: str, table: CatalogTable, snapshot_lsn: int, taken: dt.datetime,
                    outcome: MergeOutcome, run_id: str) -> None:
    """Bring the table to the stream's snapshot, read in chunks (one held at a time): appended into
    a new table, or merged into an existing one (changed rows upserted, keys the snapshot lacks
    deleted, the cursor with the last commit)."""
    source = snapshot_file(table, snapshot_lsn)
    keys = list(table.primary_key)
    cursor = stream_commit(snapshot_lsn, snapshot_lsn - 1)
    existed = open_delta(lake, path) is not None
    first_columns: set[str] = set()
    with lake.fs.open_input_file(lake.path(source)) as stream:
        handle = pq.ParquetFile(stream)
        snapshot_keys = pl.from_arrow(handle.read(columns=keys))
        batches = handle.iter_batches(batch_size=snapshot_rows_per_chunk(handle))
        for last, batch in _with_last(batches, handle.schema_arrow.empty_table()):
            rows = pl.from_arrow(batch).with_columns(pl.lit(taken, pl.Datetime("us", "UTC")).alias(EXTRACTED_AT))
            rows = silver_rows(lake, path, table, latest_versions(rows, table))
            outcome.rows_read += rows.height
            if not existed:
                if rows.height or last:
                    append_rows(lake, path, rows, cursor if last else None, outcome)
                    first_columns = first_columns or set(rows.columns)
                continue
            gone = current_keys(lake, path, table).join(snapshot_keys, on=keys, how="anti") if last \
                else rows.select(keys).clear()
            apply_changes(lake, path, table, rows, gone, cursor if last else None, outcome, run_id)
    if not existed and first_columns:
        fill_new_columns(lake, path, table, first_columns, outcome)
    outcome.replaced = True


def _with_last(batches, empty):
    """(whether it is the last, batch) for each batch, read one ahead; ``empty`` alone when there is
    none (an empty table still gets its cursor)."""
    previous = None
    for batch in batches:
        if previous is not None:
            yield False, previous
        previous = batch
    yield True, previous if previous is not None else empty


def _silver_as_source(lake: LakeFiles, path: str, table: CatalogTable, columns: list[str],
                      keys: pl.DataFrame) -> pl.DataFrame | None:
    """The rows silver holds for ``keys``, with the source columns as the source names them (what
    an update's untouched TOASTed values are taken from); None when no key needs one."""
    delta = open_delta(lake, path)
    if delta is None or not keys.height:
        return None
    present = set(delta.schema().to_arrow().names)
    wanted = {c: silver_column(table, c) for c in {*table.primary_key, *columns}}
    frame = (scan_delta(lake, path).select([s for s in wanted.values() if s in present])
             .join(keys.lazy(), on=list(table.primary_key), how="semi")
             .collect())
    return frame.rename({s: c for c, s in wanted.items() if s in frame.columns and s != c})


def _append_changelog(lake: LakeFiles, table: CatalogTable, rows: pl.DataFrame, snapshot_lsn: int) -> None:
    """Append the changes the changelog does not hold yet (a crash between the changelog and the
    table re-applies a batch: the changelog's own cursor keeps it from repeating)."""
    path = changelog_path(table)
    _, logged = stream_cursor(lake, path)
    fresh = rows.filter(pl.col(LOGGED_COMMIT_LSN) > logged) if logged is not None else rows
    if not fresh.height:
        return
    applied = int(fresh[LOGGED_COMMIT_LSN].max())
    write_delta(lake, path, fresh, "append", schema_mode="merge" if open_delta(lake, path) is not None else None,
                commit_properties=CommitProperties(custom_metadata=stream_commit(snapshot_lsn, applied)))


def _apply_chunk(lake: LakeFiles, path: str, table: CatalogTable, changes: pl.DataFrame, snapshot_lsn: int,
                 outcome: MergeOutcome, run_id: str) -> int:
    """Apply some changes (whole transactions, in commit order) in one commit with their cursor,
    after appending them to the changelog; the last commit LSN applied."""
    changes = typed(changes, latest_bronze_schema(lake, table.name))
    keys = list(table.primary_key)
    row_columns = [c for c in changes.columns if c not in CHANGE_COLUMNS]
    missing = changes.filter(pl.col(UNCHANGED).list.len() > 0).select(keys).unique()
    changes = fill_unchanged(changes, keys, _silver_as_source(lake, path, table, row_columns, missing))
    outcome.rows_read += changes.height
    before = set(open_delta(lake, path).schema().to_arrow().names)
    # silver's columns for every change, computed once: the changelog takes them all, the table
    # each key's last change
    logged = silver_rows(lake, path, table, changes.select(
        *row_columns, pl.col(COMMIT_TS).alias(EXTRACTED_AT), row_hash(row_columns),
        *(pl.col(c).alias(n) for c, n in CHANGELOG_COLUMNS.items()))).sort(LOGGED_COMMIT_LSN, LOGGED_LSN)
    upserts, deleted, truncated = fold(logged, keys, op=LOGGED_OP)
    rows = upserts.drop(CHANGELOG_COLUMNS.values())
    applied = int(changes[COMMIT_LSN].max())
    _append_changelog(lake, table, logged, snapshot_lsn)
    fault_point("silver.stream")  # the changelog has the batch, the table not yet
    gone = deleted
    if truncated:
        gone = pl.concat([gone, current_keys(lake, path, table).join(rows.select(keys), on=keys, how="anti")],
                         how="vertical_relaxed").unique()
    apply_changes(lake, path, table, rows, gone, stream_commit(snapshot_lsn, applied), outcome, run_id)
    fill_new_columns(lake, path, table, before, outcome)
    return applied


def follow_stream_in_silver(lake: LakeFiles, table: CatalogTable, *, run_id: str = "") -> MergeOutcome:
    """Bring a captured table's silver current state up to what bronze's stream holds."""
    path = silver_table_path(table)
    outcome = MergeOutcome()
    state = read_stream_state(lake)
    if state is None or not state.complete or table.name not in state.tables:
        record_table_state(lake, path, outcome)  # bronze has no snapshot of it yet
        return outcome
    built_from, applied = stream_cursor(lake, path)
    if built_from != state.snapshot_lsn or open_delta(lake, path) is None:
        _apply_snapshot(lake, path, table, state.snapshot_lsn, state.snapshot_at, outcome, run_id)
        applied = state.snapshot_lsn - 1
    files = change_files_after(lake, table, applied)
    outcome.files_read = len(files)
    stats = lake.file_stats(change_dir(table)) if files else {}
    for group in chunks_of(files, stats, CHANGE_BYTES_PER_APPLY):
        changes = read_changes(lake, group, applied)
        if changes.height:
            applied = _apply_chunk(lake, path, table, changes, state.snapshot_lsn, outcome, run_id)
    if open_delta(lake, path) is None:
        create_empty(lake, path, table, stream_commit(state.snapshot_lsn, applied))
    record_table_state(lake, path, outcome)
    return outcome
