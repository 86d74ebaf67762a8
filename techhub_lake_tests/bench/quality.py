"""Benchmark of the quality contracts at a given scale.

    python -m techhub_lake_tests.bench.quality --scale 1 2>/dev/null   (stderr: Dagster's run logs)

Loads bronze and silver for every lake table (the functions the assets call) and builds the rest of
the lake through Dagster (its checks included, timed). Then, in a fresh process so its memory is its
own, verifies every contract alone and prints per table its rows, rules, seconds, rows/s, the
ratio to reading the whole table with polars (the reference, measured in the same run) and the
peak RSS while verifying it (the peak is reset before each table). Last, materializes gold/quality/dq_report and prints its latest figures.
Figures are printed, never asserted.
"""

from __future__ import annotations

import multiprocessing
import time

import dagster as dg

from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.lake.delta import read_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.quality.checks import lake_paths
from techhub_lake.quality.contracts import load_contracts
from techhub_lake.quality.report import latest_table
from techhub_lake.quality.targets import DQ_REPORT_KEY, DQ_REPORT_PATH
from techhub_lake.quality.verify import (
    contract_variables,
    verify_lake_contract,
    verify_source_contract,
)
from techhub_lake_tests.bench import (
    bench_arguments,
    peak_rss_mb,
    reset_peak_rss,
    silver_lake,
)
from techhub_lake_tests.helpers import packaged_lake_tables


def verify_every_contract(root: str, url: str) -> None:
    """Verify each contract alone against the lake (or the source) and print its figures; run in a
    process of its own, so the peak RSS printed is verification's, not the load's. The reference
    reads come after every verification, so their memory never counts in a verification's peak."""
    contracts = [c for c in load_contracts(packaged_lake_tables()) if c.target.asset_key != DQ_REPORT_KEY]
    paths, variables, lake = lake_paths(contracts), contract_variables(None), LakeFiles(root)
    resettable = reset_peak_rss()
    measured = []  # (contract, seconds, peak MB)
    for contract in contracts:
        reset_peak_rss()
        began = time.perf_counter()
        if contract.target.layer == "source":
            verify_source_contract(contract, url, None, variables)
        else:
            verify_lake_contract(contract, lake, paths, variables)
        measured.append((contract, time.perf_counter() - began, peak_rss_mb()))
    print(f"{'table':<34} {'rows':>9} {'rules':>5} {'s':>6} {'rows/s':>11} {'read s':>7} {'ratio':>6} "
          f"{'peak MB' if resettable else '':>8}")
    totals: dict[str, float] = {}
    for contract, seconds, peak_mb in measured:
        target = contract.target
        totals[target.layer] = totals.get(target.layer, 0.0) + seconds
        peak = f"{peak_mb:>8,.0f}" if resettable else ""
        if target.layer == "source":
            print(f"{target.sql_name:<34} {'':>9} {len(contract.checks):>5} {seconds:>6.2f} {'':>11} {'':>7} {'':>6} "
                  f"{peak}", flush=True)
            continue
        began = time.perf_counter()
        rows = read_delta(lake, target.path).height
        read = time.perf_counter() - began
        print(f"{target.sql_name:<34} {rows:>9,} {len(contract.checks):>5} {seconds:>6.2f} {rows / seconds:>11,.0f} "
              f"{read:>7.2f} {seconds / read:>6.1f} {peak}", flush=True)
    summary = ", ".join(f"{layer}: {s:.1f} s" for layer, s in totals.items())
    if resettable:
        summary += f"; peak RSS verifying one table: {max(m[2] for m in measured):,.0f} MB"
    print("\n" + summary, flush=True)


def main() -> None:
    args = bench_arguments(__doc__).parse_args()
    with silver_lake(args, "bench-quality-") as bench:
        defs, instance = bench.defs, bench.instance
        current_state = {f"silver/{t.module}/{t.short_name}" for t in bench.catalog.lake_tables}
        derived = [k for k in defs.resolve_asset_graph().materializable_asset_keys
                   if k.path[0] in ("silver", "gold") and k.to_user_string() not in current_state and k != DQ_REPORT_KEY]
        selection = " or ".join(f'key:"{k.to_user_string()}"' for k in derived)
        began = time.perf_counter()
        refresh_lake(selection, lambda _: None, defs=defs, catalog=bench.catalog, instance=instance)
        print(f"silver derived + gold through Dagster, checks included: {time.perf_counter() - began:.1f} s\n", flush=True)
        child = multiprocessing.get_context("spawn").Process(target=verify_every_contract, args=(bench.root, bench.url))
        child.start()
        child.join()
        began = time.perf_counter()
        result = dg.materialize([defs.resolve_assets_def(DQ_REPORT_KEY)], instance=instance)
        print(f"\ngold/quality/dq_report materialized in {time.perf_counter() - began:.1f} s "
              f"(success={result.success}); latest figures:\n")
        print(latest_table(read_delta(LakeFiles(bench.root), DQ_REPORT_PATH)))


if __name__ == "__main__":
    main()
