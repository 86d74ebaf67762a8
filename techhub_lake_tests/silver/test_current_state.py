"""Silver current state against the real source: after the first load, and after churn and an
incremental refresh, every table equals the source's live rows (deletes included); only the rows
changed without moving `updated_at` wait for the reconciliation."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path
from zoneinfo import ZoneInfo

import polars as pl
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable

from techhub_lake.bronze.extract import extract_snapshot
from techhub_lake.catalog import Partitioning, Strategy, load_catalog
from techhub_lake.lake.layout import bronze_table_dir
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver.current_state import merge_current_state, silver_cursor, silver_table_path
from techhub_lake.silver.transforms import silver_column
from techhub_lake.source.churn import churn_source
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting, execute
from techhub_lake_tests.helpers import definitions_for, load_bronze

pytestmark = pytest.mark.slow  # whole-source loads and churn rounds
# the watermark path: every table polled, the captured ones (silver/test_stream.py) included
CATALOG = catalog_starting(Path(tempfile.mkdtemp(prefix="polled-catalog-")), "2019-01-01", strategies=dict.fromkeys(
    (t.name for t in load_catalog().lake_tables if t.strategy == Strategy.CDC), "incremental"))
ALMATY = ZoneInfo("Asia/Almaty")


def source_rows(url: str, table, tmp_path) -> pl.DataFrame:
    """The source table's live rows, typed as bronze types them."""
    scratch = LakeFiles(str(tmp_path / "source-now" / table.name))
    extraction = extract_snapshot(url, scratch, table, dt.date(2000, 1, 1), catalog_path=CATALOG.path)
    return pl.from_arrow(pq.read_table(scratch.path(extraction.files[0].path))).sort(list(table.primary_key))


def silver_rows(lake: LakeFiles, table) -> pl.DataFrame:
    return pl.from_arrow(DeltaTable(lake.uri(silver_table_path(table))).to_pyarrow_table()).sort(list(table.primary_key))


def differing_keys(silver: pl.DataFrame, source: pl.DataFrame, table) -> tuple[set, set, set]:
    """(missing from silver, extra in silver, present in both but different)."""
    keys = list(table.primary_key)
    # the source columns as silver carries them (multilingual JSON is kept as <column>_json)
    silver = silver.select([pl.col(silver_column(table, c)).alias(c) for c in source.columns
                            if silver_column(table, c) in silver.columns])
    missing = set(source.join(silver, on=keys, how="anti").select(keys).rows())
    extra = set(silver.join(source, on=keys, how="anti").select(keys).rows())
    both = source.join(silver, on=keys, how="inner", suffix="_silver")
    columns = [c for c in source.columns if c not in keys and c in silver.columns]
    changed = both.filter(pl.any_horizontal([pl.col(c).ne_missing(pl.col(f"{c}_silver")) for c in columns])) \
        if columns else both.clear()
    return missing, extra, set(changed.select(keys).rows())


@pytest.fixture(scope="module")
def lake_after_first_load(new_database, tmp_path_factory):
    url = new_database()
    init_source(url, scale=0.01, seed=21)
    root = tmp_path_factory.mktemp("silver")
    lake = LakeFiles(str(root / "lake"))
    load_bronze(url, lake, CATALOG, dt.date(2019, 1, 1), run_id="first")
    outcomes = {t.name: merge_current_state(url, lake, t, run_id="first") for t in CATALOG.lake_tables}
    return url, lake, root, outcomes


def test_first_load_equals_the_source(lake_after_first_load):
    url, lake, root, outcomes = lake_after_first_load
    for table in CATALOG.lake_tables:
        source = source_rows(url, table, root)
        silver = silver_rows(lake, table)
        assert differing_keys(silver, source, table) == (set(), set(), set()), table.name
        assert outcomes[table.name].rows == source.height
        assert outcomes[table.name].inserted == source.height
    # credentials never reach silver (bronze keeps the raw row)
    users = silver_rows(lake, CATALOG.table("account_user"))
    assert "password" not in users.columns and "email" in users.columns


def test_a_refresh_without_new_bronze_changes_nothing(lake_after_first_load):
    url, lake, _, _ = lake_after_first_load
    table = CATALOG.table("account_user")
    before = DeltaTable(lake.uri(silver_table_path(table))).version()
    again = merge_current_state(url, lake, table)
    assert (again.inserted, again.updated, again.deleted, again.files_read) == (0, 0, 0, 0)
    assert DeltaTable(lake.uri(silver_table_path(table))).version() == before


def test_bronze_read_again_unchanged_moves_the_cursor_without_a_merge(lake_after_first_load):
    """Every day of ``account_user`` extracted again with nothing changed in the source: the rows
    silver holds as they are reach no MERGE, and a commit without files records how far bronze was
    read, so the next refresh does not read these files again."""
    from techhub_lake.bronze.assets import extract_and_record
    from techhub_lake.bronze.metadata_log import read_extraction_logs
    from techhub_lake_tests.helpers import days_between

    url, lake, _, _ = lake_after_first_load
    table = CATALOG.table("account_user")
    path = silver_table_path(table)
    before = DeltaTable(lake.uri(path))
    extract_and_record(url, lake, table, CATALOG, run_id="again", snapshot_day=None,
                       days=days_between(CATALOG, dt.date(2019, 1, 1), dt.datetime.now(ALMATY).date()))
    outcome = merge_current_state(url, lake, table, run_id="again")
    assert outcome.files_read > 0 and outcome.rows_read > 0
    assert (outcome.inserted, outcome.updated, outcome.deleted) == (0, 0, 0)
    after = DeltaTable(lake.uri(path))
    assert after.version() == before.version() + 1 and sorted(after.file_uris()) == sorted(before.file_uris())
    assert silver_cursor(lake, table) == read_extraction_logs(lake, table.name)[-1]["finished_at"]
    assert merge_current_state(url, lake, table, run_id="again").files_read == 0


def test_churn_then_incremental_refresh_equals_the_source_but_for_silent_updates(lake_after_first_load):
    url, lake, root, _ = lake_after_first_load
    report = churn_source(url, seed=22)
    today = dt.datetime.now(ALMATY).date()
    load_bronze(url, lake, CATALOG, today - dt.timedelta(days=2), run_id="second")  # the lookback window, as refresh does
    for table in CATALOG.lake_tables:
        outcome = merge_current_state(url, lake, table, run_id="second")
        change = report.tables.get(table.name)
        source = source_rows(url, table, root)
        missing, extra, changed = differing_keys(silver_rows(lake, table), source, table)
        assert missing == set() and extra == set(), table.name  # inserts and deletes all applied
        silent = change.silent_updates if change else 0
        if table.partitioning == Partitioning.SNAPSHOT:
            assert changed == set(), table.name
            # a replaced snapshot reports the rows that changed, not every row it kept
            assert outcome.updated <= (change.updated if change else 0), (table.name, outcome.updated)
            if change is None:
                assert (outcome.inserted, outcome.updated, outcome.deleted) == (0, 0, 0), table.name
        else:
            assert len(changed) <= silent, (table.name, len(changed), silent)
            if change is not None and change.deleted and table.name in ("account_user", "service_servicerequest"):
                assert outcome.deleted == change.deleted, table.name
            if change is not None and table.name == "account_user":
                assert outcome.inserted == change.inserted
                # cost follows the change: a few days of bronze, not all of it
                assert outcome.files_read <= 3


def test_reconciliation_repairs_the_silent_updates_and_a_second_pass_finds_nothing(lake_after_first_load):
    """Runs after the churn test above (same module lake): what it left behind, this repairs."""
    from techhub_lake.catalog import Strategy
    from techhub_lake.silver.reconcile import reconcile_current_state

    url, lake, root, _ = lake_after_first_load
    repaired_total = 0
    for table in CATALOG.lake_tables:
        report = reconcile_current_state(url, lake, table, catalog_path=CATALOG.path, run_id="reconcile")
        if table.strategy == Strategy.FULL:
            assert report is None
            continue
        if table.strategy == Strategy.APPEND:  # keys only: an append-only log misses no row here
            assert (report.stale, report.outcome.inserted, report.outcome.deleted) == (0, 0, 0), table.name
            continue
        repaired_total += report.repaired
        assert report.checked == source_rows(url, table, root).height
        assert differing_keys(silver_rows(lake, table), source_rows(url, table, root), table) == (set(), set(), set()), table.name
        again = reconcile_current_state(url, lake, table, catalog_path=CATALOG.path, run_id="again")
        assert (again.stale, again.repaired) == (0, 0), table.name
    assert repaired_total > 0  # the churn's QuerySet.update() and SET NULL rows


def test_a_table_rewrite_keeps_row_versions_and_a_save_without_change_is_reread(lake_after_first_load):
    """The reconciliation compares PostgreSQL's row versions (xmin): a VACUUM FULL rewrites every row
    of the table and changes none of them, so nothing is stale; an UPDATE that sets a value to itself
    (Django's ``save()`` of an untouched object) is a new version, re-read once, and equal after."""
    from techhub_lake.silver.reconcile import reconcile_current_state

    url, lake, root, _ = lake_after_first_load
    table = CATALOG.table("account_user")
    execute(url, "VACUUM FULL account_user")
    report = reconcile_current_state(url, lake, table, catalog_path=CATALOG.path, run_id="after-vacuum")
    assert (report.checked, report.stale) == (source_rows(url, table, root).height, 0)
    execute(url, "UPDATE account_user SET role = role WHERE id = (SELECT min(id) FROM account_user)")
    report = reconcile_current_state(url, lake, table, catalog_path=CATALOG.path, run_id="after-save")
    assert report.stale == 1
    assert differing_keys(silver_rows(lake, table), source_rows(url, table, root), table) == (set(), set(), set())
    assert reconcile_current_state(url, lake, table, catalog_path=CATALOG.path, run_id="again").stale == 0


def test_another_round_with_a_migration_still_ends_equal_to_the_source(lake_after_first_load):
    """A second churn batch, with a schema migration, then refresh and reconciliation: equal again."""
    from techhub_lake.catalog import Strategy
    from techhub_lake.silver.reconcile import reconcile_current_state

    url, lake, root, _ = lake_after_first_load
    report = churn_source(url, seed=23, migrate=True)
    today = dt.datetime.now(ALMATY).date()
    load_bronze(url, lake, CATALOG, today - dt.timedelta(days=2), run_id="third")
    for table in CATALOG.lake_tables:
        merge_current_state(url, lake, table, run_id="third")
        if table.strategy == Strategy.INCREMENTAL:
            reconcile_current_state(url, lake, table, catalog_path=CATALOG.path, run_id="third")
        source = source_rows(url, table, root)
        assert differing_keys(silver_rows(lake, table), source, table) == (set(), set(), set()), table.name
    migrated_table, column, _ = report.migrated
    assert column in silver_rows(lake, CATALOG.table(migrated_table)).columns


def test_a_late_commit_with_an_older_updated_at_wins_over_the_stale_version(new_database, tmp_path):
    """A transaction that commits late carries an updated_at older than the version silver holds:
    the later extraction is the truth, whatever the watermarks say."""
    import psycopg2

    url = new_database()
    init_source(url, scale=0.005, seed=41)
    lake = LakeFiles(str(tmp_path / "lake"))
    table = CATALOG.table("account_user")
    load_bronze(url, lake, CATALOG, dt.date(2019, 1, 1), run_id="first")
    merge_current_state(url, lake, table, run_id="first")
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:  # the newest user goes back two days, with a new role
        cur.execute("SELECT id, updated_at, role FROM account_user ORDER BY updated_at DESC, id LIMIT 1")
        user_id, updated_at, role = cur.fetchone()
        late_role = "mentor" if role != "mentor" else "user"
        cur.execute("UPDATE account_user SET role = %s, updated_at = %s WHERE id = %s",
                    (late_role, updated_at - dt.timedelta(days=2), user_id))
    conn.close()
    day = updated_at.astimezone(ALMATY).date()
    load_bronze(url, lake, CATALOG, day - dt.timedelta(days=3), run_id="late")  # both days re-extracted
    merge_current_state(url, lake, table, run_id="late")
    row = silver_rows(lake, table).filter(pl.col("id") == user_id).row(0, named=True)
    assert row["role"] == late_role and row["updated_at"] == updated_at - dt.timedelta(days=2)
    # and a first merge of the same bronze from scratch agrees: the later file wins
    fresh = LakeFiles(str(tmp_path / "again"))
    for f in lake.list_files("bronze"):
        with lake.fs.open_input_stream(lake.path(f)) as src, fresh.atomic_writer(f) as dst:
            dst.write(src.read())
    merge_current_state(url, fresh, table, run_id="again")
    assert silver_rows(fresh, table).filter(pl.col("id") == user_id)["role"].to_list() == [late_role]


def test_rows_outside_every_partition_reach_silver_through_the_reconciliation(new_database, tmp_path):
    """A NULL, a far-future and a pre-history watermark fall in no daily partition: the bronze
    asset's warn-level check counts them, and the nightly reconciliation (keys and row hashes,
    whatever the watermark; keys alone for an append-only log) brings them in, and repairs a row
    whose watermark became NULL."""
    import dagster as dg
    import psycopg2

    from techhub_lake.automation.refresh import checks_of
    from techhub_lake.bronze.specs import bronze_key
    from techhub_lake.quality.coverage import COVERAGE_CHECK
    from techhub_lake.silver.reconcile import reconcile_current_state

    url = new_database()
    init_source(url, scale=0.005, seed=43)
    table = CATALOG.table("account_user")
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:
        cur.execute("ALTER TABLE account_user ALTER COLUMN updated_at DROP NOT NULL")
        cur.execute("SELECT id FROM account_user ORDER BY id LIMIT 4")
        null_id, future_id, old_id, later_null_id = (r[0] for r in cur.fetchall())
        cur.execute("UPDATE account_user SET updated_at = NULL, role = 'mentor' WHERE id = %s", (null_id,))
        cur.execute("UPDATE account_user SET updated_at = '2099-01-01', role = 'mentor' WHERE id = %s", (future_id,))
        cur.execute("UPDATE account_user SET updated_at = '2001-01-01', role = 'mentor' WHERE id = %s", (old_id,))
        cur.execute("UPDATE core_actionlog SET created_at = '2099-01-01' WHERE id = (SELECT min(id) FROM core_actionlog) "
                    "RETURNING id")
        (future_log_id,) = cur.fetchone()
    conn.close()
    lake = LakeFiles(str(tmp_path / "lake"))
    load_bronze(url, lake, CATALOG, dt.date(2019, 1, 1), run_id="first")
    log = CATALOG.table("core_actionlog")
    for each in (table, log):
        merge_current_state(url, lake, each, run_id="first")
    outside = {null_id, future_id, old_id}
    assert not outside & set(silver_rows(lake, table)["id"].to_list())  # in no partition: bronze never saw them
    assert future_log_id not in silver_rows(lake, log)["id"].to_list()

    # the check on each bronze asset counts them, where they sit, as a warning (nothing is blocked)
    defs = definitions_for(CATALOG, url, lake.root)
    keys = [bronze_key(table), bronze_key(log)]
    result = dg.materialize([*(defs.resolve_assets_def(k) for k in keys), *checks_of(defs, keys)],
                            selection=dg.AssetSelection.checks(*(dg.AssetCheckKey(k, COVERAGE_CHECK) for k in keys)))
    evaluations = {e.asset_key: e for e in result.get_asset_check_evaluations()}
    assert set(evaluations) == set(keys)
    users, logs = (evaluations[k] for k in keys)
    assert not users.passed and users.severity == dg.AssetCheckSeverity.WARN
    assert {n: users.metadata[n].value for n in ("null_watermark", "before_start", "after_today", "rows_outside")} == {
        "null_watermark": 1, "before_start": 1, "after_today": 1, "rows_outside": 3}
    assert logs.metadata["after_today"].value == 1 and logs.metadata["rows_outside"].value == 1
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:  # a row already in silver whose watermark becomes NULL
        cur.execute("UPDATE account_user SET updated_at = NULL, role = 'mentor' WHERE id = %s", (later_null_id,))
    conn.close()
    report = reconcile_current_state(url, lake, table, catalog_path=CATALOG.path, run_id="nightly")
    assert report.outcome.inserted == 3 and report.repaired >= 1
    appended = reconcile_current_state(url, lake, log, catalog_path=CATALOG.path, run_id="nightly")
    assert (appended.checked, appended.stale, appended.outcome.inserted) == (silver_rows(lake, log).height, 1, 1)
    assert future_log_id in silver_rows(lake, log)["id"].to_list()
    rows = silver_rows(lake, table).filter(pl.col("id").is_in([*outside, later_null_id]))
    assert sorted(rows["id"].to_list()) == sorted([*outside, later_null_id])
    assert set(rows["role"].to_list()) == {"mentor"}
    assert differing_keys(silver_rows(lake, table), source_rows(url, table, tmp_path), table) == (set(), set(), set())


def test_a_first_load_in_many_small_appends_equals_one_in_a_single_chunk(new_database, tmp_path):
    """The first load appends chunks newest extraction first and keeps each key's first sighting:
    in ~25 chunks (a few dozen bronze files each, every chunk its own append) it must give what one
    chunk over all of bronze gives by ``latest_versions``, after churn left old versions in older
    files, and deletes."""
    url = new_database()
    init_source(url, scale=0.005, seed=47)
    lake = LakeFiles(str(tmp_path / "lake"))
    load_bronze(url, lake, CATALOG, dt.date(2019, 1, 1), run_id="first")
    churn_source(url, seed=48)
    load_bronze(url, lake, CATALOG, dt.date.today() - dt.timedelta(days=2), run_id="second")  # new versions
    for name in ("account_user", "core_actionlog"):
        table = CATALOG.table(name)
        results = {}
        bronze_bytes = sum(lake.fs.get_file_info(lake.path(f)).size for f in lake.list_files(bronze_table_dir(table)))
        for label, chunk_bytes in (("small chunks", max(1, bronze_bytes // 25)), ("one chunk", 1 << 40)):
            copy = LakeFiles(str(tmp_path / label.replace(" ", "-") / name))
            for f in lake.list_files("bronze"):
                with lake.fs.open_input_stream(lake.path(f)) as src, copy.atomic_writer(f) as dst:
                    dst.write(src.read())
            outcome = merge_current_state(url, copy, table, run_id="first", first_load_chunk_bytes=chunk_bytes)
            results[label] = silver_rows(copy, table).drop("_extracted_at")
            assert outcome.cursor is not None and silver_cursor(copy, table) == outcome.cursor
        small, whole = results["small chunks"], results["one chunk"]
        assert sorted(small.columns) == sorted(whole.columns) and small.height == whole.height
        both = small.join(whole, on="id", suffix="_whole")
        # goal_<x> columns included: rows appended before goal x first appeared get it computed too
        differing = {c: both.filter(pl.col(c).ne_missing(pl.col(f"{c}_whole"))).select("id", c, f"{c}_whole").head(3).rows()
                     for c in small.columns if c != "id" and both.filter(pl.col(c).ne_missing(pl.col(f"{c}_whole"))).height}
        assert differing == {}, (name, differing)
        assert small["id"].is_duplicated().sum() == 0



def test_a_goal_first_seen_late_is_computed_for_the_rows_written_before_it(new_database, tmp_path):
    """A dynamic column (``goal_<x>``) added by a later chunk of the first load, or by a later
    refresh, is False, not NULL, on the rows silver wrote before x was first seen."""
    import psycopg2

    url = new_database()
    init_source(url, scale=0.005, seed=53)
    table = CATALOG.table("account_user")
    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:  # the oldest user (an old bronze day file) gets a goal nobody has
        cur.execute("UPDATE account_user SET data = jsonb_set(data, '{goals}', '[\"Rare goal A\"]') "
                    "WHERE id = (SELECT id FROM account_user WHERE jsonb_typeof(data) = 'object' ORDER BY updated_at, id LIMIT 1)")
    conn.close()
    lake = LakeFiles(str(tmp_path / "lake"))
    load_bronze(url, lake, CATALOG, dt.date(2019, 1, 1), run_id="first")
    bronze_bytes = sum(lake.fs.get_file_info(lake.path(f)).size for f in lake.list_files(bronze_table_dir(table)))
    first = merge_current_state(url, lake, table, run_id="first", first_load_chunk_bytes=max(1, bronze_bytes // 10))
    assert "goal_rare_goal_a" in first.filled  # seen only in the last chunk (oldest files come last)

    conn = psycopg2.connect(url)
    with conn, conn.cursor() as cur:  # a refresh brings another goal, on the newest user
        cur.execute("UPDATE account_user SET data = jsonb_set(data, '{goals}', '[\"Rare goal B\"]'), updated_at = now() "
                    "WHERE id = (SELECT id FROM account_user WHERE jsonb_typeof(data) = 'object' ORDER BY updated_at DESC, id LIMIT 1)")
    conn.close()
    load_bronze(url, lake, CATALOG, dt.date.today() - dt.timedelta(days=1), run_id="second")
    second = merge_current_state(url, lake, table, run_id="second")
    assert "goal_rare_goal_b" in second.filled

    rows = silver_rows(lake, table)
    for goal in ("goal_rare_goal_a", "goal_rare_goal_b"):
        with_goals = rows.filter(pl.col("goals").is_not_null())
        assert with_goals[goal].null_count() == 0, goal  # computed for every row that has goals
        assert with_goals[goal].sum() == 1, goal  # and true only where the source has it
        assert rows.filter(pl.col("goals").is_null())[goal].null_count() == rows["goals"].null_count()
