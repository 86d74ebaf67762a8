"""What bronze has landed since silver last looked: the files to merge, read as one lazy frame.

Silver's cursor is the time of the newest bronze extraction it has merged. Every bronze
extraction writes a record to ``_metadata/extraction_logs`` with the days it covered, so the files
of those days are exactly the change set: a refresh reads what changed, not all of bronze.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from techhub_lake.bronze.metadata_log import read_extraction_logs
from techhub_lake.catalog import CatalogTable, Partitioning
from techhub_lake.lake.layout import bronze_file, bronze_table_dir
from techhub_lake.lake.storage import LakeFiles

EXTRACTED_AT = "_extracted_at"


@dataclass(frozen=True)
class BronzeChanges:
    """The bronze files silver has not merged yet, and the cursor that merging them reaches."""

    files: list[str]
    cursor: dt.datetime | None
    full_snapshot: bool = False

    @property
    def empty(self) -> bool:
        return not self.files


def _days(start: str, end: str) -> list[dt.date]:
    first, last = dt.date.fromisoformat(start), dt.date.fromisoformat(end)
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


def bronze_changes(lake: LakeFiles, table: CatalogTable, cursor: dt.datetime | None) -> BronzeChanges:
    """The bronze files written by successful extractions after ``cursor`` (all of them for None)."""
    logs = [r for r in read_extraction_logs(lake, table.name) if r["status"] == "success"]
    newer = [r for r in logs if cursor is None or r["finished_at"] > cursor]
    if not newer:
        return BronzeChanges([], cursor)
    reached = max(r["finished_at"] for r in newer)
    if table.partitioning == Partitioning.SNAPSHOT:
        latest = max(newer, key=lambda r: r["finished_at"])
        path = bronze_file(table, dt.date.fromisoformat(latest["partition_end"]))
        return BronzeChanges([path] if lake.exists(path) else [], reached, full_snapshot=True)
    if cursor is None:  # first merge: everything bronze holds
        files = [f for f in lake.list_files(bronze_table_dir(table)) if f.endswith(".parquet")]
        return BronzeChanges(files, reached)
    days = sorted({day for r in newer for day in _days(r["partition_start"], r["partition_end"])})
    files = [bronze_file(table, day) for day in days]
    return BronzeChanges([f for f in files if lake.exists(f)], reached)


def read_bronze(lake: LakeFiles, files: list[str]) -> pl.DataFrame:
    """The rows of some bronze files, with each row's extraction time (its file's modification time).

    Files written before a column was added lack it; the unified schema gives those rows NULL.
    """
    paths = [lake.path(f) for f in files]
    unified = pa.unify_schemas([pq.read_schema(p, filesystem=lake.fs) for p in paths], promote_options="permissive")
    mtimes = {info.path: info.mtime for info in lake.fs.get_file_info(paths)}
    dataset = pads.dataset(paths, filesystem=lake.fs, format="parquet", schema=unified)
    stamp = pa.timestamp("us", tz="UTC")
    tables = []
    for fragment in dataset.get_fragments():
        part = fragment.to_table(schema=unified)
        tables.append(part.append_column(EXTRACTED_AT, pa.repeat(pa.scalar(mtimes[fragment.path], stamp), part.num_rows)))
    if not tables:
        return pl.from_arrow(unified.empty_table()).with_columns(pl.lit(None, pl.Datetime("us", "UTC")).alias(EXTRACTED_AT))
    return pl.from_arrow(pa.concat_tables(tables))
