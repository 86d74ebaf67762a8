"""A partition-range backfill launched the way the UI launches it: `dagster-webserver` and
`dagster-daemon` on loopback with a temporary DAGSTER_HOME, the backfill requested through the
webserver's GraphQL API, the daemon running it. A range of bronze days is one run, and its files
are in the lake."""

from __future__ import annotations

import time

import pytest

from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting, query
from techhub_lake_tests.dagster_services import (
    daemon_command,
    dagster_home,
    free_port,
    graphql,
    running,
    service_environment,
    wait_for_webserver,
    webserver_command,
)

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


@pytest.fixture
def dagster_services(new_database, tmp_path):
    """A source, a catalog starting 2026-10-20, and the webserver and daemon over them."""
    url = new_database()
    init_source(url, scale=0.02, seed=19)
    catalog = catalog_starting(tmp_path, "2026-10-20")
    home = dagster_home(tmp_path / "dagster_home")
    env = service_environment(home, url, catalog.path, tmp_path / "lake", tmp_path / "state")
    port = free_port()
    with running({"webserver": webserver_command(port), "daemon": daemon_command()}, env, tmp_path):
        yield port, tmp_path / "lake", url


def test_a_range_backfill_from_the_api_is_one_run_and_lands_in_the_lake(dagster_services):
    port, lake, url = dagster_services
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
