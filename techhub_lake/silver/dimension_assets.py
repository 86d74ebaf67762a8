"""The SCD2 dimension assets (``silver/dim/...``) and the requests fact (``silver/fact/fact_requests``)."""

import datetime as dt

import dagster as dg
import polars as pl
from deltalake import CommitProperties

from techhub_lake.catalog import Catalog, CatalogTable, Partitioning
from techhub_lake.faults import fault_point
from techhub_lake.lake.delta import open_delta, read_columns, read_delta, require_delta, scan_delta, write_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.metadata import column_schema
from techhub_lake.registry import asset_group, lake_table_metadata
from techhub_lake.resources import LakeStorage
from techhub_lake.silver.assets import silver_key
from techhub_lake.silver.current_state import SILVER_ROOT, silver_table_path
from techhub_lake.silver.dimensions import (
    DIMENSIONS,
    FACT_REQUEST_COLUMNS,
    IS_CURRENT,
    DimensionSpec,
    Scd2Counts,
    fact_requests,
    scd2_apply_changes,
    scd2_update,
)
from techhub_lake.silver.stream_changes import LOGGED_COMMIT_LSN
from techhub_lake.silver.stream_state import changelog_path, stream_commit, stream_cursor

FACT_PATH = f"{SILVER_ROOT}/fact/fact_requests"


def dimension_path(spec: DimensionSpec) -> str:
    """``silver/techhub/dim/<dimension>``."""
    return f"{SILVER_ROOT}/dim/{spec.name}"


def follow_changelog(files: LakeFiles, spec: DimensionSpec, source: CatalogTable, current: pl.DataFrame,
                     previous: pl.DataFrame | None) -> tuple[pl.DataFrame, Scd2Counts, dict[str, str]]:
    """A dimension of a captured table brought up to its silver table: the changes the changelog
    holds since the dimension's cursor, one version each; compared with the current state instead
    (versions opening when observed) when the dimension was built from another snapshot of the
    stream, or before the table was captured."""
    built_from, applied = stream_cursor(files, silver_table_path(source))
    dim_from, dim_applied = stream_cursor(files, dimension_path(spec))
    if built_from is None or previous is None or dim_from != built_from or dim_applied is None:
        dimension, counts = scd2_update(current, previous, spec, dt.datetime.now(dt.UTC))
        return dimension, counts, stream_commit(built_from, applied) if built_from is not None else {}
    log = scan_delta(files, changelog_path(source))
    changes = (log.filter((pl.col(LOGGED_COMMIT_LSN) > dim_applied) & (pl.col(LOGGED_COMMIT_LSN) <= applied)).collect()
               if log is not None else pl.DataFrame())
    if not changes.height:
        return previous, Scd2Counts(0, 0, 0, previous.height, previous.filter(pl.col(IS_CURRENT)).height), \
            stream_commit(built_from, applied)
    dimension, counts = scd2_apply_changes(changes, previous, spec)
    return dimension, counts, stream_commit(built_from, applied)


def build_dimension_asset(spec: DimensionSpec, catalog: Catalog) -> dg.AssetsDefinition:
    """One SCD2 dimension, following its source table's current state."""
    source = catalog.table(spec.source_table)
    asset_spec = dg.AssetSpec(
        key=dg.AssetKey(["silver", "dim", spec.name]), deps=[silver_key(source)], group_name=asset_group("silver", "dim"),
        description=(f"SCD type 2 of `{spec.source_table}` by {spec.key_name}: tracked {', '.join(spec.tracked)}; "
                     "valid_from / valid_to / is_current, surrogate key and attribute hash."),
        kinds={"delta", "polars"}, tags={"module": "dim"}, metadata=lake_table_metadata(dimension_path(spec), primary_key=(spec.surrogate_key,), versions_of=spec.key_name))

    captured = source.partitioning == Partitioning.STREAM

    @dg.multi_asset(name=f"silver_dim_{spec.name}", specs=[asset_spec])
    def _dimension(context: dg.AssetExecutionContext, lake: LakeStorage) -> dg.MaterializeResult:
        files = lake.files()
        # only the columns the dimension reads: `account_user` whole (its JSON documents) took 1.4 GB at scale 2
        current = read_columns(require_delta(files, silver_table_path(source), silver_key(source)), spec.source_columns)
        previous = read_delta(files, dimension_path(spec))
        commit: dict[str, str] = {}
        if captured:  # one version per committed change, from the table's changelog
            dimension, counts, commit = follow_changelog(files, spec, source, current, previous)
        else:
            dimension, counts = scd2_update(current, previous, spec, dt.datetime.now(dt.UTC))
        fault_point("silver.dimension")
        write_delta(files, dimension_path(spec), dimension, "overwrite", schema_mode="overwrite",
                    commit_properties=CommitProperties(custom_metadata=commit))
        context.log.info(f"{spec.name}: {counts.opened} opened, {counts.closed_changed} closed by a change, "
                         f"{counts.closed_deleted} by a delete; {counts.current} current of {counts.versions}")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": dg.MetadataValue.int(counts.versions),
            "current_versions": dg.MetadataValue.int(counts.current),
            "versions_opened": dg.MetadataValue.int(counts.opened),
            "versions_closed_by_change": dg.MetadataValue.int(counts.closed_changed),
            "versions_closed_by_delete": dg.MetadataValue.int(counts.closed_deleted),
            "path": dg.MetadataValue.path(files.uri(dimension_path(spec))),
            "dagster/column_schema": column_schema(dimension.schema.items()),
        })

    return _dimension


def build_fact_requests_asset(catalog: Catalog) -> dg.AssetsDefinition:
    """Service requests with the dimension versions valid when each was created."""
    requests = catalog.table("service_servicerequest")
    asset_spec = dg.AssetSpec(
        key=dg.AssetKey(["silver", "fact", "fact_requests"]),
        deps=[silver_key(requests), *(dg.AssetKey(["silver", "dim", s.name]) for s in DIMENSIONS)],
        group_name=asset_group("silver", "fact"), kinds={"delta", "polars"}, tags={"module": "fact"}, metadata=lake_table_metadata(FACT_PATH, primary_key=("request_id",)),
        description="One row per service request with user_sk, company_sk and service_sk valid at its creation.")

    @dg.multi_asset(name="silver_fact_requests", specs=[asset_spec])
    def _fact(context: dg.AssetExecutionContext, lake: LakeStorage) -> dg.MaterializeResult:
        files = lake.files()
        dims = {s.name: read_delta(files, dimension_path(s)) for s in DIMENSIONS}
        stored = open_delta(files, silver_table_path(requests))  # its columns the fact keeps, not its JSON
        rows = read_columns(stored, list(FACT_REQUEST_COLUMNS)) if stored is not None else None
        missing = [name for name, frame in dims.items() if frame is None] + (["service_servicerequest"] if rows is None else [])
        if missing:
            raise dg.Failure(f"materialize {', '.join(missing)} before fact_requests", allow_retries=False)
        facts = fact_requests(rows, dims)
        write_delta(files, FACT_PATH, facts, "overwrite", schema_mode="overwrite")
        unmatched = {k: int(facts[k].null_count()) for k in ("user_sk", "company_sk", "service_sk")}
        return dg.MaterializeResult(metadata={
            "dagster/row_count": dg.MetadataValue.int(facts.height),
            **{f"without_{k}": dg.MetadataValue.int(v) for k, v in unmatched.items()},
            "path": dg.MetadataValue.path(files.uri(FACT_PATH)),
            "dagster/column_schema": column_schema(facts.schema.items()),
        })

    return _fact


def build_dimension_assets(catalog: Catalog) -> list[dg.AssetsDefinition]:
    """The three SCD2 dimensions and the requests fact, those whose source tables the catalog loads."""
    dimensions = [build_dimension_asset(spec, catalog) for spec in DIMENSIONS if catalog.loads(spec.source_table)]
    fact = catalog.loads("service_servicerequest", *(spec.source_table for spec in DIMENSIONS))
    return [*dimensions, *([build_fact_requests_asset(catalog)] if fact else [])]
