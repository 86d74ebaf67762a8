"""The lake's own records of bronze (the data-lake plan's ``_metadata/``), as Delta tables beside the data:

- ``schema_versions``: each table's columns and types, a new version whenever they change;
- ``extraction_logs``: one record per extraction, failed ones included.

Delta (delta-rs) gives atomic, concurrent appends on local disk and S3 alike, and both tables are
queryable with any Delta reader (polars, DuckDB, Spark).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from techhub_lake.lake.delta import open_delta, read_columns, table_schema, write_delta
from techhub_lake.lake.layout import EXTRACTION_LOGS, SCHEMA_VERSIONS
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source.arrow_types import SourceColumn, bronze_schema

_TS = pa.timestamp("us", tz="UTC")

SCHEMA_VERSIONS_SCHEMA = pa.schema([
    ("table", pa.string()),
    ("version", pa.int32()),
    ("fingerprint", pa.string()),
    ("columns", pa.string()),  # JSON list of {name, source_type, bronze_type}
    ("column_count", pa.int32()),
    ("arrow_schema", pa.binary()),  # the bronze schema itself (Arrow IPC), so readers need no file
    ("detected_at", _TS),
    ("run_id", pa.string()),
])

EXTRACTION_LOGS_SCHEMA = pa.schema([
    ("table", pa.string()),
    ("asset_key", pa.string()),
    ("run_id", pa.string()),
    ("strategy", pa.string()),
    ("partition_start", pa.string()),
    ("partition_end", pa.string()),
    ("rows", pa.int64()),
    ("bytes", pa.int64()),
    ("files", pa.int32()),
    ("removed_files", pa.int32()),
    ("watermark_min", _TS),
    ("watermark_max", _TS),
    ("schema_version", pa.int32()),
    ("started_at", _TS),
    ("finished_at", _TS),
    ("status", pa.string()),  # success | failed
    ("error", pa.string()),
])


@dataclass(frozen=True)
class SchemaVersion:
    """The version of a table's schema that an extraction saw."""

    version: int
    is_new: bool
    fingerprint: str


def schema_fingerprint(columns: list[SourceColumn]) -> tuple[str, str]:
    """A stable hash of the columns (names, source and bronze types) and their JSON description."""
    described = [{"name": c.name, "source_type": c.describe().split(" -> ")[0], "bronze_type": str(c.arrow_type())}
                 for c in columns]
    text = json.dumps(described, ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()[:16], text


def _read(lake: LakeFiles, relative: str, table: str) -> pa.Table | None:
    delta = open_delta(lake, relative)
    if delta is None:
        return None
    return read_columns(delta, table_schema(delta).names, pl.col("table") == table).to_arrow()


def _append(lake: LakeFiles, relative: str, rows: pa.Table) -> None:
    write_delta(lake, relative, rows, "append", schema_mode="merge")


def record_schema_version(lake: LakeFiles, table: str, columns: list[SourceColumn], run_id: str) -> SchemaVersion:
    """Compare the columns with the table's latest recorded schema; record a new version if they differ."""
    fingerprint, described = schema_fingerprint(columns)
    history = _read(lake, SCHEMA_VERSIONS, table)
    latest = None
    if history is not None and history.num_rows:
        latest = max(history.to_pylist(), key=lambda r: r["version"])
        if latest["fingerprint"] == fingerprint:
            return SchemaVersion(latest["version"], False, fingerprint)
    version = 1 if latest is None else latest["version"] + 1
    row = {"table": table, "version": version, "fingerprint": fingerprint, "columns": described,
           "column_count": len(columns), "arrow_schema": bronze_schema(columns).serialize().to_pybytes(),
           "detected_at": dt.datetime.now(dt.UTC), "run_id": run_id}
    _append(lake, SCHEMA_VERSIONS, pa.Table.from_pylist([row], schema=SCHEMA_VERSIONS_SCHEMA))
    return SchemaVersion(version, True, fingerprint)


def append_extraction_log(lake: LakeFiles, *records: dict) -> None:
    """Append extraction records, in one commit (see ``EXTRACTION_LOGS_SCHEMA`` for the fields)."""
    rows = [{name: record.get(name) for name in EXTRACTION_LOGS_SCHEMA.names} for record in records]
    if rows:
        _append(lake, EXTRACTION_LOGS, pa.Table.from_pylist(rows, schema=EXTRACTION_LOGS_SCHEMA))


def read_extraction_logs(lake: LakeFiles, table: str) -> list[dict]:
    """Every extraction record of one table, oldest first."""
    rows = _read(lake, EXTRACTION_LOGS, table)
    return [] if rows is None else sorted(rows.to_pylist(), key=lambda r: r["started_at"])


def latest_bronze_schema(lake: LakeFiles, table: str) -> pa.Schema | None:
    """The Arrow schema of the table's latest recorded bronze schema version, if any."""
    versions = [v for v in read_schema_versions(lake, table) if v.get("arrow_schema")]
    return pa.ipc.read_schema(pa.py_buffer(versions[-1]["arrow_schema"])) if versions else None


def read_schema_versions(lake: LakeFiles, table: str) -> list[dict]:
    """Every schema version of one table, oldest first."""
    rows = _read(lake, SCHEMA_VERSIONS, table)
    return [] if rows is None else sorted(rows.to_pylist(), key=lambda r: r["version"])
