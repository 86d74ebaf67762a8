"""Data quality's Dagster definitions: the contracts as asset checks, bronze coverage checks, the
quality report."""

from __future__ import annotations

import dagster as dg

from techhub_lake.catalog import Catalog
from techhub_lake.quality.checks import build_quality_checks
from techhub_lake.quality.coverage import build_coverage_checks
from techhub_lake.quality.report import build_dq_report_asset


def quality_definitions(catalog: Catalog, layers: dg.Definitions) -> dg.Definitions:
    """The contract checks of every checked table, a coverage check on each daily bronze asset of
    ``layers``, and ``gold/quality/dq_report`` (every contract measured, kept over time)."""
    return dg.Definitions(assets=[build_dq_report_asset(catalog)],
                          asset_checks=[*build_coverage_checks(list(layers.assets or []), catalog),
                                        *build_quality_checks(catalog)])
