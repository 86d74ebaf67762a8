"""Data quality's Dagster definitions: the contracts as asset checks, bronze coverage checks, the
quality report."""

from __future__ import annotations

import dagster as dg

from techhub_lake.catalog import Catalog
from techhub_lake.quality.checks import build_quality_checks
from techhub_lake.quality.contracts import Contract, load_contracts
from techhub_lake.quality.coverage import build_coverage_checks
from techhub_lake.quality.report import build_dq_report_asset
from techhub_lake.registry import declared_specs, lake_tables


def lake_contracts(layers: dg.Definitions) -> list[Contract]:
    """The contracts of every table the layers' assets write (and of the quality report)."""
    return load_contracts(lake_tables(declared_specs(layers)))


def quality_definitions(catalog: Catalog, layers: dg.Definitions) -> dg.Definitions:
    """The contract checks of every checked table of ``layers``, a coverage check on each of their
    daily bronze assets, and ``gold/quality/dq_report`` (every contract measured, kept over time)."""
    contracts = lake_contracts(layers)
    return dg.Definitions(assets=[build_dq_report_asset(contracts)],
                          asset_checks=[*build_coverage_checks(list(layers.assets or []), catalog),
                                        *build_quality_checks(contracts)])
