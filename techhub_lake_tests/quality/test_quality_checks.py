"""The contracts on a real lake and a real source: clean generated data passes every error-level
rule; each injected defect fails exactly its rule with the right count; a failing blocking check
stops the asset downstream in the same Dagster run; the quality mart keeps a history; Soda never
touches the network.

The lake is built once (bronze and silver through the functions their assets call, everything
else through Dagster with its checks); each defect is injected into a copy of it.
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import socket
from pathlib import Path

import dagster as dg
import polars as pl
import psycopg2
import pytest
from deltalake import DeltaTable, write_deltalake

from techhub_lake.automation.instance import postgres_storage_config
from techhub_lake.automation.refresh import checks_of, refresh_lake
from techhub_lake.catalog import load_catalog
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.quality.checks import lake_paths
from techhub_lake.quality.contracts import CONTRACTS_DIR, load_contracts
from techhub_lake.quality.report import latest_table
from techhub_lake.quality.targets import DQ_REPORT_KEY, DQ_REPORT_PATH
from techhub_lake.quality.verify import (
    contract_variables,
    verify_lake_contract,
    verify_source_contract,
)
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import query
from techhub_lake_tests.helpers import (
    check_evaluations,
    definitions_for,
    load_bronze,
    load_silver,
    packaged_lake_tables,
)

pytestmark = pytest.mark.slow  # an end-to-end run of the lake: the full suite, not the fast tier

CATALOG = load_catalog()
CONTRACTS = {c.target.sql_name: c for c in load_contracts(packaged_lake_tables())}
PATHS = lake_paths(list(CONTRACTS.values()))
VARIABLES = contract_variables(None)
# everything Dagster builds from silver current state: child tables, dimensions, fact, techpark, gold
DERIVED = ('group:gold or key:"silver/dim/*" or key:"silver/fact/*" or key:"silver/account/company_tags" or '
           'key:"silver/service/hubformdata_fields" or key:"silver/service/service_report_v2" or '
           'key:"silver/service/techpark_participants"')


def definitions(url: str, root) -> dg.Definitions:
    return definitions_for(CATALOG, url, root)


@pytest.fixture(scope="module")
def quality_lake(new_database, tmp_path_factory):
    url = new_database()
    init_source(url, scale=0.02, seed=5)
    root = tmp_path_factory.mktemp("quality") / "lake"
    lake = LakeFiles(str(root))
    load_bronze(url, lake, CATALOG, dt.date(2019, 1, 1), run_id="first")
    load_silver(url, lake, CATALOG)
    with dg.instance_for_test(temp_dir=str(tmp_path_factory.mktemp("dagster_home")),
                              overrides=postgres_storage_config(new_database())) as instance:
        refresh_lake(DERIVED, lambda _: None, defs=definitions(url, root), catalog=CATALOG, instance=instance)
        yield url, root, instance


@pytest.fixture
def lake_copy(quality_lake, tmp_path):
    """A copy of the clean lake to spoil."""
    _, root, _ = quality_lake
    copy = tmp_path / "lake"
    shutil.copytree(root, copy)
    return copy


def failing(measurements) -> dict[str, object]:
    """Rule -> measurement, for the rules that did not pass at error level."""
    return {m.check.name: m for m in measurements if m.check.level == "error" and not m.passed}


def test_clean_data_passes_every_error_level_check_and_every_asset_shows_its_numbers(quality_lake):
    url, root, instance = quality_lake
    evaluations = check_evaluations(instance)
    errors = [(e.asset_key.to_user_string(), e.check_name, e.metadata.get("error"))
              for e in evaluations if not e.passed and e.severity == dg.AssetCheckSeverity.ERROR]
    assert errors == []
    # every asset Dagster built was checked, every one of its rules (the current-state tables were
    # loaded without Dagster: they are verified straight from the lake below)
    built = dg.AssetSelection.from_string(DERIVED).resolve(definitions(url, root).resolve_asset_graph())
    evaluated = {(e.asset_key, e.check_name) for e in evaluations}
    expected = {(c.target.asset_key, check.name) for c in CONTRACTS.values() if c.target.asset_key in built
                for check in c.checks}
    assert len(built) == 21 and expected - evaluated == set()
    for evaluation in evaluations:
        assert "outcome" in evaluation.metadata
        assert evaluation.metadata["outcome"].value in ("pass", "warn", "fail")
    duplicate = next(e for e in evaluations if e.check_name == "report_id_unique")
    assert {"duplicate_count", "duplicate_percent", "measured_value", "level"} <= set(duplicate.metadata)
    # the lake-side contracts of the current-state tables pass too, read straight from the lake
    lake = LakeFiles(str(root))
    for name, contract in CONTRACTS.items():
        if contract.target.layer == "silver" and contract.target.asset_key != DQ_REPORT_KEY:
            assert failing(verify_lake_contract(contract, lake, PATHS, VARIABLES)) == {}, name


def test_source_contracts_run_on_postgres_and_an_invalid_tin_warns(quality_lake):
    url, _, _ = quality_lake
    contract = CONTRACTS["source.account_company"]
    clean = {m.check.name: m for m in verify_source_contract(contract, url, 60_000, VARIABLES)}
    assert failing(clean.values()) == {}
    assert clean["bank_present_when_verified"].outcome in ("warn", "pass")
    assert 0 < clean["bank_present_when_verified"].diagnostics["missing_count"]

    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute("UPDATE account_company SET tin = '12AB' WHERE id = (SELECT min(id) FROM account_company "
                        "WHERE tin IS NOT NULL) RETURNING tin")
        conn.commit()
        spoiled = verify_source_contract(contract, url, 60_000, VARIABLES)
    finally:
        with conn.cursor() as cur:
            cur.execute("UPDATE account_company SET tin = lpad(id::text, 12, '9') WHERE tin = '12AB'")
        conn.commit()
        conn.close()
    assert failing(spoiled) == {}  # dirty source data warns, never stops the lake (silver cleans it)
    warned = {m.check.name: m for m in spoiled if not m.passed}
    assert set(warned) - {f"{c}_present_when_verified" for c in ("bank", "iik", "bik")} == {"tin_12_digits"}
    assert warned["tin_12_digits"].outcome == "warn" and warned["tin_12_digits"].check.level == "warn"
    assert warned["tin_12_digits"].value == 1 and warned["tin_12_digits"].diagnostics["invalid_count"] == 1


def test_the_source_is_read_in_a_read_only_transaction(quality_lake, tmp_path):
    url, _, _ = quality_lake
    contracts = Path(shutil.copytree(CONTRACTS_DIR, tmp_path / "contracts"))
    # a contract whose query would write (advance a sequence) is stopped by the server
    (contracts / "source" / "core_vacancy.yaml").write_text(
        "columns:\n  - name: id\nchecks:\n  - failed_rows:\n      qualifier: writes\n"
        "      query: SELECT * FROM public.core_vacancy WHERE id = nextval('public.core_vacancy_id_seq')\n")
    writer = next(c for c in load_contracts(packaged_lake_tables(), contracts) if c.target.sql_name == "source.core_vacancy")
    before = query(url, "SELECT last_value FROM core_vacancy_id_seq")
    measured = verify_source_contract(writer, url, 60_000, VARIABLES)
    assert [m.outcome for m in measured] == ["not_evaluated"]
    assert "read-only transaction" in measured[0].error
    assert query(url, "SELECT last_value FROM core_vacancy_id_seq") == before


def _append(path, rows: pl.DataFrame) -> None:
    write_deltalake(str(path), rows.to_arrow(), mode="append")


def _read(path) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(str(path)).to_pyarrow_table())


def test_a_duplicate_primary_key_in_silver_fails_only_the_key_rule(lake_copy):
    path = lake_copy / PATHS["silver.account_company"]
    companies = _read(path)
    _append(path, companies.filter(pl.col("tin").is_null()).head(1))
    bad = failing(verify_lake_contract(CONTRACTS["silver.account_company"], LakeFiles(str(lake_copy)), PATHS, VARIABLES))
    assert set(bad) == {"id_unique"}
    assert bad["id_unique"].diagnostics["duplicate_count"] == 1


def test_an_invalid_tin_in_silver_fails_only_the_tin_rule(lake_copy):
    path = lake_copy / PATHS["silver.account_company"]
    companies = _read(path)
    victim = companies.filter(pl.col("tin").is_not_null())["id"][0]
    companies = companies.with_columns(pl.when(pl.col("id") == victim).then(pl.lit("12345")).otherwise(pl.col("tin"))
                                       .alias("tin"))
    write_deltalake(str(path), companies.to_arrow(), mode="overwrite")
    bad = failing(verify_lake_contract(CONTRACTS["silver.account_company"], LakeFiles(str(lake_copy)), PATHS, VARIABLES))
    assert set(bad) == {"tin_12_digits"}
    assert bad["tin_12_digits"].diagnostics["invalid_count"] == 1


def test_a_fact_pointing_at_a_missing_dimension_version_fails_its_foreign_key(lake_copy):
    path = lake_copy / PATHS["silver.fact_requests"]
    facts = _read(path)
    orphan = facts.head(1).with_columns(pl.lit(facts["request_id"].max() + 1).alias("request_id"),
                                        pl.lit(-42, pl.Int64).alias("company_sk"))
    _append(path, orphan)
    bad = failing(verify_lake_contract(CONTRACTS["silver.fact_requests"], LakeFiles(str(lake_copy)), PATHS, VARIABLES))
    assert set(bad) == {"company_sk_resolves"}
    assert bad["company_sk_resolves"].diagnostics["invalid_count"] == 1


def test_an_empty_table_only_warns_even_where_soda_cannot_measure(lake_copy):
    path = lake_copy / PATHS["silver.core_vacancy"]
    write_deltalake(str(path), _read(path).clear().to_arrow(), mode="overwrite")
    measured = {m.check.name: m for m in verify_lake_contract(CONTRACTS["silver.core_vacancy"], LakeFiles(str(lake_copy)),
                                                               PATHS, VARIABLES)}
    # no rows: no newest updated_at to measure freshness on; both rules are warnings, so they warn
    assert measured["has_rows"].outcome == "warn" and measured["has_rows"].value == 0
    assert measured["fresh"].outcome == "warn" and measured["fresh"].value is None
    assert failing(measured.values()) == {}


def _second_current_version(lake_root) -> None:
    """Give one user a second current version (a copy of their open one under another surrogate key)."""
    path = lake_root / PATHS["silver.dim_user"]
    current = _read(path).filter(pl.col("is_current")).head(1)
    _append(path, current.with_columns(pl.col("user_sk") + 1))


def test_two_current_versions_of_a_dimension_key_fail_the_scd2_rules(lake_copy):
    _second_current_version(lake_copy)
    bad = failing(verify_lake_contract(CONTRACTS["silver.dim_user"], LakeFiles(str(lake_copy)), PATHS, VARIABLES))
    # two open versions of one key are also two overlapping ones: both SCD2 rules say so, nothing else
    assert set(bad) == {"one_current_version", "no_overlapping_validity"}
    assert bad["one_current_version"].diagnostics["duplicate_count"] == 1
    assert bad["no_overlapping_validity"].value == 1


def test_a_failing_blocking_check_stops_the_downstream_asset_in_the_same_run(quality_lake, lake_copy, dagster_instance):
    url, _, _ = quality_lake
    _second_current_version(lake_copy)
    fact_path = lake_copy / PATHS["silver.fact_requests"]
    fact_version = DeltaTable(str(fact_path)).version()
    defs = definitions(url, lake_copy)
    keys = [dg.AssetKey(["silver", "dim", "dim_user"]), dg.AssetKey(["silver", "fact", "fact_requests"])]
    result = dg.materialize([*(defs.resolve_assets_def(k) for k in keys), *checks_of(defs, keys)],
                            selection=keys, instance=dagster_instance, raise_on_error=False)
    assert not result.success
    materialized = {e.asset_key for e in result.get_asset_materialization_events()}
    assert materialized == {keys[0]}  # the dimension was written, the fact was not
    assert {e.step_key for e in result.get_step_failure_events()} == {"quality_silver_dim_user"}
    started = {e.step_key for e in result.all_events if e.event_type_value == "STEP_START"}
    assert "silver_dim_dim_user" in started and "silver_fact_requests" not in started
    assert DeltaTable(str(fact_path)).version() == fact_version


def test_the_quality_mart_appends_each_run_and_shows_the_latest_figures(quality_lake, lake_copy, dagster_instance):
    url, _, _ = quality_lake
    defs = definitions(url, lake_copy)
    rules = sum(len(c.checks) for c in CONTRACTS.values() if c.target.asset_key != DQ_REPORT_KEY)
    earlier = _read(lake_copy / DQ_REPORT_PATH)  # the fixture's refresh made the first report
    for _ in range(2):
        assert dg.materialize([defs.resolve_assets_def(DQ_REPORT_KEY)], instance=dagster_instance).success
    metadata = dagster_instance.get_latest_materialization_event(DQ_REPORT_KEY).asset_materialization.metadata
    history = _read(lake_copy / DQ_REPORT_PATH)
    assert earlier.height == rules and history.height == 3 * rules
    assert history["checked_at"].n_unique() == 3 and history["run_id"].n_unique() == 3
    order = ["table_name", "rule"]
    kept = history.filter(pl.col("run_id").is_in(earlier["run_id"].implode())).sort(order)
    assert kept.equals(earlier.sort(order))  # appended, never rewritten
    assert metadata["rows_appended"].value == rules
    assert metadata["dagster/row_count"].value == history.height
    latest = history.filter(pl.col("checked_at") == pl.col("checked_at").max())
    assert latest.filter(pl.col("level") == "error")["outcome"].unique().to_list() == ["pass"]
    assert set(latest["layer"]) == {"source", "silver", "gold"}
    tin = latest.filter((pl.col("table_name") == "source.account_company") & (pl.col("rule") == "tin_12_digits"))
    assert tin["measured_value"].to_list() == [0.0]
    table = metadata["latest"].value
    assert "| source.account_company | bank_present_when_verified | warn |" in table
    # one line per rule of the latest run, counts whole (a row count is not rounded)
    assert table == latest_table(history) and table.count("\n") == rules + 1
    companies = latest.filter((pl.col("table_name") == "silver.account_company") & (pl.col("rule") == "has_rows"))
    assert f"| silver.account_company | has_rows | warn | {int(companies['measured_value'][0])} | pass |" in table
    assert metadata["rules_fail"].value == 0 and metadata["rules_pass"].value > 0


def test_soda_never_calls_out(quality_lake, monkeypatch):
    url, root, _ = quality_lake
    assert os.environ["SODA_CORE_TELEMETRY_ENABLED"] == "false"
    addresses = []
    real_connect = socket.socket.connect

    def recording_connect(self, address):
        addresses.append(address)
        return real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", recording_connect)
    verify_lake_contract(CONTRACTS["silver.fact_requests"], LakeFiles(str(root)), PATHS, VARIABLES)
    verify_source_contract(CONTRACTS["source.account_user"], url, 60_000, VARIABLES)
    remote = [a for a in addresses if isinstance(a, tuple) and a[0] not in ("127.0.0.1", "::1", "localhost")]
    assert remote == []
