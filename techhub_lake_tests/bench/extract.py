"""Benchmark of bronze extraction against a raw binary COPY of the same table, in the same run.

    python -m techhub_lake_tests.bench.extract --scale 1

For the three widest tables and for the whole bronze layer it prints rows, MB (the size of the
table's binary COPY stream), seconds, MB/s, peak RSS of the extracting process, and the ratio of
bronze throughput to a plain ``COPY (SELECT * FROM t) TO STDOUT (FORMAT binary)`` drained to
nowhere. Each bronze extraction runs in a fresh child process so its peak RSS is its own. It also
measures what Dagster itself spends per daily partition when a range is materialized in one run.
Figures are printed, never asserted: machines are noisy.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import dagster as dg
import psycopg2

from techhub_lake.bronze.extract import (
    BATCH_SIZE_HINT_BYTES,
    PARQUET_COMPRESSION,
    DayWindow,
    extract_days,
    extract_snapshot,
)
from techhub_lake.bronze.partitions import daily_partitions
from techhub_lake.catalog import Partitioning, load_catalog
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source.arrow_types import normalize_batch
from techhub_lake.source.reads import arrow_snapshot, read_plan, stream_query
from techhub_lake_tests.bench import (
    bench_arguments,
    bench_instance,
    bench_source,
    peak_rss_mb,
)

WIDEST = ["core_actionlog", "service_hubformdata", "core_blog"]


class _Drain:
    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data: bytes) -> int:
        self.bytes += len(data)
        return len(data)


def raw_copy(url: str, table: str) -> tuple[float, int]:
    """Seconds and bytes of a binary COPY of the whole table, drained to nowhere."""
    conn = psycopg2.connect(url)
    try:
        sink = _Drain()
        started = time.perf_counter()
        with conn.cursor() as cur:
            cur.copy_expert(f'COPY (SELECT * FROM public."{table}") TO STDOUT (FORMAT binary)', sink, size=1 << 20)
        return time.perf_counter() - started, sink.bytes
    finally:
        conn.close()


def all_days(catalog) -> list[DayWindow]:
    partitions = daily_partitions(catalog)
    days = []
    for key in partitions.get_partition_keys():
        bounds = partitions.time_window_for_partition_key(key)
        days.append(DayWindow(dt.date.fromisoformat(key), bounds.start, bounds.end))
    return days


def extract_tables(url: str, lake_root: str, tables: list[str]) -> dict:
    """Extract tables completely (every partition, or a snapshot) into a lake; runs in the child."""
    catalog = load_catalog()
    lake = LakeFiles(lake_root)
    days = all_days(catalog)
    with arrow_snapshot(url, application_name="bench warm-up", statement_timeout_ms=None):
        pass  # load the driver before the clock starts, as psycopg2 is for the COPY it is compared with
    rows = written = 0
    started = time.perf_counter()
    for name in tables:
        table = catalog.table(name)
        if table.partitioning == Partitioning.DAILY:
            extraction = extract_days(url, lake, table, days, catalog_path=catalog.path)
        else:
            extraction = extract_snapshot(url, lake, table, dt.date.today(), catalog_path=catalog.path)
        rows += extraction.rows
        written += extraction.bytes
    seconds = time.perf_counter() - started
    return {"seconds": seconds, "rows": rows, "parquet_bytes": written,
            "peak_rss_mb": peak_rss_mb()}


def parquet_ceiling(url: str, directory: str, tables: list[str]) -> dict:
    """The same rows, read the same way, written as ONE Parquet file per table with bronze's settings
    (no day files, no publishing): the most a Parquet writer gets out of this machine, to tell what
    the daily layout costs from what Parquet itself costs. Runs in the child."""
    import pyarrow.parquet as pq

    catalog = load_catalog()
    with arrow_snapshot(url, application_name="bench warm-up", statement_timeout_ms=None):
        pass
    rows = written = 0
    started = time.perf_counter()
    for name in tables:
        table = catalog.table(name)
        path = f"{directory}/{name}.parquet"
        with arrow_snapshot(url, application_name="bench ceiling", statement_timeout_ms=None) as cur:
            plan = read_plan(cur, table, catalog.path)
            query = f"SELECT {plan.select} FROM {table.qualified_name} AS t"
            with pq.ParquetWriter(path, plan.schema, compression=PARQUET_COMPRESSION,
                                  use_dictionary=plan.dictionary) as writer:
                for raw in stream_query(cur, query, BATCH_SIZE_HINT_BYTES, table):
                    batch = normalize_batch(raw, plan.schema)
                    writer.write_batch(batch)
                    rows += batch.num_rows
        written += Path(path).stat().st_size
    return {"seconds": time.perf_counter() - started, "rows": rows, "parquet_bytes": written, "peak_rss_mb": peak_rss_mb()}


def in_child(url: str, tables: list[str], mode: str = "--child") -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-lake-") as lake:
        out = subprocess.run([sys.executable, "-m", "techhub_lake_tests.bench.extract", mode, url, lake, *tables],
                             capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def dagster_overhead(server, days: int) -> float:
    """Seconds Dagster spends per partition when one run materializes a range of daily partitions,
    on an instance like the lake's (PostgreSQL storage, batched partition events)."""
    partitions = dg.DailyPartitionsDefinition(start_date="2024-01-01", timezone="Asia/Almaty")

    @dg.asset(partitions_def=partitions, backfill_policy=dg.BackfillPolicy.single_run())
    def noop() -> dg.MaterializeResult:
        return dg.MaterializeResult(metadata={"rows": 0})

    last = (dt.date(2024, 1, 1) + dt.timedelta(days=days - 1)).isoformat()
    with bench_instance(server) as instance:
        started = time.perf_counter()
        dg.materialize([noop], instance=instance, tags={"dagster/asset_partition_range_start": "2024-01-01",
                                                        "dagster/asset_partition_range_end": last})
        return (time.perf_counter() - started) / days


def main() -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--skip-layer", action="store_true", help="only the three widest tables")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each measurement; the best is shown")
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    parser.add_argument("--ceiling-child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        url, lake, *tables = args.child
        print(json.dumps(extract_tables(url, lake, tables)))
        return
    if args.ceiling_child:
        url, directory, *tables = args.ceiling_child
        print(json.dumps(parquet_ceiling(url, directory, tables)))
        return

    server, url = bench_source(args)

    header = (f"{'table':<24} {'rows':>9} {'MB':>8} {'COPY s':>7} {'bronze s':>9} {'MB/s':>7} {'parquet MB':>10} "
              f"{'peak RSS MB':>11} {'ratio':>6} {'1-file s':>8} {'1-file ratio':>12}")
    print(header)
    print("-" * len(header))

    def line(name: str, tables: list[str]) -> None:
        # Alternate the two and keep the best of each: this machine is shared and noisy.
        copies, bronzes, ceilings = [], [], []
        for _ in range(max(1, args.repeat)):
            measured = [raw_copy(url, table) for table in tables]
            copies.append((sum(m[0] for m in measured), sum(m[1] for m in measured)))
            bronzes.append(in_child(url, tables))
            ceilings.append(in_child(url, tables, "--ceiling-child"))
        ceiling = min(c["seconds"] for c in ceilings)
        copy_s, copy_bytes = min(copies)
        bronze = min(bronzes, key=lambda b: b["seconds"]) | {"peak_rss_mb": max(b["peak_rss_mb"] for b in bronzes)}
        mb = copy_bytes / 1e6
        print(f"{name:<24} {bronze['rows']:>9,} {mb:>8,.0f} {copy_s:>7.1f} {bronze['seconds']:>9.1f} "
              f"{mb / bronze['seconds']:>7.0f} {bronze['parquet_bytes'] / 1e6:>10,.0f} {bronze['peak_rss_mb']:>11.0f} "
              f"{copy_s / bronze['seconds']:>6.2f} {ceiling:>8.1f} {copy_s / ceiling:>12.2f}", flush=True)

    for table in WIDEST:
        line(table, [table])
    if not args.skip_layer:
        line("whole bronze layer", [t.name for t in load_catalog().lake_tables])
    print(f"\nbest of {args.repeat} runs each; peak RSS is the highest seen. ratio = bronze throughput / raw binary "
          "COPY throughput of the same data (1.0 = as fast as COPY); 1-file = the same rows read the same way "
          "into one Parquet file per table (no day files): what Parquet itself allows on this machine")
    per_partition = dagster_overhead(server, 365)
    print(f"Dagster bookkeeping, 365 daily partitions in one run: {per_partition * 1000:.1f} ms per partition "
          f"(a full history since 2019 is ~2,900 partitions per daily asset)")
    server.stop()


if __name__ == "__main__":
    main()
