"""`techhub-lake refresh`: bring the lake up to date through the Dagster instance, so runs show in the UI.

On an empty lake every partition is loaded; afterwards a daily asset re-reads its lookback window
(today and the days before it, for rows committed late) plus any partition still missing. Assets
that need the same range share one run, and each run covers its whole range in one extraction
per asset (the bronze assets' single-run backfill policy).
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass

import dagster as dg

from techhub_lake.bronze.specs import bronze_key
from techhub_lake.catalog import Catalog

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"


@dataclass(frozen=True)
class RefreshRun:
    """One run of a refresh: the assets it materializes and, for partitioned ones, the key range."""

    keys: tuple[dg.AssetKey, ...]
    partition_range: tuple[str, str] | None = None

    def describe(self) -> str:
        span = f"partitions {self.partition_range[0]} .. {self.partition_range[1]}" if self.partition_range else "snapshot"
        return f"{len(self.keys)} asset(s), {span}"


def selected_materializable_keys(defs: dg.Definitions, selection: str | None) -> list[dg.AssetKey]:
    """The materializable assets matching a Dagster selection string (all of them for None), in
    dependency order."""
    graph = defs.resolve_asset_graph()
    keys = graph.materializable_asset_keys
    if selection:
        keys = dg.AssetSelection.from_string(selection).resolve(graph) & keys
    return [key for key in graph.toposorted_asset_keys if key in keys]


def _partition_range(partitions_def: dg.PartitionsDefinition, done: set[str], lookback: dt.timedelta,
                     now: dt.datetime | None) -> tuple[str, str]:
    keys = partitions_def.get_partition_keys(current_time=now)
    last = keys[-1]
    lookback_start = (dt.date.fromisoformat(last) - dt.timedelta(days=lookback.days)).isoformat()
    first_missing = next((k for k in keys if k not in done), last)
    return max(keys[0], min(first_missing, lookback_start)), last


def plan_refresh(defs: dg.Definitions, catalog: Catalog, instance: dg.DagsterInstance, selection: str | None = None,
                 now: dt.datetime | None = None) -> list[RefreshRun]:
    """The runs that bring the selected assets up to date, grouped by partition range."""
    lookbacks = {bronze_key(t): t.lookback for t in catalog.lake_tables}
    graph = defs.resolve_asset_graph()
    # A run per layer (asset group) and partition range; layers run in dependency order, so silver
    # reads what this refresh's bronze runs wrote.
    groups: dict[tuple[str, tuple[str, str] | None], list[dg.AssetKey]] = {}
    for key in selected_materializable_keys(defs, selection):
        assets_def = defs.resolve_assets_def(key)
        partitions_def = assets_def.partitions_def
        span = None
        if partitions_def is not None:
            done = set(instance.get_materialized_partitions(key))
            span = _partition_range(partitions_def, done, lookbacks.get(key, dt.timedelta(0)), now)
        layer = graph.get(key).group_name or "default"
        groups.setdefault((layer, span), []).append(key)
    order = {key: index for index, key in enumerate(graph.toposorted_asset_keys)}
    runs = sorted(groups.items(), key=lambda item: min(order[k] for k in item[1]))
    return [RefreshRun(tuple(keys), span) for (_, span), keys in runs]


def _takes_reconcile(assets_def: dg.AssetsDefinition) -> bool:
    schema = assets_def.op.config_schema
    fields = getattr(schema.as_field().config_type, "fields", None) if schema is not None else None
    return bool(fields) and "reconcile" in fields


def _reconcile_config(assets: list[dg.AssetsDefinition]) -> dict:
    """Run config that turns the reconciliation on for the silver current-state assets of a run."""
    ops = {a.op.name: {"config": {"reconcile": True}} for a in assets if _takes_reconcile(a)}
    return {"ops": ops} if ops else {}


def refresh_lake(
    selection: str | None = None,
    echo: Callable[[str], None] = print,
    *,
    defs: dg.Definitions | None = None,
    catalog: Catalog | None = None,
    instance: dg.DagsterInstance | None = None,
    reconcile: bool = False,
) -> list[RefreshRun]:
    """Plan and execute a refresh; raises if a run fails (its error is in the run's logs in the UI).

    With ``reconcile``, silver also compares row hashes with the source and repairs the rows changed
    without moving their watermark."""
    if defs is None or catalog is None:
        from techhub_lake import definitions

        defs, catalog = defs or definitions.defs, catalog or definitions.catalog
    instance = instance or dg.DagsterInstance.get()
    plan = plan_refresh(defs, catalog, instance, selection)
    if not plan:
        echo("nothing to materialize: the selection has no materializable assets")
    for number, run in enumerate(plan, start=1):
        echo(f"refresh run {number}/{len(plan)}: {run.describe()}")
        tags = {RANGE_START_TAG: run.partition_range[0], RANGE_END_TAG: run.partition_range[1]} if run.partition_range else {}
        started = time.monotonic()
        assets = [defs.resolve_assets_def(key) for key in run.keys]
        result = dg.materialize(
            assets,
            instance=instance,
            selection=list(run.keys),
            tags=tags | {"techhub/trigger": "refresh"},
            run_config=_reconcile_config(assets) if reconcile else None,
            raise_on_error=False,
        )
        if not result.success:
            raise RuntimeError(f"refresh run {result.run_id} failed; see it in the Dagster UI")
        echo(f"  done in {time.monotonic() - started:.1f} s (run {result.run_id})")
    return plan
