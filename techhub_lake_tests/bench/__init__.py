"""Benchmark scripts (``python -m techhub_lake_tests.bench.<name> --scale 1``): they print figures,
never assert them. What they share: the same options, the same embedded source, peak RSS."""

from __future__ import annotations

import argparse
import datetime as dt
import os
import resource
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from techhub_lake.source.embedded import EmbeddedPostgres
from techhub_lake.source.generator import generated_with, init_source


def bench_arguments(doc: str) -> argparse.ArgumentParser:
    """--scale, --seed and --state, the options every benchmark takes; the script adds its own."""
    parser = argparse.ArgumentParser(description=doc.split("\n\n")[0])
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--state", default=os.environ.get("TECHHUB_STATE_DIR", ".techhub-lake") + "/bench")
    return parser


def bench_source(args: argparse.Namespace) -> tuple[EmbeddedPostgres, str]:
    """The benchmarks' embedded source, generated at the asked scale and seed unless it already is
    (generating scale 1 takes over a minute, so it is kept between runs)."""
    server = EmbeddedPostgres(Path(args.state) / "postgres")
    url = server.start()
    if generated_with(url) != (args.seed, args.scale):
        print(f"generating the source at scale {args.scale:g} ...", flush=True)
        report = init_source(url, scale=args.scale, seed=args.seed)
        print(f"  {report.total_bytes / 1e6:,.0f} MB in {report.seconds:.0f} s", flush=True)
    return server, url


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MB: Linux's VmHWM, which belongs to this
    program alone (getrusage's ru_maxrss also keeps the peak of the process it was spawned from)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def reset_peak_rss() -> bool:
    """Start this process's peak RSS afresh from its current RSS (Linux's ``clear_refs`` 5), so the
    next ``peak_rss_mb`` is the peak of what ran in between; False where the kernel does not allow it.
    The kernel forgets the earlier peak everywhere: ``getrusage`` and ``/usr/bin/time -v`` report only
    the peak since the last reset (a process that held 1.9 GB, then reset, exits saying 11 MB), so a
    benchmark that resets prints its own whole-run peak, the largest of the peaks it measured."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


@contextmanager
def bench_instance(server: EmbeddedPostgres) -> Iterator:
    """A Dagster instance as the lake runs one: storage in a fresh database of the benchmark's
    PostgreSQL (dropped afterwards), partition events in batches."""
    import uuid

    import dagster as dg
    import psycopg2

    from techhub_lake.automation.instance import postgres_storage_config
    from techhub_lake.settings import EVENT_SWITCHES

    os.environ.update(EVENT_SWITCHES)
    name = f"dagster_bench_{uuid.uuid4().hex[:8]}"
    storage = server.ensure_database(name)
    try:
        with tempfile.TemporaryDirectory() as home, \
                dg.instance_for_test(temp_dir=home, overrides=postgres_storage_config(storage)) as instance:
            yield instance
    finally:
        conn = psycopg2.connect(server.url("postgres"))
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.close()


@dataclass(frozen=True)
class BenchLake:
    """A benchmark's lake, loaded through silver, and the Dagster objects to build the rest with."""

    url: str
    root: str
    catalog: object
    defs: object
    instance: object


@contextmanager
def silver_lake(args: argparse.Namespace, prefix: str) -> Iterator[BenchLake]:
    """The embedded source at the asked scale, a temporary lake with every table's bronze (whole
    history) and silver current state loaded by the functions the assets call (timed and printed),
    and a temporary Dagster instance; everything is removed and the server stopped on exit."""
    from techhub_lake.catalog import load_catalog
    from techhub_lake.lake.storage import LakeFiles
    from techhub_lake_tests.helpers import definitions_for, load_bronze, load_silver

    server, url = bench_source(args)
    catalog = load_catalog()
    try:
        with tempfile.TemporaryDirectory(prefix=prefix) as root:
            lake = LakeFiles(root)
            started = time.perf_counter()
            load_bronze(url, lake, catalog, dt.date(2019, 1, 1), run_id="bench")
            load_silver(url, lake, catalog)
            print(f"bronze + silver load: {time.perf_counter() - started:.1f} s", flush=True)
            defs = definitions_for(catalog, url, root)
            with bench_instance(server) as instance:
                yield BenchLake(url, root, catalog, defs, instance)
    finally:
        from techhub_lake.source import cdc

        cdc.drop(url)  # the captured tables' slot must not outlive the lake
        server.stop()
