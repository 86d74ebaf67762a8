"""Bronze change files from the source's replication slot, on a real PostgreSQL and a local lake:
the first snapshot plus the change files is the source after a churn (silent updates, deletes and
cascades included), and a kill between publishing and confirming re-delivers the same files and
loses nothing."""

from __future__ import annotations

import subprocess
import sys

import polars as pl
import psycopg2
import pytest

from techhub_lake.bronze.changes import change_dir, drain_to_bronze
from techhub_lake.catalog import load_catalog
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.settings import FAULT_ENV
from techhub_lake.source import cdc
from techhub_lake.source.churn import churn_source
from techhub_lake.source.generator import init_source

CATALOG = load_catalog()
CAPTURED = [CATALOG.table(name) for name in ("service_servicerequest", "account_company", "service_report")]
TIMEZONE = CATALOG.defaults.timezone


def _snapshot(cur, table) -> dict[str, str]:
    cur.execute(f'SELECT id::text, updated_at::text FROM {table.qualified_name}')
    return dict(cur.fetchall())


def _replayed(lake: LakeFiles, table, first: dict[str, str]) -> dict[str, str]:
    """The first snapshot with the table's change files applied in LSN order, each LSN once."""
    files = [f for f in lake.list_files(change_dir(table)) if f.endswith(".parquet")]
    state = dict(first)
    if not files:
        return state
    changes = (pl.concat([pl.read_parquet(lake.path(f)) for f in files], how="diagonal")
               .unique("lsn").sort("lsn"))
    for op, key, updated in changes.select("op", "id", "updated_at").iter_rows():
        if op == "delete":
            state.pop(key, None)
        else:
            state[key] = updated
    return state


@pytest.fixture
def captured_source(new_database, tmp_path):
    url = new_database()
    init_source(url, scale=0.005, seed=12)
    cdc.ensure_publication(url, [t.name for t in CAPTURED])
    with cdc.new_slot(url) as (_, snapshot), cdc.read_in_snapshot(url, snapshot) as cur:
        first = {t.name: _snapshot(cur, t) for t in CAPTURED}
    yield url, LakeFiles(str(tmp_path / "lake")), first
    cdc.drop(url)


def _source_now(url: str) -> dict[str, dict[str, str]]:
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        now = {t.name: _snapshot(cur, t) for t in CAPTURED}
    conn.close()
    return now


def test_the_first_snapshot_and_the_change_files_are_the_source_after_churn(captured_source):
    url, lake, first = captured_source
    churn_source(url, seed=13)
    conn = psycopg2.connect(url)
    conn.autocommit = True
    with conn.cursor() as cur:  # a silent update and a cascade nobody names
        cur.execute("UPDATE service_servicerequest SET status = 'silent' WHERE id IN (SELECT id FROM service_servicerequest LIMIT 3)")
        cur.execute("DELETE FROM account_company WHERE id = (SELECT company_id FROM service_servicerequest "
                    "WHERE company_id IS NOT NULL LIMIT 1)")
    conn.close()
    outcome = drain_to_bronze(url, lake, CAPTURED, TIMEZONE, max_changes=200)
    assert outcome.transactions > 1 and outcome.files and cdc.peek(url, 10).changes == []
    assert set(outcome.changes) <= {t.name for t in CAPTURED}
    now = _source_now(url)
    for table in CAPTURED:
        assert _replayed(lake, table, first[table.name]) == now[table.name], table.name
    files = pl.read_parquet(lake.path(outcome.files[0]))
    assert files.columns[:6] == ["op", "lsn", "commit_lsn", "commit_ts", "xid", "_unchanged"]


def test_a_kill_between_publishing_and_confirming_redelivers_the_same_files(captured_source):
    url, lake, first = captured_source
    churn_source(url, seed=14)
    script = ("import sys; from techhub_lake.bronze.changes import drain_to_bronze; "
              "from techhub_lake.catalog import load_catalog; from techhub_lake.lake.storage import LakeFiles; "
              "c = load_catalog(); tables = [c.table(n) for n in sys.argv[3:]]; "
              "drain_to_bronze(sys.argv[1], LakeFiles(sys.argv[2]), tables, c.defaults.timezone, max_changes=200)")
    killed = subprocess.run([sys.executable, "-c", script, url, lake.root, *(t.name for t in CAPTURED)],
                            env={**__import__("os").environ, FAULT_ENV: "bronze.changes.confirm:kill"}, timeout=120)
    assert killed.returncode == -9
    published = {f for t in CAPTURED for f in lake.list_files(change_dir(t))}
    assert published, "the killed drain published its first batch"
    assert cdc.slot_state(url).confirmed_lsn is not None
    outcome = drain_to_bronze(url, lake, CAPTURED, TIMEZONE, max_changes=200)
    assert published <= {f for t in CAPTURED for f in lake.list_files(change_dir(t))}
    assert set(outcome.files) >= published, "the re-delivered batch lands under the same names"
    now = _source_now(url)
    for table in CAPTURED:
        assert _replayed(lake, table, first[table.name]) == now[table.name], table.name
