"""The lake's upkeep on real Delta tables: small files compacted, unreferenced files vacuumed only
past the retention, temporary files of killed writes removed, the data unchanged throughout; and
the nightly Dagster job doing all of it."""

from __future__ import annotations

import datetime as dt
import os

import dagster as dg
import polars as pl
import pyarrow as pa
from deltalake import DeltaTable, write_deltalake

from techhub_lake.automation.upkeep import lake_upkeep_job
from techhub_lake.lake.maintenance import (
    COMPACT_WHEN_FILES,
    delta_tables,
    remove_debris,
    upkeep_table,
)
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.resources import LakeStorage


def many_small_commits(root, path: str, commits: int) -> None:
    for n in range(commits):
        write_deltalake(str(root / path), pa.table({"id": [n], "value": [f"v{n}"]}), mode="append")


def debris(root, relative: str, hours_old: float) -> None:
    target = root / relative
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(b"half-written")
    stamp = (dt.datetime.now() - dt.timedelta(hours=hours_old)).timestamp()
    os.utime(target, (stamp, stamp))


def test_compaction_and_vacuum_keep_the_data_and_respect_the_retention(tmp_path):
    lake = LakeFiles(str(tmp_path))
    many_small_commits(tmp_path, "silver/techhub/core/thing", COMPACT_WHEN_FILES + 4)
    before = pl.from_arrow(DeltaTable(str(tmp_path / "silver/techhub/core/thing")).to_pyarrow_table()).sort("id")
    assert delta_tables(lake, "silver") == ["silver/techhub/core/thing"]

    kept = upkeep_table(lake, "silver/techhub/core/thing")  # the default retention: a week
    assert (kept.files_before, kept.files_after, kept.compacted) == (COMPACT_WHEN_FILES + 4, 1, COMPACT_WHEN_FILES + 4)
    assert kept.removed == 0  # the small files are younger than the retention: a reader may still use them
    table = DeltaTable(str(tmp_path / "silver/techhub/core/thing"))
    assert pl.from_arrow(table.to_pyarrow_table()).sort("id").equals(before)
    table.load_as_version(0)  # an old version still reads: its files were kept
    assert table.to_pyarrow_table().num_rows == 1

    gone = upkeep_table(lake, "silver/techhub/core/thing", retention=dt.timedelta(0))
    assert gone.removed == COMPACT_WHEN_FILES + 4 and gone.files_after == 1
    assert pl.from_arrow(DeltaTable(str(tmp_path / "silver/techhub/core/thing")).to_pyarrow_table()).sort("id").equals(before)
    parquet = list((tmp_path / "silver/techhub/core/thing").glob("*.parquet"))
    assert len(parquet) == 1  # only the compacted file is left on disk


def test_debris_of_killed_writes_is_removed_once_old(tmp_path):
    lake = LakeFiles(str(tmp_path))
    debris(tmp_path, "bronze/techhub/core/city/year=2026/month=11/.data_20261101.parquet.tmp-old", hours_old=7)
    debris(tmp_path, "bronze/techhub/core/city/year=2026/month=11/.data_20261102.parquet.tmp-new", hours_old=0.1)
    debris(tmp_path, "bronze/techhub/core/city/year=2026/month=11/data_20261101.parquet", hours_old=30)
    removed = remove_debris(lake, "bronze")
    assert removed == ["bronze/techhub/core/city/year=2026/month=11/.data_20261101.parquet.tmp-old"]
    left = sorted(p.name for p in (tmp_path / "bronze/techhub/core/city/year=2026/month=11").iterdir())
    assert left == [".data_20261102.parquet.tmp-new", "data_20261101.parquet"]  # a live write and real data stay


def test_debris_of_a_dead_writer_of_this_host_goes_at_once_a_live_ones_stays(tmp_path):
    import os
    import socket
    import subprocess

    lake = LakeFiles(str(tmp_path))
    dead = subprocess.Popen(["true"])  # a process that has exited: its pid is free
    dead.wait()
    host = socket.gethostname()
    folder = "bronze/techhub/core/city/year=2026/month=11"
    debris(tmp_path, f"{folder}/.data_20261101.parquet.tmp-aa~{host}~{dead.pid}", hours_old=0.01)
    debris(tmp_path, f"{folder}/.data_20261102.parquet.tmp-bb~{host}~{os.getpid()}", hours_old=0)
    debris(tmp_path, f"{folder}/.data_20261103.parquet.tmp-cc~another-host~{dead.pid}", hours_old=0.01)
    assert remove_debris(lake, "bronze") == [f"{folder}/.data_20261101.parquet.tmp-aa~{host}~{dead.pid}"]
    # what the atomic writer names its temporary files is what the cleanup reads
    with lake.atomic_writer(f"{folder}/data_20261104.parquet") as stream:
        (temporary,) = [p for p in (tmp_path / folder).iterdir() if p.name.startswith(".data_20261104")]
        assert temporary.name.endswith(f"~{host}~{os.getpid()}")
        stream.write(b"x")


def test_the_nightly_job_upkeeps_every_layer(tmp_path):
    many_small_commits(tmp_path, "gold/techhub/dm_things", COMPACT_WHEN_FILES + 1)
    many_small_commits(tmp_path, "bronze/techhub/_metadata/extraction_logs", 3)
    debris(tmp_path, "silver/techhub/core/thing/.part-0001.parquet.tmp-x", hours_old=12)
    result = lake_upkeep_job.execute_in_process(resources={"lake": LakeStorage(root=str(tmp_path))})
    assert result.success
    (output,) = [e for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_OUTPUT]
    metadata = output.step_output_data.metadata
    assert metadata["tables"].value == 2 and metadata["files_compacted"].value == COMPACT_WHEN_FILES + 1
    assert metadata["debris_removed"].value == 1
    assert len(DeltaTable(str(tmp_path / "gold/techhub/dm_things")).file_uris()) == 1
