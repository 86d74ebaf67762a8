"""The same bronze code path on a real S3-compatible server (moto on loopback) and on local disk:
the same files, the same rows, read back through pyarrow's own S3 client and delta-rs."""

from __future__ import annotations

import dagster as dg
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from techhub_lake.bronze.assets import build_bronze_asset
from techhub_lake.catalog import load_catalog
from techhub_lake.lake.layout import EXTRACTION_LOGS, SCHEMA_VERSIONS
from techhub_lake.lake.storage import LakeFiles, S3Access
from techhub_lake.resources import LakeStorage, SourceDatabase
from techhub_lake.resources.lake import LakeUnavailable

CATALOG = load_catalog()
TABLES = ["account_user", "core_actionlog", "core_city"]
RANGE = {"dagster/asset_partition_range_start": "2026-10-25", "dagster/asset_partition_range_end": "2026-10-31"}


def s3_lake(s3_server: dict, root: str = "s3://datalake/lake") -> LakeStorage:
    return LakeStorage(root=root, s3_endpoint_url=s3_server["endpoint_url"], s3_region=s3_server["region"],
                       aws_access_key_id=s3_server["access_key_id"],
                       aws_secret_access_key=s3_server["secret_access_key"])


def fill(lake: LakeStorage, url: str, instance: dg.DagsterInstance) -> None:
    for name in TABLES:
        asset = build_bronze_asset(CATALOG.table(name), CATALOG)
        tags = RANGE if asset.partitions_def is not None else None
        result = dg.materialize([asset], instance=instance, tags=tags,
                                resources={"source": SourceDatabase(url=url), "lake": lake})
        assert result.success


def test_local_and_s3_lakes_hold_the_same_files(generated_source, s3_server, tmp_path, dagster_instance):
    local = LakeStorage(root=str(tmp_path / "lake"))
    remote = s3_lake(s3_server)
    fill(local, generated_source, dagster_instance)
    fill(remote, generated_source, dagster_instance)

    local_files, remote_files = local.files(), remote.files()
    data = [f for f in local_files.list_files("bronze/techhub") if f.endswith(".parquet") and "/_metadata/" not in f]
    assert len(data) > 5
    assert [f for f in remote_files.list_files("bronze/techhub") if f.endswith(".parquet") and "/_metadata/" not in f] == data

    # read back through a client that is not ours: pyarrow's S3 filesystem with its own connection
    s3 = pafs.S3FileSystem(endpoint_override=s3_server["endpoint_url"], scheme="http", region="us-east-1",
                           access_key=s3_server["access_key_id"], secret_key=s3_server["secret_access_key"])
    for relative in data:
        assert pq.read_table(f"datalake/lake/{relative}", filesystem=s3).equals(pq.read_table(local_files.path(relative)))

    options = remote_files.storage_options()
    logs = DeltaTable(remote_files.uri(EXTRACTION_LOGS), storage_options=options).to_pyarrow_table().to_pylist()
    assert sorted(r["table"] for r in logs) == sorted(TABLES) and {r["status"] for r in logs} == {"success"}
    versions = DeltaTable(remote_files.uri(SCHEMA_VERSIONS), storage_options=options).to_pyarrow_table()
    assert versions.num_rows == len(TABLES)


def test_a_failed_write_on_s3_publishes_nothing(s3_server):
    files = LakeFiles("s3://datalake/atomic", S3Access(s3_server["endpoint_url"], s3_server["region"],
                                                         s3_server["access_key_id"], s3_server["secret_access_key"]))
    with files.atomic_writer("x/data.parquet") as stream:
        stream.write(b"good")
    with pytest.raises(RuntimeError, match="mid-write"), files.atomic_writer("x/data.parquet") as stream:
        stream.write(b"partial")
        raise RuntimeError("mid-write")
    assert files.list_files("x") == ["x/data.parquet"]
    with files.fs.open_input_stream(files.path("x/data.parquet")) as stream:
        assert stream.read() == b"good"


def test_a_missing_bucket_is_a_clear_error(s3_server):
    with pytest.raises(LakeUnavailable, match=r"lake root s3://no-such-bucket/lake: bucket 'no-such-bucket' is not reachable at http://127\.0\.0\.1:\d+"):
        s3_lake(s3_server, "s3://no-such-bucket/lake").files()
