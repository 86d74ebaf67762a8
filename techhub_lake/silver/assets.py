"""The silver current-state assets: one per catalog table, built by one factory, each depending on
exactly the bronze asset it reads."""

import dagster as dg
import polars as pl
from pydantic import Field

from techhub_lake.bronze.specs import bronze_key
from techhub_lake.catalog import Catalog, CatalogTable, Partitioning
from techhub_lake.lake.delta import BrokenTable, require_delta, scan_delta, write_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.metadata import column_schema
from techhub_lake.processes import stop_fails_the_step
from techhub_lake.registry import asset_group, lake_table_metadata
from techhub_lake.resources import LakeStorage, SourceDatabase
from techhub_lake.silver.bronze_changes import CorruptBronzeFile
from techhub_lake.silver.children import CHILD_TABLES, ChildTable
from techhub_lake.silver.column_descriptions import silver_column_descriptions
from techhub_lake.silver.current_state import (
    SILVER_ROOT,
    MergeOutcome,
    merge_current_state,
    silver_table_path,
)
from techhub_lake.silver.incremental import derive_changed
from techhub_lake.silver.reconcile import reconcile_current_state
from techhub_lake.silver.schema_drift import SchemaDrift
from techhub_lake.silver.stream_state import follow_stream_in_silver, stream_metadata
from techhub_lake.silver.transforms import quality_counts
from techhub_lake.source.connection import SourceRefused
from techhub_lake.source.policy import SOURCE_POOL, SOURCE_RETRY


def silver_key(table: CatalogTable) -> dg.AssetKey:
    """``silver/<module>/<table>``, e.g. ``silver/account/user``."""
    return dg.AssetKey(["silver", table.module, table.short_name])


def silver_spec(table: CatalogTable) -> dg.AssetSpec:
    """The asset spec of one table's current state."""
    how = {Partitioning.SNAPSHOT: "replaced by the latest snapshot",
           Partitioning.STREAM: "built from the replication slot's snapshot, every change after it applied in commit order",
           }.get(table.partitioning, "merged from new bronze partitions, deletes applied from a primary-key listing of the source")
    return dg.AssetSpec(
        key=silver_key(table),
        deps=[bronze_key(table)],
        group_name=asset_group("silver", table.module),
        description=f"Current state of `{table.name}`: one row per {', '.join(table.primary_key)}, {how}.",
        kinds={"delta", "polars"},
        tags={"module": table.module, "strategy": table.strategy.value},
        metadata={"source_table": f"{table.source_schema}.{table.name}",
                  **lake_table_metadata(silver_table_path(table), table.name, primary_key=table.primary_key,
                                        watermark=table.watermark if table.partitioning == Partitioning.DAILY else None)},
    )


def refresh_current_state(url: str, lake: LakeFiles, table: CatalogTable, *, run_id: str = "",
                          statement_timeout_ms: int | None = None) -> MergeOutcome:
    """Bring a table's silver current state up to date the way its strategy asks: a captured table
    (``cdc``) from its change stream, any other by merging the bronze files landed since."""
    if table.partitioning == Partitioning.STREAM:
        return follow_stream_in_silver(lake, table, run_id=run_id)
    return merge_current_state(url, lake, table, run_id=run_id, statement_timeout_ms=statement_timeout_ms)


def merge_metadata(outcome: MergeOutcome, uri: str, table: CatalogTable) -> dict[str, dg.MetadataValue]:
    """What a silver refresh reports: rows inserted, updated and deleted, the current count, the Delta
    version, the columns with their descriptions."""
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(outcome.rows),
        "rows_inserted": dg.MetadataValue.int(outcome.inserted),
        "rows_updated": dg.MetadataValue.int(outcome.updated),
        "rows_deleted": dg.MetadataValue.int(outcome.deleted),
        "bronze_files_read": dg.MetadataValue.int(outcome.files_read),
        "bronze_rows_read": dg.MetadataValue.int(outcome.rows_read),
        "path": dg.MetadataValue.path(uri),
        "replaced_by_snapshot": dg.MetadataValue.bool(outcome.replaced),
    }
    if outcome.version is not None:
        metadata["delta_version"] = dg.MetadataValue.int(outcome.version)
    if outcome.schema is not None:
        metadata["dagster/column_schema"] = column_schema(((f.name, f.type) for f in outcome.schema),
                                                          silver_column_descriptions(table, outcome.schema.names))
    if outcome.widened:  # a source column changed type: silver now holds it in a wider one
        metadata["schema_widened"] = dg.MetadataValue.text("; ".join(outcome.widened))
    if outcome.filled:  # new keys in the source's JSON: columns added and computed for every row
        metadata["columns_added"] = dg.MetadataValue.text(", ".join(outcome.filled))
    for name, count in sorted(outcome.quality.items()):
        metadata[f"quality/{name}"] = dg.MetadataValue.int(count)
    if outcome.cursor is not None:
        metadata["bronze_cursor"] = dg.MetadataValue.timestamp(outcome.cursor)
    return metadata


def schema_drift_remedy(key: dg.AssetKey) -> str:
    """What to do when a source column's new type has nothing in common with its old one."""
    return (f"re-extract the table's history in the new type and rebuild silver from it "
            f"(techhub-lake rebuild {key.to_user_string()} --reextract), or change the column back in the source")


class SilverRefreshConfig(dg.Config):
    """How a silver current-state refresh runs."""

    reconcile: bool = Field(default=False, description=(
        "Also compare every row's hash with the source and repair the rows changed without moving "
        "the watermark (the daily deep reconciliation; `techhub-lake refresh --reconcile`)."))


def silver_op_name(table: CatalogTable) -> str:
    """The op behind a table's current-state asset (for run config)."""
    return f"silver_{table.name}"


def build_silver_asset(table: CatalogTable, catalog: Catalog) -> dg.AssetsDefinition:
    """The current-state asset of one catalog table."""
    reads_source = table.partitioning == Partitioning.DAILY  # the primary-key listing, the reconciliation
    captured = table.partitioning == Partitioning.STREAM

    @dg.multi_asset(name=silver_op_name(table), specs=[silver_spec(table)],
                    pool=SOURCE_POOL if reads_source else None, retry_policy=SOURCE_RETRY)
    def _silver(context: dg.AssetExecutionContext, config: SilverRefreshConfig, source: SourceDatabase,
                lake: LakeStorage) -> dg.MaterializeResult:
        files = lake.files()
        url = source.resolved_url() if reads_source else ""
        try:
            with stop_fails_the_step():
                outcome = refresh_current_state(url, files, table, run_id=context.run.run_id,
                                                statement_timeout_ms=source.statement_timeout_ms)
        except (SourceRefused, BrokenTable) as exc:  # the same on every retry: fail at once, saying why
            raise dg.Failure(description=str(exc), allow_retries=False) from None
        except CorruptBronzeFile as exc:
            again = (f"dagster asset materialize -m techhub_lake.definitions --select {bronze_key(table).to_user_string()}"
                     + (f" --partition {exc.day.isoformat()}" if exc.day and table.partitioning == Partitioning.DAILY else ""))
            raise dg.Failure(description=f"{exc}; extract it again: {again}", allow_retries=False) from None
        except SchemaDrift as exc:
            raise dg.Failure(description=f"{exc}: {schema_drift_remedy(context.asset_key)}", allow_retries=False) from None
        if outcome.widened:
            context.log.warning(f"{table.name}: source column type changed, silver widened {'; '.join(outcome.widened)}")
        if outcome.filled:
            context.log.info(f"{table.name}: new columns {', '.join(outcome.filled)}, computed for every row")
        context.log.info(f"{table.name}: +{outcome.inserted} ~{outcome.updated} -{outcome.deleted}, {outcome.rows} rows")
        metadata = merge_metadata(outcome, files.uri(silver_table_path(table)), table)
        if captured:
            metadata |= stream_metadata(files, table)
        if config.reconcile and captured:
            context.log.info(f"{table.name}: no reconciliation: a captured table gets every change, deletes and "
                             "updates that leave updated_at alone included, from the replication slot")
            metadata["reconciliation/skipped"] = dg.MetadataValue.text("captured table (strategy: cdc)")
        elif config.reconcile:
            report = reconcile_current_state(url, files, table, catalog_path=catalog.path, run_id=context.run.run_id,
                                             statement_timeout_ms=source.statement_timeout_ms)
            if report is not None:
                context.log.info(f"{table.name}: reconciliation checked {report.checked:,} rows, "
                                 f"repaired {report.repaired}, deleted {report.outcome.deleted}")
                metadata |= {
                    "reconciliation/rows_checked": dg.MetadataValue.int(report.checked),
                    "reconciliation/rows_stale": dg.MetadataValue.int(report.stale),
                    "reconciliation/rows_repaired": dg.MetadataValue.int(report.repaired),
                    "reconciliation/rows_inserted": dg.MetadataValue.int(report.outcome.inserted),
                    "reconciliation/rows_deleted": dg.MetadataValue.int(report.outcome.deleted),
                    "dagster/row_count": dg.MetadataValue.int(report.outcome.rows),
                }
        return dg.MaterializeResult(metadata=metadata)

    return _silver


def build_child_asset(child: ChildTable, catalog: Catalog) -> dg.AssetsDefinition:
    """A child table unpacked from its parent's current state: only for the parents that changed
    when its rows depend on their own parent row alone, else rebuilt whole."""
    parent = catalog.table(child.parent)
    spec = dg.AssetSpec(
        key=dg.AssetKey(["silver", child.module, child.name]),
        deps=[silver_key(parent)],
        group_name=asset_group("silver", child.module),
        description=child.description,
        kinds={"delta", "polars"},
        tags={"module": child.module},
        metadata=lake_table_metadata(f"{SILVER_ROOT}/{child.module}/{child.name}", primary_key=child.key),
    )
    relative = f"{SILVER_ROOT}/{child.module}/{child.name}"

    @dg.multi_asset(name=f"silver_{child.module}_{child.name}", specs=[spec])
    def _child(context: dg.AssetExecutionContext, lake: LakeStorage) -> dg.MaterializeResult:
        files = lake.files()
        # scanned: the documents of unchanged parents are not even read
        parent_rows = pl.scan_delta(require_delta(files, silver_table_path(parent), silver_key(parent)))
        # the previous table scanned too: unchanged, only its keys and parent hashes are read
        derived = derive_changed(scan_delta(files, relative), parent_rows, "id", child.parent_key_column, child.build)
        built, parents = derived.parents_built, derived.parents_built + derived.parents_kept
        if not derived.unchanged:  # streamed a block at a time
            write_delta(files, relative, derived.arrow_stream(), "overwrite", schema_mode="overwrite")
        table = scan_delta(files, relative)
        count = table.select(pl.len()).collect().item()
        metadata = {
            "dagster/row_count": dg.MetadataValue.int(count),
            "parent_rows": dg.MetadataValue.int(parents),
            "parent_rows_built": dg.MetadataValue.int(built),
            "rewritten": dg.MetadataValue.bool(not derived.unchanged),
            "path": dg.MetadataValue.path(files.uri(relative)),
            "dagster/column_schema": column_schema(table.collect_schema().items()),
        }
        metadata |= {f"quality/{k}": dg.MetadataValue.int(v) for k, v in quality_counts(table).items()}
        context.log.info(f"{child.name}: {count:,} rows from {parents:,} {parent.name} rows "
                         f"({built:,} built, the others' rows kept)")
        return dg.MaterializeResult(metadata=metadata)

    return _child


def build_silver_assets(catalog: Catalog) -> list[dg.AssetsDefinition]:
    """One current-state asset per table the lake loads, and the child tables unpacked from them
    (those whose parent the catalog loads)."""
    return [*(build_silver_asset(table, catalog) for table in catalog.lake_tables),
            *(build_child_asset(child, catalog) for child in CHILD_TABLES if catalog.loads(child.parent))]
