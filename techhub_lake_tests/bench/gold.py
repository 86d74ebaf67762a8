"""Benchmark of gold: every mart computed from silver at a given scale, through Dagster.

    python -m techhub_lake_tests.bench.gold --scale 1

Loads bronze and silver for every lake table (the functions the assets call), builds the two
techpark silver tables, then materializes each gold mart alone and prints its input rows, output
rows, seconds, rows/s of input and the process's peak RSS; then a churn batch and the funnel's
months-to-refresh. Figures are printed, never asserted.
"""

from __future__ import annotations

import datetime as dt
import time

import dagster as dg

from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.gold.funnel import funnel_partitions_to_refresh
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.registry import tables_read_by
from techhub_lake.source.churn import churn_source
from techhub_lake_tests.bench import bench_arguments, peak_rss_mb, silver_lake
from techhub_lake_tests.helpers import load_bronze, load_silver


def main() -> None:
    args = bench_arguments(__doc__).parse_args()
    with silver_lake(args, "bench-gold-") as bench:
        catalog, defs, instance, lake = bench.catalog, bench.defs, bench.instance, LakeFiles(bench.root)
        techpark = 'key:"silver/service/service_report_v2" or key:"silver/service/techpark_participants"'
        refresh_lake(techpark, lambda _: None, defs=defs, catalog=catalog, instance=instance, checks=False)
        print(f"{'mart':<36} {'input rows':>11} {'rows':>9} {'s':>7} {'input rows/s':>13} {'peak RSS MB':>12}")
        graph = defs.resolve_asset_graph()
        for key in [k for k in graph.toposorted_asset_keys if k.path[:2] in (["gold", "techhub"], ["gold", "techpark"])]:
            began = time.perf_counter()
            refresh_lake(f'key:"{key.to_user_string()}"', lambda _: None, defs=defs, catalog=catalog, instance=instance,
                         checks=False)  # the mart alone; the quality benchmark times the checks
            seconds = time.perf_counter() - began
            event = instance.get_latest_materialization_event(key).asset_materialization
            inputs = sum(v.value for k, v in event.metadata.items() if k.startswith("input_rows/"))
            rows = event.metadata["table_rows"].value
            print(f"{key.to_user_string():<36} {inputs:>11,} {rows:>9,} {seconds:>7.2f} {inputs / seconds:>13,.0f} "
                  f"{peak_rss_mb():>12,.0f}")
        churn_source(bench.url, seed=args.seed + 1)
        today = dt.datetime.now(dt.UTC).date()
        load_bronze(bench.url, lake, catalog, today - dt.timedelta(days=2), run_id="churn")
        load_silver(bench.url, lake, catalog)
        funnel = dg.AssetKey(["gold", "techhub", "dm_service_funnel"])
        inputs = tables_read_by(bench.defs.resolve_all_asset_specs(), funnel)
        months = funnel_partitions_to_refresh(lake, catalog, instance.get_materialized_partitions(funnel), inputs)
        print(f"after one churn batch the funnel re-materializes {len(months)} month(s)")


if __name__ == "__main__":
    main()
