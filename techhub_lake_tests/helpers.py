"""Small helpers the tests share."""

from __future__ import annotations

import contextlib
import functools

import dagster as dg
import psycopg2

from techhub_lake.registry import LakeTable, lake_tables
from techhub_lake.source.introspection import single_column_keys


def warehouse_for(url: str) -> str:
    """The URL of a warehouse database of its own beside the source database ``url`` (same server,
    ``<database>_warehouse``), created if missing: where a test's serving layer publishes."""
    from sqlalchemy.engine import make_url

    from techhub_lake.source.embedded import create_database_if_missing

    source = make_url(url)
    name = f"{source.database}_warehouse"
    create_database_if_missing(source.set(drivername="postgresql", database="postgres").render_as_string(hide_password=False), name)
    return source.set(database=name).render_as_string(hide_password=False)


def resources_for(url: str, lake) -> dict:
    """The resources of a test's graph: the source at ``url``, ``lake`` (a ``LakeStorage``, or a
    local root), and a warehouse of its own beside the source (``warehouse_for``)."""
    from techhub_lake.resources import LakeStorage, SourceDatabase, WarehouseDatabase

    storage = lake if isinstance(lake, LakeStorage) else LakeStorage(root=str(lake))
    return {"source": SourceDatabase(url=url), "lake": storage, "warehouse": WarehouseDatabase(url=warehouse_for(url))}


def definitions_for(catalog, url: str, lake_root) -> dg.Definitions:
    """The whole graph for ``catalog`` on the source at ``url``, a local lake at ``lake_root`` and a
    warehouse beside the source: what most tests materialize and refresh."""
    from techhub_lake.definitions import build_definitions

    return build_definitions(catalog, resources_for(url, lake_root))


@functools.cache
def packaged_lake_tables() -> tuple[LakeTable, ...]:
    """Every lake table of the packaged catalog's graph, as the registry reads it (what
    ``load_contracts`` takes)."""
    from techhub_lake.catalog import load_catalog
    from techhub_lake.definitions import build_definitions

    return tuple(lake_tables(build_definitions(load_catalog()).resolve_all_asset_specs()))


def table_fingerprints(url: str, tables: list[str] | None = None) -> dict[str, str]:
    """md5 over every row's text, in primary-key order, per public table: equal fingerprints,
    equal content."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            keys = single_column_keys(cur)
            result = {}
            for table in sorted(tables or keys):
                cur.execute(
                    f'SELECT md5(coalesce(string_agg(md5(t::text), \'\' ORDER BY t."{keys[table]}"), \'\')) FROM public."{table}" t'
                )
                result[table] = cur.fetchone()[0]
            return result
    finally:
        conn.close()


def table_columns(url: str, table: str) -> list[str]:
    """The columns of a public table, in order."""
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = 'public' "
                "AND table_name = %s ORDER BY ordinal_position",
                (table,),
            )
            return [r[0] for r in cur.fetchall()]
    finally:
        conn.close()


def row_hashes(url: str, table: str, key: str = "id", columns: list[str] | None = None) -> dict[str, str]:
    """Primary key -> md5 of the row's text (of ``columns`` only, if given), for one table."""
    row = "t" if columns is None else "ROW(" + ", ".join(f't."{c}"' for c in columns) + ")"
    conn = psycopg2.connect(url)
    try:
        with conn.cursor() as cur:
            cur.execute(f'SELECT t."{key}"::text, md5({row}::text) FROM public."{table}" t')
            return dict(cur.fetchall())
    finally:
        conn.close()


def days_between(catalog, first, last) -> list:
    """The catalog's daily partitions from ``first`` to ``last`` (dates), as extraction windows."""
    import datetime as dt

    from techhub_lake.bronze.extract import DayWindow
    from techhub_lake.bronze.partitions import daily_partitions

    partitions = daily_partitions(catalog)
    out = []
    while first <= last:
        bounds = partitions.time_window_for_partition_key(first.isoformat())
        out.append(DayWindow(first, bounds.start, bounds.end))
        first += dt.timedelta(days=1)
    return out


def load_bronze(url: str, lake, catalog, first, run_id: str) -> None:
    """Extract every lake table into bronze as the bronze assets do: daily tables from ``first`` to
    today (not before 2019-01-01), full tables as today's snapshot, the captured tables (``cdc``)
    through their stream (a replication slot: drop it with ``cdc.drop`` when done). Straight
    through the extraction functions, so a test can load years of history without thousands of
    Dagster partition events."""
    import datetime as dt
    from zoneinfo import ZoneInfo

    from techhub_lake.bronze.assets import extract_and_record
    from techhub_lake.bronze.stream import follow_stream
    from techhub_lake.catalog import Partitioning

    today = dt.datetime.now(ZoneInfo(catalog.defaults.timezone)).date()
    captured = list(catalog.captured_tables)
    for table in catalog.lake_tables:
        if table in captured:
            continue
        daily = table.partitioning == Partitioning.DAILY
        extract_and_record(url, lake, table, catalog, run_id=run_id,
                           days=days_between(catalog, max(first, dt.date(2019, 1, 1)), today) if daily else None,
                           snapshot_day=None if daily else today)
    if captured:
        follow_stream(url, lake, captured, catalog, run_id=run_id)


def load_silver(url: str, lake, catalog, *, reconcile: bool = False) -> None:
    """Merge every lake table's bronze into its silver current state, as the silver assets do
    (reconciling the incremental ones row by row against the source when asked)."""
    from techhub_lake.catalog import Strategy
    from techhub_lake.silver.assets import refresh_current_state
    from techhub_lake.silver.reconcile import reconcile_current_state

    for table in catalog.lake_tables:
        refresh_current_state(url, lake, table, run_id="test")
        if reconcile and table.strategy == Strategy.INCREMENTAL:
            reconcile_current_state(url, lake, table, catalog_path=catalog.path, run_id="test")


def frame_differences(actual, expected, key: list[str], tolerance: float = 1e-9, show: int = 10) -> list[str]:
    """How ``actual`` differs from ``expected`` row for row by ``key``: keys missing, keys extra, and
    per column the keys whose values differ (floats within ``tolerance``), a few of each shown.
    Empty when they are equal."""
    import polars as pl

    problems = []
    if actual.columns != expected.columns:
        problems.append(f"columns differ: {actual.columns} != {expected.columns}")
        return problems
    expected = expected.cast(dict(actual.schema))  # e.g. int4 counts from SQL as the lake's int64
    missing = expected.join(actual, on=key, how="anti", nulls_equal=True)
    extra = actual.join(expected, on=key, how="anti", nulls_equal=True)
    if missing.height:
        problems.append(f"{missing.height} key(s) missing, e.g. {missing.select(key).head(show).rows()}")
    if extra.height:
        problems.append(f"{extra.height} key(s) extra, e.g. {extra.select(key).head(show).rows()}")
    both = actual.join(expected, on=key, how="inner", suffix="__expected", nulls_equal=True)
    for column in (c for c in actual.columns if c not in key):
        mine, theirs = pl.col(column), pl.col(f"{column}__expected")
        if actual.schema[column].is_float():
            differs = ~((mine - theirs).abs() <= tolerance).fill_null(mine.is_null() & theirs.is_null())
        else:
            differs = mine.ne_missing(theirs)
        bad = both.filter(differs)
        if bad.height:
            sample = bad.select(*key, column, f"{column}__expected").head(show).rows()
            problems.append(f"column {column}: {bad.height} row(s) differ, e.g. (key..., lake, source) {sample}")
    return problems


def check_evaluations(instance) -> list:
    """Every asset check evaluation recorded on a Dagster instance, across all its runs."""
    from dagster import DagsterEventType

    evaluations = []
    for run in instance.get_run_records():
        for entry in instance.all_logs(run.dagster_run.run_id, of_type=DagsterEventType.ASSET_CHECK_EVALUATION):
            evaluations.append(entry.dagster_event.event_specific_data)
    return evaluations


def published_frame(warehouse_url: str, table: str):
    """``analytics.<table>`` as the warehouse returns it (through ADBC, PostgreSQL's own types turned
    into Arrow's) as a polars frame, for comparing with the gold table it was published from."""
    import polars as pl

    from techhub_lake.source.connection import libpq_url

    return pl.read_database_uri(f'SELECT * FROM analytics."{table}"', libpq_url(warehouse_url), engine="adbc")


@contextlib.contextmanager
def webhook_receiver():
    """A real HTTP server on loopback standing for the alert channel: yields (its URL, the JSON bodies
    POSTed to it so far)."""
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, HTTPServer

    received: list[dict] = []

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):  # the http.server API names it so
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = HTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", received
    finally:
        server.shutdown()
