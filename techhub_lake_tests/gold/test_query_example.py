"""The whole graph, bronze to gold, on a real S3 server through Dagster; and the "Querying the
lake" example of docs/querying.md, run as a user would (a separate Python, configured by the environment), against that
S3 lake and a local one, printing what the marts hold."""

from __future__ import annotations

import ast
import os
import re
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from techhub_lake.automation.instance import postgres_storage_config
from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.definitions import build_definitions
from techhub_lake.gold.marts import mart_specs
from techhub_lake.gold.store import mart_content
from techhub_lake.lake.delta import read_delta
from techhub_lake.quality.targets import DQ_REPORT_PATH
from techhub_lake.resources import LakeStorage
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting
from techhub_lake_tests.helpers import resources_for

pytestmark = pytest.mark.slow  # an end-to-end run of the lake: the full suite, not the fast tier

QUERYING = Path(__file__).parents[2] / "docs" / "querying.md"
SPECS = {spec.name: spec for spec in mart_specs("Asia/Almaty")}


def query_example() -> str:
    """The python block that follows the ``<!-- query example -->`` marker in docs/querying.md."""
    text = QUERYING.read_text(encoding="utf-8")
    match = re.search(r"<!-- query example -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert match, "docs/querying.md lost its query example"
    return match.group(1)


def run_example(tmp_path: Path, env: dict[str, str]) -> list[str]:
    script = tmp_path / "query_example.py"
    script.write_text(query_example(), encoding="utf-8")
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TECHHUB_"))}
    out = subprocess.run([sys.executable, str(script)], env=clean | env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.splitlines()


def expected_output(lake) -> list[str]:
    users = mart_content(lake, SPECS["dm_users"])
    funnel = mart_content(lake, SPECS["dm_service_funnel"])
    top = (funnel.group_by("service_code").agg(requests=pl.col("total_requests").sum(), success=pl.col("success").sum())
           .sort(["requests", "service_code"], descending=[True, False]))
    return [f"users {users.height} active {users['is_active'].sum()}", str(top.rows())]


def test_bronze_to_gold_on_s3_and_the_readme_query_example(new_database, s3_server, tmp_path, dagster_instance):
    url = new_database()
    init_source(url, scale=0.01, seed=12)
    catalog = catalog_starting(tmp_path, "2026-10-25")
    remote = LakeStorage(root="s3://datalake/query", s3_endpoint_url=s3_server["endpoint_url"],
                         s3_region=s3_server["region"], aws_access_key_id=s3_server["access_key_id"],
                         aws_secret_access_key=s3_server["secret_access_key"])
    local = LakeStorage(root=str(tmp_path / "lake"))
    # the check steps themselves are the quality tests' subject; here the quality mart runs every contract
    refresh_lake(None, lambda _: None, catalog=catalog, instance=dagster_instance, checks=False,
                 defs=build_definitions(catalog, resources_for(url, remote)))
    (tmp_path / "local_home").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "local_home"),
                              overrides=postgres_storage_config(new_database())) as instance:  # its own instance, as a second deployment
        refresh_lake(None, lambda _: None, catalog=catalog, instance=instance, checks=False,
                     defs=build_definitions(catalog, resources_for(url, local)))

    # the quality contracts ran on the S3 lake (Soda over DuckDB over delta-rs over S3), and held
    report = read_delta(remote.files(), DQ_REPORT_PATH)
    assert set(report["layer"]) == {"source", "silver", "gold"}
    assert report.filter(pl.col("outcome") == "fail").height == 0, report.filter(pl.col("outcome") == "fail").select("table_name", "rule", "level", "measured_value").rows()
    # every table evaluated (the refresh builds the report last, after the funnel's months) and held
    errors = report.filter((pl.col("level") == "error") & (pl.col("table_name") != "gold.dq_report"))
    assert errors.height > 100 and set(errors["outcome"]) == {"pass"}, \
        errors.filter(pl.col("outcome") != "pass").select("table_name", "rule", "outcome").rows()

    # the same marts, byte for byte, whichever storage they were written to
    for name, spec in SPECS.items():
        assert mart_content(remote.files(), spec).equals(mart_content(local.files(), spec)), name
    funnel = dg.AssetKey(["gold", "techhub", "dm_service_funnel"])
    assert dagster_instance.get_latest_materialization_event(funnel).asset_materialization.metadata[
        "path"].value.startswith("s3://datalake/query/gold/techhub/")

    printed_s3 = run_example(tmp_path, {
        "TECHHUB_LAKE_ROOT": "s3://datalake/query", "AWS_ENDPOINT_URL": s3_server["endpoint_url"],
        "AWS_REGION": s3_server["region"], "AWS_ACCESS_KEY_ID": s3_server["access_key_id"],
        "AWS_SECRET_ACCESS_KEY": s3_server["secret_access_key"]})
    printed_local = run_example(tmp_path, {"TECHHUB_LAKE_ROOT": str(tmp_path / "lake")})
    assert printed_s3 == printed_local == expected_output(local.files())
    assert int(printed_local[0].split()[1]) > 0 and ast.literal_eval(printed_local[1])  # rows to show
