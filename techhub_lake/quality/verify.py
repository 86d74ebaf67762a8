"""Running a contract with Soda Core, offline: lake tables through DuckDB over their Delta tables
(local or S3, read by delta-rs as Arrow datasets, so only the columns a check needs are read), source
tables through Soda's PostgreSQL data source on a read-only connection with a statement timeout."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import duckdb
import psycopg
from sqlalchemy.engine import make_url

from techhub_lake.lake.delta import not_yet_materialized, open_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.messages import first_line
from techhub_lake.quality.contracts import Contract, ContractCheck, ContractError
from techhub_lake.resources.masking import BinMask
from techhub_lake.source.connection import (
    APPLICATION_NAME,
    connection_error,
    libpq_url,
)

LAKE_DATA_SOURCE = "lake"
SODA_TELEMETRY_ENV = "SODA_CORE_TELEMETRY_ENABLED"  # Soda's own switch; the lake only ever turns it off


def offline_soda() -> None:
    """Soda Core must never call out: its telemetry is turned off before Soda is imported, whatever
    the environment says (called by every function here that imports Soda)."""
    os.environ[SODA_TELEMETRY_ENV] = "false"
SOURCE_DATA_SOURCE = "techhub"
OUTCOMES = {"PASSED": "pass", "WARN": "warn", "FAILED": "fail"}


class TableNotMaterialized(RuntimeError):
    """A table a contract reads does not exist in the lake yet; the message names the asset."""


@dataclass(frozen=True)
class CheckMeasurement:
    """What Soda measured for one check: the outcome, the value compared with the threshold and
    Soda's diagnostics (missing_count, duplicate_percent, ...)."""

    check: ContractCheck
    outcome: str  # pass, warn, fail, not_evaluated
    value: float | None
    diagnostics: dict[str, float] = field(default_factory=dict)
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.outcome == "pass"


def contract_variables(bin_mask: BinMask | None) -> dict[str, str]:
    """The Soda variables the contracts use, from the lake's resources."""
    mask = bin_mask or BinMask()
    return {"bin_mask_from_year": str(mask.from_year), "bin_mask_char": mask.mask_char}


def _measurements(contract: Contract, dataset: str, data_source, variables: dict[str, str]) -> list[CheckMeasurement]:
    offline_soda()
    from soda_core.common.exceptions import ContractParserException
    from soda_core.common.yaml import ContractYamlSource
    from soda_core.contracts.contract_verification import ContractVerificationSession

    source = ContractYamlSource.from_str(contract.to_yaml(dataset),
                                         file_path=contract.files[-1] if contract.files else contract.target.contract_file)
    try:
        session = ContractVerificationSession.execute(contract_yaml_sources=[source], data_source_impls=[data_source],
                                                      variables=variables)
    except ContractParserException as exc:
        raise ContractError(f"{source.file_path}: Soda cannot read the contract of {contract.target.sql_name}: "
                            f"{first_line(exc)}") from None
    results = session.contract_verification_results
    errors = [e for r in results for e in r.get_errors()]
    by_name = {}
    for result in results:
        for check_result in result.check_results:
            by_name[str(check_result.check.qualifier)] = check_result
    if not by_name and errors:
        where = contract.files[-1] if contract.files else contract.target.sql_name
        raise ContractError(f"Soda could not verify the contract of {contract.target.sql_name} ({where}): {errors[0]}")
    measurements = []
    for check in contract.checks:
        found = by_name.get(check.name)
        outcome = OUTCOMES.get(found.outcome.name, "not_evaluated") if found else "not_evaluated"
        if outcome == "fail" and check.level == "warn":  # Soda fails a warn-level check it cannot measure
            outcome = "warn"  # (freshness of an empty table): still a warning, as the contract says
        diagnostics = {k: v for k, v in ((found.diagnostic_metric_values or {}) if found else {}).items()
                       if isinstance(v, int | float) and not isinstance(v, bool)}
        value = found.threshold_value if found is not None and isinstance(found.threshold_value, int | float) else None
        error = None if outcome != "not_evaluated" else (errors[0] if errors else "Soda did not evaluate this check")
        measurements.append(CheckMeasurement(check, outcome, value, diagnostics, error))
    return measurements


@contextmanager
def lake_connection(contract: Contract, lake: LakeFiles, paths: dict[str, str]) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB with the contract's table and the tables it refers to as views
    ``<layer>.<name>`` over their Delta tables."""
    conn = duckdb.connect()
    try:
        for sql_name in (contract.target.sql_name, *contract.references):
            layer, name = sql_name.split(".")
            delta = open_delta(lake, paths[sql_name])
            if delta is None:
                raise TableNotMaterialized(not_yet_materialized(lake, paths[sql_name], _asset_of(contract, sql_name)))
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{layer}"')
            conn.register(f"__{layer}__{name}", delta.to_pyarrow_dataset())
            conn.execute(f'CREATE VIEW "{layer}"."{name}" AS SELECT * FROM "__{layer}__{name}"')
        yield conn
    finally:
        conn.close()


def _asset_of(contract: Contract, sql_name: str) -> str:
    return contract.target.asset_key.to_user_string() if sql_name == contract.target.sql_name else sql_name


def verify_lake_contract(contract: Contract, lake: LakeFiles, paths: dict[str, str],
                         variables: dict[str, str]) -> list[CheckMeasurement]:
    """Verify a silver or gold contract on the lake; ``paths`` maps ``layer.name`` to Delta paths."""
    offline_soda()
    import soda_core  # noqa: F401  (loads Soda's plugins before one of its data sources is imported)
    from soda_duckdb.common.data_sources.duckdb_data_source import DuckDBDataSourceImpl

    with lake_connection(contract, lake, paths) as conn:
        data_source = DuckDBDataSourceImpl.from_existing_cursor(conn, LAKE_DATA_SOURCE)
        dataset = f"{LAKE_DATA_SOURCE}/{contract.target.layer}/{contract.target.name}"
        return _measurements(contract, dataset, data_source, variables)


def _read_only_data_source(url: str, statement_timeout_ms: int | None):
    """Soda's PostgreSQL data source on our own connection: read-only by default for every
    transaction, with the statement timeout and the lake's application name. (Soda's connection
    properties have no place for either, so the connection is ours.)"""
    offline_soda()
    import soda_core  # noqa: F401  (loads Soda's plugins before one of its data sources is imported)
    from soda_postgres.common.data_sources.postgres_data_source import (
        PostgresDataSourceImpl,
    )
    from soda_postgres.common.data_sources.postgres_data_source_connection import (
        PostgresDataSource,
        PostgresDataSourceConnection,
    )

    options = "-c default_transaction_read_only=on"
    if statement_timeout_ms:
        options += f" -c statement_timeout={int(statement_timeout_ms)}"
    try:
        connection = psycopg.connect(libpq_url(url), options=options, connect_timeout=10,
                                     application_name=f"{APPLICATION_NAME} quality")
    except psycopg.OperationalError as exc:
        raise connection_error(url, str(exc)) from None

    class ReadOnlyConnection(PostgresDataSourceConnection):
        def __init__(self) -> None:
            super().__init__(name=SOURCE_DATA_SOURCE, connection_properties={})

        def _create_connection(self, _properties):
            return connection

    model = PostgresDataSource.model_construct(name=SOURCE_DATA_SOURCE, type="postgres")
    return PostgresDataSourceImpl(data_source_model=model, connection=ReadOnlyConnection()), connection


def verify_source_contract(contract: Contract, url: str, statement_timeout_ms: int | None,
                           variables: dict[str, str]) -> list[CheckMeasurement]:
    """Verify a source contract on the TechHub PostgreSQL, read-only."""
    data_source, connection = _read_only_data_source(url, statement_timeout_ms)
    try:
        database = make_url(url).database or "postgres"
        dataset = f"{SOURCE_DATA_SOURCE}/{database}/public/{contract.target.name}"
        return _measurements(contract, dataset, data_source, variables)
    finally:
        connection.rollback()
        connection.close()
