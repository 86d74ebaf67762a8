"""The one Dagster ``Definitions`` of techhub-lake: ``dagster dev -m techhub_lake.definitions``.

Loading it never touches the source database or the lake; the graph is built from the catalog.
"""

from __future__ import annotations

import os

import dagster as dg

from techhub_lake.bronze.specs import bronze_specs
from techhub_lake.catalog import load_catalog
from techhub_lake.resources import build_resources
from techhub_lake.settings import CATALOG_ENV

catalog = load_catalog(os.environ.get(CATALOG_ENV) or None)

defs = dg.Definitions(
    assets=[*bronze_specs(catalog)],
    resources=build_resources(),
)
