"""The one Dagster ``Definitions`` of techhub-lake: ``dagster dev -m techhub_lake.definitions``.

Loading it never touches the source database or the lake; the graph is built from the catalog.
"""

from __future__ import annotations

import os

import dagster as dg

from techhub_lake.automation.policies import (
    apply_policies,
    automation_interval_minutes,
    partition_deadline_checks,
)
from techhub_lake.automation.recovery import dead_runs_sensor
from techhub_lake.automation.schedules import build_schedules
from techhub_lake.automation.sensors import (
    build_funnel_sensor,
    build_source_change_sensor,
    run_failure_sensor,
)
from techhub_lake.automation.upkeep import upkeep_schedule
from techhub_lake.bronze.assets import build_bronze_assets
from techhub_lake.catalog import Catalog, load_catalog
from techhub_lake.gold.assets import build_gold_assets
from techhub_lake.gold.marts import FUNNEL
from techhub_lake.gold.store import gold_key
from techhub_lake.quality.checks import build_quality_checks
from techhub_lake.quality.coverage import build_coverage_checks
from techhub_lake.quality.report import build_dq_report_asset
from techhub_lake.resources import build_resources
from techhub_lake.settings import CATALOG_ENV, EXECUTOR_ENV
from techhub_lake.silver.assets import build_silver_assets
from techhub_lake.silver.dimension_assets import build_dimension_assets
from techhub_lake.silver.techpark_assets import build_techpark_silver_assets

AUTOMATION_SENSOR = "techhub_automation"


def run_executor() -> dg.ExecutorDefinition | None:
    """How a run executes its steps: Dagster's default (each step a process of the run) unless
    ``$TECHHUB_EXECUTOR=k8s``, where each step is a Kubernetes pod of its own (the Helm deployment,
    ``deploy/helm/values.yaml``; needs ``techhub-lake[k8s]``)."""
    chosen = os.environ.get(EXECUTOR_ENV, "").strip().lower()
    if chosen in ("", "multiprocess"):
        return None
    if chosen != "k8s":
        raise ValueError(f"${EXECUTOR_ENV}={chosen!r}: use multiprocess (the default) or k8s")
    try:
        from dagster_k8s import k8s_job_executor
    except ImportError:
        raise ValueError(f"${EXECUTOR_ENV}=k8s needs dagster-k8s: pip install 'techhub-lake[k8s]'") from None
    return k8s_job_executor


def deadline_keys(checks: list[dg.AssetChecksDefinition]) -> list[dg.AssetCheckKey]:
    """The check keys of some checks definitions."""
    return [key for definition in checks for key in definition.check_keys]


def build_definitions(catalog: Catalog, resources: dict | None = None) -> dg.Definitions:
    """The asset graph, its freshness policies and automation, sensors and schedules, for a catalog
    and a set of resources (the environment's where not given)."""
    assets = [*build_bronze_assets(catalog), *build_silver_assets(catalog), *build_dimension_assets(catalog),
              *build_techpark_silver_assets(catalog), *build_gold_assets(catalog), build_dq_report_asset(catalog)]
    deadlines = partition_deadline_checks(assets, catalog)
    return dg.Definitions(
        assets=apply_policies(assets, catalog, skip_conditions={gold_key(FUNNEL)}),
        asset_checks=[*deadlines, *build_coverage_checks(assets, catalog), *build_quality_checks(catalog)],
        sensors=[
            build_source_change_sensor(catalog),
            build_funnel_sensor(catalog),
            run_failure_sensor,
            dead_runs_sensor,
            # evaluates the silver and gold automation conditions (and the bronze partition deadlines'
            # cron tick) once per interval; running from the start
            dg.AutomationConditionSensorDefinition(
                AUTOMATION_SENSOR,
                target=dg.AssetSelection.groups("silver", "gold") | dg.AssetSelection.checks(*deadline_keys(deadlines)),
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=60 * automation_interval_minutes()),
        ],
        schedules=[*build_schedules(catalog), upkeep_schedule(catalog.defaults.timezone)],
        resources=build_resources() | (resources or {}),
        executor=run_executor(),
    )


catalog = load_catalog(os.environ.get(CATALOG_ENV) or None)
defs = build_definitions(catalog)
