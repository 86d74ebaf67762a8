"""Bronze assets as Dagster runs them: real materializations on a real instance, with real
resources, reporting metadata and writing the lake's _metadata tables."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import dagster as dg
import pyarrow.parquet as pq
import pytest
import yaml

from techhub_lake.bronze.assets import (
    SOURCE_POOL,
    build_bronze_asset,
    build_bronze_assets,
)
from techhub_lake.bronze.metadata_log import read_extraction_logs, read_schema_versions
from techhub_lake.catalog import load_catalog
from techhub_lake.catalog.model import DEFAULT_CATALOG_PATH
from techhub_lake.lake.layout import bronze_file, bronze_table_dir
from techhub_lake.resources import LakeStorage, SourceDatabase
from techhub_lake.source.churn import churn_source
from techhub_lake.source.generator import init_source

CATALOG = load_catalog()
RANGE = {"dagster/asset_partition_range_start": "2026-10-20", "dagster/asset_partition_range_end": "2026-10-31"}


def run(catalog, name, url, lake_root, instance, tags=None, partition_key=None, raise_on_error=True):
    asset = build_bronze_asset(catalog.table(name), catalog)
    return dg.materialize([asset], instance=instance, tags=tags, partition_key=partition_key,
                          resources={"source": SourceDatabase(url=url), "lake": LakeStorage(root=str(lake_root))},
                          raise_on_error=raise_on_error)


def materialization(result: dg.ExecuteInProcessResult, name: str) -> dg.AssetMaterialization:
    return result.asset_materializations_for_node(f"bronze_{name}")[-1]


def test_every_bronze_asset_reads_the_source_inside_the_pool_with_retries_and_single_run_backfills():
    for asset in build_bronze_assets(CATALOG):
        assert asset.op.pool == SOURCE_POOL
        assert asset.op.retry_policy is not None and asset.op.retry_policy.max_retries >= 3
        if asset.partitions_def is not None:
            assert asset.backfill_policy == dg.BackfillPolicy.single_run()


def test_a_partition_range_is_one_run_with_metadata_logs_and_a_schema_version(generated_source, tmp_path, dagster_instance):
    lake = tmp_path / "lake"
    result = run(CATALOG, "account_user", generated_source, lake, dagster_instance, tags=RANGE)
    assert result.success
    events = result.asset_materializations_for_node("bronze_account_user")
    assert sorted(e.partition for e in events) == [f"2026-10-{d}" for d in range(20, 32)]  # 12 partitions, one run
    by_day = {e.partition: e.metadata for e in events}
    meta = by_day["2026-10-31"]  # the run's last partition: what the asset page shows as latest
    expected_rows = len({r for f in (lake / bronze_table_dir(CATALOG.table("account_user"))).rglob("*.parquet")
                         for r in pq.read_table(f).column("id").to_pylist()})
    assert meta["run_rows"].value == expected_rows > 0
    assert meta["run_bytes"].value > 0 and meta["files_written"].value >= 1
    # each day reports its own rows (the days without rows report none), adding up to the run's
    day_rows = {day: m["dagster/row_count"].value for day, m in by_day.items() if "dagster/row_count" in m}
    assert sum(day_rows.values()) == expected_rows and len(day_rows) >= meta["days_with_rows"].value
    assert all("preview" not in m for day, m in by_day.items() if day != "2026-10-31")  # the summary once
    assert {c.name for c in meta["dagster/column_schema"].value.columns} >= {"id", "email", "data", "updated_at"}
    assert "jsonb -> string" in {c.type for c in meta["dagster/column_schema"].value.columns}
    assert all(m["path"].value.endswith("bronze/techhub/account/user") for m in by_day.values())
    assert meta["partitions"].value == "2026-10-20 .. 2026-10-31"
    assert "| id |" in meta["preview"].value
    # the catalog's PII columns are masked in the preview: no e-mail or password hash in the event log
    secrets = {v for f in (lake / bronze_table_dir(CATALOG.table("account_user"))).rglob("*.parquet")
               for column in ("email", "password") for v in pq.read_table(f).column(column).to_pylist() if v}
    assert secrets and not any(v in meta["preview"].value for v in secrets) and "***" in meta["preview"].value
    assert meta["watermark_min"].value >= dt.datetime(2026, 10, 19, 19, tzinfo=dt.UTC).timestamp()

    from techhub_lake.lake.storage import LakeFiles

    files = LakeFiles(str(lake))
    (log,) = read_extraction_logs(files, "account_user")
    assert (log["status"], log["rows"], log["partition_start"], log["partition_end"]) == (
        "success", expected_rows, "2026-10-20", "2026-10-31")
    assert log["run_id"] == result.run_id and log["schema_version"] == 1
    (version,) = read_schema_versions(files, "account_user")
    assert version["version"] == 1 and '"name": "email"' in version["columns"]


def test_a_new_source_column_appears_in_bronze_and_as_a_new_schema_version(new_database, tmp_path, dagster_instance):
    url = new_database()
    init_source(url, scale=0.005, seed=4)
    lake = tmp_path / "lake"
    first = run(CATALOG, "account_user", url, lake, dagster_instance, partition_key="2026-11-20")
    assert materialization(first, "account_user").metadata["schema_version"].value == 1
    at = dt.datetime(2026, 11, 20, 6, 0, tzinfo=dt.UTC)
    report = churn_source(url, seed=3, migrate=True, at=at)
    assert report.migrated[:2] == ("account_user", "telegram")
    second = run(CATALOG, "account_user", url, lake, dagster_instance, partition_key="2026-11-20")
    meta = materialization(second, "account_user").metadata
    assert (meta["schema_version"].value, meta["schema_changed"].value) == (2, True)
    written = pq.read_table(lake / bronze_file(CATALOG.table("account_user"), dt.date(2026, 11, 20)))
    assert "telegram" in written.column_names
    assert any(v is not None for v in written.column("telegram").to_pylist())

    from techhub_lake.lake.storage import LakeFiles

    versions = read_schema_versions(LakeFiles(str(lake)), "account_user")
    assert [v["version"] for v in versions] == [1, 2] and '"telegram"' in versions[1]["columns"]


def test_a_long_range_reports_its_recent_days_each_and_every_month_in_the_summary(generated_source, tmp_path,
                                                                                   dagster_instance, monkeypatch):
    """Past ``PER_DAY_METADATA_DAYS`` days back from a run's last, days get no metadata of their own
    (Dagster's cost per partition grows with the run's days); the last partition's summary has
    every month's rows, adding up to the run's."""
    from techhub_lake.bronze import assets as bronze_assets

    monkeypatch.setattr(bronze_assets, "PER_DAY_METADATA_DAYS", 5)
    result = run(CATALOG, "account_user", generated_source, tmp_path / "lake", dagster_instance, tags=RANGE)
    by_day = {e.partition: e.metadata for e in result.asset_materializations_for_node("bronze_account_user")}
    assert len(by_day) == 12  # every partition is recorded
    with_rows = sorted(day for day, m in by_day.items() if "rows" in m)
    assert with_rows and with_rows[0] >= "2026-10-27"  # 10-27 .. 10-31: the last 5 days
    summary = by_day["2026-10-31"]
    months = [line.split("|") for line in summary["rows_by_month"].value.splitlines()[2:]]
    assert [m[1].strip() for m in months] == ["2026-10"]
    assert sum(int(m[2].strip().replace(",", "")) for m in months) == summary["run_rows"].value > 0


def test_a_full_table_is_a_snapshot_of_the_run_day(generated_source, tmp_path, dagster_instance):
    lake = tmp_path / "lake"
    result = run(CATALOG, "core_city", generated_source, lake, dagster_instance)
    today = dt.datetime.now(ZoneInfo("Asia/Almaty")).date()
    path = lake / bronze_file(CATALOG.table("core_city"), today)
    assert pq.read_table(path).num_rows == 16
    assert materialization(result, "core_city").metadata["dagster/row_count"].value == 16


def test_a_catalog_that_disagrees_with_the_source_fails_once_with_file_table_and_field(generated_source, tmp_path,
                                                                                        dagster_instance):
    doc = yaml.safe_load(DEFAULT_CATALOG_PATH.read_text(encoding="utf-8"))
    for entry in doc["tables"]:
        if entry["name"] == "account_user":
            entry["watermark"] = "changed_at"
    path = tmp_path / "tables.yaml"
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    catalog = load_catalog(path)
    result = run(catalog, "account_user", generated_source, tmp_path / "lake", dagster_instance,
                 partition_key="2026-10-30", raise_on_error=False)
    assert not result.success
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    assert (f"{path}: table 'account_user', field 'watermark': column 'changed_at' is not in source table "
            "public.account_user") in failure.step_failure_data.error.message
    assert not [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_RESTARTED]

    from techhub_lake.lake.storage import LakeFiles

    (log,) = read_extraction_logs(LakeFiles(str(tmp_path / "lake")), "account_user")
    assert log["status"] == "failed" and "changed_at" in log["error"]


@pytest.mark.slow
def test_a_dead_source_is_retried_with_backoff_then_fails_clearly(tmp_path, dagster_instance):
    result = run(CATALOG, "account_user", "postgresql://reader:secret@127.0.0.1:9/techhub", tmp_path / "lake",
                 dagster_instance, partition_key="2026-10-30", raise_on_error=False)
    assert not result.success
    restarts = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_RESTARTED]
    assert len(restarts) == 3
    failure = next(e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE)
    error = failure.step_failure_data.error.to_string()  # "Exceeded max_retries of 3", caused by ours
    assert "SourceUnavailable: cannot connect to the source database postgresql://reader:***@127.0.0.1:9/techhub" in error
    assert "secret" not in error
