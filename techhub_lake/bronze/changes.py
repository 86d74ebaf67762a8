"""Bronze change files: what the source's logical replication slot holds, drained into Parquet.

One file per table and commit day of each drained batch, named by the commit LSN of its first
transaction, so a batch delivered twice (the lake crashed after publishing, before confirming)
lands under the same names and replaces itself instead of adding rows:

    bronze/techhub/<module>/<table>/_changes/year=YYYY/month=MM/data_YYYYMMDD_<first-lsn>.parquet

Columns: ``op`` (insert, update, delete, truncate), ``lsn``, ``commit_lsn``, ``commit_ts``, ``xid``,
``_unchanged`` (the TOASTed columns an update did not touch, which the server does not send), then
the row's columns as text, as PostgreSQL prints them (the key alone for a delete). Bronze keeps
the changes raw; silver types them with the table's bronze schema.

The slot is confirmed only after every file of the batch is published, so nothing is lost. A
change's day is its commit day in the lake's time zone, never earlier than the day of a change
committed before it: the files of one table then cover increasing, disjoint ranges of commit LSNs,
and a reader that has applied everything up to an LSN finds the rest in the files named after it
(and in the last one named before it, which a re-delivered, longer batch may have grown).

A table whose columns change mid-stream (a migration: the stream describes the table anew) gets a
new schema version in ``_metadata/schema_versions``, as an extraction that sees new columns does.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from techhub_lake.bronze.metadata_log import SchemaVersion, record_schema_version
from techhub_lake.catalog import CatalogTable
from techhub_lake.faults import fault_point
from techhub_lake.lake.layout import CHANGES_DIR, bronze_table_dir
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source import cdc, pgoutput

# Changes per batch: a batch is held in memory whole (bytes from the server, then Python values).
# Measured by bench.cdc at scale 1 (103,200 changes of rows up to ~4 KB): a drain in batches of
# 10,000 peaked at 650 MB RSS (libraries included), against 2.4 GB for the whole run with 50,000.
DRAIN_BATCH_CHANGES = 10_000
CHANGE_COLUMNS = {"op": pa.string(), "lsn": pa.int64(), "commit_lsn": pa.int64(),
                  "commit_ts": pa.timestamp("us", tz="UTC"), "xid": pa.int64(), "_unchanged": pa.list_(pa.string())}


def change_dir(table: CatalogTable) -> str:
    """``bronze/techhub/<module>/<table>/_changes``: every change file of one table."""
    return f"{bronze_table_dir(table)}/{CHANGES_DIR}"


def change_file(table: CatalogTable, day: dt.date, first_lsn: int) -> str:
    """The change file of one table, commit day and batch (``first_lsn``: its first commit LSN)."""
    return f"{change_dir(table)}/year={day:%Y}/month={day:%m}/data_{day:%Y%m%d}_{first_lsn:016X}.parquet"


def file_lsn(path: str) -> int:
    """The commit LSN a change file is named after."""
    return int(path.rsplit("_", 1)[1].removesuffix(".parquet"), 16)


@dataclass
class TableDrain:
    """What one drain brought of one table: changes by operation, files, commit times, schema."""

    ops: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    first_commit: dt.datetime | None = None
    last_commit: dt.datetime | None = None
    schema_version: SchemaVersion | None = None

    @property
    def changes(self) -> int:
        return sum(self.ops.values())


@dataclass
class DrainOutcome:
    """What one drain did: per table, the changes and files written; the LSN confirmed."""

    tables: dict[str, TableDrain] = field(default_factory=dict)
    transactions: int = 0
    batches: int = 0
    confirmed_lsn: int | None = None

    @property
    def changes(self) -> dict[str, int]:
        """Changes per table."""
        return {name: drained.changes for name, drained in self.tables.items()}

    @property
    def files(self) -> list[str]:
        return [f for drained in self.tables.values() for f in drained.files]


def change_table(changes: list[cdc.Change], columns: list[str]) -> pa.Table:
    """Changes of one table as an Arrow table: the change columns, then ``columns`` as text."""
    data: dict[str, list] = {name: [] for name in (*CHANGE_COLUMNS, *columns)}
    for change in changes:
        data["op"].append(change.op)
        data["lsn"].append(change.lsn)
        data["commit_lsn"].append(change.commit_lsn)
        data["commit_ts"].append(change.commit_ts)
        data["xid"].append(change.xid)
        data["_unchanged"].append([c for c, v in change.values.items() if v is pgoutput.UNCHANGED])
        for column in columns:
            value = change.values.get(column)
            data[column].append(None if value is pgoutput.UNCHANGED else value)
    schema = pa.schema([*(pa.field(n, t) for n, t in CHANGE_COLUMNS.items()), *(pa.field(c, pa.string()) for c in columns)])
    return pa.table(data, schema=schema)


def write_changes(lake: LakeFiles, tables: dict[str, CatalogTable], batch: cdc.ChangeBatch,
                  timezone: str) -> list[tuple[str, str]]:
    """Publish a batch's changes: one file per table and commit day (in the lake's time zone, never
    before an earlier change's day), named after its first commit LSN; (table, file) of each."""
    zone = ZoneInfo(timezone)
    groups: dict[tuple[str, dt.date], list[cdc.Change]] = {}
    day = None
    for change in batch.changes:
        committed = change.commit_ts.astimezone(zone).date()
        day = committed if day is None or committed > day else day
        if change.table in tables:
            groups.setdefault((change.table, day), []).append(change)
    written = []
    for (name, day), changes in sorted(groups.items()):
        relation = batch.relations[name]
        relative = change_file(tables[name], day, changes[0].commit_lsn)
        with lake.atomic_writer(relative) as stream:
            pq.write_table(change_table(changes, [c.name for c in relation.columns]), stream, compression="snappy")
        written.append((name, relative))
    return written


def _record_schemas(url: str, lake: LakeFiles, batch: cdc.ChangeBatch, outcome: DrainOutcome,
                    tables: dict[str, CatalogTable], seen: set[tuple], run_id: str) -> None:
    """A schema version for each captured table whose columns the stream describes differently
    from its latest recorded version (checked once per drain and description)."""
    for name, relation in batch.relations.items():
        described = (name, tuple((c.name, c.type_oid, c.type_modifier) for c in relation.columns))
        if name not in tables or described in seen:
            continue
        seen.add(described)
        version = record_schema_version(lake, name, cdc.relation_columns(url, relation), run_id)
        outcome.tables.setdefault(name, TableDrain()).schema_version = version


def drain_to_bronze(url: str, lake: LakeFiles, tables: Iterable[CatalogTable], timezone: str, *,
                    max_changes: int = DRAIN_BATCH_CHANGES, run_id: str = "") -> DrainOutcome:
    """Drain the slot into change files, batch after batch (whole transactions, about ``max_changes``
    changes each), up to the WAL flushed when the drain began: each batch is published, then
    confirmed. The slot then moves past that WAL, whatever else it held (other tables' writes)."""
    by_name = {t.name: t for t in tables}
    outcome = DrainOutcome()
    seen: set[tuple] = set()
    cdc.wait_for_flush(url)
    upto = cdc.flushed_lsn(url)
    while True:
        batch = cdc.peek(url, max_changes, upto)
        if batch.confirm_lsn is None:
            break
        _record_schemas(url, lake, batch, outcome, by_name, seen, run_id)
        written = write_changes(lake, by_name, batch, timezone)
        for change in batch.changes:
            if change.table in by_name:
                drained = outcome.tables.setdefault(change.table, TableDrain())
                drained.ops[change.op] = drained.ops.get(change.op, 0) + 1
                drained.first_commit = drained.first_commit or change.commit_ts
                drained.last_commit = change.commit_ts
        for name, path in written:
            outcome.tables[name].files.append(path)
        fault_point("bronze.changes.confirm")  # published, not yet confirmed: a crash re-delivers
        cdc.confirm(url, batch.confirm_lsn)
        outcome.transactions += batch.transactions
        outcome.batches += 1
    cdc.confirm(url, upto)  # past whatever else the slot held (other tables' writes); never backwards
    outcome.confirmed_lsn = upto
    return outcome
