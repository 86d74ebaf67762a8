"""The bronze layer's Dagster definitions: one asset per catalog table."""

from __future__ import annotations

import dagster as dg

from techhub_lake.bronze.assets import build_bronze_assets
from techhub_lake.bronze.stream_asset import build_stream_asset
from techhub_lake.catalog import Catalog


def bronze_definitions(catalog: Catalog) -> dg.Definitions:
    """Every catalog table's bronze asset: daily partitions or daily snapshots, and one step
    following the replication slot for the captured tables (``strategy: cdc``), if any."""
    captured = list(catalog.captured_tables)
    stream = [build_stream_asset(captured, catalog)] if captured else []
    return dg.Definitions(assets=[*build_bronze_assets(catalog), *stream])
