"""`techhub-lake refresh`: on an empty lake every partition, afterwards only the lookback window;
real runs on a real Dagster instance."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import duckdb
import pytest

from techhub_lake.automation.refresh import plan_refresh, refresh_lake
from techhub_lake.catalog import Strategy
from techhub_lake.quality.targets import DQ_REPORT_KEY
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting, query
from techhub_lake_tests.helpers import check_evaluations, definitions_for

pytestmark = pytest.mark.slow  # whole refreshes of a lake through Dagster


def test_refresh_loads_every_partition_then_only_the_lookback(new_database, tmp_path, dagster_instance):
    url = new_database()
    init_source(url, scale=0.005, seed=8)
    catalog = catalog_starting(tmp_path, "2026-10-25")
    lake = tmp_path / "lake"
    defs = definitions_for(catalog, url, lake)
    today = dt.datetime.now(ZoneInfo("Asia/Almaty")).date()

    lines: list[str] = []
    first = refresh_lake(None, lines.append, defs=defs, catalog=catalog, instance=dagster_instance, checks=False)
    this_month = today.replace(day=1).isoformat()
    assert [str(run.partition_range) for run in first][2:] == ["None", "None", str(("2026-10-01", this_month)), "None",
                                                               "None"]
    assert sorted(str(run.partition_range) for run in first[:2]) == sorted(["None", str(("2026-10-25", today.isoformat()))])
    # layer after layer: bronze, then the silver it feeds, then gold (the marts, then the funnel's months),
    # then the quality report, which reads them all, the funnel's months included; last the warehouse's
    # publication of every gold table
    assert [{k.path[0] for k in run.keys} for run in first] == [{"bronze"}, {"bronze"}, {"silver"}, {"gold"}, {"gold"},
                                                                {"gold"}, {"serve"}]
    assert first[-2].keys == (DQ_REPORT_KEY,) and len(first[-1].keys) == 13
    # asked to skip them, the runs held no quality check
    assert not check_evaluations(dagster_instance)
    all_days = [(dt.date(2026, 10, 25) + dt.timedelta(days=n)).isoformat() for n in range((today - dt.date(2026, 10, 25)).days + 1)]
    for table in catalog.lake_tables:
        key = dg.AssetKey(["bronze", table.module, table.short_name])
        if table.strategy in (Strategy.FULL, Strategy.CDC):  # unpartitioned: a snapshot, a drain
            assert dagster_instance.get_latest_materialization_event(key) is not None, table.name
        else:
            assert sorted(dagster_instance.get_materialized_partitions(key)) == all_days, table.name
    assert any(line.startswith("refresh run 7:") for line in lines)

    # the lake holds exactly the source's rows of the window
    in_lake = duckdb.sql(f"SELECT count(*) FROM read_parquet('{lake}/bronze/techhub/core/actionlog/**/*.parquet')").fetchall()[0][0]
    in_source = query(url, "SELECT count(*) FROM core_actionlog WHERE created_at >= '2026-10-25 00:00+05'")[0][0]
    assert in_lake == in_source > 0
    from deltalake import DeltaTable

    silver = DeltaTable(str(lake / "silver/techhub/core/actionlog")).to_pyarrow_table()
    assert silver.num_rows == in_source

    second = plan_refresh(defs, catalog, dagster_instance)
    spans = {run.partition_range for run in second}  # nothing changed: no funnel month is planned
    assert spans == {None, ((today - dt.timedelta(days=2)).isoformat(), today.isoformat()),
                     ((today - dt.timedelta(days=1)).isoformat(), today.isoformat())}
    incremental = next(run for run in second if run.partition_range and run.partition_range[0] == (today - dt.timedelta(days=2)).isoformat())
    assert dg.AssetKey(["bronze", "account", "user"]) in incremental.keys
    assert dg.AssetKey(["bronze", "core", "actionlog"]) not in incremental.keys  # append: one day of lookback


def test_refresh_of_a_selection(new_database, tmp_path, dagster_instance):
    url = new_database()
    init_source(url, scale=0.002, seed=9)
    catalog = catalog_starting(tmp_path, "2026-11-01")
    defs = definitions_for(catalog, url, tmp_path / "lake")
    plan = refresh_lake("key:bronze/core/city", lambda _: None, defs=defs, catalog=catalog, instance=dagster_instance)
    assert [run.keys for run in plan] == [(dg.AssetKey(["bronze", "core", "city"]),)]


def test_one_tables_failure_fails_its_assets_only_and_the_refresh_finishes_the_rest(new_database, tmp_path,
                                                                                    dagster_instance):
    import psycopg2
    import pytest

    from techhub_lake.automation.errors import RefreshFailed

    url = new_database()
    init_source(url, scale=0.005, seed=12)
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:  # another database: a column the catalog names is not there
        cur.execute("ALTER TABLE account_activation DROP COLUMN code")
    conn.close()
    catalog = catalog_starting(tmp_path, "2026-10-25")
    lake = tmp_path / "lake"
    defs = definitions_for(catalog, url, lake)
    lines: list[str] = []
    with pytest.raises(RefreshFailed) as failed:
        refresh_lake(None, lines.append, defs=defs, catalog=catalog, instance=dagster_instance, checks=False)
    message = str(failed.value)
    assert "\n" not in message
    # skipped: what is built from it (the quality report reads every table it checks)
    assert message.startswith("the refresh failed for 1 asset(s) (bronze/account/activation) and skipped 3 built "
                              "from them (gold/quality/dq_report, serve/analytics/dq_report, silver/account/activation); "
                              "every other asset is up to date."), message
    assert "column 'code' is not in source table" in message
    # everything else reached gold
    for key in (dg.AssetKey(["silver", "account", "user"]), dg.AssetKey(["gold", "techhub", "dm_users"]),
                dg.AssetKey(["gold", "techpark", "dq_metrics"])):
        assert dagster_instance.get_latest_materialization_event(key) is not None, key
    assert dagster_instance.get_latest_materialization_event(dg.AssetKey(["silver", "account", "activation"])) is None
