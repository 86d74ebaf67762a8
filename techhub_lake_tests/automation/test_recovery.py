"""Runs killed while they hold the source pool: real `techhub-lake refresh` processes, blocked
inside their extraction by a lock the test holds on the source table, killed with SIGKILL. The
daemon's sensor and the next refresh fail them and give their slots back; a refresh waiting for
the pool says so and stops at once on SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import dagster as dg
import psycopg2
import pytest

from techhub_lake.automation.recovery import dead_runs_sensor, pool_state
from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.source.generator import init_source
from techhub_lake.source.policy import SOURCE_POOL
from techhub_lake_tests.conftest import catalog_starting
from techhub_lake_tests.dagster_services import (
    dagster_home,
    open_instance,
    service_environment,
)
from techhub_lake_tests.helpers import definitions_for

pytestmark = pytest.mark.slow
CLI = str(Path(sys.executable).with_name("techhub-lake"))


@pytest.fixture
def setting(new_database, tmp_path):
    """A small source, a catalog of this month, a Dagster home on PostgreSQL, and the CLI's environment."""
    url = new_database()
    init_source(url, scale=0.01, seed=29)
    storage = new_database()
    catalog = catalog_starting(tmp_path, "2026-10-15")  # the generated history ends 2026-10-31
    home = dagster_home(tmp_path / "home", storage)
    env = service_environment(home, url, catalog.path, tmp_path / "lake", tmp_path / "state", storage)
    return url, storage, catalog, home, env, tmp_path


def locked(url: str, *tables: str):
    """A transaction holding an exclusive lock on ``tables``: a read of them waits until it ends."""
    conn = psycopg2.connect(url)
    with conn.cursor() as cur:
        cur.execute(f"LOCK TABLE {', '.join(tables)} IN ACCESS EXCLUSIVE MODE")
    return conn


def start_refresh(env: dict, selection: str, log: Path) -> subprocess.Popen:
    return subprocess.Popen([CLI, "refresh", "--skip-checks", "--select", selection], env=env, cwd=log.parent,
                            stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)


def wait_until(condition, seconds: float, what: str, logs: tuple[Path, ...] = ()) -> None:
    """Poll ``condition``; on timeout fail naming ``what`` with the end of each refresh's log."""
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            tails = "\n".join(f"--- {log.name}:\n{log.read_text()[-3000:]}" for log in logs if log.exists())
            pytest.fail(f"timed out waiting for {what}\n{tails}")
        time.sleep(0.5)


def test_killed_runs_are_failed_and_their_slots_freed_and_the_next_refresh_loads(setting):
    url, storage, catalog, home, env, tmp = setting
    instance = open_instance(home, storage)
    lock = locked(url, "core_actionlog", "service_servicerequestlog")
    a = start_refresh(env, "key:bronze/core/actionlog", tmp / "a.log")
    b = start_refresh(env, "key:bronze/service/servicerequestlog", tmp / "b.log")
    try:
        # both block inside their extraction, each holding one of the pool's two slots
        wait_until(lambda: pool_state(instance, SOURCE_POOL).claimed == 2, 180, "two refreshes holding the pool",
                   (tmp / "a.log", tmp / "b.log"))
        # a third refresh that needs the pool says what it waits for, and SIGTERM stops it at once
        c = start_refresh(env, "key:bronze/core/city", tmp / "c.log")
        wait_until(lambda: "waiting for pool techhub_source" in (tmp / "c.log").read_text(), 120, "the waiting message")
        c.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        assert c.wait(timeout=20) != 0 and time.monotonic() - stopped < 10
        for process in (a, b):
            os.kill(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
    finally:
        lock.rollback()
        lock.close()
    stuck = instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert len(stuck) == 2 and pool_state(instance, SOURCE_POOL).claimed == 2  # what Dagster alone leaves

    # the daemon's sensor fails both and frees their slots
    skipped = dead_runs_sensor(dg.build_sensor_context(instance=instance))
    assert "failed 2 dead run(s)" in skipped.skip_message
    for run in stuck:
        assert instance.get_run_by_id(run.run_id).status == dg.DagsterRunStatus.FAILURE
        failure = instance.get_records_for_run(run.run_id, of_type=dg.DagsterEventType.RUN_FAILURE).records[0]
        assert "is gone (killed or crashed)" in failure.event_log_entry.dagster_event.message
    assert pool_state(instance, SOURCE_POOL).claimed == 0

    # once more, and this time the next refresh itself recovers: it fails the dead run and loads the table
    lock = locked(url, "core_actionlog")
    d = start_refresh(env, "key:bronze/core/actionlog", tmp / "d.log")
    try:
        wait_until(lambda: pool_state(instance, SOURCE_POOL).claimed == 1, 180, "a refresh holding the pool",
                   (tmp / "d.log",))
        os.kill(d.pid, signal.SIGKILL)
        d.wait(timeout=10)
    finally:
        lock.rollback()
        lock.close()
    lake = tmp / "lake"
    defs = definitions_for(catalog, url, lake)
    lines: list[str] = []
    refresh_lake("key:bronze/core/actionlog", lines.append, defs=defs, catalog=catalog, instance=instance, checks=False)
    assert any("is gone (killed or crashed)" in line and "techhub_source" in line for line in lines), lines
    assert pool_state(instance, SOURCE_POOL).claimed == 0
    assert not instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    assert list((lake / "bronze" / "techhub" / "core" / "actionlog").rglob("*.parquet"))
    instance.dispose()
