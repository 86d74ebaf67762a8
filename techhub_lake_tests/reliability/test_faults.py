"""Fault injection: real `techhub-lake` processes killed with SIGKILL at the worst moments, a source
that stops mid-stream, an S3 server that stops mid-upload, a full disk, a corrupt Parquet file, a
lost Delta commit, two refreshes at once. After each, the next refresh (as a user runs it) leaves
the lake equal to the source: no row lost, none duplicated, no debris, the source pool free.

The trials share one stand and run in order; each churns the source first, so there is always
something to write when the fault strikes. 24 trials: 8 kills in bronze and silver, 3 in the change
stream (after publishing before confirming, mid-snapshot, between changelog and table), 1 in the
reconciliation, 1 in a dimension, 2 in a gold month, a kill while holding the pool, SIGTERM, a kill
mid-history, the source stopped, a corrupt file, a lost commit, two refreshes at once, S3 stopped,
a full disk.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path
from urllib.parse import urlparse

import dagster as dg
import polars as pl
import psycopg2
import pytest

from techhub_lake.automation.recovery import pool_state
from techhub_lake.catalog import load_catalog
from techhub_lake.gold.store import mart_content
from techhub_lake.lake.delta import read_delta
from techhub_lake.lake.layout import bronze_table_dir
from techhub_lake.lake.storage import LakeFiles, S3Access
from techhub_lake.registry import table_path
from techhub_lake.resources import LakeStorage
from techhub_lake.silver.current_state import silver_table_path
from techhub_lake.source import cdc
from techhub_lake.source.churn import churn_source
from techhub_lake.source.generator import init_source
from techhub_lake.source.policy import SOURCE_POOL
from techhub_lake_tests.dagster_services import dagster_home, open_instance, service_environment
from techhub_lake_tests.gold.test_reference import SPECS, reference
from techhub_lake_tests.helpers import frame_differences
from techhub_lake_tests.reliability.stand import Stand, TcpProxy, wait_for

pytestmark = pytest.mark.slow

CATALOG = load_catalog()
USERS = "key:bronze/account/user or key:silver/account/user"
DIM = f"{USERS} or key:silver/dim/dim_user"
FUNNEL = "+key:gold/techhub/dm_service_funnel"
KILLED = -signal.SIGKILL


def one_line_error(result: subprocess.CompletedProcess | tuple[int, str]) -> str:
    """The failure a user sees: exit code 1 and one ``Error:`` line on stderr, no traceback."""
    code, stderr = (result.returncode, result.stderr) if isinstance(result, subprocess.CompletedProcess) else result
    assert code == 1, (code, stderr[-3000:])
    assert "Traceback" not in stderr, stderr[-3000:]
    errors = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, stderr[-3000:]
    return errors[0]


def ended(process: subprocess.Popen, errors: Path, timeout: float = 300) -> tuple[int, str]:
    """A background CLI's exit code and stderr, once it ends."""
    return process.wait(timeout=timeout), errors.read_text()


def make_stand(new_database, work: Path, lake_root: str, storage: LakeStorage | None = None,
               lake: LakeFiles | None = None, extra_env: dict | None = None, seed: int = 61) -> Stand:
    url = new_database()
    init_source(url, scale=0.005, seed=seed)
    dagster_storage = new_database()
    home = dagster_home(work / "home", dagster_storage)
    env = service_environment(home, url, CATALOG.path, Path(lake_root), work / "state", dagster_storage)
    env["TECHHUB_LAKE_ROOT"] = lake_root
    env |= extra_env or {}
    stand = Stand(url, CATALOG, lake or LakeFiles(lake_root), open_instance(home, dagster_storage), env, work, storage)
    return stand


def first_load(stand: Stand, selection: str) -> None:
    result = stand.refresh(selection)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.fixture(scope="module")
def stand(new_database, tmp_path_factory):
    work = tmp_path_factory.mktemp("faults")
    stand = make_stand(new_database, work, str(work / "lake"))
    first_load(stand, f"{DIM} or {FUNNEL}")
    yield stand
    stand.instance.dispose()
    cdc.drop(stand.url)


_round = iter(range(1000, 2000))


def churned(stand: Stand) -> None:
    churn_source(stand.url, seed=next(_round))


def assert_recovered(stand: Stand, selection: str = USERS, tables: tuple[str, ...] = ("account_user",)) -> list[str]:
    """The next refresh runs, and the lake is whole again: readable, equal to the source, no
    debris, the pool free."""
    lines = stand.recover(selection)
    stand.assert_readable()
    stand.assert_pool_free()
    assert stand.debris() == []
    stand.assert_silver_equals_source(*tables)
    return lines


def assert_funnel_equals_reference(stand: Stand) -> None:
    spec = SPECS["dm_service_funnel"]
    assert frame_differences(mart_content(stand.lake, spec), reference(stand.url, spec.name), list(spec.key)) == []


def assert_dimension_whole(stand: Stand) -> None:
    """One current version per user, unique surrogate keys, a current version for every user."""
    graph = stand.definitions().resolve_asset_graph()
    dim = read_delta(stand.lake, table_path(graph.get(dg.AssetKey(["silver", "dim", "dim_user"])).metadata))
    current = dim.filter(pl.col("is_current"))
    assert dim["user_sk"].is_duplicated().sum() == 0
    assert current["user_id"].is_duplicated().sum() == 0
    users = read_delta(stand.lake, silver_table_path(stand.catalog.table("account_user")))
    assert set(current["user_id"].to_list()) == set(users["id"].to_list())


# --- SIGKILL at the worst moments -------------------------------------------------------------------

KILLS = [
    ("in a bronze file write", "bronze.write:kill", USERS),
    ("between writing a file and publishing it", "lake.publish:kill", USERS),
    ("while Dagster records the partitions", "bronze.materialized:kill-after=0.01", USERS),
    ("mid-stream from the source", "bronze.batch:kill", USERS),
    ("after publishing, before the extraction log", "bronze.log:kill", USERS),
    ("just before a MERGE", "silver.merge:kill", USERS),
    ("early in a MERGE", "silver.merge:kill-after=0.05", USERS),
    ("late in a MERGE", "silver.merge:kill-after=0.4", USERS),
]


@pytest.mark.parametrize(("moment", "fault", "selection"), KILLS, ids=[k[0] for k in KILLS])
def test_a_kill(stand, moment, fault, selection):
    churned(stand)
    before = stand.silver_version("account_user")
    result = stand.refresh(selection, fault=fault)
    assert result.returncode in (KILLED, 0), result.stderr[-2000:]  # kill-after may land once all is done
    stand.assert_readable()  # the previous good data is still there
    if result.returncode == KILLED and fault.startswith("bronze"):
        assert stand.silver_version("account_user") == before
    stuck = stand.instance.get_runs(filters=dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
    lines = assert_recovered(stand, selection)
    if stuck:  # the kill hit a run in progress: the next refresh says it failed it
        assert any("is gone (killed or crashed)" in line for line in lines), lines


CAPTURED = ("key:bronze/service/servicerequest or key:silver/account/company or key:silver/service/servicerequest "
            "or key:silver/service/report")  # the stream's bronze step brings its two sibling assets along
CAPTURED_TABLES = ("account_company", "service_servicerequest", "service_report")
STREAM_KILLS = [
    ("between publishing change files and confirming the slot", "bronze.changes.confirm:kill"),
    ("mid-way through a new snapshot of the captured tables", "bronze.stream.snapshot:kill"),
    ("between a captured table's changelog and its current state", "silver.stream:kill"),
]


@pytest.mark.parametrize(("moment", "fault"), STREAM_KILLS, ids=[k[0] for k in STREAM_KILLS])
def test_a_kill_in_the_change_stream(stand, moment, fault):
    churned(stand)
    if "snapshot" in fault:
        cdc.drop_slot(stand.url)  # so this refresh takes a new snapshot, and dies in the middle of it
    result = stand.refresh(CAPTURED, fault=fault)
    assert result.returncode == KILLED, result.stderr[-2000:]
    stand.assert_readable()
    assert_recovered(stand, CAPTURED, CAPTURED_TABLES)  # every change once: no loss, no duplicate


def test_a_kill_in_the_reconciliation_merge(stand):
    churned(stand)
    result = stand.refresh(USERS, "--reconcile", fault="silver.merge#2:kill")
    assert result.returncode == KILLED
    assert_recovered(stand)


def test_a_kill_while_writing_a_dimension(stand):
    churned(stand)
    result = stand.refresh(DIM, fault="silver.dimension:kill-after=0.05")
    assert result.returncode in (KILLED, 0)
    assert_recovered(stand, DIM)
    assert_dimension_whole(stand)


@pytest.mark.parametrize("fault", ["gold.write:kill", "gold.write:kill-after=0.1"], ids=["before", "during"])
def test_a_kill_mid_publication_of_a_gold_month(stand, fault):
    churned(stand)
    result = stand.refresh(FUNNEL, fault=fault)
    assert result.returncode in (KILLED, 0)
    stand.assert_readable()
    assert_recovered(stand, FUNNEL, ("service_servicerequest", "service_service"))
    assert_funnel_equals_reference(stand)


def test_a_kill_of_a_refresh_holding_the_pool(stand):
    churned(stand)
    conn = psycopg2.connect(stand.url)
    with conn.cursor() as cur:
        cur.execute("LOCK TABLE account_user IN ACCESS EXCLUSIVE MODE")
    process, _ = stand.start("refresh", "--skip-checks", "--select", USERS)
    try:
        deadline = time.monotonic() + 120
        while pool_state(stand.instance, SOURCE_POOL).claimed == 0:
            assert time.monotonic() < deadline, "the refresh never took a slot"
            time.sleep(0.3)
        process.kill()
        process.wait(timeout=20)
    finally:
        conn.rollback()
        conn.close()
    assert pool_state(stand.instance, SOURCE_POOL).claimed == 1  # what the dead run left
    assert_recovered(stand)


def test_sigterm_stops_a_refresh_and_the_next_one_finishes_the_work(stand, tmp_path):
    churned(stand)
    marker = tmp_path / "paused"
    process, _ = stand.start("refresh", "--skip-checks", "--select", USERS, fault=f"silver.merge:pause={marker}")
    wait_for(marker)
    process.send_signal(signal.SIGTERM)
    assert process.wait(timeout=30) != 0  # at once, mid-run
    marker.unlink()
    assert_recovered(stand)


def test_a_kill_in_the_middle_of_reloading_the_history(stand):
    churned(stand)
    result = stand.cli("rebuild", "bronze/account/user", fault="lake.publish#40:kill")
    assert result.returncode == KILLED
    stand.assert_readable()
    again = stand.cli("rebuild", "bronze/account/user")
    assert again.returncode == 0, again.stderr[-2000:]
    assert_recovered(stand)


# --- the world around the lake fails --------------------------------------------------------------


def _source_database(url: str) -> str:
    return urlparse(url).path.lstrip("/")


def test_the_source_stops_mid_stream(stand, tmp_path, pg_server):
    churned(stand)
    marker = tmp_path / "paused"
    process, errors = stand.start("refresh", "--skip-checks", "--select", USERS, fault=f"bronze.batch:pause={marker}")
    wait_for(marker)
    name = _source_database(stand.url)
    admin = psycopg2.connect(pg_server.url("postgres"))
    admin.autocommit = True
    try:
        with admin.cursor() as cur:  # the source goes away: no new connections, every open one cut
            cur.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (name,))
        marker.unlink()
        error = one_line_error(ended(process, errors))
        assert "bronze/account/user" in error and name in error, error
    finally:
        with admin.cursor() as cur:
            cur.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
        admin.close()
    stand.assert_readable()
    assert_recovered(stand)


def test_a_corrupt_bronze_file_is_named_and_a_re_extraction_heals_it(stand):
    churned(stand)
    assert stand.refresh("key:bronze/account/user").returncode == 0
    table = stand.catalog.table("account_user")
    newest = max(stand.lake.list_files(bronze_table_dir(table)))
    Path(stand.lake.path(newest)).write_bytes(b"this is not parquet")
    error = one_line_error(stand.refresh("key:silver/account/user"))
    assert newest in error and "not readable Parquet" in error
    assert "dagster asset materialize -m techhub_lake.definitions --select bronze/account/user --partition" in error
    assert_recovered(stand)  # the refresh re-reads the lookback window, the newest day included


def test_a_lost_delta_commit_is_named_and_rebuild_repairs_it(stand):
    path = silver_table_path(stand.catalog.table("account_user"))
    log = Path(stand.lake.path(f"{path}/_delta_log"))

    def needed() -> list[Path]:
        """Commits a reader needs: after the last checkpoint (which stands for every older one), before the latest."""
        last = log / "_last_checkpoint"
        checkpoint = json.loads(last.read_text())["version"] if last.exists() else -1
        return sorted(c for c in log.glob("*.json") if checkpoint < int(c.stem))[:-1]

    for _ in range(12):  # refreshes of its own until there is such a commit (a checkpoint every 10 commits)
        if needed():
            break
        churned(stand)
        first_load(stand, USERS)
    lost = needed()
    assert lost, sorted(c.name for c in log.iterdir())
    lost[len(lost) // 2].unlink()
    churned(stand)
    error = one_line_error(stand.refresh(USERS))
    assert f"techhub-lake rebuild {path}" in error and "cannot be read" in error
    rebuilt = stand.cli("rebuild", path)
    assert rebuilt.returncode == 0, rebuilt.stderr[-2000:]
    assert_recovered(stand)


def test_two_refreshes_at_once(stand):
    churned(stand)
    runs = [stand.start("refresh", "--skip-checks", "--select", USERS) for _ in range(2)]
    outcomes = [ended(process, errors, 600) for process, errors in runs]
    assert 0 in {code for code, _ in outcomes}, outcomes
    for code, stderr in outcomes:  # one that loses a race for a commit fails in one line, never half-done
        if code:
            one_line_error((code, stderr))
    assert_recovered(stand)


def test_the_s3_server_stops_mid_upload(new_database, s3_server, tmp_path):
    proxy = TcpProxy(int(s3_server["endpoint_url"].rsplit(":", 1)[1]))
    endpoint = f"http://127.0.0.1:{proxy.port}"
    root = "s3://datalake/faults"
    access = S3Access(endpoint, s3_server["region"], s3_server["access_key_id"], s3_server["secret_access_key"])
    storage = LakeStorage(root=root, s3_endpoint_url=endpoint, s3_region=s3_server["region"],
                          aws_access_key_id=s3_server["access_key_id"], aws_secret_access_key=s3_server["secret_access_key"])
    s3_env = {"AWS_ENDPOINT_URL": endpoint, "AWS_REGION": s3_server["region"],
              "AWS_ACCESS_KEY_ID": s3_server["access_key_id"], "AWS_SECRET_ACCESS_KEY": s3_server["secret_access_key"]}
    stand = make_stand(new_database, tmp_path, root, storage, LakeFiles(root, access), s3_env, seed=62)
    try:
        first_load(stand, USERS)
        churned(stand)
        marker = tmp_path / "paused"
        process, errors = stand.start("refresh", "--skip-checks", "--select", USERS,
                                      fault=f"lake.publish:pause={marker}")
        wait_for(marker)  # a temporary object is uploaded; its publication (a server-side copy) is next
        proxy.cut()
        marker.unlink()
        one_line_error(ended(process, errors))
        proxy.restore()
        stand.assert_readable()
        assert_recovered(stand)
    finally:
        proxy.close()
        stand.instance.dispose()


def test_a_full_disk(new_database, tmp_path):
    disk = tmp_path / "small-disk"
    disk.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(disk)], capture_output=True).returncode:
        pytest.skip("cannot mount a small tmpfs here (needs root)")
    try:
        stand = make_stand(new_database, tmp_path, str(disk / "lake"), seed=63)
        first_load(stand, USERS)
        churned(stand)
        filler = disk / "filler"
        with filler.open("wb") as handle:  # leave the lake a few kilobytes
            try:
                while True:
                    handle.write(b"\0" * 65536)
            except OSError:
                pass
        error = one_line_error(stand.refresh(USERS))
        assert "No space left on device" in error or "space" in error.lower(), error
        filler.unlink()
        stand.assert_readable()
        assert_recovered(stand)
        stand.instance.dispose()
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)
