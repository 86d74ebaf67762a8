"""What the quality contracts check: every silver and gold table of the lake and the source tables
with rules, each with its asset, where it lives, the name Soda sees it under, and what its asset
spec already declares about it (key, watermark, documented columns, masking, versions), all read
from the asset graph (``techhub_lake.registry``)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import dagster as dg

from techhub_lake.gold.store import gold_key, gold_path
from techhub_lake.registry import LakeTable

DQ_REPORT_KEY = gold_key("dq_report", "quality")
DQ_REPORT_PATH = gold_path("dq_report", "quality")
DQ_REPORT_ROW_KEY = ("checked_at", "table_name", "rule")  # one row per rule of a checked table and run
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


def lake_targets(tables: Iterable[LakeTable]) -> list[CheckedTable]:
    """Every silver and gold table among ``tables`` (current states, child tables, dimensions and
    fact, techpark silver, the marts), and the quality report itself."""
    targets = [CheckedTable(t.layer, t.name, t.key, t.path, key=t.primary_key, watermark=t.watermark,
                            columns=t.documented_columns, masked=t.masked, versions_of=t.versions_of)
               for t in tables if t.layer in ("silver", "gold") and t.key != DQ_REPORT_KEY]
    targets.append(CheckedTable("gold", "dq_report", DQ_REPORT_KEY, DQ_REPORT_PATH,
                                key=DQ_REPORT_ROW_KEY, columns=tuple(DQ_REPORT_COLUMNS)))
    _assert_unique(targets)
    return targets


def source_targets(tables: Iterable[LakeTable], names: list[str]) -> list[CheckedTable]:
    """The source tables with a contract, each checked on its bronze asset (never blocking: bronze
    keeps the source as it is, the silver and gold contracts guard what is built from it)."""
    bronze = {t.name: t for t in tables if t.layer == "bronze"}
    return [CheckedTable("source", name, bronze[name].key, None, blocking=False) for name in names if name in bronze]


def _assert_unique(targets: list[CheckedTable]) -> None:
    seen: dict[str, dg.AssetKey] = {}
    for target in targets:
        if target.sql_name in seen:
            raise ValueError(f"two lake tables are both named {target.sql_name} for the quality contracts: "
                             f"{seen[target.sql_name].to_user_string()} and {target.asset_key.to_user_string()}")
        seen[target.sql_name] = target.asset_key
