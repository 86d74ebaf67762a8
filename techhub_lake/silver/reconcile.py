"""Reconciliation: find the rows an incremental load cannot see, and repair them.

Django's ``QuerySet.update()`` and ``ON DELETE SET NULL`` cascades rewrite rows without moving
``updated_at``. Bronze keeps, for every incremental row, the row's version in PostgreSQL (``xmin``,
the transaction that last wrote it; any UPDATE gives the row a new one); this pass asks PostgreSQL
for the version of every live row (only keys and versions cross the wire, in one read-only
snapshot), re-reads just the rows whose version differs or that silver lacks, and merges them,
together with the deletes, in one commit. Repairs go straight to silver (bronze stays the record of
what each extraction saw) and are logged in ``silver/techhub/_reconciliations``.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import polars as pl
import pyarrow as pa

from techhub_lake.catalog import CatalogTable, Strategy
from techhub_lake.lake.delta import open_delta, read_columns, table_schema, write_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver.bronze_changes import EXTRACTED_AT
from techhub_lake.silver.current_state import (
    SILVER_ROOT,
    MergeOutcome,
    apply_changes,
    latest_versions,
    record_table_state,
    silver_table_path,
)
from techhub_lake.silver.transforms import enrich
from techhub_lake.source.reads import (
    SOURCE_VERSION,
    arrow_snapshot,
    read_rows_by_key,
    source_row_versions,
)

RECONCILIATIONS = f"{SILVER_ROOT}/_reconciliations"
RECONCILIATION_SCHEMA = pa.schema([("table", pa.string()), ("run_id", pa.string()), ("checked", pa.int64()),
                                   ("stale", pa.int64()), ("repaired", pa.int64()), ("inserted", pa.int64()),
                                   ("deleted", pa.int64()), ("finished_at", pa.timestamp("us", tz="UTC"))])


@dataclass
class Reconciliation:
    """What one reconciliation of a table found and did."""

    checked: int = 0
    stale: int = 0  # rows whose version differs from silver's, or that silver lacks
    outcome: MergeOutcome | None = None

    @property
    def repaired(self) -> int:
        return self.outcome.updated if self.outcome else 0


def reconcile_current_state(url: str, lake: LakeFiles, table: CatalogTable, *, catalog_path: str, run_id: str = "",
                            statement_timeout_ms: int | None = None) -> Reconciliation | None:
    """Compare row versions of the source and silver, and repair what differs. An append-only table
    compares keys only: its rows never change, but a row whose watermark no daily partition holds
    (NULL, before the start, in the future) reaches silver here. None where it does not apply (full
    snapshots are complete already, composite keys are not supported)."""
    path = silver_table_path(table)
    target = open_delta(lake, path)
    if table.strategy not in (Strategy.INCREMENTAL, Strategy.APPEND) or len(table.primary_key) != 1 or target is None:
        return None
    (key,) = table.primary_key
    append_only = table.strategy == Strategy.APPEND
    versioned = not append_only and SOURCE_VERSION in table_schema(target).names
    silver = read_columns(target, [key, SOURCE_VERSION] if versioned else [key])
    with arrow_snapshot(url, application_name=f"techhub-lake reconcile {table.name}",
                        statement_timeout_ms=statement_timeout_ms) as cur:
        source = pl.from_arrow(source_row_versions(cur, table, versions=not append_only))
        if append_only:
            stale = source.join(silver, on=key, how="anti")[key].to_list()
        else:
            if not versioned:  # a silver table written before row versions existed: every row is re-read once
                silver = silver.with_columns(pl.lit(None, pl.Int64).alias(SOURCE_VERSION))
            compared = source.join(silver, on=key, how="left", suffix="_silver")
            stale = compared.filter(pl.col(f"{SOURCE_VERSION}_silver").is_null()
                                    | (pl.col(SOURCE_VERSION) != pl.col(f"{SOURCE_VERSION}_silver")))[key].to_list()
        rows = read_rows_by_key(cur, table, catalog_path, stale) if stale else None
    report = Reconciliation(checked=source.height, stale=len(stale), outcome=MergeOutcome())
    # append-only rows purged from the source stay in silver (the log keeps its history)
    gone = silver.head(0).select(key) if append_only else silver.select(key).join(source.select(key), on=key, how="anti")
    upserts = None
    if rows is not None and rows.num_rows:
        now = dt.datetime.now(dt.UTC)
        frame = pl.from_arrow(rows).with_columns(pl.lit(now, pl.Datetime("us", "UTC")).alias(EXTRACTED_AT))
        upserts = enrich(table, latest_versions(frame, table), set(table_schema(target).names))
    apply_changes(lake, path, table, upserts, gone, None, report.outcome, run_id)
    record_table_state(lake, path, report.outcome)
    outcome = report.outcome
    record = pa.table({"table": [table.name], "run_id": [run_id], "checked": [report.checked], "stale": [report.stale],
                       "repaired": [outcome.updated], "inserted": [outcome.inserted], "deleted": [outcome.deleted],
                       "finished_at": [dt.datetime.now(dt.UTC)]}, schema=RECONCILIATION_SCHEMA)
    write_delta(lake, RECONCILIATIONS, record, "append")
    return report
