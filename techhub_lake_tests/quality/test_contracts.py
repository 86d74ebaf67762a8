"""Composing the contracts: the generated checks, the files' checks, levels, and one-line errors for
a bad contract file. No lake needed."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from techhub_lake.catalog import load_catalog
from techhub_lake.quality.contracts import CONTRACTS_DIR, ContractError, load_contracts
from techhub_lake.quality.targets import lake_targets
from techhub_lake_tests.helpers import packaged_lake_tables

CATALOG = load_catalog()


@pytest.fixture
def contracts_dir(tmp_path) -> Path:
    """A copy of the packaged contracts to spoil."""
    return Path(shutil.copytree(CONTRACTS_DIR, tmp_path / "contracts"))


def by_table(contracts) -> dict:
    return {c.target.sql_name: c for c in contracts}


def test_every_silver_and_gold_asset_has_a_contract_with_key_and_row_checks(lake_defs):
    contracts = by_table(load_contracts(packaged_lake_tables()))
    lake_assets = {spec.key for spec in lake_defs.resolve_all_asset_specs() if spec.key.path[0] in ("silver", "gold")}
    assert {t.asset_key for t in lake_targets(packaged_lake_tables())} == lake_assets
    for target in lake_targets(packaged_lake_tables()):
        names = {c.name for c in contracts[target.sql_name].checks}
        assert "has_rows" in names, target.sql_name
        assert {f"{k}_present" for k in target.key} <= names, target.sql_name
        assert (f"{target.key[0]}_unique" if len(target.key) == 1 else "key_unique") in names, target.sql_name


def test_the_plans_source_rules_are_on_the_source_with_their_levels():
    source = by_table(load_contracts(packaged_lake_tables()))
    levels = {(t, c.name): c.level for t in ("source.account_user", "source.account_company", "source.core_vacancy",
                                             "source.service_servicerequest") for c in source[t].checks}
    assert levels[("source.account_user", "email_present_when_active")] == "warn"
    # what the source may get wrong warns (silver cleans the TIN): dirty data never stops the lake
    assert levels[("source.account_company", "tin_12_digits")] == "warn"
    assert levels[("source.account_company", "tin_unique")] == "warn"
    assert {levels[("source.account_company", f"{c}_present_when_verified")] for c in ("bank", "iik", "bik")} == {"warn"}
    assert ("source.core_vacancy", "salary_range_ordered") in levels
    assert ("source.service_servicerequest", "company_id_missing_rate") in levels


def test_dimensions_get_the_scd2_invariants_and_facts_their_foreign_keys():
    contracts = by_table(load_contracts(packaged_lake_tables()))
    for dim in ("dim_user", "dim_company", "dim_service"):
        names = {c.name for c in contracts[f"silver.{dim}"].checks}
        assert {"one_current_version", "no_overlapping_validity", "current_is_open", "validity_forward"} <= names
    fact = contracts["silver.fact_requests"]
    assert set(fact.references) == {"silver.dim_user", "silver.dim_company", "silver.dim_service"}
    assert {c.level for c in fact.checks if c.name.endswith("_resolves")} == {"error"}


def test_a_file_check_replaces_the_generated_one_of_the_same_name(contracts_dir):
    path = contracts_dir / "silver" / "core_city.yaml"
    path.write_text(yaml.safe_dump({"checks": [
        {"row_count": {"qualifier": "has_rows", "name": "At least 3 cities",
                       "threshold": {"must_be_greater_than_or_equal": 3}}}]}))
    city = by_table(load_contracts(packaged_lake_tables(), contracts_dir))["silver.core_city"]
    assert [c for c in city.checks if c.name == "has_rows"] == [city.check("has_rows")]
    assert city.check("has_rows").level == "error" and city.check("has_rows").description == "At least 3 cities"


def test_every_contract_file_names_a_table_of_the_packaged_lake(contracts_dir):
    from techhub_lake.quality.contracts import contracts_without_table

    assert contracts_without_table(packaged_lake_tables()) == []
    (contracts_dir / "silver" / "no_such_table.yaml").write_text("columns: []\n")  # a misnamed file is found
    assert contracts_without_table(packaged_lake_tables(), contracts_dir) == [contracts_dir / "silver" / "no_such_table.yaml"]


@pytest.mark.parametrize(("name", "text", "message"), [
    ("silver/account_company.yaml", "columns: [\n", "not valid YAML"),
    ("silver/account_company.yaml", "dataset: x\ncolumns: []\n", "unknown top-level key(s) ['dataset']"),
    ("silver/account_company.yaml",
     "columns:\n  - name: tin\n    checks:\n      - missing: {qualifier: id_unique}\n",
     "two checks of the table are named 'id_unique'"),
    ("silver/account_company.yaml", "columns:\n  - name: tin\n    checks:\n      - missing: {qualifier: 'a b'}\n",
     "only letters, digits and _"),
    ("gold/dm_users.yaml", "checks:\n  - failed_rows: {query: select * from silver.nowhere}\n",
     "refers to silver.nowhere"),
])
def test_a_bad_contract_file_fails_with_one_line_naming_it(contracts_dir, name, text, message):
    (contracts_dir / name).write_text(text)
    with pytest.raises(ContractError) as raised:
        load_contracts(packaged_lake_tables(), contracts_dir)
    assert message in str(raised.value)
    assert str(contracts_dir / name) in str(raised.value)
    assert "\n" not in str(raised.value)
