"""The gold mart assets: one per :class:`MartSpec`, built by one factory, each depending on exactly
the lake tables its query reads (silver, or for the quality mart a mart), so the graph shows where
every number comes from."""

from collections.abc import Iterable

import dagster as dg
import polars as pl

from techhub_lake.catalog import Catalog
from techhub_lake.gold.funnel import (
    FINGERPRINT,
    FUNNEL_SENSOR,
    month_filter,
    month_fingerprints,
    month_predicate,
    monthly_partitions,
    owned_months,
)
from techhub_lake.gold.marts import MartSpec, mart_specs
from techhub_lake.gold.store import (
    content_digest,
    gold_key,
    gold_path,
    input_tables,
    mart_content,
    read_inputs,
    write_mart,
)
from techhub_lake.gold.techpark import DQ_METRICS, TECHPARK_MARTS
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.metadata import column_schema, markdown_table
from techhub_lake.registry import LakeTable, lake_table_metadata, refreshed_by_metadata
from techhub_lake.resources import LakeStorage
from techhub_lake.resources.masking import BinMask

GOLD_GROUP = "gold"
PREVIEW_ROWS = 10


def mart_key(spec: MartSpec) -> dg.AssetKey:
    """``gold/<domain>/<mart>``."""
    return gold_key(spec.name, spec.domain)


def _metadata(lake: LakeFiles, spec: MartSpec, written: pl.DataFrame, version: int,
              inputs: dict[str, int], pii: frozenset[str]) -> dict[str, dg.MetadataValue]:
    """Rows written and held, where, which Delta version, the content's digest, columns, input sizes,
    the first rows (``pii`` columns masked)."""
    content = mart_content(lake, spec)
    metadata = {
        "dagster/row_count": dg.MetadataValue.int(written.height),
        "table_rows": dg.MetadataValue.int(content.height),
        "path": dg.MetadataValue.path(lake.uri(gold_path(spec.name, spec.domain))),
        "delta_version": dg.MetadataValue.int(version),
        "content_sha256": dg.MetadataValue.text(content_digest(content)),
        "dagster/column_schema": column_schema(((c, written.schema[c]) for c in spec.columns), spec.columns),
        "key": dg.MetadataValue.text(", ".join(spec.key)),
        "preview": dg.MetadataValue.md(markdown_table(content.columns, content.head(PREVIEW_ROWS).iter_rows(), masked=pii)),
    }
    metadata |= {f"input_rows/{name}": dg.MetadataValue.int(rows) for name, rows in inputs.items()}
    if spec.metrics:  # each figure on its own, so the UI plots it across materializations
        metadata |= {f"dq/{m}": dg.MetadataValue.float(float(v)) for m, v in content.select("metric", "value").iter_rows()
                     if v is not None}
    return metadata


def _input_rows(silver: dict[str, pl.LazyFrame]) -> dict[str, int]:
    return {name: frame.select(pl.len()).collect().item() for name, frame in silver.items()}


def _spec(spec: MartSpec, catalog: Catalog, inputs: dict[str, LakeTable]) -> dg.AssetSpec:
    lineage = {FINGERPRINT: "Lineage: which request versions the month was computed from"} if spec.monthly else {}
    documented = spec.columns | lineage
    return dg.AssetSpec(
        key=mart_key(spec),
        deps=[inputs[name].key for name in spec.inputs],
        group_name=GOLD_GROUP,
        description=spec.description,
        kinds={"delta", "polars"},
        tags={"layer": "gold", "domain": spec.domain},
        partitions_def=monthly_partitions(catalog) if spec.monthly else None,
        metadata={
            "dagster/column_schema": column_schema(((c, "") for c in documented), documented),
            **lake_table_metadata(gold_path(spec.name, spec.domain), primary_key=spec.key, masked=spec.masked,
                                  part_column="month" if spec.monthly else None),
            **(refreshed_by_metadata(FUNNEL_SENSOR) if spec.monthly else {}),
        },
    )


def build_mart_asset(spec: MartSpec, catalog: Catalog, inputs: dict[str, LakeTable]) -> dg.AssetsDefinition:
    """A whole mart, recomputed from its silver inputs and replaced in one commit."""

    @dg.multi_asset(name=f"gold_{spec.domain}_{spec.name}", specs=[_spec(spec, catalog, inputs)])
    def _mart(context: dg.AssetExecutionContext, lake: LakeStorage, bin_mask: BinMask) -> dg.MaterializeResult:
        files = lake.files()
        silver = read_inputs(files, inputs, spec.inputs)
        rows = spec.build(silver, bin_mask.from_year) if spec.needs_mask_year else spec.build(silver)
        if spec.masked:
            column, year = spec.masked
            rows = rows.with_columns(bin_mask.apply(pl.col(column), pl.col(year)).alias(column))
        rows = rows.collect().sort(list(spec.key))
        version = write_mart(files, spec, rows, context.run.run_id)
        context.log.info(f"{spec.name}: {rows.height:,} rows")
        return dg.MaterializeResult(metadata=_metadata(files, spec, rows, version, _input_rows(silver), catalog.pii_columns))

    return _mart


def build_funnel_asset(spec: MartSpec, catalog: Catalog, inputs: dict[str, LakeTable]) -> dg.AssetsDefinition:
    """The funnel: a run over a range of months replaces exactly those months' rows."""
    partitions_def = monthly_partitions(catalog)
    timezone = catalog.defaults.timezone

    @dg.multi_asset(name=f"gold_{spec.domain}_{spec.name}", specs=[_spec(spec, catalog, inputs)], partitions_def=partitions_def,
                    backfill_policy=dg.BackfillPolicy.single_run())
    def _funnel(context: dg.AssetExecutionContext, lake: LakeStorage) -> dg.MaterializeResult:
        files = lake.files()
        first, end = owned_months(partitions_def, context.partition_time_window)
        silver = read_inputs(files, inputs, spec.inputs)
        inside = month_filter(first, end)
        fingerprints = month_fingerprints(silver["service_servicerequest"], silver["service_service"], timezone)
        rows = (spec.build(silver).filter(inside).join(fingerprints.filter(inside), on="month", how="left")
                .collect().sort(list(spec.key)))
        version = write_mart(files, spec, rows, context.run.run_id, month_predicate(first, end))
        keys = context.partition_keys
        context.log.info(f"{spec.name}: {rows.height:,} rows for {len(keys)} month(s) {keys[0]} .. {keys[-1]}")
        metadata = _metadata(files, spec, rows, version, _input_rows(silver), catalog.pii_columns)
        metadata |= {
            "months_in_run": dg.MetadataValue.int(len(keys)),
            "months_with_requests": dg.MetadataValue.int(rows.get_column("month").n_unique()),
            "replaced": dg.MetadataValue.text(month_predicate(first, end)),
        }
        return dg.MaterializeResult(metadata=metadata)

    return _funnel


def gold_mart_specs(catalog: Catalog) -> list[MartSpec]:
    """Every mart: the five core marts of the data-lake plan, the techpark reporting plan's six
    marts and their quality mart."""
    return [*mart_specs(catalog.defaults.timezone), *TECHPARK_MARTS, DQ_METRICS]


def build_gold_assets(catalog: Catalog, silver: Iterable[LakeTable]) -> list[dg.AssetsDefinition]:
    """An asset per mart, reading the ``silver`` tables (the registry's) its spec names."""
    specs = buildable(gold_mart_specs(catalog), silver)
    inputs = input_tables(silver, specs)
    return [build_funnel_asset(spec, catalog, inputs) if spec.monthly else build_mart_asset(spec, catalog, inputs)
            for spec in specs]


def buildable(specs: list[MartSpec], silver: Iterable[LakeTable]) -> list[MartSpec]:
    """The marts whose inputs the lake holds (silver tables, or marts themselves buildable): with a
    catalog of another database, TechHub's marts are left out, not broken."""
    silver = list(silver)
    kept: list[MartSpec] = []
    while True:
        available = input_tables(silver, kept)
        more = [s for s in specs if s not in kept and all(name in available for name in s.inputs)]
        if not more:
            return [s for s in specs if s in kept]
        kept += more
