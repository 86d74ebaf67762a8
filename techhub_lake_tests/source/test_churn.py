"""`source churn`: the batch it reports is the batch that happened, row for row."""

from __future__ import annotations

import datetime as dt

import pytest

from techhub_lake.source.churn import churn_source, migration
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import query
from techhub_lake_tests.helpers import row_hashes, table_columns

TABLES = [
    "account_user", "account_company", "account_usercompany", "core_actionlog", "core_event", "core_vacancy",
    "core_blog", "service_servicerequest", "service_servicerequestlog", "service_report", "service_hubformdata",
    "booking_booking", "booking_bookingstatus", "core_eventparticipant", "core_comment", "account_activation",
]


@pytest.fixture(scope="module")
def churned(new_database):
    """A fresh source, its rows before churn, one churn batch with a migration, and its rows after."""
    url = new_database()
    init_source(url, scale=0.02, seed=3)
    columns = {t: table_columns(url, t) for t in TABLES}  # the migration adds one; compare the old ones
    before = {t: row_hashes(url, t, columns=columns[t]) for t in TABLES}
    watermarks_before = dict(query(url, "SELECT id::text, updated_at FROM account_user"))
    at = dt.datetime(2026, 11, 21, 12, 0, tzinfo=dt.UTC)
    report = churn_source(url, seed=11, migrate=True, at=at)
    after = {t: row_hashes(url, t, columns=columns[t]) for t in TABLES}
    return url, before, after, report, at, watermarks_before


def test_reported_inserts_updates_and_deletes_match_the_rows(churned):
    _, before, after, report, _, _ = churned
    for table in TABLES:
        old, new = before[table], after[table]
        inserted = len(new.keys() - old.keys())
        deleted = len(old.keys() - new.keys())
        updated = sum(1 for k in old.keys() & new.keys() if old[k] != new[k])
        change = report.tables[table]
        assert (change.inserted, change.updated, change.deleted) == (inserted, updated, deleted), table


def test_batch_has_every_kind_of_change(churned):
    _, _, _, report, _, _ = churned
    user, request, log = report.tables["account_user"], report.tables["service_servicerequest"], report.tables["core_actionlog"]
    assert user.inserted > 0 and user.updated > 0 and user.deleted > 0
    assert request.inserted > 0 and request.updated > 0 and request.deleted > 0
    assert log.inserted > 0 and log.updated == 0 and log.deleted == 0  # append-only: never updated
    # QuerySet.update() and ON DELETE SET NULL rewrite rows without moving updated_at
    assert user.silent_updates > 0 and report.tables["core_event"].silent_updates > 0
    assert report.tables["service_servicerequestlog"].inserted >= request.updated - request.silent_updates


def test_silent_updates_keep_updated_at_and_others_move_it(churned):
    url, before, after, report, at, watermarks_before = churned
    now = dict(query(url, "SELECT id::text, updated_at FROM account_user"))
    changed = [k for k in before["account_user"].keys() & after["account_user"].keys()
               if before["account_user"][k] != after["account_user"][k]]
    silent = [k for k in changed if now[k] == watermarks_before[k]]
    assert len(silent) == report.tables["account_user"].silent_updates
    moved = [k for k in changed if now[k] != watermarks_before[k]]
    assert all(at - dt.timedelta(hours=27) <= now[k] <= at for k in moved)
    # a few were committed late, with updated_at a day before the batch (the lookback's job)
    assert any(now[k] < at - dt.timedelta(hours=25) for k in moved)


def test_migration_adds_a_column(churned):
    url, _, _, report, _, _ = churned
    table, column, _ = migration(1)
    assert report.migrated == migration(1)
    filled = query(url, f'SELECT count("{column}") FROM public."{table}"')[0][0]
    assert filled > 0
    # the next migration adds the next column
    again = churn_source(url, seed=12, migrate=True)
    assert again.migrated == migration(2)
    assert query(url, "SELECT count(*) FROM information_schema.columns WHERE table_name = %s AND column_name = %s",
                 migration(2)[:2])[0][0] == 1


def test_foreign_keys_still_hold_after_churn(churned):
    url = churned[0]
    assert query(url, "SELECT count(*) FROM account_usercompany uc LEFT JOIN account_user u ON u.id = uc.user_id "
                      "WHERE u.id IS NULL")[0][0] == 0


def test_churn_refuses_a_database_that_was_not_generated(new_database):
    with pytest.raises(RuntimeError, match="not made by `techhub-lake source init`"):
        churn_source(new_database(), seed=1)
