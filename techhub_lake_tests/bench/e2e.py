"""End-to-end benchmark: a first load of an empty lake, then a refresh after one batch of source
changes, through Dagster exactly as ``techhub-lake refresh`` runs them.

    python -m techhub_lake_tests.bench.e2e --scale 1      (and --scale 2)

The source is the embedded PostgreSQL at the asked scale (generated, and timed, unless it already
is); Dagster's storage is a fresh database on the same server with the lake's event switches, as
the CLI sets them. Per layer it prints wall seconds, rows, MB on disk, peak RSS of this process,
and the part of the time that is Dagster's own bookkeeping (run creation, events: the runs' wall
time less the time inside the assets' own work). In the same run, on the same tables, it reads a
raw binary COPY of every bronze table and prints bronze's throughput as a ratio to it. Figures are
printed, never asserted: machines are noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.catalog import load_catalog
from techhub_lake.source.churn import churn_source
from techhub_lake_tests.bench import (
    bench_arguments,
    bench_instance,
    bench_source,
    peak_rss_mb,
    reset_peak_rss,
)
from techhub_lake_tests.bench.extract import raw_copy
from techhub_lake_tests.helpers import definitions_for

LAYERS = ("bronze", "silver", "gold")


@dataclass
class LayerFigures:
    """What one layer of one refresh cost."""

    seconds: float = 0.0
    own_work: float = 0.0  # inside the assets' and checks' own code
    runs: int = 0
    rows: int = 0
    mb_on_disk: float = 0.0
    peak_rss_mb: float = 0.0
    extraction_seconds: float = 0.0  # bronze: the extractions themselves
    extracted_bytes: int = 0
    slowest: list[tuple[float, str]] = field(default_factory=list)  # (seconds, step) of the layer's steps

    @property
    def bookkeeping(self) -> float:
        return max(0.0, self.seconds - self.own_work)


@dataclass
class RefreshFigures:
    layers: dict[str, LayerFigures] = field(default_factory=dict)

    @property
    def seconds(self) -> float:
        return sum(layer.seconds for layer in self.layers.values())


def disk_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6 if path.exists() else 0.0


def _metadata_value(metadata: dict, name: str, default=0):
    value = metadata.get(name)
    return default if value is None else value.value


def layer_figures(instance: dg.DagsterInstance, run_ids: list[str], seconds: float) -> LayerFigures:
    """Rows, own work and bronze extraction figures of a layer's runs, read back from the instance."""
    figures = LayerFigures(seconds=seconds, runs=len(run_ids))
    for run_id in run_ids:
        records = instance.get_records_for_run(run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION,
                                               limit=1_000_000).records
        by_step: dict[str, list[dict]] = {}
        for record in records:
            entry = record.event_log_entry
            by_step.setdefault(entry.step_key, []).append(entry.asset_materialization.metadata)
        steps = {stat.step_key: (stat.end_time or 0) - (stat.start_time or 0) for stat in instance.get_run_step_stats(run_id)}
        figures.slowest = sorted([*figures.slowest, *((seconds, step) for step, seconds in steps.items())], reverse=True)[:6]
        for step, seconds_in_step in steps.items():
            events = by_step.get(step, [])
            summaries = [m for m in events if "run_rows" in m or "duration_s" in m]
            extraction = max((_metadata_value(m, "duration_s", 0.0) for m in summaries), default=None)
            if extraction is not None and any("run_rows" in m or "query" in m for m in events):  # a bronze extraction
                figures.own_work += extraction
                figures.extraction_seconds += extraction
                last = next((m for m in reversed(events) if "run_rows" in m), None)
                figures.rows += _metadata_value(last, "run_rows") if last else _metadata_value(events[-1], "dagster/row_count")
                figures.extracted_bytes += _metadata_value(last, "run_bytes") if last else _metadata_value(events[-1], "bytes")
            else:
                figures.own_work += seconds_in_step
                if events and len(events) == 1:
                    figures.rows += _metadata_value(events[0], "dagster/row_count")
    return figures


def timed_refresh(defs: dg.Definitions, catalog, instance: dg.DagsterInstance, root: Path, checks: bool) -> RefreshFigures:
    """One refresh, layer after layer as ``techhub-lake refresh`` plans them, with each layer's figures."""
    figures = RefreshFigures()
    for layer in LAYERS:
        before = {run.run_id for run in instance.get_runs()}
        reset_peak_rss()
        started = time.perf_counter()
        refresh_lake(f"key:{layer}/*", lambda line: print("   ", line, flush=True), defs=defs, catalog=catalog,
                     instance=instance, checks=checks)
        seconds = time.perf_counter() - started
        run_ids = [run.run_id for run in instance.get_runs() if run.run_id not in before]
        layer_result = layer_figures(instance, run_ids, seconds)
        layer_result.peak_rss_mb = peak_rss_mb()
        layer_result.mb_on_disk = disk_mb(root / layer)
        figures.layers[layer] = layer_result
    return figures


def print_table(title: str, figures: RefreshFigures) -> None:
    print(f"\n{title}: {figures.seconds:.1f} s")
    print("| layer | seconds | runs | rows | MB on disk | peak RSS MB | Dagster bookkeeping s | share |")
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for name, layer in figures.layers.items():
        share = layer.bookkeeping / layer.seconds if layer.seconds else 0.0
        print(f"| {name} | {layer.seconds:.1f} | {layer.runs} | {layer.rows:,} | {layer.mb_on_disk:,.0f} | "
              f"{layer.peak_rss_mb:,.0f} | {layer.bookkeeping:.1f} | {share:.0%} |")
    for name, layer in figures.layers.items():
        print(f"  slowest {name} steps: " + ", ".join(f"{step} {seconds:.1f} s" for seconds, step in layer.slowest))


def main() -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--skip-checks", action="store_true", help="leave the quality checks out, as refresh --skip-checks")
    parser.add_argument("--churn-seed", type=int, default=7)
    args: argparse.Namespace = parser.parse_args()
    started = time.perf_counter()
    server, url = bench_source(args)
    print(f"source ready in {time.perf_counter() - started:.1f} s (scale {args.scale:g}, seed {args.seed})", flush=True)
    catalog = load_catalog()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-e2e-") as lake, bench_instance(server) as instance:
            root = Path(lake)
            defs = definitions_for(catalog, url, lake)
            print("first load (empty lake -> gold):", flush=True)
            first = timed_refresh(defs, catalog, instance, root, checks=not args.skip_checks)
            print_table("first load", first)

            copy_seconds, copy_bytes = 0.0, 0
            for table in catalog.lake_tables:
                seconds, size = raw_copy(url, table.name)
                copy_seconds, copy_bytes = copy_seconds + seconds, copy_bytes + size
            bronze = first.layers["bronze"]
            print(f"\nbronze vs a raw binary COPY of the same {len(catalog.lake_tables)} tables "
                  f"({copy_bytes / 1e6:,.0f} MB COPY stream, {copy_seconds:.1f} s, {copy_bytes / 1e6 / copy_seconds:,.0f} MB/s):")
            print(f"  extractions alone: {bronze.extraction_seconds:.1f} s, "
                  f"{copy_bytes / 1e6 / bronze.extraction_seconds:,.0f} MB/s, ratio {copy_seconds / bronze.extraction_seconds:.2f}")
            print(f"  whole bronze layer through Dagster: {bronze.seconds:.1f} s, ratio {copy_seconds / bronze.seconds:.2f}")

            at = dt.datetime.now(dt.UTC)
            report = churn_source(url, seed=args.churn_seed, at=at)
            changed = report.changed()
            print(f"\none source churn batch: {sum(c.total for c in changed.values()):,} rows changed in {len(changed)} tables",
                  flush=True)
            second = timed_refresh(defs, catalog, instance, root, checks=not args.skip_checks)
            print_table("refresh after one churn batch", second)
            print(f"\nrefresh / first load: {second.seconds / first.seconds:.2f}")
            print(f"peak RSS over the whole run: {max(layer.peak_rss_mb for f in (first, second) for layer in f.layers.values()):,.0f} MB")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
