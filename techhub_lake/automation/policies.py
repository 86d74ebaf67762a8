"""Freshness policies and automation conditions for the whole graph, derived from the catalog.

Bronze is held to each table's freshness target (append 15 min, incremental 30 min, full 1 day by
default). Silver, gold and serve are held to the tightest target among the bronze tables they are
built from (or among the assets upstream that declare their own pace, like the daily quality
report), plus the time automation needs to follow (``AUTOMATION_SLACK``). Silver and gold refresh
when an upstream asset has new data, never while an upstream run or their own is in progress;
missing old partitions upstream never block them (unlike ``AutomationCondition.eager()``). The
automation sensor evaluates them every ``TECHHUB_AUTOMATION_INTERVAL_MINUTES`` (default 10), so an
asset is refreshed at most once per interval, with all the updates of that interval.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from zoneinfo import ZoneInfo

import dagster as dg

from techhub_lake.bronze.specs import bronze_key
from techhub_lake.catalog import Catalog
from techhub_lake.registry import refreshed_by

AUTOMATION_SLACK = dt.timedelta(minutes=30)


def freshness(window: dt.timedelta) -> dg.FreshnessPolicy:
    """Fail when the last materialization is older than ``window``; warn at half of it."""
    return dg.FreshnessPolicy.time_window(fail_window=window, warn_window=window / 2)


def downstream_condition() -> dg.AutomationCondition:
    """Refresh when any upstream asset has had new data since this one was last requested or
    updated, not while an upstream run or this asset's own is in progress. (How often at most is
    the automation sensor's interval: updates in between are taken together in one run.)"""
    updated = dg.AutomationCondition.any_deps_updated().since_last_handled()
    return (updated & ~dg.AutomationCondition.any_deps_in_progress()
            & ~dg.AutomationCondition.in_progress()).with_label("upstream has new data, none in progress")


def bronze_windows(catalog: Catalog) -> dict[dg.AssetKey, dt.timedelta]:
    """Each bronze asset's freshness target from the catalog."""
    return {bronze_key(t): t.freshness for t in catalog.lake_tables if t.freshness is not None}


def declared_window(spec: dg.AssetSpec) -> dt.timedelta | None:
    """The fail window of the freshness policy an asset declares itself (the quality report's), or None."""
    window = getattr(spec.freshness_policy, "fail_window", None)  # 1.13 exports no class for the time-window policy
    return window.to_timedelta() if window is not None else None


def tightest_upstream(assets: Iterable[dg.AssetsDefinition], windows: dict[dg.AssetKey, dt.timedelta]) -> dict[dg.AssetKey, dt.timedelta]:
    """For every asset, the tightest bronze freshness target among its ancestors (itself included).
    An ancestor that declares its own freshness policy stands for its own ancestors: what is built
    from the daily quality report is held to the report's pace, not to bronze's."""
    specs = [spec for a in assets for spec in a.specs]
    parents = {spec.key: [d.asset_key for d in spec.deps] for spec in specs}
    declared = {spec.key: w for spec in specs if (w := declared_window(spec)) is not None}
    found: dict[dg.AssetKey, dt.timedelta | None] = {}

    def tightest(key: dg.AssetKey) -> dt.timedelta | None:
        if key in declared:
            return declared[key]
        if key not in found:
            own = windows.get(key)
            above = [w for w in (tightest(p) for p in parents.get(key, [])) if w is not None]
            found[key] = min([*above, *([own] if own else [])], default=None)
        return found[key]

    return {key: w for key in parents if (w := tightest(key)) is not None}


def apply_policies(assets: list[dg.AssetsDefinition], catalog: Catalog) -> list[dg.AssetsDefinition]:
    """Every asset with its freshness policy; silver and gold (but those a sensor refreshes, by their
    ``lake/refreshed_by`` metadata) with the downstream automation condition. An asset that declares
    its own freshness policy keeps it and gets no automation condition (a schedule drives it)."""
    windows = bronze_windows(catalog)
    tightest = tightest_upstream(assets, windows)
    condition = downstream_condition()

    def decorate(spec: dg.AssetSpec) -> dg.AssetSpec:
        if spec.freshness_policy is not None:  # an asset that declares its own pace (the quality report)
            return spec
        if spec.key in windows:
            return spec.replace_attributes(freshness_policy=freshness(windows[spec.key]))
        window = tightest.get(spec.key, dt.timedelta(days=1)) + AUTOMATION_SLACK
        automation = None if refreshed_by(spec.metadata) else condition
        return spec.replace_attributes(freshness_policy=freshness(window), automation_condition=automation)

    return list(dg.map_asset_specs(decorate, assets))


PARTITION_DEADLINE_CRON = "0 1 * * *"  # yesterday's daily partition must be in bronze by 01:00
PARTITION_DEADLINE_CHECK = "partition_deadline"


def _deadline_check(key: dg.AssetKey, timezone: str) -> dg.AssetChecksDefinition:
    @dg.asset_check(
        asset=key, name=PARTITION_DEADLINE_CHECK, blocking=False,
        description=f"Yesterday's partition is in the lake by 01:00 ({timezone}); a warning when late.",
        automation_condition=dg.AutomationCondition.cron_tick_passed(PARTITION_DEADLINE_CRON, timezone),
    )
    def _check(context) -> dg.AssetCheckResult:  # an AssetCheckExecutionContext (unannotated: this module's annotations are text)
        yesterday = (dt.datetime.now(ZoneInfo(timezone)).date() - dt.timedelta(days=1)).isoformat()
        present = yesterday in context.instance.get_materialized_partitions(key)
        return dg.AssetCheckResult(passed=present, severity=dg.AssetCheckSeverity.WARN, metadata={
            "partition": dg.MetadataValue.text(yesterday), "materialized": dg.MetadataValue.bool(present),
            "deadline": dg.MetadataValue.text(f"{PARTITION_DEADLINE_CRON} ({timezone})")})

    return _check


def partition_deadline_checks(assets: list[dg.AssetsDefinition], catalog: Catalog) -> list[dg.AssetChecksDefinition]:
    """Per-partition deadlines for the daily bronze assets: each day's partition materialized by
    01:00 the next day in the lake's time zone (a warning when late), on top of the freshness policy.
    The automation sensor runs them on that cron tick. (Dagster's ``build_time_partition_freshness_checks``
    did this with a sensor of its own; 1.13 marks it superseded.)"""
    bronze = bronze_windows(catalog)
    daily = [key for a in assets if a.partitions_def is not None for key in a.keys if key in bronze]
    return [_deadline_check(key, catalog.defaults.timezone) for key in daily]
