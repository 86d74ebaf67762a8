"""The techpark silver assets (the techpark reporting plan): ``silver/service/service_report_v2`` (only the reports
that changed are parsed again) and ``silver/service/techpark_participants`` (rebuilt from silver
current state on each run)."""

import dagster as dg
import polars as pl

from techhub_lake.catalog import Catalog
from techhub_lake.lake.delta import require_delta, scan_delta, write_delta
from techhub_lake.metadata import column_schema
from techhub_lake.registry import asset_group, lake_table_metadata
from techhub_lake.resources import LakeStorage
from techhub_lake.silver.assets import silver_key
from techhub_lake.silver.current_state import SILVER_ROOT, silver_table_path
from techhub_lake.silver.incremental import derive_changed
from techhub_lake.silver.techpark import service_report_v2, techpark_participants
from techhub_lake.silver.transforms import quality_counts

REPORT_V2 = dg.AssetKey(["silver", "service", "service_report_v2"])
REPORT_V2_PATH = f"{SILVER_ROOT}/service/service_report_v2"
PARTICIPANTS = dg.AssetKey(["silver", "service", "techpark_participants"])
PARTICIPANTS_PATH = f"{SILVER_ROOT}/service/techpark_participants"


def _scan(files, catalog: Catalog, name: str) -> pl.LazyFrame:
    table = catalog.table(name)
    return pl.scan_delta(require_delta(files, silver_table_path(table), silver_key(table)))


def build_report_v2_asset(catalog: Catalog) -> dg.AssetsDefinition:
    """Typed techpark reports, partitioned by report year in Delta."""
    spec = dg.AssetSpec(
        key=REPORT_V2, deps=[silver_key(catalog.table("service_report"))], group_name=asset_group("silver", "service"),
        kinds={"delta", "polars"}, tags={"module": "service"}, metadata=lake_table_metadata(REPORT_V2_PATH, primary_key=("report_id",)),
        description=("One row per live techpark report: 32 typed fields of `data`, the BIN from `signed_xml` "
                     "(a real XML parser; malformed documents counted), bin = the report's own else the XML's; "
                     "Delta partitioned by report_year."))

    @dg.multi_asset(name="silver_service_report_v2", specs=[spec])
    def _report_v2(context: dg.AssetExecutionContext, lake: LakeStorage) -> dg.MaterializeResult:
        files = lake.files()
        # scanned: only the changed reports' documents are read
        derived = derive_changed(scan_delta(files, REPORT_V2_PATH), _scan(files, catalog, "service_report"), "id",
                                 "report_id", service_report_v2)
        if not derived.unchanged:  # streamed a block of reports at a time
            write_delta(files, REPORT_V2_PATH, derived.arrow_stream(), "overwrite", schema_mode="overwrite",
                        partition_by=["report_year"])
        table = scan_delta(files, REPORT_V2_PATH)
        summary = table.select(pl.len().alias("reports"), pl.col("company_id").n_unique().alias("companies"),
                               (pl.col("bin_source") == "signed_xml").sum().alias("from_xml")).collect().row(0, named=True)
        years = table.select(pl.col("report_year").drop_nulls().unique().sort()).collect()["report_year"]
        quality = quality_counts(table)
        context.log.info(f"service_report_v2: {summary['reports']:,} reports ({derived.parents_built:,} parsed, the "
                         f"others kept), {quality.get('dq_signed_xml_malformed', 0)} "
                         f"malformed XML, {quality.get('dq_export_by_country_malformed', 0)} malformed export arrays")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": dg.MetadataValue.int(summary["reports"]),
            "reports_parsed": dg.MetadataValue.int(derived.parents_built),
            "rewritten": dg.MetadataValue.bool(not derived.unchanged),
            "companies": dg.MetadataValue.int(summary["companies"]),
            "report_years": dg.MetadataValue.text(", ".join(str(y) for y in years)),
            "bin_from_signed_xml": dg.MetadataValue.int(int(summary["from_xml"] or 0)),
            **{f"quality/{k}": dg.MetadataValue.int(v) for k, v in quality.items()},
            "path": dg.MetadataValue.path(files.uri(REPORT_V2_PATH)),
            "dagster/column_schema": column_schema(table.collect_schema().items()),
        })

    return _report_v2


def build_participants_asset(catalog: Catalog) -> dg.AssetsDefinition:
    """Techpark participants: per company its latest signed techpark request and certificate."""
    spec = dg.AssetSpec(
        key=PARTICIPANTS, group_name=asset_group("silver", "service"), kinds={"delta", "polars"}, tags={"module": "service"},
        metadata=lake_table_metadata(PARTICIPANTS_PATH, primary_key=("company_id",)),
        deps=[silver_key(catalog.table("service_servicerequest")), silver_key(catalog.table("account_company"))],
        description=("Per company, its latest signed `techpark` request: certificate_number, "
                     "certificate_issue_date, certificate_end_date."))

    @dg.multi_asset(name="silver_techpark_participants", specs=[spec])
    def _participants(context: dg.AssetExecutionContext, lake: LakeStorage) -> dg.MaterializeResult:
        files = lake.files()
        participants = techpark_participants(_scan(files, catalog, "service_servicerequest").collect(),
                                             _scan(files, catalog, "account_company").collect())
        write_delta(files, PARTICIPANTS_PATH, participants, "overwrite", schema_mode="overwrite")
        context.log.info(f"techpark_participants: {participants.height:,} companies")
        return dg.MaterializeResult(metadata={
            "dagster/row_count": dg.MetadataValue.int(participants.height),
            "without_certificate": dg.MetadataValue.int(participants["certificate_number"].null_count()),
            "path": dg.MetadataValue.path(files.uri(PARTICIPANTS_PATH)),
            "dagster/column_schema": column_schema(participants.schema.items()),
        })

    return _participants


def build_techpark_silver_assets(catalog: Catalog) -> list[dg.AssetsDefinition]:
    """The two techpark silver tables (when the catalog loads what they read)."""
    return [*([build_report_v2_asset(catalog)] if catalog.loads("service_report") else []),
            *([build_participants_asset(catalog)] if catalog.loads("service_servicerequest", "account_company") else [])]
