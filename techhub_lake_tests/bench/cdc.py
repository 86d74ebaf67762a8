"""Change data capture benchmark: a churn of at least 100,000 changes to the captured tables,
drained from the replication slot into bronze and applied to silver, against the same churn
through the watermark path (daily re-extraction of the lookback window, MERGE, key listing).

    python -m techhub_lake_tests.bench.cdc --scale 1 [--changes 100000]

Both lakes are loaded first (the captured tables' first snapshot; the same tables polled by
watermark in a second lake), then the churn is committed in transactions of about 10,000 changes:
updates of every column kind (some without moving ``updated_at``), inserts and deletes. Each path
then runs in child processes of its own (the drain, then the apply), each reporting its own peak RSS.
Prints changes/s for draining, for applying and end to end, MB of change files, and peak RSS.
Figures are printed, never asserted: machines are noisy.
"""

from __future__ import annotations

import multiprocessing
import tempfile
import time
from pathlib import Path

import psycopg2

from techhub_lake.catalog import Partitioning, load_catalog
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source import cdc
from techhub_lake_tests.bench import bench_arguments, bench_source, peak_rss_mb
from techhub_lake_tests.conftest import catalog_starting

CAPTURED = ("account_company", "service_servicerequest", "service_report")


def churn_statements(target: int) -> list[str]:
    """Statements that change about ``target`` rows of the captured tables, ~10,000 per transaction."""
    statements = []
    per = 10_000
    rounds = max(1, target // per)
    for n in range(rounds):
        kind = n % 5
        if kind == 0:  # a silent update (QuerySet.update(): updated_at left alone)
            statements.append(f"UPDATE service_servicerequest SET status = 'bench{n}' WHERE id IN "
                              f"(SELECT id FROM service_servicerequest ORDER BY md5(id::text || '{n}') LIMIT {per})")
        elif kind == 1:  # reports: a status flip, the big JSON and XML left alone (TOAST-unchanged)
            statements.append(f"UPDATE service_report SET status = 'bench{n}', updated_at = now() WHERE id IN "
                              f"(SELECT id FROM service_report ORDER BY md5(id::text || '{n}') LIMIT {per})")
        elif kind == 2:  # new requests, copies of existing ones
            statements.append(f"INSERT INTO service_servicerequest (service_id, author_id, company_id, status, data, "
                              f"created_at, updated_at) SELECT service_id, author_id, company_id, 'new', data, now(), now() "
                              f"FROM service_servicerequest ORDER BY md5(id::text || '{n}') LIMIT {per}")
        elif kind == 3:  # JSON rewritten
            statements.append(f"UPDATE service_servicerequest SET data = data || jsonb_build_object('bench', {n}), "
                              f"updated_at = now() WHERE id IN (SELECT id FROM service_servicerequest "
                              f"ORDER BY md5(id::text || 'j{n}') LIMIT {per})")
        else:  # deletes of the newest requests, and every company touched
            statements.append(f"DELETE FROM service_servicerequest WHERE id IN (SELECT id FROM service_servicerequest "
                              f"WHERE status = 'new' ORDER BY id DESC LIMIT {per // 2})")
            statements.append("UPDATE account_company SET verified = NOT verified, updated_at = now()")
    return statements


def _drain(url: str, root: str, catalog_file: str, queue) -> None:
    """Child: follow the stream into bronze (the first snapshot, or a drain); (s, changes, MB, peak MB)."""
    from techhub_lake.bronze.changes import change_dir
    from techhub_lake.bronze.stream import follow_stream

    catalog = load_catalog(catalog_file)
    lake = LakeFiles(root)
    tables = [catalog.table(n) for n in CAPTURED]
    started = time.perf_counter()
    run = follow_stream(url, lake, tables, catalog, run_id="bench")
    seconds = time.perf_counter() - started
    size = sum(s.size for t in tables for s in lake.file_stats(change_dir(t)).values())
    queue.put((seconds, sum(run.drain.changes.values()), size / 1e6, peak_rss_mb()))


def _apply(url: str, root: str, catalog_file: str, queue) -> None:
    """Child: apply what bronze's stream holds to the captured tables' silver; (s, peak MB)."""
    from techhub_lake.silver.stream_state import follow_stream_in_silver

    catalog = load_catalog(catalog_file)
    lake = LakeFiles(root)
    started = time.perf_counter()
    for name in CAPTURED:
        follow_stream_in_silver(lake, catalog.table(name), run_id="bench")
    queue.put((time.perf_counter() - started, peak_rss_mb()))


def _watermark_path(url: str, root: str, catalog_file: str, queue) -> None:
    """Child: re-extract the lookback window and merge it (with the key listing for deletes)."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from techhub_lake.bronze.assets import extract_and_record
    from techhub_lake.silver.current_state import merge_current_state
    from techhub_lake_tests.helpers import days_between

    catalog = load_catalog(catalog_file)
    lake = LakeFiles(root)
    today = dt.datetime.now(ZoneInfo(catalog.defaults.timezone)).date()
    started = time.perf_counter()
    rows = 0
    for name in CAPTURED:
        table = catalog.table(name)
        extraction, _ = extract_and_record(url, lake, table, catalog, run_id="bench",
                                           days=days_between(catalog, today - table.lookback, today), snapshot_day=None)
        rows += extraction.rows
    extracted = time.perf_counter()
    for name in CAPTURED:
        merge_current_state(url, lake, catalog.table(name), run_id="bench")
    queue.put((extracted - started, time.perf_counter() - extracted, rows, 0.0, peak_rss_mb()))


def in_child(target, *args) -> tuple:
    """Run ``target`` in a child process of its own (its peak RSS is its own): what it puts in the queue."""
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    process = context.Process(target=target, args=(*args, queue))
    process.start()
    result = queue.get()
    process.join()
    return result


def main() -> None:
    parser = bench_arguments(__doc__)
    parser.add_argument("--changes", type=int, default=100_000)
    args = parser.parse_args()
    server, url = bench_source(args)
    cdc.drop(url)
    try:
        with tempfile.TemporaryDirectory(prefix="bench-cdc-") as work:
            captured_file = catalog_starting(Path(work), "2019-01-01", "captured.yaml")
            polled = catalog_starting(Path(work), "2019-01-01", "polled.yaml",
                                      strategies=dict.fromkeys(CAPTURED, "incremental"))
            assert all(captured_file.table(n).partitioning == Partitioning.STREAM for n in CAPTURED)
            captured_root, polled_root = f"{work}/captured", f"{work}/polled"
            started = time.perf_counter()
            in_child(_drain, url, captured_root, captured_file.path)  # the first snapshot
            in_child(_apply, url, captured_root, captured_file.path)
            print(f"captured tables, first snapshot into bronze and silver: {time.perf_counter() - started:.1f} s")
            started = time.perf_counter()
            _first_polled_load(url, polled_root, polled)
            print(f"the same tables by watermark, first load: {time.perf_counter() - started:.1f} s", flush=True)

            statements = churn_statements(args.changes)
            conn = psycopg2.connect(url)
            started = time.perf_counter()
            changed = 0
            for statement in statements:
                with conn, conn.cursor() as cur:
                    cur.execute(statement)
                    changed += cur.rowcount
            conn.close()
            print(f"churn: {changed:,} row changes in {len(statements)} transactions, {time.perf_counter() - started:.1f} s")

            drain_s, changes, mb, drain_rss = in_child(_drain, url, captured_root, captured_file.path)
            apply_s, apply_rss = in_child(_apply, url, captured_root, captured_file.path)
            extract_s, merge_s, rows, _, polled_rss = in_child(_watermark_path, url, polled_root, polled.path)
            total = drain_s + apply_s
            print("\n| path | step | seconds | changes (rows) | per second |")
            print("| --- | --- | ---: | ---: | ---: |")
            print(f"| cdc | drain slot → bronze change files ({mb:,.0f} MB) | {drain_s:.1f} | {changes:,} | {changes / drain_s:,.0f} |")
            print(f"| cdc | apply → silver | {apply_s:.1f} | {changes:,} | {changes / apply_s:,.0f} |")
            print(f"| cdc | **end to end** | **{total:.1f}** | {changes:,} | **{changes / total:,.0f}** |")
            print(f"| watermark | re-extract lookback window | {extract_s:.1f} | {rows:,} | {rows / extract_s:,.0f} |")
            print(f"| watermark | merge + key listing | {merge_s:.1f} | {rows:,} | {rows / merge_s:,.0f} |")
            print(f"| watermark | **end to end** | **{extract_s + merge_s:.1f}** | {rows:,} | "
                  f"**{rows / (extract_s + merge_s):,.0f}** |")
            print(f"\npeak RSS (VmHWM of each step's own process): cdc drain {drain_rss:,.0f} MB, cdc apply "
                  f"{apply_rss:,.0f} MB, watermark path {polled_rss:,.0f} MB")
            print("(the watermark path misses the silent updates until the nightly reconciliation; cdc applies them)")
    finally:
        cdc.drop(url)
        server.stop()


def _first_polled_load(url: str, root: str, catalog) -> None:
    import datetime as dt

    from techhub_lake.bronze.assets import extract_and_record
    from techhub_lake.silver.current_state import merge_current_state
    from techhub_lake_tests.helpers import days_between

    lake = LakeFiles(root)
    today = dt.date.today()
    for name in CAPTURED:
        table = catalog.table(name)
        extract_and_record(url, lake, table, catalog, run_id="bench", days=days_between(catalog, dt.date(2019, 1, 1), today),
                           snapshot_day=None)
        merge_current_state(url, lake, table, run_id="bench")


if __name__ == "__main__":
    main()
