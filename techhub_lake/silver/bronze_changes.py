"""What bronze has landed since silver last looked: the files to merge, read as one lazy frame.

Silver's cursor is the time of the newest bronze extraction it has merged. Every bronze
extraction writes a record to ``_metadata/extraction_logs`` with the days it covered, so the files
of those days are exactly the change set: a refresh reads what changed, not all of bronze.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from dataclasses import dataclass

import polars as pl
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from techhub_lake.bronze.metadata_log import read_extraction_logs
from techhub_lake.catalog import CatalogTable, Partitioning
from techhub_lake.lake.layout import bronze_file, bronze_table_dir
from techhub_lake.lake.storage import FileStat, LakeFiles
from techhub_lake.silver.schema_drift import unify_frames

EXTRACTED_AT = "_extracted_at"
_FILE = "_bronze_file"


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
    if cursor is None:  # first merge: every day file bronze holds (not a captured stream's _snapshot/, _changes/)
        directory = bronze_table_dir(table)
        files = [f for f in lake.list_files(directory) if f.endswith(".parquet") and "/_" not in f.removeprefix(directory)]
        return BronzeChanges(files, reached)
    days = sorted({day for r in newer for day in _days(r["partition_start"], r["partition_end"])})
    files = [bronze_file(table, day) for day in days]
    return BronzeChanges([f for f in files if lake.exists(f)], reached)


def table_directory(files: list[str]) -> str:
    """The directory holding some bronze files of one table (their common parent)."""
    return posixpath.commonpath(files) if len(files) > 1 else posixpath.dirname(files[0])


def chunks_of(files: list[str], stats: dict[str, FileStat], max_bytes: int) -> list[list[str]]:
    """The files in order, cut into runs of at most ``max_bytes`` of Parquet each (a file larger
    than that is a run of its own; sizes from ``stats``): what one merge reads into memory at a time."""
    if not files:
        return []
    chunks: list[list[str]] = [[]]
    total = 0
    for f in files:
        size = stats[f].size if f in stats else 0
        if chunks[-1] and total + size > max_bytes:
            chunks.append([])
            total = 0
        chunks[-1].append(f)
        total += size
    return chunks


def read_bronze(lake: LakeFiles, files: list[str], stats: dict[str, FileStat] | None = None) -> pl.DataFrame:
    """The rows of some bronze files (of one table), with each row's extraction time (its file's
    modification time).

    Files written before a column was added lack it; the unified schema gives those rows NULL.
    Polars reads the files in parallel (a first load reads thousands of small daily files:
    measured 0.4 s for 2,158 files, against 3.7 s file by file through pyarrow); the schemas are
    unified by pyarrow's dataset factory from every file's footer, and the modification times come
    from one listing of the table's directory (``stats``, when the caller has listed it already),
    not a request per file.
    """
    if not files:
        return pl.DataFrame(schema={EXTRACTED_AT: pl.Datetime("us", "UTC")})
    try:
        try:
            schema = _unified_schema(lake, files)
        except (pa.ArrowTypeError, pa.ArrowInvalid):  # a column changed type between files: see schema_drift
            return _read_drifted(lake, files, stats)
        stats = stats if stats is not None else lake.file_stats(table_directory(files))
        return _scan(lake, files, schema, stats)
    except (pa.ArrowException, pl.exceptions.PolarsError, OSError):
        _raise_if_corrupt(lake, files)
        raise


class CorruptBronzeFile(ValueError):
    """A bronze file that is not readable Parquet (truncated, overwritten): one line naming it."""

    def __init__(self, message: str, day: dt.date | None) -> None:
        super().__init__(message)
        self.day = day


def _raise_if_corrupt(lake: LakeFiles, files: list[str]) -> None:
    """After a failed read: the first file whose Parquet footer does not parse, as ``CorruptBronzeFile``."""
    for f in files:
        try:
            with lake.fs.open_input_file(lake.path(f)) as handle:
                pq.read_metadata(handle)
        except (pa.ArrowException, OSError) as exc:
            name = posixpath.basename(f)
            day = dt.datetime.strptime(name[5:13], "%Y%m%d").date() if name.startswith("data_") else None
            reason = " ".join(str(exc).split())[:160]
            raise CorruptBronzeFile(f"bronze file {lake.uri(f)} is not readable Parquet ({reason})", day) from None


def _unified_schema(lake: LakeFiles, files: list[str]) -> pl.Schema:
    unified = pads.FileSystemDatasetFactory(lake.fs, [lake.path(f) for f in files], pads.ParquetFileFormat()).inspect(
        promote_options="permissive", fragments=None)
    return pl.from_arrow(unified.empty_table()).schema


def _scan(lake: LakeFiles, files: list[str], schema: pl.Schema, stats: dict[str, FileStat]) -> pl.DataFrame:
    mtimes = {lake.uri(f): stat.mtime for f, stat in stats.items()}
    return (
        pl.scan_parquet([lake.uri(f) for f in files], schema=schema, missing_columns="insert",
                        include_file_paths=_FILE, storage_options=lake.object_store_options() or None)
        .with_columns(pl.col(_FILE).replace_strict(mtimes, return_dtype=pl.Datetime("us", "UTC")).alias(EXTRACTED_AT))
        .drop(_FILE)
        .collect()
    )


def _read_drifted(lake: LakeFiles, files: list[str], stats: dict[str, FileStat] | None) -> pl.DataFrame:
    """Bronze files whose column types disagree (the source changed a column's type): each group of
    files with one schema is read on its own, then the groups are unified, oldest first, by
    ``unify_frames`` (each column widened to a type that holds every group's values)."""
    directory = table_directory(files)
    stats = stats if stats is not None else lake.file_stats(directory)
    groups: dict[pa.Schema, list[str]] = {}
    for f in files:  # a footer read per file: only when the fast path found types that disagree
        with lake.fs.open_input_file(lake.path(f)) as handle:
            groups.setdefault(pq.read_schema(handle).remove_metadata(), []).append(f)
    ordered = sorted(groups.values(), key=lambda group: max(stats[f].mtime for f in group if f in stats))
    frames = [_scan(lake, group, _unified_schema(lake, group), stats) for group in ordered]
    return unify_frames(frames, where=f"bronze {directory}")
