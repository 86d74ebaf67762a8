"""The `techhub-lake` command line, run as a user runs it: a subprocess with its own state directory."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from techhub_lake.source.embedded import EmbeddedPostgres, process_alive
from techhub_lake_tests.conftest import query
from techhub_lake_tests.dagster_services import free_port, graphql

CLI = str(Path(sys.executable).with_name("techhub-lake"))


def run(args: list[str], state: Path, **env: str) -> subprocess.CompletedProcess:
    environment = {k: v for k, v in os.environ.items() if k not in ("TECHHUB_SOURCE_URL", "DAGSTER_HOME")}
    environment |= {"TECHHUB_STATE_DIR": str(state), **env}
    return subprocess.run([CLI, *args], env=environment, capture_output=True, text=True, timeout=600, cwd=state)


@pytest.fixture
def state(tmp_path: Path):
    yield tmp_path
    EmbeddedPostgres(tmp_path / "postgres").stop()  # never leave a server behind, even on failure


@pytest.fixture
def recent_catalog(tmp_path: Path) -> str:
    """The packaged catalog with a history of a few days, so a full refresh is quick."""
    from techhub_lake_tests.conftest import catalog_starting

    return catalog_starting(tmp_path, "2026-11-15", "recent.yaml").path


@pytest.mark.slow
def test_source_lifecycle_through_the_cli(state):
    init = run(["source", "init", "--scale", "0.002", "--seed", "5"], state)
    assert init.returncode == 0, init.stderr
    assert "core_actionlog" in init.stdout and "total" in init.stdout
    assert "rows" in init.stderr  # progress goes to stderr

    url = run(["source", "url"], state)
    assert url.returncode == 0 and url.stdout.startswith("postgresql://")
    pid = EmbeddedPostgres(state / "postgres").pid()

    churn = run(["source", "churn", "--seed", "2", "--migrate"], state)
    assert churn.returncode == 0, churn.stderr
    assert "account_user" in churn.stdout and "migration: added account_user.telegram" in churn.stdout

    check = run(["catalog", "check"], state)
    assert check.returncode == 0, check.stderr
    assert "every table and column the catalog names exists" in check.stdout

    # a deployment's init service runs on every start: the second time it keeps the source (and its churn)
    again = run(["source", "init", "--scale", "0.002", "--seed", "5", "--keep-existing"], state)
    assert again.returncode == 0, again.stderr
    assert "already holds a generated TechHub source; kept as it is" in again.stdout
    migrated = query(url.stdout.strip(), "SELECT count(*) FROM information_schema.columns "
                                         "WHERE table_name = 'account_user' AND column_name = 'telegram'")
    assert migrated == [(1,)]  # the churned, migrated source is still there

    stop = run(["source", "stop"], state)
    assert stop.returncode == 0 and "stopped" in stop.stdout
    assert not process_alive(pid)
    gone = run(["source", "url"], state)
    assert gone.returncode == 1
    assert gone.stderr.strip() == "Error: no embedded source is running: run `techhub-lake source init`"


@pytest.mark.slow
def test_demo_without_ui_fills_refreshes_and_stops_the_server(state, recent_catalog):
    demo = run(["demo", "--no-ui", "--scale", "0.002", "--seed", "9"], state, TECHHUB_CATALOG=recent_catalog)
    assert demo.returncode == 0, demo.stderr
    assert "generating the TechHub source at scale 0.002, seed 9" in demo.stdout
    # bronze daily, bronze snapshots, silver, gold, the funnel's month, quality, the warehouse
    assert "refresh run 7:" in demo.stdout
    assert list((state / "lake" / "bronze" / "techhub" / "core" / "city").rglob("data_*.parquet"))
    assert "stopped the embedded PostgreSQL" in demo.stdout
    assert not EmbeddedPostgres(state / "postgres").is_running()
    # what the demo loaded, through SQL over the lake and through the warehouse BI reads
    companies = run(["sql", "--csv", "SELECT count(*) AS n FROM gold.dm_companies"], state, TECHHUB_CATALOG=recent_catalog)
    assert companies.returncode == 0 and int(companies.stdout.splitlines()[1]) > 0, companies.stderr
    server = EmbeddedPostgres(state / "postgres")
    try:
        server.start()
        url = run(["warehouse", "url"], state).stdout.strip()
        assert query(url, "SELECT count(*) FROM analytics.dm_companies") == [(int(companies.stdout.splitlines()[1]),)]
    finally:
        server.stop()
    again = run(["demo", "--no-ui", "--scale", "0.002", "--seed", "9"], state, TECHHUB_CATALOG=recent_catalog)
    assert again.returncode == 0 and "already holds scale 0.002, seed 9: kept" in again.stdout
    assert (state / "dagster" / "dagster.yaml").is_file()  # the instance config the UI will use


def test_bad_catalog_is_a_one_line_error(state):
    bad = state / "bad.yaml"
    bad.write_text("tables:\n  - name: core_blog\n    module: core\n    strategy: incremental\n")
    out = run(["catalog", "check", "--catalog", str(bad)], state)
    assert out.returncode == 1
    assert out.stderr.strip() == (
        f"Error: {bad}: table 'core_blog', field 'watermark': strategy 'incremental' needs a watermark column"
    )


def test_dead_source_is_a_one_line_error(state):
    out = run(["catalog", "check"], state, TECHHUB_SOURCE_URL="postgresql://reader:secret@127.0.0.1:9/techhub")
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("Error: cannot connect to the source database postgresql://reader:***@127.0.0.1:9/techhub")
    assert "secret" not in out.stderr


def test_bad_flag_is_rejected(state):
    out = run(["source", "init", "--scale", "0"], state)
    assert out.returncode == 2
    assert "Invalid value for '--scale'" in out.stderr


@pytest.mark.slow
def test_demo_opens_the_ui_with_every_bronze_asset_and_ctrl_c_stops_everything(state, recent_catalog):
    import signal
    import time

    port = free_port()
    environment = {k: v for k, v in os.environ.items() if k not in ("TECHHUB_SOURCE_URL", "DAGSTER_HOME")}
    environment["TECHHUB_STATE_DIR"] = str(state)
    environment["TECHHUB_CATALOG"] = recent_catalog
    log = open(state / "demo.log", "w")  # a file, not a pipe: dagster dev logs more than a pipe buffers
    proc = subprocess.Popen([CLI, "demo", "--scale", "0.002", "--port", str(port)], env=environment, cwd=state,
                            stdout=log, stderr=subprocess.STDOUT, text=True)
    try:
        nodes = None
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                nodes = graphql(port, "{ assetNodes { assetKey { path } groupName } }")["assetNodes"]
                break
            except OSError:
                time.sleep(1)
        assert nodes is not None, "the Dagster UI did not come up"
        while time.monotonic() < deadline and "the lake is up to date" not in (state / "demo.log").read_text():
            time.sleep(1)
        # the refresh's runs show in the UI, all succeeded: bronze snapshots, bronze daily partitions (and
        # their checks on the range's last day), silver, gold, the funnel's months, the quality report
        runs = graphql(port, '{ runsOrError(filter: {tags: [{key: "techhub/trigger", value: "refresh"}]}) '
                       '{ ... on Runs { results { runId status } } } }')["runsOrError"]["results"]
        assert len(runs) >= 6 and {r["status"] for r in runs} == {"SUCCESS"}, runs
        from techhub_lake.catalog import load_catalog

        # bronze and silver per table; child tables, dimensions and fact, techpark tables; the marts and
        # the quality report
        assert len(nodes) == 2 * len(load_catalog().lake_tables) + 8 + 13 + 13  # ... and the warehouse's publications
        # bronze and silver are grouped by app (bronze_account, silver_dim, ...), gold and serve by layer
        assert {n["groupName"] for n in nodes} >= {"bronze_account", "bronze_service", "silver_account", "silver_dim", "gold", "serve"}
        assert all(n["groupName"] == ("_".join(n["assetKey"]["path"][:2]) if n["assetKey"]["path"][0] in ("bronze", "silver")
                                      else n["assetKey"]["path"][0]) for n in nodes), nodes
        pg_pid = EmbeddedPostgres(state / "postgres").pid()
        assert pg_pid is not None
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C sends
        proc.wait(timeout=60)
        log.close()
        output = (state / "demo.log").read_text()
    assert "stopped the embedded PostgreSQL" in output
    assert not process_alive(pg_pid)
    import psutil

    leftovers = [p for p in psutil.process_iter(["cmdline"]) if f"-p {port}" in " ".join(p.info["cmdline"] or [])
                 or str(port) in (p.info["cmdline"] or [])]
    assert [p for p in leftovers if p.status() != psutil.STATUS_ZOMBIE] == []


def test_quality_lists_the_contracts_and_prints_one_whole(state):
    listed = run(["quality", "list"], state)
    assert listed.returncode == 0, listed.stderr
    assert "source.account_company" in listed.stdout and "tin_12_digits" in listed.stdout
    printed = run(["quality", "contract", "silver.fact_requests"], state)
    assert printed.returncode == 0, printed.stderr
    assert "dataset: lake/silver/fact_requests" in printed.stdout
    assert "valid_reference_data" in printed.stdout and "request_id_unique" in printed.stdout
    unknown = run(["quality", "contract", "silver.nope"], state)
    assert unknown.returncode == 2 and "no checked table 'silver.nope'" in unknown.stderr


def test_a_lake_root_without_a_bucket_is_a_one_line_error_and_writes_nothing(state):
    out = run(["refresh"], state, TECHHUB_LAKE_ROOT="s3://")
    assert out.returncode == 1
    assert out.stderr.strip().splitlines()[-1] == (
        "Error: lake root 's3://' has no bucket: set TECHHUB_LAKE_ROOT to s3://bucket[/prefix]")
    assert "Traceback" not in out.stderr
    assert not (state / "s3:").exists() and not (state / "postgres").exists()  # no folder, no server started


def test_a_refused_login_fails_at_once_in_one_line_naming_the_cause(state, pg_server, recent_catalog):
    import time

    import psycopg2

    # a role the server refuses to log in, every time (the embedded server trusts local sockets, so
    # a wrong password cannot be shown here; the same FATAL path carries "password authentication failed")
    conn = psycopg2.connect(pg_server.url("postgres"))
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("DROP ROLE IF EXISTS no_login_reader; CREATE ROLE no_login_reader NOLOGIN")
    conn.close()
    source = pg_server.url("postgres").replace("postgres:@", "no_login_reader:@", 1)
    started = time.monotonic()
    out = run(["refresh", "--skip-checks", "--select", "key:bronze/core/city"], state, TECHHUB_SOURCE_URL=source,
              TECHHUB_CATALOG=recent_catalog)
    elapsed = time.monotonic() - started
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: the refresh failed for 1 asset(s) (bronze/core/city)") and "bronze_core_city" in last, last
    assert "refused the lake" in last and "not permitted to log in" in last, last
    assert "Exceeded max_retries" not in out.stderr and "Traceback" not in out.stderr
    assert elapsed < 60  # failed at once, not retried with backoff


def test_a_bad_selection_is_a_one_line_error(state):
    out = run(["refresh", "--select", "key:(((nope"], state)
    assert out.returncode == 1
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: --select 'key:(((nope' is not an asset selection") and "Traceback" not in out.stderr


def test_catalog_check_lists_every_mismatch_in_one_pass(state, new_database):
    import psycopg2

    from techhub_lake.source.generator import init_source

    url = new_database()
    init_source(url, scale=0.002, seed=3)
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE account_activation DROP COLUMN code; ALTER TABLE core_city RENAME TO core_town")
    conn.close()
    out = run(["catalog", "check"], state, TECHHUB_SOURCE_URL=url)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert any("table 'account_activation'" in line and "column 'code'" in line for line in lines)
    assert any("table 'core_city': not found in the source" in line for line in lines)
    assert lines[-1].startswith("Error: ") and "2 mismatch(es) with the source" in lines[-1]


@pytest.mark.slow
def test_cdc_status_and_drop_through_the_cli(state, recent_catalog):
    assert run(["source", "init", "--scale", "0.002", "--seed", "6"], state).returncode == 0
    before = run(["cdc", "status"], state, TECHHUB_CATALOG=recent_catalog)
    assert before.returncode == 0, before.stderr
    assert "captured tables (strategy: cdc): account_company, service_servicerequest, service_report" in before.stdout
    assert "replication slot techhub_lake_techhub: none" in before.stdout
    assert "lake: no snapshot of the captured tables yet" in before.stdout
    refresh = run(["refresh", "--skip-checks", "--select", "key:bronze/account/company"], state,
                  TECHHUB_CATALOG=recent_catalog)
    assert refresh.returncode == 0, refresh.stderr
    assert "3 asset(s)" in refresh.stdout  # the stream's step materializes its three tables together
    after = run(["cdc", "status"], state, TECHHUB_CATALOG=recent_catalog)
    assert "replication slot techhub_lake_techhub: reserved, idle, confirmed" in after.stdout, after.stdout
    assert "lake: snapshot of account_company, service_servicerequest, service_report at " in after.stdout
    dropped = run(["cdc", "drop", "--yes"], state, TECHHUB_CATALOG=recent_catalog)
    assert dropped.returncode == 0 and "dropped replication slot techhub_lake_techhub and publication techhub_lake" in dropped.stdout
    again = run(["cdc", "drop", "--yes"], state, TECHHUB_CATALOG=recent_catalog)
    assert "nothing to drop" in again.stdout
    assert "replication slot techhub_lake_techhub: none" in run(["cdc", "status"], state, TECHHUB_CATALOG=recent_catalog).stdout
