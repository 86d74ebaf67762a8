"""SQL over the whole lake: a DuckDB connection with a view per lake table, local or on S3, offline.

Every lake table of the registry becomes a view named as the registry names it (``dagster/table_name``):
``bronze.account_user``, ``silver.account_user``, ``gold.dm_users``. Each is an Arrow dataset that
DuckDB scans, reading only the columns and row groups a query needs:

- silver and gold: the Delta table's current version (``deltalake``'s dataset, which reads local
  disk and S3 itself);
- bronze: the table's Parquet files through pyarrow's dataset (``year``/``month`` as partition
  columns); its columns are those of the first and the newest file, so a column a migration added
  reads as null in older days; a captured table's view is its first snapshot, and its change
  files are ``bronze.<table>_changes``.

DuckDB's own ``delta`` and ``httpfs`` extensions are downloaded on first use, which a machine
without the internet cannot do, so the connection turns extension autoloading off and reads
through Arrow, whose readers are installed with the lake.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.fs as pafs

from techhub_lake.lake.delta import open_delta
from techhub_lake.lake.layout import CHANGES_DIR, SNAPSHOT_DIR
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.registry import LakeTable

OFFLINE = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}


@dataclass(frozen=True)
class LakeView:
    """One view of the connection: its qualified name, the lake table and what it reads."""

    name: str  # <layer>.<table>
    path: str  # relative to the lake root
    source: str  # "delta version N", "N parquet files"


def _parquet_files(lake: LakeFiles, relative: str) -> list[str]:
    """The Parquet files under a directory, in path order, but those under a hidden or ``_`` directory
    (temporary files, a captured table's snapshot and changes)."""
    selector = pafs.FileSelector(lake.path(relative), recursive=True, allow_not_found=True)
    return sorted(info.path for info in lake.fs.get_file_info(selector)
                  if info.type == pafs.FileType.File and info.path.endswith(".parquet")
                  and not any(part.startswith((".", "_")) for part in info.path[len(lake.path(relative)):].split("/")))


def _parquet_dataset(lake: LakeFiles, relative: str, files: list[str]) -> ds.Dataset:
    """The files as one dataset, hive partition columns included, with the columns of the first and
    the newest file (schemas evolve by added columns; an older file reads them as null)."""
    base = lake.path(relative)
    partitioning = ds.HivePartitioning.discover(infer_dictionary=False)
    probe = ds.dataset([files[0], files[-1]], filesystem=lake.fs, format="parquet", partitioning=partitioning,
                       partition_base_dir=base)
    schemas = [fragment.physical_schema for fragment in probe.get_fragments()]
    schema = pa.unify_schemas([*schemas, probe.schema], promote_options="permissive")
    return ds.dataset(files, schema=schema, filesystem=lake.fs, format="parquet", partitioning=partitioning,
                      partition_base_dir=base)


def _bronze_datasets(lake: LakeFiles, table: LakeTable) -> list[tuple[str, ds.Dataset, str]]:
    found = []
    base, files = table.path, _parquet_files(lake, table.path)
    if not files:  # a captured table: its first snapshot (the newest, after a new one was taken)
        base = f"{table.path}/{SNAPSHOT_DIR}"
        files = _parquet_files(lake, base)[-1:]
    if files:
        found.append((table.name, _parquet_dataset(lake, base, files), f"{len(files)} parquet file(s)"))
    changes = _parquet_files(lake, f"{table.path}/{CHANGES_DIR}")
    if changes:
        found.append((f"{table.name}_changes", _parquet_dataset(lake, f"{table.path}/{CHANGES_DIR}", changes),
                      f"{len(changes)} change file(s)"))
    return found


def lake_datasets(lake: LakeFiles, tables: Iterable[LakeTable]) -> list[tuple[LakeView, ds.Dataset]]:
    """A dataset per lake table that exists (tables not materialized yet are left out), with its view."""
    found = []
    for table in sorted(tables, key=lambda t: (("bronze", "silver", "gold").index(t.layer), t.name)):
        if table.layer == "bronze":
            for name, dataset, source in _bronze_datasets(lake, table):
                found.append((LakeView(f"bronze.{name}", table.path, source), dataset))
            continue
        delta = open_delta(lake, table.path)
        if delta is not None:
            found.append((LakeView(f"{table.layer}.{table.name}", table.path, f"delta version {delta.version()}"),
                          delta.to_pyarrow_dataset()))
    return found


def lake_connection(lake: LakeFiles, tables: Iterable[LakeTable]) -> tuple[duckdb.DuckDBPyConnection, list[LakeView]]:
    """An in-memory DuckDB with a view per lake table (schemas ``bronze``, ``silver``, ``gold``) and
    extension downloads turned off; the views it made."""
    connection = duckdb.connect(config=OFFLINE)
    views = []
    for view, dataset in lake_datasets(lake, tables):
        schema, _, name = view.name.partition(".")
        connection.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        connection.register(f"_{schema}_{name}", dataset)
        connection.execute(f'CREATE VIEW "{schema}"."{name}" AS SELECT * FROM "_{schema}_{name}"')
        views.append(view)
    return connection, views
