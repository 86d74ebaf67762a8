"""A source column that changes type (a Django migration): silver widens to a type holding old and
new values and stays equal to the source; a change no type can hold fails that table alone, in one
line naming table, column, both types and the remedy, and the remedy (`rebuild --reextract`) works."""

from __future__ import annotations

import datetime as dt
import shutil

import dagster as dg
import polars as pl
import psycopg2
import pytest

from techhub_lake.automation.rebuild import rebuild_asset
from techhub_lake.automation.refresh import RefreshFailed
from techhub_lake.catalog import load_catalog
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver.assets import refresh_current_state, silver_key
from techhub_lake.silver.current_state import merge_current_state, silver_table_path
from techhub_lake.silver.reconcile import reconcile_current_state
from techhub_lake.source.churn import churn_source
from techhub_lake.source.generator import init_source
from techhub_lake.source.reads import SOURCE_VERSION
from techhub_lake_tests.helpers import definitions_for, load_bronze
from techhub_lake_tests.silver.test_current_state import differing_keys, silver_rows, source_rows

pytestmark = pytest.mark.slow  # real source migrations, a real Dagster rebuild
CATALOG = load_catalog()
USERS = CATALOG.table("account_user")


def _execute(url: str, *statements: str) -> None:
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        for statement in statements:
            cur.execute(statement)
    conn.close()


def _changed_type(url: str, column: str, new_type: str, using: str, value: str) -> None:
    """Change a column's type in the source and give three users a new value (and a new updated_at)."""
    _execute(url, f"ALTER TABLE account_user ALTER COLUMN {column} TYPE {new_type} USING {using}",
             f"UPDATE account_user SET {column} = {value}, updated_at = now() "
             "WHERE id IN (SELECT id FROM account_user ORDER BY id LIMIT 3)")


def _load_recent_days(url: str, lake: LakeFiles, run_id: str) -> None:
    load_bronze(url, lake, CATALOG, dt.date.today() - dt.timedelta(days=1), run_id=run_id)


@pytest.fixture
def loaded_users(new_database, tmp_path):
    url = new_database()
    init_source(url, scale=0.005, seed=8)
    lake = LakeFiles(str(tmp_path / "lake"))
    load_bronze(url, lake, CATALOG, dt.date(2019, 1, 1), run_id="first")
    merge_current_state(url, lake, USERS, run_id="first")
    return url, lake


def test_boolean_to_text_widens_silver_and_a_first_merge_reads_both_kinds_of_file(loaded_users, tmp_path):
    url, lake = loaded_users
    _changed_type(url, "is_staff", "text", "is_staff::text", "'maybe'")
    _load_recent_days(url, lake, "after-migration")

    outcome = merge_current_state(url, lake, USERS, run_id="after-migration")
    assert outcome.widened == ["is_staff: Boolean + String -> String"]
    silver = silver_rows(lake, USERS)
    assert silver.schema["is_staff"] == pl.String
    assert set(silver["is_staff"].unique().to_list()) <= {"true", "false", "maybe"}  # as PostgreSQL prints booleans
    # every value equals the source's; the row hashes PostgreSQL computed of the old rows changed with
    # the type (t -> true), so the nightly reconciliation re-reads those rows once and all is equal
    source = source_rows(url, USERS, tmp_path)
    assert differing_keys(silver, source.drop(SOURCE_VERSION), USERS) == (set(), set(), set())
    reconcile_current_state(url, lake, USERS, catalog_path=CATALOG.path, run_id="nightly")
    assert differing_keys(silver_rows(lake, USERS), source, USERS) == (set(), set(), set())

    # a silver table built from scratch reads bronze files of both types at once
    fresh = LakeFiles(str(tmp_path / "fresh"))
    shutil.copytree(lake.path("bronze"), fresh.path("bronze"))
    merge_current_state(url, fresh, USERS, run_id="fresh")
    assert differing_keys(silver_rows(fresh, USERS), source.drop(SOURCE_VERSION), USERS) == (set(), set(), set())


def test_a_count_computed_in_silver_is_not_taken_for_a_source_type_change(loaded_users):
    """``signature_count`` is a list length (unsigned in Polars, signed once stored in Delta): a
    second merge must neither widen nor rewrite the table."""
    url, lake = loaded_users
    requests = CATALOG.table("service_servicerequest")
    refresh_current_state(url, lake, requests, run_id="first")  # captured: from its change stream
    churn_source(url, seed=9)
    _load_recent_days(url, lake, "churned")
    outcome = refresh_current_state(url, lake, requests, run_id="churned")
    assert outcome.widened == []
    assert outcome.inserted + outcome.updated > 0
    assert silver_rows(lake, requests).schema["signature_count"] == pl.Int32


def test_integer_to_bigint_widens_and_a_new_column_is_added(loaded_users, tmp_path):
    url, lake = loaded_users
    _execute(url, "ALTER TABLE account_user ADD COLUMN karma integer")
    _execute(url, "UPDATE account_user SET karma = id, updated_at = now() WHERE id IN (SELECT id FROM account_user LIMIT 2)")
    _load_recent_days(url, lake, "added")
    merge_current_state(url, lake, USERS, run_id="added")
    assert silver_rows(lake, USERS).schema["karma"] == pl.Int32
    _changed_type(url, "karma", "bigint", "karma::bigint", "5000000000")
    _load_recent_days(url, lake, "widened")
    outcome = merge_current_state(url, lake, USERS, run_id="widened")
    assert outcome.widened == ["karma: Int32 + Int64 -> Int64"]
    source = source_rows(url, USERS, tmp_path).drop(SOURCE_VERSION)  # hashes of untouched rows: as above
    assert differing_keys(silver_rows(lake, USERS), source, USERS) == (set(), set(), set())


def test_a_change_no_type_can_hold_fails_in_one_line_and_rebuild_reextract_repairs_it(loaded_users, dagster_instance,
                                                                                    tmp_path):
    url, lake = loaded_users
    _changed_type(url, "is_superuser", "date", "DATE '2020-01-01'", "DATE '2021-02-03'")
    _load_recent_days(url, lake, "after-migration")
    defs = definitions_for(CATALOG, url, lake.root)
    key = silver_key(USERS)
    before = silver_rows(lake, USERS)

    result = dg.materialize([defs.resolve_assets_def(key)], instance=dagster_instance, raise_on_error=False)
    (failure,) = result.get_step_failure_events()
    message = failure.step_failure_data.user_failure_data.description
    assert "\n" not in message
    for part in (silver_table_path(USERS), "'is_superuser'", "Boolean", "Date",
                 "techhub-lake rebuild silver/account/user --reextract"):
        assert part in message, (part, message)
    assert len([e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]) == 1  # not retried
    assert silver_rows(lake, USERS).equals(before)  # the table is as it was

    echoed: list[str] = []
    runs = rebuild_asset("silver/techhub/account/user", reextract=True, echo=echoed.append, defs=defs,
                         instance=dagster_instance)
    assert [run.keys for run in runs] == [(dg.AssetKey(["bronze", "account", "user"]),), (key,)]
    silver = silver_rows(lake, USERS)
    assert silver.schema["is_superuser"] == pl.Date
    assert differing_keys(silver, source_rows(url, USERS, tmp_path), USERS) == (set(), set(), set())
    assert any("deleted" in line for line in echoed)


def test_rebuild_names_what_it_cannot_rebuild(loaded_users, dagster_instance):
    url, lake = loaded_users
    defs = definitions_for(CATALOG, url, lake.root)
    with pytest.raises(ValueError, match="no asset of this lake has that key or table path"):
        rebuild_asset("silver/nowhere", defs=defs, instance=dagster_instance)
    with pytest.raises(ValueError, match="reads no bronze asset directly"):
        rebuild_asset("gold/techhub/dm_users", reextract=True, defs=defs, instance=dagster_instance)
    _execute(url, "ALTER TABLE account_user DROP COLUMN email")  # the catalog names it: the extraction fails
    with pytest.raises(RefreshFailed, match="email"):
        rebuild_asset("bronze/account/user", defs=defs, instance=dagster_instance)
