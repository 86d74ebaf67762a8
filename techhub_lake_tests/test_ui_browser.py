"""The Dagster UI in a real browser (headless Debian Chromium, driven by Playwright): the asset
graph shows the bronze and silver groups of each app and the gold group, and an asset's page shows its metadata (rows,
columns). Screenshots are kept as artefacts under ``test-artifacts/``."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting
from techhub_lake_tests.dagster_services import (
    REPO,
    dagster_home,
    free_port,
    graphql,
    open_instance,
    running,
    service_environment,
    wait_for_webserver,
    webserver_command,
)
from techhub_lake_tests.helpers import definitions_for

pytestmark = pytest.mark.slow  # an end-to-end run of the lake: the full suite, not the fast tier

ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
HISTORY_START = "2026-06-01"
PARTITION_STATS = """
query Stats($path: [String!]!) {
  assetNodeOrError(assetKey: {path: $path}) {
    ... on AssetNode { partitionStats { numMaterialized numPartitions numFailed } }
  }
}"""


@pytest.fixture
def webserver(new_database, tmp_path):
    """A small lake refreshed through a Dagster instance, and dagster-webserver over that instance."""
    url = new_database()
    init_source(url, scale=0.005, seed=23)
    catalog = catalog_starting(tmp_path, HISTORY_START)  # half a year of daily partitions
    storage = new_database()
    home = dagster_home(tmp_path / "home", storage)
    lake = tmp_path / "lake"
    with open_instance(home, storage) as instance:
        defs = definitions_for(catalog, url, lake)
        refresh_lake(None, lambda _: None, defs=defs, catalog=catalog, instance=instance)
    port = free_port()
    env = service_environment(home, url, catalog.path, lake, tmp_path / "state", storage)
    with running({"webserver": webserver_command(port)}, env, tmp_path):
        wait_for_webserver(port)
        graphql(port, "mutation { setNuxSeen }")  # the first-visit dialog would cover the graph
        yield port, lake


def test_the_asset_graph_and_an_asset_page_in_chromium(webserver):
    from playwright.sync_api import sync_playwright

    from techhub_lake.gold.marts import mart_specs
    from techhub_lake.gold.store import mart_content
    from techhub_lake.lake.storage import LakeFiles

    assert Path(CHROMIUM).exists(), "Debian's chromium is needed: apt-get install chromium"
    ARTIFACTS.mkdir(exist_ok=True)
    port, lake = webserver
    base = f"http://127.0.0.1:{port}"
    users_spec = next(s for s in mart_specs("Asia/Almaty") if s.name == "dm_users")
    users_rows = mart_content(LakeFiles(str(lake)), users_spec).height
    assert users_rows > 0
    # a bronze asset's partitions: every day of the history materialized, by the refresh's one run
    stats = graphql(port, PARTITION_STATS, {"path": ["bronze", "account", "user"]})["assetNodeOrError"]["partitionStats"]
    assert stats["numMaterialized"] == stats["numPartitions"] > 150 and stats["numFailed"] == 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.goto(f"{base}/asset-groups", wait_until="networkidle")
        for group in ("bronze_account", "silver_account", "silver_dim", "gold"):
            page.get_by_text(group, exact=True).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "asset-graph.png"), full_page=True)

        page.goto(f"{base}/assets/gold/techhub", wait_until="networkidle")  # the catalog's gold/techhub folder
        page.screenshot(path=str(ARTIFACTS / "catalog-gold.png"), full_page=True)
        page.get_by_text("dm_users", exact=True).first.click()
        # the column schema, with a column's description (the schema renders after the metadata)
        page.get_by_text("Distinct companies the user belongs to").first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "/assets/gold/techhub/dm_users" in page.url
        assert "companies_count" in body
        assert "Row count" in body and "Latest materialization" in body  # this run's metadata
        assert f"{users_rows:,}" in body or str(users_rows) in body  # the mart's real row count
        page.screenshot(path=str(ARTIFACTS / "asset-dm_users.png"), full_page=True)

        # a bronze asset's partition bar, full over the whole history, and the refresh's runs
        page.goto(f"{base}/assets/bronze/account/user?view=partitions", wait_until="networkidle")
        page.get_by_text(HISTORY_START).first.wait_for(timeout=60_000)
        page.screenshot(path=str(ARTIFACTS / "asset-bronze-user-partitions.png"), full_page=True)
        page.goto(f"{base}/runs", wait_until="networkidle")
        page.get_by_text("Success").first.wait_for(timeout=60_000)
        assert "Failure" not in page.inner_text("body")
        page.screenshot(path=str(ARTIFACTS / "runs.png"), full_page=True)

        # its quality checks, each with the outcome of this refresh's run
        page.goto(f"{base}/assets/gold/techhub/dm_users?view=checks", wait_until="networkidle")
        page.get_by_text("email_normalized").first.wait_for(timeout=60_000)
        body = page.inner_text("body")
        assert "user_id_unique" in body and "documented_columns" in body
        assert "Passed" in body or "Succeeded" in body
        page.screenshot(path=str(ARTIFACTS / "asset-dm_users-checks.png"), full_page=True)
        browser.close()
    assert (ARTIFACTS / "asset-graph.png").stat().st_size > 10_000
