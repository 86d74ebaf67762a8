"""Captured tables (``strategy: cdc``) end to end on a real PostgreSQL, through Dagster refreshes:
churn rounds with silent updates, ON DELETE SET NULL cascades, deletes, a key deleted and inserted
again, an update that leaves a TOASTed value untouched and a migration leave silver equal to the
source with no reconciliation; the SCD2 dimension of a captured table opens a version per committed
change; a slot the server invalidated is replaced by a new snapshot; a table switched from
``incremental`` to ``cdc`` on a lake that already holds it carries on."""

from __future__ import annotations

import time

import polars as pl
import pytest

from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.bronze.changes import change_dir
from techhub_lake.bronze.metadata_log import read_schema_versions
from techhub_lake.lake.delta import read_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver import stream_state
from techhub_lake.silver.current_state import silver_table_path
from techhub_lake.silver.dimension_assets import dimension_path
from techhub_lake.silver.dimensions import DIMENSIONS, IS_CURRENT, VALID_FROM, VALID_TO
from techhub_lake.silver.stream_state import changelog_path
from techhub_lake.source import cdc
from techhub_lake.source.churn import churn_source
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting, execute
from techhub_lake_tests.helpers import definitions_for
from techhub_lake_tests.silver.test_current_state import differing_keys, source_rows

pytestmark = pytest.mark.slow
CAPTURED = ("account_company", "service_servicerequest", "service_report")
LAYERS = "key:bronze/* or key:silver/*"


def assert_equal_to_source(url, lake, catalog, work, names=CAPTURED) -> None:
    for name in names:
        table = catalog.table(name)
        silver = read_delta(lake, silver_table_path(table))
        assert silver.select("id").is_duplicated().sum() == 0, f"{name}: a key twice in silver"
        source = source_rows(url, table, work / f"source-{name}-{time.monotonic_ns()}")
        assert differing_keys(silver, source, table) == (set(), set(), set()), name


def test_churn_rounds_reach_silver_exactly_without_reconciliation(new_database, tmp_path, dagster_instance,
                                                                  monkeypatch):
    monkeypatch.setattr(stream_state, "SNAPSHOT_ROWS_PER_CHUNK", 50)  # the first snapshot appended in many chunks
    url = new_database()
    init_source(url, scale=0.01, seed=71)
    catalog = catalog_starting(tmp_path, "2026-10-01")  # the packaged catalog: the three tables are captured
    lake = LakeFiles(str(tmp_path / "lake"))
    defs = definitions_for(catalog, url, lake.root)
    try:
        refresh_lake(LAYERS, lambda _: None, defs=defs, catalog=catalog, instance=dagster_instance, checks=False)
        assert_equal_to_source(url, lake, catalog, tmp_path)
        # a report's data grows past the TOAST threshold, so later updates that leave it alone do not send it
        execute(url, "UPDATE service_report SET data = data || jsonb_build_object('notes', "
                     "(SELECT string_agg(md5(i::text), ' ') FROM generate_series(1, 400) i)) WHERE id = (SELECT min(id) FROM service_report)")
        for round_ in range(3):
            churn_source(url, seed=700 + round_, migrate=round_ == 2)
            execute(url,
                    # silent updates (QuerySet.update(): updated_at left alone)
                    "UPDATE service_servicerequest SET status = 'archived' WHERE id IN "
                    "(SELECT id FROM service_servicerequest ORDER BY id DESC LIMIT 7)",
                    "UPDATE service_report SET status = 'checked' WHERE id = (SELECT min(id) FROM service_report)",
                    # a key deleted and inserted again, in two transactions
                    "CREATE TEMP TABLE gone AS SELECT * FROM service_servicerequest WHERE id = (SELECT max(id) FROM service_servicerequest)",
                    "DELETE FROM service_servicerequest WHERE id = (SELECT id FROM gone)",
                    "INSERT INTO service_servicerequest SELECT * FROM gone",
                    "UPDATE service_servicerequest SET status = 'reopened' WHERE id = (SELECT id FROM gone)",
                    # a company deleted: its requests' company_id set NULL by the cascade, its reports deleted
                    "DELETE FROM account_company WHERE id = (SELECT company_id FROM service_servicerequest "
                    "WHERE company_id IS NOT NULL ORDER BY id LIMIT 1)",
                    # one company changed twice in two transactions between refreshes
                    "UPDATE account_company SET status = 'suspended' WHERE id = (SELECT min(id) FROM account_company)",
                    "UPDATE account_company SET status = 'active', name = name || ' (renamed)' WHERE id = (SELECT min(id) FROM account_company)")
            if round_ == 2:  # a migration of a captured table mid-stream
                execute(url, "ALTER TABLE account_company ADD COLUMN website_verified boolean",
                        "UPDATE account_company SET website_verified = (id % 2 = 0) WHERE id % 3 = 0")
            refresh_lake(LAYERS, lambda _: None, defs=defs, catalog=catalog, instance=dagster_instance, checks=False)
            assert_equal_to_source(url, lake, catalog, tmp_path)

        companies = read_delta(lake, silver_table_path(catalog.table("account_company")))
        assert companies["website_verified"].drop_nulls().len() > 0  # the new column reached silver, typed
        assert companies.schema["website_verified"] == pl.Boolean
        versions = read_schema_versions(lake, "account_company")  # the stream's description: a new version
        assert len(versions) >= 2 and "website_verified" in versions[-1]["columns"]
        # the server did leave the big value out of later updates, and silver still has it
        report_changes = pl.concat([pl.read_parquet(lake.path(f)) for f in lake.list_files(
            change_dir(catalog.table("service_report")))], how="diagonal")
        assert report_changes.filter(pl.col("_unchanged").list.contains("data")).height > 0
        logged = read_delta(lake, changelog_path(catalog.table("service_report")))
        assert logged.filter(pl.col("_op") == "update")["data"].null_count() == 0

        # dim_company: a version per committed change, valid from its commit time
        spec = next(s for s in DIMENSIONS if s.name == "dim_company")
        dim = read_delta(lake, dimension_path(spec))
        first = int(companies["id"].min())
        versions = dim.filter(pl.col("company_id") == first).sort(VALID_FROM)
        log = read_delta(lake, changelog_path(catalog.table("account_company"))).filter(pl.col("id") == first)
        assert set(log["_commit_ts"].to_list()) <= set(versions[VALID_FROM].to_list())
        assert versions.height >= 7  # the snapshot's, then suspended and active again in each round
        assert dim[spec.surrogate_key].n_unique() == dim.height
        closed = dim.filter(pl.col(VALID_TO).is_not_null())
        assert (closed[VALID_TO] > closed[VALID_FROM]).all()
        assert dim.filter(pl.col(IS_CURRENT))["company_id"].is_unique().all()
        assert set(dim.filter(pl.col(IS_CURRENT))["company_id"]) == set(companies["id"])
    finally:
        cdc.drop(url)


def test_an_invalidated_slot_is_replaced_by_a_new_snapshot(new_database, tmp_path, dagster_instance, pg_server):
    url = new_database()
    init_source(url, scale=0.005, seed=72)
    catalog = catalog_starting(tmp_path, "2026-10-01")
    lake = LakeFiles(str(tmp_path / "lake"))
    defs = definitions_for(catalog, url, lake.root)
    admin = pg_server.url("postgres")
    try:
        refresh_lake(LAYERS, lambda _: None, defs=defs, catalog=catalog, instance=dagster_instance, checks=False)
        churn_source(url, seed=721)  # changes the slot holds when the server gives it up
        execute(admin, "ALTER SYSTEM SET max_slot_wal_keep_size = '1MB'", "SELECT pg_reload_conf()")
        execute(url, "CREATE TABLE ballast AS SELECT md5(i::text) AS v FROM generate_series(1, 400000) i",
                "SELECT pg_switch_wal()", "CHECKPOINT", "SELECT pg_switch_wal()", "CHECKPOINT")
        assert cdc.slot_state(url).invalidated
        execute(admin, "ALTER SYSTEM RESET max_slot_wal_keep_size", "SELECT pg_reload_conf()")
        lines: list[str] = []
        refresh_lake(LAYERS, lines.append, defs=defs, catalog=catalog, instance=dagster_instance, checks=False)
        assert not cdc.slot_state(url).invalidated
        assert_equal_to_source(url, lake, catalog, tmp_path)
        churn_source(url, seed=722)
        refresh_lake(LAYERS, lambda _: None, defs=defs, catalog=catalog, instance=dagster_instance, checks=False)
        assert_equal_to_source(url, lake, catalog, tmp_path)
    finally:
        execute(admin, "ALTER SYSTEM RESET max_slot_wal_keep_size", "SELECT pg_reload_conf()")
        cdc.drop(url)


def test_a_table_switched_from_incremental_to_cdc_carries_on(new_database, tmp_path, dagster_instance, monkeypatch):
    monkeypatch.setattr(stream_state, "SNAPSHOT_ROWS_PER_CHUNK", 50)  # the snapshot merged in many chunks
    url = new_database()
    init_source(url, scale=0.005, seed=73)
    polled = catalog_starting(tmp_path, "2019-01-01", "polled.yaml", strategies={n: "incremental" for n in CAPTURED})
    lake = LakeFiles(str(tmp_path / "lake"))
    refresh_lake(LAYERS, lambda _: None, defs=definitions_for(polled, url, lake.root), catalog=polled,
                 instance=dagster_instance, checks=False)
    churn_source(url, seed=731)
    captured = catalog_starting(tmp_path, "2019-01-01", "captured.yaml")
    defs = definitions_for(captured, url, lake.root)
    try:
        refresh_lake(LAYERS, lambda _: None, defs=defs, catalog=captured, instance=dagster_instance, checks=False)
        assert_equal_to_source(url, lake, captured, tmp_path)  # the silent updates too, with no reconciliation
        churn_source(url, seed=732)
        refresh_lake(LAYERS, lambda _: None, defs=defs, catalog=captured, instance=dagster_instance, checks=False)
        assert_equal_to_source(url, lake, captured, tmp_path)
        dim = read_delta(lake, dimension_path(next(s for s in DIMENSIONS if s.name == "dim_company")))
        assert dim.filter(pl.col(IS_CURRENT))["company_id"].is_unique().all()
    finally:
        cdc.drop(url)


def test_a_snapshot_of_wide_rows_is_applied_in_chunks_of_fewer_rows(tmp_path):
    """Chunks of a snapshot hold about the same bytes, not the same rows: a table of 3 KB JSON
    documents gets chunks of fewer rows than one of numbers, within the floor and the cap."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    rows = 200_000
    narrow, wide = tmp_path / "narrow.parquet", tmp_path / "wide.parquet"
    pq.write_table(pa.table({"id": range(rows)}), narrow)
    documents = [f'{{"n": {i}, "text": "{"абв" * 1000}{i}"}}' for i in range(rows // 10)]
    pq.write_table(pa.table({"id": range(rows // 10), "data": documents}), wide, compression="none")
    assert stream_state.snapshot_rows_per_chunk(pq.ParquetFile(narrow)) == stream_state.SNAPSHOT_ROWS_PER_CHUNK
    per_chunk = stream_state.snapshot_rows_per_chunk(pq.ParquetFile(wide))
    # a chunk holds about BRONZE_BYTES_PER_APPEND of the file (~6 KB a row, uncompressed here)
    chunk_bytes = per_chunk * wide.stat().st_size / (rows // 10)
    assert 1_000 <= per_chunk < rows // 10 and abs(chunk_bytes / stream_state.BRONZE_BYTES_PER_APPEND - 1) < 0.05
