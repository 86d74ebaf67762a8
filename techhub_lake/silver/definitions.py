"""The silver layer's Dagster definitions: current state, child tables, dimensions, the fact, techpark."""

from __future__ import annotations

import dagster as dg

from techhub_lake.catalog import Catalog
from techhub_lake.silver.assets import build_silver_assets
from techhub_lake.silver.dimension_assets import build_dimension_assets
from techhub_lake.silver.techpark_assets import build_techpark_silver_assets


def silver_definitions(catalog: Catalog) -> dg.Definitions:
    """Every silver asset: each catalog table's current state and child tables, the SCD2
    dimensions and the requests fact, the typed techpark reports and participants."""
    return dg.Definitions(assets=[*build_silver_assets(catalog), *build_dimension_assets(catalog),
                                  *build_techpark_silver_assets(catalog)])
