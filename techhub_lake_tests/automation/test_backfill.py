"""A partition-range backfill launched the way the UI launches it, on the docker-compose
deployment's own Dagster configuration without Docker: `deploy/compose/dagster.yaml` (run, event
and schedule storage in PostgreSQL, the queued run coordinator, the pools, step logs in their own
directory) and `deploy/compose/workspace.yaml` (the code location as a gRPC code server), with
`dagster code-server start`, `dagster-webserver` and `dagster-daemon` on loopback. The backfill is
requested through the webserver's GraphQL API and the daemon runs it: a range of bronze days is one
run, launched through the code server, recorded in PostgreSQL, and its files are in the lake."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting, query
from techhub_lake_tests.dagster_services import (
    BIN,
    REPO,
    dagster_home,
    free_port,
    graphql,
    running,
    service_environment,
    wait_for_webserver,
)

pytestmark = pytest.mark.slow  # an end-to-end run of the lake: the full suite, not the fast tier

COMPOSE = REPO / "docker-compose.yml"
DAYS = ["2026-10-25", "2026-10-26", "2026-10-27", "2026-10-28", "2026-10-29"]  # the generated history ends 10-31

LAUNCH = """
mutation Launch($params: LaunchBackfillParams!) {
  launchPartitionBackfill(backfillParams: $params) {
    __typename
    ... on LaunchBackfillSuccess { backfillId }
    ... on PythonError { message }
    ... on InvalidSubsetError { message }
  }
}"""
STATUS = """
query Status($id: String!) {
  partitionBackfillOrError(backfillId: $id) {
    ... on PartitionBackfill { status numPartitions }
    ... on PythonError { message }
  }
}"""
RUNS = """
query Runs($id: String!) {
  runsOrError(filter: {tags: [{key: "dagster/backfill", value: $id}]}) {
    ... on Runs { results { runId status tags { key value } } }
  }
}"""


def deployment_home(home: Path, storage_url: str, logs: Path) -> Path:
    """A DAGSTER_HOME holding the compose deployment's dagster.yaml, with its PostgreSQL given as one
    URL (the test server listens on a Unix socket, which postgres_db's host/port fields cannot name)
    and the step-log directory moved under the test's own directory; every other setting as shipped."""
    config = yaml.safe_load((REPO / "deploy" / "compose" / "dagster.yaml").read_text(encoding="utf-8"))
    shipped = config["storage"]["postgres"]["postgres_db"]  # what the test replaces, but for its driver
    config["storage"]["postgres"] = {"postgres_url": storage_url.replace("postgresql://", f"{shipped['scheme']}://", 1)}
    config["compute_logs"]["config"]["base_dir"] = str(logs)
    return dagster_home(home, config=config)


def deployment_workspace(path: Path, port: int) -> Path:
    """The compose deployment's workspace.yaml, its code location on loopback at ``port``."""
    workspace = yaml.safe_load((REPO / "deploy" / "compose" / "workspace.yaml").read_text(encoding="utf-8"))
    (server,) = [entry["grpc_server"] for entry in workspace["load_from"]]
    server.update(host="127.0.0.1", port=port)
    path.write_text(yaml.safe_dump(workspace), encoding="utf-8")
    return path


@pytest.fixture
def dagster_services(new_database, tmp_path):
    """A source, a catalog starting 2026-10-20, a PostgreSQL database for Dagster, and the code
    server, webserver and daemon of the deployment over them."""
    url = new_database()
    init_source(url, scale=0.02, seed=19)
    storage = new_database()
    catalog = catalog_starting(tmp_path, "2026-10-20")
    home = deployment_home(tmp_path / "dagster_home", storage, tmp_path / "compute-logs")
    env = service_environment(home, url, catalog.path, tmp_path / "lake", tmp_path / "state")
    code_port, port = free_port(), free_port()
    workspace = deployment_workspace(tmp_path / "workspace.yaml", code_port)
    code_location = yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))["services"]["code-location"]
    code_server = on_loopback(code_location["command"], code_port)
    # in the compose file's order: the webserver and daemon once the code location answers its health check
    with running({"code-server": code_server}, env, tmp_path):
        wait_for_code_server(on_loopback(code_location["healthcheck"]["test"][1:], code_port))
        with running({"webserver": [str(BIN / "dagster-webserver"), "-h", "127.0.0.1", "-p", str(port), "-w", str(workspace)],
                      "daemon": [str(BIN / "dagster-daemon"), "run", "-w", str(workspace)]}, env, tmp_path):
            yield port, tmp_path / "lake", url, storage, tmp_path / "compute-logs"


def on_loopback(argv: list[str], port: int) -> list[str]:
    """A command of the compose file run here: its program from this environment, its --host and
    --port on loopback at ``port``."""
    argv = [str(BIN / argv[0]), *argv[1:]]
    argv[argv.index("--host") + 1], argv[argv.index("--port") + 1] = "127.0.0.1", str(port)
    return argv


def wait_for_code_server(check: list[str], seconds: float = 180) -> None:
    """Until the code server passes the compose file's health check for it (``check``)."""
    deadline = time.monotonic() + seconds
    while subprocess.run(check, capture_output=True, check=False).returncode != 0:
        assert time.monotonic() < deadline, "the code server did not come up"
        time.sleep(1)


def test_a_range_backfill_from_the_api_is_one_run_and_lands_in_the_lake(dagster_services):
    port, lake, url, storage, logs = dagster_services
    wait_for_webserver(port)
    launched = graphql(port, LAUNCH, {"params": {
        "partitionNames": DAYS,
        "assetSelection": [{"path": ["bronze", "core", "actionlog"]}, {"path": ["bronze", "account", "user"]}],
    }})["launchPartitionBackfill"]
    assert launched["__typename"] == "LaunchBackfillSuccess", launched
    backfill = launched["backfillId"]

    deadline = time.monotonic() + 300
    status = None
    while time.monotonic() < deadline:
        status = graphql(port, STATUS, {"id": backfill})["partitionBackfillOrError"]
        if status.get("status") in ("COMPLETED", "COMPLETED_SUCCESS", "FAILED", "CANCELED", "COMPLETED_FAILED"):
            break
        time.sleep(2)
    assert status and status["status"] in ("COMPLETED", "COMPLETED_SUCCESS"), status

    runs = graphql(port, RUNS, {"id": backfill})["runsOrError"]["results"]
    assert len(runs) == 1, runs  # single_run: the whole range, both assets, one run
    tags = {t["key"]: t["value"] for t in runs[0]["tags"]}
    assert runs[0]["status"] == "SUCCESS"
    assert (tags["dagster/asset_partition_range_start"], tags["dagster/asset_partition_range_end"]) == (DAYS[0], DAYS[-1])
    for table, watermark in (("core_actionlog", "created_at"), ("account_user", "updated_at")):
        # a file for exactly the backfilled days on which the source has rows
        with_rows = {r[0].strftime("%Y%m%d") for r in query(url, (
            f"SELECT DISTINCT ({watermark} AT TIME ZONE 'Asia/Almaty')::date FROM {table} "
            f"WHERE {watermark} >= '{DAYS[0]} 00:00+05' AND {watermark} < '2026-10-30 00:00+05'"))}
        module, name = table.split("_", 1)
        files = {p.name[5:13] for p in (lake / "bronze" / "techhub" / module / name).rglob("data_*.parquet")}
        assert files == with_rows and files, table

    # the deployment's storage holds the run and its events; the steps' logs are where the UI reads them
    run_id = runs[0]["runId"]
    assert query(storage, f"SELECT status FROM runs WHERE run_id = '{run_id}'") == [("SUCCESS",)]
    assert query(storage, "SELECT count(*) FROM event_logs WHERE dagster_event_type = 'ASSET_MATERIALIZATION' "
                          f"AND run_id = '{run_id}'")[0][0] >= 2
    assert [p for p in logs.rglob("*") if p.is_file() and p.stat().st_size > 0]
