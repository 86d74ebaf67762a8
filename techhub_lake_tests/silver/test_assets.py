"""Silver assets as Dagster runs them: bronze -> silver current state -> child tables, metadata,
and a source column added by a migration flowing into the Delta schema."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import polars as pl
import pytest
from deltalake import DeltaTable

from techhub_lake.source.churn import churn_source
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting
from techhub_lake_tests.helpers import definitions_for

ALMATY = ZoneInfo("Asia/Almaty")


def materialize(defs, instance, selection: str, **kwargs) -> dg.ExecuteInProcessResult:
    keys = dg.AssetSelection.from_string(selection).required_multi_asset_neighbors().resolve(defs.resolve_asset_graph())
    return dg.materialize([defs.resolve_assets_def(k) for k in keys], instance=instance, selection=list(keys), **kwargs)


def test_bronze_to_silver_to_child_tables_with_metadata_and_schema_evolution(new_database, tmp_path, dagster_instance):
    url = new_database()
    init_source(url, scale=0.01, seed=31)
    catalog = catalog_starting(tmp_path, "2026-10-01")
    lake = tmp_path / "lake"
    defs = definitions_for(catalog, url, lake)
    today = dt.datetime.now(ALMATY).date().isoformat()
    days = {"dagster/asset_partition_range_start": "2026-10-01", "dagster/asset_partition_range_end": today}
    materialize(defs, dagster_instance, "key:bronze/account/user or key:bronze/service/hubformdata", tags=days)
    materialize(defs, dagster_instance, "key:bronze/account/company")  # captured: the stream step
    result = materialize(defs, dagster_instance, 'key:"silver/account/*" or key:"silver/service/hubformdata*"'
                         ' and not key:silver/account/usercompany and not key:silver/account/activation')
    user = result.asset_materializations_for_node("silver_account_user")[0].metadata
    assert user["rows_inserted"].value == user["dagster/row_count"].value > 0
    assert {"quality/dq_data_goals_missing", "quality/not_dq_has_email"} <= set(user)
    assert "goal_vacancies" in {c.name for c in user["dagster/column_schema"].value.columns}
    tags = result.asset_materializations_for_node("silver_account_company_tags")[0].metadata
    fields = result.asset_materializations_for_node("silver_service_hubformdata_fields")[0].metadata
    companies = pl.from_arrow(DeltaTable(str(lake / "silver/techhub/account/company")).to_pyarrow_table())
    expected_tags = sum(companies[c].drop_nulls().len() for c in ("tag_startup", "tag_it_company", "tag_techpark",
                                                                 "tag_ts_member"))
    assert tags["dagster/row_count"].value == expected_tags
    long = pl.from_arrow(DeltaTable(str(lake / "silver/techhub/service/hubformdata_fields")).to_pyarrow_table())
    assert set(long.columns) == {"hubformdata_id", "form_id", "field", "value", "value_type", "_parent_row_hash"}
    assert fields["dagster/row_count"].value == long.height > 0
    assert fields["parent_rows_built"].value == fields["parent_rows"].value
    # built again with no submission changed: nothing parsed, the same rows
    again = materialize(defs, dagster_instance, 'key:"silver/service/hubformdata_fields"')
    unchanged = again.asset_materializations_for_node("silver_service_hubformdata_fields")[0].metadata
    assert unchanged["parent_rows_built"].value == 0 and unchanged["dagster/row_count"].value == long.height
    submissions = pl.from_arrow(DeltaTable(str(lake / "silver/techhub/service/hubformdata")).to_pyarrow_table())
    assert set(long["hubformdata_id"].to_list()) <= set(submissions["id"].to_list())
    assert "Risks" in set(long["field"].to_list())  # every form has its first field

    # a migration adds account_user.telegram: bronze picks it up, silver's Delta schema evolves
    # the churned rows sit on the churn's own day, which is not the test's first day when it runs across
    # midnight in Almaty
    churned = churn_source(url, seed=32, migrate=True)
    churn_day = churned.at.astimezone(ALMATY).date().isoformat()
    materialize(defs, dagster_instance, "key:bronze/account/user",
                tags={"dagster/asset_partition_range_start": churn_day, "dagster/asset_partition_range_end": churn_day})
    again = materialize(defs, dagster_instance, "key:silver/account/user")
    meta = again.asset_materializations_for_node("silver_account_user")[0].metadata
    assert "telegram" in {c.name for c in meta["dagster/column_schema"].value.columns}
    assert meta["rows_inserted"].value + meta["rows_updated"].value > 0
    silver = pl.from_arrow(DeltaTable(str(lake / "silver/techhub/account/user")).to_pyarrow_table())
    assert silver["telegram"].drop_nulls().len() > 0


@pytest.mark.slow
def test_refresh_builds_dimensions_and_the_fact_and_churn_adds_versions(new_database, tmp_path, dagster_instance):
    from techhub_lake.automation.refresh import refresh_lake

    url = new_database()
    init_source(url, scale=0.01, seed=41)
    # move every user, company and request into the short history this test loads, so churn's
    # changes and deletes hit rows silver already has
    import psycopg2

    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        for name in ("account_user", "account_company", "service_servicerequest"):
            cur.execute(f"UPDATE {name} SET updated_at = timestamptz '2026-10-25 12:00+05' + mod(id, 40) * interval '1 hour'")
    conn.close()
    catalog = catalog_starting(tmp_path, "2026-10-20")
    lake = tmp_path / "lake"
    defs = definitions_for(catalog, url, lake)
    refresh_lake(None, lambda _: None, defs=defs, catalog=catalog, instance=dagster_instance, checks=False)

    def table(path: str) -> pl.DataFrame:
        return pl.from_arrow(DeltaTable(str(lake / "silver/techhub" / path)).to_pyarrow_table())

    requests, facts = table("service/servicerequest"), table("fact/fact_requests")
    assert facts.height == requests.height and set(facts["request_id"]) == set(requests["id"])
    users_before = table("dim/dim_user")
    assert users_before.filter(pl.col("is_current")).height == table("account/user").height

    churn_source(url, seed=42)
    refresh_lake(None, lambda _: None, defs=defs, catalog=catalog, instance=dagster_instance, checks=False)
    users_after = table("dim/dim_user")
    current = users_after.filter(pl.col("is_current"))
    assert current.height == table("account/user").height  # one current version per live user
    assert current["user_id"].n_unique() == current.height
    assert users_after.height > users_before.height  # changes and deletes added or closed versions
    closed = users_after.filter(~pl.col("is_current"))
    assert closed.height > 0 and closed["valid_to"].null_count() == 0
    overlaps = users_after.sort("user_id", "valid_from").with_columns(
        pl.col("valid_from").shift(-1).over("user_id").alias("next_from")).filter(
        pl.col("next_from").is_not_null() & (pl.col("valid_to") > pl.col("next_from")))
    assert overlaps.height == 0  # no overlapping validity
    # the daily deep reconciliation (`refresh --reconcile`) repairs the silent updates churn made
    refresh_lake("key:silver/*", lambda _: None, defs=defs, catalog=catalog, instance=dagster_instance, reconcile=True,
                 checks=False)
    event = dagster_instance.get_latest_materialization_event(dg.AssetKey(["silver", "account", "user"]))
    meta = event.asset_materialization.metadata
    assert meta["reconciliation/rows_checked"].value == table("account/user").height
    assert meta["reconciliation/rows_repaired"].value > 0
