"""The one Dagster ``Definitions`` of techhub-lake: ``dagster dev -m techhub_lake.definitions``.

Loading it never touches the source database or the lake; the graph is built from the catalog.
"""

from __future__ import annotations

import os

import dagster as dg

from techhub_lake.bronze.assets import build_bronze_assets
from techhub_lake.catalog import Catalog, load_catalog
from techhub_lake.gold.assets import build_gold_assets
from techhub_lake.resources import build_resources
from techhub_lake.settings import CATALOG_ENV
from techhub_lake.silver.assets import build_silver_assets
from techhub_lake.silver.dimension_assets import build_dimension_assets
from techhub_lake.silver.techpark_assets import build_techpark_silver_assets


def build_definitions(catalog: Catalog, resources: dict | None = None) -> dg.Definitions:
    """The asset graph for a catalog and a set of resources (the environment's where not given)."""
    return dg.Definitions(
        assets=[*build_bronze_assets(catalog), *build_silver_assets(catalog), *build_dimension_assets(catalog),
                *build_techpark_silver_assets(catalog),
                *build_gold_assets(catalog)],
        resources=build_resources() | (resources or {}),
    )


catalog = load_catalog(os.environ.get(CATALOG_ENV) or None)
defs = build_definitions(catalog)
