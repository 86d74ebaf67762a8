"""A database of more than 150 tables, most of them shapes and values the TechHub tables never have
(``source init --app-tables``: a Django project's other apps and Django's own tables), goes from a
URL to a loaded lake with the README's commands: ``catalog discover --output``, ``catalog check``,
``refresh``; every table it proposes to load arrives in silver row for row, its JSON keys as
columns, and the UI groups the graph by app."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from techhub_lake.automation.instance import postgres_storage_config
from techhub_lake.catalog import Strategy, load_catalog
from techhub_lake.definitions import build_definitions
from techhub_lake.lake.delta import read_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver.current_state import silver_table_path
from techhub_lake.source.app_tables import NULL_UPDATED_AT, max_app_tables
from techhub_lake.source.embedded import EmbeddedPostgres
from techhub_lake_tests.conftest import query

CLI = str(Path(sys.executable).with_name("techhub-lake"))


def run(*args: str, env: dict, timeout: int = 900) -> subprocess.CompletedProcess:
    done = subprocess.run([CLI, *args], env=env, capture_output=True, text=True, timeout=timeout, cwd=env["TECHHUB_STATE_DIR"])
    assert done.returncode == 0, f"{args}: {done.stdout[-3000:]}{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_a_database_of_150_tables_is_discovered_checked_and_loaded_on_the_first_try(new_database, tmp_path):
    url = new_database()
    state = tmp_path / "state"
    state.mkdir()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TECHHUB_", "DAGSTER_"))}
    env |= {"TECHHUB_SOURCE_URL": url, "TECHHUB_STATE_DIR": str(state), "TECHHUB_LAKE_ROOT": str(tmp_path / "lake")}
    run("source", "init", "--scale", "0.002", "--app-tables", str(max_app_tables()), env=env)
    (tables,) = query(url, "SELECT count(*) FROM pg_tables WHERE schemaname = 'public'")[0]
    assert tables >= 150

    catalog_file = tmp_path / "my.yaml"
    run("catalog", "discover", "--output", str(catalog_file), env=env)
    catalog = load_catalog(catalog_file)
    assert len(catalog.tables) == tables
    excluded = {t.name for t in catalog.tables if t.strategy == Strategy.EXCLUDE}
    assert {"django_migrations", "django_content_type", "auth_permission", "auth_group_permissions",
            "django_admin_log", "django_session", "silk_request", "hub_cache_table"} <= excluded
    assert catalog.table("billing_invoice").module == "billing" and catalog.table("user_sessions_session").module == "user_sessions"
    assert catalog.table("billing_invoice").strategy == Strategy.INCREMENTAL
    # a change column that is NULL on old rows would lose them: never proposed as the watermark
    assert catalog.table(NULL_UPDATED_AT).watermark != "updated_at"
    assert "updated_at is NULL on" in catalog_file.read_text()
    assert catalog.table("crm_archive").primary_key == ("entity", "entity_id", "snapshot", "archived_on")  # no key
    assert catalog.table("billing_settings").primary_key == ("key",)
    assert "комментарий" in catalog.table("billing_invoice").json_columns["details"]

    env["TECHHUB_CATALOG"] = str(catalog_file)
    checked = run("catalog", "check", env=env)
    assert "every table and column the catalog names exists" in checked.stdout
    assert "fall in no daily partition" not in checked.stdout
    # the user who picks the NULL-holding column anyway is told which rows only the reconciliation loads
    edited = tmp_path / "edited.yaml"
    text = catalog_file.read_text()
    entry = text.index(f"- name: {NULL_UPDATED_AT}\n")
    edited.write_text(text[:entry] + text[entry:].replace("strategy: full", "strategy: incremental\n    watermark: updated_at", 1))
    assert load_catalog(edited).table(NULL_UPDATED_AT).watermark == "updated_at"
    (nulls,) = query(url, f"SELECT count(*) FROM {NULL_UPDATED_AT} WHERE updated_at IS NULL")[0]
    warned = run("catalog", "check", env=env | {"TECHHUB_CATALOG": str(edited)})
    assert f"table '{NULL_UPDATED_AT}': {nulls:,} row(s) fall in no daily partition (null_watermark {nulls:,}); only the " \
           "nightly reconciliation loads them" in warned.stdout
    server = EmbeddedPostgres(state / "postgres")
    try:
        refreshed = run("refresh", env=env, timeout=1500)
        # the graph in the UI: one group per app and layer, every bronze asset materialized
        defs = build_definitions(catalog)
        graph = defs.resolve_asset_graph()
        groups = {graph.get(key).group_name for key in graph.materializable_asset_keys}
        with dg.instance_for_test(overrides=postgres_storage_config(server.url("dagster"))) as instance:
            unmaterialized = [key.to_user_string() for key in graph.materializable_asset_keys
                              if key.path[0] == "bronze" and instance.get_latest_materialization_event(key) is None]
    finally:
        server.stop()
    assert "done in" in refreshed.stdout
    assert unmaterialized == []
    assert {f"bronze_{t.module}" for t in catalog.lake_tables} | {f"silver_{t.module}" for t in catalog.lake_tables} <= groups
    assert len({t.module for t in catalog.lake_tables}) >= 20

    # every table the catalog loads is in silver, row for row: the same keys (the same number of rows
    # where the key is the whole row, JSON included, which silver prints otherwise than the server)
    lake = LakeFiles(str(tmp_path / "lake"))
    differing = []
    for table in catalog.lake_tables:
        silver = read_delta(lake, silver_table_path(table))
        if set(table.primary_key) & set(table.json_columns):
            source, silver = query(url, f"SELECT count(*) FROM {table.qualified_name}")[0][0], silver.height
        else:
            key = ", ".join(f'"{c}"::text' for c in table.primary_key)
            source = sorted(query(url, f"SELECT {key} FROM {table.qualified_name}"))
            silver = sorted(silver.select(pl.col(c).cast(pl.String) for c in table.primary_key).rows())
        if source != silver:
            differing.append(table.name)
    assert differing == [], differing

    # JSON keys as columns, whatever the document's shape; infinity dates NULL and flagged
    invoices = read_delta(lake, silver_table_path(catalog.table("billing_invoice"))).sort("id")
    expected = pl.DataFrame(query(url, "SELECT id, details ->> 'status', details ->> 'комментарий', jsonb_typeof(details) "
                                       "<> 'object', starts_on = 'infinity' FROM billing_invoice ORDER BY id"),
                            schema=["id", "status", "note", "not_object", "infinite"], orient="row")
    assert invoices["details_status"].to_list() == expected["status"].to_list()
    assert invoices["details_комментарий"].to_list() == expected["note"].to_list()
    assert invoices["dq_details_not_object"].to_list() == expected["not_object"].to_list()
    if expected["infinite"].any():
        assert invoices.filter(pl.col("dq_starts_on_out_of_range"))["id"].to_list() == \
            expected.filter(pl.col("infinite"))["id"].to_list()
