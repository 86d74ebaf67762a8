"""Asset specs of the bronze layer: one per non-excluded catalog table, key bronze/<module>/<table>."""

from __future__ import annotations

import dagster as dg

from techhub_lake.bronze.partitions import partitions_for
from techhub_lake.catalog import Catalog, CatalogTable
from techhub_lake.catalog.model import format_duration
from techhub_lake.lake.layout import bronze_table_dir
from techhub_lake.registry import asset_group, lake_table_metadata


def bronze_column_descriptions(table: CatalogTable, columns) -> dict[str, str]:
    """Each bronze column's description: the catalog's ``columns:`` map, else the source's own
    comment on it (``columns``: the extraction's source columns)."""
    return {c.name: table.columns.get(c.name) or c.comment for c in columns if table.columns.get(c.name) or c.comment}


def bronze_key(table: CatalogTable) -> dg.AssetKey:
    """``bronze/<module>/<table>``, e.g. ``bronze/account/user`` for ``account_user``."""
    return dg.AssetKey(["bronze", table.module, table.short_name])


def catalog_metadata(table: CatalogTable) -> dict[str, dg.MetadataValue]:
    """What the catalog says about a table, shown on its asset in the UI."""
    metadata: dict[str, dg.MetadataValue] = {
        "source_table": dg.MetadataValue.text(f"{table.source_schema}.{table.name}"),
        "strategy": dg.MetadataValue.text(table.strategy.value),
        "primary_key": dg.MetadataValue.text(", ".join(table.primary_key)),
        "partitioning": dg.MetadataValue.text(table.partitioning.value),
        "lookback": dg.MetadataValue.text(format_duration(table.lookback)),
    }
    if table.watermark:
        metadata["watermark"] = dg.MetadataValue.text(table.watermark)
    if table.freshness is not None:
        metadata["freshness_target"] = dg.MetadataValue.text(format_duration(table.freshness))
    if table.pii:
        metadata["pii_columns"] = dg.MetadataValue.text(", ".join(table.pii))
    if table.json_columns:
        metadata["json_columns"] = dg.MetadataValue.json({k: list(v) for k, v in table.json_columns.items()})
    return metadata


def bronze_spec(table: CatalogTable, catalog: Catalog) -> dg.AssetSpec:
    """The bronze asset spec of one catalog table."""
    return dg.AssetSpec(
        key=bronze_key(table),
        group_name=asset_group("bronze", table.module),
        description=f"Raw `{table.name}` ({table.strategy.value} load) as Parquet. {table.description}".strip(),
        partitions_def=partitions_for(table, catalog),
        metadata=catalog_metadata(table) | lake_table_metadata(bronze_table_dir(table), table.name),
        kinds={"postgres", "parquet"},
        tags={"strategy": table.strategy.value, "priority": table.priority, "module": table.module},
    )

