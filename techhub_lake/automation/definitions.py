"""Automation's Dagster definitions: what keeps the layers' assets fresh.

Given the layers' definitions, it returns them with every asset's freshness policy and automation
condition applied (``policies``), plus the bronze partition-deadline checks, the sensors (source
changes, the funnel's months, failed and dead runs, alerts on quality and freshness changes,
declarative automation) and the schedules.
"""

from __future__ import annotations

import dagster as dg

from techhub_lake.automation.alert_sensors import build_quality_alert_sensor, freshness_alert_sensor
from techhub_lake.automation.drift_sensor import build_schema_drift_sensor
from techhub_lake.automation.policies import apply_policies, partition_deadline_checks
from techhub_lake.automation.recovery import dead_runs_sensor
from techhub_lake.automation.schedules import build_schedules
from techhub_lake.automation.sensors import (
    build_cdc_sensor,
    build_funnel_sensor,
    build_source_change_sensor,
    run_failure_sensor,
)
from techhub_lake.automation.upkeep import upkeep_schedule
from techhub_lake.catalog import Catalog
from techhub_lake.gold.funnel import FUNNEL_SENSOR
from techhub_lake.quality.targets import DQ_REPORT_KEY, DQ_REPORT_PATH
from techhub_lake.registry import declared_specs, refreshed_by, tables_read_by
from techhub_lake.settings import automation_interval_minutes

AUTOMATION_SENSOR = "techhub_automation"


def check_keys(checks: list[dg.AssetChecksDefinition]) -> list[dg.AssetCheckKey]:
    """The check keys of some checks definitions."""
    return [key for definition in checks for key in definition.check_keys]


def automated(layers: dg.Definitions, catalog: Catalog) -> dg.Definitions:
    """``layers`` (their assets and checks) with freshness policies and automation conditions, and
    the sensors and schedules that refresh them."""
    assets = list(layers.assets or [])
    deadlines = partition_deadline_checks(assets, catalog)
    funnels = [spec.key for a in assets for spec in a.specs if refreshed_by(spec.metadata) == FUNNEL_SENSOR]
    funnel_sensors = [build_funnel_sensor(catalog, key, tables_read_by(declared_specs(layers), key)) for key in funnels]
    stream = build_cdc_sensor(catalog)
    return dg.Definitions(
        assets=apply_policies(assets, catalog),
        asset_checks=[*(layers.asset_checks or []), *deadlines],
        sensors=[
            build_source_change_sensor(catalog),
            build_schema_drift_sensor(catalog),
            *([stream] if stream else []),
            *funnel_sensors,
            run_failure_sensor,
            dead_runs_sensor,
            build_quality_alert_sensor(DQ_REPORT_KEY, DQ_REPORT_PATH),
            freshness_alert_sensor,
            # evaluates the silver, gold and serve automation conditions (and the bronze partition deadlines'
            # cron tick) once per interval; running from the start
            dg.AutomationConditionSensorDefinition(
                AUTOMATION_SENSOR,
                target=dg.AssetSelection.key_prefixes(["silver"], ["gold"], ["serve"]) | dg.AssetSelection.checks(*check_keys(deadlines)),
                default_status=dg.DefaultSensorStatus.RUNNING,
                minimum_interval_seconds=60 * automation_interval_minutes()),
        ],
        schedules=[*build_schedules(catalog), upkeep_schedule(catalog.defaults.timezone)],
    )
