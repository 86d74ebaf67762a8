"""Bronze change files: what the source's logical replication slot holds, drained into Parquet.

One file per table and commit day of each drained batch, named by the batch's first LSN, so a
batch delivered twice (the lake crashed after publishing, before confirming) lands under the same
names and replaces itself instead of adding rows:

    bronze/techhub/<module>/<table>/_changes/year=YYYY/month=MM/data_YYYYMMDD_<first-lsn>.parquet

Columns: ``op`` (insert, update, delete, truncate), ``lsn``, ``commit_lsn``, ``commit_ts``, ``xid``,
``_unchanged`` (the TOASTed columns an update did not touch, which the server does not send), then
the row's columns as text, as PostgreSQL prints them (the key alone for a delete). Bronze keeps
the changes raw; silver types them with the table's bronze schema.

The slot is confirmed only after every file of the batch is published, so nothing is lost.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

import pyarrow as pa
import pyarrow.parquet as pq

from techhub_lake.catalog import CatalogTable
from techhub_lake.faults import fault_point
from techhub_lake.lake.layout import bronze_table_dir
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source import cdc, pgoutput

CHANGE_COLUMNS = {"op": pa.string(), "lsn": pa.int64(), "commit_lsn": pa.int64(),
                  "commit_ts": pa.timestamp("us", tz="UTC"), "xid": pa.int64(), "_unchanged": pa.list_(pa.string())}


def change_dir(table: CatalogTable) -> str:
    """``bronze/techhub/<module>/<table>/_changes``: every change file of one table."""
    return f"{bronze_table_dir(table)}/_changes"


def change_file(table: CatalogTable, day: dt.date, first_lsn: int) -> str:
    """The change file of one table, commit day and batch."""
    return f"{change_dir(table)}/year={day:%Y}/month={day:%m}/data_{day:%Y%m%d}_{first_lsn:016X}.parquet"


@dataclass
class DrainOutcome:
    """What one drain did: per table, the changes and files written; the LSN confirmed."""

    changes: dict[str, int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    transactions: int = 0
    confirmed_lsn: int | None = None


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


def write_changes(lake: LakeFiles, tables: dict[str, CatalogTable], batch: cdc.ChangeBatch, timezone: str) -> list[str]:
    """Publish a batch's changes: one file per table and commit day (in the lake's time zone)."""
    zone = ZoneInfo(timezone)
    groups: dict[tuple[str, dt.date], list[cdc.Change]] = {}
    for change in batch.changes:
        if change.table in tables:
            groups.setdefault((change.table, change.commit_ts.astimezone(zone).date()), []).append(change)
    written = []
    for (name, day), changes in sorted(groups.items()):
        relation = batch.relations[name]
        relative = change_file(tables[name], day, changes[0].lsn)
        with lake.atomic_writer(relative) as stream:
            pq.write_table(change_table(changes, [c.name for c in relation.columns]), stream, compression="snappy")
        written.append(relative)
    return written


def drain_to_bronze(url: str, lake: LakeFiles, tables: Iterable[CatalogTable], timezone: str, *,
                    max_changes: int = 50_000) -> DrainOutcome:
    """Drain the slot into change files, batch after batch (whole transactions, about ``max_changes``
    changes each) until it is empty: each batch is published, then confirmed."""
    by_name = {t.name: t for t in tables}
    outcome = DrainOutcome()
    cdc.wait_for_flush(url)
    while True:
        batch = cdc.peek(url, max_changes)
        if batch.confirm_lsn is None:
            break
        outcome.files += write_changes(lake, by_name, batch, timezone)
        for change in batch.changes:
            outcome.changes[change.table] = outcome.changes.get(change.table, 0) + 1
        fault_point("bronze.changes.confirm")  # published, not yet confirmed: a crash re-delivers
        cdc.confirm(url, batch.confirm_lsn)
        outcome.transactions += batch.transactions
        outcome.confirmed_lsn = batch.confirm_lsn
    return outcome
