"""Automation latency benchmark: how long a source change takes to reach gold with nobody at the
keyboard, through the daemon's sensors and declarative automation alone.

    python -m techhub_lake_tests.bench.automation --scale 1 [--interval 1]

The source is the embedded PostgreSQL at the asked scale; Dagster's storage is a fresh database on
the same server, with the project's ``dagster.yaml`` and event switches. The lake is first loaded
as ``techhub-lake refresh`` loads it; then ``dagster-daemon`` starts with
``TECHHUB_AUTOMATION_INTERVAL_MINUTES`` at ``--interval``, and once the sensors have recorded where
the source stands and no run has started for a while, one ``source churn`` batch is committed.
From that commit it prints when each run the daemon launched started and ended (which sensor or
automation launched it, what it materialized) and when each gold asset was first materialized
again. Figures are printed, never asserted: machines are noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import shutil
import tempfile
import time
import uuid
from pathlib import Path

import dagster as dg

from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.catalog import load_catalog
from techhub_lake.catalog.model import DEFAULT_CATALOG_PATH
from techhub_lake.settings import AUTOMATION_INTERVAL_ENV, EVENT_SWITCHES, EXECUTOR_ENV
from techhub_lake.source.churn import churn_source
from techhub_lake_tests.bench import bench_arguments, bench_source
from techhub_lake_tests.dagster_services import (
    daemon_command,
    dagster_home,
    open_instance,
    running,
    service_environment,
)
from techhub_lake_tests.helpers import definitions_for

ACTIVE = [dg.DagsterRunStatus.QUEUED, dg.DagsterRunStatus.NOT_STARTED, dg.DagsterRunStatus.STARTING,
          dg.DagsterRunStatus.STARTED, dg.DagsterRunStatus.CANCELING]


def wait_until_quiet(instance: dg.DagsterInstance, quiet_seconds: float, limit_seconds: float) -> float:
    """Wait until no run is active and none has been created for ``quiet_seconds`` (counted from
    now at the earliest); returns the time waited (stops waiting after ``limit_seconds``)."""
    started, since = time.monotonic(), time.time()
    while time.monotonic() - started < limit_seconds:
        records = instance.get_run_records(limit=1)
        last_created = max(records[0].create_timestamp.timestamp() if records else 0.0, since)
        busy = instance.get_runs_count(dg.RunsFilter(statuses=ACTIVE))
        if not busy and time.time() - last_created >= quiet_seconds:
            break
        time.sleep(5)
    return time.monotonic() - started


def sensor_has_ticked(instance: dg.DagsterInstance, name: str) -> bool:
    """Whether the named sensor has evaluated at least once (its first tick records the source)."""
    states = [s for s in instance.all_instigator_state() if s.name == name]
    return bool(states) and bool(instance.get_ticks(states[0].instigator_origin_id, states[0].selector_id, limit=1))


def report(instance: dg.DagsterInstance, committed: float, gold_keys: list[dg.AssetKey]) -> None:
    """The daemon's runs after the commit, and each gold asset's first materialization after it."""
    records = [r for r in instance.get_run_records(limit=500) if r.create_timestamp.timestamp() >= committed]
    print(f"\n{len(records)} run(s) launched after the commit:")
    print("| started s | ended s | status | launched by | assets |")
    print("| ---: | ---: | --- | --- | --- |")
    for record in sorted(records, key=lambda r: r.create_timestamp):
        run = record.dagster_run
        start = f"{record.start_time - committed:.0f}" if record.start_time else "-"
        end = f"{record.end_time - committed:.0f}" if record.end_time else "-"
        trigger = run.tags.get("techhub/trigger") or run.tags.get("dagster/sensor_name") or (
            "automation" if run.tags.get("dagster/from_automation_condition") else "other")
        keys = sorted(k.to_user_string() for k in run.asset_selection or [])
        shown = ", ".join(keys[:4]) + (f" and {len(keys) - 4} more" if len(keys) > 4 else "")
        print(f"| {start} | {end} | {run.status.value} | {trigger} | {shown} |")
    reached = {}
    for key in gold_keys:
        event = instance.get_latest_materialization_event(key)
        if event is not None and event.timestamp >= committed:
            reached[key.to_user_string()] = event.timestamp - committed
    print(f"\ngold assets materialized again after the commit: {len(reached)} of {len(gold_keys)}")
    for name, seconds in sorted(reached.items(), key=lambda item: item[1]):
        print(f"  {seconds:6.0f} s  {name}")
    if reached:
        print(f"\nsource commit -> last gold asset: {max(reached.values()):.0f} s")


def main() -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--interval", type=int, default=1, help="TECHHUB_AUTOMATION_INTERVAL_MINUTES for the daemon")
    parser.add_argument("--churn-seed", type=int, default=7)
    parser.add_argument("--executor", default="", help="TECHHUB_EXECUTOR for the daemon's runs (default: multiprocess)")
    parser.add_argument("--wait-minutes", type=float, default=15, help="give up waiting for quiet after this long")
    args: argparse.Namespace = parser.parse_args()
    server, url = bench_source(args)
    catalog = load_catalog()
    storage = server.ensure_database(f"dagster_bench_{uuid.uuid4().hex[:8]}")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-automation-") as scratch:
            root = Path(scratch)
            home = dagster_home(root / "home", storage)
            env = service_environment(home, url, DEFAULT_CATALOG_PATH, root / "lake", root / "state", storage)
            env[AUTOMATION_INTERVAL_ENV] = str(args.interval)
            if args.executor:
                env[EXECUTOR_ENV] = args.executor
            (root / "state").mkdir()
            os.environ.update(EVENT_SWITCHES)  # this process creates and executes the first load's runs
            instance = open_instance(home, storage)
            defs = definitions_for(catalog, url, root / "lake")
            started = time.perf_counter()
            refresh_lake(None, lambda line: print("   ", line, flush=True), defs=defs, catalog=catalog, instance=instance)
            print(f"first load through gold: {time.perf_counter() - started:.0f} s", flush=True)
            with running({"daemon": daemon_command()}, env, root):
                deadline = time.monotonic() + 300
                while not sensor_has_ticked(instance, "source_change_sensor") and time.monotonic() < deadline:
                    time.sleep(5)
                waited = wait_until_quiet(instance, quiet_seconds=90 + 60 * args.interval, limit_seconds=60 * args.wait_minutes)
                print(f"daemon up and quiet after {waited:.0f} s", flush=True)
                changed = churn_source(url, seed=args.churn_seed).changed()
                committed = time.time()
                print(f"committed one churn batch at {dt.datetime.now(dt.UTC):%H:%M:%S}: "
                      f"{sum(c.total for c in changed.values()):,} rows in {len(changed)} tables", flush=True)
                wait_until_quiet(instance, quiet_seconds=120 + 60 * args.interval, limit_seconds=60 * args.wait_minutes)
                report(instance, committed, [k for k in defs.resolve_asset_graph().get_all_asset_keys()
                                             if k.path[0] == "gold"])
            instance.dispose()
            kept = Path(tempfile.gettempdir()) / "bench-automation-daemon.log"
            shutil.copy(root / "daemon.log", kept)
            print(f"daemon log: {kept}")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
