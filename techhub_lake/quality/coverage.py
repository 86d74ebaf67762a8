"""Rows the daily partitions cannot hold: a warn-level check on every daily bronze asset.

A daily asset extracts rows by watermark day, from the catalog's ``start_date`` up to today. A row
whose watermark is NULL, earlier than ``start_date`` or later than today (a clock set to 2099)
falls in no partition. Such rows are not lost: the reconciliation (``refresh --reconcile``, the
nightly schedule) compares keys with silver and loads what silver lacks. This check counts them on
the source, so the UI says how many rows only the reconciliation brings in, and where they sit.
"""

from __future__ import annotations

import datetime as dt

import dagster as dg

from techhub_lake.bronze.partitions import daily_partitions
from techhub_lake.bronze.specs import bronze_key
from techhub_lake.catalog import Catalog, CatalogTable, Partitioning
from techhub_lake.resources import SourceDatabase
from techhub_lake.source.connection import read_only_snapshot
from techhub_lake.source.policy import SOURCE_POOL

COVERAGE_CHECK = "rows_outside_partitions"


def count_rows_outside(cur, table: CatalogTable, first_start: dt.datetime, last_end: dt.datetime) -> dict[str, int]:
    """Rows of ``table`` whose watermark is NULL, before ``first_start`` or at/after ``last_end``
    (one aggregate query). A ``timestamp without time zone`` watermark holds wall-clock times in the
    lake's zone, as the extraction reads it: the bounds are compared as wall-clock times too."""
    column = f'"{table.watermark}"'
    cur.execute("SELECT atttypid = 'timestamp'::regtype FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
                (table.qualified_name, table.watermark))
    found = cur.fetchone()
    if found and found[0]:
        first_start, last_end = first_start.replace(tzinfo=None), last_end.replace(tzinfo=None)
    cur.execute(
        f"SELECT count(*) FILTER (WHERE {column} IS NULL), count(*) FILTER (WHERE {column} < %(start)s), "
        f"count(*) FILTER (WHERE {column} >= %(end)s) FROM {table.qualified_name}",
        {"start": first_start, "end": last_end})
    null, before, after = cur.fetchone()
    return {"null_watermark": null, "before_start": before, "after_today": after}


def partition_bounds(partitions_def: dg.TimeWindowPartitionsDefinition) -> tuple[dt.datetime, dt.datetime]:
    """Where the daily partitions start and end (the first one's start, today's end)."""
    first = partitions_def.time_window_for_partition_key(partitions_def.get_first_partition_key())
    return first.start, partitions_def.get_last_partition_window().end


def rows_outside_by_table(catalog: Catalog, cur) -> dict[str, dict[str, int]]:
    """``count_rows_outside`` for every daily table of ``catalog`` that has such rows (what ``catalog
    check`` lists: a watermark with NULLs delays those rows to the nightly reconciliation)."""
    start, end = partition_bounds(daily_partitions(catalog))
    counts = {t.name: count_rows_outside(cur, t, start, end)
              for t in catalog.lake_tables if t.partitioning == Partitioning.DAILY}
    return {name: found for name, found in counts.items() if any(found.values())}


def build_coverage_check(table: CatalogTable, partitions_def: dg.TimeWindowPartitionsDefinition) -> dg.AssetChecksDefinition:
    """The ``rows_outside_partitions`` check of one daily bronze asset (WARN: the rows still reach
    silver through the reconciliation, so nothing downstream is blocked)."""

    @dg.asset_check(asset=bronze_key(table), name=COVERAGE_CHECK, pool=SOURCE_POOL, blocking=False,
                    description=f"[warn] rows of {table.name} whose {table.watermark} is NULL, before the first "
                                "partition or after today: no daily partition holds them; the reconciliation loads them")
    def _coverage(context, source: SourceDatabase) -> dg.AssetCheckResult:
        start, end = partition_bounds(partitions_def)
        with read_only_snapshot(source.resolved_url(), application_name=f"techhub-lake coverage {table.name}",
                                statement_timeout_ms=source.statement_timeout_ms) as cur:
            counts = count_rows_outside(cur, table, start, end)
        outside = sum(counts.values())
        context.log.info(f"{table.name}: {outside:,} row(s) outside the daily partitions {counts}")
        return dg.AssetCheckResult(
            passed=outside == 0, severity=dg.AssetCheckSeverity.WARN,
            metadata={"rows_outside": dg.MetadataValue.int(outside),
                      **{name: dg.MetadataValue.int(count) for name, count in counts.items()},
                      "partitions": dg.MetadataValue.text(f"{start.isoformat()} .. {end.isoformat()}"),
                      "remedy": dg.MetadataValue.text("techhub-lake refresh --reconcile (the nightly reconciliation) "
                                                      "loads them into silver; fix the watermark in the source to "
                                                      "give them a partition")})

    return _coverage


def build_coverage_checks(assets: list[dg.AssetsDefinition], catalog: Catalog) -> list[dg.AssetChecksDefinition]:
    """A coverage check for every daily bronze asset among ``assets``."""
    daily = {bronze_key(t): t for t in catalog.lake_tables if t.partitioning == Partitioning.DAILY}
    return [build_coverage_check(daily[spec.key], spec.partitions_def)
            for definition in assets for spec in definition.specs if spec.key in daily]
