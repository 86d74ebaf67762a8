"""The service funnel's monthly partitions: which months a run owns, and which months changed.

A partition is a calendar month of the requests' ``created_at`` in the lake's time zone. Each
month's rows carry a fingerprint of the requests they were computed from (every request's id and
silver row hash, and its service's name), so a refresh re-materializes exactly the months whose
requests changed since: a new request, a status change in an old request, a delete, a renamed
service. Months before the catalog's first partition belong to the first one.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import dagster as dg
import polars as pl

from techhub_lake.catalog import Catalog
from techhub_lake.gold.marts import FUNNEL, request_month
from techhub_lake.gold.store import gold_path
from techhub_lake.lake.delta import scan_delta
from techhub_lake.lake.storage import LakeFiles
from techhub_lake.registry import LakeTable

FUNNEL_SENSOR = "funnel_months_sensor"  # picks the months whose requests changed (automation/sensors.py)

FINGERPRINT = "_requests_fingerprint"  # lineage column: which request versions a month was computed from
ROW_HASH = "_row_hash"  # silver's hash of a row's source columns


def monthly_partitions(catalog: Catalog) -> dg.MonthlyPartitionsDefinition:
    """Calendar months in the lake's time zone from the catalog's start month, the current month included."""
    start = catalog.defaults.start_date.replace(day=1)
    return dg.MonthlyPartitionsDefinition(start_date=start.isoformat(), timezone=catalog.defaults.timezone, end_offset=1)


def owned_months(partitions_def: dg.MonthlyPartitionsDefinition, window: dg.TimeWindow) -> tuple[dt.date | None, dt.date]:
    """The ``[first, end)`` months a run over ``window`` writes; ``first`` is None when the window
    starts at the first partition, which also owns every earlier month."""
    first = window.start.date()
    return (None if first.isoformat() == partitions_def.get_first_partition_key() else first), window.end.date()


def month_filter(first: dt.date | None, end: dt.date) -> pl.Expr:
    """Rows whose ``month`` is in ``[first, end)`` (no lower bound when ``first`` is None)."""
    inside = pl.col("month") < end
    return inside if first is None else inside & (pl.col("month") >= first)


def month_predicate(first: dt.date | None, end: dt.date) -> str:
    """:func:`month_filter` as a Delta predicate, for replacing just those months."""
    return f"month < '{end.isoformat()}'" + ("" if first is None else f" AND month >= '{first.isoformat()}'")


def month_fingerprints(requests: pl.LazyFrame, services: pl.LazyFrame, timezone: str) -> pl.LazyFrame:
    """Per month of creation, one hash of all its requests (id, row hash) and their services' names."""
    names = services.select(pl.col("code").alias("service_id"), pl.col("name").alias("_service_name"))
    return (
        requests.select("id", "service_id", ROW_HASH, request_month(timezone))
        .join(names, on="service_id", how="left")
        .with_columns(pl.struct("id", ROW_HASH, "_service_name").hash(seed=0).alias("_request_hash"))
        .group_by("month")
        .agg(pl.col("_request_hash").sort_by("id"))
        .select("month", pl.col("_request_hash").hash(seed=0).reinterpret(signed=True).alias(FINGERPRINT))
    )


def partition_of(month: dt.date, first_key: str) -> str:
    """The partition key a month's rows belong to."""
    return max(month.isoformat(), first_key)


def months_to_refresh(partition_keys: list[str], materialized: Iterable[str], current: pl.DataFrame,
                      stored: pl.DataFrame | None) -> list[str]:
    """The partitions to re-materialize: never materialized, or holding a month whose fingerprint
    in silver (``current``: month, fingerprint) differs from the one stored in the mart."""
    first_key = partition_keys[0]
    stored = stored if stored is not None else pl.DataFrame(schema={"month": pl.Date, FINGERPRINT: pl.Int64})
    changed = (
        current.join(stored.unique("month"), on="month", how="full", suffix="_stored", coalesce=True)
        .filter(pl.col(FINGERPRINT).ne_missing(pl.col(f"{FINGERPRINT}_stored")))
        .get_column("month").to_list()
    )
    touched = {partition_of(month, first_key) for month in changed}
    missing = set(partition_keys) - set(materialized)
    return sorted(k for k in touched | missing if k in set(partition_keys))


def contiguous_ranges(keys: list[str], partition_keys: list[str]) -> list[tuple[str, str]]:
    """Sorted partition keys grouped into runs of neighbours: one run per block of touched months."""
    position = {key: index for index, key in enumerate(partition_keys)}
    ranges: list[tuple[str, str]] = []
    for key in sorted(keys, key=position.__getitem__):
        if ranges and position[key] == position[ranges[-1][1]] + 1:
            ranges[-1] = (ranges[-1][0], key)
        else:
            ranges.append((key, key))
    return ranges


def funnel_partitions_to_refresh(lake: LakeFiles, catalog: Catalog, materialized: Iterable[str],
                                 inputs: dict[str, LakeTable], now: dt.datetime | None = None) -> list[str]:
    """The funnel's months to re-materialize now: those never materialized and those whose requests
    changed in silver since the mart was computed (see :func:`months_to_refresh`). ``inputs`` are
    the tables the funnel reads (``registry.tables_read_by``)."""
    keys = monthly_partitions(catalog).get_partition_keys(current_time=now)
    requests, services = (scan_delta(lake, inputs[name].path) for name in ("service_servicerequest", "service_service"))
    current = (month_fingerprints(requests, services, catalog.defaults.timezone).collect()
               if requests is not None and services is not None
               else pl.DataFrame(schema={"month": pl.Date, FINGERPRINT: pl.Int64}))
    stored = scan_delta(lake, gold_path(FUNNEL))
    stored = None if stored is None else stored.select("month", FINGERPRINT).unique().collect()
    return months_to_refresh(keys, materialized, current, stored)
