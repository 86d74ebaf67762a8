"""The serving layer's Dagster definitions: one publication asset per gold table."""

from __future__ import annotations

import dagster as dg

from techhub_lake.registry import declared_specs
from techhub_lake.serve.assets import build_publication_assets


def serve_definitions(layers: dg.Definitions) -> dg.Definitions:
    """``serve/analytics/<mart>`` for every gold table the ``layers``' assets write (the marts and
    the quality report), read from their specs."""
    return dg.Definitions(assets=build_publication_assets(declared_specs(layers)))
