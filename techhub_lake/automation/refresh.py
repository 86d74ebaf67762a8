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
from typing import TYPE_CHECKING

import dagster as dg

from techhub_lake.automation.errors import RefreshFailed
from techhub_lake.automation.instance import hold_storage_connections
from techhub_lake.automation.interrupts import stop_requested, watch_stop_signals
from techhub_lake.automation.recovery import (
    fail_dead_runs,
    free_slots_of_finished_runs,
    initialize_pool,
    pool_state,
    process_tags,
)
from techhub_lake.bronze.specs import bronze_key
from techhub_lake.catalog import Catalog
from techhub_lake.gold.funnel import FUNNEL_SENSOR, contiguous_ranges, funnel_partitions_to_refresh
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.messages import UserError
from techhub_lake.registry import layer_of, refreshed_by, tables_read_by

if TYPE_CHECKING:  # Dagster's asset graph type, for the annotation only
    from dagster._core.definitions.assets.graph.base_asset_graph import BaseAssetGraph

RANGE_START_TAG = "dagster/asset_partition_range_start"
RANGE_END_TAG = "dagster/asset_partition_range_end"
PARTITION_TAG = "dagster/partition"


def range_tags(first: str, last: str) -> dict[str, str]:
    """Tags that make a run cover a partition key range (one run, one query per asset)."""
    return {RANGE_START_TAG: first, RANGE_END_TAG: last}


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
        try:  # with the assets materialized in the same step (the captured tables' stream)
            keys = dg.AssetSelection.from_string(selection).required_multi_asset_neighbors().resolve(graph) & keys
        except Exception as exc:  # Dagster's parser and resolver raise several kinds
            reason = _first_lines(str(exc))
            raise UserError(f"--select {selection!r} is not an asset selection this lake resolves ({reason}); "
                             "e.g. key:bronze/core/city, group:bronze_core, key:silver/*") from None
        if not keys:  # a typo must not look like a lake that is up to date
            raise UserError(f"--select {selection!r} matches no asset of this lake; the asset keys are as the UI "
                             "shows them, e.g. key:bronze/core/city, group:bronze_core, key:silver/*")
    return [key for key in graph.toposorted_asset_keys if key in keys]


def _partition_range(partitions_def: dg.PartitionsDefinition, done: set[str], lookback: dt.timedelta,
                     now: dt.datetime | None) -> tuple[str, str]:
    keys = partitions_def.get_partition_keys(current_time=now)
    last = keys[-1]
    lookback_start = (dt.date.fromisoformat(last) - dt.timedelta(days=lookback.days)).isoformat()
    first_missing = next((k for k in keys if k not in done), last)
    return max(keys[0], min(first_missing, lookback_start)), last


def lake_files(defs: dg.Definitions) -> LakeFiles:
    """The lake the definitions' ``lake`` resource points at (its ``EnvVar`` values resolved)."""
    with dg.build_resources({"lake": defs.resources["lake"]}) as resources:
        return resources.lake.files()


def refresh_layers(defs: dg.Definitions, selection: str | None = None) -> list[list[dg.AssetKey]]:
    """The selected assets by layer (``layer_of``: bronze, silver, gold, serve), layers in dependency order:
    a layer runs after every layer holding an asset upstream of one of its own; a layer whose assets
    read differently partitioned ones of its own comes in stages (``_stages``)."""
    graph = defs.resolve_asset_graph()
    layers: dict[str, list[dg.AssetKey]] = {}
    for key in selected_materializable_keys(defs, selection):
        layers.setdefault(layer_of(key), []).append(key)
    upstream = {name: dg.AssetSelection.assets(*keys).upstream().resolve(graph) - set(keys) for name, keys in layers.items()}
    ordered: list[str] = []
    while len(ordered) < len(layers):
        ready = [name for name in layers if name not in ordered
                 and not any(upstream[name] & set(layers[other]) for other in layers if other not in ordered and other != name)]
        ordered.append(ready[0] if ready else next(n for n in layers if n not in ordered))  # a cycle: keep graph order
    return [stage for name in ordered for stage in _stages(graph, layers[name])]


def _stages(graph: BaseAssetGraph, keys: list[dg.AssetKey]) -> list[list[dg.AssetKey]]:
    """One layer split where its runs must follow each other: an asset that reads an asset of the
    same layer partitioned differently (so in another run) waits for that run, e.g. the quality
    report for the funnel's months. Most layers are one stage."""
    in_layer = set(keys)
    stage: dict[dg.AssetKey, int] = {}

    def stage_of(key: dg.AssetKey) -> int:
        if key not in stage:
            stage[key] = 0  # a cycle ends here
            node = graph.get(key)
            stage[key] = max([stage_of(p) + (graph.get(p).partitions_def != node.partitions_def)
                              for p in node.parent_keys if p in in_layer], default=0)
        return stage[key]

    stages: dict[int, list[dg.AssetKey]] = {}
    for key in keys:
        stages.setdefault(stage_of(key), []).append(key)
    return [stages[n] for n in sorted(stages)]


def plan_layer(defs: dg.Definitions, catalog: Catalog, instance: dg.DagsterInstance, keys: list[dg.AssetKey],
               now: dt.datetime | None = None, lake: LakeFiles | None = None) -> list[RefreshRun]:
    """The runs that bring one layer's assets up to date, given what the lake and the instance hold now.

    Daily assets share a run per partition range; the funnel gets a run per block of months whose
    requests changed; unpartitioned assets share one run."""
    lookbacks = {bronze_key(t): t.lookback for t in catalog.lake_tables}
    graph = defs.resolve_asset_graph()
    spans: dict[tuple[str, str] | None, list[dg.AssetKey]] = {}
    for key in keys:
        partitions_def = defs.resolve_assets_def(key).partitions_def
        done = set(instance.get_materialized_partitions(key)) if partitions_def is not None else set()
        if refreshed_by(graph.get(key).metadata) == FUNNEL_SENSOR:
            inputs = tables_read_by(defs.resolve_all_asset_specs(), key)
            months = funnel_partitions_to_refresh(lake or lake_files(defs), catalog, done, inputs, now)
            for span in contiguous_ranges(months, partitions_def.get_partition_keys(current_time=now)):
                spans.setdefault(span, []).append(key)
        elif partitions_def is not None:
            span = _partition_range(partitions_def, done, lookbacks.get(key, dt.timedelta(0)), now)
            spans.setdefault(span, []).append(key)
        else:
            spans.setdefault(None, []).append(key)
    return [RefreshRun(tuple(run_keys), span) for span, run_keys in spans.items()]


def plan_refresh(defs: dg.Definitions, catalog: Catalog, instance: dg.DagsterInstance, selection: str | None = None,
                 now: dt.datetime | None = None) -> list[RefreshRun]:
    """The runs a refresh would make now, layer after layer (a later layer's runs are planned again
    when it is reached, as its inputs will have changed by then)."""
    lake = lake_files(defs)
    return [run for keys in refresh_layers(defs, selection) for run in plan_layer(defs, catalog, instance, keys, now, lake)]


def _takes_reconcile(assets_def: dg.AssetsDefinition) -> bool:
    schema = assets_def.op.config_schema
    fields = getattr(schema.as_field().config_type, "fields", None) if schema is not None else None
    return bool(fields) and "reconcile" in fields


# The terminal shows the assets' own log lines; Dagster's per-event DEBUG lines (one per partition
# materialized, ~2,900 per daily asset on a first load) stay in the run's log in the UI.
TERMINAL_LOG_LEVEL = "INFO"


def run_config(assets: list[dg.AssetsDefinition], reconcile: bool) -> dict:
    """A refresh run's config: the terminal's log level and, with ``reconcile``, the reconciliation
    turned on for the silver current-state assets of the run."""
    config: dict = {"loggers": {"console": {"config": {"log_level": TERMINAL_LOG_LEVEL}}}}
    ops = {a.op.name: {"config": {"reconcile": True}} for a in assets if _takes_reconcile(a)} if reconcile else {}
    return config | ({"ops": ops} if ops else {})


def refresh_lake(
    selection: str | None = None,
    echo: Callable[[str], None] = print,
    *,
    defs: dg.Definitions,
    catalog: Catalog,
    instance: dg.DagsterInstance | None = None,
    reconcile: bool = False,
    checks: bool = True,
) -> list[RefreshRun]:
    """Plan and execute a refresh. A failed run fails its own assets and skips the assets built from
    them; every other run goes on, and the refresh ends raising one ``RefreshFailed`` naming them all.

    With ``reconcile``, silver also compares row hashes with the source and repairs the rows changed
    without moving their watermark. Without ``checks``, the assets' quality checks are left out of
    the runs (they show as not run, and nothing is blocked)."""
    instance = hold_storage_connections(instance or dg.DagsterInstance.get())
    watch_stop_signals()
    fail_dead_runs(instance, echo)  # a killed earlier run must not hold the source pool forever
    layers = refresh_layers(defs, selection)
    if not layers:
        echo("nothing to materialize: the selection has no materializable assets")
    lake = lake_files(defs) if layers else None
    graph = defs.resolve_asset_graph()
    done: list[RefreshRun] = []
    failures: list[RunFailed] = []
    skipped: set[dg.AssetKey] = set()
    for keys in layers:
        # a table's failure stops its own assets and what is built from them, nothing else
        failed = {key for failure in failures for key in failure.assets}
        blocked = dg.AssetSelection.assets(*failed).downstream().resolve(graph) if failed else set()
        skipped |= {key for key in keys if key in blocked}
        for run in plan_layer(defs, catalog, instance, [key for key in keys if key not in blocked], lake=lake):
            done.append(run)
            try:
                execute_run(run, defs, instance, echo, len(done), reconcile=reconcile, checks=checks)
            except RunFailed as failure:
                if stop_requested():
                    raise KeyboardInterrupt("stopped by Ctrl-C or SIGTERM") from None
                echo(f"  failed: {failure}")
                failures.append(failure)
            if stop_requested():  # the signal landed in a run that finished anyway (a retried step)
                raise KeyboardInterrupt("stopped by Ctrl-C or SIGTERM")
    if failures:
        names = sorted({key.to_user_string() for failure in failures for key in failure.assets})
        skipped_names = sorted(key.to_user_string() for key in skipped - {k for f in failures for k in f.assets})
        raise RefreshFailed(
            f"the refresh failed for {len(names)} asset(s) ({', '.join(names)})"
            + (f" and skipped {len(skipped_names)} built from them ({', '.join(skipped_names)})" if skipped_names else "")
            + f"; every other asset is up to date. {' '.join(str(f) for f in failures)}")
    return done


def root_cause(error) -> str:
    """The innermost message of a Dagster error chain ("Exceeded max_retries" hides the real one)."""
    message = error.message
    while error.cause is not None:
        error = error.cause
        message = error.message or message
    return message.strip()


def _first_lines(message: str) -> str:
    """An error's gist: its first line, and the second when the first ends in a colon (a failed
    check's error names the checks there); without the exception's class name."""
    lines = [line.strip() for line in message.strip().splitlines() if line.strip()] or ["no message"]
    gist = f"{lines[0]} {lines[1]}" if lines[0].endswith(":") and len(lines) > 1 else lines[0]
    head, sep, rest = gist.partition(": ")
    return rest if sep and "." in head and " " not in head else gist  # "pkg.module.SomeError: text" -> "text"


def failure_reason(event: dg.DagsterEvent) -> str:
    """Why a step failed, in one line: a ``dg.Failure``'s own description, else the innermost error."""
    data = event.step_failure_data
    described = data.user_failure_data.description if data.user_failure_data else None
    return _first_lines(described or (root_cause(data.error) if data.error else "no message"))


def checks_of(defs: dg.Definitions, keys: list[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    """The asset checks on ``keys`` (the quality contracts, the partition deadlines): a refresh runs
    them with their assets, as a materialization from the UI does, so a blocking check stops the
    assets downstream of a failing one."""
    wanted = set(keys)
    return [checks for checks in defs.resolve_asset_graph().assets_defs  # bound to the definitions' resources
            if not checks.keys and any(key.asset_key in wanted for key in checks.check_keys)]


POOL_POLL_SECONDS = 2.0


def wait_for_pool(instance: dg.DagsterInstance, pool: str, echo: Callable[[str], None]) -> None:
    """Wait here, saying for what, until ``pool`` has a free slot (failing runs that died holding
    one), rather than in Dagster's executor, which waits silently and ignores Ctrl-C."""
    said = None
    initialize_pool(instance, pool)
    while (state := pool_state(instance, pool)).full:
        if not fail_dead_runs(instance, echo) and not free_slots_of_finished_runs(instance, pool, echo):
            if state.holders != said:
                echo(f"  waiting for pool {pool}: its {state.limit} slot(s) are held by run(s) "
                     f"{', '.join(state.holders)} (Ctrl-C stops the refresh)")
                said = state.holders
            time.sleep(POOL_POLL_SECONDS)


class RunFailed(RefreshFailed):
    """One run of a refresh failed: the assets whose steps (or blocking checks) failed, and why."""

    def __init__(self, message: str, assets: set[dg.AssetKey]) -> None:
        super().__init__(message)
        self.assets = assets


def _materialize(assets: list[dg.AssetsDefinition], selection, instance: dg.DagsterInstance, run: RefreshRun,
                 config: dict, partition_key: str | None = None) -> dg.ExecuteInProcessResult:
    """One in-process run on the instance, over the run's range unless ``partition_key`` names one
    partition; a failure is raised as one line naming the failed steps."""
    if partition_key is not None:  # a tag, not materialize's argument: the checks' definitions are unpartitioned
        tags = {PARTITION_TAG: partition_key}
    else:
        tags = range_tags(*run.partition_range) if run.partition_range else {}
    result = dg.materialize(assets, instance=instance, selection=selection, run_config=config, raise_on_error=False,
                            tags=tags | {"techhub/trigger": "refresh"} | process_tags())
    if not result.success:
        events = result.get_step_failure_events()
        failures = [f"{event.step_key}: {failure_reason(event)}" for event in events]
        by_step = {a.op.name: {*a.keys, *(k.asset_key for k in a.check_keys)} for a in assets}
        failed = {key for event in events for key in by_step.get(event.step_key, ())} or set(run.keys)
        span = (f" for partitions {run.partition_range[0]} .. {run.partition_range[1]} (they stay missing, not "
                "failed, and the next refresh loads them again)") if tags.get(RANGE_START_TAG) else ""
        raise RunFailed(f"Run {result.run_id} failed{span}: {'; '.join(failures) or 'see its logs'} "
                        "(its log in the Dagster UI has the details).", failed)
    return result


def execute_run(run: RefreshRun, defs: dg.Definitions, instance: dg.DagsterInstance, echo: Callable[[str], None],
                number: int, *, reconcile: bool = False, checks: bool = True) -> None:
    """One run of a refresh (or a rebuild), in process, recorded on the instance like any other run;
    ``RunFailed`` naming its assets and the cause when it fails.

    The checks of a run over several partitions run in a second run, on the range's last partition:
    Dagster records a planned check evaluation per partition of a run, ~2,900 rows per check on a
    first load, for checks that measure the table as it is now (the source contracts) or its latest
    partition (the deadlines). In the range's own run they could only block steps of that run, and
    the refresh stops at a failed blocking check either way."""
    echo(f"refresh run {number}: {run.describe()}")
    started = time.monotonic()
    assets = [defs.resolve_assets_def(key) for key in run.keys]
    for pool in sorted({a.op.pool for a in assets if a.op.pool}):
        wait_for_pool(instance, pool, echo)
    its_checks = checks_of(defs, run.keys) if checks else []
    config = run_config(assets, reconcile)
    if run.partition_range and run.partition_range[0] != run.partition_range[1] and its_checks:
        result = _materialize(assets, list(run.keys), instance, run, config)
        last = run.partition_range[1]
        checked = _materialize([*assets, *its_checks], dg.AssetSelection.checks_for_assets(*run.keys), instance, run,
                               {"loggers": config["loggers"]}, partition_key=last)
        echo(f"  checks on partition {last}: run {checked.run_id}")
    else:
        result = _materialize([*assets, *its_checks], list(run.keys), instance, run, config)
    echo(f"  done in {time.monotonic() - started:.1f} s (run {result.run_id})")
