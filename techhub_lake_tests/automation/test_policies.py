"""Freshness and declarative automation on a real Dagster instance: every asset carries a policy;
the daemon's own freshness evaluation fails a stale asset and passes a fresh one; silver follows
new bronze data at most once per interval; schedules and sensors are defined running."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import dagster as dg
from dagster._core.test_utils import create_test_daemon_workspace_context, freeze_time
from dagster._core.workspace.load_target import ModuleTarget
from dagster._daemon.freshness import FreshnessDaemon

from techhub_lake.automation.definitions import AUTOMATION_SENSOR
from techhub_lake.automation.policies import AUTOMATION_SLACK
from techhub_lake.catalog import load_catalog
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting
from techhub_lake_tests.helpers import definitions_for

CATALOG = load_catalog()
USER_BRONZE = dg.AssetKey(["bronze", "account", "user"])
USER_SILVER = dg.AssetKey(["silver", "account", "user"])


def test_every_asset_has_a_freshness_policy_from_the_catalog(lake_defs):
    graph = lake_defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        assert graph.get(key).freshness_policy is not None, key.to_user_string()
    actionlog = graph.get(dg.AssetKey(["bronze", "core", "actionlog"])).freshness_policy
    assert actionlog.fail_window.to_timedelta() == dt.timedelta(minutes=15)  # append
    assert graph.get(USER_BRONZE).freshness_policy.fail_window.to_timedelta() == dt.timedelta(minutes=30)
    assert graph.get(dg.AssetKey(["bronze", "core", "city"])).freshness_policy.fail_window.to_timedelta() == dt.timedelta(days=1)
    # silver and gold: the tightest bronze they are built from, plus the time automation takes
    assert graph.get(USER_SILVER).freshness_policy.fail_window.to_timedelta() == dt.timedelta(minutes=30) + AUTOMATION_SLACK
    companies = graph.get(dg.AssetKey(["bronze", "account", "company"])).freshness_policy
    assert companies.fail_window.to_timedelta() == dt.timedelta(minutes=10)  # captured (cdc)
    users = graph.get(dg.AssetKey(["gold", "techhub", "dm_users"])).freshness_policy  # reads companies too
    assert users.fail_window.to_timedelta() == dt.timedelta(minutes=10) + AUTOMATION_SLACK
    assert graph.get(USER_SILVER).automation_condition is not None
    assert graph.get(USER_BRONZE).automation_condition is None  # bronze is driven by the source-change sensor
    # a publication follows its mart, with the same automation; the quality report's publication is held
    # to the report's own daily pace (26 h), not to the bronze tables the report reads
    published = graph.get(dg.AssetKey(["serve", "analytics", "dm_users"]))
    assert published.freshness_policy.fail_window.to_timedelta() == dt.timedelta(minutes=10) + AUTOMATION_SLACK
    assert published.automation_condition is not None and published.group_name == "serve"
    report = graph.get(dg.AssetKey(["serve", "analytics", "dq_report"])).freshness_policy
    assert report.fail_window.to_timedelta() == dt.timedelta(hours=26) + AUTOMATION_SLACK


def test_schedules_and_sensors_start_running(lake_defs):
    sensors = {s.name: s for s in lake_defs.sensors}
    assert set(sensors) == {"source_change_sensor", "cdc_sensor", "funnel_months_sensor", "run_failure_sensor",
                            AUTOMATION_SENSOR, "dead_runs_sensor", "quality_alert_sensor", "freshness_alert_sensor",
                            "schema_drift_sensor"}
    # each daily bronze asset also has a per-partition deadline check and a coverage check
    daily_keys = {dg.AssetKey(["bronze", t.module, t.short_name]) for t in CATALOG.lake_tables
                  if t.partitioning.value == "daily"}
    for name in ("partition_deadline", "rows_outside_partitions"):
        assert {key.asset_key for checks in lake_defs.asset_checks for key in checks.check_keys if key.name == name} == daily_keys
    assert all(s.default_status == dg.DefaultSensorStatus.RUNNING for s in sensors.values())
    schedules = {s.name: s for s in lake_defs.schedules}
    assert set(schedules) == {"daily_full_loads", "nightly_reconciliation", "quality_report", "lake_upkeep"}
    assert all(s.default_status == dg.DefaultScheduleStatus.RUNNING for s in schedules.values())
    assert all(s.execution_timezone == "Asia/Almaty" for s in schedules.values())
    # the reconciliation job turns reconcile on for every incremental and append-only silver table
    reconcile = lake_defs.resolve_job_def("nightly_reconciliation")
    daily = [t for t in CATALOG.lake_tables if t.strategy.value in ("incremental", "append")]
    assert {t.strategy.value for t in daily} == {"incremental", "append"}
    # ... and runs their quality contracts with them
    assert {node.name for node in reconcile.graph.node_defs} == {f"silver_{t.name}" for t in daily} | {
        f"quality_silver_{t.name}" for t in daily}


def freshness_states(instance: dg.DagsterInstance, keys: list[dg.AssetKey], module_dir: Path) -> dict[dg.AssetKey, str]:
    """One iteration of Dagster's own freshness daemon over the definitions, then the states it recorded."""
    target = ModuleTarget(module_name="techhub_lake.definitions", attribute="defs", working_directory=str(module_dir),
                          location_name="techhub_lake")
    with create_test_daemon_workspace_context(target, instance) as context:
        daemon = FreshnessDaemon()
        daemon._logger = logging.getLogger("freshness-test")  # the daemon normally sets it up
        list(daemon.run_iteration(context))
    records = instance.get_freshness_state_records(keys)
    return {key: records[key].freshness_state.value for key in keys if key in records}


def test_the_freshness_daemon_fails_a_stale_asset_and_passes_a_fresh_one(dagster_instance):
    city, user = dg.AssetKey(["bronze", "core", "city"]), USER_SILVER
    for key in (city, user):
        dagster_instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=key))
    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=2)  # user's silver allows 1 h, city's bronze a day
    with freeze_time(later):
        states = freshness_states(dagster_instance, [city, user], Path(__file__).parents[2])
    assert states == {city: "PASS", user: "FAIL"}


def test_silver_follows_new_bronze_once_per_update(new_database, tmp_path, dagster_instance):
    url = new_database()
    init_source(url, scale=0.002, seed=4)
    catalog = catalog_starting(tmp_path, "2026-11-01")
    local = definitions_for(catalog, url, tmp_path / "lake")
    today = local.resolve_assets_def(USER_BRONZE).partitions_def.get_last_partition_key()

    def bronze_run() -> None:
        assert dg.materialize([local.resolve_assets_def(USER_BRONZE)], instance=dagster_instance, partition_key=today).success

    def evaluate(cursor):
        result = dg.evaluate_automation_conditions(defs=local, instance=dagster_instance, cursor=cursor,
                                                   asset_selection=dg.AssetSelection.assets(USER_SILVER))
        return result.get_num_requested(USER_SILVER), result.cursor

    requested, cursor = evaluate(None)
    assert requested == 0  # nothing upstream has changed yet
    bronze_run()
    requested, cursor = evaluate(cursor)
    assert requested == 1  # new bronze data: silver is requested
    requested, cursor = evaluate(cursor)
    assert requested == 0  # handled: no new request without new data
    bronze_run()
    bronze_run()  # two updates between evaluations: one request takes both
    requested, cursor = evaluate(cursor)
    assert requested == 1
    # an upstream run in progress holds silver back
    bronze_run()
    run = dagster_instance.create_run_for_job(local.resolve_implicit_global_asset_job_def(), asset_selection={USER_BRONZE},
                                              tags={"dagster/partition": today})
    dagster_instance.handle_run_event(run.run_id, dg.DagsterEvent(
        event_type_value=dg.DagsterEventType.PIPELINE_START.value, job_name=run.job_name, message="started"))
    requested, cursor = evaluate(cursor)
    assert requested == 0
    dagster_instance.handle_run_event(run.run_id, dg.DagsterEvent(
        event_type_value=dg.DagsterEventType.PIPELINE_SUCCESS.value, job_name=run.job_name, message="done"))
    bronze_run()  # the upstream run's own data lands when it ends
    requested, cursor = evaluate(cursor)
    assert requested == 1


def test_a_partition_deadline_warns_until_yesterday_is_in_the_lake(lake_defs, dagster_instance):
    from zoneinfo import ZoneInfo

    from techhub_lake.automation.policies import PARTITION_DEADLINE_CHECK

    check_key = dg.AssetCheckKey(USER_BRONZE, PARTITION_DEADLINE_CHECK)
    (deadline,) = [c for c in lake_defs.asset_checks if check_key in c.check_keys]
    assert deadline.get_spec_for_check_key(check_key).automation_condition is not None  # the sensor runs it at 01:00

    def evaluate() -> dg.AssetCheckEvaluation:
        result = dg.materialize([lake_defs.resolve_assets_def(USER_BRONZE), deadline], instance=dagster_instance,
                                selection=dg.AssetSelection.checks(check_key))
        (evaluation,) = result.get_asset_check_evaluations()
        return evaluation

    late = evaluate()
    assert (late.passed, late.severity) == (False, dg.AssetCheckSeverity.WARN)
    yesterday = (dt.datetime.now(ZoneInfo(CATALOG.defaults.timezone)).date() - dt.timedelta(days=1)).isoformat()
    assert late.metadata["partition"].value == yesterday
    dagster_instance.report_runless_asset_event(dg.AssetMaterialization(asset_key=USER_BRONZE, partition=yesterday))
    assert evaluate().passed
