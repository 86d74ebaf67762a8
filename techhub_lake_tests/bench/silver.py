"""Benchmark of silver: the first load against a refresh after one `source churn`, and the reconciliation.

    python -m techhub_lake_tests.bench.silver --scale 1

For each daily-partitioned table it prints the rows, the seconds and peak RSS of the first
current-state merge (from all of bronze, in a child process of its own so its peak is its own), of
the refresh merge after a churn batch (the lookback window's bronze only), their ratio, and the
seconds and repairs of a reconciliation. Figures are printed, never asserted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from zoneinfo import ZoneInfo

from techhub_lake.bronze.assets import extract_and_record
from techhub_lake.catalog import Partitioning, load_catalog
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver.current_state import merge_current_state
from techhub_lake.silver.reconcile import reconcile_current_state
from techhub_lake.source.churn import churn_source
from techhub_lake_tests.bench import bench_arguments, bench_source, peak_rss_mb
from techhub_lake_tests.bench.extract import all_days


def first_merge_in_child(url: str, root: str, table_name: str) -> dict:
    """The first merge of one table in a fresh process: seconds, rows and that process's peak RSS."""
    out = subprocess.run([sys.executable, "-m", "techhub_lake_tests.bench.silver", "--child", url, root, table_name],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _child(url: str, root: str, table_name: str) -> None:
    table = load_catalog().table(table_name)
    started = time.perf_counter()
    outcome = merge_current_state(url, LakeFiles(root), table, run_id="first")
    print(json.dumps({"seconds": time.perf_counter() - started, "rows": outcome.rows, "peak_rss_mb": peak_rss_mb()}))


def main() -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    server, url = bench_source(args)
    catalog = load_catalog()
    tables = [t for t in catalog.lake_tables if t.partitioning == Partitioning.DAILY]
    days = all_days(catalog)
    today = dt.datetime.now(ZoneInfo(catalog.defaults.timezone)).date()
    with tempfile.TemporaryDirectory(prefix="bench-silver-") as root:
        lake = LakeFiles(root)
        first = {}
        for table in tables:
            extract_and_record(url, lake, table, catalog, days=days, snapshot_day=None, run_id="first")
            merged = first_merge_in_child(url, root, table.name)
            first[table.name] = (merged["seconds"], merged["rows"], merged["peak_rss_mb"])
        report = churn_source(url, seed=args.seed + 1)
        print(f"{'table':<26} {'rows':>9} {'first s':>8} {'first RSS MB':>12} {'refresh s':>9} {'ratio':>6} "
              f"{'changed':>8} {'reconcile s':>11} {'repaired':>8}")
        for table in tables:
            window = [d for d in days if d.day >= today - table.lookback]
            extract_and_record(url, lake, table, catalog, days=window, snapshot_day=None, run_id="refresh")
            started = time.perf_counter()
            merge_current_state(url, lake, table, run_id="refresh")
            refresh_s = time.perf_counter() - started
            started = time.perf_counter()
            repaired = reconcile_current_state(url, lake, table, catalog_path=catalog.path, run_id="reconcile")
            reconcile_s = time.perf_counter() - started
            change = report.tables.get(table.name)
            first_s, rows, first_rss = first[table.name]
            print(f"{table.name:<26} {rows:>9,} {first_s:>8.2f} {first_rss:>12.0f} {refresh_s:>9.2f} {refresh_s / first_s:>6.2f} "
                  f"{(change.total if change else 0):>8} {reconcile_s:>11.2f} "
                  f"{(repaired.repaired if repaired else 0):>8}", flush=True)
    print(f"peak RSS {peak_rss_mb():.0f} MB")
    server.stop()


if __name__ == "__main__":
    main()
