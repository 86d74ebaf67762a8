"""What the quality contracts check: every silver and gold table of the lake and the source tables
with rules, each with its asset, where it lives, the name Soda sees it under, and what the
catalog and the mart specs already say about it (key, watermark, columns)."""

from __future__ import annotations

from dataclasses import dataclass, field

import dagster as dg

from techhub_lake.bronze.specs import bronze_key
from techhub_lake.catalog import Catalog, Partitioning
from techhub_lake.gold.funnel import FINGERPRINT
from techhub_lake.gold.marts import mart_specs
from techhub_lake.gold.store import gold_key, gold_path
from techhub_lake.gold.techpark import DQ_METRICS, TECHPARK_MARTS
from techhub_lake.silver.assets import silver_key
from techhub_lake.silver.children import CHILD_TABLES
from techhub_lake.silver.current_state import SILVER_ROOT, silver_table_path
from techhub_lake.silver.dimension_assets import FACT_PATH, dimension_path
from techhub_lake.silver.dimensions import DIMENSIONS
from techhub_lake.silver.techpark_assets import (
    PARTICIPANTS,
    PARTICIPANTS_PATH,
    REPORT_V2,
    REPORT_V2_PATH,
)

DQ_REPORT_KEY = gold_key("dq_report", "quality")
DQ_REPORT_PATH = gold_path("dq_report", "quality")
DQ_REPORT_COLUMNS = {
    "checked_at": "When the contracts were verified (UTC)",
    "run_id": "The Dagster run that verified them",
    "layer": "source, silver or gold",
    "table_name": "The checked table as the contracts name it (layer.table)",
    "asset_key": "The Dagster asset the checks belong to",
    "rule": "The check's name (the Dagster asset check)",
    "description": "What the rule requires",
    "level": "error (blocks downstream in silver and gold) or warn (reports)",
    "measured_value": "The value Soda measured and compared with the threshold",
    "outcome": "pass, warn, fail, or not_evaluated (the check could not run)",
}


@dataclass(frozen=True)
class CheckedTable:
    """One table the contracts check.

    ``layer`` is ``source``, ``silver`` or ``gold``; ``name`` is the table's name inside its layer,
    unique there (``account_user``, ``dim_user``, ``dm_service_funnel``), so a contract refers to
    another table as ``<layer>.<name>``. ``path`` is its Delta table under the lake root (None for
    the source). ``key``/``watermark``/``columns`` feed the checks every table gets.
    """

    layer: str
    name: str
    asset_key: dg.AssetKey
    path: str | None
    key: tuple[str, ...] = ()
    watermark: str | None = None
    columns: tuple[str, ...] = ()  # the documented columns; a schema check when given
    masked: tuple[str, str] | None = None  # (BIN column, report-year column) the BinMask resource masks
    versions_of: str | None = None  # an SCD2 dimension: the business key its versions belong to
    blocking: bool = field(default=True)

    @property
    def sql_name(self) -> str:
        """``<layer>.<name>``: how a contract's SQL names this table."""
        return f"{self.layer}.{self.name}"

    @property
    def contract_file(self) -> str:
        """The table's own contract, relative to ``quality/contracts``."""
        return f"{self.layer}/{self.name}.yaml"


def lake_targets(catalog: Catalog) -> list[CheckedTable]:
    """Every silver and gold table of the lake: current states, child tables, dimensions and fact,
    techpark silver, the marts and the quality report itself."""
    targets = [
        CheckedTable("silver", table.name, silver_key(table), silver_table_path(table), key=table.primary_key,
                     watermark=table.watermark if table.partitioning == Partitioning.DAILY else None)
        for table in catalog.lake_tables
    ]
    targets += [CheckedTable("silver", child.name, dg.AssetKey(["silver", child.module, child.name]),
                             f"{SILVER_ROOT}/{child.module}/{child.name}", key=child.key) for child in CHILD_TABLES]
    targets += [CheckedTable("silver", spec.name, dg.AssetKey(["silver", "dim", spec.name]), dimension_path(spec),
                             key=(spec.surrogate_key,), versions_of=spec.key_name) for spec in DIMENSIONS]
    targets += [
        CheckedTable("silver", "fact_requests", dg.AssetKey(["silver", "fact", "fact_requests"]), FACT_PATH,
                     key=("request_id",)),
        CheckedTable("silver", "service_report_v2", REPORT_V2, REPORT_V2_PATH, key=("report_id",)),
        CheckedTable("silver", "techpark_participants", PARTICIPANTS, PARTICIPANTS_PATH, key=("company_id",)),
    ]
    for spec in [*mart_specs(catalog.defaults.timezone), *TECHPARK_MARTS, DQ_METRICS]:
        columns = (*spec.columns, *((FINGERPRINT,) if spec.monthly else ()))
        targets.append(CheckedTable("gold", spec.name, gold_key(spec.name, spec.domain), gold_path(spec.name, spec.domain),
                                    key=spec.key, columns=columns, masked=spec.masked))
    targets.append(CheckedTable("gold", "dq_report", DQ_REPORT_KEY, DQ_REPORT_PATH,
                                key=("checked_at", "table_name", "rule"), columns=tuple(DQ_REPORT_COLUMNS)))
    _assert_unique(targets)
    return targets


def source_targets(catalog: Catalog, names: list[str]) -> list[CheckedTable]:
    """The source tables with a contract, each checked on its bronze asset (never blocking: bronze
    keeps the source as it is, the silver and gold contracts guard what is built from it)."""
    lake_tables = {table.name: table for table in catalog.lake_tables}
    return [CheckedTable("source", name, bronze_key(lake_tables[name]), None, blocking=False)
            for name in names if name in lake_tables]


def _assert_unique(targets: list[CheckedTable]) -> None:
    seen: dict[str, dg.AssetKey] = {}
    for target in targets:
        if target.sql_name in seen:
            raise ValueError(f"two lake tables are both named {target.sql_name} for the quality contracts: "
                             f"{seen[target.sql_name].to_user_string()} and {target.asset_key.to_user_string()}")
        seen[target.sql_name] = target.asset_key
