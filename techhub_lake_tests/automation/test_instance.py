"""The lake's Dagster instance: PostgreSQL storage (embedded by default) with partition events in
batches, so a first load over the whole history is one run that records every partition."""

from __future__ import annotations

import os
import time

import dagster as dg
import pytest

from techhub_lake.automation.instance import instance_environment, psycopg2_url
from techhub_lake.automation.refresh import range_tags
from techhub_lake.bronze.assets import build_bronze_asset
from techhub_lake.catalog import load_catalog
from techhub_lake.resources import LakeStorage, SourceDatabase
from techhub_lake.settings import EVENT_SWITCHES
from techhub_lake.source.embedded import EmbeddedPostgres
from techhub_lake_tests.conftest import query

pytestmark = pytest.mark.slow  # an end-to-end run of the lake: the full suite, not the fast tier

CATALOG = load_catalog()


def test_a_range_over_the_whole_history_is_one_run_that_records_every_partition(generated_source, tmp_path,
                                                                                 dagster_instance):
    table = CATALOG.table("service_servicerequestlog")
    asset = build_bronze_asset(table, CATALOG)
    days = asset.partitions_def.get_partition_keys()
    assert days[0] == CATALOG.defaults.start_date.isoformat() and len(days) > 2800  # since 2019, daily
    started = time.monotonic()
    result = dg.materialize([asset], instance=dagster_instance, tags=range_tags(days[0], days[-1]),
                            resources={"source": SourceDatabase(url=generated_source),
                                       "lake": LakeStorage(root=str(tmp_path / "lake"))})
    print(f"{len(days)} partitions in one run: {time.monotonic() - started:.1f} s")
    key = asset.key
    assert sorted(dagster_instance.get_materialized_partitions(key)) == days  # every partition, one run
    assert len(dagster_instance.get_runs()) == 1
    # the planned-event switch: one planned event for the whole range, not one per partition
    planned = dagster_instance.get_records_for_run(result.run_id, of_type=dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED,
                                                   limit=10_000).records
    assert len(planned) == 1
    subset = planned[0].event_log_entry.dagster_event.event_specific_data.partitions_subset
    assert subset is not None and len(subset) == len(days)
    # and the storage is PostgreSQL, where the batch switch applies
    assert type(dagster_instance.event_log_storage).__name__ == "PostgresEventLogStorage"


def test_the_cli_instance_is_postgres_on_the_embedded_server_with_the_switches(tmp_path, monkeypatch):
    monkeypatch.setenv("TECHHUB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.delenv("DAGSTER_POSTGRES_URL", raising=False)
    for name in EVENT_SWITCHES:
        monkeypatch.delenv(name, raising=False)
    server = EmbeddedPostgres(tmp_path / "state" / "postgres")
    try:
        env = instance_environment()
        assert {name: env[name] for name in EVENT_SWITCHES} == EVENT_SWITCHES
        assert env["DAGSTER_POSTGRES_URL"].startswith("postgresql+psycopg2://")
        assert env["DAGSTER_HOME"] == str((tmp_path / "state" / "dagster").resolve())
        assert server.is_running()  # started for Dagster's storage
        # the project's dagster.yaml, copied into DAGSTER_HOME, opens on that database
        monkeypatch.setenv("DAGSTER_POSTGRES_URL", env["DAGSTER_POSTGRES_URL"])
        with dg.DagsterInstance.from_config(env["DAGSTER_HOME"]) as instance:
            assert type(instance.run_storage).__name__ == "PostgresRunStorage"
            assert instance.get_runs() == []
        assert query(server.url("dagster"), "SELECT count(*) FROM runs") == [(0,)]
        # the source's database is another one on the same server
        assert query(server.url("postgres"), "SELECT datname FROM pg_database WHERE datname IN ('dagster', 'techhub') "
                                              "ORDER BY 1") == [("dagster",), ("techhub",)]
    finally:
        server.destroy()


def test_an_external_storage_url_is_used_as_given_with_the_psycopg2_driver(monkeypatch, tmp_path):
    monkeypatch.setenv("TECHHUB_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("DAGSTER_POSTGRES_URL", "postgresql://dagster:secret@db.internal:5432/dagster")
    env = instance_environment()
    assert env["DAGSTER_POSTGRES_URL"] == "postgresql+psycopg2://dagster:secret@db.internal:5432/dagster"
    assert not (tmp_path / "state" / "postgres").exists()  # no embedded server when one is named
    assert psycopg2_url("postgres://u@h/d") == "postgresql+psycopg2://u@h/d"
    assert psycopg2_url("postgresql+psycopg://u@h/d") == "postgresql+psycopg2://u@h/d"
    with pytest.raises(ValueError, match="DAGSTER_POSTGRES_URL must be a postgresql:// URL"):
        psycopg2_url("sqlite:///dagster.db")
    assert os.environ["DAGSTER_POSTGRES_URL"].startswith("postgresql://")  # reading it changed nothing
