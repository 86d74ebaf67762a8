"""The safety-net schedules: full-load tables once a day, and the nightly deep reconciliation."""

from __future__ import annotations

import dagster as dg

from techhub_lake.bronze.specs import bronze_key
from techhub_lake.catalog import Catalog, Partitioning, Strategy
from techhub_lake.quality.targets import DQ_REPORT_KEY
from techhub_lake.silver.assets import silver_key, silver_op_name

FULL_LOADS_CRON = "0 2 * * *"  # 02:00 in the lake's time zone, before the working day
RECONCILIATION_CRON = "0 3 * * *"
QUALITY_REPORT_CRON = "0 4 * * *"  # after the reconciliation, so the report sees the repaired lake


def build_schedules(catalog: Catalog) -> list[dg.ScheduleDefinition]:
    """Daily snapshots of the full-load tables, the reconciliation of incremental silver tables
    (primary keys for deletes, row hashes for changes that did not move ``updated_at``), and the
    daily quality report."""
    full = [bronze_key(t) for t in catalog.lake_tables if t.partitioning == Partitioning.SNAPSHOT]
    incremental = [t for t in catalog.lake_tables if t.strategy in (Strategy.INCREMENTAL, Strategy.APPEND)]
    captured = [t.name for t in catalog.lake_tables if t.strategy == Strategy.CDC]
    skipped = (f" Not reconciled: {', '.join(captured)} (captured: every change, deletes and silent updates included, "
               "arrives from the replication slot).") if captured else ""
    reconciliation = dg.define_asset_job(
        name="nightly_reconciliation",
        selection=dg.AssetSelection.assets(*(silver_key(t) for t in incremental)),
        config={"ops": {silver_op_name(t): {"config": {"reconcile": True}} for t in incremental}},
        tags={"techhub/trigger": "nightly_reconciliation"},
        description="Silver current state of every incremental table checked row by row against the source, "
                    "and of every append-only table key by key." + skipped,
    )
    return [
        dg.ScheduleDefinition(
            name="daily_full_loads", cron_schedule=FULL_LOADS_CRON, execution_timezone=catalog.defaults.timezone,
            target=dg.AssetSelection.assets(*full), default_status=dg.DefaultScheduleStatus.RUNNING,
            tags={"techhub/trigger": "daily_full_loads"},
            description="Snapshots of the reference (full-load) tables, once a day."),
        dg.ScheduleDefinition(
            name="nightly_reconciliation", cron_schedule=RECONCILIATION_CRON, execution_timezone=catalog.defaults.timezone,
            job=reconciliation, default_status=dg.DefaultScheduleStatus.RUNNING,
            description="The deep reconciliation: deletes by primary key, silent updates by row hash." + skipped),
        dg.ScheduleDefinition(
            name="quality_report", cron_schedule=QUALITY_REPORT_CRON, execution_timezone=catalog.defaults.timezone,
            target=dg.AssetSelection.assets(DQ_REPORT_KEY), default_status=dg.DefaultScheduleStatus.RUNNING,
            tags={"techhub/trigger": "quality_report"},
            description="Every contract measured once a day into gold/quality/dq_report."),
    ]
