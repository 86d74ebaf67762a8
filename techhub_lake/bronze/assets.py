"""The bronze assets: one factory turns every catalog table into a materializable Dagster asset.

A daily-partitioned asset extracts whatever range of partitions its run covers in one query
(``BackfillPolicy.single_run``: a backfill of a month is one run and one query, not thirty); a
full-load asset writes today's snapshot. Every asset queries the source inside the
``techhub_source`` concurrency pool and is retried with backoff when the source is unreachable.
"""

import datetime as dt
from collections.abc import Callable
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc

from techhub_lake.bronze.extract import (
    DayWindow,
    Extraction,
    extract_days,
    extract_snapshot,
)
from techhub_lake.bronze.metadata_log import (
    SchemaVersion,
    append_extraction_log,
    record_schema_version,
)
from techhub_lake.bronze.specs import bronze_column_descriptions, bronze_key, bronze_spec
from techhub_lake.catalog import Catalog, CatalogError, CatalogTable, Partitioning
from techhub_lake.faults import fault_point
from techhub_lake.lake.layout import EXTRACTION_LOGS, SCHEMA_VERSIONS, bronze_table_dir
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.messages import first_line
from techhub_lake.metadata import column_schema, markdown_table
from techhub_lake.processes import stop_fails_the_step
from techhub_lake.resources import LakeStorage, SourceDatabase
from techhub_lake.source.connection import SourceRefused
from techhub_lake.source.policy import SOURCE_POOL, SOURCE_RETRY

PREVIEW_CHARS = 40


def day_windows(partitions_def: dg.TimeWindowPartitionsDefinition, window: dg.TimeWindow) -> list[DayWindow]:
    """The daily partitions inside a run's time window, with their exact bounds in the lake's zone."""
    days = []
    for key in partitions_def.get_partition_keys_in_time_window(window):
        bounds = partitions_def.time_window_for_partition_key(key)
        days.append(DayWindow(dt.date.fromisoformat(key), bounds.start, bounds.end))
    return days


def markdown_preview(extraction: Extraction) -> str:
    """The first rows as a markdown table, long values cut short and the catalog's PII columns masked
    (the event log is no place for e-mails or password hashes)."""
    if extraction.preview is None:
        return "_no rows_"
    preview = extraction.preview
    # dates and timestamps as pyarrow prints them: PostgreSQL's ±infinity arrive outside Python's calendar
    # (its conversion raises), silver turns them into NULL and flags them
    for index, field in enumerate(preview.schema):
        if pa.types.is_date(field.type) or pa.types.is_timestamp(field.type):
            preview = preview.set_column(index, field.name, pc.cast(preview.column(index), pa.string()))
    names = preview.column_names
    rows = ([row[n] for n in names] for row in preview.to_pylist())
    return markdown_table(names, rows, PREVIEW_CHARS, masked=extraction.table.pii)


def run_summary(extraction: Extraction, version: SchemaVersion, lake: LakeFiles,
                days: list[DayWindow] | None) -> dict[str, dg.MetadataValue]:
    """What the run did, for the UI: rows, bytes, files, watermarks, schema, paths, preview."""
    metadata: dict[str, dg.MetadataValue] = {
        "run_rows": dg.MetadataValue.int(extraction.rows),
        "run_bytes": dg.MetadataValue.int(extraction.bytes),
        "files_written": dg.MetadataValue.int(len(extraction.files)),
        "files_removed": dg.MetadataValue.int(len(extraction.removed)),
        "dagster/column_schema": column_schema(((c.name, c.describe()) for c in extraction.columns),
                                               bronze_column_descriptions(extraction.table, extraction.columns)),
        "schema_changed": dg.MetadataValue.bool(version.is_new),
        "preview": dg.MetadataValue.md(markdown_preview(extraction)),
        "query": dg.MetadataValue.text(extraction.query),
        "metadata_tables": dg.MetadataValue.text(f"{lake.uri(SCHEMA_VERSIONS)}, {lake.uri(EXTRACTION_LOGS)}"),
    }
    if days is not None:
        metadata["days_with_rows"] = dg.MetadataValue.int(len(extraction.files))
    if extraction.watermark_min is not None:
        metadata["watermark_min"] = dg.MetadataValue.timestamp(extraction.watermark_min)
        metadata["watermark_max"] = dg.MetadataValue.timestamp(extraction.watermark_max)
    shown = extraction.files[:20]
    listing = "\n".join(f"- `{lake.uri(f.path)}` ({f.rows:,} rows, {f.bytes:,} B)" for f in shown)
    if len(extraction.files) > len(shown):
        listing += f"\n- … and {len(extraction.files) - len(shown):,} more"
    metadata["files"] = dg.MetadataValue.md(listing or "_none_")
    return metadata


def rows_by_month(extraction: Extraction) -> str:
    """The run's rows, bytes and files per month, as a markdown table: what the days older than
    ``PER_DAY_METADATA_DAYS`` report in place of their own metadata."""
    months: dict[str, list[int]] = {}
    for f in extraction.files:
        totals = months.setdefault(f.day.strftime("%Y-%m"), [0, 0, 0])
        totals[0] += f.rows
        totals[1] += f.bytes
        totals[2] += 1
    return markdown_table(["month", "rows", "bytes", "days with rows"],
                          ((m, f"{r:,}", f"{b:,}", str(n)) for m, (r, b, n) in sorted(months.items())))


# Days of a run, counted back from its last, that get metadata of their own. Dagster keeps the
# metadata of a run's partitions in one immutable mapping that it copies and type-checks whole on
# each partition's addition, so a run over n days with rows costs O(n^2): `account_user`'s 2,862 days
# took 6.9-7.2 s to record, 5.3-5.7 s with the last 92 days (a first load at scale 1: 28 s -> 18 s).
PER_DAY_METADATA_DAYS = 92


def bronze_metadata(extraction: Extraction, version: SchemaVersion, lake: LakeFiles,
                    days: list[DayWindow] | None) -> tuple[dict[str, dg.MetadataValue], dict[str, dict]]:
    """What a materialization reports: metadata shared by every partition of the run, and per
    partition key what is that day's own (its rows and file; the run's summary on its last day).

    A first load records ~2,900 partitions per table in one run; Dagster copies the shared metadata
    into each partition's event, so it stays a few small values, and the summary (schema, preview,
    query, file list, rows by month) goes on the last partition only: that event is what the asset
    page shows as the latest materialization. Only days with rows in the run's last
    ``PER_DAY_METADATA_DAYS`` days get metadata of their own (a day without rows has no file and
    no row count; an older day is in the summary's rows by month): a daily refresh or a backfill
    of a few months reports every day, a first load its recent months."""
    shared: dict[str, dg.MetadataValue] = {
        "path": dg.MetadataValue.path(lake.uri(bronze_table_dir(extraction.table))),
        "schema_version": dg.MetadataValue.int(version.version),
        "duration_s": dg.MetadataValue.float(round(extraction.seconds, 3)),
    }
    summary = run_summary(extraction, version, lake, days)
    if days is None:
        return shared | summary | {"dagster/row_count": dg.MetadataValue.int(extraction.rows)}, {}
    shared["partitions"] = dg.MetadataValue.text(
        days[0].day.isoformat() if len(days) == 1 else f"{days[0].day.isoformat()} .. {days[-1].day.isoformat()}")
    recent = days[-1].day - dt.timedelta(days=PER_DAY_METADATA_DAYS - 1)
    per_day: dict[str, dict] = {
        f.day.isoformat(): {"dagster/row_count": dg.MetadataValue.int(f.rows), "rows": dg.MetadataValue.int(f.rows),
                            "bytes": dg.MetadataValue.int(f.bytes), "file": dg.MetadataValue.path(lake.uri(f.path))}
        for f in extraction.files if f.day >= recent}
    summary["rows_by_month"] = dg.MetadataValue.md(rows_by_month(extraction))
    last = days[-1].day.isoformat()
    per_day[last] = per_day.get(last, {"dagster/row_count": dg.MetadataValue.int(0), "rows": dg.MetadataValue.int(0)}) | summary
    return shared, per_day


def extract_and_record(url: str, lake: LakeFiles, table: CatalogTable, catalog: Catalog, *,
                       days: list[DayWindow] | None, snapshot_day: dt.date | None, run_id: str,
                       asset_key: str = "", statement_timeout_ms: int | None = None, on_batch=None,
                       log: Callable[[str], None] = lambda _: None, exported: str | None = None,
                       path: str | None = None) -> tuple[Extraction, SchemaVersion]:
    """Extract days (or a snapshot) and record it in the lake: a schema version and an extraction log
    record, failed extractions included. What the bronze asset runs, and what silver reads back.
    ``exported`` and ``path``: a snapshot read in an exported snapshot into ``path`` (the first
    snapshot of a captured table, see ``bronze.stream``)."""
    started = dt.datetime.now(dt.UTC)
    first = days[0].day if days else snapshot_day
    last = days[-1].day if days else snapshot_day
    record = {
        "table": table.name, "asset_key": asset_key or bronze_key(table).to_user_string(), "run_id": run_id,
        "strategy": table.strategy.value, "partition_start": first.isoformat(), "partition_end": last.isoformat(),
        "started_at": started, "status": "failed", "rows": 0, "bytes": 0, "files": 0, "removed_files": 0,
    }
    options = {"catalog_path": catalog.path, "application_name": f"techhub-lake bronze {table.name}",
               "statement_timeout_ms": statement_timeout_ms, "on_batch": on_batch}
    try:
        if days is not None:
            log(f"extracting {table.name}: {len(days)} day(s) {days[0].day} .. {days[-1].day}")
            extraction = extract_days(url, lake, table, days, **options)
        else:
            log(f"extracting {table.name}: snapshot of {snapshot_day}")
            extraction = extract_snapshot(url, lake, table, snapshot_day, exported=exported, path=path, **options)
    except Exception as exc:
        record |= {"finished_at": dt.datetime.now(dt.UTC), "error": first_line(exc)}
        try:
            append_extraction_log(lake, record)
        except Exception as log_exc:  # the lake may be what failed; the run's own error matters more
            log(f"could not record the failed extraction: {log_exc}")
        raise
    fault_point("bronze.log")  # files published, the extraction not yet logged
    version = record_schema_version(lake, table.name, extraction.columns, run_id)
    if version.is_new and version.version > 1:
        log(f"{table.name}: schema changed, now version {version.version}")
    append_extraction_log(lake, record | {
        "status": "success", "rows": extraction.rows, "bytes": extraction.bytes, "files": len(extraction.files),
        "removed_files": len(extraction.removed), "watermark_min": extraction.watermark_min,
        "watermark_max": extraction.watermark_max, "schema_version": version.version,
        "finished_at": extraction.finished_at, "error": None,
    })
    log(f"{table.name}: {extraction.rows:,} rows, {extraction.bytes:,} bytes in {len(extraction.files)} file(s), "
        f"{len(extraction.removed)} emptied day(s) removed")
    return extraction, version


def materialize_bronze(context: dg.AssetExecutionContext, table: CatalogTable, catalog: Catalog,
                       source: SourceDatabase, lake_storage: LakeStorage) -> dg.MaterializeResult:
    """Extract the run's partitions (or today's snapshot) of one table and record what happened."""
    lake = lake_storage.files()
    partitions_def = context.assets_def.partitions_def
    days = day_windows(partitions_def, context.partition_time_window) if partitions_def else None
    if days == []:  # Dagster accepts FIRST...LAST with FIRST after LAST and hands over an empty window
        keys = context.partition_key_range
        raise dg.Failure(description=f"{context.asset_key.to_user_string()}: the partition range {keys.start}...{keys.end} "
                                     "holds no day; give it as FIRST...LAST with FIRST on or before LAST",
                         allow_retries=False)
    snapshot_day = None if days else dt.datetime.now(ZoneInfo(catalog.defaults.timezone)).date()
    try:
        with stop_fails_the_step():
            extraction, version = extract_and_record(
                source.resolved_url(), lake, table, catalog, days=days, snapshot_day=snapshot_day,
                run_id=context.run.run_id, statement_timeout_ms=source.statement_timeout_ms, log=context.log.info,
                on_batch=lambda batches, rows: batches % 50 == 0 and context.log.info(f"{rows:,} rows read"))
    except (CatalogError, SourceRefused) as exc:  # the same on every retry: fail at once, saying why
        raise dg.Failure(description=str(exc), allow_retries=False) from None
    shared, per_day = bronze_metadata(extraction, version, lake, days)
    for partition_key, metadata in per_day.items():
        context.add_asset_metadata(metadata, partition_key=partition_key)
    fault_point("bronze.materialized")  # in the lake; Dagster has yet to record the partitions
    return dg.MaterializeResult(metadata=shared)


def build_bronze_asset(table: CatalogTable, catalog: Catalog) -> dg.AssetsDefinition:
    """The bronze asset of one catalog table."""
    spec = bronze_spec(table, catalog)

    @dg.multi_asset(
        name=f"bronze_{table.name}",
        specs=[spec],
        pool=SOURCE_POOL,
        retry_policy=SOURCE_RETRY,
        backfill_policy=dg.BackfillPolicy.single_run() if spec.partitions_def is not None else None,
    )
    def _bronze(context: dg.AssetExecutionContext, source: SourceDatabase, lake: LakeStorage) -> dg.MaterializeResult:
        return materialize_bronze(context, table, catalog, source, lake)

    return _bronze


def build_bronze_assets(catalog: Catalog) -> list[dg.AssetsDefinition]:
    """One bronze asset per table the lake loads by query (daily partitions or snapshots), in
    catalog order; the captured tables (``strategy: cdc``) are ``bronze.stream_asset``'s."""
    return [build_bronze_asset(table, catalog) for table in catalog.lake_tables
            if table.partitioning != Partitioning.STREAM]
