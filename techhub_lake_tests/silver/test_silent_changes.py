"""Ordinary use, end to end: batches of source changes with silent updates (Django's
QuerySet.update(), ON DELETE SET NULL cascades) and late commits, each followed by a refresh, then
the nightly reconciliation with its blocking checks. The SCD2 dimensions stay valid throughout:
unique surrogate keys, strictly increasing validity, one current version per entity."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from techhub_lake.automation.refresh import refresh_lake
from techhub_lake.lake.delta import read_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.silver.dimension_assets import dimension_path
from techhub_lake.silver.dimensions import DIMENSIONS, IS_CURRENT, VALID_FROM, VALID_TO
from techhub_lake.source.churn import churn_source
from techhub_lake.source.generator import init_source
from techhub_lake_tests.conftest import catalog_starting
from techhub_lake_tests.helpers import definitions_for

pytestmark = pytest.mark.slow


def test_three_churn_rounds_then_the_nightly_reconciliation_keep_the_dimensions_valid(new_database, tmp_path,
                                                                                      dagster_instance):
    url = new_database()
    init_source(url, scale=0.01, seed=37)
    catalog = catalog_starting(tmp_path, "2026-10-01")
    lake = tmp_path / "lake"
    defs = definitions_for(catalog, url, lake)
    refresh_lake("key:bronze/* or key:silver/*", lambda _: None, defs=defs, catalog=catalog,
                 instance=dagster_instance, checks=False)
    silent = {"account_user": 0, "account_company": 0}
    for round_ in range(3):
        report = churn_source(url, seed=100 + round_, at=dt.datetime.now(dt.UTC))
        for table in silent:
            silent[table] += report.tables[table].silent_updates if table in report.tables else 0
        refresh_lake("key:bronze/* or key:silver/*", lambda _: None, defs=defs, catalog=catalog,
                     instance=dagster_instance, checks=False)
    assert silent["account_user"] > 0  # the batches did change users without moving updated_at

    # the nightly reconciliation, blocking checks included: it used to fail on user_sk_unique
    refresh_lake("key:silver/*", lambda _: None, defs=defs, catalog=catalog, instance=dagster_instance,
                 reconcile=True, checks=True)

    files = LakeFiles(str(lake))
    for spec in DIMENSIONS:
        dim = read_delta(files, dimension_path(spec))
        key = spec.key_name
        assert dim[spec.surrogate_key].n_unique() == dim.height, spec.name
        assert dim.select(key, VALID_FROM).n_unique() == dim.height, spec.name
        closed = dim.filter(pl.col(VALID_TO).is_not_null())
        assert (closed[VALID_TO] > closed[VALID_FROM]).all(), f"{spec.name}: a zero-length or backwards version"
        assert dim.filter(pl.col(IS_CURRENT)).select(key).is_unique().all(), spec.name
        # versions of one entity follow each other without gaps or overlaps
        chained = dim.sort(key, VALID_FROM).with_columns(pl.col(VALID_FROM).shift(-1).over(key).alias("_next"))
        assert chained.filter(pl.col("_next").is_not_null() & (pl.col(VALID_TO) != pl.col("_next"))).height == 0, spec.name
    users = read_delta(files, dimension_path(next(s for s in DIMENSIONS if s.name == "dim_user")))
    assert users.filter(~pl.col(IS_CURRENT)).height > 0  # the rounds did make versions
