"""Partitions of the bronze assets, derived from the catalog."""

from __future__ import annotations

import dagster as dg

from techhub_lake.catalog import Catalog, CatalogTable, Partitioning


def daily_partitions(catalog: Catalog) -> dg.DailyPartitionsDefinition:
    """Calendar days in the lake's time zone, from the catalog's start date up to and including
    today (``end_offset=1``: the current day is a partition that is re-extracted as it grows)."""
    return dg.DailyPartitionsDefinition(
        start_date=catalog.defaults.start_date.isoformat(),
        timezone=catalog.defaults.timezone,
        end_offset=1,
    )


def partitions_for(table: CatalogTable, catalog: Catalog) -> dg.PartitionsDefinition | None:
    """Daily partitions for incremental and append tables; none for full snapshots."""
    if table.partitioning == Partitioning.DAILY:
        return daily_partitions(catalog)
    return None
