"""The bronze asset of the captured tables (``strategy: cdc``): one step that follows the source's
replication slot for all of them (one slot holds every captured table's changes, so they are
materialized together), reporting per table what it drained and how far behind the slot is."""

from __future__ import annotations

import dagster as dg

from techhub_lake import settings
from techhub_lake.alerts import alert
from techhub_lake.bronze.assets import markdown_preview
from techhub_lake.bronze.changes import change_dir
from techhub_lake.bronze.specs import bronze_column_descriptions, bronze_key, bronze_spec
from techhub_lake.bronze.stream import StreamRun, follow_stream, snapshot_file
from techhub_lake.catalog import Catalog, CatalogError, CatalogTable
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.metadata import column_schema
from techhub_lake.processes import stop_fails_the_step
from techhub_lake.resources import LakeStorage, SourceDatabase
from techhub_lake.source import cdc
from techhub_lake.source.connection import SourceRefused
from techhub_lake.source.policy import SOURCE_POOL, SOURCE_RETRY

STREAM_OP = "bronze_cdc_stream"


def slot_metadata(slot: cdc.SlotState | None) -> dict[str, dg.MetadataValue]:
    """How far behind the slot is: WAL it retains, WAL since the last confirmation, its status."""
    if slot is None or not slot.exists:
        return {"slot/exists": dg.MetadataValue.bool(False)}
    return {
        "slot/exists": dg.MetadataValue.bool(True),
        "slot/retained_wal_bytes": dg.MetadataValue.int(slot.retained_wal_bytes or 0),
        "slot/lag_bytes": dg.MetadataValue.int(slot.lag_bytes or 0),
        "slot/confirmed_lsn": dg.MetadataValue.text(cdc.lsn_text(slot.confirmed_lsn) if slot.confirmed_lsn else "-"),
        "slot/wal_status": dg.MetadataValue.text(slot.wal_status or "-"),
    }


def stream_metadata(run: StreamRun, table: CatalogTable, lake: LakeFiles) -> dict[str, dg.MetadataValue]:
    """What one table got from a materialization of the stream."""
    drained = run.drain.tables.get(table.name)
    ops = drained.ops if drained else {}
    metadata: dict[str, dg.MetadataValue] = {
        "changes_drained": dg.MetadataValue.int(drained.changes if drained else 0),
        **{f"changes_{op}": dg.MetadataValue.int(ops.get(op, 0)) for op in ("insert", "update", "delete", "truncate")},
        "files_written": dg.MetadataValue.int(len(drained.files) if drained else 0),
        "transactions_drained": dg.MetadataValue.int(run.drain.transactions),
        "path": dg.MetadataValue.path(lake.uri(change_dir(table))),
        "snapshot_taken": dg.MetadataValue.bool(table.name in run.snapshots),
        **slot_metadata(run.slot),
    }
    if run.state.snapshot_lsn is not None:
        metadata["snapshot_lsn"] = dg.MetadataValue.text(cdc.lsn_text(run.state.snapshot_lsn))
        metadata["snapshot_path"] = dg.MetadataValue.path(lake.uri(snapshot_file(table, run.state.snapshot_lsn)))
    if run.reason and table.name in run.snapshots:
        extraction = run.snapshots[table.name]
        metadata |= {
            "snapshot_reason": dg.MetadataValue.text(run.reason),
            "dagster/row_count": dg.MetadataValue.int(extraction.rows),
            "dagster/column_schema": column_schema(((c.name, c.describe()) for c in extraction.columns),
                                                   bronze_column_descriptions(table, extraction.columns)),
            "preview": dg.MetadataValue.md(markdown_preview(extraction)),
        }
    if drained and drained.last_commit:
        metadata["first_commit"] = dg.MetadataValue.timestamp(drained.first_commit)
        metadata["last_commit"] = dg.MetadataValue.timestamp(drained.last_commit)
    if drained and drained.schema_version:
        metadata["schema_version"] = dg.MetadataValue.int(drained.schema_version.version)
        metadata["schema_changed"] = dg.MetadataValue.bool(drained.schema_version.is_new)
    return metadata


def retained_wal_alert(slot: cdc.SlotState | None, slot_name: str) -> str | None:
    """The alert to raise when the slot holds back more WAL than ``$TECHHUB_CDC_WAL_ALERT_MB``."""
    limit = settings.cdc_wal_alert_bytes()
    if slot is None or not slot.exists or (slot.retained_wal_bytes or 0) <= limit:
        return None
    return (f"replication slot {slot_name} retains {slot.retained_wal_bytes / 2**20:,.0f} MB of WAL "
            f"(alert above {limit / 2**20:,.0f} MB): the lake is not draining it; when it passes the server's "
            "max_slot_wal_keep_size the slot is invalidated and the lake re-snapshots the captured tables")


def build_stream_asset(tables: list[CatalogTable], catalog: Catalog) -> dg.AssetsDefinition:
    """The one asset step that follows the replication slot for every captured table."""

    @dg.multi_asset(name=STREAM_OP, specs=[bronze_spec(t, catalog) for t in tables], can_subset=False,
                    pool=SOURCE_POOL, retry_policy=SOURCE_RETRY,
                    description="Follows the source's logical replication slot: the captured tables' first "
                                "snapshot, then every committed change into bronze change files.")
    def _stream(context, source: SourceDatabase, lake: LakeStorage):  # context unannotated: annotations are text here
        files = lake.files()
        url = source.resolved_url()
        try:
            with stop_fails_the_step():
                run = follow_stream(url, files, tables, catalog, run_id=context.run.run_id,
                                    statement_timeout_ms=source.statement_timeout_ms, log=context.log.info)
        except (CatalogError, SourceRefused) as exc:  # the same on every retry: fail at once, saying why
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        for name, drained in sorted(run.drain.tables.items()):
            context.log.info(f"{name}: {drained.changes:,} change(s) {dict(sorted(drained.ops.items()))} "
                             f"in {len(drained.files)} file(s)")
        warning = retained_wal_alert(run.slot, cdc.slot_name(url))
        if warning:
            context.log.warning(warning)
            alert(f"techhub-lake: {warning}", {"slot": cdc.slot_name(url), "retained_wal_bytes": run.slot.retained_wal_bytes})
        for table in tables:
            yield dg.MaterializeResult(asset_key=bronze_key(table), metadata=stream_metadata(run, table, files))

    return _stream
