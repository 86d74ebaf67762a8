"""The contracts as Dagster asset checks: one multi-asset check per contract, one asset check per
rule, with Soda's measured values in each result's metadata. Error-level rules on silver and gold
are blocking: when one fails, the assets downstream of its table do not run in the same run."""

import dagster as dg

from techhub_lake.quality.contracts import Contract
from techhub_lake.quality.verify import (
    CheckMeasurement,
    TableNotMaterialized,
    contract_variables,
    verify_lake_contract,
    verify_source_contract,
)
from techhub_lake.resources import BinMask, LakeStorage, SourceDatabase
from techhub_lake.source.policy import SOURCE_POOL

SEVERITY = {"error": dg.AssetCheckSeverity.ERROR, "warn": dg.AssetCheckSeverity.WARN}


def lake_paths(contracts: list[Contract]) -> dict[str, str]:
    """``layer.name`` -> Delta path of every lake table with a contract."""
    return {c.target.sql_name: c.target.path for c in contracts if c.target.path}


def check_metadata(measurement: CheckMeasurement, contract: Contract) -> dict[str, dg.MetadataValue]:
    """What the UI shows for one rule: the measured value, Soda's diagnostics, level and outcome."""
    metadata: dict[str, dg.MetadataValue] = {
        "level": dg.MetadataValue.text(measurement.check.level),
        "outcome": dg.MetadataValue.text(measurement.outcome),
        "table": dg.MetadataValue.text(contract.target.sql_name),
    }
    if measurement.value is not None:
        metadata["measured_value"] = dg.MetadataValue.float(float(measurement.value))
    for name, value in sorted(measurement.diagnostics.items()):
        metadata[name] = dg.MetadataValue.int(value) if isinstance(value, int) else dg.MetadataValue.float(float(value))
    if measurement.error:
        metadata["error"] = dg.MetadataValue.text(measurement.error)
    if contract.files:
        metadata["contract"] = dg.MetadataValue.path(contract.files[-1])
    return metadata


def check_result(measurement: CheckMeasurement, contract: Contract) -> dg.AssetCheckResult:
    """One rule's Dagster result; a warning-level rule that fails is a WARN, never blocking."""
    return dg.AssetCheckResult(
        asset_key=contract.target.asset_key, check_name=measurement.check.name,
        passed=measurement.passed, severity=SEVERITY[measurement.check.level],
        metadata=check_metadata(measurement, contract))


def check_specs(contract: Contract) -> list[dg.AssetCheckSpec]:
    """One spec per rule of the contract."""
    target = contract.target
    where = "measured on the source with Soda, read-only" if target.layer == "source" else "Soda on the lake"
    return [
        dg.AssetCheckSpec(
            name=check.name, asset=target.asset_key,
            blocking=target.blocking and check.level == "error",
            description=f"[{check.level}] {check.description} ({target.sql_name}, {where})",
            metadata={"level": check.level, "layer": target.layer,
                      **({"column": check.column} if check.column else {})})
        for check in contract.checks
    ]


def _not_materialized(contract: Contract, reason: str) -> list[dg.AssetCheckResult]:
    return [dg.AssetCheckResult(asset_key=contract.target.asset_key, check_name=check.name, passed=False,
                                severity=SEVERITY[check.level],
                                metadata={"outcome": dg.MetadataValue.text("not_evaluated"),
                                          "error": dg.MetadataValue.text(reason)})
            for check in contract.checks]


def build_lake_contract_check(contract: Contract, paths: dict[str, str]) -> dg.AssetChecksDefinition:
    """The asset checks of a silver or gold table."""

    @dg.multi_asset_check(specs=check_specs(contract), name=f"quality_{contract.target.layer}_{contract.target.name}",
                          description=f"Soda contract of {contract.target.sql_name}")
    def _lake_checks(context: dg.AssetCheckExecutionContext, lake: LakeStorage, bin_mask: BinMask):
        try:
            measurements = verify_lake_contract(contract, lake.files(), paths, contract_variables(bin_mask))
        except TableNotMaterialized as exc:
            context.log.warning(str(exc))
            yield from _not_materialized(contract, str(exc))
            return
        _log_summary(context, contract, measurements)
        for measurement in measurements:
            yield check_result(measurement, contract)

    return _lake_checks


def build_source_contract_check(contract: Contract) -> dg.AssetChecksDefinition:
    """The asset checks of a source table, on its bronze asset, measured on the source."""

    @dg.multi_asset_check(specs=check_specs(contract), name=f"quality_source_{contract.target.name}",
                          description=f"Soda contract of the source table {contract.target.name}", pool=SOURCE_POOL)
    def _source_checks(context: dg.AssetCheckExecutionContext, source: SourceDatabase):
        measurements = verify_source_contract(contract, source.resolved_url(), source.statement_timeout_ms,
                                              contract_variables(None))
        _log_summary(context, contract, measurements)
        for measurement in measurements:
            yield check_result(measurement, contract)

    return _source_checks


def _log_summary(context, contract: Contract, measurements: list[CheckMeasurement]) -> None:
    failing = [f"{m.check.name}={m.value:g} ({m.outcome})" if m.value is not None else f"{m.check.name} ({m.outcome})"
               for m in measurements if not m.passed]
    context.log.info(f"{contract.target.sql_name}: {len(measurements) - len(failing)} of {len(measurements)} rules pass"
                     + (f"; {', '.join(failing)}" if failing else ""))


def build_quality_checks(contracts: list[Contract]) -> list[dg.AssetChecksDefinition]:
    """Every contract's asset checks: source tables on their bronze assets, silver and gold on theirs."""
    paths = lake_paths(contracts)
    return [build_source_contract_check(c) if c.target.layer == "source" else build_lake_contract_check(c, paths)
            for c in contracts]
