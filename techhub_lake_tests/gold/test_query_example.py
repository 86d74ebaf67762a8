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


CLI = str(Path(sys.executable).with_name("techhub-lake"))


def cli_env(env: dict[str, str]) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "TECHHUB_LAKE_ROOT"))} | env


def run_sql(tmp_path: Path, env: dict[str, str], *args: str) -> list[dict]:
    """``techhub-lake sql <args>`` as its own process; its CSV rows."""
    out = subprocess.run([CLI, "sql", *args], env=cli_env(env), capture_output=True, text=True, timeout=300,
                         cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    return pl.read_csv(out.stdout.encode()).to_dicts()


def interactive_sql(env: dict[str, str], statement: str) -> str:
    """Type ``statement`` into ``techhub-lake sql`` on a terminal (a pty), then Ctrl-D; what it printed."""
    import pty
    import select
    import time

    primary, secondary = pty.openpty()
    process = subprocess.Popen([CLI, "sql"], env=cli_env(env), stdin=secondary, stdout=secondary, stderr=secondary)
    os.close(secondary)
    printed, deadline, typed = b"", time.monotonic() + 120, False
    while process.poll() is None and time.monotonic() < deadline:
        if select.select([primary], [], [], 0.2)[0]:
            try:
                printed += os.read(primary, 65536)
            except OSError:
                break
        if not typed and b"lake> " in printed:
            os.write(primary, statement.encode() + b"\n")
            typed = True
        elif typed and printed.rstrip().endswith(b"lake>"):
            os.write(primary, b"\x04")  # Ctrl-D: end of input
    process.wait(timeout=30)
    os.close(primary)
    assert process.returncode == 0, printed.decode(errors="replace")
    return printed.decode(errors="replace")


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

    # `techhub-lake sql`: the same figures from DuckDB views over either lake, with no extension loaded
    s3_env = {"TECHHUB_LAKE_ROOT": "s3://datalake/query", "AWS_ENDPOINT_URL": s3_server["endpoint_url"],
              "AWS_REGION": s3_server["region"], "AWS_ACCESS_KEY_ID": s3_server["access_key_id"],
              "AWS_SECRET_ACCESS_KEY": s3_server["secret_access_key"], "TECHHUB_CATALOG": str(catalog.path)}
    local_env = {"TECHHUB_LAKE_ROOT": str(tmp_path / "lake"), "TECHHUB_CATALOG": str(catalog.path)}
    figures = ("SELECT (SELECT count(*) FROM gold.dm_users) AS users, (SELECT sum(total_requests) FROM gold.dm_service_funnel) "
               "AS requests, (SELECT count(*) FROM silver.account_user) AS silver_users, (SELECT count(*) FROM "
               "bronze.account_user) AS bronze_users, (SELECT count(*) FROM bronze.account_company) AS bronze_companies, "
               "(SELECT count(*) FROM duckdb_extensions() WHERE loaded AND extension_name IN ('delta', 'httpfs')) AS downloaded")
    on_s3, on_disk = run_sql(tmp_path, s3_env, "--csv", figures), run_sql(tmp_path, local_env, "--csv", figures)
    bronze_files = [p for p in (tmp_path / "lake" / "bronze" / "techhub" / "account" / "user").rglob("*.parquet")]
    expected = {"users": mart_content(local.files(), SPECS["dm_users"]).height,
                "requests": int(mart_content(local.files(), SPECS["dm_service_funnel"])["total_requests"].sum()),
                "silver_users": read_delta(local.files(), "silver/techhub/account/user").height,
                "bronze_users": sum(pl.read_parquet(p).height for p in bronze_files),
                "bronze_companies": read_delta(local.files(), "silver/techhub/account/company").height,  # its snapshot
                "downloaded": 0}
    assert on_s3 == on_disk == [expected], (on_s3, on_disk, expected)
    assert len(bronze_files) > 1 and expected["users"] > 0
    # a mistake is one line naming it, and the interactive session reads statements until Ctrl-D
    wrong = subprocess.run([CLI, "sql", "SELECT * FROM gold.no_such_mart"], env=cli_env(local_env), capture_output=True,
                           text=True, timeout=120)
    assert wrong.returncode == 1 and wrong.stderr.startswith("Error: SQL error: Catalog Error: Table with name no_such_mart")
    assert str(expected["users"]) in interactive_sql(local_env, "SELECT count(*) AS users\n  FROM gold.dm_users;")
