"""The silver current-state assets: one per catalog table, built by one factory, each depending on
exactly the bronze asset it reads."""

import dagster as dg

from techhub_lake.bronze.assets import SOURCE_POOL, SOURCE_RETRY
from techhub_lake.bronze.specs import bronze_key
from techhub_lake.catalog import Catalog, CatalogTable, Partitioning
from techhub_lake.resources import LakeStorage, SourceDatabase
from techhub_lake.silver.current_state import MergeOutcome, merge_current_state, silver_table_path

SILVER_GROUP = "silver"


def silver_key(table: CatalogTable) -> dg.AssetKey:
    """``silver/<module>/<table>``, e.g. ``silver/account/user``."""
    return dg.AssetKey(["silver", table.module, table.short_name])


def silver_spec(table: CatalogTable) -> dg.AssetSpec:
    """The asset spec of one table's current state."""
    how = ("replaced by the latest snapshot" if table.partitioning == Partitioning.SNAPSHOT
           else "merged from new bronze partitions, deletes applied from a primary-key listing of the source")
    return dg.AssetSpec(
        key=silver_key(table),
        deps=[bronze_key(table)],
        group_name=SILVER_GROUP,
        description=f"Current state of `{table.name}`: one row per {', '.join(table.primary_key)}, {how}.",
        kinds={"delta", "polars"},
        tags={"module": table.module, "strategy": table.strategy.value},
        metadata={"primary_key": ", ".join(table.primary_key), "source_table": f"{table.source_schema}.{table.name}"},
    )


def merge_metadata(outcome: MergeOutcome, uri: str) -> dict[str, dg.MetadataValue]:
    """What a silver refresh reports: rows inserted, updated and deleted, the current count, the Delta version."""
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
        metadata["dagster/column_schema"] = dg.MetadataValue.table_schema(dg.TableSchema(columns=[
            dg.TableColumn(f.name, str(f.type)) for f in outcome.schema]))
    for name, count in sorted(outcome.quality.items()):
        metadata[f"quality/{name}"] = dg.MetadataValue.int(count)
    if outcome.cursor is not None:
        metadata["bronze_cursor"] = dg.MetadataValue.timestamp(outcome.cursor)
    return metadata


def build_silver_asset(table: CatalogTable) -> dg.AssetsDefinition:
    """The current-state asset of one catalog table."""
    reads_source = table.partitioning != Partitioning.SNAPSHOT

    @dg.multi_asset(name=f"silver_{table.name}", specs=[silver_spec(table)],
                    pool=SOURCE_POOL if reads_source else None, retry_policy=SOURCE_RETRY)
    def _silver(context: dg.AssetExecutionContext, source: SourceDatabase, lake: LakeStorage) -> dg.MaterializeResult:
        files = lake.files()
        url = source.resolved_url() if reads_source else ""
        outcome = merge_current_state(url, files, table, run_id=context.run.run_id,
                                      statement_timeout_ms=source.statement_timeout_ms)
        context.log.info(f"{table.name}: +{outcome.inserted} ~{outcome.updated} -{outcome.deleted}, {outcome.rows} rows")
        return dg.MaterializeResult(metadata=merge_metadata(outcome, files.uri(silver_table_path(table))))

    return _silver


def build_silver_assets(catalog: Catalog) -> list[dg.AssetsDefinition]:
    """One current-state asset per table the lake loads."""
    return [build_silver_asset(table) for table in catalog.lake_tables]
