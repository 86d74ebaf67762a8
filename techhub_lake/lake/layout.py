"""Where things live in the lake: ``bronze/techhub/<module>/<table>/year=YYYY/month=MM/``."""

from __future__ import annotations

import datetime as dt

from techhub_lake.catalog import CatalogTable

# The lake's top-level directories: the three layers and the operations records.
LAKE_ROOTS = ("bronze", "silver", "gold", "_ops")

BRONZE_ROOT = "bronze/techhub"
METADATA_ROOT = f"{BRONZE_ROOT}/_metadata"
SCHEMA_VERSIONS = f"{METADATA_ROOT}/schema_versions"
EXTRACTION_LOGS = f"{METADATA_ROOT}/extraction_logs"
CDC_STREAM_STATE = f"{METADATA_ROOT}/cdc_stream.json"  # the replication slot's snapshot: see bronze/stream.py
# A captured table's bronze (strategy cdc) holds no daily files, but these two directories:
SNAPSHOT_DIR = "_snapshot"  # <table>/_snapshot/lsn=<LSN>/data.parquet: its first snapshot
CHANGES_DIR = "_changes"  # <table>/_changes/year=/month=/data_<day>_<LSN>.parquet: every change since


def bronze_table_dir(table: CatalogTable) -> str:
    """``bronze/techhub/<module>/<table>``: everything bronze holds of one source table."""
    return f"{BRONZE_ROOT}/{table.module}/{table.short_name}"


def bronze_file(table: CatalogTable, day: dt.date) -> str:
    """The file of one day: a daily partition, or the snapshot taken that day."""
    return f"{bronze_table_dir(table)}/year={day:%Y}/month={day:%m}/data_{day:%Y%m%d}.parquet"
