"""The gold layer's Dagster definitions: the marts BI reads."""

from __future__ import annotations

import dagster as dg

from techhub_lake.catalog import Catalog
from techhub_lake.gold.assets import build_gold_assets


def gold_definitions(catalog: Catalog) -> dg.Definitions:
    """Every mart: the core marts, the monthly service funnel, the techpark marts."""
    return dg.Definitions(assets=build_gold_assets(catalog))
