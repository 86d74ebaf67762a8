"""``gold/quality/dq_report``: every contract's rules measured at each run, appended to a Delta
history (the techpark reporting plan's quality table, kept over time), the latest figures in the asset's metadata."""

import datetime as dt

import dagster as dg
import polars as pl

from techhub_lake.lake.delta import open_delta, write_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.metadata import column_schema, markdown_table
from techhub_lake.quality.checks import lake_paths
from techhub_lake.quality.contracts import Contract
from techhub_lake.quality.targets import (
    DQ_REPORT_COLUMNS,
    DQ_REPORT_KEY,
    DQ_REPORT_PATH,
    DQ_REPORT_ROW_KEY,
)
from techhub_lake.quality.verify import (
    TableNotMaterialized,
    contract_variables,
    verify_lake_contract,
    verify_source_contract,
)
from techhub_lake.registry import lake_table_metadata
from techhub_lake.resources import BinMask, LakeStorage, SourceDatabase
from techhub_lake.source.policy import SOURCE_POOL

REPORT_SCHEMA = {
    "checked_at": pl.Datetime("us", "UTC"), "run_id": pl.String, "layer": pl.String, "table_name": pl.String,
    "asset_key": pl.String, "rule": pl.String, "description": pl.String, "level": pl.String,
    "measured_value": pl.Float64, "outcome": pl.String,
}
OUTCOME_ORDER = {"fail": 0, "not_evaluated": 1, "warn": 2, "pass": 3}


def measure_contracts(contracts: list[Contract], lake: LakeFiles, source_url: str | None,
                      statement_timeout_ms: int | None, bin_mask: BinMask | None, run_id: str,
                      now: dt.datetime) -> pl.DataFrame:
    """One row per table and rule with what Soda measured now; a table not in the lake yet gives
    ``not_evaluated`` rows (the report covers the whole contract set every time)."""
    paths, variables = lake_paths(contracts), contract_variables(bin_mask)
    rows = []
    for contract in contracts:
        target = contract.target
        try:
            if target.layer == "source":
                measurements = verify_source_contract(contract, source_url, statement_timeout_ms, variables)
            else:
                measurements = verify_lake_contract(contract, lake, paths, variables)
            measured = [(m.check, m.value, m.outcome) for m in measurements]
        except TableNotMaterialized:
            measured = [(check, None, "not_evaluated") for check in contract.checks]
        rows += [(now, run_id, target.layer, target.sql_name, target.asset_key.to_user_string(), check.name,
                  check.description, check.level, None if value is None else float(value), outcome)
                 for check, value, outcome in measured]
    return pl.DataFrame(rows, schema=REPORT_SCHEMA, orient="row")


def latest_table(report: pl.DataFrame) -> str:
    """The latest run's figures as a markdown table for the UI and the docs, failures first; counts
    shown whole, rates and ages to two decimals."""
    value = pl.col("measured_value")
    measured = (pl.when(value.is_null()).then(pl.lit(""))
                .when(value == value.round(0)).then(value.cast(pl.Int64).cast(pl.String))
                .otherwise(value.round(2).cast(pl.String)))
    latest = report.filter(pl.col("checked_at") == pl.col("checked_at").max())
    ordered = latest.with_columns(pl.col("outcome").replace_strict(OUTCOME_ORDER, return_dtype=pl.Int8).alias("_order")) \
        .sort(["_order", "table_name", "rule"])
    return markdown_table(["table", "rule", "level", "measured", "outcome"],
                          ordered.select("table_name", "rule", "level", measured, "outcome").rows())


def build_dq_report_asset(contracts: list[Contract]) -> dg.AssetsDefinition:
    """The quality mart: reads every checked table (its lineage), appends one row per rule and run."""
    spec = dg.AssetSpec(
        key=DQ_REPORT_KEY, group_name="gold", kinds={"delta", "soda"}, tags={"domain": "quality"},
        deps=[c.target.asset_key for c in contracts if c.target.asset_key != DQ_REPORT_KEY],
        description=("Every quality rule of every contract (source, silver, gold) measured at each run: the value, "
                     "the level and pass / warn / fail, appended as a history."),
        metadata={"dagster/column_schema": column_schema(((n, t) for n, t in REPORT_SCHEMA.items()), DQ_REPORT_COLUMNS),
                  **lake_table_metadata(DQ_REPORT_PATH, primary_key=DQ_REPORT_ROW_KEY)},
        # its own pace: once a day (the quality_report schedule) or when asked, not on every upstream change
        freshness_policy=dg.FreshnessPolicy.time_window(fail_window=dt.timedelta(hours=26), warn_window=dt.timedelta(hours=25)),
    )

    @dg.multi_asset(name="gold_quality_dq_report", specs=[spec], pool=SOURCE_POOL)
    def _dq_report(context: dg.AssetExecutionContext, lake: LakeStorage, source: SourceDatabase,
                   bin_mask: BinMask) -> dg.MaterializeResult:
        files = lake.files()
        now = dt.datetime.now(dt.UTC)
        report = measure_contracts([c for c in contracts if c.target.asset_key != DQ_REPORT_KEY], files,
                                   source.resolved_url(), source.statement_timeout_ms, bin_mask, context.run.run_id, now)
        write_delta(files, DQ_REPORT_PATH, report, "append")
        counts = report.group_by("outcome").len().rows()
        summary = dict(counts)
        context.log.info("dq_report: " + ", ".join(f"{n} {o}" for o, n in sorted(counts)))
        history = open_delta(files, DQ_REPORT_PATH)
        return dg.MaterializeResult(metadata={
            "dagster/row_count": dg.MetadataValue.int(history.to_pyarrow_dataset().count_rows()),
            "rows_appended": dg.MetadataValue.int(report.height),
            "delta_version": dg.MetadataValue.int(history.version()),
            **{f"rules_{o}": dg.MetadataValue.int(summary.get(o, 0)) for o in OUTCOME_ORDER},
            "latest": dg.MetadataValue.md(latest_table(report)),
            "path": dg.MetadataValue.path(files.uri(DQ_REPORT_PATH)),
            "dagster/column_schema": column_schema(report.schema.items(), DQ_REPORT_COLUMNS),
        })

    return _dq_report
