"""The publication assets: ``serve/analytics/<mart>`` publishes one gold table into the warehouse.

One asset per gold table of the registry (the marts and the quality report), built by one factory,
downstream of the gold asset it publishes, so the graph shows which warehouse table BI reads comes
from which mart. Columns whose name starts with ``_`` are the lake's lineage (the funnel's
fingerprint), not published.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
import polars as pl

from techhub_lake.lake.delta import require_delta
from techhub_lake.metadata import column_schema
from techhub_lake.registry import PRIMARY_KEY_METADATA, TABLE_NAME_METADATA, LakeTable, lake_tables
from techhub_lake.resources import LakeStorage, WarehouseDatabase
from techhub_lake.serve.warehouse import (
    SCHEMA,
    WHOLE_TABLE,
    MartTable,
    Publication,
    ensure_bi_role,
    publish,
    serialize_publications,
    warehouse_type,
)
from techhub_lake.source.connection import redact

SERVE_GROUP = "serve"


def publication_key(table: LakeTable) -> dg.AssetKey:
    """``serve/analytics/<mart>``."""
    return dg.AssetKey(["serve", SCHEMA, table.name])


def published_columns(frame: pl.LazyFrame) -> list[str]:
    """The columns BI sees: all but the lake's own (``_``-prefixed lineage)."""
    return [name for name in frame.collect_schema().names() if not name.startswith("_")]


def _what_it_did(publication: Publication, part_column: str | None) -> str:
    if not publication.changed:
        return "unchanged since the last publication: nothing written"
    verb = "created (new table, or its columns changed) and filled" if publication.created else "updated"
    if part_column and publication.parts_replaced != (WHOLE_TABLE,):
        parts = f"{len(publication.parts_replaced)} {part_column}(s) replaced, {len(publication.parts_removed)} removed"
        return f"{verb}: {parts}, in one transaction"
    return f"{verb}: all rows replaced in one transaction"


def _metadata(publication: Publication, table: LakeTable, frame: pl.DataFrame, version: int,
              url: str) -> dict[str, dg.MetadataValue]:
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(publication.rows_held),
        "rows_copied": dg.MetadataValue.int(publication.rows_copied),
        "warehouse_table": dg.MetadataValue.text(publication.table),
        "warehouse": dg.MetadataValue.text(redact(url)),
        "gold_delta_version": dg.MetadataValue.int(version),
        "gold_table": dg.MetadataValue.text(table.key.to_user_string()),
        "seconds": dg.MetadataValue.float(round(publication.seconds, 3)),
        "what_it_did": dg.MetadataValue.text(_what_it_did(publication, table.part_column)),
        "dagster/column_schema": column_schema(((c, warehouse_type(t, c)) for c, t in frame.schema.items()),
                                               table.column_descriptions),
    }
    if table.part_column:
        metadata[f"{table.part_column}s_replaced"] = dg.MetadataValue.int(
            len([p for p in publication.parts_replaced if p != WHOLE_TABLE]))
        metadata[f"{table.part_column}s_removed"] = dg.MetadataValue.int(len(publication.parts_removed))
    return metadata


def _spec(table: LakeTable, description: str | None) -> dg.AssetSpec:
    return dg.AssetSpec(
        key=publication_key(table),
        deps=[table.key],
        group_name=SERVE_GROUP,
        description=f"{table.key.to_user_string()} published into the warehouse as {SCHEMA}.{table.name} for BI tools"
                    + (f": {description}" if description else "."),
        kinds={"postgres"},
        tags={"layer": "serve"},
        metadata={TABLE_NAME_METADATA: f"{SCHEMA}.{table.name}", PRIMARY_KEY_METADATA: ", ".join(table.primary_key),
                  "dagster/column_schema": column_schema(((c, "") for c in table.column_descriptions
                                                          if not c.startswith("_")), table.column_descriptions)},
    )


def build_publication_asset(table: LakeTable, description: str | None = None) -> dg.AssetsDefinition:
    """The asset that brings ``analytics.<table>`` to the gold table's current version."""
    mart = MartTable(table.name, table.primary_key, description or "", table.column_descriptions, table.part_column)

    @dg.multi_asset(name=f"serve_{table.name}", specs=[_spec(table, description)])
    def _publication(context, lake: LakeStorage, warehouse: WarehouseDatabase) -> dg.MaterializeResult:
        # context unannotated: this module's annotations are text, which Dagster cannot check
        files = lake.files()
        delta = require_delta(files, table.path, table.key)
        version = delta.version()
        gold = pl.scan_delta(delta)
        frame = gold.select(published_columns(gold)).collect()
        with warehouse.transaction() as cur:
            serialize_publications(cur)
            publication = publish(cur, mart, frame, version)
            if warehouse.bi_password:
                ensure_bi_role(cur, warehouse.bi_password)
        context.log.info(f"{publication.table}: {publication.rows_held:,} rows from gold version {version}; "
                         f"{_what_it_did(publication, table.part_column)}")
        return dg.MaterializeResult(metadata=_metadata(publication, table, frame, version, warehouse.resolved_url()))

    return _publication


def build_publication_assets(specs: Iterable[dg.AssetSpec]) -> list[dg.AssetsDefinition]:
    """A publication asset per gold table among ``specs`` (the registry's), in their order."""
    specs = list(specs)
    descriptions = {spec.key: spec.description for spec in specs}
    return [build_publication_asset(table, descriptions.get(table.key))
            for table in lake_tables(specs) if table.layer == "gold"]
