"""The gold layer's Dagster definitions: the marts BI reads."""

from __future__ import annotations

import dagster as dg

from techhub_lake.catalog import Catalog
from techhub_lake.gold.assets import build_gold_assets
from techhub_lake.registry import declared_specs, lake_tables


def gold_definitions(catalog: Catalog, silver: dg.Definitions) -> dg.Definitions:
    """Every mart (the core marts, the monthly service funnel, the techpark marts), reading the
    tables the ``silver`` layer's definitions declare."""
    return dg.Definitions(assets=build_gold_assets(catalog, lake_tables(declared_specs(silver))))
