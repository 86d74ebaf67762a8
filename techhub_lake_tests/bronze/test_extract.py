"""Bronze extraction against a real generated source and a real local lake: day boundaries in
Asia/Almaty, idempotent re-runs, emptied days, late rows and a connection killed mid-stream."""

from __future__ import annotations

import datetime as dt
import threading

import psycopg2
import pyarrow.parquet as pq
import pytest

from techhub_lake.bronze.extract import DayWindow, extract_days
from techhub_lake.bronze.partitions import daily_partitions
from techhub_lake.catalog import load_catalog
from techhub_lake.lake.layout import bronze_file, bronze_table_dir
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.source.churn import churn_source
from techhub_lake.source.connection import SourceUnavailable
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import query

CATALOG = load_catalog()
ALMATY = "Asia/Almaty"


def windows(first: dt.date, last: dt.date) -> list[DayWindow]:
    """The catalog's daily partitions from ``first`` to ``last`` inclusive."""
    partitions = daily_partitions(CATALOG)
    result = []
    day = first
    while day <= last:
        bounds = partitions.time_window_for_partition_key(day.isoformat())
        result.append(DayWindow(day, bounds.start, bounds.end))
        day += dt.timedelta(days=1)
    return result


def read_day(lake: LakeFiles, table, day: dt.date) -> list[dict]:
    return pq.read_table(lake.path(bronze_file(table, day))).to_pylist()


@pytest.fixture
def mutable_source(new_database) -> str:
    """A small generated source that a test may change."""
    url = new_database()
    init_source(url, scale=0.01, seed=7)
    return url


def test_rows_land_in_the_local_day_of_their_watermark_including_the_edges(generated_source, tmp_path):
    table = CATALOG.table("core_actionlog")
    edges = query(generated_source, """
        SELECT (created_at AT TIME ZONE 'Asia/Almaty')::date, (created_at AT TIME ZONE 'Asia/Almaty')::time, id
        FROM core_actionlog
        WHERE (created_at AT TIME ZONE 'Asia/Almaty')::time IN ('00:00', '23:59:59.999')
        ORDER BY created_at DESC LIMIT 6""")
    assert {str(e[1]) for e in edges} == {"00:00:00", "23:59:59.999000"}
    first, last = min(e[0] for e in edges), max(e[0] for e in edges)
    lake = LakeFiles(str(tmp_path / "lake"))
    extraction = extract_days(generated_source, lake, table, windows(first, last), catalog_path=CATALOG.path)

    expected = query(generated_source, """
        SELECT count(*) FROM core_actionlog
        WHERE created_at >= (%s::date)::timestamp AT TIME ZONE 'Asia/Almaty'
          AND created_at < (%s::date + 1)::timestamp AT TIME ZONE 'Asia/Almaty'""", (first, last))[0][0]
    assert extraction.rows == expected == sum(f.rows for f in extraction.files)
    for day, _, row_id in edges:  # each edge row is in the file of its own local day
        assert row_id in {r["id"] for r in read_day(lake, table, day)}
    for written in extraction.files:  # and every row of a file belongs to that file's day
        window = windows(written.day, written.day)[0]
        stamps = [r["created_at"] for r in read_day(lake, table, written.day)]
        assert all(window.start <= s < window.end for s in stamps)
        assert written.path == bronze_file(table, written.day)
        assert f"/year={written.day:%Y}/month={written.day:%m}/data_{written.day:%Y%m%d}.parquet" in written.path


def test_rerun_replaces_files_without_duplicating_rows(generated_source, tmp_path):
    table = CATALOG.table("account_user")
    days = windows(dt.date(2026, 10, 1), dt.date(2026, 10, 31))
    lake = LakeFiles(str(tmp_path / "lake"))
    first = extract_days(generated_source, lake, table, days, catalog_path=CATALOG.path)
    files_before = lake.list_files(bronze_table_dir(table))
    second = extract_days(generated_source, lake, table, days, catalog_path=CATALOG.path)
    assert lake.list_files(bronze_table_dir(table)) == files_before
    assert first.rows == second.rows > 0
    ids = [r["id"] for f in files_before for r in pq.read_table(lake.path(f)).to_pylist()]
    assert len(ids) == len(set(ids)) == second.rows


def test_a_day_without_rows_has_no_file_and_an_emptied_day_loses_its_file(mutable_source, tmp_path):
    table = CATALOG.table("account_user")
    (day,) = query(mutable_source, "SELECT (max(updated_at) AT TIME ZONE 'Asia/Almaty')::date FROM account_user")[0]
    lake = LakeFiles(str(tmp_path / "lake"))
    empty_day = day + dt.timedelta(days=10)  # after the generated history: nothing there
    nothing = extract_days(mutable_source, lake, table, windows(empty_day, empty_day), catalog_path=CATALOG.path)
    assert (nothing.rows, nothing.files, nothing.removed) == (0, [], [])
    assert not lake.exists(bronze_file(table, empty_day))

    assert extract_days(mutable_source, lake, table, windows(day, day), catalog_path=CATALOG.path).rows > 0
    assert lake.exists(bronze_file(table, day))
    # the app touches every row of that day again: they move to a later day
    conn = psycopg2.connect(mutable_source)
    with conn, conn.cursor() as cur:
        cur.execute("UPDATE account_user SET updated_at = updated_at + interval '3 days' "
                    "WHERE (updated_at AT TIME ZONE 'Asia/Almaty')::date = %s", (day,))
    conn.close()
    again = extract_days(mutable_source, lake, table, windows(day, day), catalog_path=CATALOG.path)
    assert again.rows == 0 and again.removed == [bronze_file(table, day)]
    assert not lake.exists(bronze_file(table, day))


def test_lookback_catches_rows_committed_late(mutable_source, tmp_path):
    table = CATALOG.table("account_user")
    at = dt.datetime(2026, 11, 20, 9, 0, tzinfo=dt.UTC)  # 14:00 in Almaty
    today = dt.date(2026, 11, 20)
    lookback = windows(today - dt.timedelta(days=table.lookback.days), today)
    lake = LakeFiles(str(tmp_path / "lake"))
    extract_days(mutable_source, lake, table, lookback, catalog_path=CATALOG.path)  # before: nothing yet

    churn_source(mutable_source, seed=5, at=at)  # commits some rows with updated_at a day earlier
    late = {r[0] for r in query(mutable_source, "SELECT id FROM account_user WHERE updated_at = %s",
                                (at - dt.timedelta(hours=26),))}
    assert late
    only_today = LakeFiles(str(tmp_path / "today-only"))
    extract_days(mutable_source, only_today, table, windows(today, today), catalog_path=CATALOG.path)
    assert not late & {r["id"] for r in read_day(only_today, table, today)}  # today's partition misses them

    extract_days(mutable_source, lake, table, lookback, catalog_path=CATALOG.path)
    yesterday = {r["id"] for r in read_day(lake, table, today - dt.timedelta(days=1))}
    assert late <= yesterday


def test_a_connection_killed_mid_stream_leaves_the_previous_files_intact(mutable_source, tmp_path):
    table = CATALOG.table("core_actionlog")
    days = windows(dt.date(2019, 1, 1), dt.date(2026, 11, 1))
    lake = LakeFiles(str(tmp_path / "lake"))
    extract_days(mutable_source, lake, table, days, catalog_path=CATALOG.path)
    before = {f: open(lake.path(f), "rb").read() for f in lake.list_files(bronze_table_dir(table))}
    assert len(before) > 100
    threads_before = threading.active_count()  # other tests' Dagster instances may keep threads of their own

    def kill_after_first_batch(batches: int, rows: int) -> None:
        if batches == 1:
            conn = psycopg2.connect(mutable_source)
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                            "WHERE application_name = 'techhub-lake bronze killed'")
            conn.close()

    with pytest.raises(SourceUnavailable, match=r"lost the source while extracting core_actionlog: .*(server closed|terminating connection)"):
        extract_days(mutable_source, lake, table, days, catalog_path=CATALOG.path, batch_size_hint=32_768,
                     application_name="techhub-lake bronze killed", on_batch=kill_after_first_batch)
    after = {f: open(lake.path(f), "rb").read() for f in lake.list_files(bronze_table_dir(table))}
    assert after == before  # every published file is the previous good one, byte for byte
    leftovers = [p for p in (tmp_path / "lake").rglob("*") if p.is_file() and ".tmp-" in p.name]
    assert leftovers == []  # the half-written file was discarded, never published
    assert threading.active_count() <= threads_before  # the prefetch and encoder threads ended with the query


def test_a_dead_source_is_a_clear_error(tmp_path):
    with pytest.raises(SourceUnavailable, match=r"cannot connect to the source database postgresql://reader:\*\*\*@127\.0\.0\.1:9/techhub"):
        extract_days("postgresql://reader:secret@127.0.0.1:9/techhub", LakeFiles(str(tmp_path)),
                     CATALOG.table("account_user"), windows(dt.date(2026, 1, 1), dt.date(2026, 1, 1)),
                     catalog_path=CATALOG.path)
